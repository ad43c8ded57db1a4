"""Publishing one night's export set: files written into a hidden folder, checked, described by a manifest,
then made visible by one atomic symlink swap; older versions of the date are removed."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from models.exports.columns import coerce_columns, required_info, to_date
from models.exports.compliance import ComplianceInputs, assert_export_compliance
from models.exports.contract import CONTRACT_PATH, check_file_name, load_export_contract, resolve_inside
from models.exports.files import csv_format, write_csv, write_parquet
from models.exports.profile_files import suppression_identifiers, write_profile_set
from models.exports.profiles import CHANNELS, STANDARD

RUN_INFO_KEYS = ("campaign_id", "policy_version", "model_versions", "control_group_share", "valid_until")


def write_export_set(lists: dict[str, pd.DataFrame], extra: dict[str, pd.DataFrame], exports_root: Path,
                     as_of: dt.date, run_info: dict, config: dict, compliance: ComplianceInputs,
                     *, contract: dict | None = None, profiles: dict[str, dict] | None = None,
                     contacts: pd.DataFrame | None = None) -> Path:
    """Write, check and publish one night's export set; returns `exports_root/<as_of>` (a symlink).

    `profiles` (load_profiles; default: standard only) chooses what is written: `standard` writes the contract's
    lists and extras at the top of the set, every other profile its audiences and suppression files from
    `contacts` (build_contact_rows) into `<profile>/`. The manifest lists every file with its profile.

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
    profiles = profiles if profiles is not None else {STANDARD: {"profile": STANDARD}}
    tools = {name: p for name, p in profiles.items() if name != STANDARD}
    if tools and contacts is None:
        raise ValueError(f"Export profiles {sorted(tools)} need tonight's contact rows.")
    plan = plan_files(lists, extra, contract) if STANDARD in profiles else []
    suppression = {c: suppression_identifiers(compliance.customers, compliance.suppressed_ids, c) for c in CHANNELS} \
        if tools else {}
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
            files[file_name] = {**owner, "profile": STANDARD, "format": file_fmt, "rows": len(frame),
                                "bytes": path.stat().st_size, "sha256": digest}
        plan = frame = None  # the typed copies are written: the compliance check re-reads the files, not them
        profile_files = {}
        for name in sorted(tools):
            profile_files |= write_profile_set(staging, tools[name], contacts, suppression, day)
        assert_export_compliance(staging, compliance.customers, compliance.suppressed_ids, contract=contract,
                                 raw_opt_outs=compliance.raw_opt_outs, profiles=tools, profile_files=profile_files,
                                 standard=STANDARD in profiles, neutralised=fmt["formula_neutralisation"])
        files |= profile_files
        head["profiles"] = sorted(profiles)
        manifest = {**head, "files": files, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        resolve_inside(staging, contract["manifest"]["file"]).write_text(
            json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for sub in sorted(tools):
            _fsync_dir(staging / sub)
        _fsync_dir(staging)
        publish_version(root, link, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(root)
    remove_old_versions(root, day.isoformat(), keep=staging.name)
    return link


def recheck_published_set(folder: Path, compliance: ComplianceInputs, profiles: dict[str, dict], config: dict,
                          *, contract: dict | None = None) -> int:
    """Re-read a published set as a consumer sees it (every file its manifest lists, each profile's in its own
    dialect) and raise ComplianceError on any contact rule broken; returns the number of files checked."""
    contract = contract or load_export_contract()
    manifest = json.loads(resolve_inside(Path(folder), contract["manifest"]["file"]).read_text(encoding="utf-8"))
    profile_files = {name: entry for name, entry in manifest["files"].items()
                     if entry.get("profile", STANDARD) != STANDARD}
    assert_export_compliance(Path(folder), compliance.customers, compliance.suppressed_ids, contract=contract,
                             raw_opt_outs=compliance.raw_opt_outs,
                             profiles={name: p for name, p in profiles.items() if name != STANDARD},
                             profile_files=profile_files, standard=STANDARD in profiles,
                             neutralised=csv_format(config)["formula_neutralisation"])
    return len(manifest["files"])

def manifest_head(run_info: dict, day: dt.date, contract: dict, fmt: dict) -> dict:
    """The run facts the manifest records; the run's as_of, when given, must be the export date."""
    if "as_of" in run_info and to_date(run_info["as_of"], "run_info.as_of") != day:
        raise ValueError(f"run_info.as_of {run_info['as_of']!s} differs from the export date {day}.")
    head = {key: required_info(run_info, key) for key in RUN_INFO_KEYS}
    head["valid_until"] = to_date(head["valid_until"], "run_info.valid_until").isoformat()
    head["model_versions"] = {str(k): str(v) for k, v in dict(head["model_versions"]).items()}
    head["control_group_share"] = float(head["control_group_share"])
    head["baseline_models"] = sorted(str(t) for t in run_info.get("baseline_models", ()))  # rule scored, no model
    head["run_id"] = head.pop("campaign_id")  # the published manifest field keeps its name, run_id
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
            remove_entry(entry)
            removed.append(entry.name)
    return removed


def remove_entry(entry: Path) -> None:
    """Delete one entry of the exports folder: a version folder with its files, or a link or file itself."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
