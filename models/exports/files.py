"""Export files: CSV with fixed number formats and formula-neutralised text, Parquet with fixed settings."""
from __future__ import annotations

import csv
import math
import os
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from models.exports.columns import to_arrow
from models.exports.contract import TEXT_TYPES

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_PHONE = re.compile(r"\+?[0-9]{6,15}")
PARQUET_ROW_GROUP_ROWS = 131_072


def neutralise_cell(text: str, *, phone: bool = False) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula; plain phone numbers are safe."""
    if phone and PLAIN_PHONE.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def restore_cell(text: str) -> str:
    """Undo neutralise_cell, to compare a written cell with the source value."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


def csv_format(config: dict) -> dict:
    """Encoding, delimiter and formula neutralisation from the `exports:` config section (the full config is accepted
    too). Only the spreadsheet mode (excel_friendly) neutralises: a tool or pandas must read the true value, and
    CSV and Parquet then agree cell for cell."""
    section = config.get("exports", config) or {}
    delimiter = section.get("excel_delimiter", ";") if section.get("excel_friendly", False) else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"'\r\n" \
            or delimiter.isalnum():
        raise ValueError(f"exports.excel_delimiter {delimiter!r} must be one ASCII character that is not a letter, digit, quote or newline.")
    excel = bool(section.get("excel_friendly", False))
    return {"encoding": "utf-8-sig" if excel else "utf-8", "delimiter": delimiter, "line_terminator": "\n",
            "formula_neutralisation": excel}


def write_csv(frame: pd.DataFrame, columns: list[dict], path: Path, fmt: dict) -> None:
    """Write the header and rows with fixed number formats (text formula-neutralised when `fmt` says so)."""
    cells = [_csv_cells(frame[c["name"]], c, fmt.get("formula_neutralisation", True)) for c in columns]
    with open(path, "w", encoding=fmt["encoding"], newline="") as handle:
        writer = csv.writer(handle, delimiter=fmt["delimiter"], quotechar='"', quoting=csv.QUOTE_MINIMAL,
                            lineterminator=fmt["line_terminator"])
        writer.writerow([c["name"] for c in columns])
        writer.writerows(zip(*cells))
        handle.flush()
        os.fsync(handle.fileno())


def write_parquet(frame: pd.DataFrame, columns: list[dict], path: Path) -> None:
    """Write Parquet with fixed settings (zstd, fixed row groups, statistics) so reruns are byte-identical."""
    pq.write_table(to_arrow(frame, columns), path, row_group_size=PARQUET_ROW_GROUP_ROWS, compression="zstd",
                   compression_level=3, use_dictionary=True, write_statistics=True, version="2.6")
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _csv_cells(values: pd.Series, column: dict, neutralise: bool = True) -> list[str]:
    """The CSV text of one typed column: fixed number formats, ISO dates, (neutralised) text, '' for missing."""
    kind, present = column["type"], values.notna().to_numpy()
    if kind in TEXT_TYPES:
        text = values.where(present, "").astype(str)
        if not neutralise:
            return text.tolist()
        risky = text.str.startswith(FORMULA_TRIGGERS).to_numpy()  # only these can change: keeps it fast
        text[risky] = [neutralise_cell(t, phone=kind == "phone") for t in text[risky]]
        return text.tolist()
    if kind == "float64":
        spec = f".{column['decimals']}f" if "decimals" in column else "r"
        cells = [format(v, spec) if spec != "r" else repr(v) for v in values.to_numpy("float64", na_value=math.nan)]
    elif kind == "int64":
        cells = [str(v) for v in values.to_numpy(object)]
    elif kind == "bool":
        cells = ["true" if v is True else "false" for v in values.to_numpy(object)]
    else:
        cells = [v.isoformat() if v is not None else "" for v in values.to_numpy(object)]
    return [cell if keep else "" for cell, keep in zip(cells, present)]
