"""The independent compliance check: every written file re-read and compared with consent, do-not-contact,
suppression and the golden contact fields before an export set may be published."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from models.exports.contract import load_export_contract, resolve_inside
from models.exports.files import restore_cell
from models.exports.lists import unique_customers
from models.exports.opt_outs import blocked_rows
from models.exports.profiles import CHANNEL_IDENTIFIER, profile_columns


class ComplianceError(Exception):
    """An export file would contact someone it must not (or with someone else's contact field)."""


@dataclass(frozen=True)
class ComplianceInputs:
    """What the independent compliance check compares the written files against."""

    customers: pd.DataFrame  # golden_customers: customer_id, email, phone, first/last name, consent_*, do_not_contact
    suppressed_ids: set[str] | frozenset[str] = field(default_factory=frozenset)
    raw_opt_outs: pd.DataFrame | None = None  # (key, channel) read from the delivered rows: models/exports/opt_outs.py


def assert_export_compliance(folder: Path, customers: pd.DataFrame, suppressed_ids: set[str],
                             *, contract: dict | None = None, raw_opt_outs: pd.DataFrame | None = None,
                             profiles: dict[str, dict] | None = None, profile_files: dict[str, dict] | None = None,
                             standard: bool = True, neutralised: bool = True) -> None:
    """Re-read every written file and raise ComplianceError on any contact rule broken.

    Rules per list row: the customer exists, has consent for the list's channel, is not do-not-contact
    (unknown counts as do-not-contact), is not suppressed/erased, and every personal cell equals that
    customer's golden value (the contact cell must not be empty). Independently of the golden record, no row
    of any file may match a `raw_opt_outs` key blocked for its channel, and no row of any file (extras too)
    an erased one. Files must have exactly the contract columns; extras must hold no personal column;
    unexpected files are refused. Export profiles' list files (`profile_files`, manifest entries keyed
    '<profile>/<file>') are read back in their profile's dialect and held to the same rules; without the
    `standard` profile the contract's lists are not expected. `neutralised`: the standard CSVs were written
    with formula neutralisation (exports.excel_friendly), undone before comparing.
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
            needed = ["customer_id"] if kind == "extras" else ["customer_id", *contract["personal_columns"]]
            for file_fmt, file_name in spec["files"].items():
                expected.add(file_name)
                path = resolve_inside(folder, file_name)
                if not path.exists():
                    problems += [f"{file_name}: missing"] if kind == "lists" and standard else []
                    continue
                header, frame = read_csv_text(path, needed, neutralised) if file_fmt == "csv" else \
                    read_parquet_text(path, needed)
                problems += check_export_file(header, frame, spec, kind, contract, golden, suppressed, file_name,
                                              raw_opt_outs)
    for relative, entry in sorted((profile_files or {}).items()):
        expected.add(relative.split("/")[0])
        if entry["kind"] == "list":
            header, frame = read_profile_text(folder / relative, profiles[entry["profile"]], entry["channel"])
            spec = {"columns": [{"name": h} for h in header], "channel": entry["channel"],
                    "contact_column": CHANNEL_IDENTIFIER[entry["channel"]] if entry["channel"] != "app" else None}
            problems += check_export_file(header, frame, spec, "lists", contract, _one_line(golden), suppressed,
                                          relative, raw_opt_outs)
    listed = {r for r in (profile_files or {})}
    problems += [f"{p.relative_to(folder)}: not in the export contract or a profile" for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.parent != folder and str(p.relative_to(folder)) not in listed]
    problems += [f"{p.name}: not in the export contract" for p in sorted(folder.iterdir()) if p.name not in expected]
    if problems:
        more = f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ComplianceError(f"Export set {folder} breaks the contact rules: " + "; ".join(problems[:10]) + more)


def check_export_file(header: list[str], frame: pd.DataFrame, spec: dict, kind: str, contract: dict,
                      golden: pd.DataFrame, suppressed: set[str], file_name: str,
                      raw_opt_outs: pd.DataFrame | None = None) -> list[str]:
    """The broken rules of one file (its header and the cells read), one message per rule with example ids."""
    names = [c["name"] for c in spec["columns"]]
    if header != names:
        return [f"{file_name}: columns {header} differ from the contract {names}"]
    personal = [c for c in contract["personal_columns"] if c in header]
    ids = frame["customer_id"]
    opted_out, erased = blocked_rows(frame, spec.get("channel"), raw_opt_outs)
    if kind == "extras":
        erased |= ids.isin(suppressed).to_numpy()
        return ([f"{file_name}: holds personal column(s) {personal}"] if personal else []) + (
            [f"{file_name}: {int(erased.sum())} row(s) are erased, e.g. customer_id {', '.join(ids[erased].head(3))}"]
            if erased.any() else [])
    person = golden.reindex(ids)  # the listed people's golden rows only (not a copy of the whole golden record)
    rules = {
        "are not in golden_customers": golden.index.get_indexer(ids) < 0,
        f"lack consent_{spec['channel']}": ~_flags(person[f"consent_{spec['channel']}"], False),
        "are do_not_contact": _flags(person["do_not_contact"], True),
        "are suppressed or erased": ids.isin(suppressed).to_numpy() if suppressed else np.zeros(len(ids), bool),
        f"opted out of {spec['channel']} in a delivered customer row": opted_out,
        "are on the erasure list": erased,
    }
    for column in personal:
        rules[f"have {column} that is not the customer's"] = frame[column].to_numpy() != _as_text(person[column]).to_numpy()
    if spec.get("contact_column"):
        rules[f"have an empty {spec['contact_column']}"] = (frame[spec["contact_column"]].str.strip() == "").to_numpy()
    return [f"{file_name}: {int(bad.sum())} row(s) {rule}, e.g. customer_id {', '.join(ids[bad].head(3))}"
            for rule, bad in rules.items() if bad.any()]


def read_csv_text(path: Path, columns: list[str], neutralised: bool = True) -> tuple[list[str], pd.DataFrame]:
    """A written CSV's header and its `columns` as text (with neutralisation undone when `neutralised`).

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
    if not neutralised:
        return header, frame
    return header, pd.DataFrame({c: frame[c].map(restore_cell) for c in frame.columns}, columns=frame.columns)


def read_profile_text(path: Path, profile: dict, channel: str) -> tuple[list[str], pd.DataFrame]:
    """A profile list file read with its own dialect: header as source field names, cells as golden text
    (neutralisation undone, phones back to E.164)."""
    fmt = profile["csv"]
    text = path.read_bytes().decode(fmt["encoding"]).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=fmt["delimiter"]))
    source = {c["name"]: c["source"] for c in profile_columns(profile, channel)}
    header = [source.get(name, name) for name in rows[0]]
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object) if len(rows) > 1 else pd.DataFrame(columns=header)
    if fmt["formula_neutralisation"]:
        frame = frame.map(restore_cell)
    if "phone" in frame and profile["phone_format"] == "e164_digits":
        frame["phone"] = ["+" + p if p else p for p in frame["phone"]]
    return header, frame


def _one_line(golden: pd.DataFrame) -> pd.DataFrame:
    """Golden text columns with line breaks as spaces, as the profiles write them."""
    text = golden.select_dtypes(include="object").columns
    return golden.assign(**{c: golden[c].map(lambda v: " ".join(str(v).replace("\r\n", "\n").replace("\r", "\n")
                                                                 .split("\n")) if isinstance(v, str) else v) for c in text})


def read_parquet_text(path: Path, columns: list[str]) -> tuple[list[str], pd.DataFrame]:
    """A written Parquet file's column names and its `columns` as text (missing -> empty)."""
    header = pq.read_schema(path).names
    frame = pq.read_table(path, columns=[c for c in columns if c in header]).to_pandas()
    return header, pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}, columns=frame.columns)


def _flags(values: pd.Series, default: bool):
    """A boolean numpy mask; missing values take `default` (no consent / do-not-contact when unknown)."""
    try:
        return values.astype("boolean").fillna(default).to_numpy(bool)
    except (TypeError, ValueError):
        raise ComplianceError(f"customers.{values.name} holds values that are not booleans.") from None


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)
