"""Vectorised text formatting for the demo world generator (Arrow compute, no per-row Python)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_EPOCH = dt.date(1970, 1, 1)


def epoch_day(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def join(*parts) -> pa.Array:
    """Concatenate string arrays / str scalars element-wise (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded number, e.g. ("C", 17, 7) -> "C0000017" (longer numbers keep all digits)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) and (numbers.min() < 0 or numbers.max() >= 10 ** width):
        digits = pc.cast(pa.array(numbers), pa.string())
        return join(prefix, pc.utf8_lpad(digits, width=width, padding="0"))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    text = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    text[:, :len(head)] = head
    _write_digits(text, numbers, len(head) + width, width, pad=ord("0"))
    return _pack(text)


def id_width(max_number: int, minimum: int) -> int:
    """Digits needed for ids up to max_number, at least `minimum`."""
    return max(minimum, len(str(int(max_number))))


def format_cents(cents: np.ndarray) -> pa.Array:
    """Integer cents -> "123.45" / "-0.50"."""
    cents = np.asarray(cents, dtype=np.int64)
    absolute = np.abs(cents)
    units = absolute // 100
    n_digits = len(str(int(units.max(initial=0))))
    width = 1 + n_digits + 3
    text = np.zeros((len(cents), width), dtype=np.uint8)
    text[:, -1] = ord("0") + absolute % 10
    text[:, -2] = ord("0") + absolute // 10 % 10
    text[:, -3] = ord(".")
    used = _write_digits(text, units, width - 3, n_digits, pad=0)
    rows = np.flatnonzero(cents < 0)
    text[rows, width - 4 - used[rows]] = ord("-")
    return _pack(text)


def _write_digits(text: np.ndarray, numbers: np.ndarray, end: int, n_digits: int, pad: int) -> np.ndarray:
    """Write numbers right-aligned into text[:, end - n_digits:end]; leading positions get `pad`.

    Returns the digits used per row (at least one; all n_digits when padding with "0").
    """
    rest = numbers.copy()
    used = np.ones(len(numbers), dtype=np.int64)
    for position in range(n_digits):
        column = end - 1 - position
        digit = ord("0") + rest % 10
        if position == 0 or pad:
            text[:, column] = digit
        else:
            text[:, column] = np.where(rest > 0, digit, pad)
            used += rest > 0
        rest //= 10
    return used if not pad else np.full(len(numbers), n_digits)


def _pack(text: np.ndarray) -> pa.Array:
    """Rows of a uint8 matrix -> strings, dropping 0 bytes (padding)."""
    rows, width = text.shape
    if (text[:, 0] != 0).all():        # nothing to drop: padding only ever sits at the start of a row
        offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
        data = text.reshape(-1)
    else:
        keep = text != 0
        offsets = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(keep.sum(axis=1), out=offsets[1:])
        data = text[keep]
    kind = pa.string() if offsets[-1] < 2 ** 31 else pa.large_string()
    offsets = offsets.astype(np.int32) if kind == pa.string() else offsets
    return pa.Array.from_buffers(kind, rows, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))])


def format_dates(epoch_days: np.ndarray) -> pa.Array:
    """Days since 1970-01-01 -> "YYYY-MM-DD"."""
    return pc.cast(pa.array(np.asarray(epoch_days, dtype=np.int32), pa.date32()), pa.string())


def format_timestamps(epoch_seconds: np.ndarray) -> pa.Array:
    """Seconds since 1970-01-01 -> "YYYY-MM-DD HH:MM:SS"."""
    return pc.cast(pa.array(np.asarray(epoch_seconds, dtype=np.int64), pa.timestamp("s")), pa.string())


def format_bools(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Booleans -> "true" / "false" (null where `missing`), dictionary-encoded."""
    return categorical(np.asarray(values, dtype=np.int8), ["false", "true"], missing)


def categorical(codes: np.ndarray, labels, missing: np.ndarray | None = None) -> pa.DictionaryArray:
    """Codes into `labels` -> a dictionary array with the smallest index type (null where `missing`)."""
    mask = None if missing is None else np.asarray(missing, dtype=bool)
    index_type = np.int8 if len(labels) < 128 else np.int16 if len(labels) < 32768 else np.int32
    indices = pa.array(np.asarray(codes, dtype=index_type), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string()))


def take_strings(labels, codes: np.ndarray) -> pa.Array:
    """Plain string array labels[codes]."""
    return pa.array(list(labels), pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table -> pandas without copying strings: dictionary columns become Categorical, others ArrowDtype."""
    return table.to_pandas(types_mapper=lambda t: None if pa.types.is_dictionary(t) else pd.ArrowDtype(t))


def to_table(frame: pd.DataFrame) -> pa.Table:
    """pandas (as produced by to_frame) -> Arrow table, without the pandas schema metadata."""
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
