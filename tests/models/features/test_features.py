"""Point-in-time features: hand-checked values, the as-of cut, and degenerate inputs."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from models.features.btyd import OUTPUT_COLUMNS as BTYD_OUTPUTS
from models.features.customer_features import FEATURE_COLUMNS, NEVER_DAYS, build_features

AS_OF = date(2025, 1, 1)

SCHEMA = """
CREATE TABLE golden_customers (customer_id VARCHAR, signup_date DATE, email VARCHAR, phone VARCHAR,
  consent_email BOOLEAN, consent_sms BOOLEAN, consent_phone BOOLEAN, consent_app BOOLEAN, do_not_contact BOOLEAN);
CREATE TABLE purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE, quantity INTEGER,
  product_id VARCHAR, category VARCHAR, channel VARCHAR, discount_amount DOUBLE, status VARCHAR);
CREATE TABLE interactions (interaction_id VARCHAR, customer_id VARCHAR, interaction_ts TIMESTAMP, channel VARCHAR,
  type VARCHAR, action_id VARCHAR, outcome VARCHAR, note_text VARCHAR, csat INTEGER, nps INTEGER);
"""

DATA = """
INSERT INTO golden_customers VALUES
  ('G1', '2023-01-01', 'a@b.com', '612345678', true, true, true, true, false),
  ('G2', '2024-12-01', NULL, '699111222', true, true, false, true, false),
  ('G3', '2024-06-01', 'c@d.com', '655443322', true, true, true, true, true),
  ('G4', '2025-01-01', 'e@f.com', NULL, true, true, true, true, false),
  ('G5', NULL, 'g@h.com', NULL, true, true, true, true, false);
INSERT INTO purchases VALUES
  ('O1', 'G1', '2024-12-20 10:00', 100, 2, 'P1', 'shoes', 'web', 10, 'completed'),
  ('O2', 'G1', '2024-11-01 00:00', 50, 1, 'P2', 'shoes', 'web', 0, 'completed'),
  ('O3', 'G1', '2024-08-01 12:00', 30, 3, 'P3', 'socks', 'store', NULL, 'completed'),
  ('O4', 'G1', '2023-06-01 12:00', 200, 1, 'P4', 'coats', 'store', 20, 'completed'),
  ('O5', 'G1', '2024-12-28 12:00', 80, 1, 'P5', 'shoes', 'web', 0, 'returned'),
  ('O6', 'G4', '2024-12-28 12:00', 80, 1, 'P5', 'shoes', 'web', 0, 'completed');
INSERT INTO interactions VALUES
  ('I1', 'G1', '2024-12-31 23:59:59', 'web', 'visit', NULL, NULL, NULL, NULL, NULL),
  ('I2', 'G1', '2024-12-15 10:00', 'chat', 'complaint', NULL, NULL, 'El producto llegó roto', NULL, NULL),
  ('I3', 'G1', '2024-11-15 10:00', 'phone', 'support', NULL, NULL, 'Consulta sobre horarios', 4, NULL),
  ('I4', 'G1', '2024-06-01 10:00', 'store', 'survey', NULL, NULL, NULL, 2, 3),
  ('I5', 'G1', '2024-09-01 10:00', 'app', 'survey', NULL, NULL, NULL, NULL, 9),
  ('I6', 'G1', '2024-12-29 10:00', 'email', 'campaign', 'retention_offer', 'declined', NULL, NULL, NULL),
  ('I7', 'G1', '2024-12-10 10:00', 'sms', 'campaign', 'winback', 'accepted', NULL, NULL, NULL),
  ('I8', 'G1', '2024-03-01 10:00', 'email', 'campaign', 'winback', 'declined', NULL, NULL, NULL),
  ('I9', 'G1', '2024-12-20 10:00', 'none', 'campaign_control', 'winback', 'no_response', NULL, NULL, NULL),
  ('I10', 'G1', '2024-12-30 10:00', 'phone', 'support', NULL, NULL, 'No problem, thanks', NULL, NULL);
"""

# Every kind of event, dated at or after the as-of instant: none of them may change a feature.
FUTURE_EVENTS = """
INSERT INTO purchases
SELECT 'F' || i, c, ts, 500, 1, 'PX', 'toys', 'web', d, s
FROM (VALUES ('G1'), ('G2'), ('G3')) c(c),
     (VALUES (TIMESTAMP '2025-01-01 00:00:00'), (TIMESTAMP '2025-01-01 13:30:00'),
             (TIMESTAMP '2025-01-01 23:59:59.999'), (TIMESTAMP '2025-02-01 00:00:00')) t(ts),
     (VALUES (0.0, 'completed'), (5.0, 'completed'), (0.0, 'returned')) k(d, s),
     range(1) r(i);
INSERT INTO interactions
SELECT 'FI', c, ts, ch, ty, 'winback', o, 'No funciona, sigo esperando el reembolso', 1, 0
FROM (VALUES ('G1'), ('G2'), ('G3')) c(c),
     (VALUES (TIMESTAMP '2025-01-01 00:00:00'), (TIMESTAMP '2025-01-01 08:00:00'),
             (TIMESTAMP '2025-01-01 23:59:59'), (TIMESTAMP '2025-03-01 00:00:00')) t(ts),
     (VALUES ('web'), ('app'), ('store'), ('chat'), ('email'), ('sms'), ('phone')) h(ch),
     (VALUES ('visit'), ('complaint'), ('support'), ('survey'), ('campaign'), ('inquiry')) y(ty),
     (VALUES ('declined'), ('accepted')) oo(o);
"""


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(SCHEMA)
    con.execute(DATA)
    return con


def _rows(con, table="f") -> dict[str, dict]:
    df = con.execute(f"SELECT * FROM {table} ORDER BY customer_id").df()
    return {r["customer_id"]: r for r in df.to_dict("records")}


def test_output_has_the_documented_columns_and_population():
    con = _con()
    names = build_features(con, AS_OF, "f")
    assert names == list(FEATURE_COLUMNS)
    assert [r[0] for r in con.execute("DESCRIBE f").fetchall()] == ["customer_id", *FEATURE_COLUMNS]
    # G4 signed up on the as-of date and G5 has no signup date: neither existed before as_of.
    assert [r[0] for r in con.execute("SELECT customer_id FROM f").fetchall()] == ["G1", "G2", "G3"]
    filled = [c for c in FEATURE_COLUMNS if c not in BTYD_OUTPUTS]
    nulls = con.execute("SELECT " + " + ".join(f"count(*) - count({c})" for c in filled) + " FROM f").fetchone()[0]
    assert nulls == 0
    # three customers are too few to fit BG/NBD: its outputs are missing (XGBoost reads NaN), never invented
    outputs = con.execute("SELECT " + " + ".join(f"count({c})" for c in BTYD_OUTPUTS) + " FROM f").fetchone()[0]
    assert outputs == 0


def test_feature_values_match_a_hand_computation():
    con = _con()
    build_features(con, AS_OF, "f")
    g1 = _rows(con)["G1"]
    expected = {
        "tenure_days": 731, "days_since_last_purchase": 12, "days_since_first_purchase": 580,
        "purchases_30d": 1, "purchases_90d": 2, "purchases_365d": 3, "purchases_total": 4,
        "spend_30d": 100.0, "spend_90d": 150.0, "spend_365d": 180.0, "spend_total": 380.0,
        "avg_order_value_365d": 60.0, "returns_365d": 1, "return_rate_365d": 0.25,
        "discount_orders_365d": 1, "days_since_last_discount": 12,
        "distinct_categories_365d": 2, "avg_unit_price_365d": 30.0, "max_unit_price_365d": 50.0,
        "interactions_web_90d": 1, "interactions_app_90d": 0, "interactions_store_90d": 0,
        "interactions_chat_90d": 1, "interactions_email_90d": 0, "interactions_sms_90d": 0,
        "interactions_phone_90d": 2, "visits_30d": 1, "complaints_30d": 1, "complaints_90d": 1,
        "negative_notes_90d": 1, "support_contacts_90d": 2, "avg_csat_365d": 3.0, "last_nps": 9,
        # I6 (declined 3 days before the as-of date) has not settled: only I8 counts, like I7's accept.
        "campaign_contacts_180d": 2, "campaign_accepts_365d": 1, "campaign_declines_365d": 1,
        "days_since_last_decline": 306, "contacts_email_7d": 1, "contacts_email_30d": 1,
        "contacts_sms_7d": 0, "contacts_sms_30d": 1, "contacts_phone_7d": 0, "contacts_phone_30d": 0,
        "contacts_app_7d": 0, "contacts_app_30d": 0,
        "reachable_email": True, "reachable_sms": True, "reachable_phone": True, "reachable_app": True,
    }
    assert {k: g1[k] for k in expected} == expected
    assert g1["spend_trend_90d"] == pytest.approx((150 - 30) / 180)
    assert g1["discount_share_365d"] == pytest.approx(1 / 3)
    assert g1["top_category_share_365d"] == pytest.approx(2 / 3)


def test_customers_without_events_get_zeros_and_sentinels():
    con = _con()
    build_features(con, AS_OF, "f")
    rows = _rows(con)
    g2 = rows["G2"]
    assert g2["tenure_days"] == 31 and g2["purchases_total"] == 0 and g2["spend_total"] == 0.0
    assert g2["days_since_last_purchase"] == g2["days_since_last_discount"] == NEVER_DAYS
    assert g2["avg_csat_365d"] == -1 and g2["last_nps"] == -1 and g2["return_rate_365d"] == 0.0
    assert (g2["reachable_email"], g2["reachable_sms"], g2["reachable_phone"], g2["reachable_app"]) == (False, True, False, True)
    g3 = rows["G3"]  # do_not_contact blocks every channel
    assert not any(g3[f"reachable_{c}"] for c in ("email", "sms", "phone", "app"))
    # The catalog's suitability rule must hold for somebody never discounted.
    assert con.execute("SELECT count(*) FROM f WHERE days_since_last_discount > 30").fetchone()[0] == 2


def test_events_at_or_after_as_of_change_nothing():
    con = _con()
    build_features(con, AS_OF, "before")
    con.execute(FUTURE_EVENTS)
    build_features(con, AS_OF, "after")
    assert con.execute("SELECT count(*) FROM interactions WHERE interaction_ts >= TIMESTAMP '2025-01-01'").fetchone()[0] > 0
    assert con.execute("SELECT * FROM before").fetchall() == con.execute("SELECT * FROM after").fetchall()


def test_an_event_the_day_before_as_of_changes_features():
    con = _con()
    build_features(con, AS_OF, "before")
    con.execute("""
        INSERT INTO purchases VALUES ('N1', 'G2', '2024-12-31 23:59:59', 40, 1, 'P9', 'toys', 'web', 4, 'completed');
        INSERT INTO interactions VALUES ('N2', 'G2', '2024-12-31 08:00', 'phone', 'complaint', NULL, NULL,
                                         'Não resolveu o problema', NULL, NULL)""")
    build_features(con, AS_OF, "after")
    before, after = _rows(con, "before")["G2"], _rows(con, "after")["G2"]
    changed = {k for k in FEATURE_COLUMNS if before[k] != after[k]}
    assert {"days_since_last_purchase", "purchases_30d", "spend_30d", "days_since_last_discount",
            "complaints_30d", "negative_notes_90d", "interactions_phone_90d"} <= changed
    assert after["days_since_last_purchase"] == 1 and after["spend_30d"] == 40.0
    # G1's own features are untouched; BG/NBD's outputs are a population model's, which G2's order may move
    own = lambda row: {k: v for k, v in row.items() if k not in BTYD_OUTPUTS}  # noqa: E731
    assert own(_rows(con, "before")["G1"]) == own(_rows(con, "after")["G1"])


def test_missing_optional_columns_and_empty_interactions_still_give_every_feature():
    con = duckdb.connect()
    con.execute("""
        CREATE TABLE cust AS SELECT * FROM (VALUES ('A', DATE '2024-01-01')) t(customer_id, signup_date);
        CREATE TABLE buys AS SELECT * FROM (VALUES ('A', TIMESTAMP '2024-12-10 10:00', 25.0)) t(customer_id, order_ts, amount);
        CREATE TABLE touches (customer_id VARCHAR, interaction_ts TIMESTAMP);""")
    build_features(con, AS_OF, "f", customers="cust", purchases="buys", interactions="touches")
    row = _rows(con)["A"]
    assert set(FEATURE_COLUMNS) <= set(row)
    assert row["purchases_30d"] == 1 and row["spend_365d"] == 25.0 and row["avg_unit_price_365d"] == 25.0
    assert row["distinct_categories_365d"] == 0 and row["top_category_share_365d"] == 0.0
    assert row["complaints_90d"] == 0 and row["days_since_last_decline"] == NEVER_DAYS
    assert not row["reachable_email"] and not row["reachable_app"]


def test_population_restricts_rows_and_bad_inputs_are_named():
    con = _con()
    con.execute("CREATE TABLE pop AS SELECT 'G2' AS customer_id")
    build_features(con, AS_OF, "f", population="pop")
    assert con.execute("SELECT customer_id FROM f").fetchall() == [("G2",)]
    with pytest.raises(ValueError, match="'nope' does not exist"):
        build_features(con, AS_OF, "f", purchases="nope")
    con.execute("CREATE TABLE no_ts AS SELECT 'G1' AS customer_id")
    with pytest.raises(ValueError, match="no_ts.*order_ts"):
        build_features(con, AS_OF, "f", purchases="no_ts")


def test_a_custom_lexicon_file_drives_negative_notes(tmp_path):
    con = _con()
    con.execute("INSERT INTO interactions VALUES ('L1', 'G2', '2024-12-20 10:00', 'chat', 'inquiry', NULL, NULL, 'meh', NULL, NULL)")
    build_features(con, AS_OF, "f")
    assert _rows(con)["G2"]["negative_notes_90d"] == 0
    lexicon = tmp_path / "lex.yaml"
    lexicon.write_text('negators: ["no"]\nnegative: [meh]\nnegative_phrases: [cold soup]\npositive: [tasty]\n')
    build_features(con, AS_OF, "f", lexicon=lexicon)
    assert _rows(con)["G2"]["negative_notes_90d"] == 1


@pytest.mark.parametrize("outcome, column", [("accepted", "campaign_accepts_365d"), ("converted", "campaign_accepts_365d"),
                                             ("declined", "campaign_declines_365d")])
def test_every_contact_outcome_counts_only_once_it_has_settled(outcome, column):
    """An outcome is written on the contact row days after the contact: accepts and declines alike count only
    for contacts at least OUTCOME_SETTLE_DAYS before the as-of date (fails if either side reads younger ones)."""
    from models.features.customer_features import OUTCOME_SETTLE_DAYS

    con = _con()
    build_features(con, AS_OF, "before")
    base = _rows(con, "before")["G2"]
    for age, counted in ((OUTCOME_SETTLE_DAYS - 1, False), (OUTCOME_SETTLE_DAYS, False), (OUTCOME_SETTLE_DAYS + 1, True)):
        ts = f"TIMESTAMP '{AS_OF}' - INTERVAL {age} DAY"
        con.execute(f"INSERT INTO interactions VALUES ('S{age}', 'G2', {ts}, 'email', 'campaign', 'winback', "
                    f"'{outcome}', NULL, NULL, NULL)")
        build_features(con, AS_OF, f"after_{age}")
        row = _rows(con, f"after_{age}")["G2"]
        assert row[column] == base[column] + int(counted), (age, row[column])
        if outcome == "declined":
            assert row["days_since_last_decline"] == (age if counted else base["days_since_last_decline"])
        con.execute(f"DELETE FROM interactions WHERE interaction_id = 'S{age}'")


def test_feature_coverage_counts_missing_foreign_and_duplicated_rows():
    import duckdb

    from models.features.customer_features import feature_coverage

    with duckdb.connect() as con:
        con.execute("CREATE TABLE golden_customers AS SELECT * FROM (VALUES ('a'), ('b'), ('c')) t(customer_id)")
        con.execute("CREATE TABLE customer_features AS SELECT * FROM (VALUES ('a'), ('b'), ('c')) t(customer_id)")
        assert set(feature_coverage(con).values()) == {0}
        con.execute("DELETE FROM customer_features WHERE customer_id = 'c'")
        con.execute("INSERT INTO customer_features VALUES ('a'), ('z')")
        assert feature_coverage(con) == {"customers_without_features": 1, "rows_of_unknown_customers": 1,
                                         "duplicated_customers": 1}
