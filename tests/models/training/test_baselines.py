"""The baselines a night can score with: which one wins, and BG/NBD + Gamma-Gamma as a churn / CLV model."""
import math

import numpy as np
import pandas as pd
import pytest

from models.features.btyd import BtydFit
from models.training.baselines import BTYD_RULE, BtydBaseline, best_baseline
from models.training.calibration import fit_calibrator

FIT = BtydFit(purchase_params=(0.25, 33.4, 0.75, 2.2), gamma_gamma=(6.3, 3.6, 15.0), n_customers=1000)  # CDNOW-like
CUSTOMERS = pd.DataFrame({"btyd_frequency": [12.0, 3.0, 3.0, 0.0], "btyd_recency_days": [250.0, 200.0, 20.0, 0.0],
                          "btyd_age_days": [260.0, 260.0, 260.0, 260.0], "btyd_monetary": [40.0, 20.0, 20.0, 0.0]})


@pytest.mark.parametrize("metrics, expected", [
    ({"baseline_auc": 0.70, "btyd_auc": 0.74}, ("btyd", 0.74)),
    ({"baseline_auc": 0.74, "btyd_auc": 0.74}, ("baseline", 0.74)),  # a tie goes to the simpler rule
    ({"baseline_auc": 0.70, "btyd_auc": math.nan}, ("baseline", 0.70)),  # undefined loses
    ({"baseline_auc": 0.70}, ("baseline", 0.70)),  # upsell: no BG/NBD baseline
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
