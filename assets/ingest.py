"""Ingest layer: each extract in the landing folder read once and typed by its contract into DuckDB, with its lineage."""

import dagster as dg

from assets._common import as_of_date, preview_without_suppressed
from data_contracts import EXTRACTS
from models.ingest import load as ingest_model
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


def build_raw_asset(extract: str) -> dg.AssetsDefinition:
    """One raw asset per extract; the same code for all three."""

    @dg.asset(
        key=["raw", extract], group_name="raw", kinds={"duckdb", "csv"}, partitions_def=as_of_partitions,
        owners=["team:data-engineering"],
        description=(f"`raw_{extract}`: the `{extract}` extract read once and typed by "
                     f"data_contracts/extracts/{extract}.yaml (a value that does not type keeps its rule and the row "
                     "as delivered), with file, sha256, row count and load time in `ingest_log`. Staging turns the "
                     "table into `stg_` (no copy). Raw files are never modified."),
    )
    def raw_extract(context: dg.AssetExecutionContext, home: NbaHome) -> dg.MaterializeResult:
        landing = home.landing_for(as_of_date(context))
        found = ingest_model.discover_extracts(landing)
        with home.warehouse() as con:
            info = ingest_model.load_raw(con, extract, found.get(extract, []))
            table = f"raw_{extract}"
            return dg.MaterializeResult(metadata={
                "dagster/row_count": info.rows,
                "landing_folder": str(landing),
                "files": dg.MetadataValue.json([f.__dict__ for f in info.files]),
                "rows_with_unreadable_values": con.execute(
                    f"SELECT count(*) FROM {table} WHERE _cast_rule IS NOT NULL").fetchone()[0],
                "preview": preview_without_suppressed(con, table, home.suppression_path(), where="_source_row <= 5",
                                                      columns="* EXCLUDE (_source_file, _raw_record)"),
            })

    return raw_extract


raw_assets = [build_raw_asset(extract) for extract in EXTRACTS]
