"""Nightly schedule; its time and timezone come from the shipped config (`schedule:` in config/default.yaml)."""
import dagster as dg

from pipelines.jobs import nightly_job
from pipelines.settings import load_config

_schedule = load_config()["schedule"]

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job, hour_of_day=int(_schedule["cron"].split()[1]), minute_of_hour=int(_schedule["cron"].split()[0]),
    name="nightly_nba_schedule", default_status=dg.DefaultScheduleStatus.STOPPED,
)
