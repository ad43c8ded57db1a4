"""Daily partitions: one partition per as-of date, so analysts can backfill a range in the UI.

The newest partition is today (end_offset=1): a run at night for as-of T uses events strictly before T.

Why a daily definition starting 1970-01-01 (and not the date of the data): Dagster needs the partitions at
definition load, before any extract is read, and a home may hold any history (a 1997 purchase log as well as
this year's CRM). The first partition is therefore the earliest date a DuckDB DATE and the extracts'
`date_out_of_range` rule make sensible, and whether the data supports a date is checked by the night itself
(no purchase before it: one line, see models/ingest/staging.require_history). A DynamicPartitionsDefinition
holding only the nights run would keep the UI's partition bar short, but the nightly schedule
(`build_schedule_from_partitioned_job`) and range backfills from the UI both need a time window; the price
is a long "missing" count in the asset's partition bar, where the nights that ran are the filled ones.
"""
import datetime as dt

import dagster as dg

from pipelines.settings import ConfigError, load_config

FIRST_AS_OF = dt.date(1970, 1, 1)

_timezone = load_config()["schedule"]["timezone"]

as_of_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_AS_OF.isoformat(), end_offset=1, timezone=_timezone)


def check_as_of(as_of: dt.date) -> None:
    """Refuse, in one sentence, an as-of date that is not a partition (before 1970 or after today)."""
    if not as_of_partitions.has_partition_key(as_of.isoformat()):
        last = as_of_partitions.get_last_partition_key()
        raise ConfigError(f"as-of date {as_of} is outside the nightly partitions {FIRST_AS_OF} .. {last} "
                          "(a night decides on events before its as-of date, which cannot be after today)")
