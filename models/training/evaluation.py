"""Model evaluation on a held-out set: metrics, curves, rule baselines and PNG plots.

Classifiers: AUC, PR-AUC, Brier, expected calibration error, calibration curve, lift by decile.
CLV: Spearman, top-decile revenue capture, MAE, total percent error. Uplift: Qini coefficient and
uplift@k on randomised history. Every model is reported next to a simple baseline (an RFM rule score
for churn/upsell, past spend scaled to the horizon for CLV), so a model that does not beat the rule
is visible. Plots are drawn with matplotlib's Agg canvas (no pyplot, no global backend change).
"""
from __future__ import annotations

import io
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.scoring.drift import quantile_edges

# Feature columns the baselines read (names follow models/features/customer_features.py).
RECENCY = "days_since_last_purchase"
FREQUENCY = "purchases_365d"
MONETARY = "spend_365d"
PRIMARY_METRIC = {"classifier": "auc", "regressor": "spearman"}
UPLIFT_KS = (0.1, 0.2, 0.3)


# ---- classifiers -------------------------------------------------------------------------------
def classifier_metrics(y: Sequence[int], p: Sequence[float], n_bins: int = 10) -> dict[str, float]:
    """AUC, PR-AUC, Brier, calibration error, base rate and top-decile lift of probabilities `p`."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    both = len(np.unique(y)) == 2
    curve = calibration_curve(y, p, n_bins)
    return {
        "auc": float(roc_auc_score(y, p)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if both else math.nan,
        "brier": float(brier_score_loss(y, p)),
        "ece": float(sum(b["count"] * abs(b["observed_rate"] - b["mean_predicted"]) for b in curve) / len(y)),
        "base_rate": float(y.mean()),
        "lift_top_decile": float(lift_by_decile(y, p)[0]["lift"]),
        "n_eval": float(len(y)),
    }


def ranking_metrics(y: Sequence[int], score: Sequence[float]) -> dict[str, float]:
    """Rank-only metrics (AUC, PR-AUC, top-decile lift) for scores that are not probabilities."""
    y, score = np.asarray(y, dtype=int), np.asarray(score, dtype=float)
    both = len(np.unique(y)) == 2
    return {
        "auc": float(roc_auc_score(y, score)) if both else math.nan,
        "pr_auc": float(average_precision_score(y, score)) if both else math.nan,
        "lift_top_decile": float(lift_by_decile(y, score)[0]["lift"]),
    }


def metrics_beside_baselines(metrics: Mapping[str, float], digits: int = 4) -> dict[str, float]:
    """The metrics rounded to `digits`, each followed by its `baseline_<name>` when there is one: the order the
    model asset page lists them in, so a model is read against its baseline at a glance. Undefined (NaN) stays."""
    shown: dict[str, float] = {}
    for name in [n for n in metrics if not n.startswith("baseline_")] + [n for n in metrics if n.startswith("baseline_")]:
        for key in (name, f"baseline_{name}"):
            if key in metrics and key not in shown:
                shown[key] = round(float(metrics[key]), digits)
    return shown


def calibration_curve(y: Sequence[int], p: Sequence[float], n_bins: int = 10) -> list[dict]:
    """Mean predicted vs observed rate per bin of the predicted probability (quantile bins; ties share a bin)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    bins = np.searchsorted(quantile_edges(p, n_bins), p, side="left")
    return [{"bin": i + 1, "mean_predicted": float(p[bins == b].mean()),
             "observed_rate": float(y[bins == b].mean()), "count": int((bins == b).sum())}
            for i, b in enumerate(np.unique(bins))]


def lift_by_decile(y: Sequence[float], score: Sequence[float], n_groups: int = 10) -> list[dict]:
    """Per decile of the score (1 = highest): outcome rate, lift over the mean and cumulative capture."""
    order = _descending(score)
    y = np.asarray(y, dtype=float)[order]
    total, mean = y.sum(), y.mean() if len(y) else math.nan
    rows, captured = [], 0.0
    for i, idx in enumerate(np.array_split(np.arange(len(y)), min(n_groups, max(len(y), 1)))):
        rate = float(y[idx].mean()) if len(idx) else math.nan
        captured += y[idx].sum()
        rows.append({"decile": i + 1, "count": int(len(idx)), "rate": rate,
                     "lift": rate / mean if mean else math.nan,
                     "cumulative_capture": float(captured / total) if total else math.nan})
    return rows


# ---- CLV -----------------------------------------------------------------------------------------
def regressor_metrics(y: Sequence[float], pred: Sequence[float], top_share: float = 0.1) -> dict[str, float]:
    """Spearman, top-decile revenue capture, MAE and total percent error of CLV predictions."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    total = y.sum()
    top = _descending(pred)[: max(1, int(round(top_share * len(y))))]
    constant = np.ptp(y) == 0 or np.ptp(pred) == 0
    return {
        "spearman": math.nan if constant else float(spearmanr(y, pred).statistic),
        "top_decile_revenue_capture": float(y[top].sum() / total) if total else math.nan,
        "mae": float(np.abs(y - pred).mean()),
        "total_percent_error": float(100.0 * (pred.sum() - total) / total) if total else math.nan,
        "n_eval": float(len(y)),
    }


# ---- uplift --------------------------------------------------------------------------------------
def qini_curve(y: Sequence[int], treated: Sequence[int], score: Sequence[float], n_points: int = 100) -> list[dict]:
    """Qini curve: incremental positives (per treated customer) when targeting the top share by score.

    q(share) = [R_t - R_c * N_t / N_c] / N_t_total over the targeted top share, R = positives, N = rows.
    """
    order = _descending(score)
    y, t = np.asarray(y, dtype=float)[order], np.asarray(treated, dtype=int)[order]
    r_t, r_c = np.cumsum(y * t), np.cumsum(y * (1 - t))
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, r_t - r_c * n_t / np.maximum(n_c, 1), r_t) / max(int(t.sum()), 1)
    points = [{"share": 0.0, "qini": 0.0}]
    for share in np.linspace(0, 1, n_points + 1)[1:]:
        k = max(1, int(math.ceil(share * len(y))))
        points.append({"share": float(share), "qini": float(q[k - 1])})
    return points


def qini_coefficient(curve: list[dict]) -> float:
    """Area between the Qini curve and the random-targeting line (positive = better than random)."""
    share = np.array([p["share"] for p in curve])
    gain = np.array([p["qini"] for p in curve]) - share * curve[-1]["qini"]
    return float(np.sum((gain[1:] + gain[:-1]) / 2 * np.diff(share)))


def uplift_at_k(y: Sequence[int], treated: Sequence[int], score: Sequence[float], k: float) -> float:
    """Treated minus control positive rate among the top share `k` of customers by predicted uplift."""
    top = _descending(score)[: max(1, int(math.ceil(k * len(score))))]
    y, t = np.asarray(y, dtype=float)[top], np.asarray(treated, dtype=int)[top]
    if t.sum() == 0 or (1 - t).sum() == 0:
        return math.nan
    return float(y[t == 1].mean() - y[t == 0].mean())


def uplift_metrics(y: Sequence[int], treated: Sequence[int], score: Sequence[float]) -> dict[str, float]:
    """Qini coefficient and uplift@k (k in UPLIFT_KS) of predicted uplift `score` on randomised data."""
    metrics = {"qini": qini_coefficient(qini_curve(y, treated, score)), "n_eval": float(len(score))}
    for k in UPLIFT_KS:
        metrics[f"uplift_at_{int(k * 100)}"] = uplift_at_k(y, treated, score, k)
    return metrics


# ---- baselines -----------------------------------------------------------------------------------
def rfm_score(X: pd.DataFrame, target: str) -> np.ndarray:
    """RFM rule score in [0, 1]: mean percentile rank of recency, frequency and monetary value.

    For churn, long recency and low frequency/spend score high; for upsell the opposite.
    """
    missing = [c for c in (RECENCY, FREQUENCY, MONETARY) if c not in X.columns]
    if missing:
        raise ValueError(f"RFM baseline needs feature columns {', '.join(missing)}")
    recency = X[RECENCY].astype(float)
    recency = recency.fillna(recency.max() + 1 if recency.notna().any() else 0)
    ranks = [recency.rank(pct=True), 1 - X[FREQUENCY].astype(float).fillna(0).rank(pct=True),
             1 - X[MONETARY].astype(float).fillna(0).rank(pct=True)]
    score = sum(ranks) / 3
    return (score if target == "churn" else 1 - score).to_numpy(dtype=float)


def past_spend_baseline(X: pd.DataFrame, horizon_days: int) -> np.ndarray:
    """CLV baseline: spend in the last 365 days scaled to the horizon."""
    if MONETARY not in X.columns:
        raise ValueError(f"CLV baseline needs feature column {MONETARY}")
    return X[MONETARY].astype(float).fillna(0).clip(lower=0).to_numpy() * horizon_days / 365.0


# ---- plots ---------------------------------------------------------------------------------------
def plot_calibration(curve: list[dict], title: str = "Calibration") -> bytes:
    """Reliability diagram (mean predicted vs observed rate per bin) as PNG bytes."""
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot([b["mean_predicted"] for b in curve], [b["observed_rate"] for b in curve], marker="o", label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", title=title)
    return _png(fig, ax)


def plot_lift(table: list[dict], title: str = "Lift by decile") -> bytes:
    """Bar chart of lift per score decile as PNG bytes."""
    fig, ax = _figure()
    ax.bar([r["decile"] for r in table], [r["lift"] for r in table], color="tab:blue")
    ax.axhline(1.0, linestyle="--", color="grey")
    ax.set(xlabel="decile (1 = highest score)", ylabel="lift", title=title)
    return _png(fig, ax, legend=False)


def plot_qini(curves: dict[str, list[dict]], title: str = "Qini curve") -> bytes:
    """Qini curves (one per label, e.g. per action) with the random line, as PNG bytes."""
    fig, ax = _figure()
    for label, curve in curves.items():
        line, = ax.plot([p["share"] for p in curve], [p["qini"] for p in curve], label=label)
        ax.plot([0, 1], [0, curve[-1]["qini"]], linestyle=":", color=line.get_color())
    ax.set(xlabel="share targeted", ylabel="incremental positives per treated", title=title)
    return _png(fig, ax)


def plot_target_report(report: dict, name: str) -> dict[str, bytes]:
    """PNG files for a churn / upsell / CLV model's report: `<name>_calibration.png`, `<name>_lift.png`."""
    plots = {f"{name}_lift.png": plot_lift(report["lift"], f"{name}: lift by decile")}
    if "calibration_curve" in report:
        plots[f"{name}_calibration.png"] = plot_calibration(report["calibration_curve"], f"{name}: calibration")
    return plots


def _figure():
    fig = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig: Figure, ax, legend: bool = True) -> bytes:
    if legend:
        ax.legend(loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _descending(score: Sequence[float]) -> np.ndarray:
    """Row order by score, highest first; ties keep input order (stable, so results are reproducible)."""
    return np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
