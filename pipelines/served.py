"""The code location `nba serve` loads: the project's Definitions built from the user's config file, with the
schedule, landing sensor and failure alerts switched on as that config says.

Dagster needs a schedule's cron and time zone when it loads the code location, before any resource is resolved,
so the config file reaches this module the way the resources get theirs: `nba serve` sets `NBA_CONFIG` (and
`NBA_UI_URL`, its own address, for the links in alerts) in the environment of `dagster-webserver` and
`dagster-daemon`, and Dagster calls `defs()` when it loads the location (a lazy `@dg.definitions` function:
nothing is read at import). `NBA_LANDING` sets where the partitions start (pipelines/partitions.py).
"""
import os

import dagster as dg

from pipelines import settings
from pipelines.definitions import build_definitions
from pipelines.runner import quiet_known_noise


def definitions_from_environment(switch_on: bool) -> dg.Definitions:
    """The Definitions of the config `NBA_CONFIG` names, with partitions following `NBA_LANDING`'s data
    (pipelines/partitions.first_as_of); the environment `nba serve` and `nba ui` give their Dagster processes."""
    from pipelines.partitions import first_as_of

    config = settings.load_settings(os.environ.get("NBA_CONFIG") or None)
    first, _ = first_as_of(config, os.environ.get("NBA_LANDING") or None)
    return build_definitions(config, switch_on=switch_on, ui_url=os.environ.get("NBA_UI_URL", ""), first_as_of=first)


@dg.definitions
def defs() -> dg.Definitions:
    quiet_known_noise()
    return definitions_from_environment(switch_on=True)
