"""Start a run when a landing folder for a new date is complete (it holds the `_READY` marker)."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg

from pipelines.jobs import nightly_job
from pipelines.resources import NbaHome

READY_MARKER = "_READY"


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


@dg.sensor(job=nightly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Runs the nightly job for each landing/<YYYY-MM-DD>/ folder once its _READY marker appears.")
def landing_sensor(context: dg.SensorEvaluationContext, home: NbaHome):
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    new = [d for d in ready_landing_dates(Path(home.landing_dir)) if d not in seen]
    for date in new:
        yield dg.RunRequest(run_key=f"landing-{date}", partition_key=date)
    if new:
        context.update_cursor(json.dumps(sorted(seen | set(new))))
