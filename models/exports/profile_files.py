"""Files of one export profile: per channel and action (or per channel) audiences split at the profile's limits,
and one suppression file per channel, written in the profile's CSV dialect.

Why: a marketer uploads one audience per campaign, in the tool's own headers, phone and priority format, and
the tool's suppression list keeps anyone who opted out, asked not to be contacted or was erased out of it.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import os
from pathlib import Path

import pandas as pd

from models.exports.contract import check_file_name
from models.exports.files import neutralise_cell
from models.exports.profiles import CHANNEL_IDENTIFIER, SOURCE_TYPES, ProfileError, profile_columns


def render_profile(profile: dict, contacts: pd.DataFrame, suppression: dict[str, list[str]], as_of: dt.date
                   ) -> list[tuple[str, dict, bytes]]:
    """(file name, manifest entry, bytes) of every file the profile writes tonight.

    `contacts` is build_contact_rows' frame (one row per contact, ordered within each list); `suppression`
    maps a channel to the identifiers (email / E.164 phone / customer id) its tool must suppress.
    """
    out = []
    for channel in profile["channels"]:
        rows = contacts[contacts["channel"] == channel]
        columns = profile_columns(profile, channel)
        groups = ([(a, rows[rows["action_id"] == a]) for a in sorted(rows["action_id"].unique())]
                  if profile["split_by"] == "action" else [(None, rows)])
        for action_id, group in groups:
            cells = audience_cells(profile, columns, group.reset_index(drop=True), as_of, channel)
            name = profile["file_name"].replace("{action_id}", action_id or "").replace("{channel}", channel) \
                .replace("{as_of}", as_of.strftime("%Y%m%d"))
            for part, (data, n_rows) in enumerate(split_csv(profile, [c["name"] for c in columns], cells), 1):
                out.append((check_file_name(name.replace("{part}", f"{part:03d}")),
                            {"kind": "list", "channel": channel, "action_id": action_id, "part": part, "rows": n_rows},
                            data))
    for channel in profile["channels"]:
        identifier = CHANNEL_IDENTIFIER[channel]
        values = [_phone(v, profile) if identifier == "phone" else v for v in suppression.get(channel, [])]
        name = profile["suppression_file"].replace("{channel}", channel).replace("{as_of}", as_of.strftime("%Y%m%d"))
        parts = split_csv(profile, [profile["suppression_columns"][identifier]], [[v] for v in sorted(set(values))])
        if len(parts) > 1:
            raise ProfileError(f"Profile {profile['profile']}: the {channel} suppression file has more rows or bytes than "
                               f"max_rows {profile['max_rows']} / max_bytes {profile['max_bytes']}.")
        out.append((check_file_name(name), {"kind": "suppression", "channel": channel, "rows": parts[0][1]}, parts[0][0]))
    return out


def audience_cells(profile: dict, columns: list[dict], rows: pd.DataFrame, as_of: dt.date, channel: str) -> list[list[str]]:
    """The text cells of one audience in file order; a required field left empty stops the export."""
    missing = [c for c in columns if c["source"] not in rows.columns and c["source"] != "as_of"]
    if missing and len(rows):
        raise ProfileError(f"Profile {profile['profile']}: field {missing[0]['name']!r} needs {missing[0]['source']!r}, "
                           f"which tonight's contacts do not have (e.g. customer_id {rows['customer_id'].iloc[0]}).")
    cells = []
    for column in columns:
        values = [_cell(v, column, profile, as_of) for v in _source(rows, column["source"], profile, as_of)]
        if column.get("required"):
            empty = [i for i, v in enumerate(values) if v == ""]
            if empty:
                example = rows.iloc[empty[0]][["customer_id", "action_id"]].to_dict()
                raise ProfileError(f"Profile {profile['profile']} cannot be satisfied: required field {column['name']!r} "
                                   f"(source {column['source']}) is empty in {len(empty)} {channel} row(s), e.g. {example}.")
        cells.append(values)
    return [list(row) for row in zip(*cells)] if cells and len(rows) else []


def split_csv(profile: dict, header: list[str], rows: list[list[str]]) -> list[tuple[bytes, int]]:
    """The CSV bytes of header + rows in the profile's dialect, cut into parts within max_rows / max_bytes
    (every part repeats the header); one header-only part when there are no rows."""
    fmt = profile["csv"]
    head = _encode(_line(header, fmt), fmt, profile)
    bom = b"\xef\xbb\xbf" if fmt["bom"] and fmt["encoding"] == "utf-8" else b""
    parts, chunk, size = [], [], len(bom) + len(head)
    for row in rows:
        line = _encode(_line(row, fmt), fmt, profile)
        if chunk and (len(chunk) >= profile["max_rows"] or size + len(line) > profile["max_bytes"]):
            parts.append((bom + head + b"".join(chunk), len(chunk)))
            chunk, size = [], len(bom) + len(head)
        if size + len(line) > profile["max_bytes"]:
            raise ProfileError(f"Profile {profile['profile']}: one row alone is larger than max_bytes {profile['max_bytes']}.")
        chunk.append(line)
        size += len(line)
    parts.append((bom + head + b"".join(chunk), len(chunk)))
    return parts


def write_profile_set(folder: Path, profile: dict, contacts: pd.DataFrame, suppression: dict[str, list[str]],
                      as_of: dt.date) -> dict[str, dict]:
    """Write the profile's files into `folder/<profile>/` (fsynced); manifest entries keyed by relative path."""
    target = Path(folder) / check_file_name(profile["profile"])
    target.mkdir()
    entries = {}
    for name, entry, data in render_profile(profile, contacts, suppression, as_of):
        path = target / name
        if path.exists():
            raise ProfileError(f"Profile {profile['profile']}: two files are named {name}; add {{action_id}} or {{part}}.")
        with open(path, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        entries[f"{profile['profile']}/{name}"] = {**entry, "profile": profile["profile"], "format": "csv",
                                                   "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return entries


def scaled_priority(n_rows: int, priority: dict | None) -> list[int]:
    """Priorities of positions 1..n: the profile's scale (e.g. 1-10, 10 = call first) in equal bands (fewer rows than
    levels: spread from first to last level), else 1..n."""
    if priority is None:
        return list(range(1, n_rows + 1))
    low, high = priority["lowest"], priority["highest"]
    levels = high - low + 1
    if n_rows >= levels:
        band = [(i * levels) // n_rows for i in range(n_rows)]  # 0 = first band
    else:
        band = [round(i * (levels - 1) / max(n_rows - 1, 1)) for i in range(n_rows)]
    return [high - b if priority["first_is"] == "highest" else low + b for b in band]


def _source(rows: pd.DataFrame, source: str, profile: dict, as_of: dt.date) -> list:
    if source == "as_of":
        return [as_of] * len(rows)
    if source == "priority":
        return scaled_priority(len(rows), profile.get("priority"))  # rows arrive in the list's order
    return rows[source].tolist()


def _cell(value, column: dict, profile: dict, as_of: dt.date) -> str:
    """One value as text per the column's source type and the profile's dialect ('' for missing)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    kind, fmt = SOURCE_TYPES[column["source"]], profile["csv"]
    if kind in ("int", "priority"):
        return str(int(value))
    if kind == "decimal":
        return f"{float(value):.2f}".replace(".", fmt["decimal"])
    if kind == "date":
        return (value.date() if isinstance(value, (dt.datetime, pd.Timestamp)) else value).strftime(fmt["date_format"])
    text = _phone(str(value), profile) if kind == "phone" else str(value)
    if fmt["newlines"] == "space":
        text = " ".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return neutralise_cell(text, phone=kind == "phone") if fmt["formula_neutralisation"] and text else text


def _phone(e164: str, profile: dict) -> str:
    return e164.removeprefix("+") if profile["phone_format"] == "e164_digits" else e164


def _line(cells: list[str], fmt: dict) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=fmt["delimiter"], quotechar='"', quoting=csv.QUOTE_MINIMAL,
               lineterminator=fmt["line_terminator"]).writerow(cells)
    return buffer.getvalue()


def _encode(text: str, fmt: dict, profile: dict) -> bytes:
    try:
        return text.encode(fmt["encoding"])
    except UnicodeEncodeError as error:
        raise ProfileError(f"Profile {profile['profile']}: {text.strip()!r} has {error.object[error.start]!r}, which "
                           f"{fmt['encoding']} cannot write.") from None


def suppression_identifiers(customers: pd.DataFrame, suppressed_ids: set[str] | frozenset[str], channel: str) -> list[str]:
    """Sorted identifiers (email / E.164 phone / customer id) of everyone a tool must not contact on `channel`:
    no consent, do-not-contact (unknown counts as yes) or on the suppression / erasure list."""
    identifier = CHANNEL_IDENTIFIER[channel]
    no_consent = ~customers[f"consent_{channel}"].astype("boolean").fillna(False).to_numpy(bool)
    dnc = customers["do_not_contact"].astype("boolean").fillna(True).to_numpy(bool)
    erased = customers["customer_id"].astype(str).isin({str(s) for s in suppressed_ids}).to_numpy()
    values = customers.loc[no_consent | dnc | erased, identifier]
    return sorted({str(v) for v in values if not pd.isna(v) and str(v).strip()})

