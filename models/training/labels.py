"""Training labels at a cut-off c, computed in SQL over `purchases` (window [c, c + horizon)).

Definitions (a "purchase" is a `completed` row; unit price = amount / quantity, quantity < 1 read as 1):
- churn  : population = active customers (>= 1 purchase in the 365 days before c);
           label 1 if they make no purchase in [c, c + h).
- upsell : population = active customers; label 1 if in [c, c + h) they buy a category they never
           bought before c, or pay a unit price above the highest unit price they paid before c.
           (Null categories never count as new; all history before c counts as "before".)
- clv    : population = customers known at c (signed up before c, or with any purchase row before c);
           label = net revenue in [c, c + h): completed amounts minus returned amounts (|amount|, as a
           return may be stored positive or negative), floored at 0 (a customer is worth no less than
           nothing for targeting, and reg:tweedie needs non-negative targets), times `scale`. The plan
           may shorten the CLV horizon when history is short; `scale` = configured / used horizon puts
           the label back on the configured horizon (recorded in the plan's notes).
Every query reads only rows dated before c + h; the plan guarantees c + h <= the as-of date.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

TARGETS = ("churn", "upsell", "clv")
ACTIVE_LOOKBACK_DAYS = 365


def validate_target(target: str) -> str:
    """Return `target` if it is a known model target, else raise naming it."""
    if target not in TARGETS:
        raise ValueError(f"unknown model target '{target}': expected one of {', '.join(TARGETS)}")
    return target


def label_sql(target: str, cutoff: date, horizon_days: int, *, purchases: str = "purchases",
              customers: str = "golden_customers", scale: float = 1.0) -> str:
    """SQL selecting (customer_id, label) for `target` at `cutoff`, ordered by customer_id."""
    validate_target(target)
    c = f"DATE '{cutoff.isoformat()}'"
    end = f"({c} + INTERVAL {int(horizon_days)} DAY)"
    unit_price = "amount / GREATEST(COALESCE(quantity, 1), 1)"
    window = f"order_ts >= {c} AND order_ts < {end}"
    done = "status = 'completed' AND customer_id IS NOT NULL"
    active = (f"SELECT DISTINCT customer_id FROM {purchases} WHERE {done} AND order_ts < {c} "
              f"AND order_ts >= {c} - INTERVAL {ACTIVE_LOOKBACK_DAYS} DAY")
    if target == "churn":
        return f"""
            WITH active AS ({active}),
            buyers AS (SELECT DISTINCT customer_id FROM {purchases} WHERE {done} AND {window})
            SELECT a.customer_id, CASE WHEN b.customer_id IS NULL THEN 1 ELSE 0 END AS label
            FROM active a LEFT JOIN buyers b USING (customer_id) ORDER BY a.customer_id"""
    if target == "upsell":
        return f"""
            WITH active AS ({active}),
            prior AS (SELECT customer_id, MAX({unit_price}) AS max_unit_price FROM {purchases}
                      WHERE {done} AND order_ts < {c} GROUP BY customer_id),
            prior_categories AS (SELECT DISTINCT customer_id, category FROM {purchases}
                                 WHERE {done} AND order_ts < {c} AND category IS NOT NULL),
            future AS (SELECT customer_id, category, {unit_price} AS unit_price FROM {purchases}
                       WHERE {done} AND {window}),
            upsold AS (
                SELECT DISTINCT f.customer_id FROM future f JOIN prior p USING (customer_id)
                LEFT JOIN prior_categories pc ON pc.customer_id = f.customer_id AND pc.category = f.category
                WHERE (f.category IS NOT NULL AND pc.category IS NULL) OR f.unit_price > p.max_unit_price)
            SELECT a.customer_id, CASE WHEN u.customer_id IS NULL THEN 0 ELSE 1 END AS label
            FROM active a LEFT JOIN upsold u USING (customer_id) ORDER BY a.customer_id"""
    return f"""
        WITH known AS (
            SELECT customer_id FROM {customers} WHERE signup_date < {c} AND customer_id IS NOT NULL
            UNION
            SELECT customer_id FROM {purchases} WHERE order_ts < {c} AND customer_id IS NOT NULL),
        revenue AS (  -- rounded like the features' money sums: a parallel float sum's last bits vary by run, and
                      -- a fully returned order nets to +-1e-14 instead of 0 (a label > 0 one night, 0 the next)
            SELECT customer_id, round(SUM(CASE WHEN status = 'completed' THEN amount
                                               WHEN status = 'returned' THEN -ABS(CAST(amount AS DOUBLE))
                                               ELSE 0 END), 4) AS net
            FROM {purchases} WHERE {window} AND customer_id IS NOT NULL GROUP BY customer_id)
        SELECT k.customer_id, GREATEST(COALESCE(r.net, 0), 0) * {float(scale)!r} + 0.0 AS label  -- never -0.0
        FROM known k LEFT JOIN revenue r USING (customer_id) ORDER BY k.customer_id"""


def build_labels(con: duckdb.DuckDBPyConnection, target: str, cutoff: date, horizon_days: int, *,
                 purchases: str = "purchases", customers: str = "golden_customers",
                 scale: float = 1.0) -> pd.DataFrame:
    """Population and label for `target` at `cutoff`: a frame (customer_id, label) sorted by customer_id."""
    sql = label_sql(target, cutoff, horizon_days, purchases=purchases, customers=customers, scale=scale)
    return con.execute(sql).df()
