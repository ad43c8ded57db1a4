"""The nightly schedule, built from the config's `schedule:` section (cron, time zone, as-of date, on / off)."""
from __future__ import annotations

import dagster as dg

from pipelines.config_schema import ScheduleSettings
from pipelines.jobs import nightly_job
from pipelines.schedule_settings import as_of_for_tick

SCHEDULE_NAME = "nightly_nba_schedule"


def build_nightly_schedule(settings: ScheduleSettings, switch_on: bool) -> dg.ScheduleDefinition:
    """A schedule that runs the nightly job at each `settings.cron` tick in `settings.timezone`, for the as-of
    date `settings.as_of` names (its cron was checked with the config). Running by default only when `switch_on`
    (nba serve) and the config enables it."""
    def run_for_tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        as_of = as_of_for_tick(context.scheduled_execution_time, settings.timezone, settings.as_of).isoformat()
        done = context.instance.get_runs(filters=dg.RunsFilter(
            job_name=nightly_job.name, statuses=[dg.DagsterRunStatus.SUCCESS], tags={"dagster/partition": as_of}),
            limit=1)
        if done:  # the landing sensor already ran this night
            return dg.SkipReason(f"as-of {as_of} already ran successfully (run {done[0].run_id})")
        return dg.RunRequest(run_key=f"schedule-{as_of}", partition_key=as_of)

    running = switch_on and settings.enabled
    return dg.ScheduleDefinition(
        name=SCHEDULE_NAME, job=nightly_job, cron_schedule=settings.cron, execution_timezone=settings.timezone,
        execution_fn=run_for_tick,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description=f"Runs the night at '{settings.cron}' ({settings.timezone}) for as-of = {settings.as_of}.",
    )
