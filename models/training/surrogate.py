"""A lower-noise measure of an action's effect on net value: the surrogate index of its conversion flag,
used only where the randomised rows do not contradict it.

Why. The direct outcome (net margin over the action's horizon, models/training/outcomes.py) is mostly what a
customer spends anyway: its per-row sd is 50-70 on the demo worlds, so with ~6,000 randomised rows per action
the doubly robust effect has a standard error of 0.7-2.6 per contact, while the effects that decide the plan
are a few tenths. The tool's `converted` flag moves with far less noise.

Surrogate index (Athey, Chetty, Imbens & Kang 2019). If, given x, a contact changes a customer's margin at list
price only through whether they convert (surrogacy), then E[Y | T] = E[h(S, x) | T] with h(s, x) = E[Y | S = s, x]
fitted on both arms, and the effect on h is measured with the noise of S, not of Y. Per action, on its
randomised campaign rows (S = `converted`; the plan's own rows carry no flag and always use the direct outcome):

    G = value + discount                      (margin at list price, returns deducted)
    G - m(x) ~ b0 + S (b1 + b2 m(x))           (least squares: a conversion is worth more from a customer
                                                who is worth more anyway; m = the pooled baseline outcome)
    Gamma_S = (S g(x) - discount) (T / e - (1 - T) / (1 - e)),   g(x) = b1 + b2 m(x)

The discount part is measured directly: an offer's discount is a cost the flag would not show, and it is zero
on most rows, so it adds little noise. Constants drop out (the weights sum to zero within a date).

Surrogacy is an assumption, and actions break it: a retention contact that keeps customers buying for months,
an upsell that makes orders larger, a call that puts people off — none moves the flag. So it is checked on the
same randomised rows, per action (the direct minus the surrogate effect, mean of Gamma_Y - Gamma_S with its
standard error) and jointly over the actions (chi-square of those z values). The surrogate replaces the direct
outcome of an action only when neither test rejects at `alpha` (default 0.10: doubt goes to the direct
outcome, which is unbiased). The check can only see a bias larger than about 2.5 standard errors of the
difference; that figure is in the notes, so an analyst knows what the surrogate was allowed to hide.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2

MIN_CONVERSIONS = 30  # per action: fewer converted rows cannot say what a conversion is worth
DEFAULT_ALPHA = 0.10  # default `training.surrogacy_alpha`


@dataclass(frozen=True)
class ConversionValue:
    """What a conversion of one action is worth to a customer with baseline outcome m: b1 + b2 m."""

    b0: float
    b1: float
    b2: float

    def of(self, baseline: np.ndarray) -> np.ndarray:
        return self.b1 + self.b2 * np.asarray(baseline, dtype=float)


@dataclass
class SurrogacyCheck:
    """Per action: (direct effect, surrogate effect, difference, its se); the joint p-value; which use it."""

    per_action: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    joint_p: float = float("nan")
    used: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def ipw_weight(treated: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    """T / e - (1 - T) / (1 - e): the weight of a row in a randomised difference."""
    return treated / propensity - (1 - treated) / (1 - propensity)


def fit_conversion_value(label: np.ndarray, gross_residual: np.ndarray, baseline: np.ndarray) -> ConversionValue | None:
    """Least squares of G - m on [1, S, S m] (None with fewer than MIN_CONVERSIONS conversions)."""
    s = np.asarray(label, dtype=float)
    if s.sum() < MIN_CONVERSIONS or (1 - s).sum() < MIN_CONVERSIONS:
        return None
    design = np.column_stack([np.ones(len(s)), s, s * baseline])
    coef, *_ = np.linalg.lstsq(design, gross_residual, rcond=None)
    return ConversionValue(*(float(c) for c in coef))


def surrogate_gamma(rows: pd.DataFrame, baseline: np.ndarray, value: ConversionValue) -> np.ndarray:
    """Gamma_S per row (module docstring)."""
    weight = ipw_weight(rows["treated"].to_numpy(float), rows["propensity"].to_numpy(float))
    return (rows["label"].to_numpy(float) * value.of(baseline) - _discount(rows)) * weight


def _discount(rows: pd.DataFrame) -> np.ndarray:
    return rows["discount"].fillna(0.0).to_numpy(float) if "discount" in rows.columns else np.zeros(len(rows))


def surrogate_rows(rows: pd.DataFrame) -> np.ndarray:
    """The rows with a conversion flag of their own: the company's campaigns (not the plan's own rows)."""
    flagged = rows["label"].notna().to_numpy()
    if "source" in rows.columns:
        flagged &= (rows["source"] == "campaign").to_numpy()
    return flagged


def apply_surrogate(train: pd.DataFrame, held: pd.DataFrame, held_baseline: np.ndarray, action_ids: Sequence[str], *,
                    alpha: float = DEFAULT_ALPHA) -> tuple[np.ndarray, np.ndarray, SurrogacyCheck]:
    """(gamma of `train`, gamma of `held`, the check): each action's flagged rows get Gamma_S when its
    surrogacy holds up (module docstring), every other row keeps its direct `gamma`.

    `train` has gamma (direct), baseline (out-of-fold m), treated, propensity, label, value, discount, action_id;
    `held` the same without baseline (`held_baseline`: m fitted on the training rows). The conversion value is
    fitted on the training rows only, so the held-out rows stay unseen."""
    check = SurrogacyCheck()
    train_gamma, held_gamma = train["gamma"].to_numpy(float).copy(), held["gamma"].to_numpy(float).copy()
    train_flag, held_flag = surrogate_rows(train), surrogate_rows(held)
    candidates: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, ConversionValue]] = {}
    z_scores = []
    for action_id in action_ids:
        own = (train["action_id"] == action_id).to_numpy() & train_flag
        rows = train[own]
        if rows["treated"].nunique() < 2:
            continue
        baseline = rows["baseline"].to_numpy(float)
        gross = rows["value"].to_numpy(float) + _discount(rows) - baseline
        value = fit_conversion_value(rows["label"].to_numpy(float), gross, baseline)
        if value is None:
            check.notes.append(f"{action_id}: fewer than {MIN_CONVERSIONS} converted (or not converted) rows: "
                               "direct outcome")
            continue
        surrogate = surrogate_gamma(rows, baseline, value)
        direct = rows["gamma"].to_numpy(float)
        difference = direct - surrogate
        se = float(difference.std(ddof=1) / np.sqrt(len(difference)))
        z = float(difference.mean() / se) if se > 0 else 0.0
        check.per_action[action_id] = (float(direct.mean()), float(surrogate.mean()), float(difference.mean()), se)
        candidates[action_id] = (own, surrogate, held["action_id"].to_numpy() == action_id, value)
        z_scores.append(z)
    if not candidates:
        return train_gamma, held_gamma, check
    check.joint_p = float(chi2.sf(float(np.sum(np.square(z_scores))), df=len(z_scores)))
    critical = float(NormalDist().inv_cdf(1 - alpha / 2))
    joint_holds = check.joint_p >= alpha
    for action_id, (own, surrogate, held_own, value) in candidates.items():
        direct, indexed, difference, se = check.per_action[action_id]
        holds = joint_holds and abs(difference) <= critical * se
        if holds:
            check.used.add(action_id)
            train_gamma[own] = surrogate
            held_rows = held_own & held_flag
            held_gamma[held_rows] = surrogate_gamma(held[held_rows], held_baseline[held_rows], value)
        check.notes.append(
            f"{action_id}: surrogate index {'used' if holds else 'not used'} — effect direct {direct:+.3f}, via "
            f"conversions {indexed:+.3f} (difference {difference:+.3f}, se {se:.3f}: a bias above about "
            f"{2.5 * se:.2f} per contact would show); a conversion is worth {value.b1:+.2f} "
            f"{value.b2:+.3f} x baseline")
    check.notes.append(f"surrogacy joint test over {len(candidates)} action(s): p = {check.joint_p:.3f} "
                       f"(alpha {alpha:g}){'' if joint_holds else ': rejected, every action uses the direct outcome'}")
    return train_gamma, held_gamma, check
