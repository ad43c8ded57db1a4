"""Decision layer: tonight's ranked next-best actions per customer and the full decision audit."""

import json

import dagster as dg
import pandas as pd

from assets._common import as_of_date, table_rows, write_frame
from assets.scoring import load_selected
from assets.training import image_md
from models.decisions.catalog import load_catalog
from models.charts import plot_actions_by_segment
from models.decisions.plan import decide
from models.scoring.reasons import explain_customers
from models.decisions.explain import policy_reason
from models.features.customer_features import FEATURE_COLUMNS
from models.golden.suppression import load_suppressed_ids
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


def call_list_reasons(nba: NbaHome, nba_rows: pd.DataFrame, features: pd.DataFrame, catalog, lang: str) -> pd.DataFrame:
    """For tonight's call list only (it is small): two reasons from the churn model's own per-feature
    contributions plus the policy reason (why this action, what it is worth)."""
    called = nba_rows.loc[nba_rows["chosen"] & (nba_rows["channel"] == "phone")].set_index("customer_id")
    subset = features[features["customer_id"].isin(set(called.index))]
    if subset.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=str), "reasons": pd.Series(dtype=object)})
    churn_model = load_selected(nba)["churn"][1]
    reasons = explain_customers(churn_model, subset.reset_index(drop=True), lang, max_reasons=2)
    reasons["reasons"] = [
        [*model_reasons, policy_reason(called.at[cid, "action_id"], float(called.at[cid, "expected_value"]), catalog,
                                       lang, is_exploration=bool(called.at[cid, "is_exploration"]))]
        for cid, model_reasons in zip(reasons["customer_id"], reasons["reasons"])]
    return reasons


@dg.asset(
    key=["decisions", "next_best_actions"], group_name="decisions", kinds={"python", "duckdb"},
    partitions_def=as_of_partitions, owners=["team:marketing-science"],
    deps=[["scores", "customer_scores"], ["golden", "golden_customers"], ["features", "customer_features"],
          ["sharded", "customer_scores"], ["sharded", "customer_features"]],
    description="Per customer the top-k feasible actions by expected incremental value (uplift × value at stake − "
                "costs), 'no action' always a candidate, consent / do-not-contact / erasure absolute, frequency caps, "
                "universal holdout and exploration, call capacity and offer budget solved globally. Also "
                "`decision_audit` (every customer × action × channel) and `customer_reasons`.",
)
def next_best_actions(context: dg.AssetExecutionContext, nba: NbaHome) -> dg.MaterializeResult:
    as_of, config = as_of_date(context), nba.config()
    catalog = load_catalog(nba.catalog_path(), set(FEATURE_COLUMNS))
    with nba.warehouse() as con:
        # Only the columns the decision reads: at 1M customers every string column costs hundreds of MB.
        customers = con.execute("SELECT customer_id, do_not_contact, consent_email, consent_sms, consent_phone, "
                                "consent_app FROM golden_customers ORDER BY customer_id").df()
        features = con.execute("SELECT * FROM customer_features ORDER BY customer_id").df()
        scores = con.execute("SELECT customer_id, clv, upsell_probability FROM customer_scores ORDER BY customer_id").df()
        # A row per customer x action (7M at 1M customers): as categoricals the ids take ~0.1 GB, not ~1 GB of str.
        responses = con.sql("SELECT customer_id, action_id, p_treated, uplift FROM action_response "
                            "ORDER BY customer_id, action_id").to_arrow_table().to_pandas(strings_to_categorical=True)
        versions = {t: str(v) for t, v in con.execute("SELECT target, version FROM model_selection ORDER BY target").fetchall()}
        suppressed = load_suppressed_ids(con, nba.suppression_path())
    result = decide(customers, features, scores, responses, catalog, config, as_of=as_of,
                    suppressed_ids=suppressed, model_versions=versions)
    del customers, scores, responses
    reasons = call_list_reasons(nba, result.next_best_actions, features, catalog, config["language"])
    with nba.warehouse() as con:
        write_frame(con, "next_best_actions", result.next_best_actions)
        write_frame(con, "decision_audit", result.decision_audit)
        write_frame(con, "customer_reasons", reasons)
        by_segment = con.execute(
            "SELECT coalesce(g.segment, '(none)') AS segment, n.action_id, count(*) AS n FROM next_best_actions n "
            "JOIN golden_customers g USING (customer_id) WHERE n.chosen GROUP BY ALL ORDER BY ALL").df()
        rows = table_rows(con, "next_best_actions")
    chart = by_segment.pivot(index="segment", columns="action_id", values="n").fillna(0)
    summary = result.summary
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "policy_version": catalog.version,
        "suppressed_customers": len(suppressed),
        "summary": dg.MetadataValue.json(json.loads(json.dumps(summary, default=str))),
        "actions_by_segment": image_md({"Chosen actions by segment": plot_actions_by_segment(chart)}) if len(chart) else "none",
    })
