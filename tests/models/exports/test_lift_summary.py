"""The run summary's realised-lift section says in plain words (en / es / pt) what past contacts earned."""
import pandas as pd
import pytest

from models.exports.lift_summary import realised_lift_section


def _lift(low, high, enough=True):
    return pd.DataFrame([{"period": "2026-10-01", "action_id": "(all)", "customers_contacted": 900, "customers_holdout": 50,
                          "lift_per_contact": (low + high) / 2, "lift_low": low, "lift_high": high,
                          "contact_cost_per_contact": 0.5, "net_lift_per_contact": (low + high) / 2 - 0.5,
                          "net_lift_total": 900 * ((low + high) / 2 - 0.5), "enough_customers": enough,
                          "contacts_per_customer": 2.4}])


@pytest.mark.parametrize("low, high, enough, verdict", [
    (1.0, 3.0, True, "The contacts paid off."), (-3.0, 0.0, True, "The contacts lost money."),
    (0.0, 2.0, True, "This is not distinguishable from zero yet."), (1.0, 3.0, False, "Too few customers to judge.")])
def test_the_latest_period_is_told_with_its_interval_after_contact_costs_and_a_verdict(low, high, enough, verdict):
    text = realised_lift_section(_lift(low, high, enough), pd.DataFrame(), pd.DataFrame(), "en")
    assert f"95 % interval {low - 0.5:+,.2f} to {high - 0.5:+,.2f}" in text
    assert "each contacted customer got 2.4 of the plan's contacts" in text
    assert text.rstrip().endswith(verdict)


def test_plan_value_and_scorecard_in_spanish_and_portuguese():
    plan = pd.DataFrame([{"night": "2026-10-01", "expected_value": 29000.0, "dr_value": -900.0, "dr_low": -2000.0,
                          "dr_high": 200.0}])
    card = pd.DataFrame([{"month": "2026-10", "kpi": "churn_rate", "contacted": 0.1, "contacted_low": 0.08,
                          "contacted_high": 0.12, "holdout": 0.2, "holdout_low": 0.1, "holdout_high": 0.3,
                          "difference": -0.1, "difference_low": -0.2, "difference_high": 0.0}])
    es = realised_lift_section(_lift(1.0, 3.0), plan, card, "es")
    assert "El plan del 2026-10-01 esperaba +29,000; medido (doblemente robusto) -900" in es
    assert "tasa de abandono" in es and "Los contactos fueron rentables." in es
    pt = realised_lift_section(_lift(1.0, 3.0), plan, card, "pt")
    assert "Quadro de KPI de 2026-10" in pt and "0.1 (0.08 .. 0.12)" in pt
    one_answer = card.assign(holdout_low=float("nan"), holdout_high=float("nan"))
    assert "nan" not in realised_lift_section(_lift(1.0, 3.0), plan, one_answer, "en")  # the value alone


def test_nothing_settled_says_so():
    assert "nothing to measure" in realised_lift_section(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "en")
