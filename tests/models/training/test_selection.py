"""Which model scores tonight: champion reuse within the cadence, the candidate when the champion is from a
later date, and the response-model gate with its fallback to measured effects."""
import pandas as pd

from models.training import registry
from models.training.selection import (choose_response_model, log_and_gate_response, model_name, reuse_champion,
                                       select_tonight)
from models.training.uplift import ActionEffect, ResponseModels
from tests.models.training.mlflow_helpers import ConstantModel

TRAINING = {"promotion_tolerance": 0.01}


def _log_and_gate(trained_as_of: str, quality: float = 0.8, baseline: float = 0.5):
    logged = registry.log_candidate(model_name("churn"), ConstantModel(quality), params={}, metrics={"auc": quality},
                                    tags={"trained_as_of": trained_as_of}, artifacts={},
                                    input_example=pd.DataFrame({"x": [1.0]}))
    decision = registry.gate_promotion(model_name("churn"), logged, candidate_score=quality, baseline_score=baseline,
                                       score_champion=lambda model: model.quality, tolerance=0.01)
    return logged, decision


def test_a_champion_is_reused_only_within_the_cadence_and_never_from_a_later_date(store):
    logged, _ = _log_and_gate("2026-11-01")
    reused = reuse_champion("churn", "2026-11-05", 7)
    assert (reused.version, reused.trained_as_of, reused.mlflow_run_id) == (logged.version, "2026-11-01", logged.run_id)
    assert reused.reason == f"champion v{logged.version} trained for 2026-11-01 is within the 7-day cadence"
    assert reused.model_name == "nba_churn"
    worded = reuse_champion("churn", "2026-11-05", 7, cadence_days_in_reason=False)
    assert worded.reason == f"champion v{logged.version} trained for 2026-11-01 is within the retraining cadence"
    assert reuse_champion("churn", "2026-11-08", 7) is None   # 7 days old: retrain
    assert reuse_champion("churn", "2026-10-31", 7) is None   # trained for a later date: it has seen the future
    assert reuse_champion("upsell", "2026-11-05", 7) is None  # no champion at all


def test_select_tonight_prefers_the_champion_and_falls_back_to_a_passing_candidate(store):
    _log_and_gate("2026-11-10")  # champion trained for a later date (a backfill)
    candidate, decision = _log_and_gate("2026-11-01", quality=0.7)
    assert not decision.promoted
    chosen = select_tonight("churn", "2026-11-01", decision, candidate)
    assert (chosen.version, chosen.trained_as_of) == (candidate.version, "2026-11-01")
    assert chosen.reason.endswith("; champion is from a later date, using the candidate")
    later = select_tonight("churn", "2026-11-12", decision, candidate)
    assert later.version != candidate.version and later.trained_as_of == "2026-11-10" and later.reason == decision.reason
    failing, failed = _log_and_gate("2026-11-01", quality=0.4)
    assert select_tonight("churn", "2026-11-01", failed, failing) is None


def _response_models(qini: float, slope: float) -> ResponseModels:
    return ResponseModels(["x"], {"email_offer": (ConstantModel(0.2), ConstantModel(0.1))}, {"call": (0.05, 0.04)},
                          metrics={"qini_mean": qini}, effects={"email_offer": ActionEffect(0.01, 0.0, slope)})


def test_a_ranking_must_beat_random_targeting_but_measured_effects_pass(store):
    _, decision, chosen = log_and_gate_response(_response_models(-0.01, 0.5), "2026-11-01", TRAINING, "[]")
    assert not decision.promoted and decision.baseline_score == 0.0 and chosen is None
    _, decision, chosen = log_and_gate_response(_response_models(0.0, 0.0), "2026-11-01", TRAINING, "[]")
    assert decision.promoted and decision.baseline_score is None and chosen.trained_as_of == "2026-11-01"
    assert "-1" not in decision.reason and "no learned ranking" in decision.reason, decision.reason


def test_a_rejected_ranking_is_replaced_by_the_measured_effects(store):
    choice = choose_response_model(_response_models(-0.01, 0.5), "2026-11-01", TRAINING, "[]")
    assert choice.rejected_ranking and "not above its baseline" in choice.rejected_ranking
    assert choice.decision.promoted and choice.selection.version == choice.logged.version
    assert choice.models.effects["email_offer"].slope == 0.0 and choice.models.metrics["qini_mean"] == 0.0
    kept = choose_response_model(_response_models(0.02, 0.5), "2026-11-02", TRAINING, "[]")
    assert kept.rejected_ranking is None and kept.models.effects["email_offer"].slope == 0.5


def _training_run(target: str, labels, horizon_days: int = 90):
    """A TrainingRun whose evaluation frame holds the RFM columns; the candidate's own booster is not needed."""
    import numpy as np

    from models.training.train import TargetModel, TrainingRun

    n = len(labels)
    frame = pd.DataFrame({"days_since_last_purchase": np.arange(n, dtype=float), "purchases_365d": np.arange(n)[::-1],
                          "spend_365d": np.linspace(365.0, 0.0, n), "label": labels})
    model = TargetModel(None, ["days_since_last_purchase"], None, 1, target=target, horizon_days=horizon_days,
                        metrics={"auc": 0.4, "baseline_auc": 0.9, "baseline_lift_top_decile": 2.0})
    return TrainingRun(model, None, frame, n)


def test_a_first_night_whose_candidate_loses_to_its_baseline_scores_with_the_rule_flagged(store):
    from models.training.baselines import RuleBaseline
    from models.training.selection import select_baseline

    labels = [0] * 30 + [1] * 30  # churners are the ones with the longest recency: RFM ranks them first
    run = _training_run("churn", labels)
    candidate, decision = _log_and_gate("2026-11-01", quality=0.4, baseline=0.9)
    assert select_tonight("churn", "2026-11-01", decision, candidate) is None
    chosen = select_baseline("churn", run, "2026-11-01", decision, "[]")
    assert chosen.baseline_rule == "RFM" and chosen.version != candidate.version
    assert chosen.reason.startswith(f"RFM baseline v{chosen.version} scores tonight: no valid model (candidate v")
    assert registry.champion_version(model_name("churn")) is None  # never promoted: tomorrow gates as a first night
    stored = registry.load_version(model_name("churn"), chosen.version)
    assert isinstance(stored, RuleBaseline)
    churn = stored.predict(run.evaluation_frame)
    assert ((churn >= 0) & (churn <= 1)).all() and churn[-1] > churn[0]  # a probability, ordered like the rule


def test_the_clv_baseline_is_past_spend_over_the_horizon(store):
    from models.training.selection import select_baseline

    run = _training_run("clv", [0.0] * 10, horizon_days=730)
    candidate, decision = _log_and_gate("2026-11-01", quality=0.1, baseline=0.3)
    chosen = select_baseline("clv", run, "2026-11-01", decision, "[]")
    assert chosen.baseline_rule == "past spend"
    clv = registry.load_version(model_name("clv"), chosen.version).predict(run.evaluation_frame)
    assert clv[0] == 730.0 and clv[-1] == 0.0  # 365 spent in the last year -> 730 over two years


def test_a_response_model_that_learned_nothing_says_so_and_shows_no_placeholder_score(store):
    """Every action at its catalog prior (e.g. campaign action ids that match no catalog action): the gate's reason
    says the candidate learned nothing, with no -1 'baseline' score."""
    priors_only = ResponseModels(["x"], {}, {"email_offer": (0.05, 0.04), "call": (0.05, 0.04)}, metrics={})
    _, decision, chosen = log_and_gate_response(priors_only, "2026-11-01", TRAINING, "[]")
    assert decision.promoted and chosen is not None and decision.baseline_score is None
    assert "learned nothing" in decision.reason and "catalog prior" in decision.reason, decision.reason
    assert "-1" not in decision.reason and "baseline" not in decision.reason, decision.reason
