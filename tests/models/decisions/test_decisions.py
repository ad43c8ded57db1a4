"""decide(): a hand-computed case, global limits with fallback, control groups, determinism, explanations."""
import copy
import duckdb
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
import yaml

from models.decisions.catalog import CHANNELS, load_catalog, parse_catalog
from models.decisions.control_groups import assign_holdout
from models.decisions.plan import AUDIT_COLUMNS, NBA_COLUMNS, decide
from models.decisions.explain import explain_customer, policy_reason
from models.exports.run_summary import constraint_lines
from models.exports.run_summary_texts import TEXTS

FEATURES = {"purchases_365d", "complaints_30d", "avg_order_value_365d", "days_since_last_decline",
            *(f"reachable_{ch}" for ch in CHANNELS), *(f"contacts_{ch}_{w}" for ch in CHANNELS for w in ("7d", "30d"))}
CATALOG = {"version": "hand-v1", "actions": [
    {"id": "retain", "type": "retention_offer", "names": {"en": "Retention offer", "es": "Oferta de retención"},
     "channels": ["email", "phone"], "cost_per_contact": {"email": 0.5, "phone": 3.0}, "offer_cost_share": 0.1,
     "value_basis": "retained_clv", "eligibility": "purchases_365d >= 1", "priority": 1, "prior_uplift": 0.02,
     "script_hint": {"en": "Offer 10% off."}},
    {"id": "survey", "type": "survey", "names": {"en": "Survey", "pt": "Pesquisa"}, "channels": ["email", "sms"],
     "cost_per_contact": {"email": 0.1, "sms": 0.2}, "value_basis": "fixed", "value_per_conversion": 10.0,
     "eligibility": "true", "priority": 2, "prior_uplift": 0.05, "script_hint": {"en": "Ask."}},
    {"id": "upsell", "type": "upsell", "names": {"en": "Premium range"}, "channels": ["app"],
     "cost_per_contact": {"app": 0.0}, "value_basis": "upsell_margin", "eligibility": "purchases_365d >= 2",
     "suitability": "complaints_30d == 0", "priority": 3, "prior_uplift": 0.01, "script_hint": {"en": "Premium."}},
]}
CONFIG = {"seed": 1, "decisions": {
    "top_k": 3, "min_margin_value": 0.5, "one_action_per_customer": True, "holdout_share": 0.0,
    "holdout_salt": "test-salt", "exploration_share": 0.0, "capacity_calls_per_night": 10,
    "offer_budget_per_night": 100.0, "action_volume_caps": {}, "margin_rate": 0.5,
    "contact_policy": {"max_contacts_per_channel_7d": 1, "max_contacts_per_channel_30d": 3,
                       "cooldown_after_decline_days": 14}}}
AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("catalog") / "action_catalog.yaml"
    path.write_text(yaml.safe_dump(CATALOG), encoding="utf-8")
    return load_catalog(path, FEATURES)


def hand_inputs():
    """Six customers whose expected values are worked out by hand in the tests below."""
    ids = ["A", "B", "C", "D", "E", "F"]
    customers = pd.DataFrame({"customer_id": ids, "do_not_contact": [False, False, True, False, False, False],
                              "consent_email": [True, False, True, True, True, True], "consent_sms": True,
                              "consent_phone": True, "consent_app": True})
    features = pd.DataFrame({"customer_id": ids, "purchases_365d": [3, 1, 3, 3, 0, 1],
                             "complaints_30d": [0, 0, 0, 0, 1, 0],
                             "avg_order_value_365d": [100.0, 50.0, 100.0, 100.0, 0.0, 80.0],
                             "days_since_last_purchase": [20, 200, 20, 20, 400, 60],
                             "days_since_last_decline": 9999,
                             **{f"reachable_{ch}": True for ch in CHANNELS},
                             **{f"contacts_{ch}_{w}": 0 for ch in CHANNELS for w in ("7d", "30d")}})
    features.loc[features["customer_id"] == "F", "contacts_email_7d"] = 1  # F hit the 7-day email cap
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": 0.5, "upsell_probability": [0.5, 0, 0.5, 0.5, 0, 0],
                           "clv": [1000.0, 200.0, 1000.0, 1000.0, 100.0, 500.0]})
    rows = [("A", "retain", 0.3, 0.1), ("A", "survey", 0.2, 0.2), ("A", "upsell", 0.1, 0.1),
            ("B", "retain", 0.1, 0.05), ("B", "survey", 0.1, 0.1), ("B", "upsell", 0.1, 0.1),
            ("C", "retain", 0.3, 0.1), ("D", "retain", 0.3, 0.1), ("E", "survey", 0.05, 0.03)]  # F: priors
    responses = pd.DataFrame(rows, columns=["customer_id", "action_id", "p_treated", "uplift"])
    responses["p_control"] = responses["p_treated"] - responses["uplift"]
    return customers, features, scores, responses


def run(catalog, config=CONFIG, inputs=None, suppressed=frozenset({"D"}), as_of=AS_OF, **decisions):
    config = copy.deepcopy(config)
    config["decisions"].update(decisions)
    customers, features, scores, responses = inputs or hand_inputs()
    return decide(customers, features, scores, responses, catalog, config, as_of=as_of,
                  suppressed_ids=set(suppressed), model_versions={"churn": "7", "clv": "2"})


def chosen_of(result) -> dict[str, tuple]:
    rows = result.next_best_actions[result.next_best_actions["chosen"]]
    return {r.customer_id: (r.action_id, r.channel) for r in rows.itertuples()}


def audit_row(result, customer, action, channel):
    audit = result.decision_audit
    match = audit[(audit["customer_id"] == customer) & (audit["action_id"] == action) & (audit["channel"] == channel)]
    assert len(match) == 1
    return match.iloc[0]


def test_hand_made_case_values_and_choices(catalog):
    result = run(catalog)
    assert chosen_of(result) == {"A": ("retain", "email"), "B": ("retain", "phone"), "C": ("no_action", None),
                                 "D": ("no_action", None), "E": ("no_action", None), "F": ("retain", "phone")}
    # EV = uplift x stake - contact cost - p_treated x offer_cost_share x order value
    expected = {("A", "retain", "email"): 0.1 * 500 - 0.5 - 0.3 * 10, ("A", "retain", "phone"): 0.1 * 500 - 3 - 0.3 * 10,
                ("A", "survey", "email"): 0.2 * 10 - 0.1, ("A", "survey", "sms"): 0.2 * 10 - 0.2,
                ("A", "upsell", "app"): 0.1 * 0.5 * 100 * 1.5,
                ("B", "retain", "phone"): 0.05 * 100 - 3 - 0.1 * 5, ("B", "survey", "sms"): 0.1 * 10 - 0.2,
                ("E", "survey", "email"): 0.03 * 10 - 0.1,
                ("F", "retain", "phone"): 0.02 * 250 - 3 - 0.02 * 8, ("F", "survey", "sms"): 0.05 * 10 - 0.2}
    for (customer, action, channel), value in expected.items():
        assert audit_row(result, customer, action, channel)["expected_value"] == pytest.approx(value)
    nba = result.next_best_actions
    a_rows = nba[nba["customer_id"] == "A"]
    assert a_rows[["rank", "action_id", "channel"]].values.tolist() == [[1, "retain", "email"], [2, "retain", "phone"],
                                                                       [3, "upsell", "app"]]
    assert a_rows["expected_value"].tolist() == pytest.approx([46.5, 44.0, 7.5])
    assert a_rows["selection_probability"].tolist() == [1.0, 0.0, 0.0]
    assert list(nba.columns) == NBA_COLUMNS and list(result.decision_audit.columns) == AUDIT_COLUMNS
    assert json.loads(nba["model_versions"].iloc[0]) == {"churn": "7", "clv": "2"}
    assert nba["policy_version"].iloc[0] == catalog.version
    assert result.summary["total_expected_value"] == pytest.approx(46.5 + 1.5 + 1.84)
    assert result.summary["counts_by_action"] == {"no_action": 3, "retain": 3}
    assert result.summary["counts_by_action_channel"] == {"retain": {"email": 1, "phone": 2}}
    assert result.summary["calls_used"] == 2


def test_hand_made_case_audit_reasons(catalog):
    result = run(catalog)
    assert audit_row(result, "A", "retain", "phone")["not_chosen_reason"] == "lower_value"
    assert audit_row(result, "A", "survey", "email")["not_chosen_reason"] == "one_action_per_customer"
    assert audit_row(result, "A", "upsell", "app")["not_chosen_reason"] == "one_action_per_customer"
    b_email = audit_row(result, "B", "retain", "email")
    assert b_email["suppressed"] and b_email["suppression_reason"] == "no_consent_email" and pd.isna(b_email["rank"])
    b_upsell = audit_row(result, "B", "upsell", "app")
    assert not b_upsell["eligible"] and b_upsell["ineligible_rule"] == "eligibility: purchases_365d >= 2"
    assert audit_row(result, "C", "retain", "email")["suppression_reason"] == "do_not_contact"
    assert audit_row(result, "D", "survey", "sms")["suppression_reason"] == "erased"
    assert audit_row(result, "E", "survey", "email")["not_chosen_reason"] == "below_margin"
    assert audit_row(result, "E", "upsell", "app")["ineligible_rule"] == "eligibility: purchases_365d >= 2"
    assert audit_row(result, "F", "retain", "email")["suppression_reason"] == "frequency_cap_7d"
    assert audit_row(result, "F", "retain", "phone")["chosen"]
    assert len(result.decision_audit) == 6 * 5


def test_capacity_falls_back_to_next_best(catalog):
    one = run(catalog, capacity_calls_per_night=1)
    # B loses only 0.7 by moving to the survey by SMS; F would lose 1.84 (its next best is below margin)
    assert chosen_of(one)["B"] == ("survey", "sms") and chosen_of(one)["F"] == ("retain", "phone")
    assert audit_row(one, "B", "retain", "phone")["not_chosen_reason"] == "capacity"
    assert one.summary["calls_used"] == 1
    assert one.summary["shadow_price_call"] == pytest.approx((1.84 + 0.7) / 2)
    assert one.summary["constraint_costs"]["capacity_calls_per_night"] == pytest.approx(0.7)
    none = run(catalog, capacity_calls_per_night=0)
    assert chosen_of(none)["F"] == ("no_action", None) and chosen_of(none)["B"] == ("survey", "sms")
    assert audit_row(none, "F", "retain", "phone")["not_chosen_reason"] == "capacity"
    assert none.summary["calls_used"] == 0


def test_budget_and_action_caps_move_the_cheapest_losses(catalog):
    budget = run(catalog, offer_budget_per_night=1.0)  # A's retention offer spends 0.3 x 10 = 3.0
    assert chosen_of(budget)["A"] == ("upsell", "app")
    assert chosen_of(budget)["B"] == ("retain", "phone") and chosen_of(budget)["F"] == ("retain", "phone")
    assert audit_row(budget, "A", "retain", "email")["not_chosen_reason"] == "budget"
    assert budget.summary["offer_spend_expected"] == pytest.approx(0.5 + 0.16)
    capped = run(catalog, action_volume_caps={"retain": 1})
    assert chosen_of(capped)["A"] == ("retain", "email")
    assert chosen_of(capped)["B"] == ("survey", "sms") and chosen_of(capped)["F"] == ("no_action", None)
    assert audit_row(capped, "F", "retain", "phone")["not_chosen_reason"] == "action_cap"
    assert capped.summary["counts_by_action"]["retain"] == 1


def test_empty_night_and_json_summary(catalog):
    customers, features, scores, responses = hand_inputs()
    empty = run(catalog, inputs=(customers.iloc[:0], features.iloc[:0], scores.iloc[:0], responses.iloc[:0]))
    assert empty.next_best_actions.empty and empty.decision_audit.empty
    assert empty.summary["counts_by_action"] == {"no_action": 0}
    full = run(catalog, holdout_share=0.3, exploration_share=0.2)
    assert json.loads(json.dumps(full.summary))["solver"]["method"] == "lagrangian"


def test_ties_go_to_priority_then_action_id_then_channel():
    def action(action_id, priority):
        return {"id": action_id, "type": "survey", "names": {"en": action_id}, "channels": ["sms", "email"],
                "cost_per_contact": {"email": 0.1, "sms": 0.1}, "value_basis": "fixed", "value_per_conversion": 10.0,
                "eligibility": "true", "priority": priority, "prior_uplift": 0.1, "script_hint": {"en": "Hi."}}
    customers, features, scores, _ = hand_inputs()
    no_responses = pd.DataFrame(columns=["customer_id", "action_id", "p_treated", "p_control", "uplift"])
    for actions, winner in [([action("b", 1), action("a", 1)], ("a", "email")),
                            ([action("a", 2), action("b", 1)], ("b", "email"))]:
        tied = parse_catalog({"version": "tie", "actions": actions}, FEATURES, source="tie.yaml", sha256="0" * 64)
        result = run(tied, inputs=(customers, features, scores, no_responses))
        assert chosen_of(result)["A"] == winner
        nba = result.next_best_actions
        assert nba.loc[nba["customer_id"] == "A", "expected_value"].tolist()[:2] == [0.9, 0.9]


def test_levers_weight_an_action(catalog):
    result = run(catalog, levers={"upsell": 10.0})  # upsell app becomes 75 > 46.5
    assert chosen_of(result)["A"] == ("upsell", "app")
    assert audit_row(result, "A", "upsell", "app")["expected_value"] == pytest.approx(75.0)


def test_bad_config_values_are_named(catalog):
    with pytest.raises(ValueError, match="decisions.holdout_share"):
        run(catalog, holdout_share=2)
    with pytest.raises(ValueError, match="decisions.action_volume_caps: 'nope' is not an action id of the catalog"):
        run(catalog, action_volume_caps={"nope": 3})
    with pytest.raises(ValueError, match="decisions.action_volume_caps.upsell: expected a non-negative integer, got -1"):
        run(catalog, action_volume_caps={"upsell": -1})
    with pytest.raises(ValueError, match="decisions.levers: 'nope' is neither an action id nor an action type"):
        run(catalog, levers={"nope": 2.0})
    customers, features, scores, responses = hand_inputs()
    with pytest.raises(ValueError, match="features lacks column.*contacts_email_7d"):
        run(catalog, inputs=(customers, features.drop(columns="contacts_email_7d"), scores, responses))
    with pytest.raises(ValueError, match="customers has customer_id 'A' more than once"):
        run(catalog, inputs=(pd.concat([customers, customers.head(1)]), features, scores, responses))


def make_inputs(n: int, catalog, seed: int = 0):
    """Synthetic customers, features, scores and responses for `catalog` (features of the hand catalog)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:07d}" for i in range(n)], dtype=object)
    customers = pd.DataFrame({"customer_id": ids, "do_not_contact": rng.random(n) < 0.03,
                              **{f"consent_{ch}": rng.random(n) < p for ch, p in zip(CHANNELS, (0.8, 0.5, 0.4, 0.6))}})
    features = pd.DataFrame({
        "customer_id": ids, "purchases_365d": rng.poisson(2, n), "complaints_30d": rng.poisson(0.1, n),
        "avg_order_value_365d": np.round(rng.gamma(2, 30, n), 2), "days_since_last_purchase": rng.integers(1, 500, n),
        "days_since_last_decline": np.where(rng.random(n) < 0.1, rng.integers(0, 60, n), 9999),
        **{f"reachable_{ch}": rng.random(n) < 0.95 for ch in CHANNELS},
        **{f"contacts_{ch}_{w}": rng.poisson(lam, n) for ch in CHANNELS for w, lam in (("7d", 0.1), ("30d", 0.5))}})
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": rng.random(n), "upsell_probability": rng.random(n),
                           "clv": np.round(rng.gamma(2, 150, n), 2)})
    action_ids = [a.id for a in catalog.actions]
    control = rng.random(n * len(action_ids)) * 0.1
    uplift = rng.normal(0.03, 0.03, n * len(action_ids))
    responses = pd.DataFrame({"customer_id": np.repeat(ids, len(action_ids)),
                              "action_id": np.tile(np.array(action_ids, dtype=object), n),
                              "p_treated": np.clip(control + uplift, 0, 1), "p_control": control, "uplift": uplift})
    return customers, features, scores, responses


def test_holdout_is_stable_across_nights_and_has_the_configured_share(catalog):
    ids = [f"C{i:07d}" for i in range(20000)]
    holdout = assign_holdout(ids, "nba-holdout-v1", 0.05)
    assert abs(holdout.mean() - 0.05) < 0.006
    assert (assign_holdout(ids, "nba-holdout-v1", 0.05) == holdout).all()
    assert (assign_holdout(ids, "other-salt", 0.05) != holdout).any()
    assert (holdout <= assign_holdout(ids, "nba-holdout-v1", 0.10)).all()  # growing the share only adds people

    inputs = make_inputs(1500, catalog, seed=3)
    nights = [run(catalog, inputs=inputs, suppressed=(), as_of=day, holdout_share=0.2, exploration_share=0.1)
              for day in (date(2026, 11, 23), date(2026, 11, 24))]
    flags = [n.next_best_actions.groupby("customer_id")["is_holdout"].first() for n in nights]
    pd.testing.assert_series_equal(flags[0], flags[1])
    assert 0.15 < flags[0].mean() < 0.25
    for night in nights:
        nba = night.next_best_actions
        held = nba[nba["is_holdout"]]
        assert (held.loc[held["chosen"], "action_id"] == "no_action").all()
        assert (held.loc[held["chosen"], "selection_probability"] == 1.0).all()
        assert not held["is_exploration"].any()
        audit = night.decision_audit
        held_audit = audit[audit["customer_id"].isin(held["customer_id"])]
        assert not held_audit["chosen"].any()
        listed = held_audit["rank"].notna()
        assert (held_audit.loc[listed, "suppression_reason"] == "holdout").all()
        assert (held_audit.loc[listed, "not_chosen_reason"] == "holdout").all()
        assert night.summary["holdout_size"] == int(flags[0].sum())
    explored = [set(n.next_best_actions.loc[n.next_best_actions["is_exploration"], "customer_id"]) for n in nights]
    assert explored[0] != explored[1]  # exploration is drawn afresh every night


def test_selection_probabilities_sum_to_one_and_match_the_policy(catalog):
    inputs = make_inputs(1500, catalog, seed=5)
    result = run(catalog, inputs=inputs, suppressed=(), top_k=50, holdout_share=0.1, exploration_share=0.3,
                 capacity_calls_per_night=20, offer_budget_per_night=50.0)
    nba = result.next_best_actions
    sums = nba.groupby("customer_id")["selection_probability"].sum()
    assert np.allclose(sums, 1.0)
    assert len(sums) == 1500
    chosen = nba[nba["chosen"]]
    assert (chosen["selection_probability"] > 0).all()
    assert 0.2 < chosen["is_exploration"].mean() < 0.4
    # a customer who was not explored got the policy's greedy choice: probability 1 - eps + eps/n
    n_options = nba[nba["selection_probability"] > 0].groupby("customer_id").size()
    greedy = chosen[~chosen["is_exploration"] & ~chosen["is_holdout"]].set_index("customer_id")
    assert np.allclose(greedy["selection_probability"], 0.7 + 0.3 / n_options.loc[greedy.index])
    # exploration may draw calls and costly offers, but only about its share of each limit, and the limits hold
    assert result.summary["calls_used"] <= 20 and result.summary["offer_spend_expected"] <= 50.0 + 1e-9
    audit = result.decision_audit
    moved = audit.loc[audit["not_chosen_reason"] == "exploration", "customer_id"]
    drawn = chosen[chosen["customer_id"].isin(moved)]
    assert len(drawn) > 20 and drawn["is_exploration"].all()
    assert (drawn["channel"] == "phone").sum() <= 0.3 * 20 * 2.5


def test_limits_hold_on_a_larger_night(catalog):
    inputs = make_inputs(4000, catalog, seed=11)
    result = run(catalog, inputs=inputs, suppressed=set(inputs[0]["customer_id"][:100]),
                 capacity_calls_per_night=15, offer_budget_per_night=30.0, action_volume_caps={"upsell": 40},
                 holdout_share=0.05, exploration_share=0.05)
    chosen = result.next_best_actions[result.next_best_actions["chosen"]]
    assert (chosen["channel"] == "phone").sum() <= 15
    assert (chosen["action_id"] == "upsell").sum() <= 40
    assert result.summary["offer_spend_expected"] <= 30.0 + 1e-9
    assert chosen["customer_id"].is_unique and len(chosen) == 4000
    erased = chosen[chosen["customer_id"].isin(inputs[0]["customer_id"][:100])]
    assert (erased["action_id"] == "no_action").all()
    assert result.summary["solver"]["gap"] < 0.01
    assert result.summary["constraint_costs"]["capacity_calls_per_night"] > 0


def test_several_actions_per_customer_when_allowed(catalog):
    result = run(catalog, one_action_per_customer=False)
    chosen = result.next_best_actions[result.next_best_actions["chosen"]]
    a = chosen[chosen["customer_id"] == "A"]
    assert set(zip(a["action_id"], a["channel"])) == {("retain", "email"), ("survey", "email"), ("upsell", "app")}
    assert not chosen.duplicated(["customer_id", "action_id"]).any()
    assert audit_row(result, "A", "retain", "phone")["not_chosen_reason"] == "lower_value"


def test_results_do_not_depend_on_input_order(catalog):
    inputs = make_inputs(800, catalog, seed=2)
    shuffled = tuple(frame.sample(frac=1.0, random_state=9) for frame in inputs)
    settings = dict(suppressed=(), holdout_share=0.1, exploration_share=0.2, capacity_calls_per_night=10)
    first, second = run(catalog, inputs=inputs, **settings), run(catalog, inputs=shuffled, **settings)
    pd.testing.assert_frame_equal(first.next_best_actions, second.next_best_actions)
    pd.testing.assert_frame_equal(first.decision_audit, second.decision_audit)
    assert first.summary == second.summary


@pytest.mark.parametrize("lang, expected", [
    ("en", ["Chosen: Retention offer by phone call (expected value 1.50).",
            "- Retention offer (email): no consent for email.",
            "- Premium range (app notification): not eligible: purchases_365d >= 2 does not hold."]),
    ("es", ["Elegida: Oferta de retención por llamada (valor esperado 1,50).",
            "- Oferta de retención (correo electrónico): sin consentimiento para correo electrónico."]),
    ("pt", ["Escolhida: Retention offer por ligação (valor esperado 1,50).", "- Pesquisa (SMS): apenas uma ação"]),
])
def test_explanations_in_three_languages(catalog, lang, expected):
    text = explain_customer(run(catalog).decision_audit, catalog, "B", lang)
    for line in expected:
        assert line in text


def test_explanations_of_constraints_and_suppression(catalog):
    audit = run(catalog, capacity_calls_per_night=0).decision_audit
    f = explain_customer(audit, catalog, "F")
    assert "Chosen: no action tonight." in f and "no call-centre slot left tonight" in f
    assert "as often as allowed in the last 7 days" in f
    d = explain_customer(audit, catalog, "D", "es")
    assert "- Oferta de retención (correo electrónico, llamada): los datos del cliente se borraron" in d
    with pytest.raises(ValueError, match="customer 'Z' is not in the decision audit"):
        explain_customer(audit, catalog, "Z")
    with pytest.raises(ValueError, match="language 'fr' is not supported"):
        explain_customer(audit, catalog, "A", "fr")
    assert policy_reason("retain", 46.5, catalog, "es") == "Oferta de retención: el mayor valor esperado esta noche (46,50)"
    assert policy_reason("survey", 1.0, catalog, "pt", is_exploration=True) == "Pesquisa: sorteada para aprender o que funciona"


def test_the_cool_down_honours_a_decline_too_recent_to_have_settled_as_a_feature():
    """The model feature days_since_last_decline counts settled outcomes only; the contact policy must still
    see yesterday's "no" (customers.days_since_any_decline from latest_declines_sql)."""
    from models.decisions.policies import SUPPRESSION_REASONS, latest_declines_sql

    con = duckdb.connect()
    con.execute("CREATE TABLE interactions AS SELECT * FROM (VALUES ('A', TIMESTAMP '2026-10-30 09:00', 'campaign', "
                "'declined'), ('B', TIMESTAMP '2026-11-01 00:00', 'campaign', 'declined')) "
                "t(customer_id, interaction_ts, type, outcome)")
    declines = con.execute(latest_declines_sql(date(2026, 11, 1))).df()
    assert declines.to_dict("records") == [{"customer_id": "A", "days_since_any_decline": 2}]  # B is on the as-of date
    codes = email_suppression_of_two(days_since_any_decline=[2.0, np.nan])
    assert SUPPRESSION_REASONS[codes[0] - 1] == "cooldown_after_decline"
    assert codes[1] == 0


def email_suppression_of_two(**customer_columns) -> np.ndarray:
    """E-mail suppression codes of customers A and B, who consent, are reachable and were never contacted or
    declined by the features; `customer_columns` add the decision inputs' fresher columns."""
    from models.decisions.policies import evaluate_suppression

    customers = pd.DataFrame({"customer_id": ["A", "B"], "do_not_contact": False, "consent_email": True,
                              **customer_columns})
    features = pd.DataFrame({"customer_id": ["A", "B"], "days_since_last_decline": 9999, "reachable_email": True,
                             "contacts_email_7d": 0, "contacts_email_30d": 0})
    policy = {"max_contacts_per_channel_7d": 1, "max_contacts_per_channel_30d": 3, "cooldown_after_decline_days": 14}
    return evaluate_suppression(customers, features, np.zeros(2, bool), np.zeros(2, bool), ["email"], policy)[:, 0]


def test_measured_values_replace_the_prior_formula_and_thresholds_report_what_they_held_back(catalog):
    """An action with a value model is worth its learned incremental margin minus the contact cost; the option
    lower bound and min_margin_value hold back options worth something, and the summary says how much."""
    customers, features, scores, responses = hand_inputs()
    responses["value_uplift"] = np.where(responses["action_id"] == "survey", 2.0, np.nan)  # survey measured: +2.0
    responses["value_se"] = np.where(responses["customer_id"] == "E", 5.0, 0.1)  # E's estimate is too uncertain
    result = run(catalog, inputs=(customers, features, scores, responses), min_margin_value=0.0)
    audit = result.decision_audit.set_index(["customer_id", "action_id", "channel"])
    assert audit.loc[("A", "survey", "email"), "expected_value"] == pytest.approx(2.0 - 0.1)
    assert audit.loc[("A", "survey", "sms"), "expected_value"] == pytest.approx(2.0 - 0.2)
    assert chosen_of(result)["B"] == ("survey", "sms")  # B has no e-mail consent; the survey's 1.8 is worth sending
    assert chosen_of(result)["E"] == ("no_action", None)  # 2.0 - 0.84 x 5.0 < 0: held back by the option lower bound
    removed = result.summary["threshold_removed"]
    assert removed["customers"] == 1 and removed["value"] == pytest.approx(2.0 - 0.1)
    strict = run(catalog, inputs=(customers, features, scores, responses), min_margin_value=1.95)
    assert strict.summary["threshold_removed"]["customers"] > removed["customers"]
    assert "policy_selection" in result.summary and result.summary["policy_selection"]["winner"] == "learned"


def test_exploration_covers_calls_and_offers_within_a_small_share_of_their_limits(catalog):
    """Calls and offers are explored too, with their selection probabilities, but exploration takes about its
    own share of each limit and never pushes a limit over."""
    inputs = make_inputs(4000, catalog, seed=5)
    result = run(catalog, inputs=inputs, suppressed=(), exploration_share=0.2, capacity_calls_per_night=40,
                 offer_budget_per_night=200.0)
    nba = result.next_best_actions
    chosen = nba[nba["chosen"] & (nba["action_id"] != "no_action")]
    explored = chosen[chosen["is_exploration"]]
    drawn = explored[explored["selection_probability"] < 0.2]  # not the plan's own choice: a uniform draw (0.2 / n)
    drawn_calls = drawn[drawn["channel"] == "phone"]
    assert len(drawn_calls) > 0  # the call centre is explored as well
    assert len(drawn_calls) <= 0.2 * 40 * 2.5  # about the exploration share of the capacity, far below all of it
    assert (drawn["action_id"] == "retain").any()  # and the offer that spends the budget
    assert (chosen["channel"] == "phone").sum() <= 40
    assert result.summary["offer_spend_expected"] <= 200.0 * (1 + 1e-6)
    assert (drawn_calls["selection_probability"] > 0).all()


def test_a_deployed_segment_rule_sends_its_action_where_it_pays_even_if_it_loses_on_average(catalog):
    """The survey gains +5 a contact among customers who bought in the last 30 days and loses 5 among those who did
    not buy for over a year (-2.5 on average): the segment rule wins, and the plan sends the survey to the recent
    buyers, valued at their segment's effect, and to nobody else."""
    from models.decisions.policy_selection import SEGMENT, HeldOut

    customers, features, scores, responses = hand_inputs()
    features["days_since_last_purchase"] = [10, 20, 400, 15, 500, 12]  # A, B, C, D, E, F: recent or lapsed
    n_recent, n_lapsed = 400, 1200
    spread = np.where(np.arange(n_recent + n_lapsed) % 2 == 0, 3.0, -3.0)
    gamma = np.concatenate([np.full(n_recent, 5.0), np.full(n_lapsed, -5.0)]) + spread
    rows = pd.DataFrame({"customer_id": np.resize(["A", "B", "F", "C", "E"], len(gamma)), "action_id": "survey",
                         "gamma": gamma, "segment": [0] * n_recent + [3] * n_lapsed, "held_out": False,
                         "fold": np.arange(len(gamma)) % 4})
    n = len(rows)
    held = HeldOut(rows, np.full((n, 3), np.nan), np.full((n, 3), np.nan), np.ones((n, 3), dtype=bool), min_rows=50)
    result = decide(customers, features, scores, responses, catalog, copy.deepcopy(CONFIG), as_of=AS_OF,
                    suppressed_ids={"D"}, model_versions={}, held_out=held)
    assert result.summary["policy_selection"]["winner"] == SEGMENT
    chosen = chosen_of(result)
    assert {c: chosen[c][0] for c in "ABCEF"} == {"A": "survey", "B": "survey", "F": "survey", "C": "no_action",
                                                   "E": "no_action"}
    assert audit_row(result, "A", "survey", "email")["expected_value"] == pytest.approx(5.0 - 0.1)


def test_a_deployed_ranked_rule_gives_each_customer_the_best_measured_action_it_may_get(catalog):
    """'upsell' gains +8 a contact and 'survey' +3, 'retain' loses 5. The upsell reaches only customers with two
    purchases in the year and no complaint (A here): the ranked rule wins over 'all:upsell', and the plan sends A the
    upsell and the customers the upsell cannot reach the survey (on the channel they allow) instead of nothing."""
    from models.decisions.policy_selection import RANKED, HeldOut

    customers, features, scores, responses = hand_inputs()
    per_action = 600
    spread = np.where(np.arange(3 * per_action) % 2 == 0, 2.0, -2.0)
    gamma = np.repeat([8.0, 3.0, -5.0], per_action) + spread
    rows = pd.DataFrame({"customer_id": np.resize(["A", "B", "E", "F"], len(gamma)),
                         "action_id": np.repeat(["upsell", "survey", "retain"], per_action), "gamma": gamma,
                         "segment": 0, "held_out": False, "fold": np.arange(len(gamma)) % 4})
    n = len(rows)
    eligible = np.ones((n, 3), dtype=bool)
    eligible[::3, 2] = False  # the upsell reaches two rows in three: treating everyone with it leaves the rest out
    held = HeldOut(rows, np.full((n, 3), np.nan), np.full((n, 3), np.nan), eligible, min_rows=50)
    result = decide(customers, features, scores, responses, catalog, copy.deepcopy(CONFIG), as_of=AS_OF,
                    suppressed_ids={"D"}, model_versions={}, held_out=held)
    selection = result.summary["policy_selection"]
    assert selection["winner"] == RANKED
    assert "the rule: upsell (+8.00 a contact), else survey (+3.00 a contact)" in selection["reason"]
    chosen = chosen_of(result)
    assert {c: chosen[c][0] for c in "ABCEF"} == {"A": "upsell", "B": "survey", "C": "no_action", "E": "survey",
                                                   "F": "survey"}
    assert audit_row(result, "A", "upsell", "app")["expected_value"] == pytest.approx(8.0)
    assert audit_row(result, "B", "survey", "sms")["expected_value"] == pytest.approx(3.0 - 0.2)


def test_policies_are_valued_on_both_arms_of_the_plans_own_experiment(catalog):
    """The plan's own experiment has the holdout as its controls and the customers it contacted, now capped or
    cooling down, as its treated: every candidate is valued on both arms (consent still applies). Treated rows score
    +20, controls -18: the survey gains +1 a contact; with the holdout's rows left out it would look like +10."""
    from models.decisions.policy_selection import HeldOut

    customers, features, scores, responses = hand_inputs()
    config = copy.deepcopy(CONFIG)
    config["decisions"]["holdout_share"] = 0.5  # 'test-salt' holds out A, C and D; B, E and F are not held out
    per_arm = 400
    rows = pd.DataFrame({"customer_id": ["A"] * per_arm + list(np.resize(["B", "E", "F"], per_arm)),
                         "action_id": "survey", "gamma": [-18.0] * per_arm + [20.0] * per_arm, "segment": 0,
                         "held_out": True, "fold": np.arange(2 * per_arm) % 4})
    n = len(rows)
    held = HeldOut(rows, np.full((n, 3), np.nan), np.full((n, 3), np.nan), np.ones((n, 3), dtype=bool), min_rows=50)
    result = decide(customers, features, scores, responses, catalog, config, as_of=AS_OF, suppressed_ids={"D"},
                    model_versions={}, held_out=held)
    assert result.next_best_actions.groupby("customer_id")["is_holdout"].first()[["A", "B", "E", "F"]].tolist() == [
        True, False, False, False]
    survey = next(c for c in result.summary["policy_selection"]["candidates"] if c["policy"] == "all:survey")
    # costs: A, E and F (capped on e-mail tonight, but they consented) by e-mail 0.1, B (no e-mail consent) by SMS 0.2
    per_row = (-18.0 - 0.1) / 2 + (20.0 - (0.2 + 0.1 + 0.1) / 3) / 2
    assert survey["value"] == pytest.approx(6 * per_row, abs=0.01)


def test_the_summary_reports_what_tonights_contact_rules_held_back(catalog):
    """A customer whose best option worth sending is on a channel a frequency cap or the cool-down after a decline
    closes tonight is counted with the difference to its best open option; consent, do-not-contact, erasure and the
    holdout are not the contact rules and count nothing."""
    customers, features, scores, _ = hand_inputs()
    rows = [(c, a) for c in customers["customer_id"] for a in ("retain", "survey", "upsell")]
    responses = pd.DataFrame(rows, columns=["customer_id", "action_id"]).assign(p_treated=0.1, uplift=0.0,
                                                                               p_control=0.1, value_se=0.1)
    responses["value_uplift"] = np.where(responses["action_id"] == "survey", 2.0, -5.0)  # only the survey pays
    by_id = features.set_index("customer_id")
    by_id.loc["A", "contacts_email_7d"] = 1   # A: e-mail capped (survey 1.9), SMS open (1.8): 0.1 held back
    by_id.loc["E", "days_since_last_decline"] = 3  # E: cooling down on every channel: 1.9 held back
    by_id.loc["F", "contacts_sms_30d"] = 3    # F: e-mail capped for 7 days, SMS for 30: 1.9 held back (7-day cap)
    inputs = (customers, by_id.reset_index(), scores, responses)  # B: no e-mail consent; C: do not contact; D: erased
    result = run(catalog, inputs=inputs, min_margin_value=0.0)
    held = result.summary["contact_rules_held_back"]
    assert held["customers"] == 3 and held["value"] == pytest.approx(0.1 + 1.9 + 1.9)
    assert held["by_reason"] == {"frequency_cap_7d": 2, "cooldown_after_decline": 1}
    assert chosen_of(result)["A"] == ("survey", "sms") and chosen_of(result)["B"] == ("survey", "sms")
    lines = "\n".join(constraint_lines(result.summary, TEXTS["es"]))
    assert "3 clientes" in lines and "3.90" in lines and "frequency_cap_7d: 2" in lines
    held_out = run(catalog, inputs=inputs, min_margin_value=0.0, holdout_share=1.0).summary["contact_rules_held_back"]
    assert held_out == {"customers": 0, "value": 0.0, "by_reason": {}}  # a held-out customer gets nothing anyway
    assert "contact rules" not in "\n".join(constraint_lines(result.summary | {"contact_rules_held_back": held_out},
                                                             TEXTS["en"]))
