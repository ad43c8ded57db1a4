"""The landing sensor (a run when a landing folder for a new date is complete, i.e. holds the `_READY` marker),
the run-failure sensor that sends one alert per failed run, and the landing-deadline sensor that sends one alert
per night whose folder has not arrived by `alerts.landing_deadline`; housekeeping after each successful night."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Callable

import dagster as dg

from pipelines import alerts, freshness, housekeeping
from pipelines.config_schema import RetentionSettings, ScheduleSettings, SensorSettings
from pipelines.jobs import nightly_job
from pipelines.resources import NbaHome
from pipelines.runner import failure_message_from_events

READY_MARKER = freshness.READY_MARKER
LANDING_SENSOR = "landing_sensor"
FAILURE_SENSOR = "failed_night_alert"
DEADLINE_SENSOR = "landing_deadline_alert"
HOUSEKEEPING_SENSOR = "housekeeping_after_night"


def ready_landing_dates(landing_root: Path) -> list[str]:
    """Dated sub-folders (YYYY-MM-DD) of the landing root that carry the ready marker, oldest first."""
    dates = []
    for folder in sorted(p for p in landing_root.iterdir() if p.is_dir()) if landing_root.is_dir() else []:
        try:
            dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if (folder / READY_MARKER).exists():
            dates.append(folder.name)
    return dates


def _status(running: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED


def build_landing_sensor(settings: SensorSettings, switch_on: bool) -> dg.SensorDefinition:
    """The landing sensor; running by default only when `switch_on` (nba serve) and the config enables it."""

    @dg.sensor(name=LANDING_SENSOR, job=nightly_job, minimum_interval_seconds=settings.minimum_interval_seconds,
               default_status=_status(switch_on and settings.enabled),
               description="Runs the nightly job for each landing/<YYYY-MM-DD>/ folder once its _READY marker appears.")
    def landing_sensor(context: dg.SensorEvaluationContext, home: NbaHome):
        seen = set(json.loads(context.cursor)) if context.cursor else set()
        new = [d for d in ready_landing_dates(Path(home.landing_dir)) if d not in seen]
        for date in new:
            yield dg.RunRequest(run_key=f"landing-{date}", partition_key=date)
        if new:
            context.update_cursor(json.dumps(sorted(seen | set(new))))

    return landing_sensor


def build_failure_alert_sensor(settings: alerts.AlertSettings, switch_on: bool) -> dg.SensorDefinition:
    """One alert per failed run of this code location (webhook and / or e-mail, as configured), naming the night,
    the failed asset or check with `nba run`'s one-line reason, and the run's link. Running by default when
    `switch_on` (nba serve) and a channel is configured. A channel that fails is logged as an error on the sensor's
    tick (UI, daemon log); Dagster does not evaluate a failed run twice, so an undelivered alert is not retried."""
    channels = bool(settings.webhook_url_env or settings.smtp)

    @dg.run_failure_sensor(name=FAILURE_SENSOR, minimum_interval_seconds=settings.minimum_interval_seconds,
                           default_status=_status(switch_on and channels),
                           description="Sends one webhook / e-mail alert per failed run (config `alerts:`).")
    def failed_night_alert(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        events = [entry.dagster_event for entry in context.instance.all_logs(run.run_id) if entry.is_dagster_event]
        subject, text = alerts.failure_alert(run.job_name, run.tags.get("dagster/partition"),
                                             failure_message_from_events(events),
                                             alerts.run_url(settings.ui_url, run.run_id))
        sent, errors = alerts.deliver(settings, subject, text, os.environ)
        for error in errors:
            context.log.error(f"alert for run {run.run_id} not delivered by {error}")
        if sent:
            context.log.info(f"alert for run {run.run_id} sent by {', '.join(sent)}")

    return failed_night_alert


def scheduled_on(moment: dt.datetime, schedule: ScheduleSettings) -> bool:
    """Whether the schedule's cron has a tick on `moment`'s calendar date in the schedule's time zone (the
    daemon's own cron iterator, so weekdays, ranges and daylight-saving changes are read as the schedule reads them)."""
    from dagster._utils.schedules import cron_string_iterator

    day = moment.date()
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=moment.tzinfo)
    first = next(cron_string_iterator(midnight.timestamp(), schedule.cron, schedule.timezone))
    return first.astimezone(moment.tzinfo).date() == day


def build_landing_deadline_sensor(settings: alerts.AlertSettings, schedule: ScheduleSettings, switch_on: bool,
                                  clock: Callable[[], dt.datetime] | None = None) -> dg.SensorDefinition:
    """One alert (webhook and / or e-mail) per night whose LANDING/<as-of>/ folder has no `_READY` marker by
    `alerts.landing_deadline` in the schedule's time zone, on the days the schedule's cron runs. The nights
    already alerted are kept in the sensor's cursor, so a night is never alerted twice (an undelivered alert is
    logged as an error, not retried). Running by default when `switch_on` (nba serve), a deadline is set and a
    channel is configured. `clock` (UTC now by default) lets tests fix the time."""
    now = clock or (lambda: dt.datetime.now(dt.timezone.utc))
    deadline = settings.landing_deadline
    running = switch_on and deadline is not None and bool(settings.webhook_url_env or settings.smtp)

    @dg.sensor(name=DEADLINE_SENSOR, minimum_interval_seconds=settings.minimum_interval_seconds,
               default_status=_status(running),
               description="Sends one webhook / e-mail alert per night whose landing folder has no _READY marker "
                           "by alerts.landing_deadline.")
    def landing_deadline_alert(context: dg.SensorEvaluationContext, home: NbaHome):
        if deadline is None:
            return dg.SkipReason("alerts.landing_deadline is not set")
        moment = now()
        alerted = set(json.loads(context.cursor)) if context.cursor else set()
        due = freshness.overdue_night(moment, deadline, schedule, Path(home.landing_dir),
                                      scheduled_on(freshness.deadline_moment(moment, deadline, schedule.timezone),
                                                   schedule), alerted)
        if due is None:
            return dg.SkipReason("no landing overdue")
        night, folder = due
        subject, text = alerts.landing_missing_alert(night, str(folder), deadline.strftime("%H:%M"), schedule.timezone)
        sent, errors = alerts.deliver(settings, subject, text, os.environ)
        for error in errors:
            context.log.error(f"landing alert for night {night} not delivered by {error}")
        context.update_cursor(json.dumps(freshness.remember(alerted, night)))
        return dg.SkipReason(f"landing of night {night} overdue; alert sent by {', '.join(sent) or 'no channel'}")

    return landing_deadline_alert


def build_housekeeping_sensor(settings: RetentionSettings, switch_on: bool) -> dg.SensorDefinition:
    """After each successful night, apply the `retention:` section to HOME (old exports, MLflow runs, Dagster run
    history; pipelines/housekeeping.py). It runs in the sensor, with no run of its own, so it never waits in the
    run queue; while another run is in progress it skips (the next successful night cleans up). Running by default
    when `switch_on` (nba serve) and `retention.after_each_night`."""

    @dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[nightly_job],
                          name=HOUSEKEEPING_SENSOR, default_status=_status(switch_on and settings.after_each_night),
                          description="Deletes exports, MLflow runs and Dagster runs past the config's retention "
                                      "after each successful night.")
    def housekeeping_after_night(context: dg.RunStatusSensorContext, home: NbaHome):
        busy = housekeeping.runs_in_progress(context.instance)
        if busy:
            context.log.info(f"housekeeping after run {context.dagster_run.run_id} skipped: run {busy[0]} in progress")
            return
        plan = housekeeping.plan_housekeeping(home, context.instance, settings, dt.datetime.now(dt.timezone.utc))
        housekeeping.apply_housekeeping(plan, home, context.instance)
        context.log.info(f"housekeeping after run {context.dagster_run.run_id}: deleted {housekeeping.summary(plan)}")

    return housekeeping_after_night
