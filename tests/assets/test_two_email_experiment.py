"""A night on extracts like a real randomised e-mail test (two e-mail versions vs no e-mail, spend after it),
with the shipped defaults: nearly everyone gets the better e-mail, and the run summary says why.

The extracts are built here: a customer list, a year of purchases and ONE campaign date, on which a third of
the customers got version A, a third version B and a third nothing (`campaign_control`). Version A adds on
average about 1.4 of margin per customer over the next two weeks and B about 0.5 — a tenth and a thirtieth of
the spread of what customers buy in two weeks — and each costs 0.05.
"""
import datetime as dt

import numpy as np
import pandas as pd
import yaml

from tests.conftest import query

AS_OF = dt.date(2026, 3, 1)
CAMPAIGN = dt.date(2026, 1, 15)
N = 9000


def _extracts(folder, seed=4):
    rng = np.random.default_rng(seed)
    ids = [f"H{i:05d}" for i in range(N)]
    pd.DataFrame({"customer_id": ids, "signup_date": "2024-06-01", "email": [f"{c.lower()}@example.org" for c in ids],
                  "consent_email": "true"}).to_csv(folder / "customers.csv", index=False)
    arm = rng.integers(0, 3, N)  # 0: version A, 1: version B, 2: no e-mail
    rate = rng.gamma(1.5, 1 / 1.5, N)  # how often each customer buys (per 30 days)
    orders = []
    start = dt.datetime(2025, 3, 1)
    span_days = (dt.datetime.combine(AS_OF, dt.time()) - start).days
    for i, cid in enumerate(ids):
        count = rng.poisson(rate[i] * span_days / 30)
        days = np.sort(rng.uniform(0, span_days, count))
        extra = {0: 0.15, 1: 0.05, 2: 0.0}[arm[i]]  # extra orders in the two weeks after the campaign
        if rng.uniform() < extra:
            days = np.append(days, (dt.datetime.combine(CAMPAIGN, dt.time()) - start).days + rng.uniform(0.5, 13))
        for k, day in enumerate(days):
            orders.append((f"{cid}-{k}", cid, (start + dt.timedelta(days=float(day))).strftime("%Y-%m-%d %H:%M:%S"),
                           round(float(rng.gamma(4, 8)), 2)))
    pd.DataFrame(orders, columns=["order_id", "customer_id", "order_ts", "amount"]).to_csv(folder / "purchases.csv",
                                                                                       index=False)
    ts = f"{CAMPAIGN} 09:00:00"
    pd.DataFrame({"interaction_id": [f"I{i}" for i in range(N)], "customer_id": ids, "interaction_ts": ts,
                  "channel": np.where(arm == 2, "none", "email"),
                  "type": np.where(arm == 2, "campaign_control", "campaign"),
                  "action_id": np.where(arm == 0, "version_a", np.where(arm == 1, "version_b",
                                                                         rng.choice(["version_a", "version_b"], N))),
                  "outcome": "no_response"}).to_csv(folder / "interactions.csv", index=False)


def _catalog(path):
    actions = [{"id": a, "type": "newsletter", "names": {"en": a}, "channels": ["email"],
                "cost_per_contact": {"email": 0.05}, "value_basis": "order_margin", "eligibility": "tenure_days >= 0",
                "priority": i + 1, "prior_uplift": 0.0, "script_hint": {"en": a}, "outcome_horizon_days": 14}
               for i, a in enumerate(["version_a", "version_b"])]
    path.write_text(yaml.safe_dump({"version": "email-test-v1", "actions": actions}), encoding="utf-8")


def test_two_cheap_emails_with_positive_effects_go_to_nearly_everyone_with_the_better_one(tmp_path):
    from pipelines.runner import run_nightly

    landing = tmp_path / "landing"
    landing.mkdir()
    _extracts(landing)
    _catalog(tmp_path / "catalog.yaml")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"paths": {"action_catalog": str(tmp_path / "catalog.yaml")},
                                      "training": {"n_cutoffs": 2, "max_training_rows_per_cutoff": 3000,
                                                   "xgboost_params": {"num_boost_round": 40}}}), encoding="utf-8")
    outcome = run_nightly(tmp_path / "home", landing, AS_OF, config)
    assert outcome.success, outcome.message
    home = tmp_path / "home"
    chosen = dict(query(home, "SELECT action_id, count(*) FROM next_best_actions WHERE chosen GROUP BY ALL"))
    not_held_out = query(home, "SELECT count(DISTINCT customer_id) FROM next_best_actions WHERE NOT is_holdout")[0][0]
    assert chosen.get("version_a", 0) >= 0.9 * not_held_out, chosen
    assert chosen.get("version_b", 0) <= 0.05 * not_held_out, chosen
    summary = (home / "exports" / f"run_summary_{AS_OF}.md").read_text(encoding="utf-8")
    assert "Which policy drives tonight's plan" in summary
    assert "all:version_a" in summary
