"""Population stability index (PSI): how far a feature's or score's distribution moved from a reference.

PSI = sum over bins of (cur% - ref%) * ln(cur% / ref%), with bins at the reference's quantiles and a
separate bin for missing values. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift, >= 0.25 severe.
The nightly check compares tonight's scores and main features with the last earlier scored as-of date
(`drift_against_history`), whose rows `history_rows` keeps in the warehouse's `score_history`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

MODERATE_PSI = 0.10
SEVERE_PSI = 0.25
_FLOOR = 1e-4  # share given to an empty bin so the log stays finite
SCORE_COLUMNS = ("churn_probability", "upsell_probability", "clv")
DRIFT_FEATURES = ("days_since_last_purchase", "purchases_365d", "spend_365d", "complaints_90d", "tenure_days")


def quantile_edges(reference: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Interior bin edges at the reference's quantiles (duplicates dropped, so ties share a bin)."""
    values = _finite(reference)
    if len(values) == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin (right-closed at the edges), plus a last bin for missing values."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="left"), minlength=len(edges) + 1)
    counts = np.append(counts, missing.sum()).astype(float)
    return counts / max(len(values), 1)


def population_stability_index(reference: Sequence[float], current: Sequence[float], n_bins: int = 10) -> float:
    """PSI of `current` against `reference`, with quantile bins taken from the reference."""
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if len(reference) == 0 or len(current) == 0:
        raise ValueError("population stability index needs non-empty reference and current samples")
    edges = quantile_edges(reference, n_bins)
    ref, cur = bin_shares(reference, edges), bin_shares(current, edges)
    used = (ref > 0) | (cur > 0)
    ref, cur = np.maximum(ref[used], _FLOOR), np.maximum(cur[used], _FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def classify_psi(psi: float, moderate: float = MODERATE_PSI, severe: float = SEVERE_PSI) -> str:
    """Severity label of a PSI value: 'stable', 'moderate' or 'severe'."""
    if psi >= severe:
        return "severe"
    return "moderate" if psi >= moderate else "stable"


def assess_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str], *, n_bins: int = 10,
                 threshold: float = SEVERE_PSI) -> pd.DataFrame:
    """PSI per column with its severity and `drifted` (psi >= threshold), worst first."""
    rows = []
    for column in columns:
        for name, frame in (("reference", reference), ("current", current)):
            if column not in frame.columns:
                raise ValueError(f"drift check: column '{column}' is missing from the {name} sample")
        psi = population_stability_index(_numeric(reference[column]), _numeric(current[column]), n_bins)
        severity = classify_psi(psi, min(MODERATE_PSI, threshold), threshold)
        rows.append({"column": column, "psi": psi, "severity": severity, "drifted": psi >= threshold})
    result = pd.DataFrame(rows, columns=["column", "psi", "severity", "drifted"])
    return result.sort_values(["psi", "column"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _numeric(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def drift_against_history(previous: pd.DataFrame | None, scores: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame | None:
    """PSI of each score and main feature vs `previous` (the last earlier scored as-of date's
    `history_rows`), or None when there is no earlier date (the first scored night)."""
    if previous is None or previous.empty:
        return None
    current = scores.merge(features[["customer_id", *DRIFT_FEATURES]], on="customer_id")
    return assess_drift(previous, current, [*SCORE_COLUMNS, *DRIFT_FEATURES])


def history_rows(scores: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Tonight's scores, as-of date and drift features per customer: the reference of the next drift check."""
    return scores[["customer_id", *SCORE_COLUMNS, "as_of"]].merge(features[["customer_id", *DRIFT_FEATURES]], on="customer_id")
