"""Small Dagster helpers shared by the asset modules (partition date, metadata, check results, tonight's models)."""

import base64
import datetime as dt
import warnings

import dagster as dg
import duckdb
import pandas as pd

from models import warehouse
from models.golden.suppression import suppressed_rows_sql
from models.scoring.score import load_selected
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


def as_of_date(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> dt.date:
    """The run's as-of date is its partition key."""
    return dt.date.fromisoformat(context.partition_key)


def night_check(name: str, asset, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    """A check evaluated per night: partitioned like its asset, so the UI lists each result under its as-of date
    (a check spec without partitions shows "—" there). Partitioned checks are a Dagster preview at 1.13: the
    warning it prints on every load is silenced here, the one place that uses them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, description=description, blocking=blocking,
                                 partitions_def=as_of_partitions)


def zero_counts_check(name: str, asset_key, counts: dict[str, int], all_clear: str) -> dg.AssetCheckResult:
    """An ERROR-severity check result that passes when every count is 0, its reason naming the counts that are not."""
    broken = {key: n for key, n in counts.items() if n}
    return dg.AssetCheckResult(check_name=name, asset_key=asset_key, passed=not broken,
                               severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"reason": ", ".join(f"{n:,} {key.replace('_', ' ')}" for key, n in broken.items())
                                         or all_clear, **counts})


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def preview(con: duckdb.DuckDBPyConnection, table: str, limit: int = 5, columns: str = "*",
            where: str = "true") -> dg.MetadataValue:
    """A markdown preview of the first rows (ordered for determinism) for the asset page; `where` can narrow
    the rows to sort first (sorting every row of a 19M-row table costs about half a second)."""
    frame = con.execute(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY ALL LIMIT {limit}").df()
    return dg.MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "_(no rows)_")


def preview_without_suppressed(con: duckdb.DuckDBPyConnection, table: str, suppression_path, *,
                               id_column: str = "customer_id", where: str = "true", **options) -> dg.MetadataValue:
    """`preview` without the rows of anyone on the erasure / suppression list: the UI shows previews too."""
    hidden = suppressed_rows_sql(con, suppression_path, table, id_column)
    return preview(con, table, where=f"({where}) AND NOT ({hidden})", **options)


def image_md(pngs: dict[str, bytes]) -> dg.MetadataValue:
    """Inline PNG charts for the asset page."""
    return dg.MetadataValue.md("\n\n".join(
        f"**{title}**\n\n![{title}](data:image/png;base64,{base64.b64encode(png).decode()})" for title, png in pngs.items()))


def selected_models(home: NbaHome, *targets: str) -> dict[str, tuple[str, object]]:
    """target -> (version, fitted model) for the versions the model assets selected tonight (only `targets`
    when given)."""
    home.configure_tracking()
    with home.warehouse(read_only=True) as con:
        rows = warehouse.read_selected_models(con)
    return load_selected([r for r in rows if not targets or r[0] in targets])


def drift_check(drift: pd.DataFrame | None) -> dg.AssetCheckResult:
    """The WARN-level `score_drift` check result from `models.scoring.drift.drift_against_history`."""
    if drift is None:
        return dg.AssetCheckResult(check_name="score_drift", passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"reason": "first scored night: no previous night to compare"})
    drifted = drift[drift["drifted"]]
    return dg.AssetCheckResult(
        check_name="score_drift", passed=drifted.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"reason": "no drift" if drifted.empty else f"drift in {', '.join(drifted['column'])}",
                  "psi": dg.MetadataValue.md(drift.round(4).to_markdown(index=False)),
                  **{f"psi_{r.column}": float(r.psi) for r in drift.itertuples()}})
