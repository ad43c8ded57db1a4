"""The export contract (`data_contracts/exports.yaml`): read and checked once, plus the file-name rules.

Columns, types and file names of every export come from the contract, which also documents the on-disk
layout and the CSV dialect; nothing here names a column.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import yaml

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data_contracts" / "exports.yaml"
TEXT_TYPES = {"string", "phone", "email"}
ARROW_TYPES = {"string": pa.string(), "phone": pa.string(), "email": pa.string(), "int64": pa.int64(),
               "float64": pa.float64(), "bool": pa.bool_(), "date": pa.date32()}


def load_export_contract(path: Path = CONTRACT_PATH) -> dict:
    """Read and check the export contract, so a bad edit fails before anything is written."""
    contract = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for kind in ("lists", "extras"):
        for name, spec in contract.get(kind, {}).items():
            for fmt, file_name in spec["files"].items():
                if fmt not in ("csv", "parquet") or (kind == "extras" and fmt == "csv"):
                    raise ValueError(f"{path}: {kind}.{name}.files has unsupported format {fmt!r}.")
                check_file_name(file_name)
            for column in spec["columns"]:
                if column.get("type") not in ARROW_TYPES:
                    raise ValueError(f"{path}: {kind}.{name} column {column.get('name')!r} has unknown type {column.get('type')!r}.")
            if spec["columns"][0]["name"] != "customer_id":
                raise ValueError(f"{path}: {kind}.{name} must start with the customer_id column.")
    return contract


def check_file_name(name: str) -> str:
    """Accept only a plain, visible file name: anything else could write outside the export folder."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", "..") or name.startswith("."):
        raise ValueError(f"Export file name {name!r} would escape the export folder; use a plain file name.")
    return name


def resolve_inside(folder: Path, name: str) -> Path:
    """The path of `name` directly inside `folder`; raises when it would land anywhere else."""
    path = Path(folder) / check_file_name(name)
    if path.resolve().parent != Path(folder).resolve():
        raise ValueError(f"Export path {path} escapes {folder}.")
    return path
