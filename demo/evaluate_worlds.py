"""`nba evaluate-worlds`: generate demo worlds, run a night on each and value the plan on its truth, in one table.

For every (world, customers, seed): `nba generate --world`, `nba run` (with the world's own
nba_config.yaml when it has one) in child processes, then the evaluation of `nba evaluate`. Folders go
under --out (default: a temporary folder; a world's home already there is refused, as its models would score the
night) and are removed unless --keep; the table is also written as JSON (OUT/evaluate_worlds.json).

    nba evaluate-worlds --worlds conversion lifecycle --customers 20000 --seeds 7
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

AS_OF = dt.date(2026, 11, 1)     # the day after the generator's default --end


def add_commands(sub) -> None:
    """Register `nba evaluate-worlds` on the `nba` sub-command parser."""
    from pipelines.cli import _positive_int

    cmd = sub.add_parser("evaluate-worlds", help="generate worlds, run a night on each, value the plans on the truth")
    cmd.add_argument("--worlds", nargs="+", default=["conversion", "lifecycle"], choices=["conversion", "lifecycle"])
    cmd.add_argument("--customers", nargs="+", type=_positive_int, default=[20_000])
    cmd.add_argument("--seeds", nargs="+", type=int, default=[7])
    cmd.add_argument("--out", help="folder for the landings, homes and the JSON (default: a temporary folder)")
    cmd.add_argument("--keep", action="store_true", help="keep the landings and homes")
    cmd.set_defaults(func=cmd_evaluate_worlds)


def cmd_evaluate_worlds(args) -> int:
    from demo.bench import child_env, nba_command, run_child
    from pipelines.cli_tools import evaluate_home

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="nba-worlds-"))
    runs = [(world, customers, seed) for world in args.worlds for customers in args.customers for seed in args.seeds]
    used = [str(root / _name(*run) / "home") for run in runs if (root / _name(*run) / "home").exists()]
    if used:  # a night on an old home scores with that home's models, trained by older code on older data
        raise SystemExit(f"nba evaluate-worlds: {', '.join(used)} exists; give a new --out folder")
    root.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    for world, customers, seed in runs:
        name = _name(world, customers, seed)
        landing, home = root / name / "landing", root / name / "home"
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        generated = run_child(nba_command("generate", "--world", world, "--customers", str(customers),
                                          "--seed", str(seed), "--out", str(landing)), echo=False,
                              env=child_env())
        if generated.exit_code:
            print("\n".join(generated.output))
            return 1
        config = landing / "nba_config.yaml"
        command = ["run", "--landing", str(landing), "--as-of", AS_OF.isoformat(), "--home", str(home)]
        run = run_child(nba_command(*command, *(["--config", str(config)] if config.exists() else [])),
                        echo=False, env=child_env())
        if run.exit_code:
            print("\n".join(run.output))
            return 1
        result, night, _ = evaluate_home(str(home), str(landing / "truth"), None)
        result |= {"world": world, "customers": customers, "generator_seed": seed,
                   "seconds": round(time.perf_counter() - started, 1)}
        results.append(result)
        rows.append(summary_row(result))
        print(f"   done in {result['seconds']} s", flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    out = root / "evaluate_worlds.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"written: {out}")
    if not args.keep:
        for result in results:
            shutil.rmtree(root / _name(result["world"], result["customers"], result["generator_seed"]))
    return 0


def _name(world: str, customers: int, seed: int) -> str:
    """The folder of one (world, customers, seed) run under --out."""
    return f"{world}-{customers}-{seed}"


def summary_row(result: dict) -> dict:
    """One line of the table: the true value per 1,000 customers of each policy and the ratios."""
    per_1000 = {p["policy"]: p["true_value_per_1000_customers"] for p in result["policies"]}
    best_single = f"everyone gets {result['best_single_action']}"
    return {
        "world": result["world"], "customers": result["customers"], "seed": result["generator_seed"],
        "plan": per_1000["plan (last night)"], "no_action": per_1000["no action"],
        "best_single": per_1000[best_single], "best_single_action": result["best_single_action"],
        "random": per_1000["random permitted action"],
        "best_possible": per_1000["best possible (true values, same limits)"],
        "plan/best_single": result["ratios"]["plan_over_best_single_action"],
        "plan/best_possible": result["ratios"]["plan_over_best_possible"],
    }
