"""The baselines a night can score with: which one wins (the rule, BG/NBD or Pareto/NBD + Gamma-Gamma, on the
held-out rows; a tie to the simpler), what scores when the winner cannot be fitted tonight, and BG/NBD + Gamma-Gamma
as a churn / CLV model."""
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from models.features.btyd import BG_NBD, PARETO_NBD, BtydFit
from models.training.baselines import (BTYD_RULE, PNBD_RULE, BtydBaseline, RuleBaseline, best_baseline,
                                       fit_tonight_baseline)
from models.training.calibration import fit_calibrator

FIT = BtydFit(purchase_params=(0.25, 33.4, 0.75, 2.2), gamma_gamma=(6.3, 3.6, 15.0), n_customers=1000)  # CDNOW-like
CUSTOMERS = pd.DataFrame({"btyd_frequency": [12.0, 3.0, 3.0, 0.0], "btyd_recency_days": [250.0, 200.0, 20.0, 0.0],
                          "btyd_age_days": [260.0, 260.0, 260.0, 260.0], "btyd_monetary": [40.0, 20.0, 20.0, 0.0]})


@pytest.mark.parametrize("metrics, expected", [
    ({"baseline_auc": 0.70, "btyd_auc": 0.74}, ("btyd", 0.74)),
    ({"baseline_auc": 0.74, "btyd_auc": 0.74}, ("baseline", 0.74)),  # a tie goes to the simpler rule
    ({"baseline_auc": 0.70, "btyd_auc": math.nan}, ("baseline", 0.70)),  # undefined loses
    ({"baseline_auc": 0.70}, ("baseline", 0.70)),  # upsell: no BG/NBD baseline
    ({"baseline_auc": 0.70, "btyd_auc": 0.74, "pnbd_auc": 0.75}, ("pnbd", 0.75)),
    ({"baseline_auc": 0.70, "btyd_auc": 0.74, "pnbd_auc": 0.74}, ("btyd", 0.74)),  # a tie: the cheaper BG/NBD
    ({"baseline_auc": 0.76, "btyd_auc": 0.74, "pnbd_auc": 0.75}, ("baseline", 0.76)),
    ({"baseline_auc": 0.75, "btyd_auc": math.nan, "pnbd_auc": 0.75}, ("baseline", 0.75)),
    ({"baseline_auc": 0.70, "btyd_auc": math.nan, "pnbd_auc": 0.72}, ("pnbd", 0.72)),  # BG/NBD failed to fit
])
def test_the_best_baseline_is_the_higher_defined_score(metrics, expected):
    assert best_baseline(metrics, "auc") == expected


def test_bg_nbd_churn_probabilities_follow_the_purchase_pattern_and_stay_probabilities():
    rng = np.random.default_rng(3)
    evaluation = CUSTOMERS.sample(400, replace=True, random_state=1).reset_index(drop=True)
    churned = (rng.random(400) < 1 - np.exp(-1 / (1 + FIT.expected_purchases(evaluation, 90)))).astype(int)
    model = BtydBaseline("churn", 90, FIT, fit_calibrator(FIT.churn_score(evaluation, 90), churned))
    p = model.predict(CUSTOMERS)
    assert ((p > 0) & (p < 1)).all() and len(np.unique(p)) == 4
    # the frequent recent buyer is the least likely to churn; of two alike, the one who stopped 240 days ago is likelier
    assert p[0] < p[1] < p[2] and model.rule == BTYD_RULE


def test_bg_nbd_clv_is_expected_purchases_times_order_value_over_the_horizon():
    model = BtydBaseline("clv", 273, FIT, None)
    clv = model.predict(CUSTOMERS)
    assert clv == pytest.approx(FIT.expected_purchases(CUSTOMERS, 273) * FIT.order_value(CUSTOMERS))
    assert clv[0] > clv[1] > clv[2] > 0 and clv[3] > 0  # a one-time buyer is still worth a little
    assert (BtydBaseline("clv", 90, FIT, None).predict(CUSTOMERS) < clv).all()


def test_a_candidate_evaluated_in_time_gives_way_to_bg_nbd_whatever_its_score():
    """One cut-off: the held-out rows are a customer split of it. On CDNOW such a candidate led BG/NBD in time and
    lost to it on the real next 39 weeks, so BG/NBD scores (and with two cut-offs the scores decide again)."""
    from models.training.baselines import in_time_with_btyd

    in_time = {"spearman": 0.30, "baseline_spearman": 0.27, "btyd_spearman": 0.28, "out_of_time": 0.0}
    assert in_time_with_btyd(in_time, "spearman") and best_baseline(in_time, "spearman") == ("btyd", 0.28)
    out_of_time = {**in_time, "out_of_time": 1.0, "btyd_spearman": 0.20}
    assert not in_time_with_btyd(out_of_time, "spearman")
    assert best_baseline(out_of_time, "spearman") == ("baseline", 0.27)
    no_btyd = {"auc": 0.7, "baseline_auc": 0.6, "out_of_time": 0.0}  # upsell: the scores decide
    assert not in_time_with_btyd(no_btyd, "auc")


def test_in_time_the_better_buy_till_you_die_model_scores_whatever_the_rule_scores():
    in_time = {"spearman": 0.30, "baseline_spearman": 0.35, "btyd_spearman": 0.28, "pnbd_spearman": 0.29,
               "out_of_time": 0.0}
    assert best_baseline(in_time, "spearman") == ("pnbd", 0.29)
    assert best_baseline({**in_time, "pnbd_spearman": 0.28}, "spearman") == ("btyd", 0.28)
    assert best_baseline({**in_time, "btyd_spearman": math.nan}, "spearman") == ("pnbd", 0.29)


@dataclass
class _Candidate:
    """A held-back CLV candidate: only the baselines' metrics decide here."""

    target: str = "clv"
    horizon_days: int = 90
    kind: str = "regressor"

    def predict(self, X):
        return np.ones(len(X))


PARETO = BtydFit(purchase_params=(0.6, 81.0, 0.55, 67.0), gamma_gamma=FIT.gamma_gamma, n_customers=1000,
                 model=PARETO_NBD)


def _run_on(evaluation: pd.DataFrame, labels: np.ndarray):
    """A TrainingRun of one cut-off (in time) whose metrics come from scoring both fits on `evaluation`."""
    from models.training.train import TrainingRun, evaluate_target_model

    frame = evaluation.assign(label=labels, spend_365d=40.0)
    candidate = _Candidate()
    metrics, _ = evaluate_target_model(candidate, frame, [FIT, PARETO], candidate.horizon_days)
    candidate.metrics = {**metrics, "out_of_time": 0.0}
    return TrainingRun(candidate, None, frame, len(frame), None, FIT, PARETO)


def _history(n: int = 400, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(90, 270, n).round()
    x = rng.poisson(3, n).astype(float)
    return pd.DataFrame({"btyd_frequency": x, "btyd_recency_days": np.where(x > 0, (rng.random(n) * age).round(), 0.0),
                         "btyd_age_days": age, "btyd_monetary": np.where(x > 0, 30.0, 0.0)})


def test_the_night_scores_with_pareto_nbd_when_it_ranks_the_held_out_rows_better_and_bg_nbd_on_a_tie():
    history = _history()
    truth = PARETO.revenue(history, 90)  # constructed: the held-out revenue follows Pareto/NBD's ranking
    run = _run_on(history, truth + np.random.default_rng(0).normal(0, truth.std() / 4, len(truth)))
    assert run.model.metrics["pnbd_spearman"] > run.model.metrics["btyd_spearman"] + 0.01
    requested = []
    fits = {BG_NBD: FIT, PARETO_NBD: PARETO}
    baseline, note = fit_tonight_baseline(run, lambda model: requested.append(model) or fits[model])
    assert requested == [PARETO_NBD] and baseline.rule == PNBD_RULE and baseline.metric_prefix == "pnbd" and note == ""
    # customers alike but for their number of purchases: both models rank them the same, the same Spearman
    alike = pd.DataFrame({"btyd_frequency": np.arange(1.0, 41.0), "btyd_recency_days": 200.0, "btyd_age_days": 210.0,
                          "btyd_monetary": 30.0})
    tie = _run_on(alike, np.arange(40.0) + np.random.default_rng(1).normal(0, 8, 40))
    assert tie.model.metrics["pnbd_spearman"] == tie.model.metrics["btyd_spearman"]
    requested.clear()
    baseline, _ = fit_tonight_baseline(tie, lambda model: requested.append(model) or FIT)
    assert requested == [BG_NBD] and baseline.rule == BTYD_RULE  # Pareto/NBD was not even fitted tonight


def test_when_the_winner_cannot_be_fitted_tonight_the_next_best_scores_and_the_note_says_so():
    history = _history()
    truth = PARETO.revenue(history, 90)
    run = _run_on(history, truth)
    baseline, note = fit_tonight_baseline(run, lambda model: FIT if model == BG_NBD else None)
    assert baseline.rule == BTYD_RULE and note == "Pareto/NBD + Gamma-Gamma could not be fitted tonight"
    baseline, note = fit_tonight_baseline(run, lambda model: None)
    assert isinstance(baseline, RuleBaseline) and baseline.rule == "past spend" and "BG/NBD + Gamma-Gamma could" in note
