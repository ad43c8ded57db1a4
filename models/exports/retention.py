"""Retention of published exports: which nights to keep (the newest N) and which entries of the exports folder
belong to the older ones (the `<date>` link, its hidden `.<date>.v*` versions and `run_summary_<date>.md`), plus
the model versions the kept nights' manifests name, which the MLflow retention must not delete."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from models.exports.contract import load_export_contract
from models.exports.publishing import remove_entry

NIGHT = r"\d{4}-\d{2}-\d{2}"
ENTRY_PATTERNS = (re.compile(rf"^({NIGHT})$"), re.compile(rf"^\.({NIGHT})\..+$"),
                  re.compile(rf"^run_summary_({NIGHT})\.md$"))


@dataclass(frozen=True)
class ExportsRetention:
    """The published nights kept (newest first) and the entries of older nights to delete."""

    kept_nights: tuple[str, ...]
    deletions: tuple[Path, ...]


def night_of(name: str) -> str | None:
    """The night (as-of date) an entry of the exports folder belongs to, or None for anything else."""
    for pattern in ENTRY_PATTERNS:
        match = pattern.match(name)
        if match:
            return match.group(1)
    return None


def plan_exports_retention(exports_root: Path, nights_to_keep: int) -> ExportsRetention:
    """Keep the newest `nights_to_keep` published nights (0: all); delete every entry of an older night.

    A published night is a `<date>` entry (the link the publisher swaps). The newest published night — the
    last good one — is always kept, and nothing dated on or after the oldest kept night is touched, so a night
    being written now (a hidden version newer than every link) is safe. Files of no night are never touched."""
    root = Path(exports_root)
    entries = sorted(root.iterdir()) if root.is_dir() else []
    published = sorted({e.name for e in entries if ENTRY_PATTERNS[0].match(e.name)}, reverse=True)
    if nights_to_keep <= 0 or len(published) <= nights_to_keep:
        return ExportsRetention(tuple(published), ())
    kept = tuple(published[:nights_to_keep])
    oldest_kept = kept[-1]
    old = tuple(e for e in entries if (night := night_of(e.name)) is not None and night < oldest_kept)
    return ExportsRetention(kept, old)


def model_versions_in_use(exports_root: Path, nights: tuple[str, ...]) -> dict[str, set[str]]:
    """{target: versions} that the manifests of `nights` name (`model_versions`): the models those lists came
    from. A night without a readable manifest names none."""
    manifest = load_export_contract()["manifest"]["file"]
    used: dict[str, set[str]] = {}
    for night in nights:
        path = Path(exports_root) / night / manifest
        try:
            versions = json.loads(path.read_text(encoding="utf-8")).get("model_versions", {})
        except (OSError, ValueError):
            continue
        for target, version in versions.items():
            used.setdefault(str(target), set()).add(str(version))
    return used


def delete_old_exports(plan: ExportsRetention) -> list[str]:
    """Delete the planned entries (links and files unlinked, version folders removed); their names."""
    for entry in plan.deletions:
        remove_entry(entry)
    return [entry.name for entry in plan.deletions]
