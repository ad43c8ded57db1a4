"""Daily partitions: one partition per as-of date, so analysts can backfill a range in the UI.

The newest partition is today (end_offset=1): a run at night for as-of T uses events strictly before T.

The partitions follow the data: the first one is `partitions.first_as_of_date` from the config when set, else the
day after the first purchase in the landing folder (the first night that has any history), so a 1997 purchase log
gets partitions from 1997 and this year's CRM from its own first order, not 20,000 "missing" days since 1970.
Dagster needs the partitions when it loads the definitions, before any run: `nba run`, `nba ui` and `nba serve`
know the landing folder and the config, and build the definitions with `first_as_of(...)`
(pipelines/definitions.build_definitions). The asset modules declare `as_of_partitions`, which starts at
FIRST_AS_OF, the floor every other definition is cut from (what `dagster definitions validate`, the tests and the
sharded step processes load). Whether the data supports a date after the first one is still checked by the night
(models/ingest/staging.require_history).
"""
import datetime as dt
import warnings
from pathlib import Path

import dagster as dg

from pipelines.config_schema import Settings
from pipelines.settings import ConfigError, load_settings

FIRST_AS_OF = dt.date(1970, 1, 1)

_timezone = load_settings().schedule.timezone


def build_partitions(first: dt.date) -> dg.DailyPartitionsDefinition:
    """Daily partitions from `first` to today in the shipped time zone."""
    return dg.DailyPartitionsDefinition(start_date=first.isoformat(), end_offset=1, timezone=_timezone)


as_of_partitions = build_partitions(FIRST_AS_OF)


def first_as_of(config: Settings, landing: str | Path | None) -> tuple[dt.date, str]:
    """(first partition, where it comes from): the config's `partitions.first_as_of_date`, else the day after
    the landing folder's first purchase, else FIRST_AS_OF (no landing folder, or no readable purchases in it)."""
    from models.ingest.load import first_purchase_date

    configured = config.partitions.first_as_of_date
    if configured:
        return configured, "partitions.first_as_of_date in the config"
    first = first_purchase_date(Path(landing), FIRST_AS_OF) if landing and Path(landing).is_dir() else None
    if first is not None:
        return first + dt.timedelta(days=1), f"the day after the first purchase in {landing}"
    return FIRST_AS_OF, "the earliest date the pipeline supports"


def check_as_of(as_of: dt.date, first: dt.date = FIRST_AS_OF, why: str = "") -> None:
    """Refuse, in one sentence, an as-of date that is not a partition (before `first`, or after today)."""
    partitions = build_partitions(first)
    if partitions.has_partition_key(as_of.isoformat()):
        return
    if as_of < first:
        raise ConfigError(f"as-of date {as_of} is before the first nightly partition {first} "
                          f"({why or 'the earliest date the pipeline supports'})")
    raise ConfigError(f"as-of date {as_of} is outside the nightly partitions {first} .. "
                      f"{partitions.get_last_partition_key()} (a night decides on events before its as-of date, "
                      "which cannot be after today)")


def with_partitions(assets_def: dg.AssetsDefinition, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """`assets_def` with `partitions` on every asset spec AND every partitioned check spec (`map_asset_specs` alone
    leaves the checks on the old partitions, and Dagster then refuses the step: "different PartitionsDefinitions").
    Check specs have no public replace: their named-tuple `_replace` and the AssetsDefinition constructor that
    `map_asset_specs` itself uses."""
    mapped = assets_def.map_asset_specs(lambda spec: spec.replace_attributes(partitions_def=partitions))
    attributes = mapped.get_attributes_dict()
    checks = attributes["check_specs_by_output_name"]
    if not any(check.partitions_def is not None for check in checks.values()):
        return mapped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks (assets/_common.night_check)
        attributes["check_specs_by_output_name"] = {
            name: check._replace(partitions_def=partitions) if check.partitions_def is not None else check
            for name, check in checks.items()}
    return mapped.__class__.dagster_internal_init(**attributes)

