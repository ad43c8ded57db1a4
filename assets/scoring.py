"""Scoring layer: every golden customer scored tonight with the selected models; drift against last night."""

import dagster as dg
import numpy as np
import pandas as pd

from assets._common import as_of_date, preview, table_rows
from assets.training import SELECTION_TABLE, image_md
from models.training import registry
from models.scoring.drift import assess_drift
from models.charts import plot_score_distributions
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome

SCORE_COLUMNS = ("churn_probability", "upsell_probability", "clv")
DRIFT_FEATURES = ("days_since_last_purchase", "purchases_365d", "spend_365d", "complaints_90d", "tenure_days")
HISTORY_TABLE = "score_history"  # the last scored night, kept for tomorrow's drift check


def load_selected(nba: NbaHome) -> dict[str, tuple[str, object]]:
    """target -> (version, fitted model) for the versions the model assets selected tonight."""
    registry.configure_tracking(nba.tracking_uri(), nba.artifact_root())
    with nba.warehouse(read_only=True) as con:
        rows = con.execute(f"SELECT target, model_name, version FROM {SELECTION_TABLE}").fetchall()
    return {target: (version, registry.load_version(name, version)) for target, name, version in rows}


def score_customers(selected: dict, features: pd.DataFrame, as_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`customer_scores` rows (scores and model versions) and `action_response` rows for these customers."""
    from models.training.train import SharedMatrices
    from models.training.uplift import score_responses

    scores, matrices = pd.DataFrame({"customer_id": features["customer_id"]}), SharedMatrices(features)
    for target, column in (("churn", "churn_probability"), ("upsell", "upsell_probability"), ("clv", "clv")):
        version, model = selected[target]
        scores[column] = np.clip(np.asarray(model.predict(matrices.of(model)), dtype=float), 0, None)
        scores[f"{target}_model_version"] = version
    scores["response_model_version"] = selected["response"][0]
    scores["as_of"] = as_of
    return scores, score_responses(selected["response"][1], features)


@dg.asset(
    key=["scores", "customer_scores"], group_name="scores", kinds={"xgboost", "duckdb"},
    partitions_def=as_of_partitions, owners=["team:data-science"],
    deps=[["features", "customer_features"], ["models", "churn_model"], ["models", "upsell_model"],
          ["models", "clv_model"], ["models", "response_model"]],
    description="One row per golden customer: churn_probability, upsell_probability, clv and the model versions "
                "used; plus `action_response` (p_treated, p_control, uplift per action). No contact details.",
    check_specs=[dg.AssetCheckSpec("score_drift", asset=["scores", "customer_scores"],
                                   description="Population stability of scores and main features vs the previous night (WARN).")],
)
def customer_scores(context: dg.AssetExecutionContext, nba: NbaHome):
    as_of = as_of_date(context)
    selected = load_selected(nba)
    with nba.warehouse() as con:
        features = con.execute("SELECT * FROM customer_features ORDER BY customer_id").df()
        scores, responses = score_customers(selected, features, as_of)
        con.register("scores_df", scores)
        con.register("responses_df", responses)
        con.execute("CREATE OR REPLACE TABLE customer_scores AS SELECT * FROM scores_df")
        con.execute("CREATE OR REPLACE TABLE action_response AS SELECT * FROM responses_df ORDER BY customer_id, action_id")
        drift = drift_against_history(con, scores, features, as_of)
        keep_history(con, scores, features, as_of)
        metadata = {
            "dagster/row_count": table_rows(con, "customer_scores"),
            "model_versions": dg.MetadataValue.json({t: v for t, (v, _) in selected.items()}),
            "mean_churn_probability": float(scores["churn_probability"].mean()),
            "mean_upsell_probability": float(scores["upsell_probability"].mean()),
            "total_clv": float(scores["clv"].sum()),
            "mean_uplift_by_action": dg.MetadataValue.json(
                responses.groupby("action_id")["uplift"].mean().round(5).to_dict()),
            "score_distributions": image_md({"Score distributions": plot_score_distributions(scores[list(SCORE_COLUMNS)])}),
            "preview": preview(con, "customer_scores"),
        }
    yield dg.MaterializeResult(metadata=metadata)
    yield drift_check(drift)


def drift_against_history(con, scores: pd.DataFrame, features: pd.DataFrame, as_of) -> pd.DataFrame | None:
    """PSI of each score and main feature vs the last earlier scored night, or None on the first night."""
    exists = con.execute(f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{HISTORY_TABLE}'").fetchall()[0][0]
    if not exists:
        return None
    previous = con.execute(f"SELECT * FROM {HISTORY_TABLE} WHERE as_of < ?", [as_of]).df()
    if previous.empty:
        return None
    current = scores.merge(features[["customer_id", *DRIFT_FEATURES]], on="customer_id")
    return assess_drift(previous, current, [*SCORE_COLUMNS, *DRIFT_FEATURES])


def keep_history(con, scores: pd.DataFrame, features: pd.DataFrame, as_of) -> None:
    """Replace the stored night with tonight's scores and drift features (tonight becomes the reference)."""
    current = scores[["customer_id", *SCORE_COLUMNS, "as_of"]].merge(features[["customer_id", *DRIFT_FEATURES]], on="customer_id")
    con.register("history_df", current)
    con.execute(f"CREATE OR REPLACE TABLE {HISTORY_TABLE} AS SELECT * FROM history_df")


def drift_check(drift: pd.DataFrame | None) -> dg.AssetCheckResult:
    if drift is None:
        return dg.AssetCheckResult(check_name="score_drift", passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"reason": "first scored night: no previous night to compare"})
    drifted = drift[drift["drifted"]]
    return dg.AssetCheckResult(
        check_name="score_drift", passed=drifted.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"reason": "no drift" if drifted.empty else f"drift in {', '.join(drifted['column'])}",
                  "psi": dg.MetadataValue.md(drift.round(4).to_markdown(index=False)),
                  **{f"psi_{r.column}": float(r.psi) for r in drift.itertuples()}})


