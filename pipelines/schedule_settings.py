"""When a night runs, from the `schedule:` and `sensor:` sections of the config: checked values and the as-of
date a tick runs. Plain Python (no Dagster), so the rules are unit-tested on their own."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from pipelines.settings import ConfigError

AS_OF_CHOICES = ("today", "yesterday")


@dataclass(frozen=True)
class ScheduleSettings:
    """The nightly schedule as configured: a five-field cron in a time zone, and which date a tick runs."""

    cron: str
    timezone: str
    as_of: str
    enabled: bool


@dataclass(frozen=True)
class SensorSettings:
    """The landing sensor as configured: on or off, and how often the daemon may evaluate it."""

    enabled: bool
    minimum_interval_seconds: int


def schedule_settings(config: dict) -> ScheduleSettings:
    """The checked `schedule:` section; a wrong value is a ConfigError naming the key and the value."""
    section = config["schedule"]
    cron = section["cron"]
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ConfigError(f"schedule.cron '{cron}' is not a cron expression of five fields "
                          "(minute hour day-of-month month day-of-week), e.g. '30 1 * * 1-5'")
    timezone = section["timezone"]
    try:
        zoneinfo.ZoneInfo(str(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"schedule.timezone '{timezone}' is not an IANA time zone name, e.g. 'Europe/Lisbon'") from None
    as_of = section["as_of"]
    if as_of not in AS_OF_CHOICES:
        raise ConfigError(f"schedule.as_of '{as_of}' must be one of {', '.join(AS_OF_CHOICES)}")
    return ScheduleSettings(cron=" ".join(cron.split()), timezone=str(timezone), as_of=as_of,
                            enabled=_flag(section["enabled"], "schedule.enabled"))


def sensor_settings(config: dict) -> SensorSettings:
    """The checked `sensor:` section."""
    section = config["sensor"]
    interval = section["minimum_interval_seconds"]
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ConfigError(f"sensor.minimum_interval_seconds '{interval}' must be a whole number of seconds >= 1")
    return SensorSettings(enabled=_flag(section["enabled"], "sensor.enabled"), minimum_interval_seconds=interval)


def as_of_for_tick(tick: dt.datetime, timezone: str, as_of: str) -> dt.date:
    """The as-of date a tick at `tick` runs: the tick's calendar date in the schedule's time zone (`today`: a
    02:00 tick on D runs D and so counts every event up to the end of D-1), or the day before (`yesterday`)."""
    local = tick.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return local - dt.timedelta(days=1) if as_of == "yesterday" else local


def _flag(value, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} '{value}' must be true or false")
    return value
