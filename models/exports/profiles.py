"""Export profiles (`data_contracts/export_profiles/<name>.yaml`): how one marketing, call-center or spreadsheet
tool wants tonight's contacts, read and checked once.

A profile states the channels it takes, its columns (name, source field, required, channels), CSV dialect
(encoding, BOM, delimiter, decimal separator, date format, line ending, newline handling, formula
neutralisation), phone format, priority scale and direction, file naming, size limits per file and its
suppression file. The `standard` profile is the export contract itself (data_contracts/exports.yaml).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from models.exports.contract import check_file_name

PROFILES_DIR = Path(__file__).resolve().parents[2] / "data_contracts" / "export_profiles"
STANDARD = "standard"
CHANNELS = ("email", "sms", "phone", "app")
# The one field that identifies a customer to a tool on each channel (suppression files carry only it).
CHANNEL_IDENTIFIER = {"email": "email", "sms": "phone", "phone": "phone", "app": "customer_id"}
# Fields a profile column may take; anything not listed here is text.
SOURCE_TYPES = {"customer_id": "text", "email": "text", "phone": "phone", "first_name": "text", "last_name": "text",
                "action_id": "text", "action_name": "text", "offer": "text", "script_hint": "text", "reasons": "text",
                "rank": "int", "priority": "priority", "expected_value": "decimal", "campaign_id": "text",
                "valid_until": "date", "channel": "text", "country": "text", "phone_country": "text",
                "time_zone": "text", "language": "text", "as_of": "date"}
PHONE_FORMATS = ("e164", "e164_digits")
CSV_DEFAULTS = {"encoding": "utf-8", "bom": False, "delimiter": ",", "decimal": ".", "date_format": "%Y-%m-%d",
                "line_terminator": "\n", "newlines": "space", "formula_neutralisation": False}


class ProfileError(ValueError):
    """A profile file is wrong, or tonight's data cannot satisfy a profile."""


def load_profiles(names: list[str], folder: Path = PROFILES_DIR) -> dict[str, dict]:
    """The profiles `exports.profiles` names, each checked; an unknown name lists the known ones."""
    if isinstance(names, str) or not isinstance(names, list) or not names:
        raise ProfileError(f"exports.profiles must be a non-empty list of profile names, got {names!r}.")
    known = sorted(p.stem for p in Path(folder).glob("*.yaml"))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ProfileError(f"exports.profiles names {unknown[0]!r}, which has no file in {folder}; known: {', '.join(known)}.")
    if len(set(names)) != len(names):
        raise ProfileError(f"exports.profiles names a profile twice: {names}.")
    return {name: load_profile(Path(folder) / f"{name}.yaml") for name in names}


def load_profile(path: Path) -> dict:
    """One profile file with its defaults filled in; a wrong key or value names the file and the field."""
    profile = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    where = Path(path).name
    if profile.get("profile") != Path(path).stem:
        raise ProfileError(f"{where}: field profile must be {Path(path).stem!r}, got {profile.get('profile')!r}.")
    if profile["profile"] == STANDARD:
        return profile
    channels = profile.get("channels") or []
    if not channels or set(channels) - set(CHANNELS):
        raise ProfileError(f"{where}: channels must be a list of {', '.join(CHANNELS)}, got {channels!r}.")
    profile["csv"] = {**CSV_DEFAULTS, **(profile.get("csv") or {})}
    _check_csv(profile["csv"], where)
    if profile.setdefault("phone_format", "e164") not in PHONE_FORMATS:
        raise ProfileError(f"{where}: phone_format {profile['phone_format']!r} is not one of {', '.join(PHONE_FORMATS)}.")
    if profile.setdefault("split_by", "action") not in ("action", "channel"):
        raise ProfileError(f"{where}: split_by must be action or channel, got {profile['split_by']!r}.")
    for field in ("file_name", "suppression_file"):
        _check_pattern(profile.get(field), f"{where}: {field}", needs_part=field == "file_name")
    if profile["split_by"] == "action" and "{action_id}" not in profile["file_name"]:
        raise ProfileError(f"{where}: file_name must contain {{action_id}} when split_by is action.")
    for limit in ("max_rows", "max_bytes"):
        if not isinstance(profile.get(limit), int) or profile[limit] < 1:
            raise ProfileError(f"{where}: {limit} must be a positive integer, got {profile.get(limit)!r}.")
    _check_priority(profile.get("priority"), where)
    _check_columns(profile.get("columns"), channels, where)
    names = profile.get("suppression_columns") or {}
    if set(names) != {CHANNEL_IDENTIFIER[c] for c in channels}:
        raise ProfileError(f"{where}: suppression_columns must name exactly the identifiers "
                           f"{sorted({CHANNEL_IDENTIFIER[c] for c in channels})} of its channels, got {sorted(names)}.")
    return profile


def profile_columns(profile: dict, channel: str) -> list[dict]:
    """The columns a profile writes for one channel, in order."""
    return [c for c in profile["columns"] if channel in c.get("channels", profile["channels"])]


def _check_csv(fmt: dict, where: str) -> None:
    if fmt["encoding"] not in ("utf-8", "cp1252", "latin-1"):
        raise ProfileError(f"{where}: csv.encoding {fmt['encoding']!r} must be utf-8, cp1252 or latin-1.")
    for key in ("delimiter", "decimal"):
        value = fmt[key]
        if not isinstance(value, str) or len(value) != 1 or value.isalnum() or value in "\"'\r\n":
            raise ProfileError(f"{where}: csv.{key} {value!r} must be one character that is not a letter, digit, quote or newline.")
    if fmt["delimiter"] == fmt["decimal"]:
        raise ProfileError(f"{where}: csv.delimiter and csv.decimal are both {fmt['delimiter']!r}.")
    if fmt["line_terminator"] not in ("\n", "\r\n") or fmt["newlines"] not in ("space", "keep"):
        raise ProfileError(f"{where}: csv.line_terminator must be \\n or \\r\\n and csv.newlines space or keep.")


def _check_pattern(pattern, where: str, needs_part: bool) -> None:
    if not isinstance(pattern, str) or "{channel}" not in pattern or "{as_of}" not in pattern \
            or (needs_part and "{part}" not in pattern):
        raise ProfileError(f"{where} {pattern!r} must contain {{channel}}, {{as_of}}" + (" and {part}." if needs_part else "."))
    check_file_name(pattern.replace("{", "").replace("}", ""))


def _check_priority(priority, where: str) -> None:
    if priority is None:
        return
    low, high, first = (priority.get(k) for k in ("lowest", "highest", "first_is")) if isinstance(priority, dict) else (None,) * 3
    if not (isinstance(low, int) and isinstance(high, int) and low < high and first in ("lowest", "highest")):
        raise ProfileError(f"{where}: priority must be {{lowest: int, highest: int > lowest, first_is: lowest|highest}}, "
                           f"got {priority!r}.")


def _check_columns(columns, channels: list[str], where: str) -> None:
    if not columns:
        raise ProfileError(f"{where}: columns is empty.")
    for column in columns:
        if column.get("source") not in SOURCE_TYPES:
            raise ProfileError(f"{where}: column {column.get('name')!r} has unknown source {column.get('source')!r}; "
                               f"known: {', '.join(SOURCE_TYPES)}.")
        if set(column.get("channels", channels)) - set(channels):
            raise ProfileError(f"{where}: column {column['name']!r} names a channel the profile does not take.")
    for channel in channels:
        sources = [c["source"] for c in columns if channel in c.get("channels", channels)]
        if "customer_id" not in sources:
            raise ProfileError(f"{where}: the {channel} files need a customer_id column (the compliance check and "
                               "the feedback read it).")
        contact = CHANNEL_IDENTIFIER[channel]
        if contact != "customer_id" and not any(c["source"] == contact and c.get("required") for c in columns
                                                if channel in c.get("channels", channels)):
            raise ProfileError(f"{where}: the {channel} files need a required {contact} column.")
