"""The nightly job: the whole asset graph (with its checks) for one as-of date."""
import dagster as dg

NIGHTLY_JOB = "nightly_nba"

nightly_job = dg.define_asset_job(
    NIGHTLY_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sharded"),
    description="Ingest, validate, resolve, featurise, train (on cadence), score, decide and export for one as-of date.",
)
