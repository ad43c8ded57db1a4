"""`nba explain` and `nba evaluate`: read a home's latest night and answer a person's question about it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd


def _warehouse(home: str) -> duckdb.DuckDBPyConnection:
    path = Path(home).expanduser().resolve() / "warehouse" / "nba.duckdb"
    if not path.exists():
        raise SystemExit(f"nba: no warehouse at {path}; run `nba run --home {home}` first")
    return duckdb.connect(str(path), read_only=True)


def _night(con, as_of) -> str:
    """The as-of date of the decisions stored in the warehouse (only the latest night is kept)."""
    stored = str(con.execute("SELECT max(as_of) FROM customer_scores").fetchall()[0][0])
    if as_of is not None and as_of.isoformat() != stored:
        raise SystemExit(f"nba explain: the warehouse holds the decisions of {stored}, not {as_of}; "
                         f"rerun `nba run --as-of {as_of}` to explain that night")
    return stored


def _catalog(home_config: str | None):
    from models.decisions.catalog import load_catalog
    from models.features.customer_features import FEATURE_COLUMNS
    from pipelines.resources import NbaHome

    return load_catalog(NbaHome(home_dir=".", config_path=home_config or "").catalog_path(), set(FEATURE_COLUMNS))


def cmd_explain(args) -> int:
    """Why a customer got (or did not get) each action last night, in plain language."""
    from models.decisions.explain import explain_customer

    con = _warehouse(args.home)
    night = _night(con, args.as_of)
    golden = con.execute("SELECT golden_id FROM customer_crosswalk WHERE source_customer_id = ? "
                         "UNION SELECT customer_id FROM golden_customers WHERE customer_id = ?",
                         [args.customer_id, args.customer_id]).fetchall()
    if not golden:
        print(f"nba explain: customer '{args.customer_id}' is not in the golden record of {night}", file=sys.stderr)
        return 2
    customer_id = golden[0][0]
    audit = con.execute("SELECT * FROM decision_audit WHERE customer_id = ?", [customer_id]).df()
    if customer_id != args.customer_id:
        print(f"({args.customer_id} is a duplicate record of golden customer {customer_id})")
    print(f"as of {night}:")
    print(explain_customer(audit, _catalog(args.config), customer_id, args.lang))
    return 0


def cmd_evaluate(args) -> int:
    """Tonight's plan vs baselines on the generator's ground truth."""
    from demo.policy_evaluation import evaluate_policies, true_option_values
    from models.golden.suppression import load_suppressed_ids
    from demo.truth_evaluation import evaluate_models_against_truth
    from pipelines.resources import NbaHome
    from pipelines.settings import load_config

    truth = Path(args.truth)
    folder = truth if truth.is_dir() else truth.parent
    action_truth = pd.read_csv(folder / "action_truth.csv", dtype={"person_id": str})
    customers_truth = pd.read_csv(folder / "customers_truth.csv", dtype={"person_id": str})
    config = load_config(args.config)
    con = _warehouse(args.home)
    night = _night(con, None)
    customers = con.execute("SELECT * FROM golden_customers").df()
    plan = con.execute("SELECT * FROM next_best_actions").df()
    scores = con.execute("SELECT * FROM customer_scores").df()
    responses = con.execute("SELECT * FROM action_response").df()
    features = con.execute("SELECT customer_id, days_since_last_purchase, purchases_365d, spend_365d "
                           "FROM customer_features").df()
    eligible = con.execute("SELECT DISTINCT customer_id, action_id FROM decision_audit WHERE eligible").df()
    suppressed = load_suppressed_ids(con, NbaHome(home_dir=args.home, config_path=args.config or "").suppression_path())
    con.close()
    catalog = _catalog(args.config)
    options = true_option_values(catalog, customers, action_truth, customers_truth, suppressed)
    result = evaluate_policies(plan, options, scores, int(config["decisions"]["capacity_calls_per_night"]),
                               int(config["seed"]), [a.id for a in catalog.actions if a.type == "retention_offer"])
    plan_value = float(result.loc[result["policy"] == "plan (tonight)", "true_incremental_value"].iloc[0])
    result["plan_minus_policy"] = plan_value - result["true_incremental_value"]
    print(f"true expected incremental value, night of {night} ({int(result['contacts'].iloc[0]):,} contacts per policy):")
    print(result.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    quality = evaluate_models_against_truth(scores, responses, customers_truth, action_truth, features,
                                            eligible=eligible, seed=int(config["seed"]))
    print(f"\nmodel quality against the truth, night of {night} (truth_value = the truth as its own score):")
    print(quality.to_string(index=False, float_format=lambda v: f"{v:,.4f}"))
    return 0


def add_commands(sub: argparse._SubParsersAction, date_type) -> None:
    explain = sub.add_parser("explain", help="why a customer got (or not) each action last night")
    explain.add_argument("customer_id", help="golden or source customer id")
    explain.add_argument("--home", required=True)
    explain.add_argument("--as-of", dest="as_of", type=date_type, help="the night to explain (must be the latest run)")
    explain.add_argument("--lang", choices=["en", "es", "pt"], default="en")
    explain.add_argument("--config", help="the run's config file (for a custom action catalog)")
    explain.set_defaults(func=cmd_explain)

    evaluate = sub.add_parser("evaluate", help="judge last night's plan and baselines on the generator's truth")
    evaluate.add_argument("--home", required=True)
    evaluate.add_argument("--truth", required=True, help="the generator's truth folder (or its action_truth.csv)")
    evaluate.add_argument("--config", help="the run's config file")
    evaluate.set_defaults(func=cmd_evaluate)
