"""The KPI scorecard customer-experience teams report on, per month, for the customers the plan contacted vs the
universal holdout's would-be-contacted customers (the same randomised comparison as models/decisions/realised_lift.py).

Each customer counts once per month and arm, from their first decision night of the month, over the
`kpi_window_days` after it (only windows closed before the as-of date):
- ARPU: revenue (completed orders as paid, minus returns) per customer;
- cross / up-sell rate: the share who bought a category (else product) they had not bought in the 365 days before;
- churn rate: among customers who bought in the 90 days before, the share who bought nothing in the window;
- retention cost: contact cost plus the discounts granted in the window, per customer;
- NPS (promoters 9-10 minus detractors 0-6, in points) and CSAT (mean 1-5) over the survey answers in the window.
Each KPI comes with its interval per arm and the difference contacted - holdout with its interval.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

import duckdb
import numpy as np
import pandas as pd

from models import warehouse
from models.decisions.feedback import FeedbackSettings
from models.decisions.realised_lift import INTERVAL_RULE, LiftSettings, compare_means, settings_fingerprint

KPIS = ("arpu", "cross_upsell_rate", "churn_rate", "retention_cost", "nps", "csat")
SCORECARD_COLUMNS = ["month", "kpi", "n_contacted", "n_holdout", "contacted", "contacted_low", "contacted_high",
                     "holdout", "holdout_low", "holdout_high", "difference", "difference_low", "difference_high"]


def customer_kpis(con: duckdb.DuckDBPyConnection, arms: pd.DataFrame, as_of, costs: Mapping[tuple[str, str], float],
                  window_days: int, purchases: str = "purchases", interactions: str = "interactions") -> pd.DataFrame:
    """One row per (month, customer, arm) with the per-customer KPI inputs (module docstring); `arms` holds the
    plan's rows (night, customer_id, action_id, channel, treated)."""
    # each customer's first night of the month per arm, picked in DuckDB: formatting and sorting millions of dates and
    # ids as text in pandas took 8.9 of 9.0 s for two months of 100,000 customers' daily lists
    frame = arms[["night", "customer_id", "action_id", "channel", "treated"]].reset_index(drop=True)
    cost = pd.DataFrame([(a, c, float(v)) for (a, c), v in costs.items()], columns=["action_id", "channel", "cost"])
    con.register("_kpi_arms", frame)
    con.register("_kpi_costs", cost)
    try:
        return con.execute(f"""
            WITH first AS (SELECT strftime(CAST(night AS DATE), '%Y-%m') AS month, customer_id, treated,
                                  min(CAST(night AS DATE)) AS night, arg_min(action_id, CAST(night AS DATE)) AS action_id,
                                  arg_min(channel, CAST(night AS DATE)) AS channel
                           FROM _kpi_arms GROUP BY ALL),
            r AS (SELECT f.month, f.customer_id, f.treated, f.night,
                         CASE WHEN f.treated = 1 THEN coalesce(c.cost, 0) ELSE 0 END AS contact_cost,
                         CAST(f.night AS TIMESTAMP) AS t0, CAST(f.night AS TIMESTAMP) + to_days({int(window_days)}) AS t1
                  FROM first f LEFT JOIN _kpi_costs c ON c.action_id = f.action_id AND c.channel = f.channel
                  WHERE f.night + to_days({int(window_days)}) <= CAST(? AS DATE)),
            p AS (SELECT r.month, r.customer_id, r.treated,
                    coalesce(sum(CASE WHEN p.order_ts >= r.t0 AND p.order_ts < r.t1 THEN
                        CASE WHEN p.status = 'returned' THEN -abs(p.amount) ELSE p.amount END END), 0) AS revenue,
                    coalesce(sum(CASE WHEN p.order_ts >= r.t0 AND p.order_ts < r.t1 AND p.status <> 'returned'
                        THEN coalesce(p.discount_amount, 0) END), 0) AS discounts,
                    count(*) FILTER (p.order_ts >= r.t0 AND p.order_ts < r.t1 AND p.status <> 'returned') AS orders_after,
                    count(*) FILTER (p.order_ts >= r.t0 - INTERVAL 90 DAY AND p.order_ts < r.t0
                                     AND p.status <> 'returned') AS orders_before_90d,
                    count(DISTINCT coalesce(p.category, p.product_id)) FILTER (
                        p.order_ts >= r.t0 AND p.order_ts < r.t1 AND p.status <> 'returned'
                        AND coalesce(p.category, p.product_id) IS NOT NULL) AS kinds_after,
                    any_value(r.contact_cost) AS contact_cost
                  FROM r LEFT JOIN {purchases} p ON p.customer_id = r.customer_id AND p.order_ts < CAST(? AS TIMESTAMP)
                       AND p.order_ts >= r.t0 - INTERVAL 365 DAY AND p.order_ts < r.t1
                  GROUP BY r.month, r.customer_id, r.treated),
            bought AS (SELECT customer_id, order_ts, coalesce(category, product_id) AS kind FROM {purchases}
                  WHERE status <> 'returned' AND coalesce(category, product_id) IS NOT NULL
                    AND order_ts < CAST(? AS TIMESTAMP) AND order_ts >= (SELECT min(t0) - INTERVAL 365 DAY FROM r)
                    AND customer_id IN (SELECT customer_id FROM r)),
            after AS (SELECT DISTINCT r.month, r.customer_id, r.treated, b.kind FROM r JOIN bought b
                  ON b.customer_id = r.customer_id AND b.order_ts >= r.t0 AND b.order_ts < r.t1),
            prior AS (SELECT DISTINCT r.month, r.customer_id, r.treated, b.kind FROM r JOIN bought b
                  ON b.customer_id = r.customer_id AND b.order_ts >= r.t0 - INTERVAL 365 DAY AND b.order_ts < r.t0),
            new_kinds AS (SELECT month, customer_id, treated, count(*) AS new_kinds
                  FROM (SELECT * FROM after EXCEPT SELECT * FROM prior) GROUP BY ALL),
            s AS (SELECT r.month, r.customer_id, r.treated, list(i.nps) FILTER (i.nps IS NOT NULL) AS nps,
                         list(i.csat) FILTER (i.csat IS NOT NULL) AS csat
                  FROM r JOIN {interactions} i ON i.customer_id = r.customer_id AND i.type = 'survey'
                   AND i.interaction_ts >= r.t0 AND i.interaction_ts < r.t1 AND i.interaction_ts < CAST(? AS TIMESTAMP)
                  GROUP BY ALL)
            SELECT p.month, p.customer_id, p.treated, p.revenue AS arpu,
                   CAST(coalesce(n.new_kinds, 0) > 0 AS DOUBLE) AS cross_upsell_rate,
                   CASE WHEN p.orders_before_90d > 0 THEN CAST(p.orders_after = 0 AS DOUBLE) END AS churn_rate,
                   p.contact_cost + p.discounts AS retention_cost, s.nps, s.csat
            FROM p LEFT JOIN new_kinds n USING (month, customer_id, treated) LEFT JOIN s USING (month, customer_id, treated)
            ORDER BY p.month, p.customer_id, p.treated""", [as_of, as_of, as_of, as_of]).df()
    finally:
        con.unregister("_kpi_arms")
        con.unregister("_kpi_costs")


def kpi_scorecard(kpis: pd.DataFrame, settings: LiftSettings) -> pd.DataFrame:
    """Per month and KPI: contacted vs holdout with intervals and the difference (module docstring)."""
    out = []
    for month, rows in kpis.groupby("month", sort=True):
        contacted, held = rows[rows["treated"] == 1], rows[rows["treated"] == 0]
        for kpi in KPIS:
            t, c = _kpi_values(contacted, kpi), _kpi_values(held, kpi)
            out.append({"month": month, "kpi": kpi, "n_contacted": len(t), "n_holdout": len(c),
                        **{k.replace("treated", "contacted"): v for k, v in compare_means(t, c, settings.confidence).items()
                           if k != "se"}})
    return pd.DataFrame(out, columns=SCORECARD_COLUMNS)


def _kpi_values(rows: pd.DataFrame, kpi: str) -> np.ndarray:
    """The observations a KPI averages: one per customer, or one per survey answer for NPS (+100 / 0 / -100)
    and CSAT."""
    if kpi in ("nps", "csat"):
        answers = [v for values in rows[kpi].dropna() for v in values]
        if kpi == "nps":
            return np.array([100.0 if v >= 9 else -100.0 if v <= 6 else 0.0 for v in answers])
        return np.array(answers, dtype=float)
    return rows[kpi].dropna().to_numpy(float)


def measured_scorecard(con: duckdb.DuckDBPyConnection, as_of: dt.date, costs: Mapping[tuple[str, str], float],
                       settings: LiftSettings, feedback: FeedbackSettings) -> pd.DataFrame:
    """kpi_scorecard of the months of the lookback, each month over all its nights and measured until its windows
    closed: a month whose last night's KPI window had closed `remeasure_days` before it was measured is final and is
    read back from SCORECARD_MONTHS; the others (the last month or two) are measured now from their lists, and kept
    once final. A month whose decisions were written again is measured again (warehouse.forget_measured_of)."""
    since = as_of - dt.timedelta(days=settings.lookback_days)
    fingerprint = settings_fingerprint({}, costs, feedback, window=settings.kpi_window_days,
                                       confidence=settings.confidence, interval=INTERVAL_RULE)  # kept rows hold intervals
    months = sorted({pd.Period(night, freq="M") for night in warehouse.plan_nights(con, as_of, since)})
    kept = warehouse.read_kept(con, warehouse.SCORECARD_MONTHS, fingerprint)
    final = set()
    if len(kept):
        final = {m for m, at in zip(kept["month"], kept["measured_as_of"]) if _month_final(m, at, settings)}
        kept = kept[kept["month"].isin(final) & kept["month"].isin([str(m) for m in months])]
    open_months = [m for m in months if str(m) not in final]
    parts = [kept.drop(columns="measured_as_of")[SCORECARD_COLUMNS]] if len(kept) else []
    for month in open_months:  # a month of lists in memory at a time
        arms = warehouse.read_plan_arms(con, as_of, feedback, since=month.start_time.date(),
                                        until=month.end_time.date() + dt.timedelta(days=1), first_of_month=True)
        card = kpi_scorecard(customer_kpis(con, arms, as_of, costs, settings.kpi_window_days), settings)
        if _month_final(str(month), as_of, settings):
            warehouse.keep_measured(con, warehouse.SCORECARD_MONTHS, card.assign(measured_as_of=as_of),
                                    pd.DataFrame({"month": [str(month)]}), fingerprint, {"month": "VARCHAR", "kpi": "VARCHAR", "n_contacted": "BIGINT",
                                                  "n_holdout": "BIGINT", **{c: "DOUBLE" for c in SCORECARD_COLUMNS[4:]},
                                                  "measured_as_of": "DATE"})
        parts += [card] if len(card) else []
    if not parts:
        return pd.DataFrame(columns=SCORECARD_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    order = out["kpi"].map({k: i for i, k in enumerate(KPIS)})
    return out.assign(_order=order).sort_values(["month", "_order"], kind="stable").drop(columns="_order") \
        .reset_index(drop=True)[SCORECARD_COLUMNS]


def _month_final(month: str, measured_as_of, settings: LiftSettings) -> bool:
    """The month's last night's KPI window had closed `remeasure_days` before `measured_as_of`."""
    last = pd.Period(month, freq="M").end_time.normalize()
    return last + pd.Timedelta(days=settings.kpi_window_days + settings.remeasure_days) <= pd.Timestamp(measured_as_of)
