"""The outcome of a contact: the customer's net margin over the action's horizon, read from purchases.

For a (customer, contact date d, action) row with horizon h (the catalog's `outcome_horizon_days`):

    value = sum over completed orders in [d, d + h) of  margin_rate x (amount + discount) - discount
          - sum over returns in [d, d + h) of            margin_rate x |amount|

`amount` is what the customer paid (after discounts), so `amount + discount` is the list value the margin
applies to and a discount is a cost in full: an offer given to someone who would have bought anyway
lowers the value. A return gives back the margin of what was paid. The contact's own cost is not in it
(the decision subtracts it per channel). `discount` is the discounts of those orders alone (the part of the
value an offer moves directly; models/training/surrogate.py measures it apart from the conversion).

Point in time: a row's value exists only when its window has closed before the as-of date
(d + h <= as_of); younger rows get NULL and are not used. No purchase on or after the as-of date is read.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd


def contact_values(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of: date, margin_rate: float,
                   purchases: str = "purchases") -> pd.Series:
    """Net margin per row of `rows` (customer_id, campaign_date, horizon_days), aligned to `rows`' index;
    NaN where the row's window has not closed by `as_of`."""
    return contact_outcomes(con, rows, as_of, margin_rate, purchases)["value"]


def contact_outcomes(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of: date, margin_rate: float,
                     purchases: str = "purchases") -> pd.DataFrame:
    """`value` (net margin) and `discount` (discounts given) per row of `rows` (customer_id, campaign_date,
    horizon_days), aligned to `rows`' index; NaN where the row's window has not closed by `as_of`."""
    frame = pd.DataFrame({"k": range(len(rows)), "customer_id": rows["customer_id"].astype(str).to_numpy(),
                          "d": pd.to_datetime(rows["campaign_date"]).to_numpy(),
                          "h": rows["horizon_days"].astype(int).to_numpy()})
    con.register("_contact_rows", frame)
    try:
        values = con.execute(f"""
            WITH r AS (SELECT k, customer_id, CAST(d AS TIMESTAMP) AS start_ts,
                              CAST(d AS TIMESTAMP) + to_days(CAST(h AS INTEGER)) AS end_ts FROM _contact_rows)
            SELECT r.k,
                   CASE WHEN r.end_ts > CAST(? AS TIMESTAMP) THEN NULL ELSE coalesce(sum(
                       CASE WHEN p.status = 'returned' THEN -? * abs(p.amount)
                            ELSE ? * (p.amount + coalesce(p.discount_amount, 0)) - coalesce(p.discount_amount, 0)
                       END), 0) END AS value,
                   CASE WHEN r.end_ts > CAST(? AS TIMESTAMP) THEN NULL ELSE coalesce(sum(
                       CASE WHEN p.status = 'returned' THEN 0 ELSE coalesce(p.discount_amount, 0) END), 0) END
                       AS discount
            FROM r LEFT JOIN {purchases} p
              ON p.customer_id = r.customer_id AND p.order_ts >= r.start_ts AND p.order_ts < r.end_ts
             AND p.order_ts < CAST(? AS TIMESTAMP)
            GROUP BY r.k, r.end_ts ORDER BY r.k""",
                                 [as_of, margin_rate, margin_rate, as_of, as_of]).df()
    finally:
        con.unregister("_contact_rows")
    return pd.DataFrame({column: values[column].astype(float).to_numpy() for column in ("value", "discount")},
                        index=rows.index).round(4)
