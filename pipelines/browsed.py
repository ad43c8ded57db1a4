"""The code location `nba ui` loads (workspace.yaml): the project's Definitions from the config file in `NBA_CONFIG`
with partitions that follow the landing folder in `NBA_LANDING` (pipelines/partitions.py), schedule and sensors
stopped. Built lazily when Dagster loads the location, as pipelines/served.py does for `nba serve`; without those
variables (e.g. `dagster definitions validate`) it is the shipped defaults' Definitions."""
import dagster as dg

from pipelines.runner import quiet_known_noise
from pipelines.served import definitions_from_environment


@dg.definitions
def defs() -> dg.Definitions:
    quiet_known_noise()
    return definitions_from_environment(switch_on=False)
