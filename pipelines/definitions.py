"""The single Dagster Definitions of the project: every asset, check, job, schedule, sensor and resource."""
import dagster as dg

from assets import decisions, exports, features, golden_record, ingest, scoring, sharded, training, validation
from pipelines.jobs import nightly_job
from pipelines.resources import NbaHome
from pipelines.runner import progress_logger
from pipelines.schedules import nightly_schedule
from pipelines.sensors import landing_sensor
from pipelines.sharding import shard_inputs_job, sharded_job, shards_after_inputs

defs = dg.Definitions(
    assets=[*ingest.raw_assets, *validation.validated_assets, golden_record.golden_record,
            features.customer_features, *training.model_assets, scoring.customer_scores,
            decisions.next_best_actions, exports.campaign_lists, *sharded.sharded_assets],
    jobs=[nightly_job, shard_inputs_job, sharded_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor, shards_after_inputs],
    resources={"home": NbaHome(home_dir=dg.EnvVar("NBA_HOME"), landing_dir=dg.EnvVar("NBA_LANDING"),
                              config_path=dg.EnvVar("NBA_CONFIG"),
                              mlflow_tracking_uri=dg.EnvVar("NBA_MLFLOW_TRACKING_URI"))},
)


def resolve_job(name: str) -> dg.JobDefinition:
    """A job of these Definitions with progress lines (what every step process of a multiprocess run reloads)."""
    return defs.resolve_job_def(name).with_logger_defs({"progress": progress_logger})
