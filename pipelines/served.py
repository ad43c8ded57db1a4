"""The code location `nba serve` loads: the project's Definitions built from the user's config file, with the
schedule, landing sensor and failure alerts switched on as that config says.

Dagster needs a schedule's cron and time zone when it loads the code location, before any resource is resolved,
so the config file reaches this module the way the resources get theirs: `nba serve` sets `NBA_CONFIG` (and
`NBA_UI_URL`, its own address, for the links in alerts) in the environment of `dagster-webserver` and
`dagster-daemon`, and Dagster calls `defs()` when it loads the location (a lazy `@dg.definitions` function:
nothing is read at import).
"""
import os

import dagster as dg

from pipelines import settings
from pipelines.definitions import build_definitions
from pipelines.runner import quiet_known_noise


@dg.definitions
def defs() -> dg.Definitions:
    quiet_known_noise()
    return build_definitions(settings.load_config(os.environ.get("NBA_CONFIG") or None), switch_on=True,
                             ui_url=os.environ.get("NBA_UI_URL", ""))
