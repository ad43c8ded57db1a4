"""The opt-out ledger: a "no" from any delivered row — accepted, quarantined, or from an earlier night — wins."""
from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import load_contract
from models.exports.opt_outs import blocked_rows, raw_opt_out_keys
from models.golden.consent import LEDGER, honour_delivered_consent
from models.golden.resolve import CONSENTS, resolve_golden_records
from models.ingest.staging import QUARANTINE_DDL
from tests.models.golden.test_golden_record import CUSTOMER_COLUMNS

AS_OF = date(2026, 11, 1)
CONTRACT = load_contract("customers")
YES = dict(consent_email=True, consent_sms=True, consent_phone=True, consent_app=True, do_not_contact=False)


def record(cid, email=None, phone=None, system="crm", updated="2026-10-01 09:00:00", **flags) -> dict:
    return {"customer_id": cid, "signup_date": "2024-01-01", "source_system": system, "email": email, "phone": phone,
            "updated_at": updated, **YES, **flags}


def deliver(con, accepted: list[dict], quarantined: list[tuple[str, dict]]) -> None:
    """Tonight's stg_customers and customers quarantine (rule, record as JSON, values as delivered strings)."""
    con.execute(f"CREATE OR REPLACE TABLE stg_customers ({CUSTOMER_COLUMNS})")
    for i, r in enumerate(accepted, 1):
        con.execute("INSERT INTO stg_customers (customer_id, signup_date, source_system, email, phone, consent_email, "
                    "consent_sms, consent_phone, consent_app, do_not_contact, updated_at, _source_row) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [r["customer_id"], r["signup_date"], r["source_system"], r["email"], r["phone"], r["consent_email"],
                     r["consent_sms"], r["consent_phone"], r["consent_app"], r["do_not_contact"], r["updated_at"], i])
    con.execute("CREATE OR REPLACE TABLE stg_purchases (customer_id VARCHAR, _source_row BIGINT)")
    con.execute("CREATE OR REPLACE TABLE stg_interactions (customer_id VARCHAR, _source_row BIGINT)")
    con.execute(QUARANTINE_DDL)
    con.execute("DELETE FROM quarantine")
    for i, (rule, r) in enumerate(quarantined, 1):
        delivered = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in r.items()}
        con.execute("INSERT INTO quarantine VALUES ('customers', 'customers.csv', ?, ?, NULL, NULL, ?)",
                    [i, rule, json.dumps(delivered)])


def night(con, accepted, quarantined=(), as_of=AS_OF) -> dict[str, dict]:
    deliver(con, accepted, list(quarantined))
    resolve_golden_records(con)
    honour_delivered_consent(con, CONTRACT, as_of)
    frame = con.execute(f"SELECT customer_id, {', '.join(CONSENTS)}, do_not_contact FROM golden_customers").df()
    return frame.set_index("customer_id").to_dict("index")


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("rule, extra", [
    ("future_timestamp", {"updated_at": "2026-11-02 00:30:00"}),
    ("duplicate_conflict", {}),
    ("superseded", {"updated_at": "2026-01-01 00:00:00"}),
    ("invalid_boolean", {"consent_sms": "maybe"}),
    ("date_out_of_range", {"signup_date": "0001-01-01"}),
])
def test_a_quarantined_no_linked_by_email_turns_consent_off(con, rule, extra):
    quarantined = record("SHOP9", email="Ana@Mail.com ", system="shop", consent_email=False, **extra)
    golden = night(con, [record("C1", email="ana@mail.com")], [(rule, quarantined)])
    assert golden["C1"]["consent_email"] is False
    assert golden["C1"]["consent_app"] is True  # the quarantined row's other consents say yes


def test_a_quarantined_do_not_contact_linked_by_customer_id_and_by_phone(con):
    golden = night(con, [record("C1"), record("C2", phone="+34 612 345 678")],
                   [("future_timestamp", record("C1", system="web", do_not_contact=True, updated_at="2026-11-05")),
                    ("required_missing", record(None, phone="612345678", consent_phone=False))])
    assert golden["C1"]["do_not_contact"] is True
    assert golden["C2"]["consent_phone"] is False and golden["C2"]["consent_email"] is True


def test_an_opt_out_persists_when_a_later_extract_omits_the_record(con):
    night(con, [record("C1", email="a@b.com")], [("future_timestamp", record("X", email="a@b.com", consent_sms=False,
                                                                             updated_at="2026-11-02 01:00:00"))])
    later = night(con, [record("C1", email="a@b.com")], [], as_of=date(2026, 11, 2))
    assert later["C1"]["consent_sms"] is False
    assert con.execute(f"SELECT count(*) FROM {LEDGER}").fetchone()[0] == 2  # one row per state, only added to


def test_a_reconsent_wins_only_from_a_newer_accepted_row_dated_by_the_as_of_date(con):
    night(con, [record("C1", consent_email=False, updated_at="2026-10-01 00:00:00")])
    assert night(con, [record("C1", updated_at="2026-10-20 00:00:00")], as_of=date(2026, 11, 2))["C1"]["consent_email"]
    con.execute(f"DELETE FROM {LEDGER}")
    night(con, [record("C1", consent_email=False, updated_at="2026-10-01 00:00:00")])
    # Neither an accepted yes older than the no nor a (quarantined) yes dated after the as-of date re-consents.
    golden = night(con, [record("C1", updated_at="2026-09-01 00:00:00")],
                   [("future_timestamp", record("C1", updated_at="2026-11-10 00:00:00"))], as_of=date(2026, 11, 2))
    assert golden["C1"]["consent_email"] is False


def test_a_key_shared_by_many_customers_links_nobody(con):
    accepted = [record(f"C{i}", phone="600 000 111") for i in range(11)]
    golden = night(con, accepted, [("future_timestamp", record("Z", phone="600000111", consent_sms=False,
                                                                updated_at="2026-11-03"))])
    assert all(person["consent_sms"] for person in golden.values())


def test_the_independent_check_flags_what_the_ledger_forbids(con, tmp_path):
    night(con, [record("C1", email="a@b.com"), record("C2", email="c@d.com")],
          [("duplicate_conflict", record("X", email="A@B.com", consent_email=False))])
    listed = tmp_path / "erase.csv"
    listed.write_text("phone\n+34 699 111 222\n", encoding="utf-8")
    con.execute("UPDATE stg_customers SET phone = '699111222' WHERE customer_id = 'C2'")
    blocked = raw_opt_out_keys(con, AS_OF, CONTRACT, listed)
    rows = pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["a@b.com", "c@d.com"]})
    opted_out, erased = blocked_rows(rows, "email", blocked)
    assert opted_out.tolist() == [True, False] and erased.tolist() == [False, True]
    assert blocked_rows(rows, "sms", blocked)[0].tolist() == [False, False]


# A record: (customer id index, email index or None, status, consent bits, do-not-contact, night 1 / 2 / both)
RECORDS = st.lists(st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(0, 3)),
                             st.sampled_from(["accepted", "future_timestamp", "duplicate_conflict", "invalid_boolean"]),
                             st.tuples(*[st.booleans()] * 4), st.booleans(), st.sampled_from([1, 2, 3])),
                   min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS)
def test_any_no_anywhere_is_never_allowed_on_that_channel(records):
    """Without updated_at no re-consent is possible: every "no" delivered on either night must hold on night 2,
    in the golden record and in the independent check of an export listing everyone the golden record allows."""
    with duckdb.connect() as con:
        deliveries = {1: ([], []), 2: ([], [])}
        noes = []  # every delivered row (one accepted copy per source record and night, as staging keeps)
        for cid, email, status, consents, dnc, nights in records:
            r = record(f"C{cid}", email=f"p{email}@mail.com" if email is not None else None, updated=None,
                       **dict(zip(CONSENTS, consents)), do_not_contact=dnc)
            if status == "invalid_boolean":
                r["consent_app"] = "maybe"  # unreadable: no consent
            for n in (1, 2):
                if nights not in (n, 3):
                    continue
                if status != "accepted":
                    deliveries[n][1].append((status, r))
                elif r["customer_id"] not in {a["customer_id"] for a in deliveries[n][0]}:
                    deliveries[n][0].append(r)
                else:
                    continue
                noes.append(r)
        for n in (1, 2):
            night(con, deliveries[n][0], deliveries[n][1], as_of=date(2026, 11, n))
        golden = con.execute(f"SELECT customer_id, {', '.join(CONSENTS)}, do_not_contact FROM golden_customers").df()
        crosswalk = dict(con.execute("SELECT source_customer_id, golden_id FROM customer_crosswalk").fetchall())
        emails = con.execute("SELECT email, customer_id FROM stg_customers WHERE email IS NOT NULL").fetchall()
        allowed = golden.set_index("customer_id")
        for r in noes:
            people = {crosswalk.get(r["customer_id"])} | {crosswalk[c] for e, c in emails if e == r["email"]}
            for person in people - {None}:
                for consent in CONSENTS:
                    if r[consent] is not True or r["do_not_contact"]:
                        assert not allowed.at[person, consent] or allowed.at[person, "do_not_contact"], (r, consent)
        blocked = raw_opt_out_keys(con, date(2026, 11, 2), CONTRACT, None)
        for consent in CONSENTS:
            listed = golden[golden[consent] & ~golden["do_not_contact"]][["customer_id"]]
            opted_out, _ = blocked_rows(listed, consent.removeprefix("consent_"), blocked)
            assert not opted_out.any(), (consent, listed[opted_out])


def _tool_reports(con, rows: list[tuple[str, str, str, str]], quarantined: list[dict] = ()) -> None:
    """Tonight's contacts extract: (customer_id, channel, status, status_at) rows, and quarantined ones."""
    con.execute("CREATE OR REPLACE TABLE stg_contacts (campaign_id VARCHAR, customer_id VARCHAR, action_id VARCHAR, "
                "channel VARCHAR, status VARCHAR, status_at TIMESTAMP)")
    for cid, channel, status, at in rows:
        con.execute("INSERT INTO stg_contacts VALUES ('nba-1', ?, 'a', ?, ?, ?)", [cid, channel, status, at])
    for i, r in enumerate(quarantined, 1):
        con.execute("INSERT INTO quarantine VALUES ('contacts', 'contacts.csv', ?, 'invalid_timestamp', NULL, NULL, ?)",
                    [i, json.dumps(r)])


def test_a_tools_unsubscribe_is_an_opt_out_on_its_channel_that_no_customer_row_re_consents(con):
    deliver(con, [record("C1"), record("C2"), record("C3"), record("C4")], [])
    _tool_reports(con, [("C1", "sms", "unsubscribed", "2026-10-20 10:00:00"),
                        ("C2", "call", "unsubscribed", "2026-12-20 10:00:00"),  # after the as-of date: still honoured
                        ("C4", "email", "opened", "2026-10-20 10:00:00")],
                  [{"customer_id": "C3", "channel": "???", "status": "Unsubscribed", "status_at": "not a date"}])
    resolve_golden_records(con)
    honour_delivered_consent(con, CONTRACT, AS_OF)
    golden = con.execute(f"SELECT customer_id, {', '.join(CONSENTS)} FROM golden_customers").df().set_index(
        "customer_id").to_dict("index")
    assert golden["C1"] == {**{c: True for c in CONSENTS}, "consent_sms": False}
    assert golden["C2"] == {**{c: True for c in CONSENTS}, "consent_phone": False}
    assert not any(golden["C3"].values())  # a quarantined row whose channel cannot be read: every channel
    assert all(golden["C4"].values())
    blocked = raw_opt_out_keys(con, AS_OF, CONTRACT, None)
    assert {("c:C1", "sms"), ("c:C2", "phone"), ("c:C3", "email")} <= set(map(tuple, blocked[["key", "channel"]].to_numpy()))
    # a newer customers row saying yes is not a re-consent of the tool's "no", which the ledger keeps without the extract
    con.execute("DROP TABLE stg_contacts")
    later = night(con, [record("C1", updated="2026-11-05 00:00:00"), record("C2"), record("C3"), record("C4")],
                  as_of=date(2026, 11, 6))
    assert later["C1"]["consent_sms"] is False and later["C2"]["consent_phone"] is False
