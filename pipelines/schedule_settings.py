"""The as-of date a schedule tick runs, from the checked `schedule:` section (pipelines/config_schema.py
ScheduleSettings). Plain Python (no Dagster), so the rule is unit-tested on its own."""
from __future__ import annotations

import datetime as dt
import zoneinfo


def as_of_for_tick(tick: dt.datetime, timezone: str, as_of: str) -> dt.date:
    """The as-of date a tick at `tick` runs: the tick's calendar date in the schedule's time zone (`today`: a
    02:00 tick on D runs D and so counts every event up to the end of D-1), or the day before (`yesterday`)."""
    local = tick.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return local - dt.timedelta(days=1) if as_of == "yesterday" else local
