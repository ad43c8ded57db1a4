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
    assert decision.promoted and decision.baseline_score == -1.0 and chosen.trained_as_of == "2026-11-01"


def test_a_rejected_ranking_is_replaced_by_the_measured_effects(store):
    choice = choose_response_model(_response_models(-0.01, 0.5), "2026-11-01", TRAINING, "[]")
    assert choice.rejected_ranking and "not above its baseline" in choice.rejected_ranking
    assert choice.decision.promoted and choice.selection.version == choice.logged.version
    assert choice.models.effects["email_offer"].slope == 0.0 and choice.models.metrics["qini_mean"] == 0.0
    kept = choose_response_model(_response_models(0.02, 0.5), "2026-11-02", TRAINING, "[]")
    assert kept.rejected_ranking is None and kept.models.effects["email_offer"].slope == 0.5
