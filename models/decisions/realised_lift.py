"""Realised lift: what the plan's past contacts earned, measured against the universal holdout, with no truth file.

The holdout is a hash of the customer id, so among the customers a night's plan chose action a for, who was held out
is random: the contacted customers (decision_log, not held out) and the holdout's would-be-treated customers
(`withheld_action_id` = a) are a randomised experiment. For every past night whose outcome window (the action's
`outcome_horizon_days`) has closed, each row's outcome is its net margin over that window, read from purchases
(models/training/outcomes.py). Per period (night or ISO week) and action:

    lift per customer = mean net margin of the contacted - mean of the would-be-contacted held out,
    lift per contact = lift per customer / contacts per customer, 95 % Welch interval (linearised),
    net lift per contact = lift per contact - the channel's contact cost, total = net lift x customers contacted.

A holdout customer is never listed, while a contacted one is listed again on later nights within the window (the caps
allow one contact a channel a week), so the lift per customer is that of a stream of contacts against none. Contacts
per customer is the plan's listed contacts the contacted customers got in the window beyond the holdout's (decision_log,
models/training/uplift.plan_contact_doses; 1 without a decision log), and the lift per contact its Wald ratio (the
holdout is the instrument: Angrist, Imbens & Rubin 1996; the same divisor as the response model's,
models/training/value_uplift.contacts_per_customer), so one contact is valued once, at the cost of one contact.

"Overall" weighs each action's net lift by its contacted customers (a stratified estimate: never a raw
comparison across actions). Contacts are compared as listed (intention to treat): a bounced e-mail stays in its
arm, because the holdout's would-be-bounced customers cannot be told apart; the delivered share (feedback) is
shown next to it. A cell whose campaign and channel a tool reports on with no contact delivered was not executed
and is left out. Exploration draws are left out (no control group).

Each past night's plan is also valued as a whole (`plan_value_estimates`): inverse propensity and doubly robust
(a cross-fitted baseline of the customer's own net margin over the same length of time before the night), with
the propensity the logged contacted share of the night's targeted customers, next to what the plan expected.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import norm

from models.training.outcomes import contact_values
from models.training.uplift import DOSE, plan_contact_doses
from models.training.value_uplift import contacts_per_customer, dr_pseudo_outcome, fold_of, with_propensity

ALL_ACTIONS = "(all)"
LIFT_COLUMNS = ["period", "action_id", "customers_contacted", "customers_holdout", "delivered_share",
                "mean_value_contacted", "mean_value_holdout", "lift_per_customer", "contacts_per_customer",
                "lift_per_contact", "lift_low", "lift_high",
                "contact_cost_per_contact", "net_lift_per_contact", "net_lift_total", "enough_customers"]
PLAN_VALUE_COLUMNS = ["night", "customers_targeted", "customers_contacted", "expected_value", "ipw_value",
                      "ipw_low", "ipw_high", "dr_value", "dr_low", "dr_high"]


@dataclass(frozen=True)
class LiftSettings:
    """How realised lift is cut and judged (`feedback` and `decisions.margin_rate` of the run config)."""

    period: str = "night"          # night | week (ISO week)
    confidence: float = 0.95
    min_customers_per_arm: int = 30
    kpi_window_days: int = 30
    lookback_days: int = 180       # nights older than this are no longer measured (each night measures them all again)
    margin_rate: float = 0.3
    seed: int = 0


def lift_settings(config: Mapping) -> LiftSettings:
    """The settings from a loaded (already checked) run config."""
    section = config["feedback"]
    return LiftSettings(period=str(section["lift_period"]), confidence=float(section["lift_confidence"]),
                        min_customers_per_arm=int(section["lift_min_customers_per_arm"]),
                        kpi_window_days=int(section["kpi_window_days"]), lookback_days=int(section["lift_lookback_days"]),
                        margin_rate=float(config["decisions"]["margin_rate"]), seed=int(config["seed"]))


def compare_means(treated: np.ndarray, control: np.ndarray, confidence: float) -> dict[str, float]:
    """Means of two independent samples and their difference with a normal (Welch) interval at `confidence`;
    NaN where a sample is too small to have a spread."""
    z = float(norm.ppf(0.5 + confidence / 2))
    treated, control = np.asarray(treated, float), np.asarray(control, float)
    mean_t = float(treated.mean()) if len(treated) else np.nan
    mean_c = float(control.mean()) if len(control) else np.nan
    var_t = float(treated.var(ddof=1)) / len(treated) if len(treated) > 1 else np.nan
    var_c = float(control.var(ddof=1)) / len(control) if len(control) > 1 else np.nan
    se, se_t, se_c = np.sqrt(var_t + var_c), np.sqrt(var_t), np.sqrt(var_c)
    diff = mean_t - mean_c
    return {"treated": mean_t, "treated_low": mean_t - z * se_t, "treated_high": mean_t + z * se_t,
            "holdout": mean_c, "holdout_low": mean_c - z * se_c, "holdout_high": mean_c + z * se_c,
            "difference": diff, "difference_low": diff - z * se, "difference_high": diff + z * se, "se": se}


def settle_plan_arms(con: duckdb.DuckDBPyConnection, arms: pd.DataFrame, as_of: dt.date,
                     horizons: Mapping[str, int], margin_rate: float) -> pd.DataFrame:
    """The plan's arms (night, customer_id, action_id, treated, ...) whose outcome window closed before `as_of`,
    with `value` (net margin over the action's horizon after the night) and `value_before` (the same length of
    time before it: the doubly robust baseline's input)."""
    horizon = arms["action_id"].map(dict(horizons)).astype("Int64")
    arms = arms.assign(horizon_days=horizon)[horizon.notna().to_numpy()]
    closed = pd.to_datetime(arms["night"]) + pd.to_timedelta(arms["horizon_days"].astype(int), unit="D")
    arms = arms[(closed <= pd.Timestamp(as_of)).to_numpy()].reset_index(drop=True)
    if arms.empty:
        return arms.assign(value=pd.Series(dtype=float), value_before=pd.Series(dtype=float))
    after = arms.assign(campaign_date=arms["night"])
    before = arms.assign(campaign_date=pd.to_datetime(arms["night"]) - pd.to_timedelta(arms["horizon_days"].astype(int), unit="D"))
    return arms.assign(value=contact_values(con, after, as_of, margin_rate).to_numpy(),
                       value_before=contact_values(con, before, as_of, margin_rate).to_numpy())


def with_contact_doses(con: duckdb.DuckDBPyConnection, settled: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The settled arms with `contacts_in_window`: the contacts the plan listed for the customer within the row's
    outcome window (its own that night for the contacted, every later night's; decision_log)."""
    if settled.empty:
        return settled.assign(**{DOSE: pd.Series(dtype=float)})
    keys = settled[["customer_id", "treated", "horizon_days"]].assign(campaign_date=settled["night"], source="plan")
    return settled.assign(**{DOSE: plan_contact_doses(con, keys, as_of)})


def period_of(nights: pd.Series, period: str) -> pd.Series:
    """The night itself (YYYY-MM-DD) or its ISO week (YYYY-Www)."""
    days = pd.to_datetime(nights)
    if period == "week":
        iso = days.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    return days.dt.strftime("%Y-%m-%d")


def realised_lift(rows: pd.DataFrame, costs: Mapping[tuple[str, str], float], settings: LiftSettings) -> pd.DataFrame:
    """Per period and action, and overall per period: contacted vs held-out net value (module docstring).

    `rows`: settled arms (settle_plan_arms) with `channel` (the contacted or withheld channel) and `delivery`
    (models/decisions/feedback.py; NaN for the holdout); `costs`: (action, channel) -> cost per contact."""
    if rows.empty:
        return pd.DataFrame(columns=LIFT_COLUMNS)
    rows = rows.assign(period=period_of(rows["night"], settings.period).to_numpy())
    rows = rows[~_not_executed(rows)]
    cells = []
    z = float(norm.ppf(0.5 + settings.confidence / 2))
    for (period, action), cell in rows.groupby(["period", "action_id"], sort=True):
        treated = cell["treated"].to_numpy(float)
        dose = cell[DOSE].fillna(cell["treated"]).to_numpy(float) if DOSE in cell.columns else treated
        contacted, held = cell[treated == 1], cell[treated == 0]
        stats = compare_means(contacted["value"], held["value"], settings.confidence)
        per_customer = contacts_per_customer(dose, treated) if len(contacted) else 1.0
        lift = stats["difference"] / per_customer
        # the Wald ratio's standard error, linearised: that of the difference in means of value - lift x dose
        residual = cell["value"].to_numpy(float) - lift * dose
        se = compare_means(residual[treated == 1], residual[treated == 0], settings.confidence)["se"] / per_customer
        cost = float(np.mean([costs.get((action, ch), 0.0) for ch in contacted["channel"]])) if len(contacted) else 0.0
        delivered = contacted["delivery"].eq("delivered").mean() if len(contacted) else np.nan
        cells.append({"period": period, "action_id": action, "customers_contacted": len(contacted),
                      "customers_holdout": len(held), "delivered_share": delivered,
                      "mean_value_contacted": stats["treated"], "mean_value_holdout": stats["holdout"],
                      "lift_per_customer": stats["difference"], "contacts_per_customer": per_customer,
                      "lift_per_contact": lift, "lift_low": lift - z * se, "lift_high": lift + z * se,
                      "contact_cost_per_contact": cost, "net_lift_per_contact": lift - cost,
                      "net_lift_total": (lift - cost) * len(contacted),
                      "enough_customers": min(len(contacted), len(held)) >= settings.min_customers_per_arm, "_se": se})
    by_action = pd.DataFrame(cells)
    overall = [_overall(period, group, settings.confidence) for period, group in by_action.groupby("period", sort=True)]
    return pd.concat([by_action, pd.DataFrame(overall)], ignore_index=True)[LIFT_COLUMNS]


def _not_executed(rows: pd.DataFrame) -> pd.Series:
    """Rows of (night, action, channel) cells a tool reports on with nobody delivered: the list was not sent."""
    contacted = rows["treated"] == 1
    reported = rows["reported"].fillna(False).astype(bool) & contacted
    delivered = rows["delivery"].eq("delivered") & contacted
    keys = [rows["night"], rows["action_id"]]
    cell_reported = reported.groupby(keys).transform("any")
    cell_delivered = delivered.groupby(keys).transform("any")
    return (cell_reported & ~cell_delivered).astype(bool)


def _overall(period: str, cells: pd.DataFrame, confidence: float) -> dict:
    """The period's actions combined, each weighed by its contacted customers (a stratified estimate)."""
    z = float(norm.ppf(0.5 + confidence / 2))
    cells = cells[cells["customers_contacted"] > 0]
    weight = cells["customers_contacted"].to_numpy(float)
    total = weight.sum()
    lift = float(np.sum(weight * cells["lift_per_contact"]) / total) if total else np.nan
    se = float(np.sqrt(np.nansum((weight * cells["_se"]) ** 2)) / total) if total else np.nan
    cost = float(np.sum(weight * cells["contact_cost_per_contact"]) / total) if total else 0.0
    delivered = float(np.sum(weight * cells["delivered_share"].fillna(0)) / total) if total else np.nan
    return {"period": period, "action_id": ALL_ACTIONS, "customers_contacted": int(total),
            "customers_holdout": int(cells["customers_holdout"].sum()), "delivered_share": delivered,
            "mean_value_contacted": float(np.sum(weight * cells["mean_value_contacted"]) / total) if total else np.nan,
            "mean_value_holdout": np.nan,
            "lift_per_customer": float(np.sum(weight * cells["lift_per_customer"]) / total) if total else np.nan,
            "contacts_per_customer": float(np.sum(weight * cells["contacts_per_customer"]) / total) if total else np.nan,
            "lift_per_contact": lift, "lift_low": lift - z * se,
            "lift_high": lift + z * se, "contact_cost_per_contact": cost, "net_lift_per_contact": lift - cost,
            "net_lift_total": float(cells["net_lift_total"].sum()), "enough_customers": bool(cells["enough_customers"].all())}


def plan_value_estimates(rows: pd.DataFrame, costs: Mapping[tuple[str, str], float],
                         settings: LiftSettings) -> pd.DataFrame:
    """Per past night: the plan's value over its targeted customers against contacting none of them, after
    contact costs — inverse propensity and doubly robust, with intervals — next to what the plan expected.

    `rows`: settled arms with `expected_value` (the chosen option's value for the contacted, the withheld
    option's for the holdout). Propensity: the logged contacted share of the night's targeted customers per
    action (with_propensity)."""
    if rows.empty:
        return pd.DataFrame(columns=PLAN_VALUE_COLUMNS)
    z = float(norm.ppf(0.5 + settings.confidence / 2))
    rows = with_propensity(rows.assign(campaign_date=rows["night"])).reset_index(drop=True)
    out = []
    for night, night_rows in rows.groupby("night", sort=True):
        y, t = night_rows["value"].to_numpy(float), night_rows["treated"].to_numpy(float)
        e = night_rows["propensity"].to_numpy(float)
        cost = np.array([costs.get((a, c), 0.0) for a, c in zip(night_rows["action_id"], night_rows["channel"])])
        n = len(night_rows)
        ipw = dr_pseudo_outcome(y, t, e, np.zeros(n)) - cost
        dr = dr_pseudo_outcome(y, t, e, _cross_fitted_baseline(night_rows, settings.seed)) - cost
        out.append({"night": pd.Timestamp(night).date(), "customers_targeted": n, "customers_contacted": int(t.sum()),
                    "expected_value": float(night_rows["expected_value"].sum()),
                    **_total_with_interval("ipw", ipw, z), **_total_with_interval("dr", dr, z)})
    return pd.DataFrame(out)[PLAN_VALUE_COLUMNS]


def _total_with_interval(name: str, scores: np.ndarray, z: float) -> dict[str, float]:
    """n x mean score and its interval (the estimated total over the n targeted customers)."""
    n = len(scores)
    total = float(scores.sum())
    half = z * float(scores.std(ddof=1)) * np.sqrt(n) if n > 1 else np.nan
    return {f"{name}_value": total, f"{name}_low": total - half, f"{name}_high": total + half}


def _cross_fitted_baseline(rows: pd.DataFrame, seed: int) -> np.ndarray:
    """m(x): a straight line of the outcome on the customer's own net margin before the night, per action,
    fitted on the other fold of customers (both arms pooled: the baseline does not depend on the arm)."""
    fold = fold_of(rows["customer_id"], seed)
    x, y = rows["value_before"].to_numpy(float), rows["value"].to_numpy(float)
    baseline = np.zeros(len(rows))
    for action in rows["action_id"].unique():
        in_action = (rows["action_id"] == action).to_numpy()
        for k in np.unique(fold):
            fit, out = in_action & (fold != k), in_action & (fold == k)
            if fit.sum() >= 2 and np.var(x[fit]) > 0:
                slope, intercept = np.polyfit(x[fit], y[fit], 1)
                baseline[out] = intercept + slope * x[out]
            elif fit.any():
                baseline[out] = y[fit].mean()
    return baseline
