"""Which model version scores tonight: a reusable champion, or a freshly trained candidate after its gate.

A model asset first asks `reuse_champion`; when no champion may be reused it trains, logs the candidate
(`log_and_gate_target` / `choose_response_model`, which run the promotion gate) and `select_tonight`
picks the version that scores. A night never scores with a model trained for a later date. When no model is
valid (a first night whose candidate does not beat its baselines), `select_baseline` logs the baseline that won
held out (models/training/baselines.py) and it scores tonight, flagged (`Selection.baseline_rule`); the
champion, when there is one, is still protected from a worse challenger by the gate.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from models.training import registry
from models.features.btyd import BtydFit
from models.training.baselines import (PREFIXES, RuleBaseline, baseline_name, best_baseline, fit_tonight_baseline,
                                       in_time_with_btyd)
from models.training.evaluation import PRIMARY_METRIC, plot_qini, plot_target_report
from models.training.train import TrainingRun, primary_score
from models.training.uplift import ResponseModels, held_out_qini

TARGETS = {
    "churn": "Probability that an active customer makes no purchase in the next horizon (default 90 days).",
    "upsell": "Probability of buying a category new to the customer or above their usual price in the horizon.",
    "clv": "Expected net revenue over the CLV horizon (default 365 days), XGBoost Tweedie.",
}
RESPONSE = "response"


def model_name(target: str) -> str:
    """The registered MLflow model of a target (`nba_churn`, …, `nba_response`)."""
    return f"nba_{target}"


@dataclass(frozen=True)
class Selection:
    """The model version that scores tonight for one target, and why (a row of `model_selection`)."""

    target: str
    version: str
    trained_as_of: str
    mlflow_run_id: str
    reason: str
    baseline_rule: str | None = None  # set when the target's rule baseline scores tonight instead of a model

    @property
    def model_name(self) -> str:
        return model_name(self.target)


def reuse_champion(target: str, as_of: str, retrain_every_days, *, cadence_days_in_reason: bool = True) -> Selection | None:
    """The champion as tonight's selection when it may score without retraining (the rule is
    `registry.reusable_champion`: trained for a date on or before `as_of`, within the cadence), else None.

    `cadence_days_in_reason` keeps each caller's wording: the churn / upsell / CLV assets name the cadence
    in days, the response asset says "the retraining cadence".
    """
    reuse = registry.reusable_champion(model_name(target), as_of, int(retrain_every_days))
    if reuse is None:
        return None
    cadence = f"{retrain_every_days}-day cadence" if cadence_days_in_reason else "retraining cadence"
    reason = f"champion v{reuse.version} trained for {reuse.trained_as_of} is within the {cadence}"
    return Selection(target, reuse.version, reuse.trained_as_of, reuse.run_id, reason)


def select_tonight(target: str, as_of: str, decision: registry.PromotionDecision | None,
                   candidate: registry.LoggedModel) -> Selection | None:
    """The model to score with tonight after a training, or None if none is valid.

    The champion (possibly just promoted) when it was trained for a date on or before `as_of`; else the
    candidate if it beat its baseline (the champion is from a later date, e.g. when backfilling).
    """
    champion = registry.champion_info(model_name(target))
    if champion is not None and champion.trained_as_of and champion.trained_as_of <= as_of:
        return Selection(target, champion.version, champion.trained_as_of, champion.run_id,
                         decision.reason if decision else "")
    if (decision is not None and not decision.held_back
            and registry.beats_baseline(decision.candidate_score, decision.baseline_score)):
        return Selection(target, candidate.version, as_of, candidate.run_id,
                         f"{decision.reason}; champion is from a later date, using the candidate")
    return None


def select_baseline(target: str, run: TrainingRun, as_of: str, decision: registry.PromotionDecision,
                    input_sha256: str, fit_tonight: Callable[[str], BtydFit | None] | None = None) -> Selection:
    """Log the baseline that won on the held-out rows (the rule, or BG/NBD or Pareto/NBD + Gamma-Gamma refitted
    tonight by `fit_tonight(model)`; see baselines.fit_tonight_baseline) as a version of the target's model (never
    promoted: the next night's candidate is gated as on a first night) and select it for tonight, with the gate's
    reason and the baselines' scores."""
    metric = PRIMARY_METRIC[run.model.kind]
    baseline, note = fit_tonight_baseline(run, fit_tonight)
    prefix = baseline.metric_prefix
    fitted = {} if isinstance(baseline, RuleBaseline) else baseline.fit.params()
    logged = registry.log_candidate(
        model_name(target), baseline, params={"target": target, "rule": baseline.rule,
                                              "horizon_days": baseline.horizon_days,
                                              **{f"{prefix}_{k}": v for k, v in fitted.items()}},
        metrics={k: v for k, v in run.model.metrics.items() if k.startswith(f"{prefix}_")},
        tags={"trained_as_of": as_of, "input_sha256": input_sha256, "baseline_rule": baseline.rule},
        artifacts={"notes.txt": f"baseline scoring {as_of}: {decision.reason}" + (f"\n{note}" if note else "")},
        input_example=run.evaluation_frame[list(baseline.feature_names)].head(3),
    )
    reason = (f"{baseline.rule} baseline v{logged.version} scores tonight: no valid model ({decision.reason}) "
              f"and no champion trained on or before tonight; {note + '; ' if note else ''}"
              f"{baseline_scores(target, run.model.metrics, metric)}")
    return Selection(target, logged.version, as_of, logged.run_id, reason, baseline.rule)


def baseline_scores(target: str, metrics: dict[str, float], metric: str) -> str:
    """The baselines' held-out scores in words, e.g. 'held-out spearman: past spend 0.3135, BG/NBD +
    Gamma-Gamma 0.4081, Pareto/NBD + Gamma-Gamma 0.4102' (why the one that scores won)."""
    shown = [f"{baseline_name(target, p)} {metrics[f'{p}_{metric}']:.4f}" for p in PREFIXES
             if f"{p}_{metric}" in metrics]
    return f"held-out {metric}: " + ", ".join(shown)



def log_and_gate_target(target: str, run: TrainingRun, as_of: str, config: dict, input_sha256: str
                        ) -> tuple[registry.LoggedModel, registry.PromotionDecision, dict[str, bytes]]:
    """Log a churn / upsell / CLV candidate with its report charts and gate it on its primary metric
    against its best baseline (rule, BG/NBD or Pareto/NBD + Gamma-Gamma) and the champion re-scored on the same
    evaluation frame."""
    model, training = run.model, config["training"]
    metric = PRIMARY_METRIC[model.kind]
    plots = plot_target_report(model.report, target)
    logged = registry.log_candidate(
        model_name(target), model,
        params={"target": target, "horizon_days": model.horizon_days, "cutoffs": [c.isoformat() for c in run.cutoffs],
                "n_training_rows": run.n_training_rows, "seed": config["seed"]},
        metrics=model.metrics, tags={"trained_as_of": as_of, "input_sha256": input_sha256},
        artifacts={"features.json": json.dumps(model.feature_names), "notes.txt": "\n".join(model.notes), **plots},
        input_example=run.evaluation_frame[model.feature_names].head(3),
    )
    if in_time_with_btyd(model.metrics, metric):
        prefix, score = best_baseline(model.metrics, metric)
        decision = registry.hold_back(
            model_name(target), logged, candidate_score=model.metrics[metric], baseline_score=score,
            reason=f"its {metric} ({model.metrics[metric]:.4f}) comes from a customer split of one cut-off, not out "
                   f"of time; {baseline_name(target, prefix)} scores over a candidate evaluated in time")
    else:
        decision = registry.gate_promotion(
            model_name(target), logged, candidate_score=model.metrics[metric],
            baseline_score=best_baseline(model.metrics, metric)[1],
            score_champion=lambda champion: primary_score(champion, run.evaluation_frame, target),
            tolerance=float(training["promotion_tolerance"]),
        )
    return logged, decision, plots


def log_and_gate_response(models: ResponseModels, as_of: str, training: dict, input_sha256: str,
                          held_out: pd.DataFrame | None = None
                          ) -> tuple[registry.LoggedModel, registry.PromotionDecision, Selection | None]:
    """Log a response-model candidate and gate it: a learned ranking must beat random targeting (Qini > 0) and
    not be worse than the champion, which is re-scored on the candidate's held-out campaign rows (`held_out`;
    without them the champion's Qini from its own night).

    Without a ranking (measured effects or priors only) there is nothing to compare with random targeting: there
    is no baseline (never a placeholder score) and the reason says what the candidate rests on.
    """
    charts = {"qini.png": plot_qini(models.report)} if models.report else {}
    logged = registry.log_candidate(
        model_name(RESPONSE), models, params={"learned_actions": sorted(models.learners), "prior_actions": sorted(models.priors)},
        metrics=models.metrics, tags={"trained_as_of": as_of, "input_sha256": input_sha256},
        artifacts={"notes.txt": "\n".join(models.notes), **charts},
    )
    ranked = any(e.slope > 0 for e in models.effects.values())
    decision = registry.gate_promotion(
        model_name(RESPONSE), logged, candidate_score=float(models.metrics.get("qini_mean", 0.0)),
        baseline_score=0.0 if ranked else None, no_baseline_reason=_unranked_reason(models),
        score_champion=lambda champion: (held_out_qini(champion, held_out) if held_out is not None
                                         else float(champion.metrics.get("qini_mean", 0.0))),
        tolerance=float(training["promotion_tolerance"]),
    )
    return logged, decision, select_tonight(RESPONSE, as_of, decision, logged)


def _unranked_reason(models: ResponseModels) -> str:
    """What a response candidate without a learned ranking rests on, in the gate's reason."""
    if not models.values and not models.learners:
        return "learned nothing: every action's value is its catalog prior (no ranking, no measured effect)"
    return "has no learned ranking: every learned action at its measured average effect (nothing to compare " \
           "with random targeting)"


@dataclass
class ResponseChoice:
    """The response models that were logged last, their gate, tonight's selection and, when the learned
    ranking was rejected, why."""

    models: ResponseModels
    logged: registry.LoggedModel
    decision: registry.PromotionDecision
    selection: Selection | None
    rejected_ranking: str | None = None


def choose_response_model(models: ResponseModels, as_of: str, training: dict, input_sha256: str,
                          held_out: pd.DataFrame | None = None) -> ResponseChoice:
    """Log and gate the response models; when the learned ranking fails and no valid champion exists,
    log and gate them again without the ranking (each learned action's measured, randomised effect for
    everybody), which never does worse than random targeting."""
    logged, decision, chosen = log_and_gate_response(models, as_of, training, input_sha256, held_out)
    if chosen is not None or not models.learners:
        return ResponseChoice(models, logged, decision, chosen)
    rejected = decision.reason
    models = models.without_ranking(f"candidate v{logged.version} rejected: {decision.reason}")
    logged, decision, chosen = log_and_gate_response(models, as_of, training, input_sha256, held_out)
    return ResponseChoice(models, logged, decision, chosen, rejected)
