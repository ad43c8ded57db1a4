"""Model layer: churn / upsell / CLV / response models trained point-in-time, logged to MLflow, gated.

Each model asset either reuses tonight's valid champion (trained for a date on or before the as-of date,
within the retraining cadence) or trains a candidate, logs it and runs the promotion gate. The model that
scores tonight is written to the `model_selection` table; the blocking `promotion_gate` check fails only
when no valid model exists, so lists are never exported from an untrained model.
"""

import base64
import json
import sys

import dagster as dg
import pandas as pd

from assets._common import as_of_date
from models.training import registry
from models.decisions.catalog import load_catalog
from models.features.customer_features import FEATURE_COLUMNS
from models.training.train import primary_score, train_target_model
from models.training.evaluation import PRIMARY_METRIC, plot_qini, plot_target_report
from models.training.uplift import AUDIENCE, audience_mask, build_response_frame, fit_response_models
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome

TARGETS = {
    "churn": "Probability that an active customer makes no purchase in the next horizon (default 90 days).",
    "upsell": "Probability of buying a category new to the customer or above their usual price in the horizon.",
    "clv": "Expected net revenue over the CLV horizon (default 365 days), XGBoost Tweedie.",
}
SELECTION_TABLE = "model_selection"
# Training reads the golden tables directly (features at past cut-offs), not only tonight's features.
TRAINING_INPUTS = [["golden", "golden_customers"], ["golden", "purchases"], ["golden", "interactions"],
                   ["features", "customer_features"]]


def model_name(target: str) -> str:
    return f"nba_{target}"


def image_md(pngs: dict[str, bytes]) -> dg.MetadataValue:
    """Inline PNG charts for the asset page."""
    return dg.MetadataValue.md("\n\n".join(
        f"**{title}**\n\n![{title}](data:image/png;base64,{base64.b64encode(png).decode()})" for title, png in pngs.items()))


def record_selection(nba: NbaHome, target: str, version: str, trained_as_of: str, run_id: str, reason: str) -> None:
    """Remember which model version scores tonight (read by the scoring asset)."""
    with nba.warehouse() as con:
        con.execute(f"CREATE TABLE IF NOT EXISTS {SELECTION_TABLE} (target VARCHAR PRIMARY KEY, model_name VARCHAR, "
                    "version VARCHAR, trained_as_of VARCHAR, mlflow_run_id VARCHAR, reason VARCHAR)")
        con.execute(f"INSERT OR REPLACE INTO {SELECTION_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [target, model_name(target), version, trained_as_of, run_id, reason])


def gate_check(target: str, passed: bool, reason: str, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name="promotion_gate", asset_key=["models", f"{target}_model"], passed=passed,
                               severity=dg.AssetCheckSeverity.ERROR, metadata={"reason": reason, **metadata})


def select_tonight(target: str, as_of: str, decision: registry.PromotionDecision | None, candidate) -> tuple:
    """(version, trained_as_of, run_id, reason) of the model to score with tonight, or None if none is valid."""
    champion = registry.champion_info(model_name(target))
    if champion is not None and champion.trained_as_of and champion.trained_as_of <= as_of:
        return champion.version, champion.trained_as_of, champion.run_id, decision.reason if decision else ""
    if decision is not None and decision.candidate_score > decision.baseline_score:
        return candidate.version, as_of, candidate.run_id, f"{decision.reason}; champion is from a later date, using the candidate"
    return None


def build_model_asset(target: str, description: str) -> dg.AssetsDefinition:
    key = ["models", f"{target}_model"]

    @dg.asset(
        key=key, group_name="models", kinds={"xgboost", "mlflow"}, partitions_def=as_of_partitions,
        owners=["team:data-science"], description=description, deps=TRAINING_INPUTS,
        check_specs=[dg.AssetCheckSpec("promotion_gate", asset=key, blocking=True,
                                       description="A valid model scores tonight: the champion, or a candidate that passed the gate.")],
    )
    def model_asset(context: dg.AssetExecutionContext, nba: NbaHome):
        as_of, config = as_of_date(context), nba.config()
        registry.configure_tracking(nba.tracking_uri(), nba.artifact_root())
        training = config["training"]
        reuse = registry.reusable_champion(model_name(target), as_of.isoformat(), int(training["retrain_every_days"]))
        if reuse is not None:
            reason = f"champion v{reuse.version} trained for {reuse.trained_as_of} is within the {training['retrain_every_days']}-day cadence"
            record_selection(nba, target, reuse.version, reuse.trained_as_of, reuse.run_id, reason)
            yield dg.MaterializeResult(metadata={"trained": False, "model_version": reuse.version,
                                                 "mlflow_run_id": reuse.run_id, "reason": reason})
            yield gate_check(target, True, reason, {"model_version": reuse.version})
            return
        with nba.warehouse() as con:
            # Keyed by the run: churn and upsell share a sample built in this run, never an older one.
            run = train_target_model(con, as_of, target, training, seed=int(config["seed"]),
                                     n_threads=int(config["xgboost_threads"]), params=training["xgboost_params"] or None,
                                     snapshot_key=context.run_id)
        model = run.model
        metric = PRIMARY_METRIC[model.kind]
        plots = plot_target_report(model.report, target)
        logged = registry.log_candidate(
            model_name(target), model,
            params={"target": target, "horizon_days": model.horizon_days, "cutoffs": [c.isoformat() for c in run.cutoffs],
                    "n_training_rows": run.n_training_rows, "seed": config["seed"]},
            metrics=model.metrics, tags={"trained_as_of": as_of.isoformat(), "input_sha256": input_fingerprint(nba)},
            artifacts={"features.json": json.dumps(model.feature_names), "notes.txt": "\n".join(model.notes),
                       **plots},
            input_example=run.evaluation_frame[model.feature_names].head(3),
        )
        decision = registry.gate_promotion(
            model_name(target), logged, candidate_score=model.metrics[metric],
            baseline_score=model.metrics[f"baseline_{metric}"],
            score_champion=lambda champion: primary_score(champion, run.evaluation_frame, target),
            tolerance=float(training["promotion_tolerance"]),
        )
        chosen = select_tonight(target, as_of.isoformat(), decision, logged)
        metadata = {"trained": True, "candidate_version": logged.version, "promoted": decision.promoted,
                    "mlflow_run_id": logged.run_id, "gate": decision.reason,
                    "cutoffs": dg.MetadataValue.json([c.isoformat() for c in run.cutoffs]),
                    "horizon_days": model.horizon_days, "training_rows": run.n_training_rows,
                    "calibration_cutoff": run.calibration_cutoff.isoformat() if run.calibration_cutoff else "rolling",
                    "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in model.notes)),
                    **{k: float(v) for k, v in model.metrics.items()}, "charts": image_md(plots)}
        if chosen is not None:
            record_selection(nba, target, chosen[0], chosen[1], chosen[2], chosen[3])
            metadata["model_version"] = chosen[0]
        yield dg.MaterializeResult(metadata=metadata)
        yield gate_check(target, chosen is not None, decision.reason if chosen else
                         f"no valid model for {target}: {decision.reason}", {"promoted": decision.promoted})

    return model_asset


def input_fingerprint(nba: NbaHome) -> str:
    """sha256s of tonight's input files, as logged by ingest (data lineage of the training run)."""
    with nba.warehouse() as con:
        rows = con.execute("SELECT extract, file, sha256 FROM ingest_log WHERE (extract, loaded_at) IN "
                           "(SELECT (extract, max(loaded_at)) FROM ingest_log GROUP BY extract) ORDER BY ALL").fetchall()
    return json.dumps([list(r) for r in rows])[:5000]


@dg.asset(
    key=["models", "response_model"], group_name="models", kinds={"xgboost", "mlflow"},
    partitions_def=as_of_partitions, owners=["team:data-science"], deps=TRAINING_INPUTS,
    description="Per action, P(positive outcome | contacted) and P(… | not contacted) from randomised campaign "
                "history (T-learner, its uplift calibrated on held-out campaign dates); actions with too little "
                "history use the catalog prior.",
    check_specs=[dg.AssetCheckSpec("promotion_gate", asset=["models", "response_model"], blocking=True,
                                   description="A valid response model scores tonight.")],
)
def response_model(context: dg.AssetExecutionContext, nba: NbaHome):
    as_of, config = as_of_date(context), nba.config()
    registry.configure_tracking(nba.tracking_uri(), nba.artifact_root())
    training = config["training"]
    reuse = registry.reusable_champion(model_name("response"), as_of.isoformat(), int(training["retrain_every_days"]))
    if reuse is not None:
        reason = f"champion v{reuse.version} trained for {reuse.trained_as_of} is within the retraining cadence"
        record_selection(nba, "response", reuse.version, reuse.trained_as_of, reuse.run_id, reason)
        yield dg.MaterializeResult(metadata={"trained": False, "model_version": reuse.version, "reason": reason})
        yield dg.AssetCheckResult(check_name="promotion_gate", passed=True, metadata={"reason": reason})
        return
    catalog = load_catalog(nba.catalog_path(), set(FEATURE_COLUMNS))
    priors = {a.id: a.prior_uplift for a in catalog.actions}
    seed, threads = int(config["seed"]), int(config["xgboost_threads"])
    with nba.warehouse() as con:
        frame = build_response_frame(con, as_of, int(training["response_max_campaign_dates"]))
    frame[AUDIENCE] = audience_mask(frame, catalog.actions)
    models = fit_response_models(frame, priors, int(training["response_min_contacts"]),
                                 params=training["xgboost_params"] or None, seed=seed, n_threads=threads,
                                 prior_sd=float(training["response_prior_sd"]))
    logged, decision, chosen = log_and_gate_response(nba, models, as_of.isoformat(), training)
    fallback = None
    if chosen is None and models.learners:
        # The learned ranking does not beat random targeting on the held-out dates and no valid champion
        # exists: keep each learned action's measured (randomised) effect for everybody, drop the ranking.
        fallback = decision.reason
        models = models.without_ranking(f"candidate v{logged.version} rejected: {decision.reason}")
        logged, decision, chosen = log_and_gate_response(nba, models, as_of.isoformat(), training)
    if chosen is not None:
        record_selection(nba, "response", *chosen)
    charts = {"Qini curves (held-out campaign date)": plot_qini(models.report)} if models.report else {}
    yield dg.MaterializeResult(metadata={
        "trained": True, "candidate_version": logged.version, "promoted": decision.promoted, "gate": decision.reason,
        **({"rejected_learned_candidate": fallback} if fallback else {}),
        "mlflow_run_id": logged.run_id, "learned_actions": dg.MetadataValue.json(sorted(models.learners)),
        "prior_actions": dg.MetadataValue.json(sorted(models.priors)),
        "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in models.notes)),
        **{k: float(v) for k, v in models.metrics.items()}, **({"charts": image_md(charts)} if charts else {})})
    yield dg.AssetCheckResult(check_name="promotion_gate", passed=chosen is not None,
                              metadata={"reason": decision.reason})


def log_and_gate_response(nba: NbaHome, models, as_of: str, training: dict):
    """Log a response-model candidate and gate it: a learned ranking must beat random targeting (Qini > 0)."""
    charts = {"qini.png": plot_qini(models.report)} if models.report else {}
    logged = registry.log_candidate(
        model_name("response"), models, params={"learned_actions": sorted(models.learners), "prior_actions": sorted(models.priors)},
        metrics=models.metrics, tags={"trained_as_of": as_of, "input_sha256": input_fingerprint(nba)},
        artifacts={"notes.txt": "\n".join(models.notes), **charts},
    )
    # Without a ranking (measured effects or priors only) there is nothing to compare with random targeting.
    ranked = any(e.slope > 0 for e in models.effects.values())
    decision = registry.gate_promotion(
        model_name("response"), logged, candidate_score=float(models.metrics.get("qini_mean", 0.0)),
        baseline_score=0.0 if ranked else -1.0,
        score_champion=lambda champion: float(champion.metrics.get("qini_mean", 0.0)),
        tolerance=float(training["promotion_tolerance"]),
    )
    return logged, decision, select_tonight("response", as_of, decision, logged)


model_assets = [*(build_model_asset(t, d) for t, d in TARGETS.items()), response_model]
