"""`nba simulate`: many nights on one home, the demo world carrying out each night's lists with its true effects.

    nba simulate --customers 20000 --nights 12 --out DIR [--world conversion|lifecycle] [--seed S] [--every-days 7]

Night k (as-of date = the day after the generated period + k x every-days): the world delivers its extracts
into OUT/landing/<as-of>/ (customers, purchases, interactions and, from the second night, the contacts feedback
of the executed lists; _READY last), `nba run` runs the night on OUT/home (a child process, the same code path
as any night), the night's plan and simple policies are valued on the truth of that day (OUT/truth/<as-of>/,
written beside the landing and read only here, by demo.policy_evaluation), then the world executes the exported
lists (demo.generator.execution) and lives on until the next night (demo.generator.continuation). The
company's own random campaigns stop once the product runs (`--company-campaigns continue` keeps them).

Writes OUT/learning_curve.json, OUT/learning_curve.txt (the table and the targets) and OUT/learning_curve.png,
rewritten after every night (a long simulation shows its curve so far; a failed night leaves the curve before it).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import time
from pathlib import Path

import duckdb
import pandas as pd

from demo.generator.world import (
    CATALOG_FILE, CONFIG_FILE, DEFAULT_END, DEFAULT_START, LIFECYCLE_CATALOG_PATH, READY_MARKER, WORLDS,
    lifecycle_config, simulate_world, world_truth, write_tables,
)
from demo.learning_curve import (
    cap_violations, check_targets, curve_chart, format_report, night_row, read_exported_lists, realised_lift_cells,
)


def add_commands(sub) -> None:
    """Register `nba simulate` on the `nba` sub-command parser."""
    from pipelines.cli import _positive_int

    cmd = sub.add_parser("simulate", help="run many nights on one home; the demo world executes each night's lists")
    cmd.add_argument("--customers", type=_positive_int, required=True)
    cmd.add_argument("--nights", type=_positive_int, required=True)
    cmd.add_argument("--out", required=True, help="folder for the landing, home, truth and the learning curve")
    cmd.add_argument("--world", choices=list(WORLDS), default="conversion")
    cmd.add_argument("--seed", type=int, default=7, help="the world's seed (the pipeline's comes from its config)")
    cmd.add_argument("--every-days", dest="every_days", type=_positive_int, default=7,
                     help="days between nights (default 7: weekly)")
    cmd.add_argument("--company-campaigns", dest="company_campaigns", choices=["stop", "continue"], default="stop",
                     help="the company's own monthly random campaigns once the product runs (default: stop)")
    cmd.add_argument("--config", help="the pipeline's config file (default: the world's own; shipped defaults for "
                                      "the conversion world)")
    cmd.set_defaults(func=cmd_simulate)


def simulation_window(nights: int, every_days: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """(start, end) of the generated history: the shipped demo window, moved back as far as needed for the last
    night to fall on or before `today` (a night's as-of date cannot be in the future: its partition does not exist)."""
    last_night = DEFAULT_END + dt.timedelta(days=1 + (nights - 1) * every_days)
    shift = max((last_night - today).days, 0)
    return DEFAULT_START - dt.timedelta(days=shift), DEFAULT_END - dt.timedelta(days=shift)

def cmd_simulate(args) -> int:
    from demo.bench import child_env, nba_command, run_child
    from demo.generator.continuation import landing_tables, run_night, start_running

    out = Path(args.out).expanduser().resolve()
    if (out / "home").exists():
        raise SystemExit(f"nba simulate: {out / 'home'} exists; give a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    config = Path(args.config).resolve() if args.config else _world_config(out, args.world)
    print(f"simulating the {args.world} world: {args.customers:,} customers, {args.nights} nights every "
          f"{args.every_days} days, seed {args.seed}", flush=True)
    try:
        start, end = simulation_window(args.nights, args.every_days, dt.date.today())
        state = simulate_world(args.customers, args.seed, start, end, world=args.world)
    except ValueError as exc:     # a bad --seed
        raise SystemExit(f"nba simulate: {exc}") from None
    world = start_running(state, company_campaigns=args.company_campaigns == "continue")
    policy = _contact_policy(config)
    curve, all_lists = [], []
    for night in range(1, args.nights + 1):
        as_of = start + dt.timedelta(days=world.day)
        folder, truth = out / "landing" / as_of.isoformat(), out / "truth" / as_of.isoformat()
        _deliver(landing_tables(world), folder)
        _write_truth(world.state, world.day, truth)
        started = time.perf_counter()
        command = ["run", "--landing", str(out / "landing"), "--as-of", as_of.isoformat(), "--home", str(out / "home")]
        run = run_child(nba_command(*command, *(["--config", str(config)] if config else [])), echo=False,
                        env=child_env())
        seconds = time.perf_counter() - started
        if run.exit_code:
            print("\n".join(run.output))
            print(f"nba simulate: night {night} ({as_of}) failed; the curve so far is in {out}")
            _write_outputs(out, curve, all_lists, policy, out / "home")
            return 1
        evaluation = _evaluate(out / "home", truth, config)
        listed = read_exported_lists(out / "home" / "exports" / as_of.isoformat())
        execution = run_night(world, listed, args.every_days)
        # the caps count what reached the person: a bounced e-mail or an unanswered call the tools report back
        # is no contact, and the pipeline may list that person again (models/decisions/feedback.py)
        reached = execution.contacts[execution.contacts["reached"].astype(bool)]
        all_lists.append(reached[["customer_id", "channel"]].assign(as_of=as_of.isoformat()))
        curve.append(night_row(night, as_of, evaluation, listed, execution.contacts, seconds))
        r = curve[-1]
        print(f"night {night} {as_of}: plan {r['plan_true_value']:,.1f} | best single ({r['best_single_action']}) "
              f"{r['best_single_true_value']:,.1f} | best possible {r['best_possible_true_value']:,.1f} | "
              f"contacts {r['contacts_by_channel']} | {seconds:.0f} s", flush=True)
        targets = _write_outputs(out, curve, all_lists, policy, out / "home")   # the curve so far, every night
    print(format_report(curve, targets))
    print(f"written: {out / 'learning_curve.json'}, {out / 'learning_curve.txt'}, {out / 'learning_curve.png'}")
    return 0


def _world_config(out: Path, world: str) -> Path | None:
    """The lifecycle world's catalog and config (as `nba generate` writes them) under OUT; None otherwise."""
    if world != "lifecycle":
        return None
    (out / CATALOG_FILE).write_bytes(LIFECYCLE_CATALOG_PATH.read_bytes())
    (out / CONFIG_FILE).write_text(lifecycle_config(), encoding="utf-8")
    return out / CONFIG_FILE


def _contact_policy(config: Path | None) -> dict:
    from pipelines.settings import load_config

    return dict(load_config(config)["decisions"]["contact_policy"])


def _deliver(tables: dict, folder: Path) -> None:
    """A dated landing folder: the extracts, then the _READY marker last."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / READY_MARKER).unlink(missing_ok=True)
    write_tables(tables, folder)
    (folder / READY_MARKER).touch()


def _write_truth(state, day: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    customers_truth, action_truth = world_truth(state, day)
    write_tables({"customers_truth.csv": customers_truth, "action_truth.csv": action_truth}, folder)


def _evaluate(home: Path, truth: Path, config: Path | None) -> dict:
    """Tonight's plan and the simple policies valued on the day's truth (the evaluation of `nba evaluate`)."""
    from pipelines.cli_tools import evaluate_home

    result, _, _ = evaluate_home(str(home), str(truth), str(config) if config else None)
    return result


def read_realised_lift(home: Path) -> pd.DataFrame | None:
    """The warehouse table realised_lift when the pipeline writes one, else None."""
    from models.warehouse import table_exists

    path = home / "warehouse" / "nba.duckdb"
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM realised_lift").df() if table_exists(con, "realised_lift") else None


def _write_outputs(out: Path, curve: list[dict], all_lists: list[pd.DataFrame], policy: dict, home: Path) -> dict:
    lists = pd.concat(all_lists, ignore_index=True) if all_lists else pd.DataFrame(
        columns=["as_of", "customer_id", "channel"])
    caps = cap_violations(lists, policy)
    lift = realised_lift_cells(read_realised_lift(home), curve)
    targets = check_targets(curve, caps, lift)
    result = {"nights": curve, "caps": caps, "realised_lift": lift, "targets": targets}
    (out / "learning_curve.json").write_text(json.dumps(result, indent=2, default=_json_value) + "\n",
                                             encoding="utf-8")
    (out / "learning_curve.txt").write_text(format_report(curve, targets) + "\n", encoding="utf-8")
    if curve:
        (out / "learning_curve.png").write_bytes(curve_chart(curve))
    return targets


def _json_value(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)
