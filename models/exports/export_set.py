"""Campaign list exports: build one list per outbound channel, write them as CSV + Parquet into a hidden
folder, check them against consent / do-not-contact / suppression, then publish the set in one rename.

Columns, types and file names come from the export contract `data_contracts/exports.yaml`, which
also documents the on-disk layout and the CSV dialect.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

CONTRACT_PATH = Path(__file__).resolve().parents[2] / "data_contracts" / "exports.yaml"
LANGUAGES = ("en", "es", "pt")
TEXT_TYPES = {"string", "phone", "email"}
ARROW_TYPES = {"string": pa.string(), "phone": pa.string(), "email": pa.string(), "int64": pa.int64(),
               "float64": pa.float64(), "bool": pa.bool_(), "date": pa.date32()}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_PHONE = re.compile(r"\+?[0-9]{6,15}")
PARQUET_ROW_GROUP_ROWS = 131_072
RUN_INFO_KEYS = ("run_id", "policy_version", "model_versions", "control_group_share", "valid_until")


class ComplianceError(Exception):
    """An export file would contact someone it must not (or with someone else's contact field)."""


@dataclass(frozen=True)
class ComplianceInputs:
    """What the independent compliance check compares the written files against."""

    customers: pd.DataFrame  # golden_customers: customer_id, email, phone, first/last name, consent_*, do_not_contact
    suppressed_ids: set[str] | frozenset[str] = field(default_factory=frozenset)


# ---------------------------------------------------------------- contract

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


# ---------------------------------------------------------------- building the lists

def build_export_lists(nba: pd.DataFrame, customers: pd.DataFrame, actions: dict, reasons: dict,
                       run_info: dict, lang: str = "en", *, contract: dict | None = None) -> dict[str, pd.DataFrame]:
    """One frame per contract list (email, sms, app, call_center) from tonight's chosen, contacted actions.

    Holdout rows, 'no_action' and rows without a channel are never contacted, so never exported. Only
    the columns the contract declares for a list are kept: a list carries no other personal field.
    """
    contract = contract or load_export_contract()
    if lang not in LANGUAGES:
        raise ValueError(f"Export language {lang!r} is not supported; use one of {', '.join(LANGUAGES)}.")
    rows = select_contact_rows(nba, {spec["channel"] for spec in contract["lists"].values()})
    people = unique_customers(customers, contract["personal_columns"], "customers")
    wide = rows.merge(localise_actions(actions, rows["action_id"].unique(), lang), on="action_id", how="left")
    wide = wide.merge(people, on="customer_id", how="left")
    separator = contract.get("reasons_separator", "; ")
    wide["reasons"] = [separator.join(str(p) for p in _phrases(reasons.get(cid))) for cid in wide["customer_id"]]
    wide["campaign_id"] = str(_required(run_info, "run_id"))
    wide["valid_until"] = to_date(_required(run_info, "valid_until"), "run_info.valid_until")
    return {name: order_list(wide[wide["channel"] == spec["channel"]], spec["columns"], name)
            for name, spec in contract["lists"].items()}


def select_contact_rows(nba: pd.DataFrame, channels: set[str]) -> pd.DataFrame:
    """Chosen, non-holdout rows with a real action and channel; an unknown channel is an error."""
    needed = ["customer_id", "rank", "action_id", "channel", "expected_value", "chosen", "is_holdout"]
    missing = [c for c in needed if c not in nba.columns]
    if missing:
        raise ValueError(f"next_best_actions lacks column(s) {', '.join(missing)}.")
    chosen = nba["chosen"].astype("boolean").fillna(False) & ~nba["is_holdout"].astype("boolean").fillna(True)
    rows = nba.loc[chosen.to_numpy(bool) & (nba["action_id"] != "no_action").to_numpy() & nba["channel"].notna().to_numpy(),
                   ["customer_id", "rank", "action_id", "channel", "expected_value"]]
    unknown = sorted(set(rows["channel"]) - channels)
    if unknown:
        raise ValueError(f"next_best_actions.channel has value {unknown[0]!r}; exports know {', '.join(sorted(channels))}.")
    return rows.assign(customer_id=rows["customer_id"].astype(str)).reset_index(drop=True)


def unique_customers(customers: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    """customer_id plus `columns`, with one row per customer (a duplicate would double a contact)."""
    missing = [c for c in ["customer_id", *columns] if c not in customers.columns]
    if missing:
        raise ValueError(f"{label} lacks column(s) {', '.join(missing)}.")
    people = customers[["customer_id", *columns]].assign(customer_id=customers["customer_id"].astype(str))
    duplicated = people["customer_id"][people["customer_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"{label} has customer_id {duplicated.iloc[0]!r} more than once.")
    return people


def localise_actions(actions: Mapping[str, Mapping], action_ids: Iterable[str], lang: str) -> pd.DataFrame:
    """action_id, action_name, offer, script_hint in `lang` (English when that text is missing)."""
    records = []
    for action_id in sorted(action_ids):
        if action_id not in actions:
            raise ValueError(f"Action {action_id!r} in next_best_actions is not in the action catalog.")
        action = actions[action_id]
        name = _localise(action.get("name"), lang)
        if not name:
            raise ValueError(f"Action {action_id!r} in the action catalog has no name.")
        records.append({"action_id": action_id, "action_name": name, "offer": _localise(action.get("offer"), lang),
                        "script_hint": _localise(action.get("script_hint"), lang)})
    return pd.DataFrame(records, columns=["action_id", "action_name", "offer", "script_hint"])


def order_list(rows: pd.DataFrame, columns: list[dict], name: str) -> pd.DataFrame:
    """Sort by expected value desc then customer_id, number the rows as `priority`, keep contract columns."""
    rows = rows.assign(expected_value=pd.to_numeric(rows["expected_value"]).round(2) + 0.0)
    rows = rows.sort_values(["expected_value", "customer_id", "rank", "action_id"],
                            ascending=[False, True, True, True], kind="mergesort")
    rows = rows.assign(priority=range(1, len(rows) + 1))
    return coerce_columns(rows, columns, name)


# ---------------------------------------------------------------- typing

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
    if _missing(value):
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


# ---------------------------------------------------------------- CSV / Parquet files

def neutralise_cell(text: str, *, phone: bool = False) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula; plain phone numbers are safe."""
    if phone and PLAIN_PHONE.fullmatch(text):
        return text
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def restore_cell(text: str) -> str:
    """Undo neutralise_cell, to compare a written cell with the source value."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


def csv_format(config: dict) -> dict:
    """Encoding and delimiter from the `exports:` config section (the full config is accepted too)."""
    section = config.get("exports", config) or {}
    delimiter = section.get("excel_delimiter", ";") if section.get("excel_friendly", False) else ","
    if not isinstance(delimiter, str) or len(delimiter) != 1 or not delimiter.isascii() or delimiter in "\"'\r\n" \
            or delimiter.isalnum():
        raise ValueError(f"exports.excel_delimiter {delimiter!r} must be one ASCII character that is not a letter, digit, quote or newline.")
    return {"encoding": "utf-8-sig" if section.get("excel_friendly", False) else "utf-8",
            "delimiter": delimiter, "line_terminator": "\n"}


def write_csv(frame: pd.DataFrame, columns: list[dict], path: Path, fmt: dict) -> None:
    """Write the header and rows with fixed number formats and formula-neutralised text."""
    cells = [_csv_cells(frame[c["name"]], c) for c in columns]
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


def _csv_cells(values: pd.Series, column: dict) -> list[str]:
    """The CSV text of one typed column: fixed number formats, ISO dates, neutralised text, '' for missing."""
    kind, present = column["type"], values.notna().to_numpy()
    if kind in TEXT_TYPES:
        text = values.where(present, "").astype(str)
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


# ---------------------------------------------------------------- the export set

def write_export_set(lists: dict[str, pd.DataFrame], extra: dict[str, pd.DataFrame], exports_root: Path,
                     as_of: dt.date, run_info: dict, config: dict, compliance: ComplianceInputs,
                     *, contract: dict | None = None) -> Path:
    """Write, check and publish one night's export set; returns `exports_root/<as_of>` (a symlink).

    Files go into a new hidden `.<as_of>.v*` folder; the compliance check re-reads them; then the
    `<as_of>` symlink is replaced in one os.replace. On any failure the hidden folder is removed and
    the previously published set is untouched.
    """
    contract = contract or load_export_contract()
    day = to_date(as_of, "as_of")
    if day is None or isinstance(as_of, str) and as_of != day.isoformat():
        raise ValueError(f"as_of {as_of!r} must be a date.")
    fmt = csv_format(config)
    head = manifest_head(run_info, day, contract, fmt)
    plan = plan_files(lists, extra, contract)
    root = Path(exports_root)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    link = resolve_inside(root, day.isoformat())
    if link.exists() and not link.is_symlink():
        raise ValueError(f"{link} is a real folder or file, not a published export symlink; move it away before exporting.")
    staging = Path(tempfile.mkdtemp(prefix=f".{day.isoformat()}.v", dir=root))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; consumers must be able to read the published set
        files = {}
        for file_name, owner, file_fmt, frame, columns in plan:
            path = resolve_inside(staging, file_name)
            if file_fmt == "csv":
                write_csv(frame, columns, path, fmt)
            else:
                write_parquet(frame, columns, path)
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            files[file_name] = {**owner, "format": file_fmt, "rows": len(frame), "bytes": path.stat().st_size,
                                "sha256": digest}
        assert_export_compliance(staging, compliance.customers, compliance.suppressed_ids, contract=contract)
        manifest = {**head, "files": files, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        resolve_inside(staging, contract["manifest"]["file"]).write_text(
            json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync_dir(staging)
        publish_version(root, link, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(root)
    remove_old_versions(root, day.isoformat(), keep=staging.name)
    return link


def manifest_head(run_info: dict, day: dt.date, contract: dict, fmt: dict) -> dict:
    """The run facts the manifest records; the run's as_of, when given, must be the export date."""
    if "as_of" in run_info and to_date(run_info["as_of"], "run_info.as_of") != day:
        raise ValueError(f"run_info.as_of {run_info['as_of']!s} differs from the export date {day}.")
    head = {key: _required(run_info, key) for key in RUN_INFO_KEYS}
    head["valid_until"] = to_date(head["valid_until"], "run_info.valid_until").isoformat()
    head["model_versions"] = {str(k): str(v) for k, v in dict(head["model_versions"]).items()}
    head["control_group_share"] = float(head["control_group_share"])
    return {**head, "as_of": day.isoformat(), "contract_version": contract.get("version"), "csv": fmt}


def plan_files(lists: dict[str, pd.DataFrame], extra: dict[str, pd.DataFrame], contract: dict) -> list[tuple]:
    """(file name, owner, format, typed frame, columns) for every file; all lists are required."""
    unknown = sorted(set(lists) - set(contract["lists"])) + sorted(set(extra) - set(contract["extras"]))
    missing = sorted(set(contract["lists"]) - set(lists))
    if unknown or missing:
        raise ValueError(f"Export lists/extras must match {CONTRACT_PATH.name}: unknown {unknown}, missing {missing}.")
    plan = []
    for kind, frames in (("list", lists), ("extra", extra)):
        specs = contract["lists" if kind == "list" else "extras"]
        for name in sorted(frames):
            spec = specs[name]
            frame = coerce_columns(frames[name], spec["columns"], name)
            for file_fmt, file_name in sorted(spec["files"].items()):
                plan.append((check_file_name(file_name), {kind: name}, file_fmt, frame, spec["columns"]))
    return plan


def publish_version(root: Path, link: Path, version: Path) -> None:
    """Point `link` at `version` with one atomic rename of a fresh symlink (relative, so the root can move)."""
    temp_link = root / f".{link.name}.link-{version.name}"
    os.symlink(version.name, temp_link)
    try:
        os.replace(temp_link, link)
    except BaseException:
        temp_link.unlink(missing_ok=True)
        raise


def remove_old_versions(root: Path, day: str, keep: str) -> list[str]:
    """Delete hidden versions (and leftovers of crashed runs) of `day` except the published one."""
    removed = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(f".{day}.") and entry.name != keep:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry.name)
    return removed


# ---------------------------------------------------------------- compliance

def assert_export_compliance(folder: Path, customers: pd.DataFrame, suppressed_ids: set[str],
                             *, contract: dict | None = None) -> None:
    """Re-read every written file and raise ComplianceError on any contact rule broken.

    Rules per list row: the customer exists, has consent for the list's channel, is not do-not-contact
    (unknown counts as do-not-contact), is not suppressed/erased, and every personal cell equals that
    customer's golden value (the contact cell must not be empty). Files must have exactly the contract
    columns; extras must hold no personal column; unexpected files are refused.
    """
    contract = contract or load_export_contract()
    folder = Path(folder)
    channels = sorted({spec["channel"] for spec in contract["lists"].values()})
    try:
        golden = unique_customers(customers, [*contract["personal_columns"], "do_not_contact",
                                              *(f"consent_{c}" for c in channels)], "customers").set_index("customer_id")
    except ValueError as error:
        raise ComplianceError(f"Cannot check {folder}: {error}") from None
    suppressed = {str(s) for s in suppressed_ids}
    problems, expected = [], {contract["manifest"]["file"]}
    for kind in ("lists", "extras"):
        for name, spec in contract[kind].items():
            needed = [] if kind == "extras" else ["customer_id", *contract["personal_columns"]]
            for file_fmt, file_name in spec["files"].items():
                expected.add(file_name)
                path = resolve_inside(folder, file_name)
                if not path.exists():
                    problems += [f"{file_name}: missing"] if kind == "lists" else []
                    continue
                header, frame = (read_csv_text if file_fmt == "csv" else read_parquet_text)(path, needed)
                problems += check_export_file(header, frame, spec, kind, contract, golden, suppressed, file_name)
    problems += [f"{p.name}: not in the export contract" for p in sorted(folder.iterdir()) if p.name not in expected]
    if problems:
        more = f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ComplianceError(f"Export set {folder} breaks the contact rules: " + "; ".join(problems[:10]) + more)


def check_export_file(header: list[str], frame: pd.DataFrame, spec: dict, kind: str, contract: dict,
                      golden: pd.DataFrame, suppressed: set[str], file_name: str) -> list[str]:
    """The broken rules of one file (its header and the cells read), one message per rule with example ids."""
    names = [c["name"] for c in spec["columns"]]
    if header != names:
        return [f"{file_name}: columns {header} differ from the contract {names}"]
    personal = [c for c in contract["personal_columns"] if c in header]
    if kind == "extras":
        return [f"{file_name}: holds personal column(s) {personal}"] if personal else []
    ids = frame["customer_id"]
    person = golden.assign(_known=True).reindex(ids)
    rules = {
        "are not in golden_customers": person["_known"].isna().to_numpy(),
        f"lack consent_{spec['channel']}": ~_flags(person[f"consent_{spec['channel']}"], False),
        "are do_not_contact": _flags(person["do_not_contact"], True),
        "are suppressed or erased": ids.isin(suppressed).to_numpy() if suppressed else np.zeros(len(ids), bool),
    }
    for column in personal:
        rules[f"have {column} that is not the customer's"] = frame[column].to_numpy() != _as_text(person[column]).to_numpy()
    if spec.get("contact_column"):
        rules[f"have an empty {spec['contact_column']}"] = (frame[spec["contact_column"]].str.strip() == "").to_numpy()
    return [f"{file_name}: {int(bad.sum())} row(s) {rule}, e.g. customer_id {', '.join(ids[bad].head(3))}"
            for rule, bad in rules.items() if bad.any()]


def read_csv_text(path: Path, columns: list[str]) -> tuple[list[str], pd.DataFrame]:
    """A written CSV's header and its `columns` as text with neutralisation undone.

    The delimiter is the character after the first header name, customer_id; a BOM is skipped.
    """
    with open(path, "rb") as handle:
        head = handle.read(64).removeprefix(b"\xef\xbb\xbf")
    if not head.startswith(b"customer_id"):
        raise ComplianceError(f"{path.name}: the header does not start with customer_id.")
    delimiter = head[len(b"customer_id"):][:1].decode()
    options = {"sep": delimiter if delimiter not in ("", "\r", "\n") else ",", "encoding": "utf-8-sig", "dtype": str}
    header = list(pd.read_csv(path, nrows=0, **options).columns)
    frame = pd.read_csv(path, usecols=[c for c in columns if c in header], keep_default_na=False, **options)
    return header, pd.DataFrame({c: frame[c].map(restore_cell) for c in frame.columns}, columns=frame.columns)


def read_parquet_text(path: Path, columns: list[str]) -> tuple[list[str], pd.DataFrame]:
    """A written Parquet file's column names and its `columns` as text (missing -> empty)."""
    header = pq.read_schema(path).names
    frame = pq.read_table(path, columns=[c for c in columns if c in header]).to_pandas()
    return header, pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}, columns=frame.columns)


# ---------------------------------------------------------------- small helpers

def _required(run_info: dict, key: str) -> Any:
    if key not in run_info or _missing(run_info[key]):
        raise ValueError(f"run_info lacks {key!r}.")
    return run_info[key]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str | None:
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy arrays and scalars
        value = value.tolist()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return None if _missing(value) else str(value)


def _numbers(values: pd.Series, where: str) -> pd.Series:
    try:
        return pd.to_numeric(values, errors="raise").astype("float64")
    except (ValueError, TypeError):
        raise ValueError(f"{where} has a non-numeric value.") from None


def _localise(value: Any, lang: str) -> str:
    if isinstance(value, Mapping):
        value = value.get(lang) or value.get("en")
    return "" if _missing(value) else str(value)


def _phrases(value: Any) -> list:
    if value is None or isinstance(value, float) and math.isnan(value):
        return []
    return [value] if isinstance(value, str) else list(value)


def _flags(values: pd.Series, default: bool):
    """A boolean numpy mask; missing values take `default` (no consent / do-not-contact when unknown)."""
    try:
        return values.astype("boolean").fillna(default).to_numpy(bool)
    except (TypeError, ValueError):
        raise ComplianceError(f"customers.{values.name} holds values that are not booleans.") from None


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


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


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
