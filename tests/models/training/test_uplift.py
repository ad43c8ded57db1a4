"""Response / uplift models from randomised campaign history."""
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.training.uplift import (RESPONSE_COLUMNS, build_response_frame, find_campaign_dates, fit_response_models,
                           score_responses)
from tests.models.training.test_training_sets import INTERACTION_COLUMNS, T, make_warehouse, shake_future, write_table

PRIORS = {"retention_offer": 0.02, "winback": 0.01, "service_recovery_call": 0.03, "upsell_premium": -0.01}
FAST = {"num_boost_round": 30}
DATES = [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]


def _randomised_history(n_per_date=1500, seed=0) -> pd.DataFrame:
    """Randomised arms. retention_offer helps only customers with recent complaints; upsell_premium hurts them.

    winback has a handful of rows (below the minimum), so it must fall back to its prior.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for day in DATES:
        for action, effect in (("retention_offer", 0.4), ("upsell_premium", -0.08), ("winback", 0.3)):
            n = n_per_date if action != "winback" else 20
            complaints = rng.integers(0, 3, n).astype(float)
            treated = rng.integers(0, 2, n)
            p = 0.1 + effect * treated * (complaints >= 1)
            parts.append(pd.DataFrame({
                "customer_id": [f"{action}-{day}-{i}" for i in range(n)], "campaign_date": day,
                "action_id": action, "treated": treated, "label": (rng.uniform(size=n) < p).astype(int),
                "complaints_30d": complaints, "spend_365d": rng.gamma(2, 100, n)}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    return fit_response_models(_randomised_history(), PRIORS, 200, params=FAST, seed=1, n_threads=1)


def _probe():
    return pd.DataFrame({"customer_id": ["complainer", "quiet"], "complaints_30d": [2.0, 0.0],
                         "spend_365d": [150.0, 150.0]})


def _population(n=200, seed=9):
    """Fresh customers, half with recent complaints (true uplift 0.4 / -0.08), half without (true uplift 0)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"customer_id": [f"P{i}" for i in range(n)],
                         "complaints_30d": np.where(np.arange(n) < n // 2, 2.0, 0.0),
                         "spend_365d": rng.gamma(2, 100, n)})


def test_t_learner_recovers_the_direction_of_a_planted_treatment_effect(fitted):
    people = _population()
    scores = score_responses(fitted, people).merge(people, on="customer_id")
    mean = scores.groupby(["action_id", scores["complaints_30d"] > 0])[["uplift", "p_control"]].mean()
    assert (scores.loc[scores["action_id"].isin(["retention_offer", "upsell_premium"]), "source"] == "model").all()
    assert mean.loc[("retention_offer", True), "uplift"] > 0.25  # truth 0.4
    assert abs(mean.loc[("retention_offer", False), "uplift"]) < 0.1  # truth 0
    assert mean.loc[("retention_offer", True), "uplift"] - mean.loc[("retention_offer", False), "uplift"] > 0.2
    assert mean.loc[("upsell_premium", True), "uplift"] < mean.loc[("upsell_premium", False), "uplift"]
    assert mean.loc[("upsell_premium", True), "uplift"] < 0
    assert mean.loc[("retention_offer", True), "p_control"] == pytest.approx(0.1, abs=0.05)


def test_latest_campaign_date_is_held_out_and_qini_rewards_the_learned_ranking(fitted):
    assert any("evaluated on 2026-11-01" in note for note in fitted.notes)
    # a perfect ranking scores ~0.044 here (2/3 of customers gain 0.4, the rest nothing); random scores 0
    assert fitted.metrics["qini_retention_offer"] > 0.03
    assert fitted.metrics["uplift_at_30_retention_offer"] > 0.2
    assert len(fitted.report["retention_offer"]) == 101


def test_actions_with_too_little_history_use_the_documented_prior(fitted):
    scores = score_responses(fitted, _probe())
    assert list(scores.columns) == RESPONSE_COLUMNS
    assert sorted(scores["action_id"].unique()) == sorted(PRIORS)
    for action in ("winback", "service_recovery_call"):
        rows = scores[scores["action_id"] == action]
        assert (rows["source"] == "prior").all()
        assert np.allclose(rows["uplift"], PRIORS[action])
    winback = fitted.priors["winback"]
    assert 0.05 < winback[1] < 0.3  # shrunk towards the pooled control rate of all actions
    assert any(note.startswith("winback: prior (") for note in fitted.notes)


def test_no_campaign_history_means_priors_everywhere():
    empty = fit_response_models(_randomised_history().iloc[0:0], PRIORS, 200, params=FAST, n_threads=1)
    scores = score_responses(empty, _probe())
    assert (scores["source"] == "prior").all() and (scores["p_control"] == 0).all()
    assert scores.loc[scores["action_id"] == "upsell_premium", "p_treated"].tolist() == [0.0, 0.0]  # clipped at 0


def test_response_fit_is_reproducible(fitted):
    again = fit_response_models(_randomised_history(), PRIORS, 200, params=FAST, seed=1, n_threads=1)
    pd.testing.assert_frame_equal(score_responses(again, _probe()), score_responses(fitted, _probe()))


# ---- campaign history from the warehouse ------------------------------------------------------------------------
def _add_campaigns(con, day: date, rows: list[tuple[str, str, str, str]]) -> None:
    """Append (customer_id, type, action_id, outcome) interactions at noon on `day`."""
    existing = con.execute("SELECT * FROM interactions").df()
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=12)
    new = pd.DataFrame([{"interaction_id": f"K-{day}-{i}", "customer_id": c, "interaction_ts": at,
                         "channel": "email" if kind == "campaign" else "none", "type": kind, "action_id": a,
                         "outcome": o} for i, (c, kind, a, o) in enumerate(rows)])
    write_table(con, "interactions", pd.concat([existing, new], ignore_index=True), INTERACTION_COLUMNS)


@pytest.fixture
def campaign_warehouse():
    con = duckdb.connect()
    make_warehouse(con, n_customers=60)
    _add_campaigns(con, date(2026, 10, 1), [("C0001", "campaign", "retention_offer", "accepted"),
                                           ("C0002", "campaign", "retention_offer", "declined"),
                                           ("C0003", "campaign_control", "retention_offer", "converted"),
                                           ("C0004", "campaign_control", "retention_offer", "no_response")])
    _add_campaigns(con, date(2026, 11, 2), [("C0001", "campaign", "winback", "converted"),
                                           ("C0005", "campaign_control", "winback", "no_response")])
    con.execute("INSERT INTO purchases (order_id, customer_id, order_ts, amount, quantity, status) "
                "VALUES ('same-day', 'C0001', TIMESTAMP '2026-10-01 08:00:00', 10000, 1, 'completed')")
    yield con
    con.close()


def test_response_frame_has_arms_labels_and_features_as_of_each_campaign_date(campaign_warehouse):
    frame = build_response_frame(campaign_warehouse, T, 6)
    assert sorted(frame["campaign_date"].unique()) == [date(2026, 10, 1), date(2026, 11, 2)]
    october = frame[frame["campaign_date"] == date(2026, 10, 1)].set_index("customer_id")
    assert october["treated"].to_dict() == {"C0001": 1, "C0002": 1, "C0003": 0, "C0004": 0}
    # "accepted" is not a conversion: only `converted` counts, in both arms alike
    assert october["label"].to_dict() == {"C0001": 0, "C0002": 0, "C0003": 1, "C0004": 0}
    assert october.loc["C0001", "spend_30d"] < 10000  # the purchase on the campaign day itself is not a feature
    november = frame[frame["campaign_date"] == date(2026, 11, 2)].set_index("customer_id")
    assert november.loc["C0001", "spend_365d"] >= 10000 and november.loc["C0001", "campaign_accepts_365d"] >= 1
    assert find_campaign_dates(campaign_warehouse, T, 1) == [date(2026, 11, 2)]



def test_campaign_dates_and_plan_nights_are_capped_apart(campaign_warehouse):
    """Many plan nights never crowd the company's campaign dates out, and each source keeps its own latest ones."""
    nights = [date(2026, 10, 20) + timedelta(days=k) for k in range(5)]
    log = pd.DataFrame([{"as_of": n, "customer_id": "C0009", "action_id": "winback", "channel": "email",
                         "is_holdout": False, "is_exploration": False, "withheld_action_id": None} for n in nights])
    campaign_warehouse.register("_log", log)
    campaign_warehouse.execute("CREATE TABLE decision_log AS SELECT * FROM _log")
    both = find_campaign_dates(campaign_warehouse, T, 2, decision_log="decision_log", max_plan_nights=1)
    assert both == [date(2026, 10, 1), nights[-1], date(2026, 11, 2)]
    assert find_campaign_dates(campaign_warehouse, T, 1, decision_log="decision_log", max_plan_nights=3) \
        == [*nights[-3:], date(2026, 11, 2)]

def test_response_frame_ignores_campaigns_and_events_on_or_after_T(campaign_warehouse):
    before = build_response_frame(campaign_warehouse, T, 6)
    shake_future(campaign_warehouse)
    pd.testing.assert_frame_equal(build_response_frame(campaign_warehouse, T, 6), before)


def test_campaigns_whose_outcomes_have_not_settled_are_not_training_dates(campaign_warehouse):
    from models.features.customer_features import OUTCOME_SETTLE_DAYS
    # 2026-11-02 + 14 days = 2026-11-16: settled for T = 2026-11-23, not for an as-of of 2026-11-15
    assert find_campaign_dates(campaign_warehouse, date(2026, 11, 2) + timedelta(days=OUTCOME_SETTLE_DAYS), 6)[-1] \
        == date(2026, 11, 2)
    young = date(2026, 11, 2) + timedelta(days=OUTCOME_SETTLE_DAYS - 1)
    assert find_campaign_dates(campaign_warehouse, young, 6) == [date(2026, 10, 1)]
    assert sorted(build_response_frame(campaign_warehouse, young, 6)["campaign_date"].unique()) == [date(2026, 10, 1)]


def _experiment(n, tau, seed, control_share=0.3):
    rng = np.random.default_rng(seed)
    treated = (rng.random(n) >= control_share).astype(float)
    p = 0.1 + tau * treated
    return (rng.random(n) < p).astype(float), treated, np.full(n, 1 - control_share)


def test_calibration_slope_is_about_one_for_a_real_ranking_and_about_zero_for_noise():
    from models.training.uplift import calibration_slope
    rng = np.random.default_rng(4)
    true_tau = rng.uniform(0.0, 0.3, 40_000)
    y, t, e = _experiment(40_000, true_tau, seed=5)
    slope, se = calibration_slope(y, t, e, true_tau)
    assert slope == pytest.approx(1.0, abs=3 * se) and se < 0.2
    assert calibration_slope(y, t, e, 10 * true_tau)[0] == pytest.approx(slope / 10)  # an overstated spread
    noise = rng.uniform(0.0, 0.3, 40_000)  # a "ranking" unrelated to the outcome
    slopes = [calibration_slope(*_experiment(40_000, true_tau, seed=s), noise) for s in range(6, 16)]
    assert abs(np.median([s for s, _ in slopes])) < 0.2 and all(abs(s) < 4 * se for s, se in slopes)


def test_a_ranking_that_does_not_hold_up_on_later_dates_gives_everyone_the_measured_effect():
    """Arms whose conversion does not depend on the features: the learners fit noise; the held-out
    slope drops it and every customer gets the action's randomised difference in means."""
    rng = np.random.default_rng(11)
    parts = []
    for day in DATES:
        n = 3000
        treated = rng.integers(0, 2, n)
        parts.append(pd.DataFrame({
            "customer_id": [f"N-{day}-{i}" for i in range(n)], "campaign_date": day, "action_id": "retention_offer",
            "treated": treated, "label": (rng.random(n) < 0.10 + 0.05 * treated).astype(int),
            "complaints_30d": rng.integers(0, 3, n).astype(float), "spend_365d": rng.gamma(2, 100, n)}))
    history = pd.concat(parts, ignore_index=True)
    models = fit_response_models(history, {"retention_offer": 0.0}, 200, seed=2, n_threads=1, prior_sd=1.0)
    effect = models.effects["retention_offer"]
    by_date = history.groupby(["campaign_date", "treated"])["label"].mean().unstack()
    assert effect.ate == pytest.approx(float((by_date[1] - by_date[0]).mean()), abs=1e-3)
    uplift = score_responses(models, _population(400))["uplift"]
    if effect.slope == 0.0:
        assert np.allclose(uplift, effect.ate)
    assert uplift.std() < 0.01 and uplift.mean() == pytest.approx(0.05, abs=0.02)
    flat = models.without_ranking("test")
    assert np.allclose(score_responses(flat, _population(400))["uplift"], effect.ate)
    assert flat.metrics["qini_mean"] == 0.0 and any(n.startswith("ranking dropped (test)") for n in flat.notes)


def test_the_measured_effect_and_the_catalog_prior_are_weighed_by_their_precision():
    from models.training.uplift import combine_with_prior
    assert combine_with_prior(0.05, 0.01, 0.01, 0.01) == pytest.approx(0.03)  # equal precision: halfway
    assert combine_with_prior(0.05, 0.001, 0.01, 0.01) == pytest.approx(0.05, abs=0.001)  # a big experiment decides
    assert combine_with_prior(0.05, 0.1, 0.01, 0.01) == pytest.approx(0.01, abs=0.001)  # a tiny one barely moves it
    assert combine_with_prior(0.0, float("inf"), 0.02, 0.01) == 0.02
    small, large = (fit_response_models(_randomised_history(n, seed=3), PRIORS, 5, params=FAST, seed=1, n_threads=1)
                    for n in (150, 6000))
    prior, measured = PRIORS["retention_offer"], large.metrics["measured_effect_retention_offer"]
    gap = {name: abs(m.effects["retention_offer"].ate - m.metrics[f"measured_effect_retention_offer"])
           for name, m in (("small", small), ("large", large))}
    assert gap["large"] < gap["small"] and abs(large.effects["retention_offer"].ate - measured) < 0.5 * abs(measured - prior)


def test_the_effect_is_measured_among_customers_the_action_rules_admit_when_there_are_enough():
    from models.decisions.catalog import load_catalog
    from models.features.customer_features import FEATURE_COLUMNS
    from models.training.uplift import AUDIENCE, audience_mask
    history = _randomised_history(3000, seed=5)  # retention_offer: +0.4 for complainers, 0 for the others
    wide = fit_response_models(history, PRIORS, 200, params=FAST, seed=1, n_threads=1, prior_sd=1.0)
    narrow = fit_response_models(history.assign(**{AUDIENCE: history["complaints_30d"] >= 1}), PRIORS, 200,
                                 params=FAST, seed=1, n_threads=1, prior_sd=1.0)
    assert wide.metrics["measured_effect_retention_offer"] == pytest.approx(0.4 * 2 / 3, abs=0.03)
    assert narrow.metrics["measured_effect_retention_offer"] == pytest.approx(0.4, abs=0.03)
    assert any("rows meeting the action's rules" in n for n in narrow.notes)
    few = fit_response_models(history.assign(**{AUDIENCE: history["customer_id"].str.endswith("-7")}), PRIORS, 200,
                              params=FAST, seed=1, n_threads=1, prior_sd=1.0)
    assert few.metrics["measured_effect_retention_offer"] == wide.metrics["measured_effect_retention_offer"]
    # the mask itself comes from the catalog rules, evaluated on the features of the campaign date
    catalog = load_catalog("pipelines/config/action_catalog.yaml", set(FEATURE_COLUMNS))
    rows = pd.DataFrame({c: 0 for c in FEATURE_COLUMNS}, index=range(2)).assign(
        action_id=["service_recovery_call", "no_such_action"], complaints_30d=[3, 3])
    assert audience_mask(rows, catalog.actions).tolist() == [True, False]  # a complainer; an unknown action
    assert audience_mask(rows.iloc[0:0], catalog.actions).shape == (0,)


def test_the_response_gate_scores_any_model_on_the_rows_it_is_given(fitted):
    """The gate re-scores the champion on the candidate's held-out dates: held_out_qini must reproduce a model's
    own held-out Qini on its held-out rows, and change when the rows do (not read a stored metric)."""
    from models.training.uplift import held_out_qini, held_out_rows

    history = _randomised_history()
    assert held_out_qini(fitted, held_out_rows(history)) == pytest.approx(fitted.metrics["qini_mean"])
    reversed_effect = held_out_rows(_randomised_history(seed=5)).assign(
        label=lambda f: np.where(f["complaints_30d"] >= 1, 1 - f["treated"], f["treated"]) * (f["action_id"] != "winback"))
    assert held_out_qini(fitted, reversed_effect) < 0 < fitted.metrics["qini_mean"]


def _log_and_orders(con, log_rows: list[dict], orders: list[tuple], costs: dict):
    """Write a decision log and extra completed orders; return a one-action catalog ('upsell' on `costs`' channels)."""
    from models.decisions.catalog import parse_catalog

    con.register("_log", pd.DataFrame(log_rows))
    con.execute("CREATE TABLE decision_log AS SELECT * FROM _log")
    con.executemany("INSERT INTO purchases (order_id, customer_id, order_ts, amount, quantity, status) "
                    "VALUES (?, ?, ?, ?, 1, 'completed')", orders)
    return parse_catalog({"version": "t", "actions": [
        {"id": "upsell", "type": "upsell", "names": {"en": "u"}, "channels": list(costs), "cost_per_contact": costs,
         "value_basis": "fixed", "value_per_conversion": 1.0, "eligibility": "purchases_total >= 0", "priority": 1,
         "prior_uplift": 0.0, "script_hint": {"en": "u"}}]}, {"purchases_total"}, source="t.yaml", sha256="0" * 64)


def test_the_plans_own_contacts_and_holdout_learn_a_known_effect_without_any_campaign():
    """No company campaign at all: the plan contacted the customers it chose and its random holdout got the same
    action withheld (decision_log). Each contacted customer's next 30 days gain 12.0 of margin (one extra order of
    40 at a 0.3 margin); the value model must find that from the plan's rows alone, and not from the
    plan's choice (it chose the better customers, who buy more anyway)."""
    from models.training.uplift import AUDIENCE, audience_mask

    con = duckdb.connect()
    make_warehouse(con, n_customers=3000, seed=3, future_days=0)
    write_table(con, "interactions", [], INTERACTION_COLUMNS)
    rng = np.random.default_rng(5)
    nights = [date(2026, 8, 1), date(2026, 9, 1)]
    rows, orders = [], []
    customers = [r[0] for r in con.execute("SELECT customer_id FROM golden_customers ORDER BY 1").fetchall()]
    spend = dict(con.execute("SELECT customer_id, count(*) FROM purchases GROUP BY 1").fetchall())
    for night in nights:
        chosen = [c for c in customers if spend.get(c, 0) >= 3]  # the plan picks frequent buyers: not random
        for c in chosen:
            holdout = rng.uniform() < 0.2
            rows.append({"as_of": night, "customer_id": c, "action_id": "no_action" if holdout else "upsell",
                         "channel": None if holdout else "email", "is_holdout": holdout, "is_exploration": False,
                         "withheld_action_id": "upsell" if holdout else None})
            if not holdout:
                orders.append((f"X{night}{c}", c, datetime.combine(night, datetime.min.time()) + timedelta(days=3), 40.0))
    catalog = _log_and_orders(con, rows, orders, {"email": 0.05})
    frame = build_response_frame(con, T, 12, horizons={"upsell": 30})
    assert set(frame["source"]) == {"plan"} and set(frame["treated"]) == {0, 1}
    frame[AUDIENCE] = audience_mask(frame, catalog.actions)
    models = fit_response_models(frame, {"upsell": 0.0}, 100, seed=1, n_threads=1, params=FAST,
                                 actions=catalog.ordered_actions())
    model = models.values["upsell"]
    assert model.effect == pytest.approx(12.0, abs=3 * model.effect_se + 0.5)
    assert model.effect_se < 4.0


def test_a_plan_that_lists_its_customers_every_week_still_measures_one_contacts_effect():
    """No company campaign: the plan lists every customer outside its stable holdout (a fifth, by a hash of the id)
    every week for four weeks, and every contact brings one extra order of 40 three days later (+12.0 of margin at
    a 0.3 margin). A night's row has a 30-day window holding that night's contact and the later ones (4, 3, 2, 1),
    while its holdout rows get none: the holdout experiment measures a stream. Each row's count of contacts is read
    from the log within its window, and the effect per contact is +12.0; without the division it is the stream's,
    about 2.5 times that."""
    import zlib

    from models.training.uplift import AUDIENCE, DOSE, audience_mask

    con = duckdb.connect()
    make_warehouse(con, n_customers=3000, seed=3, future_days=0)
    write_table(con, "interactions", [], INTERACTION_COLUMNS)
    nights = [date(2026, 8, 1) + timedelta(days=7 * k) for k in range(4)]
    customers = [r[0] for r in con.execute("SELECT customer_id FROM golden_customers ORDER BY 1").fetchall()]
    held = {c: zlib.crc32(c.encode()) % 5 == 0 for c in customers}
    rows, orders = [], []
    for night in nights:
        for c in customers:
            rows.append({"as_of": night, "customer_id": c, "action_id": "no_action" if held[c] else "upsell",
                         "channel": None if held[c] else "email", "is_holdout": held[c], "is_exploration": False,
                         "withheld_action_id": "upsell" if held[c] else None})
            if not held[c]:
                orders.append((f"X{night}{c}", c, datetime.combine(night, datetime.min.time()) + timedelta(days=3), 40.0))
    catalog = _log_and_orders(con, rows, orders, {"email": 0.05})
    frame = build_response_frame(con, T, 12, horizons={"upsell": 30})
    contacted = frame[frame["treated"] == 1]
    assert contacted.groupby("campaign_date")[DOSE].mean().tolist() == [4.0, 3.0, 2.0, 1.0]
    assert (frame.loc[frame["treated"] == 0, DOSE] == 0).all()
    frame[AUDIENCE] = audience_mask(frame, catalog.actions)
    fit = dict(seed=1, n_threads=1, params=FAST, actions=catalog.ordered_actions())
    model = fit_response_models(frame, {"upsell": 0.0}, 100, **fit).values["upsell"]
    assert model.effect == pytest.approx(12.0, abs=3 * model.effect_se + 0.5)
    stream = fit_response_models(frame.drop(columns=DOSE), {"upsell": 0.0}, 100, **fit).values["upsell"]
    assert stream.effect > 2 * 12.0  # what the holdout experiment measures without the division


def test_exploration_draws_learn_a_known_effect_with_their_logged_propensities():
    """No campaign and no plan contact: only explored customers, each drawing uniformly from its logged set
    (models/decisions/plan.exploration_sets). Half the customers (by a trait no feature shows, as SMS consent
    often is) may get the upsell on two channels and buy 60 in the next weeks anyway; the others have one channel.
    Among the two outcomes the first half is contacted with probability 2/3, the others 1/2, so the contacted
    group is richer anyway and no baseline model can tell. With the logged propensities the effect (+12.0: one
    extra order of 40 at a 0.3 margin) is found; with the contacted share instead, it is pulled up."""
    import zlib

    from models.training.uplift import AUDIENCE, audience_mask

    con = duckdb.connect()
    make_warehouse(con, n_customers=3000, seed=3, future_days=0)
    write_table(con, "interactions", [], INTERACTION_COLUMNS)
    rng = np.random.default_rng(11)
    customers = [r[0] for r in con.execute("SELECT customer_id FROM golden_customers ORDER BY 1").fetchall()]
    two_channels = {c: zlib.crc32(c.encode()) % 2 == 0 for c in customers}
    rows, orders = [], []
    for night in (date(2026, 8, 1), date(2026, 9, 1)):
        for c in customers:
            frequent = two_channels[c]
            members = ["upsell", "upsell"] if frequent else ["upsell"]
            got = rng.integers(0, len(members) + 1) > 0  # uniform over the members and 'no action'
            rows.append({"as_of": night, "customer_id": c, "action_id": "upsell" if got else "no_action",
                         "channel": ("sms" if frequent and rng.uniform() < 0.5 else "email") if got else None,
                         "is_holdout": False, "is_exploration": True, "withheld_action_id": None,
                         "exploration_set": ",".join(members)})
            if frequent:  # they buy anyway in the next 30 days, contacted or not
                orders.append((f"F{night}{c}", c, datetime.combine(night, datetime.min.time()) + timedelta(days=5), 60.0))
            if got:
                orders.append((f"X{night}{c}", c, datetime.combine(night, datetime.min.time()) + timedelta(days=3), 40.0))
    catalog = _log_and_orders(con, rows, orders, {"email": 0.05, "sms": 0.1})
    frame = build_response_frame(con, T, 12, horizons={"upsell": 30})
    assert set(frame["source"]) == {"explore"} and set(frame["treated"]) == {0, 1}
    assert np.allclose(frame["propensity"], np.where(frame["customer_id"].map(two_channels), 2 / 3, 1 / 2))
    frame[AUDIENCE] = audience_mask(frame, catalog.actions)
    models = fit_response_models(frame, {"upsell": 0.0}, 100, seed=1, n_threads=1, params=FAST,
                                 actions=catalog.ordered_actions())
    model = models.values["upsell"]
    assert model.effect == pytest.approx(12.0, abs=3 * model.effect_se + 0.5)
    shared = fit_response_models(frame.drop(columns="propensity"), {"upsell": 0.0}, 100, seed=1, n_threads=1,
                                 params=FAST, actions=catalog.ordered_actions()).values["upsell"]
    assert shared.effect - 12.0 > 3 * model.effect_se  # what ignoring the logged propensities measures


def test_campaign_rows_of_actions_missing_from_the_catalog_are_named_not_silently_dropped():
    from models.exports.run_summary import attention_lines

    history = _randomised_history()
    history.loc[history["action_id"] == "upsell_premium", "action_id"] = "mens_email"  # the tool's own id
    models = fit_response_models(history, PRIORS, 200, params=FAST, seed=1, n_threads=1)
    assert models.unmatched_actions == {"mens_email": int((history["action_id"] == "mens_email").sum())}
    assert "upsell_premium" in models.priors  # its rows carried another id: nothing learned for it
    lines = attention_lines(models.attention())
    assert lines[0] == "## Needs attention" and "'mens_email'" in lines[2] and "not in the action catalog" in lines[2]
