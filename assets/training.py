"""Model layer: churn / upsell / CLV / response models trained point-in-time, logged to MLflow, gated.

Each model asset either reuses tonight's valid champion (trained for a date on or before the as-of date,
within the retraining cadence) or trains a candidate, logs it and runs the promotion gate. The model that
scores tonight is written to the `model_selection` table. When no model is valid for churn, upsell or CLV (a
first night whose candidate does not beat its best baseline) the baseline that won on the held-out rows (the rule,
or BG/NBD or Pareto/NBD + Gamma-Gamma for churn and CLV) scores, flagged in
`model_selection.baseline_rule`, the asset metadata, the manifest and the run summary; the blocking
`promotion_gate` check fails only when the response model has no valid version.
"""

import dagster as dg

from assets._common import as_of_date, image_md, night_check, selected_models
from models import warehouse
from models.decisions.catalog import load_catalog
from models.features.btyd import fit_btyd_at
from models.features.customer_features import FEATURE_COLUMNS
from models.training import registry
from models.training.evaluation import metrics_beside_baselines, plot_qini
from models.training.selection import (RESPONSE, TARGETS, Selection, choose_response_model, log_and_gate_target,
                                       reuse_champion, select_baseline, select_tonight)
from models.training.train import train_target_model
from models.training.uplift import AUDIENCE, audience_mask, build_response_frame, fit_response_models, held_out_rows
from pipelines.config_schema import Training
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome

# Training reads the golden tables directly (features at past cut-offs), not only tonight's features.
TRAINING_INPUTS = [["golden", "golden_customers"], ["golden", "purchases"], ["golden", "interactions"],
                   ["features", "customer_features"]]


def record_selection(home: NbaHome, selection: Selection) -> None:
    """Remember which model version scores tonight (read by the scoring asset)."""
    with home.warehouse() as con:
        warehouse.record_selection(con, selection.target, selection.model_name, selection.version,
                                   selection.trained_as_of, selection.mlflow_run_id, selection.reason,
                                   selection.baseline_rule)


def input_fingerprint(home: NbaHome) -> str:
    with home.warehouse() as con:
        return warehouse.input_fingerprint(con)


def gate_check(target: str, passed: bool, reason: str, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name="promotion_gate", asset_key=["models", f"{target}_model"], passed=passed,
                               severity=dg.AssetCheckSeverity.ERROR, metadata={"reason": reason, **metadata})


RESPONSE_KEY = ["models", "response_model"]


def learning_health(models, trained_as_of: str) -> dg.AssetCheckResult:
    """WARN check: every randomised campaign row matched a catalog action and some action learned from them. Names
    the unmatched action ids with their row counts, and says so when every action rests on its catalog prior."""
    items = models.attention()
    unmatched = models.unmatched_actions
    table = "\n".join(["| campaign action_id | rows ignored |", "|---|---|",
                       *(f"| {a} | {n:,} |" for a, n in sorted(unmatched.items()))]) if unmatched else "_(none)_"
    learned = sorted(models.values or models.learners)
    return dg.AssetCheckResult(
        check_name="learning_health", asset_key=RESPONSE_KEY, passed=not items, severity=dg.AssetCheckSeverity.WARN,
        metadata={"reason": "; ".join(items) if items else
                  f"every campaign row matched a catalog action; {len(learned)} action(s) learned from randomised history",
                  "trained_as_of": trained_as_of,
                  "unmatched_campaign_actions": dg.MetadataValue.md(table),
                  "unmatched_campaign_rows": int(sum(unmatched.values())),
                  "learned_actions": dg.MetadataValue.json(learned),
                  "prior_actions": dg.MetadataValue.json(sorted(models.priors))})


def reused_champion(home: NbaHome, target: str, as_of: str, training: Training, *, run_details: bool = True):
    """Yields the materialization and passed gate of a reused champion and returns True, or returns False
    when the champion may not be reused. `run_details=False` (the response asset) words the reason with
    "the retraining cadence" and leaves the MLflow run id and model version out of the metadata, as that
    asset always did."""
    reuse = reuse_champion(target, as_of, training.retrain_every_days, cadence_days_in_reason=run_details)
    if reuse is None:
        return False
    record_selection(home, reuse)
    yield dg.MaterializeResult(metadata={"trained": False, "model_version": reuse.version,
                                         **({"mlflow_run_id": reuse.mlflow_run_id} if run_details else {}),
                                         "reason": reuse.reason, "metrics_of": f"v{reuse.version} trained for "
                                                                              f"{reuse.trained_as_of} (reused)",
                                         **metrics_beside_baselines(registry.run_metrics(reuse.mlflow_run_id))})
    yield gate_check(target, True, reuse.reason, {"model_version": reuse.version} if run_details else {})
    return True


def build_model_asset(target: str, description: str) -> dg.AssetsDefinition:
    key = ["models", f"{target}_model"]

    @dg.asset(
        key=key, group_name="models", kinds={"xgboost", "mlflow"}, partitions_def=as_of_partitions,
        owners=["team:data-science"], description=description, deps=TRAINING_INPUTS,
        check_specs=[night_check("promotion_gate", asset=key, blocking=True,
                                       description="A valid model scores tonight: the champion, or a candidate that passed the gate.")],
    )
    def model_asset(context: dg.AssetExecutionContext, home: NbaHome):
        as_of, settings = as_of_date(context), home.settings()
        config = settings.as_dict()  # the functions of models/ take plain mappings
        home.configure_tracking()
        if (yield from reused_champion(home, target, as_of.isoformat(), settings.training)):
            return
        with home.warehouse() as con:
            # Keyed by the run: churn and upsell share a sample built in this run, never an older one.
            run = train_target_model(con, as_of, target, config["training"], seed=settings.seed,
                                     n_threads=settings.xgboost_threads,
                                     params=settings.training.xgboost_params or None, snapshot_key=context.run_id)
        model = run.model
        logged, decision, plots = log_and_gate_target(target, run, as_of.isoformat(), config, input_fingerprint(home))
        chosen = select_tonight(target, as_of.isoformat(), decision, logged)
        if chosen is None:  # a list every night: the baseline that won held out scores, flagged
            def fit_tonight(btyd_model: str):
                with home.warehouse() as con:
                    return fit_btyd_at(con, as_of, model=btyd_model)[0]

            chosen = select_baseline(target, run, as_of.isoformat(), decision, input_fingerprint(home), fit_tonight)
        metadata = {"trained": True, "candidate_version": logged.version, "promoted": decision.promoted,
                    "mlflow_run_id": logged.run_id, "gate": decision.reason,
                    "cutoffs": dg.MetadataValue.json([c.isoformat() for c in run.cutoffs]),
                    "horizon_days": model.horizon_days, "training_rows": run.n_training_rows,
                    "calibration_cutoff": run.calibration_cutoff.isoformat() if run.calibration_cutoff else "rolling",
                    "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in model.notes)),
                    **metrics_beside_baselines(model.metrics), "charts": image_md(plots)}
        record_selection(home, chosen)
        metadata["model_version"] = chosen.version
        if chosen.baseline_rule:
            metadata["baseline_fallback"] = chosen.baseline_rule
        yield dg.MaterializeResult(metadata=metadata)
        yield gate_check(target, True, chosen.reason if chosen.baseline_rule else decision.reason,
                         {"promoted": decision.promoted, "baseline_fallback": chosen.baseline_rule or ""})

    return model_asset


@dg.asset(
    key=["models", "response_model"], group_name="models", kinds={"xgboost", "mlflow"},
    partitions_def=as_of_partitions, owners=["team:data-science"], deps=TRAINING_INPUTS,
    description="Per action, P(positive outcome | contacted) and P(… | not contacted) from randomised campaign "
                "history (T-learner, its uplift calibrated on held-out campaign dates); actions with too little "
                "history use the catalog prior.",
    check_specs=[night_check("promotion_gate", asset=RESPONSE_KEY, blocking=True,
                             description="A valid response model scores tonight."),
                 night_check("learning_health", asset=RESPONSE_KEY,
                             description="Campaign rows matched to catalog actions (unmatched ids named with their "
                                         "row counts) and some action learned, not only catalog priors (WARN).")],
)
def response_model(context: dg.AssetExecutionContext, home: NbaHome):
    as_of, settings = as_of_date(context), home.settings()
    home.configure_tracking()
    training = settings.training
    if (yield from reused_champion(home, RESPONSE, as_of.isoformat(), training, run_details=False)):
        with home.warehouse(read_only=True) as con:
            selection = warehouse.read_model_selection(con).set_index("target")
        yield learning_health(selected_models(home, RESPONSE)[RESPONSE][1],
                              str(selection.loc[RESPONSE, "trained_as_of"]))
        return
    catalog = load_catalog(home.catalog_path(), set(FEATURE_COLUMNS))
    priors = {a.id: a.prior_uplift for a in catalog.actions}
    with home.warehouse() as con:
        frame = build_response_frame(con, as_of, training.response_max_campaign_dates,
                                     horizons={a.id: a.outcome_horizon_days for a in catalog.actions},
                                     margin_rate=settings.decisions.margin_rate,
                                     max_plan_nights=training.response_max_plan_nights)
    frame[AUDIENCE] = audience_mask(frame, catalog.actions)
    models = fit_response_models(frame, priors, training.response_min_contacts,
                                 params=training.xgboost_params or None, seed=settings.seed,
                                 n_threads=settings.xgboost_threads, prior_sd=training.response_prior_sd,
                                 actions=catalog.ordered_actions(), surrogacy_alpha=training.surrogacy_alpha)
    choice = choose_response_model(models, as_of.isoformat(), training.model_dump(), input_fingerprint(home),
                                   held_out_rows(frame))
    models, logged, decision, chosen, fallback = (choice.models, choice.logged, choice.decision, choice.selection,
                                                  choice.rejected_ranking)
    if chosen is not None:
        record_selection(home, chosen)
    charts = {"Qini curves (held-out campaign date)": plot_qini(models.report)} if models.report else {}
    yield dg.MaterializeResult(metadata={
        "trained": True, "candidate_version": logged.version, "promoted": decision.promoted, "gate": decision.reason,
        **({"rejected_learned_candidate": fallback} if fallback else {}),
        "mlflow_run_id": logged.run_id, "learned_actions": dg.MetadataValue.json(sorted(models.learners)),
        "prior_actions": dg.MetadataValue.json(sorted(models.priors)),
        "unmatched_campaign_actions": dg.MetadataValue.json(models.unmatched_actions),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in models.notes)),
        **metrics_beside_baselines(models.metrics), **({"charts": image_md(charts)} if charts else {})})
    yield gate_check(RESPONSE, chosen is not None, decision.reason, {})
    yield learning_health(models, as_of.isoformat())


model_assets = [*(build_model_asset(t, d) for t, d in TARGETS.items()), response_model]
