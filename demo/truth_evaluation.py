"""Model quality against the demo generator's ground truth (never read by the nightly pipeline).

Out-of-time metrics (models/training/train.py) judge a model on noisy realised labels. The generator also
states the quantities the models estimate — each person's true 90-day churn probability, expected
365-day revenue and per-action conversion probability with and without contact — so here the scores
of a night are compared with them directly, next to the same simple rules the training reports:

- churn: Spearman with `true_churn_90d_probability`; AUC for separating people above vs at-or-below
  the median true probability (a noise-free version of "who churns"); AUC against one seeded
  Bernoulli draw of the true probability, with the true probability's own AUC on that draw as the
  ceiling; mean probability and mean absolute error against the true probability (calibration).
  Baseline: the RFM rule (`models.training.evaluation.rfm_score`, the same rule as the training's `baseline_auc`).
- CLV: Spearman, top-decile revenue capture, MAE and total % error against `expected_revenue_365d`.
  Baseline: past 365-day spend (`models.training.evaluation.past_spend_baseline`).
- uplift per action: Spearman between predicted and true uplift (p_treated - p_control), the mean
  true uplift of the model's top decile, and the mean predicted vs true uplift. Baseline: a constant
  uplift, i.e. targeting in random order (expected Spearman 0, expected top-decile uplift = the mean).

Rows: (model, metric, population, n, value, baseline, baseline_value, truth_value). `truth_value` is
the metric with the truth itself as the score: the ceiling of a ranking metric, the target of a level.
Populations: `scored` (every scored customer found in the truth); when features are given, `active`
(purchases_365d >= 1: the churn / upsell training population of models/training/labels.py) for churn and CLV;
when eligible (customer, action) pairs are given (decision_audit rows with `eligible`), `eligible` for
uplift: the customers the decision engine could actually give that action to.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.training.evaluation import (FREQUENCY, lift_by_decile, past_spend_baseline, ranking_metrics, regressor_metrics,
                               rfm_score)

TRUTH_COLUMNS = ["model", "metric", "population", "n", "value", "baseline", "baseline_value", "truth_value"]
CLV_HORIZON_DAYS = 365  # expected_revenue_365d
RFM_BASELINE = "rfm rule"
SPEND_BASELINE = "past spend 365d"
CONSTANT_BASELINE = "constant (random order)"
_REQUIRED = {
    "scores": ("customer_id", "churn_probability", "clv"),
    "responses": ("customer_id", "action_id", "uplift", "source"),
    "customers_truth": ("person_id", "true_churn_90d_probability", "expected_revenue_365d"),
    "action_truth": ("person_id", "action_id", "p_treated", "p_control"),
}


def evaluate_models_against_truth(scores: pd.DataFrame, responses: pd.DataFrame, customers_truth: pd.DataFrame,
                                  action_truth: pd.DataFrame, features: pd.DataFrame | None = None, *,
                                  eligible: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """Churn, CLV and per-action uplift scores of one night vs the generator's truth, next to baselines.

    `scores` is customer_scores, `responses` action_response, the truths are the generator's CSVs and
    `features` (optional) customer_features of the same night, needed for the rule baselines and the
    `active` population; `eligible` (optional) (customer_id, action_id) pairs for the `eligible` uplift
    population. `seed` draws the simulated churn outcomes.
    """
    for name, frame in (("scores", scores), ("responses", responses), ("customers_truth", customers_truth),
                        ("action_truth", action_truth)):
        _require(frame, name, _REQUIRED[name])
    _require_unique(customers_truth, "customers_truth", ["person_id"])
    _require_unique(action_truth, "action_truth", ["person_id", "action_id"])
    _require_unique(responses, "responses", ["customer_id", "action_id"])
    joined = _join_truth(scores, customers_truth, features)
    populations = _populations(joined, features)
    rows = [_row("join", "share_of_scored_in_truth", "scored", len(scores),
                 len(joined) / len(scores) if len(scores) else math.nan, "", math.nan, 1.0)]
    outcome = np.random.default_rng(seed).random(len(joined)) < joined["true_churn_90d_probability"].to_numpy()
    for population, mask in populations.items():
        rows += _churn_rows(joined[mask], outcome[mask.to_numpy()], population, features is not None)
        rows += _clv_rows(joined[mask], population, features is not None)
    rows += _uplift_rows(responses, action_truth, set(joined["customer_id"]), eligible)
    return pd.DataFrame(rows, columns=TRUTH_COLUMNS)


def _join_truth(scores: pd.DataFrame, customers_truth: pd.DataFrame, features: pd.DataFrame | None) -> pd.DataFrame:
    """Scored customers found in the truth (sorted by id), with their features when given."""
    truth = customers_truth[["person_id", "true_churn_90d_probability", "expected_revenue_365d"]]
    joined = scores[["customer_id", "churn_probability", "clv"]].merge(
        truth.rename(columns={"person_id": "customer_id"}), on="customer_id", how="inner", validate="one_to_one")
    if features is not None:
        _require(features, "features", ("customer_id", "days_since_last_purchase", FREQUENCY, "spend_365d"))
        joined = joined.merge(features.drop(columns=[c for c in joined.columns if c != "customer_id"], errors="ignore"),
                              on="customer_id", how="left", validate="one_to_one")
        joined["_rfm"] = rfm_score(joined, "churn")
        joined["_past_spend"] = past_spend_baseline(joined, CLV_HORIZON_DAYS)
    return joined.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def _populations(joined: pd.DataFrame, features: pd.DataFrame | None) -> dict[str, pd.Series]:
    everyone = pd.Series(True, index=joined.index)
    if features is None:
        return {"scored": everyone}
    return {"scored": everyone, "active": joined[FREQUENCY].fillna(0).astype(float) >= 1}


def _churn_rows(frame: pd.DataFrame, outcome: np.ndarray, population: str, with_baseline: bool) -> list[dict]:
    truth, score = frame["true_churn_90d_probability"].to_numpy(float), frame["churn_probability"].to_numpy(float)
    rule = frame["_rfm"].to_numpy(float) if with_baseline else None
    above = _above_median(truth)
    n, baseline = len(frame), RFM_BASELINE if with_baseline else ""

    def ranked(metric: str, of) -> dict:
        return _row("churn", metric, population, n, of(score), baseline,
                    of(rule) if with_baseline else math.nan, of(truth))

    mean_truth = float(truth.mean()) if n else math.nan
    return [
        ranked("spearman_true_probability", lambda s: _spearman(s, truth)),
        ranked("auc_true_probability_above_median", lambda s: ranking_metrics(above, s)["auc"] if n else math.nan),
        ranked("auc_simulated_outcome", lambda s: ranking_metrics(outcome.astype(int), s)["auc"] if n else math.nan),
        _row("churn", "mean_probability", population, n, float(score.mean()) if n else math.nan, "", math.nan,
             mean_truth),
        _row("churn", "mae_true_probability", population, n, _mae(score, truth), "constant = true mean",
             _mae(np.full(n, mean_truth), truth), 0.0),
    ]


def _clv_rows(frame: pd.DataFrame, population: str, with_baseline: bool) -> list[dict]:
    truth = frame["expected_revenue_365d"].to_numpy(float)
    if not len(frame):
        return []
    model, ceiling = regressor_metrics(truth, frame["clv"].to_numpy(float)), regressor_metrics(truth, truth)
    rule = regressor_metrics(truth, frame["_past_spend"].to_numpy(float)) if with_baseline else {}
    return [_row("clv", metric, population, len(frame), model[metric], SPEND_BASELINE if with_baseline else "",
                 rule.get(metric, math.nan), ceiling[metric])
            for metric in ("spearman", "top_decile_revenue_capture", "mae", "total_percent_error")]


def _uplift_rows(responses: pd.DataFrame, action_truth: pd.DataFrame, customer_ids: set,
                 eligible: pd.DataFrame | None) -> list[dict]:
    """Per action (and population): predicted vs true uplift over the scored customers found in the truth."""
    truth = action_truth.assign(true_uplift=action_truth["p_treated"] - action_truth["p_control"])
    truth = truth.rename(columns={"person_id": "customer_id"})[["customer_id", "action_id", "true_uplift"]]
    merged = responses[responses["customer_id"].isin(customer_ids)].merge(
        truth, on=["customer_id", "action_id"], how="inner", validate="one_to_one")
    merged = merged.sort_values(["action_id", "customer_id"], kind="mergesort")
    populations = {"scored": merged}
    if eligible is not None:
        _require(eligible, "eligible", ("customer_id", "action_id"))
        pairs = eligible[["customer_id", "action_id"]].drop_duplicates()
        populations["eligible"] = merged.merge(pairs, on=["customer_id", "action_id"], how="inner")
    rows = []
    for action_id, part in merged.groupby("action_id"):
        sources = sorted(part["source"].astype(str).unique())
        model = f"response/{action_id}" + ("" if sources == ["model"] else f" ({'/'.join(sources)})")
        for population, frame in populations.items():
            rows += _uplift_metrics(frame[frame["action_id"] == action_id], model, population)
    return rows


def _uplift_metrics(part: pd.DataFrame, model: str, population: str) -> list[dict]:
    predicted, true, n = part["uplift"].to_numpy(float), part["true_uplift"].to_numpy(float), len(part)
    mean_true = float(true.mean()) if n else math.nan
    return [
        _row(model, "spearman_true_uplift", population, n, _spearman(predicted, true), CONSTANT_BASELINE, 0.0,
             _spearman(true, true)),
        _row(model, "true_uplift_top_decile", population, n, _top_decile_mean(true, predicted), CONSTANT_BASELINE,
             mean_true, _top_decile_mean(true, true)),
        _row(model, "mean_uplift", population, n, float(predicted.mean()) if n else math.nan, "", math.nan,
             mean_true),
    ]


def _above_median(truth: np.ndarray) -> np.ndarray:
    """1 where the true probability is above its median; at-or-above when many ties leave nobody above it."""
    if not len(truth):
        return truth.astype(int)
    median = np.median(truth)
    above = truth > median
    return (above if above.any() else truth >= median).astype(int)


def _top_decile_mean(values: np.ndarray, score: np.ndarray) -> float:
    """Mean of `values` over the top decile by `score`; NaN when the score is constant (it ranks nobody)."""
    if not len(values) or np.ptp(score) == 0:
        return math.nan
    return float(lift_by_decile(values, score)[0]["rate"])


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean()) if len(a) else math.nan


def _row(model: str, metric: str, population: str, n: int, value: float, baseline: str, baseline_value: float,
         truth_value: float) -> dict:
    return {"model": model, "metric": metric, "population": population, "n": int(n), "value": float(value),
            "baseline": baseline, "baseline_value": float(baseline_value), "truth_value": float(truth_value)}


def _require(frame: pd.DataFrame, name: str, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)} needed to evaluate against the truth")


def _require_unique(frame: pd.DataFrame, name: str, keys: list[str]) -> None:
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        first = frame.loc[duplicated, keys].iloc[0].tolist()
        raise ValueError(f"{name} has more than one row for {', '.join(keys)} = {', '.join(map(str, first))}")
