"""The documented rule baselines as models that can score a night: RFM for churn and upsell, past spend for CLV.

Every candidate is gated against its rule baseline (models/training/evaluation.py: `rfm_score`,
`past_spend_baseline`). On a first night whose candidate does not beat it, and with no champion to fall back
on, the night scores with that same rule instead of stopping, so a list is published and flagged. The RFM rule
is a rank in [0, 1], not a probability, so for churn and upsell it is mapped to probabilities by a calibrator
fitted on the candidate's held-out evaluation cut-off (the same rows the gate compared them on).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.training.calibration import Calibrator, fit_calibrator
from models.training.evaluation import FREQUENCY, MONETARY, RECENCY, past_spend_baseline, rfm_score
from models.training.train import KIND, TrainingRun

RULES = {"churn": "RFM", "upsell": "RFM", "clv": "past spend"}


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


def fit_rule_baseline(run: TrainingRun) -> RuleBaseline:
    """The rule baseline of `run`'s target over its horizon; classifiers calibrated on its evaluation frame."""
    model, evaluation = run.model, run.evaluation_frame
    if KIND[model.target] == "regressor":
        return RuleBaseline(model.target, model.horizon_days, None)
    calibrator = fit_calibrator(rfm_score(evaluation, model.target), evaluation["label"].astype(int).to_numpy())
    return RuleBaseline(model.target, model.horizon_days, calibrator)
