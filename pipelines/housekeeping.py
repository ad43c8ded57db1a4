"""Housekeeping: the `retention:` config section applied to a HOME — old nights' exports, MLflow runs past
retention and old Dagster run history — by `nba housekeep` (with a dry run that only lists) and, under
`nba serve`, after each successful night (the sensor `housekeeping_after_night`). Never deleted: the last good
night's exports, a night being written, the champion and every model version a kept night's lists came from."""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.settings import ConfigError

if TYPE_CHECKING:  # Dagster and MLflow load only when housekeeping runs, not for every `nba` command
    import dagster as dg

    from models.exports.retention import ExportsRetention
    from models.training.retention import RunToDelete
    from pipelines.config_schema import RetentionSettings
    from pipelines.resources import NbaHome


@dataclasses.dataclass(frozen=True)
class HousekeepingPlan:
    """Everything one housekeeping pass deletes."""

    exports: ExportsRetention
    mlflow_runs: tuple[RunToDelete, ...]
    dagster_runs: tuple[dg.DagsterRun, ...]


def plan_housekeeping(home: NbaHome, instance: dg.DagsterInstance, settings: RetentionSettings,
                      now: dt.datetime) -> HousekeepingPlan:
    """What retention deletes in HOME at `now`; nothing is deleted here."""
    import dagster as dg

    from models.exports.retention import model_versions_in_use, plan_exports_retention
    from models.training.selection import model_name

    exports = plan_exports_retention(home.exports_root, settings.exports_nights_to_keep)
    runs: list[RunToDelete] = []
    if settings.mlflow_runs_to_keep > 0:
        from mlflow.tracking import MlflowClient

        from models.training.retention import plan_mlflow_retention

        home.configure_tracking()
        in_use = {model_name(target): versions
                  for target, versions in model_versions_in_use(home.exports_root, exports.kept_nights).items()}
        runs = plan_mlflow_retention(MlflowClient(home.tracking_uri(), home.tracking_uri()),
                                     settings.mlflow_runs_to_keep, in_use)
    history: list[dg.DagsterRun] = []
    if settings.dagster_run_history_days > 0:
        cutoff = now - dt.timedelta(days=settings.dagster_run_history_days)
        finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
        history = list(instance.get_runs(filters=dg.RunsFilter(created_before=cutoff, statuses=finished)))
    return HousekeepingPlan(exports, tuple(runs), tuple(history))


def runs_in_progress(instance: dg.DagsterInstance) -> list[str]:
    """Ids of the runs starting or running now: housekeeping waits for them (a backfill of an old night writes
    a hidden export folder that retention would count as old)."""
    import dagster as dg

    active = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    return [run.run_id for run in instance.get_runs(filters=dg.RunsFilter(statuses=active))]


def describe(plan: HousekeepingPlan) -> list[str]:
    """One line per thing the plan deletes."""
    lines = [f"exports {path}" for path in plan.exports.deletions]
    lines += [f"MLflow run {run.run_id} ({run.experiment}, started {run.started}"
              + "".join(f", version {name} v{version}" for name, version in run.model_versions) + ")"
              for run in plan.mlflow_runs]
    lines += [f"Dagster run {run.run_id} ({run.job_name}, {run.tags.get('dagster/partition', 'no partition')}, "
              f"{run.status.value})" for run in plan.dagster_runs]
    return lines


def summary(plan: HousekeepingPlan) -> str:
    """A count per kind and the nights whose exports stay."""
    return (f"{len(plan.exports.deletions)} export entries, {len(plan.mlflow_runs)} MLflow runs, "
            f"{len(plan.dagster_runs)} Dagster runs; exports kept: {', '.join(plan.exports.kept_nights) or 'none'}")


def apply_housekeeping(plan: HousekeepingPlan, home: NbaHome, instance: dg.DagsterInstance) -> None:
    """Delete what the plan lists."""
    from models.exports.retention import delete_old_exports

    delete_old_exports(plan.exports)
    if plan.mlflow_runs:
        from mlflow.tracking import MlflowClient

        from models.training.retention import delete_mlflow_runs

        delete_mlflow_runs(MlflowClient(home.tracking_uri(), home.tracking_uri()), list(plan.mlflow_runs),
                           home.tracking_uri())
    for run in plan.dagster_runs:
        instance.delete_run(run.run_id)


def cmd_housekeep(args) -> int:
    """Apply (or with --dry-run list) the retention of HOME under its lock, so no `nba run` writes meanwhile."""
    from models.training.registry import TrackingStoreError
    from pipelines.lock import HomeBusyError, home_lock
    from pipelines.resources import NbaHome
    from pipelines.runner import dagster_instance
    from pipelines.settings import load_settings

    home_dir = Path(args.home).expanduser().resolve()
    config = str(Path(args.config).resolve()) if args.config else ""
    if not (home_dir / "dagster").is_dir():
        print(f"nba housekeep: {home_dir} is not an nba home (no dagster/ folder)", file=sys.stderr)
        return 2
    try:
        settings = load_settings(config or None).retention
        home = NbaHome(home_dir=str(home_dir), config_path=config,
                       mlflow_tracking_uri=os.environ.get("NBA_MLFLOW_TRACKING_URI", ""))
        with home_lock(home_dir, "nba housekeep"), dagster_instance(home_dir) as instance:
            busy = runs_in_progress(instance)
            if busy:
                raise HomeBusyError(f"{home_dir}: run {busy[0]} is in progress; run nba housekeep after it")
            plan = plan_housekeeping(home, instance, settings, dt.datetime.now(dt.timezone.utc))
            for line in describe(plan):
                print(f"{'would delete' if args.dry_run else 'deleting'} {line}")
            if not args.dry_run:
                apply_housekeeping(plan, home, instance)
    except ConfigError as exc:
        print(f"nba housekeep: {exc}", file=sys.stderr)
        return 2
    except TrackingStoreError as exc:
        print(f"nba housekeep: {exc}; nothing was deleted from MLflow", file=sys.stderr)
        return 1
    except HomeBusyError as exc:
        print(f"nba housekeep: {exc}", file=sys.stderr)
        return 3
    print(f"{'dry run, nothing deleted' if args.dry_run else 'deleted'}: {summary(plan)}")
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("housekeep", help="delete old exports, MLflow runs and Dagster run history per the "
                                              "config's retention section")
    parser.add_argument("--home", required=True, help="the home given to nba run / nba serve")
    parser.add_argument("--config", help="YAML file overriding keys of pipelines/config/default.yaml (retention:)")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true",
                        help="list what would be deleted, delete nothing")
    parser.set_defaults(func=cmd_housekeep)
