"""Realised lift on constructed plan-only histories with known effects: no randomised campaign at all, only the
plan's own (non-random) choices, its holdout with the withheld action and the logged contacted shares."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.decisions.realised_lift import (
    ALL_ACTIONS, LiftSettings, compare_means, lift_settings, period_of, plan_value_estimates, realised_lift,
    settle_plan_arms,
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
                    "lift_min_customers_per_arm: 12, kpi_window_days: 45, lift_lookback_days: 90, "
                    "lift_remeasure_days: 3}\n", encoding="utf-8")
    assert lift_settings(load_config(path)) == LiftSettings(period="week", confidence=0.9, min_customers_per_arm=12,
                                                            kpi_window_days=45, lookback_days=90, remeasure_days=3,
                                                            margin_rate=0.4, seed=7)


def _logged(con, arms: pd.DataFrame, night: dt.date, expected: float = 2.0) -> None:
    """The decision log of a night of `arms`: contacted customers with their option, held-out ones with it withheld."""
    from models import warehouse

    rows = arms[arms["night"] == night].reset_index(drop=True)
    held = (rows["treated"] == 0).to_numpy()
    log = pd.DataFrame({"customer_id": rows["customer_id"], "action_id": np.where(held, "no_action", rows["action_id"]),
                        "channel": np.where(held, None, rows["channel"]),
                        "expected_value": np.where(held, 0.0, expected), "selection_probability": 1.0,
                        "is_holdout": held, "is_exploration": False,
                        "withheld_action_id": np.where(held, rows["action_id"], None),
                        "withheld_channel": np.where(held, rows["channel"], None),
                        "withheld_expected_value": np.where(held, expected, np.nan)})
    warehouse.append_decision_log(con, night, log, campaign_id=f"nba-{night}", policy="learned", policy_version="1",
                                  model_versions="{}")


def test_each_settled_night_is_measured_once_kept_and_measured_again_when_its_decisions_or_settings_change(
        plan_history, monkeypatch):
    """The realised-lift asset's path (measured_cells, then lift_from_cells / plan_value_from_cells): the same figures
    as measuring every settled arm of the lookback at once; a second night reads no list again (every window closed
    over `remeasure_days` before); a night whose decisions are written again, and every night after a change of
    costs, is measured again; a night whose window closed too recently is measured again every night."""
    from models import warehouse
    from models.decisions.feedback import FeedbackSettings
    from models.decisions.realised_lift import (lift_from_cells, measured_cells, plan_value_from_cells,
                                                with_contact_doses)

    source, arms = plan_history
    history = source.execute("SELECT * FROM purchases").df()
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases AS SELECT * FROM history")
    arms = arms.drop(columns="true_effect")
    for night in NIGHTS:
        _logged(con, arms, night)
    settings, feedback = LiftSettings(seed=3), FeedbackSettings()
    read, reads = warehouse.read_plan_arms, []

    def counted(*args, **kwargs):
        out = read(*args, **kwargs)
        reads.append(sorted(pd.to_datetime(out["night"]).dt.date.unique()))
        return out
    monkeypatch.setattr(warehouse, "read_plan_arms", counted)

    def measure(as_of=AS_OF, costs=COSTS):
        reads.clear()
        cells = measured_cells(con, as_of, HORIZONS, costs, settings, feedback)
        return lift_from_cells(cells, settings), plan_value_from_cells(cells, settings), [n for r in reads for n in r]

    everything = with_contact_doses(con, settle_plan_arms(con, read(con, AS_OF, feedback), AS_OF, HORIZONS, MARGIN), AS_OF)
    lift, value, nights = measure()
    pd.testing.assert_frame_equal(lift, realised_lift(everything, COSTS, settings), check_dtype=False)
    pd.testing.assert_frame_equal(value, plan_value_estimates(everything, COSTS, settings), check_dtype=False)
    assert nights == NIGHTS
    again = measure()
    assert again[2] == []  # kept: no list read again
    pd.testing.assert_frame_equal(again[0], lift)
    pd.testing.assert_frame_equal(again[1], value)

    _logged(con, arms, NIGHTS[1], expected=5.0)  # the July night's decisions written again
    lift2, value2, nights = measure()
    assert nights == [NIGHTS[1]]
    assert value2.set_index("night").at[NIGHTS[1], "expected_value"] == pytest.approx(
        5.0 * value2.set_index("night").at[NIGHTS[1], "customers_targeted"])
    pd.testing.assert_frame_equal(value2[value2["night"] != NIGHTS[1]], value[value["night"] != NIGHTS[1]])

    dearer = {key: cost * 2 for key, cost in COSTS.items()}
    lift3, _, nights = measure(costs=dearer)
    assert nights == NIGHTS
    assert (lift3["contact_cost_per_contact"] > lift2["contact_cost_per_contact"]).all()

    fresh = duckdb.connect()  # the August night's window closed on the 31st: still measured each night a week on
    fresh.execute("CREATE TABLE purchases AS SELECT * FROM history")
    for night in NIGHTS:
        _logged(fresh, arms, night)
    con = fresh
    assert measure(as_of=dt.date(2026, 9, 3))[2] == NIGHTS
    assert measure(as_of=dt.date(2026, 9, 4))[2] == [NIGHTS[2]]
    assert measure(as_of=dt.date(2026, 9, 8))[2] == [NIGHTS[2]]  # closed a week ago tonight: its last measure
    assert measure(as_of=dt.date(2026, 9, 9))[2] == []  # kept from the night before


def test_the_scorecard_keeps_the_months_whose_windows_closed(plan_history, monkeypatch):
    from models import warehouse
    from models.decisions.feedback import FeedbackSettings
    from models.decisions.scorecard import measured_scorecard

    source, arms = plan_history
    history = source.execute("SELECT * FROM purchases").df()
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases AS SELECT * FROM history")
    con.execute("CREATE TABLE interactions (customer_id VARCHAR, interaction_ts TIMESTAMP, type VARCHAR, nps INTEGER, "
                "csat INTEGER)")
    arms = arms.drop(columns="true_effect")
    for night in NIGHTS:
        _logged(con, arms, night)
    settings, feedback = LiftSettings(), FeedbackSettings()
    expected = kpi_scorecard(customer_kpis(con, warehouse.read_plan_arms(con, AS_OF, feedback), AS_OF, COSTS, 30),
                             settings)
    read, reads = warehouse.read_plan_arms, []
    monkeypatch.setattr(warehouse, "read_plan_arms", lambda *a, **k: reads.append(k["since"]) or read(*a, **k))
    first = measured_scorecard(con, AS_OF, COSTS, settings, feedback)
    pd.testing.assert_frame_equal(first, expected, check_dtype=False)
    assert sorted(set(first["month"])) == ["2026-06", "2026-07", "2026-08"]
    reads.clear()
    pd.testing.assert_frame_equal(measured_scorecard(con, AS_OF, COSTS, settings, feedback), first)
    assert reads == [dt.date(2026, 8, 1)]  # only August is read again: its last windows closed on 31 August + 30 days
    reads.clear()  # kept months hold their intervals: another interval rule measures every month again
    monkeypatch.setattr("models.decisions.scorecard.INTERVAL_RULE", "another rule")
    pd.testing.assert_frame_equal(measured_scorecard(con, AS_OF, COSTS, settings, feedback), first)
    assert len(reads) == 3


def test_a_first_measure_with_no_lists_at_all_keeps_a_table_later_nights_fit_in(plan_history):
    """The first settled night listed nobody (its cells are empty): the kept tables still take a later night's."""
    from models.decisions.feedback import FeedbackSettings
    from models.decisions.realised_lift import lift_from_cells, measured_cells

    source, arms = plan_history
    history = source.execute("SELECT * FROM purchases").df()
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases AS SELECT * FROM history")
    arms = arms.drop(columns="true_effect")
    quiet = arms[arms["night"] == NIGHTS[0]].assign(night=dt.date(2026, 5, 1), treated=1, action_id="no_action")
    _logged(con, quiet, dt.date(2026, 5, 1))
    settings = LiftSettings()
    assert measured_cells(con, dt.date(2026, 6, 5), HORIZONS, COSTS, settings, FeedbackSettings()).empty
    _logged(con, arms, NIGHTS[0])
    cells = measured_cells(con, AS_OF, HORIZONS, COSTS, settings, FeedbackSettings())
    assert set(lift_from_cells(cells, settings)["period"]) == {"2026-06-01"}


def _coverage(rule, treated: np.ndarray, control: np.ndarray, true_difference: float) -> float:
    """Share of the draws (rows of the two arrays) whose interval holds the true difference."""
    return float(np.mean([rule(t, c)[0] <= true_difference <= rule(t, c)[1] for t, c in zip(treated, control)]))


def test_a_small_holdout_of_heavy_tailed_money_gets_an_interval_that_covers_where_welchs_does_not():
    """Net margins are mostly zero with a few large orders. With 1,000 contacted and 50 held out, the held-out arm's
    own spread is too low in most draws and the Welch interval misses the truth far more than 5 % of the time;
    taking the smaller arm's spread as at least the larger one's keeps the promised 95 %."""
    rng = np.random.default_rng(7)
    draws, n_t, n_c, p_t, p_c = 1500, 1000, 50, 0.32, 0.30

    def money(size, p):
        return np.where(rng.uniform(size=size) < p, rng.lognormal(3.0, 1.1, size), 0.0)
    treated, control = money((draws, n_t), p_t), money((draws, n_c), p_c)
    true_difference = (p_t - p_c) * np.exp(3.0 + 1.1 ** 2 / 2)

    def welch(t, c):
        d, se = t.mean() - c.mean(), np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
        return d - 1.96 * se, d + 1.96 * se

    def shipped(t, c):
        stats = compare_means(t, c, 0.95)
        return stats["difference_low"], stats["difference_high"]
    assert _coverage(welch, treated, control, true_difference) < 0.90
    assert _coverage(shipped, treated, control, true_difference) >= 0.94
    # arms of the same size keep their own spreads (Welch), and a holdout without a single purchase is not certain
    t, c = money(400, 0.3), money(400, 0.3)
    assert compare_means(t, c, 0.95)["se"] == pytest.approx(np.sqrt(t.var(ddof=1) / 400 + c.var(ddof=1) / 400))
    nobody = compare_means(money(1000, 0.3), np.zeros(40), 0.95)
    assert nobody["holdout"] == 0.0 and nobody["holdout_low"] < 0.0 < nobody["holdout_high"]
