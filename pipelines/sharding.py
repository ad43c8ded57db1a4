"""Sharded mode: customers split into shards by a stable hash of the golden id, shards run in parallel.

The hash (`shard_of` / `shard_sql`) is models/sharding.py; the shard steps are assets/sharded.py; this
module holds the jobs, the executor, the sensor and `run_sharded`.

Why each shard is its own asset (a step) and not a partition: in Dagster 1.13 a run materialises one
partition key and a job's assets must share one partitions definition ("Selected assets must have
the same partitions definitions"), so shard partitions would be separate runs that no executor runs
side by side inside one run. As steps, the multiprocess executor runs the shards in parallel here, and
`dagster_k8s.k8s_job_executor` (a pod per step) or `dagster_celery.celery_executor` (a task per step)
spread them over a cluster, with the same code (docs/kubernetes.md).

A sharded night is two runs of the same partition:
1. `nightly_nba_shard_inputs`, in process: ingest, validation, golden record and models. These steps all
   write the DuckDB warehouse (one writing process per file), so they may not run in parallel;
2. `nightly_nba_sharded`, with the multiprocess executor: per shard its features and scores (read-only
   warehouse, Parquet out), then the combine step (the single writer), decisions with the global call
   capacity and offer budget, and exports — run once on all customers.
`run_sharded` runs both; on a deployment the sensor `shards_after_inputs` starts 2 when 1 succeeds.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from assets.sharded import SHARD_GROUP, SHARD_INPUTS_JOB
from pipelines.lock import home_lock
from pipelines.resources import NbaHome
from pipelines.runner import (RunOutcome, attribute_to_code_location, dagster_instance, failure_message,
                              nightly_job_origin)

SHARDED_JOB = "nightly_nba_sharded"
REPLACED_BY_SHARDS = (["features", "customer_features"], ["scores", "customer_scores"])

local_executor = dg.multiprocess_executor.configured(
    {"max_concurrent": 2,  # the cores of this machine; raise it (or use a cluster executor) on bigger hosts
     # one server process imports the project once and forks every step: no ~5 s import per step
     "start_method": {"forkserver": {"preload_modules": ["pipelines.definitions"]}}},
    name="sharded_multiprocess_executor",
)


DECISIONS = dg.AssetSelection.assets(["decisions", "next_best_actions"])

shard_inputs_job = dg.define_asset_job(
    SHARD_INPUTS_JOB,
    # everything the decisions read that is not a shard step: what the shards read, and the contacts feedback
    selection=(DECISIONS.upstream() - DECISIONS - dg.AssetSelection.groups(SHARD_GROUP)
               - dg.AssetSelection.assets(*REPLACED_BY_SHARDS)).required_multi_asset_neighbors(),
    executor_def=dg.in_process_executor,
    description="What the shards and the decisions read, in one process: ingest (the contacts feedback too), "
                "validation, golden record and the models of the night.",
)


def build_sharded_job(executor_def: dg.ExecutorDefinition = local_executor) -> dg.UnresolvedAssetJobDefinition:
    """The shards, their combine step and everything downstream (decisions, exports); pass a cluster executor."""
    return dg.define_asset_job(
        SHARDED_JOB, selection=dg.AssetSelection.groups(SHARD_GROUP).downstream(), executor_def=executor_def,
        description=f"Features and scores per customer shard in parallel steps, combined once; then decisions and "
                    f"exports on all customers. Run after {SHARD_INPUTS_JOB} for the same date.",
    )


sharded_job = build_sharded_job()


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, monitored_jobs=[shard_inputs_job],
                      request_job=sharded_job, description=f"Starts {SHARDED_JOB} for the date whose inputs just succeeded.")
def shards_after_inputs(context: dg.RunStatusSensorContext):
    partition = context.dagster_run.tags.get("dagster/partition")
    return dg.RunRequest(run_key=f"shards-{context.dagster_run.run_id}", partition_key=partition) if partition else None


def run_sharded(home: Path, landing: Path, as_of: dt.date, config_path: Path | None, tracking_uri: str = ""):
    """Run the inputs job, then the sharded job, for `as_of` under HOME's lock; a RunOutcome of the first
    failing run or of the sharded run. The resource settings travel in the run config to every step."""
    resource = {"home_dir": str(home), "landing_dir": str(landing), "config_path": str(config_path or ""),
           "mlflow_tracking_uri": tracking_uri}
    with home_lock(home, f"nba run --sharded --as-of {as_of}"):
        NbaHome(**resource).configure_tracking()  # fail early
        instance = dagster_instance(home)
        for name in (SHARD_INPUTS_JOB, SHARDED_JOB):
            result = dg.execute_job(
                dg.build_reconstructable_job("pipelines.definitions", "resolve_job", reconstructable_args=(name,)),
                instance=instance, run_config={"resources": {"home": {"config": resource}}, "loggers": {"progress": {}}},
                tags={"dagster/partition": as_of.isoformat(),
                      REPOSITORY_LABEL_TAG: nightly_job_origin(name).repository_origin.get_label()},
            )
            attribute_to_code_location(instance, result.run_id, name)  # listed on the job's page, like nba run's
            if not result.success:
                return RunOutcome(False, result.run_id, f"{name}: {failure_message(result)}")
    return RunOutcome(True, result.run_id, "")
