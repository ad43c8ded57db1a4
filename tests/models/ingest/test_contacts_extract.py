"""The optional contacts feedback extract is loaded, typed and quarantined like every other extract."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from tests.data_contracts.helpers import BAD, GOOD, architecture_columns, good_landing, quarantine_rows, stage_landing


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_good_contacts_stage_whole_typed_and_normalised(con, tmp_path):
    results = stage_landing(con, good_landing(tmp_path, contacts__csv=GOOD / "contacts.csv"), max_bad_row_share=0.0)
    assert (results["contacts"].rows_in, results["contacts"].rows_accepted) == (7, 7)
    described = [(name, type_) for name, type_, *_ in con.execute("DESCRIBE stg_contacts").fetchall()]
    assert described == architecture_columns("stg_contacts")
    assert con.execute("SELECT customer_id, channel, status, status_at FROM stg_contacts "
                       "WHERE customer_id IN ('C001', 'C005') ORDER BY status_at").fetchall() == [
        ("C001", "email", "sent", dt.datetime(2026, 11, 1, 7, 10)),  # ISO 8601 with Z, read as UTC
        ("C001", "email", "delivered", dt.datetime(2026, 11, 1, 7, 10, 42)),
        ("C005", "call", "wrong_number", dt.datetime(2026, 11, 2, 12, 0)),  # day-first date, "CALL" lower-cased
        ("C001", "email", "opened", dt.datetime(2026, 11, 2, 19, 3))]  # "Email" lower-cased


def test_each_bad_contacts_row_is_quarantined_under_its_rule(con, tmp_path):
    results = stage_landing(con, good_landing(tmp_path, contacts__csv=BAD / "contacts_one_rule_each.csv"))
    assert [(row, rule, column) for row, rule, column, _ in quarantine_rows(con, "contacts")] == [
        (2, "required_missing", "campaign_id"), (3, "unknown_channel", "channel"), (4, "unknown_status", "status"),
        (5, "future_timestamp", "status_at"), (6, "unknown_customer", "customer_id"),
        (7, "unparsable_date", "status_at"),
        (8, "duplicate_conflict", "campaign_id,customer_id,action_id,status,status_at"),
        (9, "duplicate_conflict", "campaign_id,customer_id,action_id,status,status_at")]
    assert con.execute("SELECT customer_id, status FROM stg_contacts").fetchall() == [("C001", "delivered")]
    assert results["contacts"].rows_quarantined == 8


def test_without_a_contacts_file_the_extract_stages_zero_rows(con, tmp_path):
    results = stage_landing(con, good_landing(tmp_path))
    assert "contacts" not in results  # not delivered: the raw asset loads it as 0 rows (load_raw with no files)
