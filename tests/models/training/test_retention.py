"""MLflow retention: past the newest N runs per model, a run is deleted with its version, logged model and
artifact files, unless its version is the champion or named as in use; 0 keeps everything."""
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from models.training import registry
from models.training.retention import delete_mlflow_runs, plan_mlflow_retention
from tests.models.training.mlflow_helpers import ConstantModel


def _log(name: str, quality: float) -> registry.LoggedModel:
    return registry.log_candidate(name, ConstantModel(quality), params={}, metrics={"auc": quality},
                                  tags={"as_of": "2026-11-01"}, artifacts={"features.json": '["x"]'},
                                  input_example=pd.DataFrame({"x": [1.0]}))


def _files_of(store: Path, run_id: str) -> list[Path]:
    return [p for p in (store / "artifacts").rglob("*") if p.is_file() and run_id in str(p)]


def test_old_runs_go_but_the_champion_and_versions_in_use_stay(store):
    logged = [_log("nba_churn", q) for q in (0.7, 0.71, 0.72, 0.73, 0.74)]  # versions 1..5, oldest first
    other = [_log("nba_clv", q) for q in (0.5, 0.6)]
    client = MlflowClient()
    client.set_registered_model_alias("nba_churn", registry.CHAMPION, logged[0].version)  # an old champion
    uri = mlflow.get_tracking_uri()
    assert _files_of(store, logged[2].run_id), "no artifact files of the run (the check below would prove nothing)"

    plan = plan_mlflow_retention(client, runs_to_keep=2, in_use={"nba_churn": {logged[1].version}})
    assert sorted((r.experiment, r.model_versions) for r in plan) == [("nba_churn", (("nba_churn", "3"),))]
    assert plan[0].run_id == logged[2].run_id and len(plan[0].logged_models) == 1
    delete_mlflow_runs(client, plan, uri)

    remaining = {r.info.run_id for r in client.search_runs(
        [client.get_experiment_by_name("nba_churn").experiment_id], run_view_type=ViewType.ALL)}
    assert remaining == {logged[i].run_id for i in (0, 1, 3, 4)}  # purged, not only marked deleted
    assert sorted(int(v.version) for v in client.search_model_versions("name = 'nba_churn'")) == [1, 2, 4, 5]
    assert _files_of(store, logged[2].run_id) == []
    assert not [p for p in (store / "artifacts" / "nba_churn" / "models" / plan[0].logged_models[0]).rglob("*")
                if p.is_file()]  # the logged model's files (gc leaves empty folders)
    assert registry.load_version("nba_churn", "1").quality == 0.7  # the champion still loads
    assert len(client.search_runs([client.get_experiment_by_name("nba_clv").experiment_id])) == len(other)


def test_zero_keeps_every_run(store):
    for quality in (0.7, 0.71, 0.72):
        _log("nba_churn", quality)
    assert plan_mlflow_retention(MlflowClient(), runs_to_keep=0, in_use={}) == []
    assert plan_mlflow_retention(MlflowClient(), runs_to_keep=3, in_use={}) == []
    assert len(plan_mlflow_retention(MlflowClient(), runs_to_keep=2, in_use={})) == 1
