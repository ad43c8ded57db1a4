"""Daily partitions: one partition per as-of date, so analysts can backfill a range in the UI.

The newest partition is today (end_offset=1): a run at night for as-of T uses events strictly before T.
"""
import dagster as dg

from pipelines.settings import load_config

_timezone = load_config()["schedule"]["timezone"]

as_of_partitions = dg.DailyPartitionsDefinition(start_date="2020-01-01", end_offset=1, timezone=_timezone)
