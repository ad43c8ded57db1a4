"""The single Dagster Definitions of the project: every asset, check, job, schedule, sensor and resource.

`defs` is built from the shipped defaults with the schedule and sensors stopped (what `nba run`, `nba ui` and
`dagster definitions validate` load); `nba serve` loads pipelines/served.py, which builds the same Definitions from
the user's config file with them switched on as that config says.
"""
import dataclasses
import datetime as dt

import dagster as dg

from assets import decisions, exports, features, golden_record, ingest, scoring, sharded, training, validation
from pipelines import settings
from pipelines.alerts import alert_settings
from pipelines.config_schema import Settings
from pipelines.jobs import nightly_job
from pipelines.partitions import FIRST_AS_OF, build_partitions, with_partitions
from pipelines.resources import NbaHome
from pipelines.runner import progress_logger
from pipelines.schedules import build_nightly_schedule
from pipelines.sensors import (build_failure_alert_sensor, build_housekeeping_sensor, build_landing_deadline_sensor,
                               build_landing_sensor)
from pipelines.sharding import shard_inputs_job, sharded_job, shards_after_inputs


def build_definitions(config: Settings, switch_on: bool = False, ui_url: str = "",
                      first_as_of: dt.date = FIRST_AS_OF) -> dg.Definitions:
    """The Definitions with the schedule, landing sensor and failure alerts of `config`; they run by default only
    when `switch_on` (nba serve). `ui_url` is the UI's address for run links when the config names none.
    `first_as_of`: the first daily partition (pipelines/partitions.first_as_of: from the config or the data)."""
    alerting = alert_settings(config.alerts)
    if not alerting.ui_url and ui_url:
        alerting = dataclasses.replace(alerting, ui_url=ui_url.rstrip("/"))
    schedule = config.schedule
    assets = [*ingest.raw_assets, *validation.validated_assets, golden_record.golden_record,
              features.customer_features, *training.model_assets, scoring.customer_scores,
              decisions.next_best_actions, decisions.realised_lift, exports.campaign_lists, *sharded.sharded_assets]
    if first_as_of != FIRST_AS_OF:
        partitions = build_partitions(first_as_of)
        assets = [with_partitions(a, partitions) for a in assets]
    return dg.Definitions(
        assets=assets,
        jobs=[nightly_job, shard_inputs_job, sharded_job],
        schedules=[build_nightly_schedule(schedule, switch_on)],
        sensors=[build_landing_sensor(config.sensor, switch_on), shards_after_inputs,
                 build_failure_alert_sensor(alerting, switch_on),
                 build_landing_deadline_sensor(alerting, schedule, switch_on),
                 build_housekeeping_sensor(config.retention, switch_on)],
        resources={"home": NbaHome(home_dir=dg.EnvVar("NBA_HOME"), landing_dir=dg.EnvVar("NBA_LANDING"),
                                  config_path=dg.EnvVar("NBA_CONFIG"),
                                  mlflow_tracking_uri=dg.EnvVar("NBA_MLFLOW_TRACKING_URI"))},
    )


defs = build_definitions(settings.load_settings())


def resolve_job(name: str) -> dg.JobDefinition:
    """A job of these Definitions with progress lines (what every step process of a multiprocess run reloads)."""
    return defs.resolve_job_def(name).with_logger_defs({"progress": progress_logger})
