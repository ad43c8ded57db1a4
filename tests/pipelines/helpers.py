"""Shared pieces of the crash / rerun tests: one good night to start from, `nba run` as a killable
subprocess, and fingerprints and comparisons of published export sets."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow.parquet as pq

from tests.conftest import FAST_CONFIG

REPO = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 11, 1)
CUSTOMERS, SEED = 600, 7
HISTORY = (dt.date(2023, 11, 1), dt.date(2026, 10, 31))
# The manifest.json fields that differ between two runs of the same night on identical inputs, by design
# (data_contracts/exports.yaml: created_at, the write time, only; run_id is the deterministic campaign id).
# Every other manifest field and every data file must be byte-identical.
MANIFEST_RUN_FIELDS = ("created_at",)


@dataclass(frozen=True)
class GoodNight:
    """A landing folder, the fast config and a HOME after one successful night (never modified: copy it)."""

    landing: Path
    config: Path
    home: Path

    @property
    def exports(self) -> Path:
        return self.home / "exports"


_GOOD_NIGHTS: dict[Path, GoodNight] = {}


def good_night(tmp_path_factory) -> GoodNight:
    """One successful in-process night on a 600-customer world, made once per session and shared by the test files."""
    from demo.generator.world import generate_world, write_world
    from pipelines.runner import run_nightly

    key = tmp_path_factory.getbasetemp()
    if key not in _GOOD_NIGHTS:
        landing = tmp_path_factory.mktemp("crash_landing")
        write_world(generate_world(CUSTOMERS, SEED, *HISTORY), landing)
        config = tmp_path_factory.mktemp("crash_config") / "fast.yaml"
        config.write_text(FAST_CONFIG, encoding="utf-8")
        home = tmp_path_factory.mktemp("crash_base") / "home"
        outcome = run_nightly(home, landing, AS_OF, config)
        assert outcome.success, outcome.message
        _GOOD_NIGHTS[key] = GoodNight(landing, config, home)
    return _GOOD_NIGHTS[key]


def copy_home(night: GoodNight, destination: Path) -> Path:
    """A private copy of the good night's HOME (symlinks kept, so the published export set stays a symlink)."""
    return Path(shutil.copytree(night.home, destination / "home", symlinks=True))


def run_in_process(home: Path, night: GoodNight, as_of: dt.date = AS_OF, landing: Path | None = None):
    """One nightly run in this process (no kill needed: saves the import time of a subprocess)."""
    from pipelines.runner import run_nightly

    return run_nightly(home, landing or night.landing, as_of, night.config)


# ---------------------------------------------------------------- nba run as a subprocess

class NbaRun:
    """`nba run` in its own process group; its stderr progress lines ("  … <step>") are collected as they come."""

    def __init__(self, home: Path, night: GoodNight, as_of: dt.date = AS_OF, env: dict | None = None):
        command = [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(night.landing),
                   "--as-of", as_of.isoformat(), "--home", str(home), "--config", str(night.config)]
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def __enter__(self) -> "NbaRun":
        return self

    def __exit__(self, *exc) -> None:
        """Never leave a run behind when a test fails half-way."""
        self.kill()
        self.proc.wait(timeout=30)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def step_started(self, step: str) -> Callable[[], bool]:
        return lambda: f"  … {step}" in self.lines

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = 240) -> None:
        """Return the moment `condition()` holds (polled every millisecond); fails if the run ends first."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.proc.poll() is not None:
                self.reader.join(timeout=10)
                raise AssertionError(f"the run ended (exit {self.proc.returncode}) before that point:\n{self.stderr}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"that point was not reached within {timeout_s} s:\n{self.stderr}")
            time.sleep(0.001)

    def kill_when(self, condition: Callable[[], bool], timeout_s: float = 240) -> None:
        """SIGKILL the whole process group the moment `condition()` holds."""
        self.wait_until(condition, timeout_s)
        self.kill()
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self, timeout_s: float = 240) -> int:
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"nba run did not finish within {timeout_s} s:\n{self.stderr}") from None
        self.reader.join(timeout=10)
        return code


def assert_champions_trained_for(home: Path, as_of: dt.date) -> None:
    """Every model that scored tonight is the registered champion of HOME's MLflow store, trained for `as_of`,
    and the published manifest names exactly those versions."""
    import duckdb

    from models.training import registry
    from pipelines.resources import NbaHome

    con = duckdb.connect(str(home / "warehouse" / "nba.duckdb"), read_only=True)
    try:
        selected = dict(con.execute("SELECT target, version FROM model_selection").fetchall())
    finally:
        con.close()
    assert sorted(selected) == ["churn", "clv", "response", "upsell"], selected
    NbaHome(home_dir=str(home)).configure_tracking()
    for target, version in selected.items():
        champion = registry.champion_info(f"nba_{target}")
        assert champion is not None and (champion.version, champion.trained_as_of) == (version, as_of.isoformat()), target
    manifest = json.loads((home / "exports" / as_of.isoformat() / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model_versions"] == selected


# ---------------------------------------------------------------- export sets

def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def visible_exports(root: Path) -> dict[str, object]:
    """What a consumer can see under the exports root: every non-hidden name with its link target and
    the sha256 of every file it reaches (hidden `.<as_of>.v*` work folders are not part of it)."""
    seen: dict[str, object] = {}
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            seen[entry.name] = {"->": os.readlink(entry),
                                "files": {p.name: sha256(p) for p in sorted(entry.iterdir())} if entry.is_dir() else None}
        elif entry.is_dir():
            seen[entry.name] = {"dir": {p.name: sha256(p) for p in sorted(entry.iterdir())}}
        else:
            seen[entry.name] = sha256(entry)
    return seen


def hidden_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def assert_complete_set(root: Path, as_of: dt.date) -> Path:
    """`<as_of>` is a relative symlink to a hidden version folder whose manifest lists exactly its files,
    with matching sha256, size and row counts; returns the folder."""
    link = root / as_of.isoformat()
    assert link.is_symlink(), f"{link} is not a published symlink"
    target = os.readlink(link)
    assert "/" not in target and target.startswith(f".{as_of.isoformat()}.v"), target
    folder = root / target
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == as_of.isoformat()
    present = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert present == set(manifest["files"]), (present, set(manifest["files"]))
    for name, entry in manifest["files"].items():
        path = folder / name
        assert sha256(path) == entry["sha256"] and path.stat().st_size == entry["bytes"], name
        rows = pq.read_metadata(path).num_rows if name.endswith(".parquet") else len(read_csv(path))
        assert rows == entry["rows"], (name, rows, entry["rows"])
    return folder


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def export_differences(a: Path, b: Path) -> list[str]:
    """Every difference between two export sets, except the manifest's by-design MANIFEST_RUN_FIELDS; for a data file
    that differs, the columns that differ (with one example value from each side)."""
    names_a, names_b = {p.name for p in a.iterdir()}, {p.name for p in b.iterdir()}
    problems = [f"only in one set: {sorted(names_a ^ names_b)}"] if names_a != names_b else []
    changed = sorted(n for n in names_a & names_b - {"manifest.json"} if (a / n).read_bytes() != (b / n).read_bytes())
    for name in changed:
        problems += [f"{name}: {why}" for why in frame_differences(a / name, b / name)]
    if "manifest.json" in names_a & names_b:
        problems += manifest_differences(a / "manifest.json", b / "manifest.json", changed)
    return problems


def manifest_differences(a: Path, b: Path, changed_files: list[str]) -> list[str]:
    """Manifest fields that differ, except the run fields and the sha256 / bytes of files already reported."""
    left, right = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
    for manifest in (left, right):
        for field in MANIFEST_RUN_FIELDS:
            manifest.pop(field, None)
    echoes = {f"files.{name}.{key}" for name in changed_files for key in ("sha256", "bytes")}
    return [f"manifest.json: {path} differs ({x!r} vs {y!r})"
            for path, x, y in _leaf_differences(left, right) if path not in echoes]


def _leaf_differences(x, y, path: str = "") -> list[tuple[str, object, object]]:
    if isinstance(x, dict) and isinstance(y, dict):
        return [d for key in sorted(set(x) | set(y)) for d in _leaf_differences(x.get(key), y.get(key), f"{path}.{key}".lstrip("."))]
    return [] if x == y else [(path, x, y)]


def frame_differences(a: Path, b: Path) -> list[str]:
    left, right = ((read_csv(p) if p.suffix == ".csv" else pq.read_table(p).to_pandas()) for p in (a, b))
    if list(left.columns) != list(right.columns) or len(left) != len(right):
        return [f"shape or columns differ ({left.shape} vs {right.shape})"]
    changed = [c for c in left.columns if not left[c].equals(right[c])]
    if not changed:
        return ["same values, different bytes"]
    out = []
    for column in changed:
        x, y = left[column], right[column]
        row = next(i for i in range(len(x)) if not (x.iloc[i] == y.iloc[i] or pd.isna(x.iloc[i]) and pd.isna(y.iloc[i])))
        out.append(f"column {column} differs (e.g. row {row}: {left[column].iloc[row]!r} vs {right[column].iloc[row]!r})")
    return out


def write_without_column(source, target, column: str) -> None:
    """Copy a CSV extract without one of its columns."""
    with open(source, newline="", encoding="utf-8") as src, open(target, "w", newline="", encoding="utf-8") as out:
        rows = csv.reader(src)
        header = next(rows)
        drop = header.index(column)
        writer = csv.writer(out, lineterminator="\n")
        for row in [header, *rows]:
            writer.writerow(row[:drop] + row[drop + 1:])
