"""Properties of decide() over random catalogs, consents, do-not-contact and suppression lists and limits."""
from datetime import date

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.decisions.catalog import CHANNELS, VALUE_BASES, parse_catalog
from models.decisions.plan import decide

FEATURES = {"purchases_365d", "complaints_30d", "avg_order_value_365d", "days_since_last_decline",
            *(f"reachable_{ch}" for ch in CHANNELS), *(f"contacts_{ch}_{w}" for ch in CHANNELS for w in ("7d", "30d"))}
RULES = ["true", "purchases_365d >= 1", "complaints_30d == 0 or purchases_365d > 2", "not (avg_order_value_365d < 10)",
         "days_since_last_decline > 30 and purchases_365d < 4"]
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def catalogs(draw):
    actions = []
    for i in range(draw(st.integers(2, 5))):
        channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4, unique=True))
        basis = draw(st.sampled_from(VALUE_BASES))
        action = {"id": f"a{i}", "type": draw(st.sampled_from(["offer", "content", "call"])), "names": {"en": f"A{i}"},
                  "channels": channels,
                  "cost_per_contact": {ch: draw(st.sampled_from([0.1, 0.0, 1.0, 3.0])) for ch in channels},
                  "offer_cost_share": draw(st.sampled_from([0.0, 0.05, 0.3])), "value_basis": basis,
                  "eligibility": draw(st.sampled_from(RULES)), "priority": draw(st.integers(0, 3)),
                  "prior_uplift": draw(st.sampled_from([-0.05, 0.0, 0.02, 0.2])), "script_hint": {"en": "Say hi."}}
        if basis == "fixed":
            action["value_per_conversion"] = draw(st.sampled_from([0.0, 10.0, 50.0]))
        if draw(st.booleans()):
            action["suitability"] = draw(st.sampled_from(RULES))
        actions.append(action)
    return parse_catalog({"version": "prop", "actions": actions}, FEATURES, source="prop.yaml", sha256="0" * 64)


@st.composite
def nights(draw):
    catalog = draw(catalogs())
    n = draw(st.integers(5, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    customers = pd.DataFrame({"customer_id": ids, "do_not_contact": rng.random(n) < 0.1,
                              **{f"consent_{ch}": rng.random(n) < 0.7 for ch in CHANNELS}})
    features = pd.DataFrame({"customer_id": ids, "purchases_365d": rng.integers(0, 6, n),
                             "complaints_30d": rng.integers(0, 2, n),
                             "avg_order_value_365d": rng.choice([0.0, 20.0, 50.0], n),
                             "days_since_last_purchase": rng.integers(1, 500, n),
                             "days_since_last_decline": rng.choice([3, 40, 9999, 9999], n),
                             **{f"reachable_{ch}": rng.random(n) < 0.9 for ch in CHANNELS},
                             **{f"contacts_{ch}_{w}": rng.choice([0, 0, 0, 1, 2], n) for ch in CHANNELS for w in ("7d", "30d")}})
    # values come from small sets so that ties (and with them limit violations to repair) are common
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": 0.5, "upsell_probability": rng.choice([0.0, 0.5], n),
                           "clv": rng.choice([200.0, 400.0, 1000.0], n)})
    pairs = [(c, a.id) for c in ids for a in catalog.actions if rng.random() < 0.9]
    responses = pd.DataFrame({"customer_id": [c for c, _ in pairs], "action_id": [a for _, a in pairs],
                              "p_treated": rng.choice([0.1, 0.3], len(pairs)),
                              "uplift": rng.choice([0.05, 0.1, 0.2, -0.05], len(pairs))})
    suppressed = {c for c in ids if rng.random() < 0.1}
    action_ids = [a.id for a in catalog.actions]
    config = {"seed": seed, "decisions": {
        "top_k": 40, "min_margin_value": draw(st.sampled_from([0.0, 0.5, 2.0])),
        "one_action_per_customer": draw(st.booleans()), "holdout_share": draw(st.sampled_from([0.0, 0.2, 0.5])),
        "holdout_salt": "prop", "exploration_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
        "capacity_calls_per_night": draw(st.sampled_from([1, 0, 2, None])),
        "offer_budget_per_night": draw(st.sampled_from([1.0, 0.0, 3.0, None])),
        "action_volume_caps": draw(st.dictionaries(st.sampled_from(action_ids), st.integers(1, 4))),
        "margin_rate": 0.3, "levers": {},
        "contact_policy": {"max_contacts_per_channel_7d": draw(st.sampled_from([2, 1])), "max_contacts_per_channel_30d": 3,
                           "cooldown_after_decline_days": 14}}}
    return catalog, customers, features, scores, responses, suppressed, config


def offer_spend(chosen, catalog, features, responses) -> float:
    """Expected offer spend of the chosen rows, from the definition: p_treated x share x order value."""
    order_value = features.set_index("customer_id")["avg_order_value_365d"]
    order_value = order_value.where(order_value > 0, order_value[order_value > 0].median() if (order_value > 0).any() else 0)
    p_treated = responses.set_index(["customer_id", "action_id"])["p_treated"]
    total = 0.0
    for row in chosen.itertuples():
        action = catalog.action(row.action_id)
        p = p_treated.get((row.customer_id, row.action_id), max(action.prior_uplift, 0.0))
        total += p * action.offer_cost_share * order_value[row.customer_id]
    return total


@SETTINGS
@given(nights())
def test_chosen_actions_respect_consent_suppression_and_limits(night):
    catalog, customers, features, scores, responses, suppressed, config = night
    result = decide(customers, features, scores, responses, catalog, config, as_of=date(2026, 11, 23),
                    suppressed_ids=suppressed, model_versions={})
    nba, d = result.next_best_actions, config["decisions"]
    chosen = nba[nba["chosen"] & (nba["action_id"] != "no_action")]
    people = customers.set_index("customer_id")
    person_features = features.set_index("customer_id")
    for row in chosen.itertuples():
        assert people.loc[row.customer_id, f"consent_{row.channel}"]
        assert person_features.loc[row.customer_id, f"reachable_{row.channel}"]
        assert not people.loc[row.customer_id, "do_not_contact"]
        assert row.customer_id not in suppressed
        assert not row.is_holdout
        assert person_features.loc[row.customer_id, f"contacts_{row.channel}_7d"] < d["contact_policy"]["max_contacts_per_channel_7d"]
        assert person_features.loc[row.customer_id, "days_since_last_decline"] >= 14
        assert row.channel in catalog.action(row.action_id).channels
    if d["one_action_per_customer"]:
        assert chosen["customer_id"].is_unique
    else:
        assert not chosen.duplicated(["customer_id", "action_id"]).any()
    if d["capacity_calls_per_night"] is not None:
        assert (chosen["channel"] == "phone").sum() <= d["capacity_calls_per_night"]
    if d["offer_budget_per_night"] is not None:
        assert offer_spend(chosen, catalog, features, responses) <= d["offer_budget_per_night"] + 1e-6
    for action_id, cap in d["action_volume_caps"].items():
        assert (chosen["action_id"] == action_id).sum() <= cap
    # every customer appears, with exactly one chosen row when nothing or one action is sent
    assert set(nba["customer_id"]) == set(customers["customer_id"])
    if d["one_action_per_customer"]:
        assert (nba.groupby("customer_id")["chosen"].sum() == 1).all()
        sums = nba.groupby("customer_id")["selection_probability"].sum()
        assert np.allclose(sums, 1.0)
        assert (nba.loc[nba["chosen"], "selection_probability"] > 0).all()
    audit = result.decision_audit
    assert not (audit["chosen"] & (audit["suppressed"] | ~audit["eligible"])).any()
