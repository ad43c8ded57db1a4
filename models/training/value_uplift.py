"""Incremental net value of an action per customer, from randomised contacts: a cross-fitted doubly robust
learner (Kennedy's DR-learner), shrunk to the measured average effect as far as its ranking does not hold up.

Data: every action's randomised rows (x = features at the contact date, T = contacted or control, Y = net
margin over the action's horizon, models/training/outcomes.py, e = the share of the action's rows contacted
on that date: known, because the assignment was random).

1. One baseline outcome model m(x) ~ E[Y | x], pooled over every action's rows and both arms (a customer's
   next weeks of margin hardly depend on which campaign they were in: pooling gives it all the data), fitted
   on the other fold (K folds by a hash of the customer id). With a known e the pseudo-outcome
       Gamma = (Y - m(x)) (T / e - (1 - T) / (1 - e))
   has E[Gamma | x] = the true effect whatever m's errors; a good m only removes noise (what a customer
   would have spent anyway), which is most of Y's variance.
   For the plan's own holdout experiment, whose contacted customers get more contacts within the window while its
   holdout gets none, Gamma is divided by that difference in contacts (per_contact_divisor): one contact's effect.
2. effect = mean Gamma (standard error sd / sqrt(n)) among rows whose customer met the action's rules, each row
   weighted by the precision of its experiment (precision_weights: a company campaign, the plan's holdout
   experiment and its exploration draws are separate experiments of very different noise; one source: equal weights).
3. tau(x), one of two forms, whichever explains more of Gamma out of fold (covariance of Gamma with the
   out-of-fold prediction; ties go to the simpler): `value_scaled`, tau = a + b m(x), an effect in
   proportion to what the customer is worth anyway (two numbers, hard to overfit: a retention or upsell
   effect usually scales with the customer's value; b < 0 when contacts hurt the best customers), or
   `tree`, a shallow regression of Gamma on x. The out-of-fold calibration slope of Gamma on the centred tau
   (clipped to [0, 1]) says how much of its spread is real; the value used is
   effect + slope * (tau(x) - mean tau): noise shrinks to the average effect.
Actions with too few rows in an arm have no value model (the caller falls back to the catalog prior).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from models.training.surrogate import ipw_weight
from models.training.train import BoostedModel, train_booster

# Money outcomes are noisy and effects small: shallow trees, large leaves, few rounds, no loss in currency units.
VALUE_PARAMS = {"objective": "reg:squarederror", "max_depth": 3, "eta": 0.08, "min_child_weight": 100,
                "lambda": 10.0, "subsample": 0.8, "num_boost_round": 80}
TAU_PARAMS = {**VALUE_PARAMS, "max_depth": 2, "num_boost_round": 60}
N_FOLDS = 2
MIN_ROWS_PER_ARM = 200  # default `training.response_min_contacts`
MIN_STRATUM_ROWS = 30   # rows of one source of an action whose own Gamma variance sets their weight


@dataclass
class ValueModel:
    """One action's value learner: the effect model and its calibration."""

    action_id: str
    horizon_days: int
    tau: BoostedModel  # the shallow tree (kind "tree"), or the baseline model m(x) (kind "value_scaled")
    effect: float
    effect_se: float
    mean_tau: float
    slope: float
    slope_se: float
    n_rows: int
    notes: list[str] = field(default_factory=list)
    kind: str = "tree"
    coef: tuple[float, float] = (0.0, 1.0)  # value_scaled: tau = coef[0] + coef[1] * m(x)

    def predict(self, X: pd.DataFrame, matrix=None) -> tuple[np.ndarray, np.ndarray]:
        """(value uplift, its standard error) per row: effect + slope * (tau - mean tau)."""
        raw = self.tau.predict(matrix if matrix is not None else X)
        if self.kind == "value_scaled":
            raw = self.coef[0] + self.coef[1] * raw
        return self.value_of(raw)

    def value_of(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value uplift, its standard error) from the effect model's raw prediction tau."""
        tau = np.asarray(raw, dtype=float) - self.mean_tau
        value = self.effect + self.slope * tau
        slope_se = min(self.slope_se, 1.0) if np.isfinite(self.slope_se) else 0.0
        se = np.sqrt(self.effect_se ** 2 + (slope_se * tau) ** 2)
        return value, se


def dr_pseudo_outcome(y: np.ndarray, t: np.ndarray, e: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The doubly robust score of the effect per row (see the module docstring)."""
    return (y - baseline) * ipw_weight(t, e)


def precision_weights(rows: pd.DataFrame, column: str = "gamma") -> np.ndarray:
    """Per row the weight of its experiment in its action's averages: 1 / the variance of `column` (Gamma) among the
    rows of its action and `source`, scaled to mean 1 per action; 1 for every row of an action with one source.

    The sources of an action's rows are separate randomised experiments: a company campaign (in the demo worlds a
    quarter of its audience held out), the plan's own contacts against its 5 % holdout (a control row weighs
    1 / 0.05 = 20 in Gamma) and its exploration draws. Each one's mean Gamma is unbiased for the effect among its
    rows; averaged with equal row weights, a noisy source swamps a clean one and more rows give a worse estimate
    (measured, 12-night lifecycle simulation, 20,000 customers, seed 11, last night, inverse propensity without m:
    the upsell's 14,978 campaign rows had se 0.77 per contact, its 9,581 plan rows 2.70; pooled with equal weights
    1.15, by precision 0.74). Weighting each row by its
    source's precision is the inverse-variance combination of the experiments (the weights depend on the design
    and the spread of the outcome, never on the sign of an effect). A source with fewer than MIN_STRATUM_ROWS rows
    (or no spread) takes its action's overall variance."""
    weight = np.ones(len(rows))
    if "source" not in rows.columns or not len(rows):
        return weight
    values = rows[column].to_numpy(float)
    action, source = rows["action_id"].to_numpy(), rows["source"].astype(str).to_numpy()
    for a in np.unique(action):
        own = action == a
        sources = np.unique(source[own])
        if len(sources) < 2:
            continue
        overall = float(np.var(values[own], ddof=1)) if own.sum() > 1 else 0.0
        for s in sources:
            cell = own & (source == s)
            var = float(np.var(values[cell], ddof=1)) if cell.sum() >= MIN_STRATUM_ROWS else overall
            var = var if var > 0 else overall
            weight[cell] = 1.0 / var if var > 0 else 1.0
        weight[own] /= weight[own].mean()
    return weight


def per_contact_divisor(rows: pd.DataFrame) -> np.ndarray:
    """Per row what its Gamma is divided by to measure one contact's effect: for the plan's own rows (source 'plan',
    with `contacts_in_window`, models/training/uplift.plan_contact_doses) of an action and night, the contacts its
    treated rows got in their outcome window minus its holdout rows' (their mean); 1 for every other row.

    The plan's holdout is stable: a customer held out is listed on no night, while a contacted one is listed again on
    later nights within the window (the caps allow one contact a channel a week). The holdout experiment therefore
    measures a stream of contacts against none. As an encouragement design with the holdout as its instrument, the
    effect of one contact is the stream's effect over the difference in contacts (Wald; Angrist, Imbens & Rubin
    1996), when contacts add up. Measured on the 12-night lifecycle simulation (20,000 customers, seed 11, survey
    e-mail for everyone): its contacted customers got 1.77 later contacts within 30 days; the plan's rows measured
    +2.81 a contact (se 0.79), the company's campaigns +0.94 (se 0.68); 2.81 / 2.77 = 1.01. Later contacts of other
    actions count the same: the ratio is then an average over the actions the plan sent."""
    divisor = np.ones(len(rows))
    if "contacts_in_window" not in rows.columns or "source" not in rows.columns:
        return divisor
    plan = (rows["source"] == "plan").to_numpy() & rows["contacts_in_window"].notna().to_numpy()
    if not plan.any():
        return divisor
    dose, treated = rows["contacts_in_window"].to_numpy(float), rows["treated"].to_numpy(float)
    keys = rows["action_id"].astype(str) + "|" + rows["campaign_date"].astype(str)
    for key in np.unique(keys[plan]):
        cell = plan & (keys == key).to_numpy()
        if (treated[cell] == 1).any():
            divisor[cell] = contacts_per_customer(dose[cell], treated[cell])
    return divisor


def contacts_per_customer(dose: np.ndarray, treated: np.ndarray) -> float:
    """The contacts a listed customer got in the outcome window beyond a held-out one (at least 1): the mean dose of
    the treated rows minus the control rows' (0 without control rows), the Wald denominator of one contact's effect."""
    dose, treated = np.asarray(dose, float), np.asarray(treated, float)
    held = dose[treated == 0]
    return dose_difference(float(dose[treated == 1].mean()), float(held.mean()) if len(held) else 0.0)


def dose_difference(treated_mean: float, control_mean: float) -> float:
    """contacts_per_customer from the arms' mean doses (0 for an arm without rows): their difference, at least 1."""
    return max(float(treated_mean) - float(control_mean), 1.0)


def weighted_mean_se(values: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """(weighted mean, its sandwich standard error) of `values`; equal weights give the mean and sd / sqrt(n)
    (ddof 1). Standard error 0 with fewer than two values."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if not n:
        return 0.0, 0.0
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
    total = float(w.sum())
    mean = float(np.dot(w, values) / total)
    if n < 2:
        return mean, 0.0
    return mean, float(np.sqrt(np.sum((w * (values - mean)) ** 2) * n / (n - 1)) / total)


def with_propensity(rows: pd.DataFrame, where: np.ndarray | None = None) -> pd.DataFrame:
    """The rows (those where `where` is True, when given) with `propensity` = the contacted share of their action's
    rows on their date (per source: a company campaign and the plan's own holdout are separate experiments), or the
    row's own known `propensity` where it has one (an exploration draw's); dates lacking an arm dropped. One copy of
    the rows: the shares are counted on their key columns alone."""
    keys = ["action_id", "campaign_date", *(["source"] if "source" in rows.columns else [])]
    at = np.arange(len(rows)) if where is None else np.flatnonzero(where)
    slim = rows[[*keys, "treated", *(["propensity"] if "propensity" in rows.columns else [])]].take(at)
    share = slim.groupby(keys)["treated"].transform("mean")
    known = slim["propensity"] if "propensity" in slim.columns else pd.Series(np.nan, index=slim.index)
    propensity = known.astype(float).fillna(share).to_numpy(float)
    keep = ((share > 0) & (share < 1)).to_numpy()
    out = rows.take(at[keep])
    out["propensity"] = propensity[keep]
    return out


def fold_of(customer_ids: pd.Series, seed: int, n_folds: int = N_FOLDS) -> np.ndarray:
    """A stable fold per customer (every row of a customer in the same fold)."""
    return np.array([zlib.crc32(f"{seed}|{c}".encode()) % n_folds for c in customer_ids.astype(str)], dtype=np.int64)


def fit_baseline_outcome(rows: pd.DataFrame, features: list[str], *, seed: int, n_threads: int,
                         params: Mapping | None = None) -> tuple[np.ndarray, BoostedModel]:
    """(out-of-fold m(x) for `rows`, m fitted on all of them) — the pooled baseline outcome model."""
    fold = fold_of(rows["customer_id"], seed)
    out_of_fold = np.zeros(len(rows))
    for k in range(N_FOLDS):
        if (fold == k).any() and (fold != k).any():
            out_of_fold[fold == k] = _fit(rows[fold != k], features, "value", params, [seed, k, 1],
                                          n_threads).predict(rows[fold == k])
    return out_of_fold, _fit(rows, features, "value", params, [seed, 9, 1], n_threads)


def fit_value_model(rows: pd.DataFrame, features: list[str], action_id: str, horizon_days: int, *,
                    seed: int, n_threads: int, baseline_model: BoostedModel,
                    min_rows: int = MIN_ROWS_PER_ARM) -> tuple[ValueModel | None, np.ndarray]:
    """(the action's effect model, the chosen form's out-of-fold raw prediction for each of `rows`) fitted on its
    settled randomised rows (with `gamma`, `baseline` = the out-of-fold m(x), `treated`, optional `in_audience`);
    (None, NaN) when an arm has fewer than `min_rows` rows. `baseline_model` is m fitted on all training rows (what
    tonight's customers are scored with). The out-of-fold prediction (the row's customer's fold was left out of the
    fit that predicts it) values the learned targeting on rows its model did not see."""
    if min(int(rows["treated"].sum()), int((rows["treated"] == 0).sum())) < min_rows:
        return None, np.full(len(rows), np.nan)
    rows = rows.reset_index(drop=True)
    base_seed = [seed, zlib.crc32(action_id.encode())]
    fold = fold_of(rows["customer_id"], seed)
    gamma, baseline = rows["gamma"].to_numpy(float), rows["baseline"].to_numpy(float)
    oof = {"value_scaled": np.empty(len(rows)), "tree": np.empty(len(rows))}
    for k in range(N_FOLDS):
        fit, out = fold != k, fold == k
        a, b = _least_squares(baseline[fit], gamma[fit])
        oof["value_scaled"][out] = a + b * baseline[out]
        oof["tree"][out] = _fit(rows[fit], features, "gamma", TAU_PARAMS, [*base_seed, k, 7],
                                n_threads).predict(rows[out])
    explained = {kind: float(np.cov(gamma, pred)[0, 1]) if np.std(pred) > 1e-9 else 0.0 for kind, pred in oof.items()}
    kind = "tree" if explained["tree"] > explained["value_scaled"] else "value_scaled"
    weight = rows["weight"].to_numpy(float) if "weight" in rows.columns else None
    slope, slope_se = calibration_slope(gamma, oof[kind], weight)
    if kind == "tree":
        tau, coef = _fit(rows, features, "gamma", TAU_PARAMS, [*base_seed, 9, 7], n_threads), (0.0, 1.0)
        mean_tau = float(np.mean(tau.predict(rows)))
    else:
        tau, coef = baseline_model, _least_squares(baseline, gamma)
        mean_tau = float(np.mean(coef[0] + coef[1] * baseline))
    effect, effect_se, where = audience_effect(rows)
    clipped = float(np.clip(slope, 0.0, 1.0))
    notes = [f"{action_id}: effect {effect:+.4f} per contact (se {effect_se:.4f}, {where}, horizon "
             f"{horizon_days} d); ranking by {kind} (out-of-fold covariance with Gamma: value_scaled "
             f"{explained['value_scaled']:.3g}, tree {explained['tree']:.3g}), slope {slope:.2f} (se {slope_se:.2f}) "
             f"-> {clipped:.2f}"]
    return ValueModel(action_id, horizon_days, tau, effect, effect_se, mean_tau, clipped, slope_se, len(rows),
                      notes, kind, coef), oof[kind]


def _least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of y on x; slope 0 when x has no spread."""
    spread = float(np.var(x))
    if spread <= 1e-12:
        return float(np.mean(y)), 0.0
    b = float(np.mean((x - x.mean()) * (y - y.mean())) / spread)
    return float(y.mean() - b * x.mean()), b


def audience_effect(rows: pd.DataFrame) -> tuple[float, float, str]:
    """(mean Gamma, its standard error, where): among the rows whose customer met the action's rules on the
    contact date when there are enough (the plan only offers it there), else over all rows; rows weighted by their
    `weight` (precision_weights) when they carry one."""
    chosen, where = rows, f"all {len(rows)} rows"
    if "in_audience" in rows.columns:
        audience = rows[rows["in_audience"].astype(bool)]
        if min(int(audience["treated"].sum()), int((audience["treated"] == 0).sum())) >= 30:
            chosen, where = audience, f"{len(audience)} rows meeting the action's rules"
    weight = chosen["weight"].to_numpy(float) if "weight" in chosen.columns else None
    return (*weighted_mean_se(chosen["gamma"].to_numpy(float), weight), where)


def calibration_slope(gamma: np.ndarray, tau: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, float]:
    """(slope, sandwich standard error) of Gamma on the centred predicted effect (rows weighted by `weight`,
    precision_weights): ~1 when the predicted spread is real, ~0 when it is noise; (0, inf) when the prediction has
    no spread."""
    w = np.ones(len(gamma)) if weight is None else np.asarray(weight, dtype=float)
    if not np.std(tau) > 1e-9:
        return 0.0, float("inf")
    centred = tau - np.dot(w, tau) / w.sum()
    spread = float(np.sum(w * centred ** 2))
    slope = float(np.sum(w * centred * (gamma - np.dot(w, gamma) / w.sum())) / spread)
    residual = gamma - np.dot(w, gamma) / w.sum() - slope * centred
    return slope, float(np.sqrt(np.sum((w * centred * residual) ** 2)) / spread)


def _fit(rows: pd.DataFrame, features: list[str], label: str, params: Mapping | None, seed: list[int],
         n_threads: int) -> BoostedModel:
    """A squared-error booster of `label` on `features` (no calibrator)."""
    merged = {**VALUE_PARAMS, **(params or {})}
    rng_seed = int(np.random.default_rng(seed).integers(2**31 - 1))
    booster = train_booster(rows[features], rows[label].to_numpy(float), merged, rng_seed, n_threads)
    return BoostedModel(booster, list(features), None, n_threads)
