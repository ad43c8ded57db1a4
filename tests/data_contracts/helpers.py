"""Shared by the ingest, staging and GX tests: build a landing folder from fixture files and stage it."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb

from data_contracts import load_contract, load_suite
from models.ingest.load import discover_extracts, load_raw
from models.ingest.staging import StageResult, stage_extract

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
AS_OF = date(2026, 11, 23)
ORDER = ("customers", "purchases", "interactions", "contacts")


def make_landing(root: Path, files: dict[str, Path]) -> Path:
    """Copy fixture files into `root/landing` under the delivered names given as keys."""
    landing = root / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copyfile(source, landing / name)
    return landing


def good_landing(root: Path, **overrides: Path) -> Path:
    """A landing folder with the good extracts, where `overrides` replace a delivered file by name."""
    files = {"customers.csv": GOOD / "customers.csv", "purchases.csv": GOOD / "purchases.csv",
             "interactions.csv": GOOD / "interactions.csv"}
    files.update({k.replace("__", "."): v for k, v in overrides.items()})
    return make_landing(root, {k: v for k, v in files.items() if v is not None})


def stage_landing(con: duckdb.DuckDBPyConnection, landing: Path, *, max_bad_row_share: float = 1.0,
                  max_future_days: int = 0, as_of: date = AS_OF,
                  extracted_on: date | None = None) -> dict[str, StageResult]:
    """Discover, load and stage every extract of `landing` in dependency order."""
    extracts = discover_extracts(landing)
    results = {}
    for extract in ORDER:
        if extract in extracts:
            load_raw(con, extract, extracts[extract])
            results[extract] = stage_extract(
                con, extract, load_contract(extract), load_suite(extract), as_of,
                max_bad_row_share=max_bad_row_share, max_future_days=max_future_days, extracted_on=extracted_on,
            )
    return results


def load_again(con: duckdb.DuckDBPyConnection, root: Path, extract: str) -> None:
    """Load `extract` of `root/landing` once more (staging renames raw_<extract> to stg_<extract>)."""
    load_raw(con, extract, discover_extracts(root / "landing")[extract])


def quarantine_rows(con: duckdb.DuckDBPyConnection, extract: str) -> list[tuple]:
    """(source_row, rule, column_name, value) of an extract's quarantine, in file order."""
    return con.execute(
        "SELECT source_row, rule, column_name, value FROM quarantine WHERE extract = ? "
        "ORDER BY source_file, source_row", [extract]).fetchall()


def architecture_columns(table: str) -> list[tuple[str, str]]:
    """(name, type) of `table` as docs/architecture.md defines it, e.g. `stg_purchases(order_id VARCHAR, ...)`."""
    doc = (Path(__file__).parents[2] / "docs" / "architecture.md").read_text(encoding="utf-8")
    body = re.search(rf"`{table}\((.*?)\)`", doc, re.S).group(1)
    return [tuple(part.split()[:2]) for part in " ".join(body.split()).split(", ")]
