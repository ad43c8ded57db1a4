"""Frames typed to the contract's columns: whitelist, order and types (text, numbers, booleans, dates)."""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa

from models.exports.contract import ARROW_TYPES, TEXT_TYPES


def coerce_columns(frame: pd.DataFrame, columns: list[dict], label: str) -> pd.DataFrame:
    """Exactly the contract columns, in order, with their types; other columns are dropped (whitelist)."""
    missing = [c["name"] for c in columns if c["name"] not in frame.columns]
    if missing:
        raise ValueError(f"{label} lacks contract column(s) {', '.join(missing)}.")
    out = {}
    for column in columns:
        name, kind, values = column["name"], column["type"], frame[column["name"]].reset_index(drop=True)
        where = f"{label}.{name}"
        if kind in TEXT_TYPES:
            out[name] = _texts(values)
        elif kind in ("int64", "float64"):
            numbers = _numbers(values, where)
            if kind == "float64":
                out[name] = numbers.round(column["decimals"]) + 0.0 if "decimals" in column else numbers
            elif (numbers.dropna() % 1 != 0).any():
                raise ValueError(f"{where} has a non-integer value.")
            else:
                out[name] = numbers.astype("int64" if numbers.notna().all() else "Int64")
        elif kind == "bool":
            out[name] = values.astype("boolean")
        else:
            out[name] = _dates(values, where)
    return pd.DataFrame(out, columns=[c["name"] for c in columns])


def to_date(value: Any, where: str) -> dt.date | None:
    """A date from a date, datetime, Timestamp or ISO string; None for missing."""
    if is_missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where} has {value!r}, which is not an ISO date (YYYY-MM-DD).") from None


def to_arrow(frame: pd.DataFrame, columns: list[dict]) -> pa.Table:
    """An Arrow table with the contract schema and no pandas metadata (so bytes do not depend on pandas)."""
    schema = pa.schema([pa.field(c["name"], ARROW_TYPES[c["type"]]) for c in columns])
    arrays = [pa.array(frame[f.name], type=f.type, from_pandas=True) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)

def required_info(run_info: dict, key: str) -> Any:
    if key not in run_info or is_missing(run_info[key]):
        raise ValueError(f"run_info lacks {key!r}.")
    return run_info[key]


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return None if is_missing(value) else str(value)


def _numbers(values: pd.Series, where: str) -> pd.Series:
    try:
        return pd.to_numeric(values, errors="raise").astype("float64")
    except (ValueError, TypeError):
        raise ValueError(f"{where} has a non-numeric value.") from None


def _texts(values: pd.Series) -> pd.Series:
    """Text cells, None for missing; dicts, lists and arrays become JSON with sorted keys."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(object).where(values.notna(), None)
    return pd.Series([_text(v) for v in values], dtype=object)


def _dates(values: pd.Series, where: str) -> pd.Series:
    """Date cells (datetime.date), None for missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.dt.date
    elif pd.api.types.infer_dtype(values, skipna=True) not in ("date", "empty"):
        values = pd.Series([to_date(v, where) for v in values], dtype=object)
    return values.astype(object).where(values.notna(), None)
