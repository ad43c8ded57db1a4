"""The documented baselines as models that can score a night: RFM for churn and upsell, past spend for CLV, and
for churn and CLV a BG/NBD + Gamma-Gamma model (models/features/btyd.py).

Every candidate is gated against the best of its target's baselines on the held-out evaluation cut-off
(models/training/evaluation.py: `rfm_score`, `past_spend_baseline`; `btyd_*` metrics). On a first night whose
candidate does not beat them, and with no champion to fall back on, the night scores with the baseline that won
out of time instead of stopping, so a list is published and flagged. The RFM rule and BG/NBD's expected purchases
are ranks, not probabilities of churn, so for churn and upsell they are mapped to probabilities by a calibrator
fitted on the evaluation cut-off (the same rows the gate compared them on). BG/NBD is refitted on tonight's whole
base to score (the procedure that was evaluated: fit at the date, predict), its churn calibrator kept from the
evaluation cut-off.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.features.btyd import INPUT_COLUMNS as BTYD_INPUTS, BtydFit
from models.training.calibration import Calibrator, fit_calibrator
from models.training.evaluation import FREQUENCY, MONETARY, RECENCY, past_spend_baseline, rfm_score
from models.training.train import KIND, TrainingRun

RULES = {"churn": "RFM", "upsell": "RFM", "clv": "past spend"}
BTYD_RULE = "BG/NBD + Gamma-Gamma"


@dataclass
class RuleBaseline:
    """A target's rule baseline; `predict` takes the features frame like any fitted project model."""

    target: str
    horizon_days: int
    calibrator: Calibrator | None  # classifiers only: RFM rank -> probability
    feature_names: tuple[str, ...] = (RECENCY, FREQUENCY, MONETARY)

    @property
    def rule(self) -> str:
        return RULES[self.target]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probability over the horizon (churn, upsell) or expected net revenue over `horizon_days` (CLV)."""
        if self.calibrator is None:
            return past_spend_baseline(X, self.horizon_days)
        return self.calibrator.apply(rfm_score(X, self.target))


@dataclass
class BtydBaseline:
    """BG/NBD + Gamma-Gamma as a target's model: expected revenue over `horizon_days` (CLV), or the calibrated
    probability of churn from the expected number of purchase days over `horizon_days` (fewer: likelier)."""

    target: str
    horizon_days: int
    fit: BtydFit
    calibrator: Calibrator | None
    feature_names: tuple[str, ...] = BTYD_INPUTS
    rule: str = BTYD_RULE

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.calibrator is None:
            return self.fit.revenue(X, self.horizon_days)
        return self.calibrator.apply(self.fit.churn_score(X, self.horizon_days))


def in_time_with_btyd(metrics: dict[str, float], metric: str) -> bool:
    """True when the held-out rows were a customer split of one cut-off (not out of time) and BG/NBD was fitted:
    then BG/NBD is the baseline that scores and no candidate is promoted over it. Why: on CDNOW (one cut-off at
    1997-04-01 for a 273-day CLV) the XGBoost candidate led in time (Spearman 0.299 vs 0.280) and lost on the
    real next 39 weeks (0.214 vs 0.420): a split of young customers says nothing about older ones, and BG/NBD's
    form carries over to later ages."""
    return metrics.get("out_of_time") == 0.0 and not np.isnan(metrics.get(f"btyd_{metric}", np.nan))


def best_baseline(metrics: dict[str, float], metric: str) -> tuple[str, float]:
    """('baseline' or 'btyd', its score) of the target's best baseline on `metric` held out (NaN loses; BG/NBD
    when the evaluation was in time, see `in_time_with_btyd`)."""
    if in_time_with_btyd(metrics, metric):
        return "btyd", metrics[f"btyd_{metric}"]
    scores = {p: metrics.get(f"{p}_{metric}", np.nan) for p in ("baseline", "btyd")}
    defined = {p: s for p, s in scores.items() if not np.isnan(s)}
    if not defined:
        return "baseline", scores["baseline"]
    prefix = max(defined, key=lambda p: (defined[p], p == "baseline"))  # a tie goes to the simpler rule
    return prefix, defined[prefix]


def fit_btyd_baseline(run: TrainingRun, tonight: BtydFit) -> BtydBaseline:
    """`run`'s target scored by BG/NBD + Gamma-Gamma fitted tonight (`tonight`); churn calibrated on the
    evaluation frame with the fit of the evaluation cut-off (`run.btyd`), the one its metrics were measured with."""
    model, evaluation = run.model, run.evaluation_frame
    if KIND[model.target] == "regressor":
        return BtydBaseline(model.target, model.horizon_days, tonight, None)
    score = run.btyd.churn_score(evaluation, model.horizon_days)
    return BtydBaseline(model.target, model.horizon_days, tonight,
                        fit_calibrator(score, evaluation["label"].astype(int).to_numpy()))


def fit_rule_baseline(run: TrainingRun) -> RuleBaseline:
    """The rule baseline of `run`'s target over its horizon; classifiers calibrated on its evaluation frame."""
    model, evaluation = run.model, run.evaluation_frame
    if KIND[model.target] == "regressor":
        return RuleBaseline(model.target, model.horizon_days, None)
    calibrator = fit_calibrator(rfm_score(evaluation, model.target), evaluation["label"].astype(int).to_numpy())
    return RuleBaseline(model.target, model.horizon_days, calibrator)
