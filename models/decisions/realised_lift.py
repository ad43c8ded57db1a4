"""Realised lift: what the plan's past contacts earned, measured against the universal holdout, with no truth file.

The holdout is a hash of the customer id, so among the customers a night's plan chose action a for, who was held out
is random: the contacted customers (decision_log, not held out) and the holdout's would-be-treated customers
(`withheld_action_id` = a) are a randomised experiment. For every past night whose outcome window (the action's
`outcome_horizon_days`) has closed, each row's outcome is its net margin over that window, read from purchases
(models/training/outcomes.py). Per period (night or ISO week) and action:

    lift per customer = mean net margin of the contacted - mean of the would-be-contacted held out,
    lift per contact = lift per customer / contacts per customer, 95 % interval (linearised; compare_sums),
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

Every figure is a sum over rows, so each (night, action) is kept as its sums (night_cells, table realised_lift_cells)
and a period is the sum of its nights: a night is measured until its window closed `remeasure_days` ago and then
read back (measured_cells), so a night's work does not grow with the decision log.

Each past night's plan is also valued as a whole (`plan_value_estimates`): inverse propensity and doubly robust
(a cross-fitted baseline of the customer's own net margin over the same length of time before the night), with
the propensity the logged contacted share of the night's targeted customers, next to what the plan expected.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Mapping

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import norm

from models import warehouse
from models.decisions.feedback import FeedbackSettings
from models.training.outcomes import contact_values
from models.training.uplift import DOSE, plan_contact_doses
from models.training.value_uplift import dose_difference, dr_pseudo_outcome, fold_of, with_propensity

ALL_ACTIONS = "(all)"
LIFT_COLUMNS = ["period", "action_id", "customers_contacted", "customers_holdout", "delivered_share",
                "mean_value_contacted", "mean_value_holdout", "lift_per_customer", "contacts_per_customer",
                "lift_per_contact", "lift_low", "lift_high",
                "contact_cost_per_contact", "net_lift_per_contact", "net_lift_total", "enough_customers"]
PLAN_SUMS = ["plan_rows", "plan_contacted", "plan_expected", "ipw_sum", "ipw_sumsq", "dr_sum", "dr_sumsq"]
SUM_COLUMNS = [*(f"{stat}{arm}" for arm in (1, 0) for stat in ("n", "sum_value", "sumsq_value", "sum_dose",
                                                                "sumsq_dose", "sum_value_dose")),
               "sum_cost1", "n_delivered1", *PLAN_SUMS]
CELL_COLUMNS = ["night", "action_id", "executed", *SUM_COLUMNS]  # per (night, action): night_cells
PLAN_VALUE_COLUMNS = ["night", "customers_targeted", "customers_contacted", "expected_value", "ipw_value",
                      "ipw_low", "ipw_high", "dr_value", "dr_low", "dr_high"]


@dataclass(frozen=True)
class LiftSettings:
    """How realised lift is cut and judged (`feedback` and `decisions.margin_rate` of the run config)."""

    period: str = "night"          # night | week (ISO week)
    confidence: float = 0.95
    min_customers_per_arm: int = 30
    kpi_window_days: int = 30
    lookback_days: int = 180       # nights older than this are no longer shown
    remeasure_days: int = 7        # a night's cells are measured again each night until their window closed this long ago
    margin_rate: float = 0.3
    seed: int = 0


def lift_settings(config: Mapping) -> LiftSettings:
    """The settings from a loaded (already checked) run config."""
    section = config["feedback"]
    return LiftSettings(period=str(section["lift_period"]), confidence=float(section["lift_confidence"]),
                        min_customers_per_arm=int(section["lift_min_customers_per_arm"]),
                        kpi_window_days=int(section["kpi_window_days"]), lookback_days=int(section["lift_lookback_days"]),
                        remeasure_days=int(section["lift_remeasure_days"]),
                        margin_rate=float(config["decisions"]["margin_rate"]), seed=int(config["seed"]))


def compare_means(treated: np.ndarray, control: np.ndarray, confidence: float) -> dict[str, float]:
    """Means of two independent samples and their difference with a normal interval at `confidence` (compare_sums:
    the smaller sample's spread is at least the larger one's); NaN where a sample is too small to have a spread."""
    treated, control = np.asarray(treated, float), np.asarray(control, float)
    return compare_sums(*_sums(treated), *_sums(control), confidence)


def _sums(values: np.ndarray) -> tuple[float, float, float]:
    return float(len(values)), float(values.sum()), float(np.dot(values, values))


INTERVAL_RULE = "smaller sample's spread at least the larger's"  # compare_sums; kept intervals carry it


def compare_sums(n_t: float, sum_t: float, squares_t: float, n_c: float, sum_c: float, squares_c: float,
                 confidence: float) -> dict[str, float]:
    """compare_means from each sample's count, sum and sum of squares (what a night's cells keep: night_cells).

    Each mean's variance is its sample's per-row variance / n (Welch), except that the smaller sample's per-row
    variance is taken as at least the larger one's. The two samples are random parts of the same customers (the
    holdout is a hash of the id), and a contact changes few of their outcomes, so the larger sample measures the
    spread they share better. Money is heavy-tailed: a holdout of a few dozen customers mostly misses the rare large
    orders, so its own variance comes out low, and low together with its mean. Measured on zero-inflated lognormal
    outcomes (tests/models/decisions/test_realised_lift.py), the 95 % Welch interval covers the true difference in
    87 % of draws with 1,000 contacted and 50 held out, and this one in over 95 %. An interval from a holdout with no
    purchase or no event at all is no longer zero wide."""
    z = float(norm.ppf(0.5 + confidence / 2))
    (mean_t, row_var_t), (mean_c, row_var_c) = _arm_moments(n_t, sum_t, squares_t), _arm_moments(n_c, sum_c, squares_c)
    if n_c < n_t:
        row_var_c = float(np.maximum(row_var_c, row_var_t))
    elif n_t < n_c:
        row_var_t = float(np.maximum(row_var_t, row_var_c))
    var_t, var_c = row_var_t / n_t if n_t else np.nan, row_var_c / n_c if n_c else np.nan
    se, se_t, se_c = np.sqrt(var_t + var_c), np.sqrt(var_t), np.sqrt(var_c)
    diff = mean_t - mean_c
    return {"treated": mean_t, "treated_low": mean_t - z * se_t, "treated_high": mean_t + z * se_t,
            "holdout": mean_c, "holdout_low": mean_c - z * se_c, "holdout_high": mean_c + z * se_c,
            "difference": diff, "difference_low": diff - z * se, "difference_high": diff + z * se, "se": se}


def _arm_moments(n: float, total: float, squares: float) -> tuple[float, float]:
    """(mean, per-row variance) of a sample from its count, sum and sum of squares; NaN for an empty sample's mean
    and for the variance of fewer than two values."""
    mean = total / n if n else np.nan
    variance = max(squares - total * total / n, 0.0) / (n - 1) if n > 1 else np.nan
    return float(mean), float(variance)


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
    return lift_from_cells(night_cells(rows, costs, settings.seed), settings)


def night_cells(rows: pd.DataFrame, costs: Mapping[tuple[str, str], float], seed: int) -> pd.DataFrame:
    """Per (night, action) of settled arms the sums both measures are made of (CELL_COLUMNS), so a night is measured
    once and any period is its nights' sums (lift_from_cells, plan_value_from_cells):
    - per arm (1 contacted, 0 held out): rows, and the sums of value, value^2, dose, dose^2 and value x dose (dose: the
      row's contacts in its window, models/training/uplift.plan_contact_doses; its own arm without a decision log);
      the contacted rows' contact costs and how many were delivered; `executed`: False when a tool reports on the
      cell's list and delivered none of it (_not_executed);
    - the plan value's rows (with_propensity keeps cells with both arms), their contacted, expected value, and the
      sums and sums of squares of the inverse-propensity and doubly robust scores after contact costs."""
    if rows.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    rows = rows.reset_index(drop=True)
    treated = rows["treated"].to_numpy(float)
    value = rows["value"].to_numpy(float)
    dose = rows[DOSE].fillna(rows["treated"]).to_numpy(float) if DOSE in rows.columns else treated
    cost = np.array([costs.get((a, c), 0.0) for a, c in zip(rows["action_id"], rows["channel"])])
    parts = {"night": rows["night"].to_numpy(), "action_id": rows["action_id"].to_numpy(),
             "not_executed": _not_executed(rows).to_numpy(bool)}
    for arm in (1, 0):
        on = (treated == arm).astype(float)
        parts.update({f"n{arm}": on, f"sum_value{arm}": on * value, f"sumsq_value{arm}": on * value ** 2,
                      f"sum_dose{arm}": on * dose, f"sumsq_dose{arm}": on * dose ** 2,
                      f"sum_value_dose{arm}": on * value * dose})
    parts["sum_cost1"] = treated * cost
    parts["n_delivered1"] = treated * rows["delivery"].eq("delivered").to_numpy(float)
    for column in PLAN_SUMS:
        parts[column] = np.zeros(len(rows))
    kept = with_propensity(rows.assign(campaign_date=rows["night"]))
    at = kept.index.to_numpy()
    if len(kept):
        y, t, e = (kept[c].to_numpy(float) for c in ("value", "treated", "propensity"))
        baseline = np.zeros(len(kept))
        for night in pd.unique(kept["night"]):  # m(x) per night (_cross_fitted_baseline)
            own = (kept["night"] == night).to_numpy()
            baseline[own] = _cross_fitted_baseline(kept[own], seed)
        ipw = dr_pseudo_outcome(y, t, e, np.zeros(len(kept))) - cost[at]
        dr = dr_pseudo_outcome(y, t, e, baseline) - cost[at]
        for column, values in (("plan_rows", 1.0), ("plan_contacted", t), ("plan_expected", kept["expected_value"]
                               .to_numpy(float)), ("ipw_sum", ipw), ("ipw_sumsq", ipw ** 2), ("dr_sum", dr),
                               ("dr_sumsq", dr ** 2)):
            parts[column][at] = values
    frame = pd.DataFrame(parts)
    sums = frame.groupby(["night", "action_id"], sort=True).sum()
    sums["executed"] = ~sums.pop("not_executed").astype(bool)
    return sums.reset_index()[CELL_COLUMNS]


def lift_from_cells(cells: pd.DataFrame, settings: LiftSettings) -> pd.DataFrame:
    """realised_lift from night_cells: per period (settings.period) and action the sums of its executed nights,
    then the difference in means, the Wald ratio per contact and its linearised interval (module docstring)."""
    cells = cells[cells["executed"].astype(bool) & (cells["n1"] + cells["n0"] > 0)] if len(cells) else cells
    if cells.empty:
        return pd.DataFrame(columns=LIFT_COLUMNS)
    cells = cells.assign(period=period_of(cells["night"], settings.period).to_numpy())
    sums = cells.groupby(["period", "action_id"], sort=True)[SUM_COLUMNS].sum()
    z = float(norm.ppf(0.5 + settings.confidence / 2))
    out = []
    for (period, action), s in sums.iterrows():
        n1, n0 = float(s["n1"]), float(s["n0"])
        stats = compare_sums(n1, s["sum_value1"], s["sumsq_value1"], n0, s["sum_value0"], s["sumsq_value0"],
                             settings.confidence)
        per_customer = dose_difference(s["sum_dose1"] / n1, s["sum_dose0"] / n0 if n0 else 0.0) if n1 else 1.0
        lift = stats["difference"] / per_customer
        # the Wald ratio's standard error, linearised: that of the difference in means of value - lift x dose
        residual = [(n, s[f"sum_value{a}"] - lift * s[f"sum_dose{a}"],
                     s[f"sumsq_value{a}"] - 2 * lift * s[f"sum_value_dose{a}"] + lift ** 2 * s[f"sumsq_dose{a}"])
                    for a, n in ((1, n1), (0, n0))]
        se = compare_sums(*residual[0], *residual[1], settings.confidence)["se"] / per_customer
        cost = s["sum_cost1"] / n1 if n1 else 0.0
        out.append({"period": period, "action_id": action, "customers_contacted": int(n1), "customers_holdout": int(n0),
                    "delivered_share": s["n_delivered1"] / n1 if n1 else np.nan,
                    "mean_value_contacted": stats["treated"], "mean_value_holdout": stats["holdout"],
                    "lift_per_customer": stats["difference"], "contacts_per_customer": per_customer,
                    "lift_per_contact": lift, "lift_low": lift - z * se, "lift_high": lift + z * se,
                    "contact_cost_per_contact": cost, "net_lift_per_contact": lift - cost,
                    "net_lift_total": (lift - cost) * n1,
                    "enough_customers": min(n1, n0) >= settings.min_customers_per_arm, "_se": se})
    by_action = pd.DataFrame(out)
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
    return plan_value_from_cells(night_cells(rows, costs, settings.seed), settings)


def plan_value_from_cells(cells: pd.DataFrame, settings: LiftSettings) -> pd.DataFrame:
    """plan_value_estimates from night_cells: per night the totals of its cells' scores, each with its interval
    (n x the mean score, z x the scores' standard deviation x sqrt(n))."""
    cells = cells[cells["plan_rows"] > 0] if len(cells) else cells
    if cells.empty:
        return pd.DataFrame(columns=PLAN_VALUE_COLUMNS)
    z = float(norm.ppf(0.5 + settings.confidence / 2))
    out = []
    for night, s in cells.groupby("night", sort=True)[PLAN_SUMS].sum().iterrows():
        n = float(s["plan_rows"])
        out.append({"night": pd.Timestamp(night).date(), "customers_targeted": int(n),
                    "customers_contacted": int(s["plan_contacted"]), "expected_value": float(s["plan_expected"]),
                    **{key: value for name in ("ipw", "dr")
                       for key, value in _total_with_interval(name, n, s[f"{name}_sum"], s[f"{name}_sumsq"], z).items()}})
    return pd.DataFrame(out)[PLAN_VALUE_COLUMNS]


def _total_with_interval(name: str, n: float, total: float, squares: float, z: float) -> dict[str, float]:
    """The estimated total over n scores (their sum) and its interval, from the sum and the sum of squares."""
    half = z * float(np.sqrt(_arm_moments(n, total, squares)[1] * n))  # NaN for fewer than two scores
    return {f"{name}_value": float(total), f"{name}_low": total - half, f"{name}_high": total + half}


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


NIGHTS_PER_READ = 7  # nights of arms read and measured at once: memory holds a week of lists, never the whole lookback


def measured_cells(con: duckdb.DuckDBPyConnection, as_of: dt.date, horizons: Mapping[str, int],
                   costs: Mapping[tuple[str, str], float], settings: LiftSettings,
                   feedback: FeedbackSettings) -> pd.DataFrame:
    """night_cells of every night of the lookback whose window closed before `as_of`, each (night, horizon) group
    measured once: a group whose window had closed `remeasure_days` before it was measured is final (late purchases
    and tool reports have come in) and is read back from LIFT_CELLS; the others are measured now, a week of nights at
    a time, and kept. A group measured with other settings (`fingerprint`) or whose nights' decisions were written
    again (warehouse.forget_measured_of) is measured again. Each night therefore reads a few weeks of lists, not
    the lookback's (measured: 180 daily nights of 100,000 customers took 92.5 s at 6.0 GB measured all again each
    night, 6.6-6.8 s kept; README "Reading the realised-lift page")."""
    since = as_of - dt.timedelta(days=settings.lookback_days)
    fingerprint = lift_fingerprint(horizons, costs, settings, feedback)
    done = warehouse.read_kept(con, warehouse.LIFT_MEASURED, fingerprint)
    final = set()
    if len(done):
        sure = done[(_closed(done["night"], done["horizon_days"] + settings.remeasure_days)
                     <= pd.to_datetime(done["measured_as_of"])).to_numpy()]
        final = {(pd.Timestamp(n).date(), int(h)) for n, h in zip(sure["night"], sure["horizon_days"])}
    nights = warehouse.plan_nights(con, as_of, since)
    fresh, groups = [], []
    for horizon in sorted(set(int(h) for h in horizons.values())):
        actions = sorted(a for a, h in horizons.items() if int(h) == horizon)
        todo = [n for n in nights if n + dt.timedelta(days=horizon) <= as_of and (n, horizon) not in final]
        for start in range(0, len(todo), NIGHTS_PER_READ):
            batch = todo[start:start + NIGHTS_PER_READ]
            arms = warehouse.read_plan_arms(con, as_of, feedback, since=batch[0],
                                            until=batch[-1] + dt.timedelta(days=1), actions=actions)
            arms = arms[pd.to_datetime(arms["night"]).dt.date.isin(set(batch)).to_numpy()] if len(arms) else arms
            settled = with_contact_doses(con, settle_plan_arms(con, arms, as_of, horizons, settings.margin_rate), as_of)
            fresh.append(night_cells(settled, costs, settings.seed).assign(horizon_days=horizon))
            groups += [(night, horizon) for night in batch]
    if groups:
        fresh = [part for part in fresh if len(part)]
        cells = pd.concat(fresh, ignore_index=True) if fresh else pd.DataFrame(columns=[*CELL_COLUMNS, "horizon_days"])
        measured = pd.DataFrame(groups, columns=["night", "horizon_days"])
        warehouse.keep_measured(con, warehouse.LIFT_MEASURED, measured.assign(measured_as_of=as_of), measured,
                                fingerprint, {"night": "DATE", "horizon_days": "INTEGER", "measured_as_of": "DATE"})
        warehouse.keep_measured(con, warehouse.LIFT_CELLS, cells, measured, fingerprint,
                                {"night": "DATE", "horizon_days": "INTEGER", "action_id": "VARCHAR",
                                 "executed": "BOOLEAN", **{c: "DOUBLE" for c in SUM_COLUMNS}})
    kept = warehouse.read_kept(con, warehouse.LIFT_CELLS, fingerprint)
    if kept.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    kept = kept[(pd.to_datetime(kept["night"]) >= pd.Timestamp(since)).to_numpy()
                & (_closed(kept["night"], kept["horizon_days"]) <= pd.Timestamp(as_of)).to_numpy()]
    return kept.sort_values(["night", "action_id"]).reset_index(drop=True)[CELL_COLUMNS]


def _closed(nights: pd.Series, days: pd.Series) -> pd.Series:
    """The day each night's window of `days` days closes."""
    return pd.to_datetime(nights) + pd.to_timedelta(days.astype(int), unit="D")


def lift_fingerprint(horizons: Mapping[str, int], costs: Mapping[tuple[str, str], float], settings: LiftSettings,
                     feedback: FeedbackSettings) -> str:
    """What a kept cell's sums depend on besides the data: the actions' horizons and costs, the margin rate, the seed
    of the plan value's folds and the delivery assumptions. Another value measures the lookback again."""
    return settings_fingerprint(horizons, costs, feedback, margin_rate=settings.margin_rate, seed=settings.seed)


def settings_fingerprint(horizons: Mapping[str, int], costs: Mapping[tuple[str, str], float],
                         feedback: FeedbackSettings, **more: object) -> str:
    """A short hash of the settings a kept measure was made with (horizons, costs, delivery assumptions and `more`)."""
    facts = {"horizons": sorted((str(a), int(h)) for a, h in horizons.items()),
             "costs": sorted((str(a), str(c), float(v)) for (a, c), v in costs.items()),
             "feedback": [feedback.assume_delivered_after_days, feedback.valid_for_days], **more}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
