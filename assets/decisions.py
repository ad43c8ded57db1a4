"""Decision layer: tonight's ranked next-best actions per customer and the full decision audit; what past plans earned."""

import datetime as dt
import json

import dagster as dg

from assets._common import as_of_date, image_md, night_check, selected_models, table_rows
from models import warehouse
from models.charts import plot_actions_by_segment, plot_realised_lift
from models.decisions.catalog import load_catalog
from models.decisions.explain import call_list_reasons
from models.decisions.feedback import feedback_settings
from models.decisions.night_glance import add_night_at_a_glance, decision_sanity, horizon_text, previous_night
from models.decisions.plan import decide
from models.decisions.realised_lift import lift_from_cells, lift_settings, measured_cells, plan_value_from_cells
from models.decisions.scorecard import measured_scorecard
from models.exports.campaign import campaign_id
from models.exports.lift_summary import realised_lift_section
from models.exports.run_summary import evidence_line, policy_table, quarantine_shares
from models.features.customer_features import FEATURE_COLUMNS
from models.golden.suppression import load_suppressed_ids
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


@dg.asset(
    key=["decisions", "next_best_actions"], group_name="decisions", kinds={"python", "duckdb"},
    partitions_def=as_of_partitions, owners=["team:marketing-science"],
    deps=[["scores", "customer_scores"], ["golden", "golden_customers"], ["features", "customer_features"],
          ["validated", "contacts"],
          ["sharded", "customer_scores"], ["sharded", "customer_features"]],
    check_specs=[night_check("decision_sanity", asset=["decisions", "next_best_actions"],
                             description="The plan beats the best simple policy by its own estimate; exploration "
                                         "and the universal holdout stay within their configured shares (WARN).")],
    description="Per customer the top-k feasible actions by expected incremental value (uplift × value at stake − "
                "costs), 'no action' always a candidate, consent / do-not-contact / erasure absolute, frequency caps "
                "(counting the pipeline's own listed contacts unless the contacts feedback says they never reached "
                "the customer; the feedback is kept in `contact_feedback`), "
                "universal holdout and exploration, call capacity and offer budget solved globally. Also "
                "`decision_audit` (every customer × action × channel), `customer_reasons` and `decision_summary`.",
)
def next_best_actions(context: dg.AssetExecutionContext, home: NbaHome):
    as_of, settings = as_of_date(context), home.settings()
    config = settings.as_dict()  # the functions of models/ take plain mappings
    catalog = load_catalog(home.catalog_path(), set(FEATURE_COLUMNS))
    recorded = home.record_night_settings(as_of)  # what `nba explain` reads back for this night
    with home.warehouse() as con:
        feedback_rows = warehouse.record_contact_feedback(con)
        customers, features, scores, responses, versions = warehouse.read_decision_inputs(
            con, as_of, feedback_settings(config))
        suppressed = load_suppressed_ids(con, home.suppression_path())
        last_as_of, last_summary = warehouse.read_last_decision_summary(con)
        deployed = warehouse.read_deployed_policy(con, as_of)
        intake = warehouse.read_intake(con)
    response_model = selected_models(home, "response")["response"][1]
    result = decide(customers, features, scores, responses, catalog, config, as_of=as_of,
                    suppressed_ids=suppressed, model_versions=versions,
                    held_out=getattr(response_model, "held_out", None), deployed_policy=deployed)
    contacts = add_night_at_a_glance(result.summary, result.log, catalog, response_model, currency=settings.currency,
                                     previous=previous_night(as_of, last_as_of, last_summary),
                                     quarantine_share=quarantine_shares(intake))
    del response_model
    del customers, scores, responses
    reasons = call_list_reasons(result.next_best_actions, features, lambda: selected_models(home)["churn"][1], catalog,
                                settings.language)
    with home.warehouse() as con:
        warehouse.write_decisions(con, as_of, result.next_best_actions, result.decision_audit, reasons, result.summary)
        campaign = campaign_id(as_of, warehouse.input_fingerprint(con), config, catalog.version, versions)
        warehouse.append_decision_log(con, as_of, result.log, campaign_id=campaign,
                                      policy=result.summary["policy_selection"]["winner"],
                                      policy_version=catalog.version,
                                      model_versions=json.dumps(versions, sort_keys=True))
        by_segment = con.execute(
            "SELECT coalesce(g.segment, '(none)') AS segment, n.action_id, count(*) AS n FROM next_best_actions n "
            "JOIN golden_customers g USING (customer_id) WHERE n.chosen GROUP BY ALL ORDER BY ALL").df()
        rows = table_rows(con, warehouse.NEXT_BEST_ACTIONS)
    chart = by_segment.pivot(index="segment", columns="action_id", values="n").fillna(0)
    yield dg.MaterializeResult(metadata={
        **night_at_a_glance(result.summary, contacts),
        "dagster/row_count": rows,
        "policy_version": catalog.version,
        "night_settings": dg.MetadataValue.path(str(recorded)),
        "suppressed_customers": len(suppressed),
        "contact_feedback_rows_added": feedback_rows,
        "policy": result.summary["policy_selection"]["winner"],
        "policy_reason": result.summary["policy_selection"]["reason"],
        "policy_candidates": dg.MetadataValue.md(policy_table(result.summary["policy_selection"])),
        "policy_evidence_needed": dg.MetadataValue.md(evidence_line(result.summary["policy_selection"]) or "_(none)_"),
        "summary": dg.MetadataValue.json(json.loads(json.dumps(result.summary, default=str))),
        "actions_by_segment": image_md({"Chosen actions by segment": plot_actions_by_segment(chart)}) if len(chart) else "none",
    })
    sanity = decision_sanity(result.summary, settings.decisions.holdout_share, settings.decisions.exploration_share)
    yield dg.AssetCheckResult(check_name="decision_sanity", passed=sanity.passed, severity=dg.AssetCheckSeverity.WARN,
                              metadata={"reason": "; ".join(sanity.reasons), **sanity.figures})


def night_at_a_glance(summary: dict, contacts) -> dict:
    """The first metadata entries of the decisions page: the plan's value with currency and horizon, contacts per
    action and channel (plan / exploration / holdout apart), calls and offer budget used."""
    currency = summary["currency"]
    return {
        "plan_value": f"{summary['plan_value']:,.2f} {currency} over {horizon_text(summary['value_horizon_days'])} "
                      "after the contact (expected incremental net margin of the plan's contacts)",
        "contacts": dg.MetadataValue.md(contacts.to_markdown(index=False) if len(contacts) else "_(no contacts)_"),
        "plan_contacts": int(contacts["plan"].sum()), "exploration_contacts": int(contacts["exploration"].sum()),
        "holdout_customers": int(summary.get("holdout_size", 0)),
        "calls_used": f"{summary.get('calls_used', 0):,} of {summary.get('capacity_calls', 0):,}",
        "offer_budget_used": f"{summary.get('offer_spend_expected', 0):,.2f} of {summary.get('offer_budget', 0):,.2f} "
                             f"{currency}",
    }


@dg.asset(
    key=["decisions", "realised_lift"], group_name="decisions", kinds={"python", "duckdb"},
    partitions_def=as_of_partitions, owners=["team:marketing-science"], deps=[["decisions", "next_best_actions"]],
    description="What the plan's past contacts earned, with no truth file: per past night (or ISO week) whose outcome "
                "window closed and per action, the contacted customers vs the holdout's would-be-contacted ones "
                "(net value difference, 95 % interval); each past plan's value (inverse propensity and doubly "
                "robust) next to what it expected; the monthly KPI scorecard (ARPU, cross / up-sell, churn, "
                "retention cost, NPS, CSAT) of contacted vs holdout. Tables `realised_lift`, `plan_value`, "
                "`kpi_scorecard` (models/decisions/realised_lift.py, scorecard.py).",
)
def realised_lift(context: dg.AssetExecutionContext, home: NbaHome) -> dg.MaterializeResult:
    as_of, settings = as_of_date(context), home.settings()
    config = settings.as_dict()
    catalog = load_catalog(home.catalog_path(), set(FEATURE_COLUMNS))
    lifting = lift_settings(config)
    costs = {(a.id, ch): float(cost) for a in catalog.actions for ch, cost in a.cost_per_contact.items()}
    with home.warehouse() as con:
        # each settled night measured once and kept (measured_cells, measured_scorecard): a night reads a few weeks of
        # lists, not the lookback's
        cells = measured_cells(con, as_of, {a.id: a.outcome_horizon_days for a in catalog.actions}, costs, lifting,
                               feedback_settings(config))
        lift, plan_value = lift_from_cells(cells, lifting), plan_value_from_cells(cells, lifting)
        card = measured_scorecard(con, as_of, costs, lifting, feedback_settings(config))
        warehouse.write_realised_lift(con, as_of, lift, plan_value, card)
    summary = realised_lift_section(lift, plan_value, card, settings.language)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(lift),
        "settled_plan_rows": int(cells["n1"].sum() + cells["n0"].sum()) if len(cells) else 0,
        "realised_lift": dg.MetadataValue.md(lift.round(4).to_markdown(index=False) if len(lift) else "_(nothing settled yet)_"),
        "plan_value": dg.MetadataValue.md(plan_value.round(2).to_markdown(index=False) if len(plan_value) else "_(none)_"),
        "kpi_scorecard": dg.MetadataValue.md(card.round(4).to_markdown(index=False) if len(card) else "_(none)_"),
        "chart": image_md({"Net value per contact vs holdout": plot_realised_lift(lift)}) if len(lift) else "none",
        "summary": dg.MetadataValue.md(summary),
    })
