"""MLflow lifecycle: candidates are logged and registered; the promotion gate refuses worse models."""
import pandas as pd

from models.training import registry
from tests.models.training.mlflow_helpers import ConstantModel


def _log(quality):
    return registry.log_candidate(
        "churn_model", ConstantModel(quality), params={"depth": 3}, metrics={"auc": quality},
        tags={"as_of": "2026-11-01"}, artifacts={"features.json": '["x"]'},
        input_example=pd.DataFrame({"x": [1.0]}),
    )


def _gate(candidate, score, baseline=0.5):
    return registry.gate_promotion(
        "churn_model", candidate, candidate_score=score, baseline_score=baseline,
        score_champion=lambda model: model.quality, tolerance=0.01,
    )


def test_first_candidate_that_beats_baseline_becomes_champion(store):
    decision = _gate(_log(0.8), 0.8)
    assert decision.promoted and registry.champion_version("churn_model") == decision.candidate_version
    assert registry.load_version("churn_model", decision.candidate_version).quality == 0.8


def test_worse_candidate_is_not_promoted_and_champion_stays(store):
    first = _gate(_log(0.8), 0.8)
    worse = _gate(_log(0.7), 0.7)
    assert not worse.promoted and "worse than champion" in worse.reason
    assert registry.champion_version("churn_model") == first.candidate_version
    within_tolerance = _gate(_log(0.795), 0.795)
    assert within_tolerance.promoted


def test_candidate_below_baseline_is_not_promoted_even_without_champion(store):
    decision = _gate(_log(0.55), 0.55, baseline=0.6)
    assert not decision.promoted and "baseline" in decision.reason
    assert registry.champion_version("churn_model") is None


def test_an_undefined_candidate_score_never_passes_and_an_undefined_baseline_is_beaten(store):
    nan = float("nan")
    constant = _gate(_log(0.5), nan)  # e.g. the Spearman of constant predictions
    assert not constant.promoted and registry.champion_version("churn_model") is None
    defined = _gate(_log(0.6), 0.6, baseline=nan)  # e.g. a rule that gives everybody the same score
    assert defined.promoted and registry.champion_version("churn_model") == defined.candidate_version


def test_runs_have_readable_names_and_experiments_open_as_model_development(store):
    """MLflow names a run with random words and opens an untagged experiment on its GenAI dashboard."""
    from mlflow.tracking import MlflowClient

    logged = _log(0.8)
    client = MlflowClient()
    run = client.get_run(logged.run_id)
    assert run.info.run_name == "churn_model as of 2026-11-01"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "churn_model"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
