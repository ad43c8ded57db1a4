"""Run the nightly job in process for one as-of date, with progress lines and one clear failure message."""
from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from pipelines.lock import home_lock
from pipelines.resources import NbaHome

DAGSTER_YAML = """telemetry:
  enabled: false
nux:
  enabled: false   # no "Join the Dagster community" pop-up over the first page
concurrency:
  runs:
    max_concurrent_runs: 1   # one night at a time: every run writes the one DuckDB warehouse
"""


def dagster_instance(home: Path) -> dg.DagsterInstance:
    """The persistent Dagster instance under HOME (SQLite storage in HOME/dagster), shared by `nba run`, `nba ui`
    and `nba serve`; HOME/dagster/dagster.yaml is written once and then the operator's to edit (README, Operations)."""
    instance_dir = home / "dagster"
    instance_dir.mkdir(parents=True, exist_ok=True)
    config = instance_dir / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, encoding="utf-8")
    return dg.DagsterInstance.from_config(str(instance_dir))


class _ProgressHandler(logging.Handler):
    """Prints one line per finished step (asset or check) with its wall time."""

    def __init__(self, stream):
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None:
            return
        step = event.step_key or ""
        if event.event_type_value == "STEP_START":
            self.started[step] = time.perf_counter()
            print(f"  … {step}", file=self.stream, flush=True)
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            took = time.perf_counter() - self.started.get(step, time.perf_counter())
            mark = "ok" if event.event_type_value == "STEP_SUCCESS" else "FAILED"
            print(f"  {mark:6} {step} ({took:.1f} s)", file=self.stream, flush=True)


@dg.logger(description="Short progress lines for the nba command line.")
def progress_logger(init_context):
    logger = logging.getLogger("nba.progress")
    logger.handlers[:] = [_ProgressHandler(sys.stderr)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger


def quiet_known_noise() -> None:
    """GX disposes its DuckDB engine after the cursor is closed; SQLAlchemy logs that harmless rollback with a
    traceback. Called by the in-process runner and when `nba serve`'s code location loads (its runs' process)."""
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)


WORKSPACE = Path(__file__).resolve().parent.parent / "workspace.yaml"


def nightly_job_origin(job_name: str):
    """The origin the UI gives `job_name` (the code location of workspace.yaml, which nba serve's workspace names
    the same): an in-process run carrying it is listed on the job's page and in the Overview timeline, like a run
    launched from the UI. Dagster has no public way to build it, so the private loader is used here only
    (tests/pipelines/test_cli_run.py fails loudly if it changes)."""
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    (location,) = location_origins_from_yaml_paths([str(WORKSPACE)])
    return RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_job_origin(job_name)


def attribute_to_code_location(instance: dg.DagsterInstance, run_id: str, job_name: str) -> None:
    """Give a finished in-process run the origin of its job in the UI's code location (see nightly_job_origin)."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.remote_job_origin is None:
        instance.run_storage.replace_job_origin(run, nightly_job_origin(job_name))


@dataclass
class RunOutcome:
    success: bool
    run_id: str
    message: str


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """One sentence naming the failed check or asset and the reason, from the run's events."""
    return failure_message_from_events(result.all_events)


def failure_message_from_events(events: Sequence[dg.DagsterEvent]) -> str:
    """`failure_message` from a run's Dagster events (in process, or read back from the instance's event log)."""
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                reason = data.metadata.get("reason")
                why = f": {reason.value}" if reason is not None else ""
                return (f"check '{data.check_name}' on {data.asset_key.to_user_string()} failed{why}; "
                        "downstream assets were not run")
    for event in events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.step_failure_data.error
            cause = error
            while cause.cause is not None and cause.cls_name.startswith("Dagster"):
                cause = cause.cause
            first_line = cause.message.strip().splitlines()[0] if cause.message.strip() else cause.cls_name
            # the error's class (e.g. "data_contracts.ContractError: ") says nothing to the person reading the line
            first_line = re.sub(rf"^[\w.]*\b{re.escape(cause.cls_name)}: ", "", first_line)
            return f"step '{event.step_key}' failed: {first_line.rstrip('.')}"
    return "the run failed (see the Dagster UI for the event log)"


def run_nightly(home: Path, landing: Path, as_of: dt.date, config_path: Path | None,
                tracking_uri: str = "", first_as_of: dt.date | None = None) -> RunOutcome:
    """Execute the nightly job for `as_of` under HOME's lock; the asset graph is the one the UI shows, its
    partitions starting at `first_as_of` (pipelines/partitions.first_as_of of this config and landing if None)."""
    from pipelines.definitions import build_definitions
    from pipelines.jobs import NIGHTLY_JOB
    from pipelines.partitions import first_as_of as first_partition
    from pipelines.settings import load_settings

    config = load_settings(config_path)
    defs = build_definitions(config, first_as_of=first_as_of or first_partition(config, landing)[0])

    resource = NbaHome(home_dir=str(home), landing_dir=str(landing), config_path=str(config_path or ""),
                  mlflow_tracking_uri=tracking_uri)
    quiet_known_noise()
    with home_lock(home, f"nba run --as-of {as_of}"):
        resource.configure_tracking()  # fail early on a broken store
        instance = dagster_instance(home)
        job = defs.resolve_job_def(NIGHTLY_JOB).with_logger_defs({"progress": progress_logger})
        run_id = str(uuid.uuid4())
        try:
            result = job.execute_in_process(
                partition_key=as_of.isoformat(), instance=instance, resources={"home": resource},
                raise_on_error=False, run_config={"loggers": {"progress": {}}}, run_id=run_id,
                # the repository tag files the run under the job's code location while it runs (the job's Runs tab)
                tags={REPOSITORY_LABEL_TAG: nightly_job_origin(NIGHTLY_JOB).repository_origin.get_label()},
            )
        finally:  # a run that raised is attributed as well: a failed night is one an analyst must find
            attribute_to_code_location(instance, run_id, NIGHTLY_JOB)
    if result.success:
        return RunOutcome(True, result.run_id, "")
    return RunOutcome(False, result.run_id, failure_message(result))
