"""`nba explain` and `nba evaluate`: read a home's latest night and answer a person's question about it."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import duckdb
import pandas as pd


def _warehouse(home: str) -> duckdb.DuckDBPyConnection:
    path = Path(home).expanduser().resolve() / "warehouse" / "nba.duckdb"
    if not path.exists():
        raise SystemExit(f"nba: no warehouse at {path}; run `nba run --home {home}` first")
    return duckdb.connect(str(path), read_only=True)


def _stored_as_of(con, as_of) -> str:
    """The as-of date of the decisions stored in the warehouse (only the latest night is kept)."""
    stored = str(con.execute("SELECT max(as_of) FROM customer_scores").fetchall()[0][0])
    if as_of is not None and as_of.isoformat() != stored:
        raise SystemExit(f"nba explain: the warehouse holds the decisions of {stored}, not {as_of}; "
                         f"rerun `nba run --as-of {as_of}` to explain that night")
    return stored


def _night_config(home: str, stored: str, config: str | None) -> str | None:
    """The config to read a night with: the one given, else the one the night recorded (HOME/runs/<as-of>/)."""
    if config:
        return config
    from pipelines.resources import NbaHome

    recorded = NbaHome(home_dir=home).night_settings_dir(stored) / "config.yaml"
    return str(recorded) if recorded.exists() else None


def _catalog(home_config: str | None):
    from models.decisions.catalog import load_catalog
    from models.features.customer_features import FEATURE_COLUMNS
    from pipelines.resources import NbaHome

    return load_catalog(NbaHome(home_dir=".", config_path=home_config or "").catalog_path(), set(FEATURE_COLUMNS))


def cmd_explain(args) -> int:
    """Why a customer got (or did not get) each action last night, in plain language."""
    from models import warehouse
    from models.decisions.explain import explain_customer

    con = _warehouse(args.home)
    stored = _stored_as_of(con, args.as_of)
    golden = con.execute("SELECT golden_id FROM customer_crosswalk WHERE source_customer_id = ? "
                         "UNION SELECT customer_id FROM golden_customers WHERE customer_id = ?",
                         [args.customer_id, args.customer_id]).fetchall()
    if not golden:
        print(f"nba explain: customer '{args.customer_id}' is not in the golden record of {stored}", file=sys.stderr)
        return 2
    customer_id = golden[0][0]
    audit = con.execute("SELECT * FROM decision_audit WHERE customer_id = ?", [customer_id]).df()
    if customer_id != args.customer_id:
        print(f"({args.customer_id} is a duplicate record of golden customer {customer_id})")
    config = _night_config(args.home, stored, args.config)
    try:
        text = explain_customer(audit, _catalog(config), customer_id, args.lang)
    except KeyError as exc:  # a home from before the nights recorded their catalog, read with another catalog
        print(f"nba explain: {exc.args[0]}; pass the --config the night of {stored} ran with", file=sys.stderr)
        return 2
    print(f"as of {stored}:")
    print(text)
    selection = warehouse.read_decision_summary(con, dt.date.fromisoformat(stored)).get("policy_selection")
    if selection:
        print(f"tonight's plan follows the policy '{selection['winner']}': {selection['reason']}")
    return 0


def cmd_evaluate(args) -> int:
    """Last night's plan and baselines valued on a demo world's truth; writes HOME/evaluation_<as-of>.json."""
    from demo.policy_evaluation import format_evaluation
    from demo.truth_evaluation import evaluate_models_against_truth

    result, stored, tables = evaluate_home(args.home, args.truth, args.config)
    print(format_evaluation(result, stored))
    out = Path(args.home).expanduser().resolve() / f"evaluation_{stored}.json"
    out.write_text(json.dumps(result, indent=2, default=_json_number) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
    try:
        quality = evaluate_models_against_truth(**tables, seed=int(result["seed"]))
    except ValueError as exc:
        print(f"\nmodel quality against the truth: skipped ({exc})")
        return 0
    print(f"\nmodel quality against the truth, night of {stored} (truth_value = the truth as its own score):")
    print(quality.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    return 0


def evaluate_home(home: str, truth: str, config_path: str | None) -> tuple[dict, str, dict]:
    """Read a home's latest night and a world's truth; returns (evaluation, as-of, model-quality inputs).

    Without `config_path`, the config the night recorded (HOME/runs/<as-of>/config.yaml) is used, else the
    world's own nba_config.yaml next to the truth folder when there is one.
    """
    from demo.policy_evaluation import Limits, evaluate_plan
    from models.decisions.policies import read_decision_settings
    from pipelines.settings import load_settings

    folder = Path(truth) if Path(truth).is_dir() else Path(truth).parent
    if not (folder / "action_truth.csv").exists():
        raise SystemExit(f"nba evaluate: no action_truth.csv in {folder}; pass the generator's truth folder")
    con = _warehouse(home)
    stored = _stored_as_of(con, None)
    config_path = _night_config(home, stored, config_path)
    if config_path is None and (folder.parent / "nba_config.yaml").exists():
        config_path = str(folder.parent / "nba_config.yaml")
    action_truth = pd.read_csv(folder / "action_truth.csv", dtype={"person_id": str, "action_id": str})
    customers_truth = pd.read_csv(folder / "customers_truth.csv", dtype={"person_id": str})
    config = load_settings(config_path)
    catalog = _catalog(config_path)
    settings = read_decision_settings(config.as_dict(), catalog)
    plan = con.execute("SELECT * FROM next_best_actions").df()
    audit = con.execute("SELECT customer_id, action_id, channel, eligible, suppressed, expected_value "
                        "FROM decision_audit").df()
    n_customers = int(con.execute("SELECT count(*) FROM golden_customers").fetchall()[0][0])
    scores = con.execute("SELECT * FROM customer_scores").df()
    responses = con.execute("SELECT * FROM action_response").df()
    features = con.execute("SELECT customer_id, days_since_last_purchase, purchases_365d, spend_365d "
                           "FROM customer_features").df()
    con.close()
    limits = Limits(settings.capacity_calls_per_night, settings.offer_budget_per_night, settings.action_volume_caps)
    result = evaluate_plan(plan, audit, action_truth, catalog, limits, n_customers, config.seed)
    result |= {"as_of": stored, "truth": str(folder.resolve()), "config": config_path, "catalog": catalog.version}
    eligible = audit.loc[audit["eligible"].astype(bool), ["customer_id", "action_id"]].drop_duplicates()
    return result, stored, {"scores": scores, "responses": responses, "customers_truth": customers_truth,
                           "action_truth": action_truth, "features": features, "eligible": eligible}


def _json_number(value):
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def add_commands(sub: argparse._SubParsersAction, date_type) -> None:
    explain = sub.add_parser("explain", help="why a customer got (or not) each action last night")
    explain.add_argument("customer_id", help="golden or source customer id")
    explain.add_argument("--home", required=True)
    explain.add_argument("--as-of", dest="as_of", type=date_type, help="the night to explain (must be the latest run)")
    explain.add_argument("--lang", choices=["en", "es", "pt"], default="en")
    explain.add_argument("--config", help="a config file to read the night with (default: the config and catalog the "
                                          "night recorded under HOME/runs/<as-of>/)")
    explain.set_defaults(func=cmd_explain)

    evaluate = sub.add_parser("evaluate", help="value last night's plan and baselines on a demo world's truth")
    evaluate.add_argument("--home", required=True)
    evaluate.add_argument("--truth", required=True, help="the generator's truth folder (or its action_truth.csv)")
    evaluate.add_argument("--config", help="the run's config file (default: the one the night recorded under "
                                           "HOME/runs/<as-of>/, else the world's nba_config.yaml next to the truth "
                                           "folder, else the shipped defaults)")
    evaluate.set_defaults(func=cmd_evaluate)
