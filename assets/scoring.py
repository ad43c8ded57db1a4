"""Scoring layer: every golden customer scored tonight with the selected models; drift against last night."""

import dagster as dg

from assets._common import (as_of_date, drift_check, image_md, night_check, preview_without_suppressed,
                            selected_models, table_rows)
from models import warehouse
from models.charts import plot_score_distributions
from models.scoring.drift import SCORE_COLUMNS, drift_against_history, history_rows
from models.scoring.score import score_customers
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


@dg.asset(
    key=["scores", "customer_scores"], group_name="scores", kinds={"xgboost", "duckdb"},
    partitions_def=as_of_partitions, owners=["team:data-science"],
    deps=[["features", "customer_features"], ["models", "churn_model"], ["models", "upsell_model"],
          ["models", "clv_model"], ["models", "response_model"]],
    description="One row per golden customer: churn_probability, upsell_probability, clv and the model versions "
                "used; plus `action_response` (p_treated, p_control, uplift per action). No contact details.",
    check_specs=[night_check("score_drift", asset=["scores", "customer_scores"],
                                   description="Population stability of scores and main features vs the previous night (WARN).")],
)
def customer_scores(context: dg.AssetExecutionContext, home: NbaHome):
    as_of = as_of_date(context)
    selected = selected_models(home)
    with home.warehouse() as con:
        features = con.execute("SELECT * FROM customer_features ORDER BY customer_id").df()
        scores, responses = score_customers(selected, features, as_of)
        warehouse.write_scores(con, scores, responses)
        drift = drift_against_history(warehouse.read_score_history(con, as_of), scores, features)
        warehouse.write_score_drift(con, drift)
        warehouse.replace_score_history(con, history_rows(scores, features))
        metadata = {
            "dagster/row_count": table_rows(con, warehouse.CUSTOMER_SCORES),
            "model_versions": dg.MetadataValue.json({t: v for t, (v, _) in selected.items()}),
            "mean_churn_probability": float(scores["churn_probability"].mean()),
            "mean_upsell_probability": float(scores["upsell_probability"].mean()),
            "total_clv": float(scores["clv"].sum()),
            "mean_uplift_by_action": dg.MetadataValue.json(
                responses.groupby("action_id")["uplift"].mean().round(5).to_dict()),
            "score_distributions": image_md({"Score distributions": plot_score_distributions(scores[list(SCORE_COLUMNS)])}),
            "preview": preview_without_suppressed(con, warehouse.CUSTOMER_SCORES, home.suppression_path()),
        }
    yield dg.MaterializeResult(metadata=metadata)
    yield drift_check(drift)
