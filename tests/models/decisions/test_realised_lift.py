"""Realised lift on constructed plan-only histories with known effects: no randomised campaign at all, only the
plan's own (non-random) choices, its holdout with the withheld action and the logged contacted shares."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.decisions.realised_lift import (
    ALL_ACTIONS, LiftSettings, lift_settings, period_of, plan_value_estimates, realised_lift, settle_plan_arms,
)
from pipelines.settings import load_config
from models.decisions.scorecard import customer_kpis, kpi_scorecard

MARGIN = 0.3
COSTS = {("upsell_email", "email"): 0.1, ("retention_call", "phone"): 5.0}
HORIZONS = {"upsell_email": 30, "retention_call": 30}
NIGHTS = [dt.date(2026, 6, 1), dt.date(2026, 7, 1), dt.date(2026, 8, 1)]
HOLDOUT_SHARE = {NIGHTS[0]: 0.1, NIGHTS[1]: 0.2, NIGHTS[2]: 0.3}  # the logged propensities differ by night
AS_OF = dt.date(2026, 10, 1)


def true_effect(action: str, level: np.ndarray) -> np.ndarray:
    """Margin a contact adds over 30 days: the e-mail pays in proportion to the customer's level, the call helps
    the weakest customers and loses money on the next ones."""
    return 1.0 * level if action == "upsell_email" else 3.0 - 2.0 * level


@pytest.fixture(scope="module")
def plan_history():
    """6,000 customers of level 1-5; each month the plan e-mails levels 3-5 and calls levels 1-2 (chosen by level,
    not at random) except its holdout; every customer buys 20 x level (± noise) a month anyway, contacts add the
    true effect. Returns (connection, the plan's arms, the true effect per arm row)."""
    rng = np.random.default_rng(20261206)
    n = 6000
    ids = [f"C{i:05d}" for i in range(n)]
    level = rng.integers(1, 6, n).astype(float)
    orders, arms = [], []
    months = [NIGHTS[0] - dt.timedelta(days=30), *NIGHTS, NIGHTS[-1] + dt.timedelta(days=31)]
    for month in months:  # the base order of every month window (the window before a night too)
        amount = 20 * level + rng.normal(0, 10, n)
        orders += [(c, dt.datetime.combine(month, dt.time()) + dt.timedelta(days=5), float(a)) for c, a in zip(ids, amount)]
    for night in NIGHTS:
        holdout = rng.uniform(size=n) < HOLDOUT_SHARE[night]
        for action, channel, targeted in (("upsell_email", "email", level >= 3), ("retention_call", "phone", level <= 2)):
            effect = true_effect(action, level)
            for i in np.flatnonzero(targeted):
                arms.append({"night": night, "customer_id": ids[i], "action_id": action, "channel": channel,
                             "treated": int(not holdout[i]), "expected_value": 2.0, "delivery": None,
                             "reported": False, "true_effect": effect[i]})
                if not holdout[i]:  # the effect arrives as extra margin (amount = margin / 0.3), positive or negative
                    orders.append((ids[i], dt.datetime.combine(night, dt.time()) + dt.timedelta(days=9),
                                   float(effect[i] / MARGIN)))
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE, "
                "discount_amount DOUBLE, status VARCHAR, category VARCHAR, product_id VARCHAR)")
    frame = pd.DataFrame(orders, columns=["customer_id", "order_ts", "amount"])
    frame.insert(0, "order_id", [f"O{i}" for i in range(len(frame))])
    con.execute("INSERT INTO purchases SELECT order_id, customer_id, order_ts, amount, 0, 'completed', 'x', NULL FROM frame")
    arms = pd.DataFrame(arms)
    return con, arms


def test_plan_only_lift_per_night_and_action_is_unbiased_where_the_naive_comparison_is_not(plan_history):
    con, arms = plan_history
    settled = settle_plan_arms(con, arms.drop(columns="true_effect"), AS_OF, HORIZONS, MARGIN)
    assert len(settled) == len(arms)  # every window closed before the as-of date
    lift = realised_lift(settled, COSTS, LiftSettings()).set_index(["period", "action_id"])
    truth = arms.assign(period=period_of(arms["night"], "night")).groupby(["period", "action_id"])["true_effect"].mean()
    errors = []
    for (period, action), true in truth.items():
        row = lift.loc[(period, action)]
        half = (row["lift_high"] - row["lift_low"]) / 2
        errors.append((row["lift_per_contact"] - true) / (half / 1.96))
        assert abs(row["lift_per_contact"] - true) <= 3.5 * half / 1.96, (period, action, row, true)  # 3.5 standard errors
        channel = {"upsell_email": "email", "retention_call": "phone"}[action]
        assert row["net_lift_per_contact"] == pytest.approx(row["lift_per_contact"] - COSTS[(action, channel)])
        # the plan's choice is not random: its contacted customers against every held-out customer is far off
        held_all = settled[(settled["night"] == dt.date.fromisoformat(period)) & (settled["treated"] == 0)]["value"]
        naive = row["mean_value_contacted"] - held_all.mean()
        assert abs(naive - true) > 4 * half, (period, action, naive, true)
    assert abs(np.mean(errors)) < 1.0  # no systematic error across the six cells (in standard errors)
    overall = lift.loc[(truth.index[0][0], ALL_ACTIONS)]
    night_truth = arms[arms["night"] == NIGHTS[0]]
    contacted = night_truth[night_truth["treated"] == 1]
    assert overall["customers_contacted"] == len(contacted)
    assert overall["lift_low"] <= night_truth.groupby("action_id")["true_effect"].mean().mul(
        contacted.groupby("action_id").size()).sum() / len(contacted) <= overall["lift_high"]


def test_a_customer_listed_again_within_the_window_is_one_stream_and_each_contact_is_valued_once():
    """Each e-mail adds 3.0 of margin. The plan lists its contacted customers again a week later, inside the 30-day
    window, and never its holdout (as the caps allow): the contacted get two contacts, the holdout none, so the
    difference per customer is about 6. The lift per contact is about 3 (the Wald ratio over the decision log's
    contacts), its interval covers 3 and not 6, and the cost and total count one contact per customer listed."""
    from models.decisions.realised_lift import with_contact_doses

    rng = np.random.default_rng(7)
    n, first, second = 4000, dt.date(2026, 6, 1), dt.date(2026, 6, 8)
    ids = [f"C{i:05d}" for i in range(n)]
    held = rng.uniform(size=n) < 0.2
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE, "
                "discount_amount DOUBLE, status VARCHAR, category VARCHAR, product_id VARCHAR)")
    orders = [(c, dt.datetime(2026, 6, 3), float(100 + rng.normal(0, 20))) for c in ids]  # everyone buys anyway
    for night in (first, second):  # each contact's 3.0 of margin arrives two days after it
        orders += [(c, dt.datetime.combine(night, dt.time()) + dt.timedelta(days=2), 3.0 / MARGIN)
                   for c, h in zip(ids, held) if not h]
    frame = pd.DataFrame(orders, columns=["customer_id", "order_ts", "amount"])
    frame.insert(0, "order_id", [f"O{i}" for i in range(len(frame))])
    con.execute("INSERT INTO purchases SELECT order_id, customer_id, order_ts, amount, 0, 'completed', 'x', NULL FROM frame")
    log = pd.DataFrame({"as_of": [first] * n + [second] * n, "customer_id": ids * 2, "is_holdout": list(held) * 2,
                        "action_id": np.where(np.tile(held, 2), "no_action", "upsell_email")})
    con.execute("CREATE TABLE decision_log AS SELECT * FROM log")
    arms = pd.DataFrame({"night": first, "customer_id": ids, "action_id": "upsell_email", "channel": "email",
                         "treated": (~held).astype(int), "expected_value": 1.0, "delivery": None, "reported": False})
    settled = with_contact_doses(con, settle_plan_arms(con, arms, AS_OF, HORIZONS, MARGIN), AS_OF)
    assert settled.groupby("treated")["contacts_in_window"].mean().to_dict() == {0: 0.0, 1: 2.0}
    row = realised_lift(settled, COSTS, LiftSettings()).set_index(["period", "action_id"]).loc[("2026-06-01",
                                                                                                "upsell_email")]
    assert row["lift_per_customer"] == pytest.approx(6.0, abs=0.3)
    assert row["contacts_per_customer"] == 2.0
    assert row["lift_low"] <= 3.0 <= row["lift_high"] < 6.0
    assert row["net_lift_per_contact"] == pytest.approx(row["lift_per_contact"] - 0.1)
    assert row["net_lift_total"] == pytest.approx(row["net_lift_per_contact"] * (~held).sum())


def test_plan_value_ipw_and_doubly_robust_cover_the_true_value_and_dr_is_tighter(plan_history):
    con, arms = plan_history
    settled = settle_plan_arms(con, arms.drop(columns="true_effect"), AS_OF, HORIZONS, MARGIN)
    values = plan_value_estimates(settled, COSTS, LiftSettings(seed=3)).set_index("night")
    cost = np.array([COSTS[(a, c)] for a, c in zip(arms["action_id"], arms["channel"])])
    truth = (arms["true_effect"] - cost).groupby(arms["night"]).sum()
    for night, true in truth.items():
        row = values.loc[night]  # nights are dates, as the summary prints them
        assert row["customers_targeted"] == (arms["night"] == night).sum()
        assert row["dr_low"] <= true <= row["dr_high"], (night, row.to_dict(), true)
        assert row["ipw_low"] <= true <= row["ipw_high"], (night, row.to_dict(), true)
        assert row["dr_high"] - row["dr_low"] < 0.5 * (row["ipw_high"] - row["ipw_low"])  # the baseline removes noise
        assert row["expected_value"] == pytest.approx(2.0 * row["customers_targeted"])


def test_windows_still_open_are_not_measured(plan_history):
    con, arms = plan_history
    settled = settle_plan_arms(con, arms.drop(columns="true_effect"), dt.date(2026, 8, 30), HORIZONS, MARGIN)
    assert sorted(settled["night"].unique()) == NIGHTS[:2]  # the August night's 30 days end on the 31st


def test_a_list_the_tools_report_nobody_delivered_is_left_out_and_weeks_pool_nights(plan_history):
    con, arms = plan_history
    settled = settle_plan_arms(con, arms.drop(columns="true_effect"), AS_OF, HORIZONS, MARGIN)
    emails = (settled["action_id"] == "upsell_email") & (settled["night"] == NIGHTS[0]) & (settled["treated"] == 1)
    settled.loc[emails, ["delivery", "reported"]] = ["not_delivered", True]
    lift = realised_lift(settled, COSTS, LiftSettings(period="week"))
    assert not ((lift["period"] == "2026-W23") & (lift["action_id"] == "upsell_email")).any()
    assert set(lift["period"]) == {"2026-W23", "2026-W27", "2026-W31"}


def test_the_scorecard_kpis_per_month_for_contacted_and_holdout():
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE, "
                "discount_amount DOUBLE, status VARCHAR, category VARCHAR, product_id VARCHAR)")
    con.execute("""INSERT INTO purchases VALUES
        ('1', 'A', '2026-04-01', 50, 0, 'completed', 'shoes', NULL), ('2', 'A', '2026-06-05', 100, 10, 'completed', 'bags', NULL),
        ('3', 'B', '2026-05-20', 30, 0, 'completed', 'shoes', NULL),
        ('4', 'C', '2026-05-25', 40, 0, 'completed', 'shoes', NULL), ('5', 'C', '2026-06-10', 60, 0, 'completed', 'shoes', NULL),
        ('6', 'C', '2026-06-12', -20, 0, 'returned', 'shoes', NULL), ('7', 'A', '2026-08-05', 999, 0, 'completed', 'toys', NULL)""")
    con.execute("CREATE TABLE interactions (customer_id VARCHAR, interaction_ts TIMESTAMP, type VARCHAR, nps INTEGER, csat INTEGER)")
    con.execute("""INSERT INTO interactions VALUES ('A', '2026-06-10', 'survey', 10, 5), ('B', '2026-06-11', 'survey', 3, 2),
        ('C', '2026-06-12', 'survey', 8, NULL), ('C', '2026-06-13', 'complaint', NULL, NULL)""")
    night = dt.date(2026, 6, 1)
    arms = pd.DataFrame({"night": [night, night, night, night, dt.date(2026, 6, 15)],
                         "customer_id": ["A", "B", "C", "D", "A"],
                         "action_id": ["upsell_email", "upsell_email", "upsell_email", "upsell_email", "upsell_email"],
                         "channel": ["email"] * 5, "treated": [1, 1, 0, 0, 1]})
    kpis = customer_kpis(con, arms, dt.date(2026, 8, 1), COSTS, 30)
    card = kpi_scorecard(kpis, LiftSettings()).set_index("kpi")
    assert set(card["month"]) == {"2026-06"}
    got = {k: (card.at[k, "contacted"], card.at[k, "holdout"]) for k in card.index}
    expected = {"arpu": (50.0, 20.0), "cross_upsell_rate": (0.5, 0.0), "churn_rate": (0.5, 0.0),
                "retention_cost": (5.1, 0.0), "nps": (0.0, 0.0), "csat": (3.5, np.nan)}
    for kpi, (contacted, holdout) in expected.items():
        assert got[kpi][0] == pytest.approx(contacted), kpi
        assert got[kpi][1] == pytest.approx(holdout, nan_ok=True), kpi
    assert (card.at["arpu", "n_contacted"], card.at["churn_rate", "n_holdout"]) == (2, 1)  # A once; D never bought
    assert card.at["arpu", "difference"] == pytest.approx(30.0)
    assert card.at["arpu", "difference_low"] < 30.0 < card.at["arpu", "difference_high"]


def test_the_settings_come_from_the_config_keys_of_their_names(tmp_path):
    path = tmp_path / "night.yaml"
    path.write_text("seed: 7\ndecisions: {margin_rate: 0.4}\nfeedback: {lift_period: week, lift_confidence: 0.9, "
                    "lift_min_customers_per_arm: 12, kpi_window_days: 45, lift_lookback_days: 90}\n", encoding="utf-8")
    assert lift_settings(load_config(path)) == LiftSettings(period="week", confidence=0.9, min_customers_per_arm=12,
                                                            kpi_window_days=45, lookback_days=90, margin_rate=0.4, seed=7)
