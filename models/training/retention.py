"""Retention of MLflow runs: per experiment (one per model), the newest N runs are kept, and so is every run
whose registered model version carries an alias (the champion) or is named as in use (by a kept night's
manifest); the rest are deleted with their model versions and logged models, then purged from a local store."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass

from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class RunToDelete:
    """One MLflow run past retention, with the registered versions and logged models it produced."""

    experiment: str
    run_id: str
    started: str
    model_versions: tuple[tuple[str, str], ...]  # (registered model, version)
    logged_models: tuple[str, ...]


def plan_mlflow_retention(client: MlflowClient, runs_to_keep: int,
                          in_use: dict[str, set[str]]) -> list[RunToDelete]:
    """The runs to delete: in each experiment, those after its newest `runs_to_keep` by start time (0: none),
    except a run that produced a model version with an alias or listed in `in_use` ({registered model: versions})."""
    if runs_to_keep <= 0:
        return []
    versions_of: dict[str, list[tuple[str, str]]] = {}
    protected: set[tuple[str, str]] = {(name, v) for name, versions in in_use.items() for v in versions}
    for model in client.search_registered_models():
        protected |= {(model.name, str(v)) for v in model.aliases.values()}
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            versions_of.setdefault(mv.run_id or "", []).append((model.name, str(mv.version)))
    plan = []
    for experiment in client.search_experiments():
        runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"],
                                  max_results=50_000)
        logged: dict[str, list[str]] = {}
        for model in _logged_models(client, experiment.experiment_id):
            logged.setdefault(model.source_run_id, []).append(model.model_id)
        for run in runs[runs_to_keep:]:
            produced = tuple(sorted(versions_of.get(run.info.run_id, [])))
            if any(version in protected for version in produced):
                continue
            started = dt.datetime.fromtimestamp(run.info.start_time / 1000, dt.timezone.utc)
            plan.append(RunToDelete(experiment.name, run.info.run_id, started.isoformat(timespec="seconds"), produced,
                                    tuple(logged.get(run.info.run_id, []))))
    return plan


def _logged_models(client: MlflowClient, experiment_id: str) -> list:
    """Every logged model of an experiment (the search returns pages)."""
    models, token = [], None
    while True:
        page = client.search_logged_models([experiment_id], page_token=token)
        models.extend(page)
        token = page.token
        if not token:
            return models


def delete_mlflow_runs(client: MlflowClient, plan: list[RunToDelete], tracking_uri: str) -> None:
    """Delete the planned runs, their model versions and logged models; on a local SQLite store also purge them
    (`mlflow gc`: rows and artifact files), so the disk space comes back. A tracking server keeps them as
    deleted until its operator runs `mlflow gc` there."""
    for run in plan:
        for name, version in run.model_versions:
            client.delete_model_version(name, version)
        for model_id in run.logged_models:
            client.delete_logged_model(model_id)
        client.delete_run(run.run_id)
    if plan and tracking_uri.startswith("sqlite:///"):
        command = [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", tracking_uri,
                   "--run-ids", ",".join(run.run_id for run in plan)]
        models = [model_id for run in plan for model_id in run.logged_models]
        if models:
            command += ["--logged-model-ids", ",".join(models)]
        subprocess.run(command, check=True, capture_output=True, text=True)
