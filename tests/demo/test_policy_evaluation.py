"""The evaluator of `nba evaluate` on constructed worlds with known true values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.decisions.catalog import parse_catalog
from models.features.customer_features import FEATURE_COLUMNS
from demo.policy_evaluation import (
    BEST_POSSIBLE, PLAN, RANDOM, Limits, best_possible, evaluate_plan, everyone_gets, option_table, random_permitted,
)


def _catalog():
    def action(action_id, channels, costs):
        return {"id": action_id, "type": action_id, "names": {"en": action_id}, "channels": channels,
                "cost_per_contact": costs, "value_basis": "order_margin", "eligibility": "true", "priority": 0,
                "prior_uplift": 0.01, "script_hint": {"en": "-"}}

    document = {"version": "test", "actions": [action("a", ["email", "phone"], {"email": 0.1, "phone": 2.0}),
                                               action("b", ["email"], {"email": 0.1}),
                                               action("c", ["phone"], {"phone": 1.0})]}
    return parse_catalog(document, set(FEATURE_COLUMNS), source="test.yaml", sha256="0" * 64)


# true incremental net margin (before contact costs) and offer cost per customer x action
TRUTH = pd.DataFrame([
    ("c1", "a", 5.0, 0.0), ("c1", "b", 1.0, 1.0), ("c1", "c", 7.0, 0.0),
    ("c2", "a", -1.0, 0.0), ("c2", "b", 2.0, 1.0), ("c2", "c", 8.0, 0.0),
    ("c3", "a", 3.0, 0.0), ("c3", "b", 3.0, 1.0), ("c3", "c", -2.0, 0.0),
    ("c4", "a", 0.5, 0.0), ("c4", "b", 0.2, 1.0), ("c4", "c", 6.0, 0.0),
], columns=["person_id", "action_id", "true_net_margin_365d", "true_offer_cost_365d"])


COST = {"email": 0.1, "phone": 1.0}   # the plan's view of the contact cost (a's phone really costs 2.0)
VIEW = {"a": 0.5, "b": -1.0, "c": 0.5}  # the plan's expected value per unit of true value: b's ranking is reversed


def _audit():
    rows = []
    for customer in ("c1", "c2", "c3", "c4"):
        for action_id, channel in (("a", "email"), ("a", "phone"), ("b", "email"), ("c", "phone")):
            truth = TRUTH[(TRUTH["person_id"] == customer) & (TRUTH["action_id"] == action_id)]
            rows.append({"customer_id": customer, "action_id": action_id, "channel": channel, "eligible": True,
                         "suppressed": customer == "c4" and channel == "phone",      # c4: no phone consent
                         "expected_value": VIEW[action_id] * float(truth["true_net_margin_365d"].iloc[0])
                                           - COST[channel]})
    return pd.DataFrame(rows)


PLAN_ROWS = pd.DataFrame([
    {"customer_id": "c1", "action_id": "c", "channel": "phone", "expected_value": 5.0, "chosen": True},
    {"customer_id": "c1", "action_id": "no_action", "channel": None, "expected_value": 0.0, "chosen": False},
    {"customer_id": "c2", "action_id": "b", "channel": "email", "expected_value": 1.0, "chosen": True},
    {"customer_id": "c3", "action_id": "no_action", "channel": None, "expected_value": 0.0, "chosen": True},
    {"customer_id": "c4", "action_id": "a", "channel": "email", "expected_value": 0.3, "chosen": True},
])


@pytest.fixture()
def result():
    return evaluate_plan(PLAN_ROWS, _audit(), TRUTH, _catalog(), Limits(1, 10.0, {}), n_customers=4, seed=3)


def test_every_policy_gets_exactly_its_known_true_value(result):
    value = {p["policy"]: p["true_value"] for p in result["policies"]}
    assert value[PLAN] == pytest.approx((7 - 1.0) + (2 - 0.1) + (0.5 - 0.1))
    assert value["no action"] == 0.0
    assert value["everyone gets a"] == pytest.approx(4.9 - 1.1 + 2.9 + 0.4)          # all on e-mail, the cheaper
    assert value["everyone gets b"] == pytest.approx(0.9 + 1.9 + 2.9 + 0.1)
    assert value["everyone gets c"] in (pytest.approx(6.0), pytest.approx(7.0), pytest.approx(-3.0))  # 1 call
    # best: the one call to c2 (gains 5.1 over its e-mail), c1 takes a by e-mail, c3 a or b, c4 a
    assert value[BEST_POSSIBLE] == pytest.approx(7.0 + 4.9 + 2.9 + 0.4)
    per_1000 = {p["policy"]: p["true_value_per_1000_customers"] for p in result["policies"]}
    assert per_1000[PLAN] == pytest.approx(1000 * 8.3 / 4)
    assert result["best_single_action"] == "a"
    assert result["ratios"] == {"plan_over_best_single_action": pytest.approx(8.3 / 7.1, abs=1e-4),
                                "plan_over_best_possible": pytest.approx(8.3 / 15.2, abs=1e-4)}


def test_per_action_figures_put_the_plans_expectation_next_to_the_truth(result):
    rows = {r["action_id"]: r for r in result["per_action"]}
    assert rows["c"]["plan_contacts"] == 1 and rows["c"]["plan_true_value_per_contact"] == pytest.approx(6.0)
    assert rows["c"]["plan_expected_value_per_contact"] == pytest.approx(5.0)
    assert rows["a"]["spearman_expected_vs_true"] == pytest.approx(1.0)    # same order despite the cost error
    assert rows["b"]["spearman_expected_vs_true"] == pytest.approx(-1.0)
    assert rows["b"]["everyone_contacts"] == 4


def test_options_outside_consent_are_never_used(result):
    options = option_table(_audit(), TRUTH, _catalog())
    assert not ((options["customer_id"] == "c4") & (options["channel"] == "phone")).any()
    picks = random_permitted(options, Limits(None, None, {}), seed=1)
    assert set(zip(picks["customer_id"], picks["channel"])) <= set(zip(options["customer_id"], options["channel"]))


def test_every_baseline_honours_capacity_budget_and_caps():
    rng = np.random.default_rng(0)
    customers = [f"p{i:03d}" for i in range(300)]
    truth = pd.DataFrame([(c, a, rng.normal(1, 3), (2.0 if a == "b" else 0.0)) for c in customers for a in "abc"],
                         columns=TRUTH.columns)
    audit = pd.DataFrame([{"customer_id": c, "action_id": a, "channel": ch, "eligible": rng.random() < 0.9,
                           "suppressed": rng.random() < 0.1, "expected_value": rng.normal()}
                          for c in customers for a, ch in (("a", "email"), ("a", "phone"), ("b", "email"),
                                                            ("c", "phone"))])
    limits = Limits(capacity_calls=7, offer_budget=21.0, action_caps={"a": 40})
    options = option_table(audit, truth, _catalog())
    oracle, solver = best_possible(options, limits)
    policies = {"random": random_permitted(options, limits, seed=5), "oracle": oracle,
                **{a: everyone_gets(options, a, limits, seed=5) for a in "abc"}}
    for name, picks in policies.items():
        assert (picks["channel"] == "phone").sum() <= 7, name
        assert picks["offer_cost"].sum() <= 21.0 + 1e-9, name
        assert (picks["action_id"] == "a").sum() <= 40, name
        assert picks["customer_id"].is_unique, name
    assert (policies["c"]["channel"] == "phone").sum() == 7            # capacity binds: filled, not skipped
    assert (policies["a"]["action_id"] == "a").sum() == 40
    assert solver["method"] == "milp"
    for name in ("random", "a", "b", "c"):
        assert oracle["true_value"].sum() >= policies[name]["true_value"].sum() - 1e-9
    again = everyone_gets(options, "c", limits, seed=5)
    assert again["customer_id"].tolist() == policies["c"]["customer_id"].tolist()   # the seed fixes who is picked
