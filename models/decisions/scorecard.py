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

from typing import Mapping

import duckdb
import numpy as np
import pandas as pd

from models.decisions.realised_lift import LiftSettings, compare_means

KPIS = ("arpu", "cross_upsell_rate", "churn_rate", "retention_cost", "nps", "csat")
SCORECARD_COLUMNS = ["month", "kpi", "n_contacted", "n_holdout", "contacted", "contacted_low", "contacted_high",
                     "holdout", "holdout_low", "holdout_high", "difference", "difference_low", "difference_high"]


def customer_kpis(con: duckdb.DuckDBPyConnection, arms: pd.DataFrame, as_of, costs: Mapping[tuple[str, str], float],
                  window_days: int, purchases: str = "purchases", interactions: str = "interactions") -> pd.DataFrame:
    """One row per (month, customer, arm) with the per-customer KPI inputs (module docstring); `arms` holds the
    plan's rows (night, customer_id, action_id, channel, treated)."""
    first = (arms.assign(month=pd.to_datetime(arms["night"]).dt.strftime("%Y-%m"))
             .sort_values(["night", "customer_id"]).drop_duplicates(["month", "customer_id", "treated"]))
    first = first[(pd.to_datetime(first["night"]) + pd.Timedelta(days=window_days) <= pd.Timestamp(as_of)).to_numpy()]
    first = first.assign(contact_cost=[costs.get((a, c), 0.0) if t else 0.0 for a, c, t in
                                       zip(first["action_id"], first["channel"], first["treated"])])
    frame = first[["month", "customer_id", "treated", "night", "contact_cost"]].reset_index(drop=True)
    con.register("_kpi_rows", frame)
    try:
        return con.execute(f"""
            WITH r AS (SELECT *, CAST(night AS TIMESTAMP) AS t0, CAST(night AS TIMESTAMP) + to_days({int(window_days)}) AS t1
                       FROM _kpi_rows),
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
            new_kinds AS (SELECT r.month, r.customer_id, r.treated, count(*) AS new_kinds FROM r
                  JOIN (SELECT DISTINCT customer_id, order_ts, coalesce(category, product_id) AS kind FROM {purchases}
                        WHERE status <> 'returned' AND coalesce(category, product_id) IS NOT NULL
                          AND order_ts < CAST(? AS TIMESTAMP)) a
                    ON a.customer_id = r.customer_id AND a.order_ts >= r.t0 AND a.order_ts < r.t1
                  WHERE NOT EXISTS (SELECT 1 FROM {purchases} b WHERE b.customer_id = r.customer_id
                        AND coalesce(b.category, b.product_id) = a.kind AND b.status <> 'returned'
                        AND b.order_ts >= r.t0 - INTERVAL 365 DAY AND b.order_ts < r.t0)
                  GROUP BY ALL),
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
            ORDER BY p.month, p.customer_id, p.treated""", [as_of, as_of, as_of]).df()
    finally:
        con.unregister("_kpi_rows")


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
