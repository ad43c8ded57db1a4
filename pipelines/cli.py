"""The `nba` command line: generate demo extracts, run a night, open the UI, explain and evaluate decisions."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DEMO_START = dt.date(2023, 11, 1)
DEMO_END = dt.date(2026, 10, 31)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in the form YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return int(text)


def cmd_generate(args) -> int:
    """Write demo extracts (and the generator's ground truth under OUT/truth/)."""
    from demo.generator.world import CONFIG_FILE, generate_world, write_world

    if args.start >= args.end:
        raise SystemExit(f"nba generate: --start {args.start} must be before --end {args.end}")
    started = time.perf_counter()
    print(f"generating the {args.world} world: {args.customers:,} customers, {args.start} .. {args.end}, "
          f"seed {args.seed}", flush=True)
    world = generate_world(args.customers, args.seed, args.start, args.end, world=args.world)
    counts = write_world(world, Path(args.out), fmt=args.format)
    for name, rows in counts.items():
        print(f"  {name:28} {rows:>12,} {'lines' if name.endswith('.yaml') else 'rows'}")
    config = f" --config {Path(args.out) / CONFIG_FILE}" if CONFIG_FILE in counts else ""
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s; run it with: "
          f"nba run --landing {args.out} --as-of {args.end + dt.timedelta(days=1)} --home HOME{config}")
    return 0


def cmd_run(args) -> int:
    """Run the whole nightly job for one as-of date through Dagster, in process."""
    from models.training.registry import TrackingStoreError
    from pipelines.lock import HomeBusyError
    from pipelines.partitions import check_as_of, first_as_of
    from pipelines.resources import NbaHome
    from pipelines.runner import run_nightly
    from pipelines.sharding import run_sharded
    from pipelines.settings import ConfigError, check_catalog, load_settings

    landing = Path(args.landing)
    if not landing.is_dir():
        print(f"nba run: landing folder {landing} does not exist", file=sys.stderr)
        return 2
    home = Path(args.home).expanduser().resolve()
    try:
        settings = load_settings(args.config)
        config_path = str(Path(args.config).resolve()) if args.config else ""
        check_catalog(settings, NbaHome(home_dir=str(home), config_path=config_path).catalog_path(), args.config)
        first, why = first_as_of(settings, landing)
        check_as_of(args.as_of, first, why)
    except ConfigError as exc:
        print(f"nba run: {exc}", file=sys.stderr)
        return 2
    print(f"nightly run as of {args.as_of} — landing {landing}, home {home}", flush=True)
    started = time.perf_counter()
    try:
        config = Path(args.config).resolve() if args.config else None
        tracking_uri = os.environ.get("NBA_MLFLOW_TRACKING_URI", "")
        outcome = (run_sharded(home, landing.resolve(), args.as_of, config, tracking_uri=tracking_uri) if args.sharded
                   else run_nightly(home, landing.resolve(), args.as_of, config, tracking_uri, first))
    except HomeBusyError as exc:
        print(f"nba run: {exc}", file=sys.stderr)
        return 3
    except TrackingStoreError as exc:
        print(f"nba run: {exc}; nothing was run and earlier exports are unchanged", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    if not outcome.success:
        print(f"nba run: FAILED after {took:.1f} s — {outcome.message}. Exports of earlier nights are unchanged.",
              file=sys.stderr)
        return 1
    exports_root = NbaHome(home_dir=str(home), config_path=str(Path(args.config).resolve()) if args.config else "").exports_root
    exports = exports_root / args.as_of.isoformat()
    summary = exports_root / f"run_summary_{args.as_of.isoformat()}.md"
    print(f"done in {took:.1f} s (run {outcome.run_id})\n  exports: {exports}\n  summary: {summary}"
          f"\n  warehouse: {home / 'warehouse' / 'nba.duckdb'}\n  UI: nba ui --home {args.home}")
    return 0


def ui_environment(home: Path, landing: str, config: str) -> dict:
    """Environment for `dagster dev`: the same instance and resources as `nba run` uses."""
    env = dict(os.environ)
    env.update({"DAGSTER_HOME": str(home / "dagster"), "NBA_HOME": str(home), "NBA_LANDING": landing,
                "NBA_CONFIG": config, "NBA_MLFLOW_TRACKING_URI": os.environ.get("NBA_MLFLOW_TRACKING_URI", "")})
    return env


def cmd_ui(args) -> int:
    """Start the Dagster UI (dagster dev) on HOME's instance."""
    from pipelines.resources import NbaHome
    from pipelines.runner import dagster_instance

    home = Path(args.home).expanduser().resolve()
    dagster_instance(home)  # writes dagster.yaml if missing
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    command = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port)]
    command += ["-w", str(workspace)] if workspace.exists() else ["-m", "pipelines.browsed"]
    print(f"Dagster UI on http://{args.host}:{args.port} for home {home} (Ctrl-C stops it)", flush=True)
    landing = str(Path(args.landing).resolve()) if args.landing else NbaHome(home_dir=str(home)).recorded_landing()
    if landing and not args.landing:
        print(f"runs and backfills launched from the UI read the landing folder of the last night: {landing} "
              "(--landing to change it)", flush=True)
    env = ui_environment(home, landing, args.config or "")
    proc = subprocess.Popen(command, env=env, restore_signals=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())  # stopping `nba ui` stops `dagster dev`
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nba", description="Nightly Next-Best-Action pipeline.")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write demo extracts with known ground truth")
    gen.add_argument("--customers", type=_positive_int, required=True, help="number of people to simulate")
    gen.add_argument("--seed", type=int, default=7, help="random seed (same seed -> identical files)")
    gen.add_argument("--out", required=True, help="landing folder to write customers/purchases/interactions to")
    gen.add_argument("--start", type=_date, default=DEMO_START, help=f"first day of history (default {DEMO_START})")
    gen.add_argument("--end", type=_date, default=DEMO_END, help=f"last day of history (default {DEMO_END})")
    gen.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)")
    gen.add_argument("--world", choices=["conversion", "lifecycle"], default="conversion",
                     help="campaign mechanics: conversion (default; a contact changes the chance of one order) or "
                          "lifecycle (contacts act on retention, basket size, discounts and reactivation; writes "
                          "its own catalog.yaml and nba_config.yaml)")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run the whole nightly job for one as-of date")
    run.add_argument("--landing", required=True, help="folder with the extracts (or with dated sub-folders)")
    run.add_argument("--as-of", dest="as_of", type=_date, required=True, help="decision date YYYY-MM-DD; only events before it count")
    run.add_argument("--home", required=True, help="folder for the warehouse, MLflow store and exports")
    run.add_argument("--config", help="YAML file overriding keys of pipelines/config/default.yaml")
    run.add_argument("--sharded", action="store_true",
                     help="compute features and scores per customer shard in parallel processes (docs/kubernetes.md)")
    run.set_defaults(func=cmd_run)

    ui = sub.add_parser("ui", help="open the Dagster UI on a home")
    ui.add_argument("--home", required=True, help="the home given to nba run")
    ui.add_argument("--landing", default="", help="landing root for the sensor and UI-launched runs (default: the "
                                                  "landing folder of the last night run on HOME)")
    ui.add_argument("--config", default="", help="config file for UI-launched runs")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    from demo import bench, evaluate_worlds, simulate
    from pipelines import cli_tools, housekeeping, serve
    serve.add_command(sub)
    housekeeping.add_command(sub)
    cli_tools.add_commands(sub, _date)
    bench.add_commands(sub)
    evaluate_worlds.add_commands(sub)
    simulate.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def entry_point() -> None:
    """Console script: exit without interpreter teardown, which only makes DuckDB's bindings print leak noise."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
