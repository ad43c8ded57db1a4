"""Sharded features and scores: each customer shard is computed by its own step, then combined once.

Shard steps run in parallel processes (or pods), so they never write the warehouse (DuckDB allows one
writing process per file): they open it read-only, build their tables in an attached in-memory
database and publish Parquet atomically under HOME/shards/<as_of>/<table>/shard=<k>.parquet. The
combine step is the single writer: it checks the shards, loads them into `customer_features`,
`customer_scores` and `action_response` exactly as the single-process assets write them, and runs
the drift check; decisions (global constraints) and exports then run once on those tables.
"""

import dagster as dg
import duckdb

from assets._common import (as_of_date, drift_check, night_check, preview_without_suppressed, selected_models,
                            table_rows)
from models import warehouse
from models.features.customer_features import build_features
from models.scoring.drift import drift_against_history, history_rows
from models.scoring.score import score_customers
from models.sharding import (SHARD_TABLES, check_shards, publish_parquet, read_shard, shard_file, shard_sql,
                             use_scratch_database)
from models.training.selection import RESPONSE, TARGETS
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome

N_SHARDS = 3                      # shards of the deployed definitions; each shard is two steps
SHARD_GROUP = "sharded"
SHARD_INPUTS_JOB = "nightly_nba_shard_inputs"  # the job (pipelines/sharding.py) that materialises what the shards read
GOLDEN_INPUTS = [["golden", "golden_customers"], ["golden", "purchases"], ["golden", "interactions"]]
MODEL_INPUTS = [["models", f"{target}_model"] for target in [*TARGETS, RESPONSE]]
COMBINED_FEATURES = ["sharded", "customer_features"]
COMBINED_SCORES = ["sharded", "customer_scores"]


def shard_key(shard: int, name: str) -> list[str]:
    return [SHARD_GROUP, f"shard_{shard}", name]


def require_inputs_of(context: dg.AssetExecutionContext, keys: list[list[str]], as_of) -> None:
    """Refuse to shard another night's warehouse: the inputs must have been materialised last for `as_of`
    (they run in a separate, single-process run)."""
    for key in keys:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(key))
        partition = event.asset_materialization.partition if event and event.asset_materialization else None
        if partition != as_of.isoformat():
            raise dg.Failure(f"{'/'.join(key)} was last materialized for {partition or 'no night'}, not {as_of}: "
                             f"run the job {SHARD_INPUTS_JOB} for {as_of} first")


def build_shard_assets(shard: int, n_shards: int) -> list[dg.AssetsDefinition]:
    """The features and scores steps of one shard (the same code for every shard)."""
    of = f"shard {shard} of {n_shards}"

    @dg.asset(
        key=shard_key(shard, "customer_features"), group_name=SHARD_GROUP, kinds={"duckdb", "parquet"},
        partitions_def=as_of_partitions, owners=["team:data-science"], deps=GOLDEN_INPUTS,
        description=f"Point-in-time features of the customers in {of} (md5 of the golden id), computed from the "
                    "read-only warehouse and published as `HOME/shards/<as_of>/customer_features/shard=<k>.parquet`.",
    )
    def shard_features(context: dg.AssetExecutionContext, home: NbaHome) -> dg.MaterializeResult:
        as_of = as_of_date(context)
        require_inputs_of(context, GOLDEN_INPUTS, as_of)
        path = shard_file(home.root, as_of, "customer_features", shard)
        with home.warehouse(read_only=True) as con:
            use_scratch_database(con)
            con.execute(f"CREATE TABLE shard_population AS SELECT customer_id FROM golden_customers "
                        f"WHERE {shard_sql('customer_id', n_shards)} = {shard}")
            build_features(con, as_of, "shard_features", population="shard_population")
            publish_parquet(con, f"SELECT * FROM shard_features ORDER BY {SHARD_TABLES['customer_features']}", path)
            rows = table_rows(con, "shard_features")
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "shard": of, "path": dg.MetadataValue.path(str(path))})

    @dg.asset(
        key=shard_key(shard, "customer_scores"), group_name=SHARD_GROUP, kinds={"xgboost", "parquet"},
        partitions_def=as_of_partitions, owners=["team:data-science"],
        deps=[shard_key(shard, "customer_features"), *MODEL_INPUTS],
        description=f"Churn / upsell / CLV scores and action responses of {of} with tonight's selected models, "
                    "published as `HOME/shards/<as_of>/customer_scores|action_response/shard=<k>.parquet`.",
    )
    def shard_scores(context: dg.AssetExecutionContext, home: NbaHome) -> dg.MaterializeResult:
        as_of = as_of_date(context)
        require_inputs_of(context, MODEL_INPUTS, as_of)
        features = read_shard(shard_file(home.root, as_of, "customer_features", shard), SHARD_TABLES["customer_features"])
        scores, responses = score_customers(selected_models(home), features, as_of)
        with duckdb.connect() as con:
            for table, frame in (("customer_scores", scores), ("action_response", responses)):
                con.register("frame", frame)
                publish_parquet(con, f"SELECT * FROM frame ORDER BY {SHARD_TABLES[table]}",
                                shard_file(home.root, as_of, table, shard))
                con.unregister("frame")
        return dg.MaterializeResult(metadata={"dagster/row_count": len(scores), "shard": of,
                                              "mean_churn_probability": float(scores["churn_probability"].mean())})

    return [shard_features, shard_scores]


def build_combine_asset(n_shards: int) -> dg.AssetsDefinition:
    """The single writer: shards -> warehouse tables, then the drift check on all customers."""
    shard_keys = [shard_key(k, name) for k in range(n_shards) for name in ("customer_features", "customer_scores")]

    @dg.multi_asset(
        specs=[dg.AssetSpec(COMBINED_FEATURES, group_name=SHARD_GROUP, kinds={"duckdb", "parquet"}, deps=shard_keys,
                            owners=["team:data-science"],
                            description="All shards' features loaded into the warehouse table `customer_features`."),
               dg.AssetSpec(COMBINED_SCORES, group_name=SHARD_GROUP, kinds={"duckdb", "parquet"}, deps=shard_keys,
                            owners=["team:data-science"],
                            description="All shards' scores and responses loaded into `customer_scores` and "
                                        "`action_response`: the tables the single-process scoring writes.")],
        check_specs=[night_check("score_drift", asset=COMBINED_SCORES,
                                       description="Population stability of scores and main features vs the previous night (WARN).")],
        partitions_def=as_of_partitions, name="combine_shards",
    )
    def combine_shards(context: dg.AssetExecutionContext, home: NbaHome):
        as_of = as_of_date(context)
        files = {table: [shard_file(home.root, as_of, table, k) for k in range(n_shards)] for table in SHARD_TABLES}
        with home.warehouse() as con:
            rows_by_shard = check_shards(con, files, n_shards)
            for table, order in SHARD_TABLES.items():
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM read_parquet(?) ORDER BY {order}",
                            [[str(p) for p in files[table]]])
            features = con.execute("SELECT * FROM customer_features ORDER BY customer_id").df()
            scores = con.execute("SELECT * FROM customer_scores ORDER BY customer_id").df()
            scores["as_of"] = as_of  # a date, as the single-process scoring keeps it in score_history
            drift = drift_against_history(warehouse.read_score_history(con, as_of), scores, features)
            warehouse.write_score_drift(con, drift)
            warehouse.replace_score_history(con, history_rows(scores, features))
            shared = {"rows_by_shard": dg.MetadataValue.json({str(k): n for k, n in rows_by_shard.items()})}
            yield dg.MaterializeResult(asset_key=COMBINED_FEATURES, metadata={
                **shared, "dagster/row_count": table_rows(con, "customer_features"),
                "preview": preview_without_suppressed(con, "customer_features", home.suppression_path(), columns="customer_id, tenure_days, purchases_365d, spend_365d")})
            yield dg.MaterializeResult(asset_key=COMBINED_SCORES, metadata={
                **shared, "dagster/row_count": table_rows(con, "customer_scores"),
                "action_response_rows": table_rows(con, "action_response"),
                "mean_churn_probability": float(scores["churn_probability"].mean()),
                "total_clv": float(scores["clv"].sum()), "preview": preview_without_suppressed(con, "customer_scores", home.suppression_path())})
        yield drift_check(drift)

    return combine_shards


def build_sharded_assets(n_shards: int = N_SHARDS) -> list[dg.AssetsDefinition]:
    """Every shard's features and scores steps plus the combine step."""
    return [*(a for k in range(n_shards) for a in build_shard_assets(k, n_shards)), build_combine_asset(n_shards)]


sharded_assets = build_sharded_assets()
