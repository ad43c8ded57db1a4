"""`nba bench`: generate a world, measure the DuckDB floor, run the nightly job and report time, rows and memory.

Every phase runs in its own child process (`nba generate`, the floor, `nba run`) so the figures are those of a
real night. Per-step wall time and row counts come from the run's Dagster event log under HOME/dagster
(STEP_START -> STEP_SUCCESS/STEP_FAILURE timestamps, materialization metadata). Memory is the summed RSS of
the child's whole process tree, sampled every 0.2 s (psutil when importable, else /proc) and attributed to
the step running at the time of each sample.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from demo.generator.world import WORLD_EXTRACTS

try:
    import psutil
except ImportError:  # not a dependency: /proc does the same job on Linux
    psutil = None

AS_OF = dt.date(2026, 11, 1)
SAMPLE_INTERVAL_S = 0.2
GB = 1e9  # memory is reported in GB of 10^9 bytes, the stricter reading of "6 GB"
FLOOR_MARK = "NBA_BENCH_FLOOR "
STAGE_OF_LAYER = {"raw": "ingest", "validated": "validate", "golden": "golden", "features": "features",
                  "models": "train", "scores": "score", "decisions": "decide", "exports": "export"}
FLOOR_STAGES = ("ingest", "validate", "features")
UPSTREAM_ASSETS = {  # what a step reads: its rows_in when its asset does not report one
    "golden": ("validated/customers", "validated/purchases", "validated/interactions"),
    "features": ("golden/golden_customers", "golden/purchases", "golden/interactions"),
    "score": ("features/customer_features",),
    "decide": ("scores/customer_scores",),
    "export": ("decisions/next_best_actions",),
}
ROWS_IN_KEYS = ("rows_in", "training_rows")


def add_commands(sub) -> None:
    """Register `nba bench` on the `nba` sub-command parser."""
    from pipelines.cli import _positive_int

    bench = sub.add_parser("bench", help="generate N customers, run the nightly job, report time/rows/memory per step")
    bench.add_argument("--customers", type=_positive_int, required=True, help="number of people to generate")
    bench.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    bench.add_argument("--out", help="folder for landing/, home/ and floor.duckdb (default: a temporary folder)")
    bench.add_argument("--keep", action="store_true", help="keep landing/, home/ and floor.duckdb after the report")
    bench.add_argument("--json", help="write the report here (default bench_runs/<timestamp>-<N>.json)")
    bench.add_argument("--config", help="configuration override passed to nba run (default: the shipped defaults)")
    bench.add_argument("--baseline", help="report of the other scale (100k or 1M) for the 10x scaling target "
                                          "(default: the latest successful one next to the report)")
    bench.set_defaults(func=cmd_bench)


# ---------------------------------------------------------------- memory sampling

def tree_rss(pid: int) -> int:
    """Summed resident memory (bytes) of `pid` and all its descendants; 0 once it has exited."""
    if psutil is not None:
        try:
            procs = [psutil.Process(pid)]
            procs += procs[0].children(recursive=True)
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total
    parents, rss = _proc_table()
    children = collections.defaultdict(list)
    for child, parent in parents.items():
        children[parent].append(child)
    tree, frontier = set(), [pid]
    while frontier:
        current = frontier.pop()
        if current in rss and current not in tree:
            tree.add(current)
            frontier += children[current]
    return sum(rss[p] for p in tree)


def _proc_table() -> tuple[dict[int, int], dict[int, int]]:
    """pid -> parent pid and pid -> RSS bytes for every process, from /proc/<pid>/stat."""
    page = os.sysconf("SC_PAGE_SIZE")
    parents, rss = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data[data.rindex(b")") + 2:].split()  # fields[0] is stat field 3 (state)
        parents[int(entry.name)] = int(fields[1])
        rss[int(entry.name)] = int(fields[21]) * page
    return parents, rss


class TreeSampler:
    """Samples tree_rss(pid) every SAMPLE_INTERVAL_S seconds in a background thread."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[tuple[float, int]] = []  # (epoch seconds, bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), tree_rss(self.pid)))
            self._stop.wait(SAMPLE_INTERVAL_S)

    def start(self) -> "TreeSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float | None = None, end: float | None = None) -> int:
        """Highest sample in [start, end]; for a window shorter than the interval, the next sample after it."""
        start, end = start or float("-inf"), end or float("inf")
        inside = [b for t, b in self.samples if start <= t <= end]
        after = [b for t, b in self.samples if t > end][:1]
        return max(inside or after or [0])


# ---------------------------------------------------------------- child processes

@dataclass
class ChildResult:
    exit_code: int
    started_at: float  # epoch seconds
    ended_at: float
    wall_seconds: float
    peak_rss_bytes: int  # sampled, whole process tree
    max_rss_single_bytes: int  # kernel's ru_maxrss of the child (largest single process, exact)
    cpu_seconds: float  # user + system CPU of the child and its waited-for children
    sampler: TreeSampler
    output: list[str] = field(default_factory=list)  # last lines


def run_child(command: list[str], echo: bool = True, env: dict | None = None) -> ChildResult:
    """Run `command`, relay its output line by line, sample its memory and time it."""
    started, clock = time.time(), time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", env=env)
    sampler = TreeSampler(proc.pid).start()
    tail: collections.deque[str] = collections.deque(maxlen=60)
    for line in proc.stdout:
        tail.append(line.rstrip("\n"))
        if echo:
            print(f"    | {tail[-1]}", flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall, ended = time.perf_counter() - clock, time.time()
    sampler.stop()
    return ChildResult(proc.returncode, started, ended, wall, sampler.peak(), usage.ru_maxrss * 1024,
                       usage.ru_utime + usage.ru_stime, sampler, list(tail))


def child_env() -> dict:
    """The child's environment: unbuffered output and always the local MLflow store under HOME."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "NBA_MLFLOW_TRACKING_URI": ""}


def nba_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


# ---------------------------------------------------------------- the floor

def load_floor(landing: Path, db_path: Path, threads: int, memory_limit: str) -> dict:
    """Read each extract once with DuckDB into a fresh database (CREATE TABLE AS SELECT * FROM read_csv).

    Only the three statements are the floor; closing the database (its checkpoint, which the night's steps
    pay inside their own time) is timed apart and reported, not counted.
    """
    import duckdb

    con = duckdb.connect(str(db_path))
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    files = {}
    for extract in WORLD_EXTRACTS:
        path = landing / f"{extract}.csv"
        clock = time.perf_counter()
        con.execute(f"CREATE TABLE {extract} AS SELECT * FROM read_csv('{path}')")
        seconds = time.perf_counter() - clock
        rows = con.execute(f"SELECT count(*) FROM {extract}").fetchone()[0]
        files[extract] = {"seconds": seconds, "rows": int(rows), "bytes": path.stat().st_size}
    clock = time.perf_counter()
    con.close()
    return {"files": files, "close_seconds": time.perf_counter() - clock}


def floor_child(argv: list[str]) -> None:
    """Entry point of the floor's child process: prints the load_floor result as one marked JSON line."""
    landing, db_path, threads, memory_limit = argv
    print(FLOOR_MARK + json.dumps(load_floor(Path(landing), Path(db_path), int(threads), memory_limit)), flush=True)


def measure_floor(landing: Path, db_path: Path, config_path: str | None) -> dict:
    """The floor in a child process, with the warehouse's DuckDB threads and memory limit."""
    from pipelines.settings import load_config

    warehouse = load_config(config_path).get("warehouse", {})
    code = "import sys; from demo.bench import floor_child; floor_child(sys.argv[1:])"
    child = run_child([sys.executable, "-c", code, str(landing), str(db_path), str(warehouse.get("threads", 2)),
                       str(warehouse.get("memory_limit", "4GB"))], echo=False, env=child_env())
    marked = [line for line in child.output if line.startswith(FLOOR_MARK)]
    if child.exit_code != 0 or not marked:
        raise RuntimeError("the floor measurement failed: " + " / ".join(child.output[-5:]))
    measured = json.loads(marked[-1][len(FLOOR_MARK):])
    files = measured["files"]
    return {"seconds": sum(f["seconds"] for f in files.values()), "files": files,
            "close_seconds_not_counted": measured["close_seconds"],
            "process_wall_seconds": child.wall_seconds, "peak_rss_bytes": child.peak_rss_bytes,
            "statement": "CREATE TABLE <extract> AS SELECT * FROM read_csv('<landing>/<extract>.csv')"}


# ---------------------------------------------------------------- the run's steps

def read_steps(home: Path) -> tuple[str | None, list[dict]]:
    """The latest run of HOME's Dagster instance: per step its start/end (epoch s), status and asset metadata."""
    from pipelines.runner import dagster_instance

    instance = dagster_instance(home)
    try:
        runs = instance.get_runs(limit=1)
        if not runs:
            return None, []
        steps: dict[str, dict] = {}
        for record in instance.all_logs(runs[0].run_id):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            step = steps.setdefault(event.step_key, {"step": event.step_key, "start": None, "end": None,
                                                     "status": "running", "assets": {}})
            kind = event.event_type_value
            if kind == "STEP_START":
                step["start"] = record.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
                step["end"], step["status"] = record.timestamp, "ok" if kind == "STEP_SUCCESS" else "failed"
            elif kind == "ASSET_MATERIALIZATION":
                materialization = event.event_specific_data.materialization
                step["assets"][materialization.asset_key.to_user_string()] = {
                    k: v.value for k, v in materialization.metadata.items()
                    if isinstance(v.value, (int, float)) and not isinstance(v.value, bool)}
        return runs[0].run_id, sorted(steps.values(), key=lambda s: s["start"] or float("inf"))
    finally:
        instance.dispose()


def stage_of(step: dict) -> str:
    """The pipeline stage of a step, from the layer of its first asset (or of its step key)."""
    layer = next(iter(step["assets"]), step["step"]).split("/")[0].split("__")[0]
    layer = next((name for name in STAGE_OF_LAYER if layer.startswith(name)), layer)
    return STAGE_OF_LAYER.get(layer, layer)


def summarise_steps(steps: list[dict], sampler: TreeSampler, ended_at: float) -> list[dict]:
    """Per step: stage, wall seconds, rows in/out, rows per second, peak RSS of the process tree and the
    numeric metadata of each asset it materialized (row counts, model metrics: what to diff between runs)."""
    rows_of = {key: meta["dagster/row_count"] for s in steps for key, meta in s["assets"].items()
               if "dagster/row_count" in meta}
    summary = []
    for step in steps:
        stage, metas = stage_of(step), list(step["assets"].values())
        end = step["end"] or ended_at
        seconds = end - step["start"] if step["start"] else 0.0
        rows_out = (sum(m["dagster/row_count"] for m in metas if "dagster/row_count" in m)
                    or sum(v for m in metas for k, v in m.items() if k.startswith("rows_")) or None)
        rows_in = sum(m[k] for m in metas for k in ROWS_IN_KEYS if k in m) or None
        if rows_in is None and stage in UPSTREAM_ASSETS:
            rows_in = sum(rows_of.get(key, 0) for key in UPSTREAM_ASSETS[stage]) or None
        processed = rows_in or rows_out
        summary.append({"step": step["step"], "stage": stage, "status": step["status"], "seconds": seconds,
                        "rows_in": rows_in, "rows_out": rows_out,
                        "rows_per_second": processed / seconds if processed and seconds > 0 else None,
                        "peak_rss_bytes": sampler.peak(step["start"], end),
                        "assets": {key: step["assets"][key] for key in sorted(step["assets"])}})
    return summary


def summarise_stages(steps: list[dict], run_seconds: float) -> dict[str, dict]:
    """Seconds, share of the run and peak RSS per stage, in pipeline order."""
    stages: dict[str, dict] = {}
    for step in steps:
        stage = stages.setdefault(step["stage"], {"seconds": 0.0, "peak_rss_bytes": 0})
        stage["seconds"] += step["seconds"]
        stage["peak_rss_bytes"] = max(stage["peak_rss_bytes"], step["peak_rss_bytes"])
    for stage in stages.values():
        stage["share_of_run"] = stage["seconds"] / run_seconds if run_seconds else None
    return stages


# ---------------------------------------------------------------- machine, targets, report

def describe_machine() -> dict:
    """nproc, CPU model, memory and software versions of this machine."""
    cpu = "unknown"
    memory = 0
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo", encoding="utf-8")
                    if l.startswith("model name")), platform.processor() or "unknown")
        memory = next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo", encoding="utf-8")
                      if l.startswith("MemTotal:"))
    except (OSError, StopIteration):
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu, "memory_total_bytes": memory,
            "platform": platform.platform(), "python": platform.python_version(),
            "versions": {p: _version(p) for p in ("duckdb", "dagster", "xgboost-cpu", "mlflow", "great-expectations")},
            "rss_source": "psutil" if psutil is not None else "/proc", "sample_interval_seconds": SAMPLE_INTERVAL_S}


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def describe_code() -> dict:
    """The commit the run used and how many files differed from it (the tree may change under a long bench)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "modified_files": None if status is None else len(status.splitlines())}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def find_counterpart(report: dict, folder: Path, explicit: str | None) -> tuple[str | None, dict | None]:
    """The report of the other scale for the 10x target: --baseline, else the latest successful one in `folder`."""
    other = {100_000: 1_000_000, 1_000_000: 100_000}.get(report["customers"])
    if explicit:
        return explicit, json.loads(Path(explicit).read_text(encoding="utf-8"))
    if other is None or not folder.is_dir():
        return None, None
    found = []
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("customers") == other and data.get("run", {}).get("success"):
            found.append((data.get("started_at", ""), str(path), data))
    return (max(found)[1], max(found)[2]) if found else (None, None)


def evaluate_targets(report: dict, counterpart: dict | None) -> list[dict]:
    """The issue's targets as met / missed / n/a for this report (a failed run misses its time targets)."""
    n, run = report["customers"], report["run"]
    wall = run["wall_seconds"] if run["success"] else None
    scaling = None
    if counterpart is not None and wall is not None:
        other = counterpart["run"]["wall_seconds"]
        scaling = wall / other if n == 1_000_000 else other / wall
    specs = [
        ("100k customers: nightly run <= 90 s", n == 100_000, wall, 90.0, "s"),
        ("1M customers: nightly run <= 10 min", n == 1_000_000, wall, 600.0, "s"),
        ("1M customers: peak RSS <= 6 GB", n == 1_000_000, run["peak_rss_bytes"] / GB, 6.0, "GB"),
        ("time(1M) <= 10 x time(100k)", n in (100_000, 1_000_000), scaling, 10.0, "x"),
        ("ingest+validate+features <= 3 x floor", True, report.get("floor_ratio"), 3.0, "x"),
    ]
    targets = []
    for name, applies, measured, limit, unit in specs:
        status = "n/a" if not applies or (measured is None and run["success"]) else \
            "missed" if measured is None or measured > limit else "met"
        targets.append({"target": name, "limit": limit, "unit": unit, "measured": measured if applies else None,
                        "status": status})
    return targets


def _fmt(value, spec: str = ",.0f", empty: str = "-") -> str:
    return empty if value is None else format(value, spec)


def format_report(report: dict) -> str:
    """The printed report: context, the step table, the stage table, floor and totals, the targets."""
    return "\n".join([*_context_lines(report), "", *_step_lines(report), "", *_stage_lines(report), "",
                      *_floor_lines(report), "", *_target_lines(report)])


def _context_lines(report: dict) -> list[str]:
    m, gen = report["machine"], report["generation"]
    return [f"nba bench - {report['customers']:,} customers, seed {report['seed']}, as of {report['as_of']}, "
            f"started {report['started_at']}, code {(report['code']['commit'] or '?')[:10]}"
            f" ({report['code']['modified_files']} modified files)",
            f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_total_bytes'] / GB:.1f} GB RAM; load average "
            f"(1/5/15 min) at start {m['load_average_start']}, before the run {m['load_average_before_run']}, "
            f"at end {m['load_average_end']}",
            f"generation (nba generate, not part of the night): {gen['wall_seconds']:.1f} s, "
            f"peak RSS {gen['peak_rss_bytes'] / GB:.2f} GB, {gen['bytes'] / GB:.2f} GB of CSV"]


def _step_lines(report: dict) -> list[str]:
    run = report["run"]
    lines = [f"{'stage':9} {'step':30} {'status':6} {'wall s':>8} {'rows in':>12} {'rows out':>12} "
             f"{'rows/s':>10} {'peak GB':>8}"]
    for s in report["steps"]:
        lines.append(f"{s['stage']:9} {s['step']:30} {s['status']:6} {s['seconds']:8.1f} {_fmt(s['rows_in']):>12} "
                     f"{_fmt(s['rows_out']):>12} {_fmt(s['rows_per_second']):>10} {s['peak_rss_bytes'] / GB:8.2f}")
    outcome = "ok" if run["success"] else "FAILED"
    return lines + [f"{'':9} {'startup (process start -> 1st step)':37} {_fmt(run['startup_seconds'], '8.1f')}",
                    f"{'':9} {'teardown (last step -> exit)':37} {_fmt(run['teardown_seconds'], '8.1f')}",
                    f"{'total':9} {'nba run (' + outcome + ')':37} {run['wall_seconds']:8.1f}{'':48}"
                    f"{run['peak_rss_bytes'] / GB:8.2f}"]


def _stage_lines(report: dict) -> list[str]:
    run = report["run"]
    lines = [f"{'stage':9} {'wall s':>8} {'share':>6} {'peak GB':>8}"]
    for name, st in report["stages"].items():
        share = _fmt(st["share_of_run"], "6.0%")
        lines.append(f"{name:9} {st['seconds']:8.1f} {share} {st['peak_rss_bytes'] / GB:8.2f}")
    for name in ("startup", "teardown"):
        seconds = run[f"{name}_seconds"]
        share = seconds / run["wall_seconds"] if seconds is not None and run["wall_seconds"] else None
        lines.append(f"{name:9} {_fmt(seconds, '8.1f')} {_fmt(share, '6.0%')}")
    return lines


def _floor_lines(report: dict) -> list[str]:
    m, run, floor = report["machine"], report["run"], report["floor"]
    files = ", ".join(f"{k} {v['rows']:,} rows {v['seconds']:.1f} s" for k, v in floor["files"].items())
    closing = floor.get("close_seconds_not_counted")
    return [f"floor: DuckDB CREATE TABLE AS SELECT * FROM read_csv, 3 files, fresh database: {floor['seconds']:.1f} s "
            f"(peak RSS {floor['peak_rss_bytes'] / GB:.2f} GB) - {files}"
            + (f"; closing that database (its checkpoint) took {closing:.1f} s more, not counted" if closing else ""),
            f"ingest + validate + features: {report['ingest_validate_features_seconds']:.1f} s = "
            f"{_fmt(report['floor_ratio'], '.2f')} x floor",
            f"nba run CPU time (user+system): {run['cpu_seconds']:.1f} s on {m['nproc']} CPUs; largest single "
            f"process (kernel ru_maxrss): {run['max_rss_single_bytes'] / GB:.2f} GB"]


def _target_lines(report: dict) -> list[str]:
    lines = ["targets"]
    for t in report["targets"]:
        digits = 1 if t["unit"] == "s" else 2
        measured = "" if t["measured"] is None else f"measured {t['measured']:.{digits}f} {t['unit']} "
        lines.append(f"  {t['target']:42} {t['status']:7} {measured}(limit {t['limit']:g} {t['unit']})")
    if report.get("baseline"):
        lines.append(f"  (scaling compared with {report['baseline']})")
    if not report["run"]["success"]:
        lines += ["", "the nightly run FAILED: " + " / ".join(report["run"]["output_tail"][-3:])]
    return lines


# ---------------------------------------------------------------- the command

def cmd_bench(args) -> int:
    """Generate, measure the floor, run the night, print and save the report."""
    problem = check_arguments(args)
    if problem:
        print(f"nba bench: {problem}", file=sys.stderr)
        return 2
    started = dt.datetime.now()
    work = Path(args.out).expanduser().resolve() if args.out else Path(tempfile.mkdtemp(prefix="nba_bench_"))
    landing, home, floor_db = work / "landing", work / "home", work / "floor.duckdb"
    taken = [p for p in (landing, home, floor_db) if p.exists()]
    if taken:
        print(f"nba bench: {taken[0]} already exists; give --out a folder without landing/, home/ or floor.duckdb",
              file=sys.stderr)
        return 2
    json_path = Path(args.json or f"bench_runs/{started:%Y%m%d-%H%M%S}-{args.customers}.json")
    report = {"customers": args.customers, "seed": args.seed, "as_of": AS_OF.isoformat(),
              "started_at": started.isoformat(timespec="seconds"), "config": args.config, "work_dir": str(work),
              "code": describe_code()}
    report["machine"] = describe_machine() | {"load_average_start": load_average()}
    try:
        print(f"nba bench: generating {args.customers:,} customers into {landing}", flush=True)
        gen = run_child(nba_command("generate", "--customers", str(args.customers), "--seed", str(args.seed),
                                    "--out", str(landing)), env=child_env())
        if gen.exit_code != 0:
            print("nba bench: generation failed: " + " / ".join(gen.output[-3:]), file=sys.stderr)
            return 1
        report["generation"] = {"wall_seconds": gen.wall_seconds, "cpu_seconds": gen.cpu_seconds,
                                "peak_rss_bytes": gen.peak_rss_bytes,
                                "bytes": sum((landing / f"{e}.csv").stat().st_size for e in WORLD_EXTRACTS)}
        print("nba bench: measuring the floor (DuckDB reading the three extracts once)", flush=True)
        report["floor"] = measure_floor(landing, floor_db, args.config)
        report["machine"]["load_average_before_run"] = load_average()
        print(f"nba bench: nightly run as of {AS_OF} (home {home})", flush=True)
        run_args = ["run", "--landing", str(landing), "--as-of", AS_OF.isoformat(), "--home", str(home)]
        run = run_child(nba_command(*run_args, *(["--config", args.config] if args.config else [])), env=child_env())
        report["machine"]["load_average_end"] = load_average()
        complete_report(report, run, home)
        counterpart_path, counterpart = find_counterpart(report, json_path.parent, args.baseline)
        report["baseline"] = counterpart_path
        report["targets"] = evaluate_targets(report, counterpart)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        print("\n" + format_report(report) + f"\n\nreport: {json_path}", flush=True)
        return 0 if run.exit_code == 0 else 1
    finally:
        if not args.keep:
            for path in (landing, home):
                shutil.rmtree(path, ignore_errors=True)
            floor_db.unlink(missing_ok=True)
            if not args.out:
                shutil.rmtree(work, ignore_errors=True)


def check_arguments(args) -> str | None:
    """A one-sentence problem with --config or --baseline, found before an hour of generating and running."""
    from pipelines.settings import ConfigError, load_config

    try:
        load_config(args.config)
    except ConfigError as exc:
        return str(exc)
    if args.baseline and not Path(args.baseline).is_file():
        return f"--baseline {args.baseline} is not a file (give a report written by an earlier nba bench)"
    return None


def complete_report(report: dict, run: ChildResult, home: Path) -> None:
    """Add the run's totals, steps, stages and floor ratio to `report`."""
    run_id, raw_steps = read_steps(home)
    steps = summarise_steps(raw_steps, run.sampler, run.ended_at)
    starts = [s["start"] for s in raw_steps if s["start"]]
    ends = [s["end"] for s in raw_steps if s["end"]]
    report["run"] = {"success": run.exit_code == 0, "exit_code": run.exit_code, "run_id": run_id,
                     "wall_seconds": run.wall_seconds, "peak_rss_bytes": run.peak_rss_bytes,
                     "max_rss_single_bytes": run.max_rss_single_bytes, "cpu_seconds": run.cpu_seconds,
                     "startup_seconds": min(starts) - run.started_at if starts else None,
                     "teardown_seconds": run.ended_at - max(ends) if ends else None,
                     "output_tail": run.output[-10:]}
    report["steps"] = steps
    report["stages"] = summarise_stages(steps, run.wall_seconds)
    measured = [s for s in steps if s["stage"] in FLOOR_STAGES]
    complete = {s["stage"] for s in measured if s["status"] == "ok"} == set(FLOOR_STAGES)
    ivf = sum(s["seconds"] for s in measured)
    report["ingest_validate_features_seconds"] = ivf
    report["floor_ratio"] = ivf / report["floor"]["seconds"] if complete and report["floor"]["seconds"] > 0 else None
