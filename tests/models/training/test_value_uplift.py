"""Value of a contact from purchases, the DR value learner, and policy selection on constructed worlds with
known answers (a noise ranking must lose to "treat all", a real ranking must win, a cheap positive e-mail
goes to nearly everyone)."""
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.decisions.catalog import CHANNELS, parse_catalog
from models.decisions.policy_selection import LEARNED, select_policy
from models.training.outcomes import contact_values
from models.training.uplift import fit_response_models
from models.training.value_uplift import calibration_slope, dr_pseudo_outcome

FEATURES = {"x_signal", "x_noise", "days_since_last_purchase", "purchases_365d"}
DATES = [date(2026, 5, 1) + timedelta(days=30 * k) for k in range(6)]


def _catalog(effects: dict[str, float], cost: float = 0.05, eligibility: dict[str, str] | None = None):
    actions = [{"id": a, "type": a, "names": {"en": a}, "channels": ["email"], "cost_per_contact": {"email": cost},
                "value_basis": "fixed", "value_per_conversion": 1.0,
                "eligibility": (eligibility or {}).get(a, "purchases_365d >= 0"),
                "priority": i + 1, "prior_uplift": 0.0, "script_hint": {"en": a}}
               for i, a in enumerate(effects)]
    return parse_catalog({"version": "t", "actions": actions}, FEATURES, source="t.yaml", sha256="0" * 64)


def _history(effects: dict, n_per_date: int, seed: int, noise_sd: float = 20.0) -> pd.DataFrame:
    """Randomised rows with a money outcome: baseline spend driven by `purchases_365d`, plus per action an
    effect function of the features (`effects[action](frame)`) for the contacted arm."""
    rng = np.random.default_rng(seed)
    parts = []
    for day in DATES:
        for action, effect in effects.items():
            n = n_per_date
            frame = pd.DataFrame({"customer_id": [f"{action}-{day}-{i}" for i in range(n)], "campaign_date": day,
                                  "action_id": action, "treated": (rng.uniform(size=n) < 0.7).astype(int),
                                  "x_signal": rng.normal(size=n), "x_noise": rng.normal(size=n),
                                  "purchases_365d": rng.poisson(3, n).astype(float),
                                  "days_since_last_purchase": rng.integers(1, 400, n).astype(float)})
            base = 5.0 * frame["purchases_365d"] + rng.normal(0, noise_sd, n)
            frame["value"] = base + frame["treated"] * effect(frame)
            frame["label"] = 0
            parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _choose(effects: dict, *, n_per_date: int = 1500, seed: int = 3, noise_sd: float = 20.0,
            eligibility: dict[str, str] | None = None):
    catalog = _catalog(effects, eligibility=eligibility)
    frame = _history(effects, n_per_date, seed, noise_sd)
    models = fit_response_models(frame, {a: 0.0 for a in effects}, 200, seed=1, n_threads=1,
                                 actions=catalog.ordered_actions(), params={"num_boost_round": 40})
    held = models.held_out
    contactable = np.ones((len(held.rows), len(CHANNELS)), dtype=bool)
    choice = select_policy(held, catalog, contactable, np.ones(len(effects)), n_customers=10_000, z_option=0.84,
                           call_price=0.0, confidence=0.95)
    return models, choice


def test_a_contacts_value_is_margin_after_discounts_and_returns_and_never_reads_on_or_after_the_as_of_date():
    con = duckdb.connect()
    con.execute("CREATE TABLE purchases (customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE, "
                "discount_amount DOUBLE, status VARCHAR)")
    con.executemany("INSERT INTO purchases VALUES (?, ?, ?, ?, ?)", [
        ("a", datetime(2026, 1, 5), 90.0, 10.0, "completed"),   # 0.3 x 100 - 10 = 20
        ("a", datetime(2026, 1, 20), 50.0, 0.0, "returned"),    # -0.3 x 50 = -15
        ("a", datetime(2026, 2, 3), 100.0, 0.0, "completed"),   # outside the 30-day window
        ("b", datetime(2026, 1, 30, 23, 59), 10.0, None, "completed"),
        ("b", datetime(2026, 1, 31), 1000.0, 0.0, "completed"),  # on the as-of date: never read
    ])
    rows = pd.DataFrame({"customer_id": ["a", "b", "a", "c"], "campaign_date": [date(2026, 1, 1)] * 4,
                         "horizon_days": [30, 30, 31, 30]})
    values = contact_values(con, rows, date(2026, 1, 31), 0.3)
    assert values.iloc[0] == pytest.approx(5.0)
    assert values.iloc[1] == pytest.approx(3.0)  # the 1000 on the as-of date is not in it
    assert np.isnan(values.iloc[2])  # a 31-day window would close after the as-of date: not settled
    assert values.iloc[3] == 0.0


def test_the_dr_score_is_unbiased_for_a_known_effect_whatever_the_baseline_model():
    rng = np.random.default_rng(0)
    n = 200_000
    t = (rng.uniform(size=n) < 0.8).astype(float)
    y = rng.gamma(2, 10, n) + 1.5 * t
    for baseline in (np.zeros(n), np.full(n, 20.0), y.mean() + rng.normal(0, 5, n)):
        gamma = dr_pseudo_outcome(y, t, np.full(n, 0.8), baseline)
        assert gamma.mean() == pytest.approx(1.5, abs=4 * gamma.std() / np.sqrt(n))


def test_the_calibration_slope_is_about_one_for_a_real_ranking_and_zero_for_noise():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=50_000)
    gamma = truth + rng.normal(0, 3, truth.size)
    assert calibration_slope(gamma, truth)[0] == pytest.approx(1.0, abs=0.1)
    assert abs(calibration_slope(gamma, rng.normal(size=truth.size))[0]) < 0.1


def test_a_noise_ranking_loses_to_treating_everyone_with_the_best_action():
    # Constant effects: any spread the learner finds is noise; "all:good" is the right policy.
    models, choice = _choose({"good": lambda f: 3.0 + 0 * f["x_noise"], "bad": lambda f: -2.0 + 0 * f["x_noise"]})
    assert choice.winner == "all:good"
    assert models.values["good"].effect == pytest.approx(3.0, abs=1.0)


def test_a_real_ranking_wins_over_every_simple_policy():
    # "targeted" helps only customers with x_signal > 0 (+8) and hurts the others (-6): treat-all earns ~+1
    # per customer, targeting ~+4.
    models, choice = _choose({"targeted": lambda f: np.where(f["x_signal"] > 0, 8.0, -6.0)})
    assert choice.winner == LEARNED
    assert models.values["targeted"].slope > 0.5
    learned = next(e for e in choice.estimates if e.name == LEARNED)
    treat_all = next(e for e in choice.estimates if e.name == "all:targeted")
    assert learned.value > 2 * treat_all.value
    # valued on the held-out dates and on the training rows through their out-of-fold model: nearly every row
    assert learned.note.startswith("rows valued out of sample")
    assert models.held_out.rows["out_of_sample"].mean() > 0.95 > models.held_out.rows["held_out"].mean()


def test_a_real_segment_rule_is_cross_fitted_over_every_row_and_wins():
    """'early' helps customers who bought in the last 90 days (+6) and puts the others off (-4); 'late' the
    reverse. Recency is uniform over 400 days, so treating everyone with 'late' earns about 0.775 x 6 - 0.225 x 4 =
    +3.75 a contact and the recency rule +6. The rule is valued
    on every row, each block of dates by the rule fitted on the other blocks, and deployed as fitted on all rows."""
    from models.decisions.policy_selection import SEGMENT

    recent = lambda f: f["days_since_last_purchase"] <= 90  # noqa: E731
    models, choice = _choose({"early": lambda f: np.where(recent(f), 6.0, -4.0),
                              "late": lambda f: np.where(recent(f), -4.0, 6.0)}, n_per_date=1000)
    assert choice.winner == SEGMENT
    assert {s: [a for a, _ in ranked] for s, ranked in choice.rule_actions.items()} == {
        0: ["early"], 1: ["early"], 2: ["late"], 3: ["late"]}  # the other action loses there: never its fallback
    assert all(3.0 < effect < 10.0 for ranked in choice.rule_actions.values() for _, effect in ranked)  # +6, a few
    # hundred noisy rows each
    assert "the rule: last purchase <= 30 days -> early (+6" in choice.reason
    segment = next(e for e in choice.estimates if e.name == SEGMENT)
    assert segment.note.startswith("cross-fitted over 4 folds of campaign dates")
    best_single = max(e.value for e in choice.estimates if e.name.startswith("all:"))
    assert segment.value > 1.4 * best_single  # 6 / 3.75 = 1.6 in truth


def test_the_next_best_action_for_customers_the_best_one_cannot_reach_is_cross_fitted_and_wins():
    """'winback' (+6 a contact) may go only to customers who have not bought for 180 days (about 55 % of them);
    'upsell' (+3) to everyone. Treating everyone with the win-back earns about 0.55 x 6 = 3.3 a customer, with the
    upsell 3; the ranked rule — the win-back where it may go, else the upsell — about 0.55 x 6 + 0.45 x 3 = 4.65."""
    from models.decisions.policy_selection import RANKED

    models, choice = _choose({"winback": lambda f: 6.0 + 0 * f["x_noise"], "upsell": lambda f: 3.0 + 0 * f["x_noise"]},
                             eligibility={"winback": "days_since_last_purchase > 180"}, n_per_date=1000)
    assert choice.winner == RANKED
    assert [a for a, _ in choice.rule_actions[0]] == ["winback", "upsell"]
    assert "the rule: winback (+" in choice.reason and ", else upsell (+" in choice.reason
    ranked = next(e for e in choice.estimates if e.name == RANKED)
    assert ranked.note.startswith("cross-fitted over 4 folds of campaign dates")
    best_single = max(e.value for e in choice.estimates if e.name.startswith("all:"))
    assert ranked.value > 1.25 * best_single  # 4.65 / 3.3 = 1.4 in truth
    assert ranked.contacts_share > 0.95


def test_a_cheap_email_with_a_small_positive_effect_goes_to_everyone():
    # A 5-cent e-mail worth about 0.6 a contact (a few percent of the noise) and a worse one: e-mail everyone
    # with the better version.
    models, choice = _choose({"mens": lambda f: 0.6 + 0 * f["x_noise"], "womens": lambda f: 0.2 + 0 * f["x_noise"]},
                             n_per_date=6000, noise_sd=5.0)
    assert choice.winner in ("all:mens", LEARNED)
    best = next(e for e in choice.estimates if e.name == "all:mens")
    assert best.lcb > 0
    assert best.contacts_share > 0.95


def test_an_effect_in_proportion_to_what_a_customer_is_worth_is_ranked_by_the_value_scaled_form():
    """The contact adds 30 % of what each customer would have spent anyway (m(x), the baseline model), minus 2:
    the two-number form a + b m(x) explains Gamma out of fold; a tree on features that do not show m cannot."""
    from models.training.train import BoostedModel, train_booster
    from models.training.value_uplift import fit_value_model

    rng = np.random.default_rng(7)
    n = 8000
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "x_noise": rng.normal(size=n),
                         "treated": (rng.uniform(size=n) < 0.7).astype(int),
                         "baseline": rng.lognormal(3.0, 0.6, n)})
    rows["gamma"] = 0.3 * rows["baseline"] - 2.0 + rng.normal(0, 15, n)
    stand_in = BoostedModel(train_booster(rows[["x_noise"]], rows["gamma"], {"objective": "reg:squarederror",
                                                                           "num_boost_round": 2}), ["x_noise"], None, 1)
    model, _ = fit_value_model(rows, ["x_noise"], "scaled", 30, seed=1, n_threads=1, baseline_model=stand_in)
    assert model.kind == "value_scaled"
    assert model.coef[1] == pytest.approx(0.3, abs=0.08)  # b: the share of the baseline the contact adds
    assert model.slope > 0.7
    assert model.effect == pytest.approx(0.3 * rows["baseline"].mean() - 2.0, abs=1.0)


def test_with_a_shared_bound_many_worthless_actions_rarely_deploy_one_by_chance():
    """Seven actions worth nothing, valued on noisy rows: the best lower bound among them is the best of seven
    noisy draws; with the bound shared among the candidates, over 60 draws few nights deploy anything."""
    from models.decisions.policy_selection import HeldOut

    effects = {f"a{i}": (lambda f: 0.0) for i in range(7)}
    catalog = _catalog(effects, cost=0.0)
    deployed = 0
    for draw in range(60):
        rng = np.random.default_rng(draw)
        n = 7 * 2000
        rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "action_id": np.repeat(list(effects), 2000),
                             "gamma": rng.normal(0.0, 40.0, n), "segment": 0, "held_out": rng.uniform(size=n) < 0.25})
        held = HeldOut(rows, np.full((n, 7), np.nan), np.full((n, 7), np.nan), np.ones((n, 7), dtype=bool))
        choice = select_policy(held, catalog, np.ones((n, len(CHANNELS)), dtype=bool), np.ones(7),
                               n_customers=10_000, z_option=0.84, call_price=0.0, confidence=0.95,
                               shared_bound=True)
        deployed += choice.winner != "no_action"
    # a single 95 % bound per action (shared_bound=False) deploys one in about 1 - 0.95^7 = 30 % of the draws
    assert deployed <= 6


def _weak_and_bad(n_weak: int, deployed: str | None = None):
    """The policy choice on two actions' rows: 'weak' worth +0.25 a row on `n_weak` rows and 'bad' -1.0 on 2,000,
    both under noise of 10, with `deployed` the policy in place."""
    from models.decisions.policy_selection import HeldOut

    catalog = _catalog({"weak": lambda f: 0.0, "bad": lambda f: 0.0}, cost=0.0)
    spread = np.where(np.arange(n_weak) % 2 == 0, 10.0, -10.0)
    gamma = np.concatenate([0.25 + spread, -1.0 + np.where(np.arange(2000) % 2 == 0, 10.0, -10.0)])
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(gamma))], "gamma": gamma, "segment": 0,
                         "action_id": ["weak"] * n_weak + ["bad"] * 2000, "held_out": False})
    n = len(rows)
    held = HeldOut(rows, np.full((n, 2), np.nan), np.full((n, 2), np.nan), np.ones((n, 2), dtype=bool))
    return select_policy(held, catalog, np.ones((n, len(CHANNELS)), dtype=bool), np.ones(2), n_customers=10_000,
                         z_option=0.84, call_price=0.0, confidence=0.95, deployed=deployed)


def test_a_plan_held_back_by_too_little_evidence_says_how_many_more_randomised_rows_would_show_it():
    """'weak' is worth +0.25 per row under noise of 10 on 2,000 rows: its bound is below zero, so no action is
    deployed. The summary names it and the extra rows that would show it if its estimate held — and with that many
    rows of the same mean and spread it is deployed, with a tenth fewer it is not."""
    from models.exports.run_summary import policy_lines
    from models.exports.run_summary_texts import TEXTS

    choose = _weak_and_bad
    choice = choose(2000)
    assert choice.winner == "no_action"
    evidence = choice.as_dict()["evidence_needed"]
    assert (evidence["policy"], evidence["action_id"], evidence["rows"]) == ("all:weak", "weak", 2000)
    assert evidence["factor"] == pytest.approx((1.645 * 10 / np.sqrt(2000) / 0.25) ** 2, rel=0.01)  # about 2.2
    enough = 2000 + evidence["more_rows"]
    assert choose(enough + 2).winner == "all:weak"
    assert choose(2000 + int(0.9 * evidence["more_rows"])).winner == "no_action"
    for language in ("en", "es", "pt"):
        text = "\n".join(policy_lines(choice.as_dict(), TEXTS[language]))
        assert f"{evidence['more_rows']:,}" in text and "**all:weak**" in text and "2,000" in text
    assert "evidence_needed" not in choose(enough + 2).as_dict()


def test_the_policy_in_place_stays_until_tonights_best_is_shown_better_or_it_is_shown_to_lose_value():
    """'weak' is worth +0.25 a row and 'bad' -1.0 (noise 10, 2,000 rows each): on its own evidence no action wins.
    Deployed the night before, 'all:weak' stays (no action is not shown better than it); 'all:bad' goes (it is
    shown to lose value); with enough rows, 'all:weak' replaces a deployed no action. Without the rule (deployed
    None), tonight's best bound wins as on a first night."""
    def choose(deployed, n_weak=2000):
        return _weak_and_bad(n_weak, deployed)

    assert choose(None).winner == "no_action"
    kept = choose("all:weak")
    assert kept.winner == "all:weak" and "stays" in kept.reason and "'no_action'" in kept.reason
    assert next(e for e in kept.estimates if e.chosen).name == "all:weak"
    dropped = choose("all:bad")
    assert dropped.winner == "no_action" and "replaces the last night's 'all:bad'" in dropped.reason
    assert choose("a policy no longer offered").winner == "no_action"
    assert choose("no_action", n_weak=12_000).winner == "all:weak"  # shown better than the policy in place
    assert "replaces the last night's 'no_action'" in choose("no_action", n_weak=12_000).reason


def test_a_quiet_targeted_rule_does_not_replace_a_better_simple_policy():
    """'a' gains +1 a contact on quiet rows (noise 1) and +3 on loud ones (noise 60). The learned rule contacts only
    the quiet half: its estimate is lower (+0.5 a row against +2.0) but so much surer that its lower bound is higher.
    A better bound alone would deploy it; its paired gain is negative, so 'all:a' stays."""
    from models.decisions.policy_selection import HeldOut

    catalog = _catalog({"a": lambda f: 0.0}, cost=0.0)
    sign = np.where(np.arange(1000) % 2 == 0, 1.0, -1.0)
    gamma = np.concatenate([1.0 + sign, 3.0 + 60.0 * sign])
    n = len(gamma)
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "action_id": "a", "gamma": gamma, "segment": 0,
                         "held_out": True})
    uplift = np.where(np.arange(n) < 1000, 5.0, np.nan)[:, None]  # the learned model sends 'a' to the quiet half
    held = HeldOut(rows, uplift, np.zeros((n, 1)), np.ones((n, 1), dtype=bool))
    choice = select_policy(held, catalog, np.ones((n, len(CHANNELS)), dtype=bool), np.ones(1), n_customers=10_000,
                           z_option=0.84, call_price=0.0, confidence=0.95)
    learned, treat_all = (next(e for e in choice.estimates if e.name == name) for name in (LEARNED, "all:a"))
    assert learned.lcb > treat_all.lcb > 0 and learned.value < treat_all.value  # surer, and worth less
    assert choice.winner == "all:a"


def test_an_action_whose_conversions_contradict_its_net_value_is_ranked_and_deployed_on_net_value():
    """'winback' converts nobody more (its Gamma via conversions is about 0) but adds +2 of net value a contact; the
    survey's conversions and net value agree on +0.5. The win-back's rows are valued on net value alone everywhere:
    the ranked rule puts it first at about +2, and an 'all:winback' plan would send it at that effect."""
    from models.decisions.policy_selection import RANKED, HeldOut

    rng = np.random.default_rng(8)
    per_action = 20_000
    catalog = _catalog({"winback": None, "survey": None}, cost=0.0,
                       eligibility={"winback": "days_since_last_purchase > 180"})
    winback_surrogate = rng.normal(0.0, 5.0, per_action)
    survey = rng.normal(0.5, 5.0, per_action)
    rows = pd.DataFrame({"customer_id": [f"c{i}" for i in range(2 * per_action)],
                         "action_id": ["winback"] * per_action + ["survey"] * per_action,
                         "gamma": np.concatenate([winback_surrogate, survey]),
                         "gamma_direct": np.concatenate([winback_surrogate + rng.normal(2.0, 30.0, per_action),
                                                         survey + rng.normal(0.0, 1.0, per_action)]),
                         "segment": 0, "held_out": False, "fold": np.arange(2 * per_action) % 4})
    n = len(rows)
    eligible = np.ones((n, 2), dtype=bool)
    eligible[rng.uniform(size=n) < 0.4, 0] = False  # the win-back may go to 60 % of the customers
    held = HeldOut(rows, np.full((n, 2), np.nan), np.full((n, 2), np.nan), eligible)
    choice = select_policy(held, catalog, np.ones((n, len(CHANNELS)), dtype=bool), np.ones(2), n_customers=10_000,
                           z_option=0.84, call_price=0.0, confidence=0.95)
    winback = next(e for e in choice.estimates if e.name == "all:winback")
    assert winback.note.startswith("all settled randomised rows; valued on net value")
    direct_mean = rows.loc[rows["action_id"] == "winback", "gamma_direct"].mean()
    assert choice.action_effects["winback"] == pytest.approx(direct_mean)
    assert 1.0 < direct_mean < 3.0
    assert choice.winner == RANKED
    assert [a for a, _ in choice.rule_actions[0]] == ["winback", "survey"]


def test_a_learned_rule_must_beat_the_simpler_ranked_rule_not_only_the_simple_policies():
    """'w' gains +6 where it may go (60 % of the customers), 'u' +3 everywhere. The learned rule sends 'w' where it
    may and 'u' to only half of the others: about 4.2 a customer, above 'all:w' (3.6) but below the ranked rule
    ('w', else 'u': 4.8). It is compared with the ranked rule on its rows and loses; the ranked rule is deployed."""
    from models.decisions.policy_selection import RANKED, HeldOut

    catalog = _catalog({"w": None, "u": None}, cost=0.0)
    n_per = 4000
    i = np.arange(2 * n_per)
    may_w = i % 5 < 3
    spread = np.where(i % 2 == 0, 1.0, -1.0) * np.where(i % 4 < 2, 1.0, 0.5)
    rows = pd.DataFrame({"customer_id": [f"c{k}" for k in i], "action_id": ["w"] * n_per + ["u"] * n_per,
                         "gamma": np.where(i < n_per, 6.0, 3.0) + spread, "segment": 0, "held_out": True,
                         "fold": i % 4})
    eligible = np.column_stack([may_w, np.ones(2 * n_per, dtype=bool)])
    uplift = np.column_stack([np.where(may_w, 6.0, np.nan), np.where(~may_w & (i % 2 == 0), 3.0, np.nan)])
    held = HeldOut(rows, uplift, np.zeros_like(uplift), eligible)
    choice = select_policy(held, catalog, np.ones((2 * n_per, len(CHANNELS)), dtype=bool), np.ones(2),
                           n_customers=10_000, z_option=0.84, call_price=0.0, confidence=0.95)
    value = {e.name: e.value for e in choice.estimates}
    assert value["all:w"] < value[LEARNED] < value[RANKED]
    learned = next(e for e in choice.estimates if e.name == LEARNED)
    assert "best simpler policy on the same rows 'ranked'" in learned.note
    assert choice.winner == RANKED


def _two_experiments(seed: int, effect: float = 1.0) -> pd.DataFrame:
    """One action's rows from two randomised sources with a known effect: a balanced company campaign (half
    contacted) and the plan's own contacts against a 5 % holdout, whose control rows weigh 20 in Gamma."""
    rng = np.random.default_rng(seed)
    parts = []
    for source, n, share in (("campaign", 10_000, 0.5), ("plan", 10_000, 0.95)):
        treated = (rng.uniform(size=n) < share).astype(float)
        value = rng.normal(20.0, 30.0, size=n) + effect * treated
        parts.append(pd.DataFrame({"action_id": "a", "source": source, "treated": treated, "propensity": share,
                                   "gamma": dr_pseudo_outcome(value, treated, np.full(n, share), np.full(n, 20.0))}))
    return pd.concat(parts, ignore_index=True)


def test_each_experiment_weighs_by_its_precision_so_more_rows_never_make_an_effect_noisier():
    from models.training.value_uplift import precision_weights, weighted_mean_se

    rows = _two_experiments(seed=3)
    weight = precision_weights(rows)
    campaign = (rows["source"] == "campaign").to_numpy()
    gamma = rows["gamma"].to_numpy(float)
    alone = weighted_mean_se(gamma[campaign])
    pooled = weighted_mean_se(gamma)
    weighted = weighted_mean_se(gamma, weight)
    assert pooled[1] > 1.1 * alone[1]           # equal weights: the holdout experiment's noise swamps the campaign
    assert weighted[1] < alone[1]               # by precision: the second experiment adds information
    assert weight[campaign].mean() > 3 * weight[~campaign].mean()
    assert weighted_mean_se(gamma, np.ones(len(gamma))) == pytest.approx(  # equal weights: mean and sd / sqrt(n)
        (gamma.mean(), gamma.std(ddof=1) / np.sqrt(len(gamma))))
    estimates = [weighted_mean_se(r["gamma"].to_numpy(float), precision_weights(r))
                 for r in (_two_experiments(seed=s) for s in range(20, 60))]
    means, ses = np.array([m for m, _ in estimates]), np.array([s for _, s in estimates])
    assert abs(means.mean() - 1.0) < 3 * ses.mean() / np.sqrt(len(means))  # unbiased for the known effect
    assert 0.6 < means.std() / ses.mean() < 1.5                          # its standard error is honest
    one_source = rows[campaign]
    assert np.array_equal(precision_weights(one_source), np.ones(len(one_source)))  # one source: as before


def _kept(contributions: dict, valued_on: dict, deployed: str, tonight: str):
    """kept_or_replaced on constructed per-row contributions of one experiment ('a'), at 95 %."""
    from models.decisions.policy_selection import PolicyEstimate, kept_or_replaced, z_of

    n = len(contributions["no_action"])
    estimates = [PolicyEstimate(name, 0.0, 0.0, 0.0, 0.0) for name in contributions]
    winner = next(e for e in estimates if e.name == tonight)
    return kept_or_replaced(winner, "tonight's best", deployed, estimates, contributions, valued_on,
                            np.full(n, "a", dtype=object), np.ones(n), n_customers=n, z=z_of(0.95), confidence=0.95)


def test_a_policy_in_place_shown_to_lose_value_goes_even_when_tonights_best_is_not_shown_better_than_it():
    """kept_or_replaced on constructed contributions. The learned rule in place is valued on its 1,000 out-of-sample
    rows, where it loses 2.0 a row (noise 1). Tonight's best, 'all:a' (+0.3 a row, noise 60, valued on all 4,000
    rows), is not shown better than it on those rows, yet no action is: the learned rule goes. A learned rule that
    loses nothing goes too, to the simpler 'all:a' it is not shown better than; when tonight's best is no action
    (which needs the rule in place shown to lose value) it stays."""
    rng = np.random.default_rng(5)
    n = 4000
    its_rows = np.zeros(n, dtype=bool)
    its_rows[:1000] = True
    a = rng.normal(0.3, 60.0, n)

    def choose(learned_loss, tonight="all:a"):
        learned = np.where(its_rows, rng.normal(-learned_loss, 1.0, n), 0.0)
        return _kept({"no_action": np.zeros(n), "all:a": a, "learned": learned},
                     {"no_action": np.ones(n, bool), "all:a": np.ones(n, bool), "learned": its_rows}, "learned", tonight)

    chosen, reason = choose(learned_loss=2.0)
    assert chosen.name == "all:a" and "'learned' is shown to lose value" in reason
    chosen, reason = choose(learned_loss=0.0)
    assert chosen.name == "all:a" and "a more complex policy that is not shown better" in reason
    chosen, reason = choose(learned_loss=0.0, tonight="no_action")
    assert chosen.name == "learned" and "stays" in reason


def test_a_targeted_rule_in_place_gives_way_to_a_simpler_policy_it_is_not_shown_better_than():
    """kept_or_replaced on constructed contributions. The learned rule in place earns about what 'all:a' earns on its
    rows, with more noise; tonight's best by its bound is 'all:a'. The learned rule is not shown better than it, so
    the simpler policy replaces it (the burden of proof stays with the more complex rule). A learned rule shown
    better than 'all:a' stays, and a simpler policy in place is kept against a more complex one not shown better."""
    rng = np.random.default_rng(9)
    n = 4000
    a = rng.normal(1.0, 5.0, n)

    def choose(learned_edge, deployed="learned", tonight="all:a"):
        learned = a + rng.normal(learned_edge, 20.0 if learned_edge == 0 else 0.5, n)
        contributions = {"no_action": np.zeros(n), "all:a": a, "learned": learned}
        return _kept(contributions, {name: np.ones(n, bool) for name in contributions}, deployed, tonight)

    chosen, reason = choose(learned_edge=0.0)
    assert chosen.name == "all:a" and "a more complex policy that is not shown better" in reason
    chosen, reason = choose(learned_edge=1.0)
    assert chosen.name == "learned" and "stays" in reason
    chosen, reason = choose(learned_edge=0.0, deployed="all:a", tonight="learned")
    assert chosen.name == "all:a" and "stays" in reason
