"""MLflow lifecycle: log a trained candidate, gate its promotion to the `champion` alias, load champions."""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.tracking import MlflowClient

CHAMPION = "champion"
PIP_REQUIREMENTS = ["xgboost-cpu==3.2.0", "scikit-learn", "pandas", "numpy"]


def quiet_mlflow() -> None:
    """Silence MLflow/alembic chatter so the nightly log stays readable."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "alembic.runtime.migration", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened or reached."""


def configure_tracking(tracking_uri: str, artifact_root: Path | None = None) -> None:
    """Point MLflow at the store (SQLite under HOME by default) and check that it can be read."""
    quiet_mlflow()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a down server fails in seconds, not minutes
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    _artifact_root[0] = artifact_root
    check_tracking_store(tracking_uri)


def check_tracking_store(tracking_uri: str) -> None:
    """Raise one sentence naming the store when it cannot be read (a corrupt SQLite file, a server that is down)."""
    try:
        MlflowClient(tracking_uri, tracking_uri).search_registered_models(max_results=1)
    except Exception as exc:  # SQLAlchemy, requests and MLflow errors alike mean the store is unusable
        shown = re.sub(r"//[^/@]*@", "//", tracking_uri)  # never print credentials
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrackingStoreError(f"MLflow store {shown} cannot be used: {reason}") from None


_artifact_root: list[Path | None] = [None]


# MLflow's UI opens an experiment without this tag on its (empty) GenAI dashboard; this opens it on the runs table.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def ensure_experiment(name: str) -> str:
    """The experiment for one model (tagged as model development), created with artifacts under HOME when tracking
    locally; an experiment of an older home gets the tag too."""
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get("mlflow.experimentKind") != EXPERIMENT_KIND["mlflow.experimentKind"]:
            for key, value in EXPERIMENT_KIND.items():
                MlflowClient().set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id
    location = _artifact_root[0].joinpath(name).as_uri() if _artifact_root[0] else None
    return mlflow.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)


def run_name(name: str, tags: dict) -> str:
    """A readable MLflow run name: the model and the night it was trained for (MLflow's default is random words)."""
    night = tags.get("trained_as_of") or tags.get("as_of")
    return f"{name} as of {night}" if night else name


class FittedModelAdapter(mlflow.pyfunc.PythonModel):
    """Wraps a fitted project model (anything with predict(DataFrame) and feature_names) as a pyfunc."""

    def __init__(self, fitted: Any):
        self.fitted = fitted

    def predict(self, context, model_input: pd.DataFrame, params=None):  # noqa: D401 - MLflow signature
        return self.fitted.predict(model_input)


@dataclass
class LoggedModel:
    run_id: str
    version: str
    name: str


def log_candidate(name: str, fitted: Any, *, params: dict, metrics: dict, tags: dict,
                  artifacts: dict[str, bytes | str], input_example=None) -> LoggedModel:
    """Log one training run (params, metrics, artifacts, feature list, fingerprints) and register a version."""
    experiment_id = ensure_experiment(name)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name(name, tags)) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and v == v})
        mlflow.set_tags(tags)
        with tempfile.TemporaryDirectory() as tmp:
            for filename, content in artifacts.items():
                path = Path(tmp) / filename
                path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
                mlflow.log_artifact(str(path))
        info = mlflow.pyfunc.log_model(
            name="model", python_model=FittedModelAdapter(fitted), input_example=input_example,
            registered_model_name=name, pip_requirements=PIP_REQUIREMENTS,
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    for key in ("trained_as_of", "as_of"):
        if key in tags:
            client.set_model_version_tag(name, version, "trained_as_of", str(tags[key]))
            break
    return LoggedModel(run_id=run.info.run_id, version=version, name=name)


@dataclass
class ChampionInfo:
    version: str
    trained_as_of: str
    run_id: str


def run_metrics(run_id: str) -> dict[str, float]:
    """The metrics an MLflow run logged (a reused champion shows those it was promoted with)."""
    return dict(MlflowClient().get_run(run_id).data.metrics) if run_id else {}


def champion_info(name: str) -> ChampionInfo | None:
    """The champion's version, the as-of date it was trained for, and its MLflow run id."""
    client = MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return None
    return ChampionInfo(str(mv.version), mv.tags.get("trained_as_of", ""), mv.run_id or "")


def reusable_champion(name: str, as_of: str, retrain_every_days: int) -> ChampionInfo | None:
    """The champion, if tonight may score with it without retraining.

    Only a champion trained for a date on or before `as_of` may be reused (a model trained later has seen
    tonight's future — e.g. when backfilling), and only within the retraining cadence.
    """
    info = champion_info(name)
    if info is None or not info.trained_as_of:
        return None
    age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(info.trained_as_of)).days
    return info if 0 <= age < retrain_every_days else None


def load_version(name: str, version: str) -> Any:
    """The fitted project model stored as `name` version `version`."""
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().fitted


def champion_version(name: str) -> str | None:
    """The version currently aliased `champion`, or None if there is none (or no such model)."""
    info = champion_info(name)
    return info.version if info else None


@dataclass
class PromotionDecision:
    promoted: bool
    reason: str
    candidate_version: str
    champion_version: str | None
    candidate_score: float
    champion_score: float | None
    baseline_score: float | None  # None: the candidate has nothing to compare with a baseline (no learned ranking)
    held_back: bool = False  # refused for a reason its scores cannot show: never scores, whatever they are


def beats_baseline(candidate_score: float, baseline_score: float | None) -> bool:
    """Higher is better; an undefined candidate score (NaN: constant predictions) never beats its baseline, and
    an undefined baseline (a constant rule) is beaten by any defined score. No baseline (None) is no bar."""
    if baseline_score is None:
        return True
    if math.isnan(baseline_score):
        return not math.isnan(candidate_score)
    return candidate_score > baseline_score


def gate_promotion(name: str, candidate: LoggedModel, *, candidate_score: float, baseline_score: float | None,
                   score_champion: Callable[[Any], float], tolerance: float,
                   no_baseline_reason: str = "nothing learned to compare with a baseline") -> PromotionDecision:
    """Promote the candidate to champion only if it beats its baseline and is not worse than the champion.

    Both are scored on the candidate's out-of-time evaluation set (`score_champion` re-scores the champion
    there), higher is better, and `tolerance` is how much worse than the champion still counts as equal.
    `baseline_score=None` means the candidate learned nothing a baseline could be compared with: the reason says
    so in `no_baseline_reason`'s words instead of printing a placeholder score.
    """
    current = champion_version(name)
    champion_score = score_champion(load_version(name, current)) if current else None
    if not beats_baseline(candidate_score, baseline_score):
        promoted, reason = False, (f"candidate v{candidate.version} scores {candidate_score:.4f}, not above its "
                                   f"baseline {baseline_score:.4f}")
    elif champion_score is not None and candidate_score < champion_score - tolerance:
        promoted, reason = False, (f"candidate v{candidate.version} scores {candidate_score:.4f}, worse than "
                                   f"champion v{current} ({champion_score:.4f}) by more than {tolerance}")
    else:
        promoted = True
        against = "no previous champion" if not current else f"champion v{current} {champion_score:.4f}"
        reason = (f"candidate v{candidate.version} {no_baseline_reason} ({against})" if baseline_score is None else
                  f"candidate v{candidate.version} scores {candidate_score:.4f} (baseline {baseline_score:.4f}, {against})")
    return _record_decision(name, PromotionDecision(promoted, reason, candidate.version, current, candidate_score,
                                                    champion_score, baseline_score))


def hold_back(name: str, candidate: LoggedModel, *, candidate_score: float, baseline_score: float,
              reason: str) -> PromotionDecision:
    """Refuse promotion for a reason the scores cannot show (e.g. an evaluation that is not out of time)."""
    return _record_decision(name, PromotionDecision(False, f"candidate v{candidate.version} held back: {reason}",
                                                    candidate.version, champion_version(name), candidate_score, None,
                                                    baseline_score, held_back=True))


def _record_decision(name: str, decision: PromotionDecision) -> PromotionDecision:
    """Alias a promoted candidate `champion` and tag the version with the decision and its reason."""
    if decision.promoted:
        MlflowClient().set_registered_model_alias(name, CHAMPION, decision.candidate_version)
    MlflowClient().set_model_version_tag(name, decision.candidate_version, "promotion",
                                         json.dumps({"promoted": decision.promoted, "reason": decision.reason}))
    return decision
