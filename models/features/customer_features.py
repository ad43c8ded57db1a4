"""Point-in-time customer features, built in one DuckDB statement.

`build_features(con, as_of, out_table)` writes one row per customer who signed up before `as_of`,
using only events strictly before `as_of` 00:00 (an event at as_of 00:00:00 is already "future").
A window "Nd" is the N days before as_of: [as_of - N days, as_of). Each event table is scanned and
aggregated once with conditional aggregates, so 10M purchases and 20M interactions take seconds.

Conventions a rule writer can rely on:
- no NULLs: counts and amounts are 0 without events; `days_since_*` is NEVER_DAYS (9999) when the
  event never happened, so "days_since_last_discount > 30" holds for someone never discounted;
  avg_csat_365d and last_nps are NO_RATING (-1) without a survey answer;
- purchases / spend / discount / category / unit-price features use completed orders; an order with
  status 'returned' counts only in returns_365d (and in return_rate_365d = returns / all orders);
- interactions_<channel>_90d count customer-side interactions (campaign contacts excluded);
  visits_*, complaints_*, support_contacts_* count types 'visit', 'complaint', 'support';
  negative_notes_90d counts notes models/features/text_signals.py reads as negative (any type);
  contacts_<channel>_7d/30d and campaign_* count outbound campaign contacts (type 'campaign');
- spend_trend_90d = (spend_90d - spend of the 90 days before) / (their sum), in [-1, 1], 0 if both 0;
- a unit price is amount / quantity (a missing or non-positive quantity counts as 1);
- reachable_<channel>: consent given, the contact field present, and not do_not_contact
  (app needs only consent_app). These are ELIGIBILITY_COLUMNS: consent and contact fields exist only as
  tonight's snapshot (no history before the first night, and the CRM's updated_at says only when the
  latest change happened), so at a past cut-off they would tell what happened after it (opt-outs follow
  churn). They feed the decision rules tonight and are never model features (MODEL_FEATURE_COLUMNS).
Optional input columns that are absent (category, quantity, note_text, ...) read as NULL.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from models.features.btyd import BTYD_COLUMNS, add_btyd_features
from models.features.text_signals import Lexicon, load_lexicon, negative_note_sql

NEVER_DAYS = 9999
OUTCOME_SETTLE_DAYS = 14  # a campaign's conversion is known only this long after the contact
NO_RATING = -1
WINDOWS_DAYS = (30, 90, 365)
INTERACTION_CHANNELS = ("web", "app", "store", "chat", "email", "sms", "phone")
CONTACT_CHANNELS = ("email", "sms", "phone", "app")

SQL_FEATURE_COLUMNS: tuple[str, ...] = (
    "tenure_days",
    "days_since_last_purchase", "days_since_first_purchase",
    *(f"purchases_{w}d" for w in WINDOWS_DAYS), "purchases_total",
    *(f"spend_{w}d" for w in WINDOWS_DAYS), "spend_total",
    "avg_order_value_365d", "spend_trend_90d",
    "returns_365d", "return_rate_365d",
    "discount_orders_365d", "days_since_last_discount", "discount_share_365d",
    "distinct_categories_365d", "top_category_share_365d",
    "avg_unit_price_365d", "max_unit_price_365d",
    *(f"interactions_{c}_90d" for c in INTERACTION_CHANNELS),
    "visits_30d", "complaints_30d", "complaints_90d", "negative_notes_90d", "support_contacts_90d",
    "avg_csat_365d", "last_nps",
    "campaign_contacts_180d", "campaign_accepts_365d", "campaign_declines_365d", "days_since_last_decline",
    *(f"contacts_{c}_{w}d" for c in CONTACT_CHANNELS for w in (7, 30)),
    *(f"reachable_{c}" for c in CONTACT_CHANNELS),
)
# The BG/NBD + Gamma-Gamma inputs and outputs (models/features/btyd.py), fitted on the whole base at the date.
FEATURE_COLUMNS: tuple[str, ...] = SQL_FEATURE_COLUMNS + BTYD_COLUMNS

ELIGIBILITY_COLUMNS: tuple[str, ...] = tuple(f"reachable_{c}" for c in CONTACT_CHANNELS)
MODEL_FEATURE_COLUMNS: tuple[str, ...] = tuple(c for c in FEATURE_COLUMNS if c not in ELIGIBILITY_COLUMNS)

# column -> SQL type used when an optional column is absent (None: required).
_CUSTOMER_COLUMNS = {
    "customer_id": None, "signup_date": None, "email": "VARCHAR", "phone": "VARCHAR", "consent_email": "BOOLEAN",
    "consent_sms": "BOOLEAN", "consent_phone": "BOOLEAN", "consent_app": "BOOLEAN", "do_not_contact": "BOOLEAN",
}
_PURCHASE_COLUMNS = {
    "customer_id": None, "order_ts": None, "amount": "DOUBLE", "quantity": "INTEGER", "category": "VARCHAR",
    "discount_amount": "DOUBLE", "status": "VARCHAR",
}
_INTERACTION_COLUMNS = {
    "customer_id": None, "interaction_ts": None, "channel": "VARCHAR",
    "type": "VARCHAR", "outcome": "VARCHAR", "note_text": "VARCHAR", "csat": "INTEGER", "nps": "INTEGER",
}


def _select_columns(con: duckdb.DuckDBPyConnection, table: str, spec: dict[str, str | None]) -> str:
    """SELECT list over `table` with NULL stand-ins for absent optional columns."""
    try:
        present = {r[0].lower() for r in con.execute(f"DESCRIBE {table}").fetchall()}
    except duckdb.CatalogException:
        raise ValueError(f"Feature input table '{table}' does not exist.") from None
    missing = [c for c, t in spec.items() if t is None and c not in present]
    if missing:
        raise ValueError(f"Feature input table '{table}' lacks required column(s): {', '.join(missing)}.")
    return ", ".join(c if c in present else f"CAST(NULL AS {t}) AS {c}" for c, t in spec.items())


def _days_since(ts: str, as_of: date) -> str:
    return f"coalesce(date_diff('day', CAST({ts} AS DATE), DATE '{as_of}'), {NEVER_DAYS})"


def _ratio(num: str, den: str) -> str:
    return f"CASE WHEN ({den}) > 0 THEN CAST({num} AS DOUBLE) / ({den}) ELSE 0.0 END"


def _money_sum(condition: str) -> str:
    """Sum of amounts, rounded to 1e-4: parallel float sums differ in the last bits between runs."""
    return f"round(sum(amount) FILTER ({condition}), 4)"


def _purchase_aggregates(since: dict[int, str]) -> str:
    """Per-customer conditional aggregates over purchases (one scan)."""
    bought = "NOT returned"
    windows = [
        f"count(*) FILTER ({bought} AND ts >= {since[w]}) AS purchases_{w}d, "
        f"{_money_sum(f'{bought} AND ts >= {since[w]}')} AS spend_{w}d"
        for w in WINDOWS_DAYS
    ]
    y = f"{bought} AND ts >= {since[365]}"
    return ",\n".join([
        f"min(ts) FILTER ({bought}) AS first_purchase_ts", f"max(ts) FILTER ({bought}) AS last_purchase_ts",
        *windows,
        f"count(*) FILTER ({bought}) AS purchases_total", f"{_money_sum(bought)} AS spend_total",
        f"{_money_sum(f'{bought} AND ts >= {since[180]} AND ts < {since[90]}')} AS spend_prev_90d",
        f"count(*) FILTER (returned AND ts >= {since[365]}) AS returns_365d",
        f"count(*) FILTER ({y} AND discounted) AS discount_orders_365d",
        f"max(ts) FILTER ({bought} AND discounted) AS last_discount_ts",
        f"sum(units) FILTER ({y} AND amount IS NOT NULL) AS units_365d",
        f"max(amount / units) FILTER ({y}) AS max_unit_price_365d",
    ])


def _interaction_aggregates(since: dict[int, str]) -> str:
    """Per-customer conditional aggregates over interactions (one scan).

    The filters read booleans computed once per row in `i` (inbound, campaign, in_<N>d windows)
    rather than repeating the string and timestamp comparisons in each of the ~30 aggregates.
    """
    by_channel = [f"count(*) FILTER (inbound AND in_90d AND channel = '{c}') AS interactions_{c}_90d"
                  for c in INTERACTION_CHANNELS]
    contacts = [f"count(*) FILTER (campaign AND in_{w}d AND channel = '{c}') AS contacts_{c}_{w}d"
                for c in CONTACT_CHANNELS for w in (7, 30)]
    return ",\n".join([
        *by_channel,
        "count(*) FILTER (type = 'visit' AND in_30d) AS visits_30d",
        "count(*) FILTER (type = 'complaint' AND in_30d) AS complaints_30d",
        "count(*) FILTER (type = 'complaint' AND in_90d) AS complaints_90d",
        "count(*) FILTER (negative_note_90d) AS negative_notes_90d",
        "count(*) FILTER (type = 'support' AND in_90d) AS support_contacts_90d",
        "avg(csat) FILTER (in_365d) AS avg_csat_365d",
        # Latest answer; two answers at the same instant resolve to the higher score, in any row order.
        "max({'ts': ts, 'nps': nps}) FILTER (nps IS NOT NULL).nps AS last_nps",
        "count(*) FILTER (campaign AND in_180d) AS campaign_contacts_180d",
        # A contact's outcome (accepted, converted, declined) is written on the contact row but settles days
        # after it: only contacts older than OUTCOME_SETTLE_DAYS count, on both sides, so no outcome from
        # on/after as-of leaks in. (Tonight's contact policy reads the freshest declines itself.)
        f"count(*) FILTER (campaign AND outcome IN ('accepted', 'converted') AND in_365d "
        f"AND ts < {since[OUTCOME_SETTLE_DAYS]}) AS campaign_accepts_365d",
        f"count(*) FILTER (campaign AND outcome = 'declined' AND in_365d "
        f"AND ts < {since[OUTCOME_SETTLE_DAYS]}) AS campaign_declines_365d",
        f"max(ts) FILTER (campaign AND outcome = 'declined' AND ts < {since[OUTCOME_SETTLE_DAYS]}) AS last_decline_ts",
        *contacts,
    ])


def _feature_expressions(as_of: date) -> dict[str, str]:
    """Final SELECT expression per feature over the joined base, purchase and interaction aggregates."""
    counts = [f"purchases_{w}d" for w in WINDOWS_DAYS] + ["purchases_total", "returns_365d", "discount_orders_365d"]
    counts += [f"interactions_{c}_90d" for c in INTERACTION_CHANNELS]
    counts += ["visits_30d", "complaints_30d", "complaints_90d", "negative_notes_90d", "support_contacts_90d",
               "campaign_contacts_180d", "campaign_accepts_365d", "campaign_declines_365d"]
    counts += [f"contacts_{c}_{w}d" for c in CONTACT_CHANNELS for w in (7, 30)]
    amounts = [f"spend_{w}d" for w in WINDOWS_DAYS] + ["spend_total"]
    expr = {c: f"coalesce({c}, 0)" for c in counts}
    expr |= {a: f"coalesce({a}, 0.0)" for a in amounts}
    reachable = ("coalesce({consent}, false) AND {field} IS NOT NULL AND trim({field}) <> '' "
                 "AND NOT coalesce(do_not_contact, false)")
    expr |= {
        "tenure_days": f"date_diff('day', signup_date, DATE '{as_of}')",
        "days_since_last_purchase": _days_since("last_purchase_ts", as_of),
        "days_since_first_purchase": _days_since("first_purchase_ts", as_of),
        "avg_order_value_365d": _ratio("coalesce(spend_365d, 0)", "purchases_365d"),
        "spend_trend_90d": _ratio("coalesce(spend_90d, 0) - coalesce(spend_prev_90d, 0)",
                                  "coalesce(spend_90d, 0) + coalesce(spend_prev_90d, 0)"),
        "return_rate_365d": _ratio("returns_365d", "coalesce(returns_365d, 0) + coalesce(purchases_365d, 0)"),
        "days_since_last_discount": _days_since("last_discount_ts", as_of),
        "discount_share_365d": _ratio("discount_orders_365d", "purchases_365d"),
        "distinct_categories_365d": "coalesce(distinct_categories_365d, 0)",
        "top_category_share_365d": "coalesce(top_category_share_365d, 0.0)",
        "avg_unit_price_365d": _ratio("coalesce(spend_365d, 0)", "units_365d"),
        "max_unit_price_365d": "coalesce(max_unit_price_365d, 0.0)",
        "avg_csat_365d": f"coalesce(avg_csat_365d, {NO_RATING})",
        "last_nps": f"coalesce(last_nps, {NO_RATING})",
        "days_since_last_decline": _days_since("last_decline_ts", as_of),
        "reachable_email": reachable.format(consent="consent_email", field="email"),
        "reachable_sms": reachable.format(consent="consent_sms", field="phone"),
        "reachable_phone": reachable.format(consent="consent_phone", field="phone"),
        "reachable_app": "coalesce(consent_app, false) AND NOT coalesce(do_not_contact, false)",
    }
    return expr


def _as_date(as_of) -> date:
    if isinstance(as_of, datetime):
        return as_of.date()
    if isinstance(as_of, date):
        return as_of
    raise TypeError(f"as_of must be a date, got {as_of!r}.")


def build_features_sql(con: duckdb.DuckDBPyConnection, as_of: date, out_table: str, *, customers: str,
                       purchases: str, interactions: str, population: str | None, lexicon: Lexicon) -> str:
    """The CREATE TABLE statement build_features runs (exposed for inspection and EXPLAIN)."""
    since = {d: f"TIMESTAMP '{as_of - timedelta(days=d)}'" for d in (7, 30, 90, 180, 365, OUTCOME_SETTLE_DAYS)}
    cutoff = f"TIMESTAMP '{as_of}'"
    in_population = f" AND customer_id IN (SELECT customer_id FROM {population})" if population else ""
    # Restricting events to the population pays off only for a subset; else the final join drops extras.
    events_in_base = " AND customer_id IN (SELECT customer_id FROM base)" if population else ""
    expressions = _feature_expressions(as_of)
    select = ",\n  ".join(f"{expressions[f]} AS {f}" for f in SQL_FEATURE_COLUMNS)
    return f"""
CREATE OR REPLACE TABLE {out_table} AS
WITH base AS (
  SELECT {_select_columns(con, customers, _CUSTOMER_COLUMNS)} FROM {customers}
  WHERE signup_date < DATE '{as_of}'{in_population}
),
p AS (
  SELECT customer_id, order_ts AS ts, amount, category,
         coalesce(status, 'completed') = 'returned' AS returned,
         coalesce(discount_amount, 0) > 0 AS discounted,
         CASE WHEN quantity > 0 THEN quantity ELSE 1 END AS units
  FROM (SELECT {_select_columns(con, purchases, _PURCHASE_COLUMNS)} FROM {purchases})
  WHERE order_ts < {cutoff}{events_in_base}
),
pa AS (SELECT customer_id,
{_purchase_aggregates(since)}
  FROM p GROUP BY customer_id),
-- Category mix over completed orders of the last 365 days: orders per (customer, category), then per
-- customer the number of categories and the top one's share (cheaper than a list per customer).
pc AS (SELECT customer_id, count(*) AS orders FROM p
  WHERE NOT returned AND ts >= {since[365]} AND category IS NOT NULL GROUP BY customer_id, category),
pcs AS (SELECT customer_id, count(*) AS distinct_categories_365d,
         CAST(max(orders) AS DOUBLE) / sum(orders) AS top_category_share_365d
  FROM pc GROUP BY customer_id),
i AS (
  SELECT customer_id, interaction_ts AS ts, channel,
         coalesce(type, '') AS type, outcome, csat, nps,
         coalesce(type, '') NOT IN ('campaign', 'campaign_control') AS inbound, type = 'campaign' AS campaign,
         {", ".join(f"interaction_ts >= {since[d]} AS in_{d}d" for d in (7, 30, 90, 180, 365))},
         -- CASE evaluates the regexes only for notes inside the 90-day window.
         CASE WHEN interaction_ts >= {since[90]} AND note_text IS NOT NULL
              THEN {negative_note_sql('note_text', lexicon)} ELSE false END AS negative_note_90d
  FROM (SELECT {_select_columns(con, interactions, _INTERACTION_COLUMNS)} FROM {interactions})
  WHERE interaction_ts < {cutoff}{events_in_base}
    -- Older rows matter only for last_nps and days_since_last_decline: skip the rest early.
    AND (interaction_ts >= {since[365]} OR nps IS NOT NULL OR (type = 'campaign' AND outcome = 'declined'))
),
ia AS (SELECT customer_id,
{_interaction_aggregates(since)}
  FROM i GROUP BY customer_id)
SELECT customer_id,
  {select}
FROM base LEFT JOIN pa USING (customer_id) LEFT JOIN pcs USING (customer_id) LEFT JOIN ia USING (customer_id)
ORDER BY customer_id"""


def build_features(con: duckdb.DuckDBPyConnection, as_of: date, out_table: str, *,
                   customers: str = "golden_customers", purchases: str = "purchases",
                   interactions: str = "interactions", population: str | None = None,
                   lexicon: Lexicon | str | Path | None = None, btyd_fits: dict | None = None) -> list[str]:
    """Create out_table(customer_id, FEATURE_COLUMNS) as of `as_of`; return the feature names. The BTYD columns
    come from a BG/NBD + Gamma-Gamma fitted on every customer known at `as_of` (models/features/btyd.py).

    `population` optionally names a table with a customer_id column restricting the rows;
    `lexicon` is a Lexicon, a lexicon file path, or None for the packaged one; `btyd_fits` a dict kept across
    many past dates to fit the BTYD parameters once per quarter (models/features/btyd.py, add_btyd_features).
    """
    lexicon = lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon)
    as_of = _as_date(as_of)
    con.execute(build_features_sql(con, as_of, out_table, customers=customers, purchases=purchases,
                                   interactions=interactions, population=population, lexicon=lexicon))
    typed_purchases = f"(SELECT {_select_columns(con, purchases, _PURCHASE_COLUMNS)} FROM {purchases})"
    add_btyd_features(con, out_table, as_of, customers=customers, purchases=typed_purchases, fits=btyd_fits)
    return list(FEATURE_COLUMNS)


def feature_coverage(con: duckdb.DuckDBPyConnection, table: str = "customer_features") -> dict[str, int]:
    """What the features check counts (each must be 0): golden customers without a feature row, feature rows of
    no golden customer, and customers with more than one row."""
    return dict(zip(("customers_without_features", "rows_of_unknown_customers", "duplicated_customers"), con.execute(f"""
        SELECT
          (SELECT count(*) FROM golden_customers WHERE customer_id NOT IN (SELECT customer_id FROM {table})),
          (SELECT count(*) FROM {table} WHERE customer_id NOT IN (SELECT customer_id FROM golden_customers)),
          (SELECT count(*) FROM (SELECT customer_id FROM {table} GROUP BY ALL HAVING count(*) > 1))
    """).fetchall()[0]))
