"""Probability calibration of raw classifier scores on a held-out (out-of-time) set.

Which method: isotonic regression is free-form and fits any monotone distortion, but with few rows it
learns a staircase of the noise (scikit-learn's guide warns below ~1,000 rows). Platt scaling (a
logistic regression on the score's log-odds) has two parameters and holds up on small sets; XGBoost
trained on log loss is usually only mildly mis-calibrated, which is the shape Platt corrects. So
`method="auto"` uses isotonic only when the calibration set has >= ISOTONIC_MIN_ROWS rows and at
least ISOTONIC_MIN_PER_CLASS of each class, and Platt otherwise. The choice is recorded on the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_ROWS = 1000
ISOTONIC_MIN_PER_CLASS = 100
METHODS = ("auto", "platt", "isotonic")
_EPS = 1e-6


@dataclass
class Calibrator:
    """A fitted monotone map from raw probabilities to calibrated probabilities."""

    method: str  # "platt" | "isotonic" | "constant"
    model: Any
    n_rows: int

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities `scores`."""
        scores = np.asarray(scores, dtype=float)
        if self.method == "constant":
            return np.full(scores.shape, float(self.model))
        if self.method == "platt":
            return self.model.predict_proba(_logit(scores).reshape(-1, 1))[:, 1]
        return np.clip(self.model.predict(scores), 0.0, 1.0)


def choose_method(y: np.ndarray) -> str:
    """The calibration method that holds up for this many rows and positives (see module docstring)."""
    y = np.asarray(y)
    positives = int(y.sum())
    if len(y) >= ISOTONIC_MIN_ROWS and min(positives, len(y) - positives) >= ISOTONIC_MIN_PER_CLASS:
        return "isotonic"
    return "platt"


def fit_calibrator(scores: np.ndarray, y: np.ndarray, method: str = "auto") -> Calibrator:
    """Fit a calibrator mapping raw probabilities `scores` to the observed outcomes `y` (0/1)."""
    if method not in METHODS:
        raise ValueError(f"calibration method '{method}' is not one of {', '.join(METHODS)}")
    scores = np.asarray(scores, dtype=float)
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        raise ValueError("cannot calibrate on an empty calibration set")
    if y.min() == y.max():
        return Calibrator("constant", float(y[0]), len(y))
    chosen = choose_method(y) if method == "auto" else method
    if chosen == "platt":
        model = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
        model.fit(_logit(scores).reshape(-1, 1), y)
    else:
        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(scores, y)
    return Calibrator(chosen, model, len(y))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))
