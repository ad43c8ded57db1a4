"""Golden record: normalisation rules, duplicate resolution, consent merge and re-keyed events."""
from __future__ import annotations

import duckdb
import pytest

from models.golden.resolve import normalize_email_sql, normalize_phone_sql, resolve_golden_records

CUSTOMER_COLUMNS = (
    "customer_id VARCHAR, signup_date DATE, source_system VARCHAR, email VARCHAR, phone VARCHAR, "
    "first_name VARCHAR, last_name VARCHAR, birth_year INTEGER, region VARCHAR, segment VARCHAR, "
    "consent_email BOOLEAN, consent_sms BOOLEAN, consent_phone BOOLEAN, consent_app BOOLEAN, "
    "do_not_contact BOOLEAN, preferred_channel VARCHAR, updated_at TIMESTAMP, _source_row BIGINT"
)

# id, signup, system, email, phone, first, last, consents (email, sms, phone, app), dnc, updated_at
CUSTOMERS = [
    # A-email-B-phone-C chain: one person, golden id C1 (earliest signup).
    ("C1", "2024-01-01", "crm", " Ana.Garcia@Mail.com ", "+34 612 345 678", "Ana", "García", True, True, True, True, False, "2024-01-01"),
    ("C2", "2024-03-01", "shop", "ana.garcia@mail.com", "699 111 222", "Ana María", None, True, False, True, True, False, "2024-06-01"),
    ("C3", "2024-05-01", "app", "", "0034 699-111-222", None, "García López", True, True, None, True, True, "2024-02-01"),
    # Placeholder emails / phones: nobody here links to anybody.
    ("C4", "2024-01-05", "crm", "n/a", "", "Luis", "Pérez", True, True, True, True, False, "2024-01-05"),
    ("C5", "2024-01-06", "crm", "N/A", "n/a", "Marta", "Ruiz", True, True, True, True, False, "2024-01-06"),
    ("C6", "2024-01-07", "crm", "noemail@noemail.com", "123", "João", "Silva", True, True, True, True, False, "2024-01-07"),
    ("C7", "2024-01-08", "shop", "NoEmail@noemail.com", "123", "Maria", "Souza", True, True, True, True, False, "2024-01-08"),
    ("C8", "2024-01-09", "shop", "-", "000000000", "Pedro", "Costa", True, True, True, True, False, "2024-01-09"),
    ("C9", "2024-01-10", "shop", None, "000-000-000", "Rita", "Alves", True, True, True, True, False, "2024-01-10"),
    # Same signup date: the tie goes to the smaller customer_id (C10 < C11).
    ("C11", "2024-02-01", "shop", "bob@x.org", "+44 (0)20 7946 0958", "Bob", "Smith", True, True, True, True, False, "2024-02-02"),
    ("C10", "2024-02-01", "crm", "BOB@X.ORG", "020 7946 0958", "Robert", "Smith", True, True, True, True, False, "2024-02-01"),
    # A customer without duplicates keeps its id.
    ("C12", "2023-06-01", "crm", "solo@y.com", "+351 912 345 678", "Solo", "Uno", False, True, False, False, False, "2023-06-01"),
]


def _customers_con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE stg_customers ({CUSTOMER_COLUMNS})")
    for i, (cid, signup, system, email, phone, first, last, ce, cs, cp, ca, dnc, updated) in enumerate(CUSTOMERS, 1):
        con.execute(
            "INSERT INTO stg_customers VALUES (?, ?, ?, ?, ?, ?, ?, 1980, 'norte', 'retail', ?, ?, ?, ?, ?, 'email', ?, ?)",
            [cid, signup, system, email, phone, first, last, ce, cs, cp, ca, dnc, updated, i],
        )
    con.execute("""
        CREATE TABLE stg_purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, amount DOUBLE,
          quantity INTEGER, product_id VARCHAR, category VARCHAR, channel VARCHAR, discount_amount DOUBLE,
          status VARCHAR, _source_row BIGINT);
        INSERT INTO stg_purchases VALUES
          ('O1', 'C2', '2024-07-01 10:00', 50.0, 1, 'P1', 'shoes', 'web', 0, 'completed', 1),
          ('O2', 'C3', '2024-07-02 10:00', 20.0, 2, 'P2', 'socks', 'store', 5, 'completed', 2),
          ('O3', 'C12', '2024-07-03 10:00', 99.0, 1, 'P3', 'coats', 'web', 0, 'returned', 3),
          ('O4', 'GHOST', '2024-07-04 10:00', 10.0, 1, 'P4', 'hats', 'web', 0, 'completed', 4);
        CREATE TABLE stg_interactions (interaction_id VARCHAR, customer_id VARCHAR, interaction_ts TIMESTAMP,
          channel VARCHAR, type VARCHAR, action_id VARCHAR, outcome VARCHAR, note_text VARCHAR, csat INTEGER,
          nps INTEGER, _source_row BIGINT);
        INSERT INTO stg_interactions VALUES
          ('I1', 'C11', '2024-07-01 09:00', 'chat', 'complaint', NULL, NULL, 'llegó roto', NULL, NULL, 1),
          ('I2', 'C1', '2024-07-02 09:00', 'email', 'campaign', 'winback', 'accepted', NULL, NULL, NULL, 2);""")
    return con


@pytest.fixture(scope="module")
def resolved():
    con = _customers_con()
    result = resolve_golden_records(con)
    yield con, result
    con.close()


def _golden_of(con) -> dict[str, str]:
    return dict(con.execute("SELECT source_customer_id, golden_id FROM customer_crosswalk").fetchall())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+34 612 345 678", "612345678"), ("0034612345678", "612345678"), ("612-345-678", "612345678"),
        ("(612) 345 678", "612345678"), ("+351 912 345 678", "912345678"), ("912345678", "912345678"),
        ("+55 11 98765-4321", "11987654321"), ("(11) 98765-4321", "11987654321"),
        ("+1 (415) 555-0100", "4155550100"), ("+44 (0)20 7946 0958", "2079460958"), ("020 7946 0958", "2079460958"),
        ("+39 06 9876 5432", "698765432"), ("", None), ("n/a", None), ("123", None), ("000000000", None),
        ("123456789", None), ("612345678 / 699111222 / 655", None), (None, None),
    ],
)
def test_normalize_phone_gives_the_national_significant_number(raw, expected):
    got = duckdb.connect().execute(f"SELECT {normalize_phone_sql('x')} FROM (SELECT ?::VARCHAR AS x)", [raw]).fetchone()[0]
    assert got == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ana.Garcia@Mail.COM ", "ana.garcia@mail.com"), ("ana .garcia@mail.com", "ana.garcia@mail.com"),
        ("", None), ("n/a", None), ("N/A", None), ("noemail@noemail.com", None), ("no@tienda.es", None),
        ("sin correo", None), ("ana@mail", None), ("a@@b.com", None), (None, None),
    ],
)
def test_normalize_email_lowercases_and_drops_placeholders(raw, expected):
    got = duckdb.connect().execute(f"SELECT {normalize_email_sql('x')} FROM (SELECT ?::VARCHAR AS x)", [raw]).fetchone()[0]
    assert got == expected


def test_duplicates_resolve_to_the_earliest_record(resolved):
    con, result = resolved
    golden = _golden_of(con)
    assert golden["C1"] == golden["C2"] == golden["C3"] == "C1"  # email variant, then phone: transitive
    assert golden["C10"] == golden["C11"] == "C10"  # same signup date: smaller id wins
    assert golden["C12"] == "C12"
    for cid in ("C4", "C5", "C6", "C7", "C8", "C9"):  # placeholders never link
        assert golden[cid] == cid
    assert (result.source_records, result.golden_customers, result.merged_groups) == (12, 9, 2)


def test_golden_customer_merges_consent_conservatively_and_takes_latest_contact(resolved):
    con, _ = resolved
    row = con.execute("SELECT * FROM golden_customers WHERE customer_id = 'C1'").df().iloc[0]
    assert row["signup_date"].isoformat()[:10] == "2024-01-01"
    assert row["email"] == "ana.garcia@mail.com"
    assert row["phone"] == "+34699111222"  # C2 (updated 2024-06-01) is the latest record with a phone, in E.164
    assert row["first_name"] == "Ana María" and row["last_name"] == "García López"
    assert not row["consent_sms"]  # C2 said no
    assert not row["consent_phone"]  # C3 left it missing
    assert row["consent_email"] and row["consent_app"]
    assert row["do_not_contact"]  # C3 asked not to be contacted
    assert row["n_source_records"] == 3
    placeholder = con.execute("SELECT email, phone FROM golden_customers WHERE customer_id = 'C5'").fetchone()
    assert placeholder == (None, None)


def test_golden_tables_follow_the_architecture_columns(resolved):
    con, _ = resolved
    cols = [r[0] for r in con.execute("DESCRIBE golden_customers").fetchall()]
    assert cols == [
        "customer_id", "signup_date", "email", "phone", "first_name", "last_name", "birth_year", "region", "segment",
        "consent_email", "consent_sms", "consent_phone", "consent_app", "do_not_contact", "preferred_channel",
        "n_source_records", "phone_country", "country", "time_zone", "language",
    ]
    assert [r[0] for r in con.execute("DESCRIBE customer_crosswalk").fetchall()] == [
        "source_system", "source_customer_id", "golden_id"]
    assert [r[0] for r in con.execute("DESCRIBE purchases").fetchall()] == [
        "order_id", "customer_id", "order_ts", "amount", "quantity", "product_id", "category", "channel",
        "discount_amount", "status"]
    assert "_source_row" not in [r[0] for r in con.execute("DESCRIBE interactions").fetchall()]


def test_events_are_rekeyed_to_the_golden_id(resolved):
    con, _ = resolved
    purchases = dict(con.execute("SELECT order_id, customer_id FROM purchases").fetchall())
    assert purchases == {"O1": "C1", "O2": "C1", "O3": "C12", "O4": "GHOST"}
    interactions = dict(con.execute("SELECT interaction_id, customer_id FROM interactions").fetchall())
    assert interactions == {"I1": "C10", "I2": "C1"}


def test_long_chain_converges_and_rerun_is_identical():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE stg_customers ({CUSTOMER_COLUMNS})")
    # 40 records, each sharing an email with the previous one and a phone with the next one.
    con.execute("""
        INSERT INTO stg_customers
        SELECT 'K' || lpad(i::VARCHAR, 3, '0'), DATE '2024-01-01' + (40 - i)::INTEGER, 'crm',
               'p' || (i // 2) || '@m.com', '6' || lpad(((i + 1) // 2)::VARCHAR, 8, '7'),
               NULL, NULL, NULL, NULL, NULL, true, true, true, true, false, NULL, TIMESTAMP '2024-01-01', i
        FROM range(40) t(i)""")
    con.execute("CREATE TABLE stg_purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP, _source_row BIGINT)")
    con.execute("CREATE TABLE stg_interactions (interaction_id VARCHAR, customer_id VARCHAR, interaction_ts TIMESTAMP, _source_row BIGINT)")
    first = resolve_golden_records(con)
    snapshot = con.execute("SELECT * FROM golden_customers").fetchall()
    assert first.golden_customers == 1 and first.merged_groups == 1
    assert snapshot[0][0] == "K039"  # latest index has the earliest signup date
    resolve_golden_records(con)
    assert con.execute("SELECT * FROM golden_customers").fetchall() == snapshot


def test_email_on_many_customers_links_nobody():
    con = duckdb.connect()
    con.execute(f"CREATE TABLE stg_customers ({CUSTOMER_COLUMNS})")
    con.execute("""
        INSERT INTO stg_customers
        SELECT 'S' || i, DATE '2024-01-01', 'crm', 'tienda@shop.com', NULL, NULL, NULL, NULL, NULL, NULL,
               true, true, true, true, false, NULL, NULL, i
        FROM range(12) t(i)""")
    con.execute("CREATE TABLE stg_purchases (order_id VARCHAR, customer_id VARCHAR, order_ts TIMESTAMP)")
    con.execute("CREATE TABLE stg_interactions (interaction_id VARCHAR, customer_id VARCHAR, interaction_ts TIMESTAMP)")
    result = resolve_golden_records(con, max_customers_per_key=10)
    assert (result.golden_customers, result.merged_groups, result.shared_keys_ignored) == (12, 0, 1)
