"""The nightly job: the whole asset graph (with its checks) for one as-of date."""
import dagster as dg

NIGHTLY_JOB = "nightly_nba"

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sharded"),
    # one process, as `nba run` runs it: the assets write one DuckDB file, which takes one writing process at a time
    executor_def=dg.in_process_executor,
    description="Ingest, validate, resolve, featurise, train (on cadence), score, decide and export for one as-of date.",
)
