""""No landing by HH:MM": which night's landing folder is overdue at a given moment. Plain Python (no Dagster):
the sensor in pipelines/sensors.py supplies the clock, the schedule's ticks and the nights already alerted."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

from pipelines.alerts import READY_MARKER_NAME as READY_MARKER
from pipelines.config_schema import ScheduleSettings
from pipelines.schedule_settings import as_of_for_tick


def deadline_moment(now: dt.datetime, deadline: dt.time, timezone: str) -> dt.datetime:
    """Today's deadline in the schedule's time zone, where "today" is `now`'s calendar date there."""
    zone = zoneinfo.ZoneInfo(timezone)
    return dt.datetime.combine(now.astimezone(zone).date(), deadline, tzinfo=zone)


def overdue_night(now: dt.datetime, deadline: dt.time, schedule: ScheduleSettings, landing_root: Path,
                  night_scheduled: bool, alerted: set[str]) -> tuple[str, Path] | None:
    """(night, its landing folder) when tonight's folder has not arrived with its ready marker by the deadline
    and no alert was sent for that night yet; else None.

    Tonight is the as-of date a schedule tick at the deadline would run (schedule.as_of: the folder
    LANDING/<as-of>/ the landing sensor waits for). `night_scheduled` says whether the schedule's cron has a tick
    on the deadline's local date: on days the cron skips (weekends of `* * 1-5`) no landing is expected."""
    moment = deadline_moment(now, deadline, schedule.timezone)
    if now < moment or not night_scheduled:
        return None
    night = as_of_for_tick(moment, schedule.timezone, schedule.as_of).isoformat()
    folder = Path(landing_root) / night
    if night in alerted or (folder / READY_MARKER).exists():
        return None
    return night, folder


def remember(alerted: set[str], night: str, keep: int = 60) -> list[str]:
    """The alerted nights to keep in the sensor's cursor: the newest `keep` (older nights are never due again)."""
    return sorted(alerted | {night})[-keep:]
