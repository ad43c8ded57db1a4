"""The baselines a night can score with: which one wins, and BG/NBD + Gamma-Gamma as a churn / CLV model."""
import math

import numpy as np
import pandas as pd
import pytest

from models.features.btyd import BtydFit
from models.training.baselines import BTYD_RULE, BtydBaseline, best_baseline
from models.training.calibration import fit_calibrator

FIT = BtydFit(bg_nbd=(0.25, 33.4, 0.75, 2.2), gamma_gamma=(6.3, 3.6, 15.0), n_customers=1000)  # CDNOW-like
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
