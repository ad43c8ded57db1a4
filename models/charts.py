"""Charts people would rather look at than read: score distributions, actions by segment (PNG bytes)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.training.evaluation import _figure, _png


def plot_score_distributions(scores: pd.DataFrame) -> bytes:
    """One histogram per score column, each scaled to its own range, on shared axes."""
    fig, ax = _figure()
    for column in scores.columns:
        values = scores[column].to_numpy(dtype=float)
        top = np.nanquantile(values, 0.99) if len(values) else 1.0
        scaled = np.clip(values / top, 0, 1) if top > 0 else values
        ax.hist(scaled, bins=30, histtype="step", label=f"{column} (÷ p99 = {top:.3g})")
    ax.set_xlabel("score relative to its 99th percentile")
    ax.set_ylabel("customers")
    return _png(fig, ax)


def plot_actions_by_segment(counts: pd.DataFrame) -> bytes:
    """Stacked bars: chosen actions (columns) per segment (index)."""
    fig, ax = _figure()
    bottom = np.zeros(len(counts))
    for column in counts.columns:
        ax.bar(counts.index.astype(str), counts[column].to_numpy(), bottom=bottom, label=str(column))
        bottom += counts[column].to_numpy()
    ax.set_ylabel("customers")
    ax.tick_params(axis="x", rotation=30)
    return _png(fig, ax)


def plot_realised_lift(lift: pd.DataFrame) -> bytes:
    """Net lift per contact by period with its interval: overall (thick) and per action (thin), against zero."""
    fig, ax = _figure()
    periods = sorted(lift["period"].unique())
    position = {p: i for i, p in enumerate(periods)}
    actions = sorted(lift["action_id"].unique(), key=lambda a: (a != "(all)", a))
    for k, action in enumerate(actions):
        rows = lift[lift["action_id"] == action]
        x = np.array([position[p] for p in rows["period"]]) + (k - (len(actions) - 1) / 2) * 0.08
        cost = rows["contact_cost_per_contact"].to_numpy(float)
        y = rows["net_lift_per_contact"].to_numpy(float)
        errors = np.vstack([y - (rows["lift_low"].to_numpy(float) - cost), (rows["lift_high"].to_numpy(float) - cost) - y])
        ax.errorbar(x, y, yerr=np.abs(errors), fmt="o-" if action == "(all)" else ".", capsize=3,
                    linewidth=2.5 if action == "(all)" else 1, label=str(action))
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(periods)), periods, rotation=30)
    ax.set_ylabel("net value per contact vs holdout (95 % interval)")
    return _png(fig, ax)


def plot_series(series: pd.DataFrame, xlabel: str, ylabel: str) -> bytes:
    """One line with markers per column over the index (e.g. a value per night), a zero line for reference."""
    fig, ax = _figure()
    x = np.arange(len(series))
    for column in series.columns:
        ax.plot(x, series[column].to_numpy(dtype=float), marker="o", label=str(column))
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xticks(x, [str(v) for v in series.index], rotation=45, ha="right")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _png(fig, ax)
