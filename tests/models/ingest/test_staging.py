"""models.ingest.staging: typing extracts, applying defaults and quarantining each bad row under one named rule."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta

import duckdb
import pytest

from data_contracts import CONTRACTS_DIR, ContractError, load_contract, load_suite
from models.ingest.load import load_raw
from models.ingest.staging import stage_extract
from tests.data_contracts.helpers import (
    AS_OF, BAD, GOOD, architecture_columns, good_landing, load_again, quarantine_rows, stage_landing,
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def stage_with(con, tmp_path, *, max_bad_row_share=1.0, max_future_days=0, **files):
    """Stage the good landing with some files replaced (purchases__csv=BAD / '...')."""
    results = stage_landing(con, good_landing(tmp_path, **files), max_bad_row_share=max_bad_row_share,
                            max_future_days=max_future_days)
    for result in results.values():
        assert result.rows_in == result.rows_accepted + result.rows_quarantined
        assert sum(result.quarantined_by_rule.values()) == result.rows_quarantined
    assert work_tables(con) == []
    return results


def work_tables(con) -> list[str]:
    """The tables and views staging works in (`_stage_<extract>` and its temp tables): none once it is done."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_stage') "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE starts_with(view_name, '_stage')").fetchall()]


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


# ---------------------------------------------------------------- good extracts
def test_good_extracts_are_accepted_whole_with_the_architecture_schema(con, tmp_path):
    results = stage_with(con, tmp_path, max_bad_row_share=0.0)
    assert {k: (r.rows_in, r.rows_accepted, r.rows_quarantined) for k, r in results.items()} == {
        "customers": (6, 6, 0), "purchases": (8, 8, 0), "interactions": (8, 8, 0)}
    for extract in results:
        described = [(name, type_) for name, type_, *_ in con.execute(f"DESCRIBE stg_{extract}").fetchall()]
        assert described == architecture_columns(f"stg_{extract}")


def test_contract_defaults_and_normalisation_are_applied(con, tmp_path):
    stage_with(con, tmp_path)
    customers = {r["customer_id"]: r for r in rows(con, "SELECT * FROM stg_customers")}
    assert [customers["C003"][c] for c in ("consent_email", "consent_sms", "consent_phone", "consent_app")] == \
        [True, False, False, False]  # "1", "0" and two blanks (missing consent -> false)
    assert (customers["C004"]["consent_email"], customers["C004"]["consent_sms"], customers["C004"]["consent_app"]) \
        == (True, True, False)  # "sí", "sim", "não"
    assert customers["C005"]["do_not_contact"] is True and customers["C005"]["consent_email"] is False
    assert (customers["C004"]["source_system"], customers["C004"]["preferred_channel"]) == ("crm", "phone")
    assert customers["C004"]["email"] == "PETER@EXAMPLE.COM" and customers["C003"]["birth_year"] is None
    assert customers["C002"]["updated_at"] == datetime(2026, 9, 15, 12, 30)
    purchases = {r["order_id"]: r for r in rows(con, "SELECT * FROM stg_purchases")}
    assert (purchases["O1003"]["quantity"], purchases["O1003"]["discount_amount"], purchases["O1003"]["status"]) \
        == (1, 0.0, "completed")
    assert (purchases["O1007"]["channel"], purchases["O1007"]["status"]) == ("web", "completed")
    assert purchases["O1004"]["amount"] == -35.5  # a return, stored as given
    notes = {r["interaction_id"]: r["note_text"] for r in rows(con, "SELECT * FROM stg_interactions")}
    assert notes["I2008"] == "Question about sizes\n(multi-line)"


@pytest.mark.parametrize("name, variant", [
    ("customers.csv", "customers_latin1.csv"),
    ("customers.csv", "customers_bom.csv"),
    ("customers.csv", "customers_semicolon.csv"),
    ("purchases.csv", "purchases.csv.gz"),
    ("purchases.csv", "purchases_pipe.csv"),
    ("purchases.csv", "purchases_extra_columns.csv"),
    ("purchases.csv", "purchases_reordered.csv"),
    ("interactions.csv", "interactions_tab.csv"),
])
def test_format_variants_stage_exactly_like_the_plain_file(tmp_path, name, variant):
    """Latin-1, BOM, semicolon / pipe / tab, gzip, extra unknown columns and reordered columns."""
    extract = name.removesuffix(".csv")
    staged = []
    for run, files in (("plain", {}), ("variant", {name.replace(".", "__"): None, variant.replace(".", "__"): GOOD / variant})):
        with duckdb.connect() as con:
            results = stage_with(con, tmp_path / run, max_bad_row_share=0.0, **files)
            assert results[extract].rows_quarantined == 0
            staged.append(con.execute(f"SELECT * FROM stg_{extract}").fetchall())
    assert staged[0] == staged[1] and len(staged[0]) > 0


# ---------------------------------------------------------------- one test per bad case
def test_wrong_type_in_numeric_columns(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_wrong_type.csv")["purchases"]
    assert result.quarantined_by_rule == {"invalid_number": 3, "invalid_integer": 1}
    assert quarantine_rows(con, "purchases") == [
        (2, "invalid_number", "amount", "abc"), (3, "invalid_number", "amount", "12,50"),
        (4, "invalid_integer", "quantity", "2.5"), (5, "invalid_number", "amount", "inf")]
    accepted = con.execute("SELECT order_id, amount, quantity FROM stg_purchases").fetchall()
    assert accepted == [("O2001", 10.0, 1), ("O2006", 100.0, 3)]  # "1e2" and "3.0" are numbers


def test_wrong_type_in_boolean_and_integer_columns(con, tmp_path):
    result = stage_with(con, tmp_path, customers__csv=BAD / "customers_wrong_type.csv")["customers"]
    assert result.quarantined_by_rule == {"invalid_integer": 1, "invalid_boolean": 2}
    assert quarantine_rows(con, "customers") == [
        (2, "invalid_integer", "birth_year", "nineteen"), (3, "invalid_boolean", "consent_email", "maybe"),
        (4, "invalid_boolean", "do_not_contact", "perhaps")]


def test_unparsable_and_impossible_dates(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_bad_dates.csv")["purchases"]
    assert result.quarantined_by_rule == {"unparsable_date": 1, "impossible_date": 2, "date_out_of_range": 1}
    assert quarantine_rows(con, "purchases") == [
        (2, "unparsable_date", "order_ts", "yesterday"), (3, "impossible_date", "order_ts", "2026-02-30 10:00:00"),
        (4, "impossible_date", "order_ts", "31/02/2026"), (5, "date_out_of_range", "order_ts", "0001-01-01 00:00:00")]
    accepted = dict(con.execute("SELECT order_id, order_ts FROM stg_purchases").fetchall())
    assert accepted["O3006"] == datetime(2026, 3, 15, 14, 30)  # day-first format of the contract
    assert accepted["O3007"] == datetime(2026, 3, 16, 8, 0)  # +02:00 offset converted to UTC


@pytest.mark.parametrize("max_future_days, future_rows", [(0, [2, 3]), (1, [3])])
def test_timestamps_in_the_future(con, tmp_path, max_future_days, future_rows):
    result = stage_with(con, tmp_path, max_future_days=max_future_days,
                        purchases__csv=BAD / "purchases_future.csv")["purchases"]
    assert result.quarantined_by_rule == {"future_timestamp": len(future_rows)}
    assert [r[0] for r in quarantine_rows(con, "purchases")] == future_rows


def test_a_backfill_night_sets_rows_dated_after_it_aside_as_not_yet_known(con, tmp_path):
    """Extracts delivered on AS_OF staged for 2026-10-10: later orders and signups are not yet known, not bad rows
    (a max_bad_row_share of 0 still passes); a record updated later stays (updated_at is not its date)."""
    landing = good_landing(tmp_path)
    results = stage_landing(con, landing, as_of=date(2026, 10, 10), extracted_on=AS_OF, max_bad_row_share=0.0)
    purchases = results["purchases"]
    assert (purchases.rows_in, purchases.rows_accepted, purchases.rows_quarantined, purchases.rows_not_yet_known) \
        == (8, 5, 0, 3)
    set_aside = con.execute("SELECT source_row, rule, column_name, json_extract_string(record, '$.order_id') "
                            "FROM quarantine WHERE extract = 'purchases' ORDER BY source_row").fetchall()
    assert set_aside == [(2, "not_yet_known", "order_ts", "O1002"), (5, "not_yet_known", "order_ts", "O1005"),
                         (7, "not_yet_known", "order_ts", "O1007")]
    assert sorted(r[0] for r in con.execute("SELECT order_id FROM stg_purchases").fetchall()) == \
        ["O1001", "O1003", "O1004", "O1006", "O1008"]
    assert results["customers"].rows_accepted == 6  # C003 / C005 updated after 2026-10-10, signed up before
    logged = con.execute("SELECT rows_in, rows_accepted, rows_quarantined, rows_not_yet_known FROM staging_log "
                         "WHERE extract = 'purchases'").fetchone()
    assert logged == (8, 5, 0, 3)


def test_a_night_on_fresh_extracts_still_quarantines_what_the_backfill_sets_aside(con, tmp_path):
    results = stage_landing(con, good_landing(tmp_path), as_of=date(2026, 10, 10))
    assert results["purchases"].rows_not_yet_known == 0
    assert results["purchases"].quarantined_by_rule == {"future_timestamp": 3}
    assert con.execute("SELECT count(*) FROM quarantine WHERE rule = 'not_yet_known'").fetchone()[0] == 0


def test_a_backfill_still_quarantines_timestamps_after_the_delivery_date(con, tmp_path):
    landing = good_landing(tmp_path, purchases__csv=BAD / "purchases_future.csv")
    purchases = stage_landing(con, landing, as_of=date(2026, 11, 1), extracted_on=AS_OF)["purchases"]
    assert purchases.quarantined_by_rule == {"future_timestamp": 2}  # O4002, O4003: after AS_OF itself
    assert [r[:2] for r in quarantine_rows(con, "purchases")] == [
        (1, "not_yet_known"), (2, "future_timestamp"), (3, "future_timestamp"), (4, "not_yet_known")]
    assert purchases.rows_not_yet_known == 2  # O4001 (23:59 on AS_OF) and O4004 (2026-11-20)


def test_a_date_before_every_purchase_is_refused_in_one_sentence(con, tmp_path):
    from models.ingest.staging import require_history

    load_raw(con, "purchases", [good_landing(tmp_path) / "purchases.csv"])  # the first order: 2025-12-24 17:45
    with pytest.raises(ContractError, match=r"^purchases extract: no purchases row dated before the as-of date "
                                            r"2025-12-24; the first is dated 2025-12-24: choose a later --as-of\.$"):
        require_history(con, load_contract("purchases"), date(2025, 12, 24))
    require_history(con, load_contract("purchases"), date(2025, 12, 25))  # one order before: supported


def test_negative_or_zero_amounts_that_are_not_returns(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_nonpositive_amount.csv")["purchases"]
    assert result.quarantined_by_rule == {"amount_positive_unless_return": 3}
    assert quarantine_rows(con, "purchases") == [
        (1, "amount_positive_unless_return", "amount", "0.0"), (2, "amount_positive_unless_return", "amount", "-10.0"),
        (6, "amount_positive_unless_return", "amount", "-5.0")]  # typed values; missing status defaults to completed
    accepted = con.execute("SELECT order_id, amount, status FROM stg_purchases ORDER BY order_id").fetchall()
    assert accepted == [("O5003", -20.0, "returned"), ("O5004", 20.0, "returned"), ("O5005", 0.0, "returned"),
                        ("O5007", 30.0, "completed")]


def test_exact_duplicates_keep_the_first_copy(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_duplicate_exact.csv")["purchases"]
    assert result.quarantined_by_rule == {"duplicate_exact": 2}
    assert quarantine_rows(con, "purchases") == [(3, "duplicate_exact", "order_id", "O6001"),
                                                 (4, "duplicate_exact", "order_id", "O6001")]
    assert con.execute("SELECT order_id, _source_row FROM stg_purchases").fetchall() == [
        ("O6001", 1), ("O6002", 2), ("O6003", 5)]


def test_conflicting_duplicates_quarantine_every_copy(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_duplicate_conflict.csv")["purchases"]
    assert result.quarantined_by_rule == {"duplicate_conflict": 4, "duplicate_exact": 1}
    assert quarantine_rows(con, "purchases") == [
        (1, "duplicate_conflict", "order_id", "O7001"), (2, "duplicate_conflict", "order_id", "O7001"),
        (3, "duplicate_conflict", "order_id", "O7002"), (4, "duplicate_exact", "order_id", "O7002"),
        (5, "duplicate_conflict", "order_id", "O7002")]
    assert con.execute("SELECT order_id FROM stg_purchases").fetchall() == [("O7003",)]


@pytest.mark.parametrize("extract, fixture, bad_rows", [
    ("purchases", "purchases_unknown_customer.csv", [(2, "C999"), (3, "c001")]),
    ("interactions", "interactions_unknown_customer.csv", [(2, "C777")]),
])
def test_events_of_unknown_customers(con, tmp_path, extract, fixture, bad_rows):
    result = stage_with(con, tmp_path, **{f"{extract}__csv": BAD / fixture})[extract]
    assert result.quarantined_by_rule == {"unknown_customer": len(bad_rows)}
    assert quarantine_rows(con, extract) == [(row, "unknown_customer", "customer_id", value) for row, value in bad_rows]


def test_null_tokens_in_numeric_columns(con, tmp_path):
    result = stage_with(con, tmp_path, purchases__csv=BAD / "purchases_null_tokens.csv")["purchases"]
    assert result.quarantined_by_rule == {"required_missing": 3}
    assert quarantine_rows(con, "purchases") == [
        (2, "required_missing", "amount", "N/A"), (3, "required_missing", "amount", "NULL"),
        (4, "required_missing", "amount", None)]
    accepted = con.execute("SELECT order_id, amount, quantity, discount_amount, status FROM stg_purchases").fetchall()
    assert accepted == [("O9001", 59.9, 1, 0.0, "completed"), ("O9005", 10.0, 1, 0.0, "completed"),
                        ("O9006", 12.0, 1, 0.0, "completed")]


def test_header_only_interactions_stage_zero_rows(con, tmp_path):
    result = stage_with(con, tmp_path, interactions__csv=BAD / "interactions_header_only.csv")["interactions"]
    assert (result.rows_in, result.rows_accepted, result.rows_quarantined) == (0, 0, 0)
    assert con.execute("SELECT count(*) FROM stg_interactions").fetchone()[0] == 0


def test_a_file_delivered_twice_is_staged_once(con, tmp_path):
    result = stage_with(con, tmp_path, purchases_resent__csv=GOOD / "purchases.csv")["purchases"]
    assert (result.rows_in, result.rows_accepted, result.quarantined_by_rule) == (8, 8, {})


def test_a_field_of_several_megabytes_is_staged_whole(con, tmp_path):
    note = "Reclamação muito longa, com vírgulas; e \"aspas\"\n" * 120_000  # ~6 MB, quoted, multi-line
    path = tmp_path / "interactions.csv"
    quoted = note.replace('"', '""')
    path.write_text("interaction_id,customer_id,interaction_ts,channel,type,note_text\n"
                    f'I1,C001,2026-10-01,phone,complaint,"{quoted}"\nI2,C002,2026-10-02,email,support,ok\n',
                    encoding="utf-8")
    result = stage_with(con, tmp_path, interactions__csv=path)["interactions"]
    assert (result.rows_in, result.rows_quarantined) == (2, 0)
    assert con.execute("SELECT note_text FROM stg_interactions WHERE interaction_id = 'I1'").fetchone()[0] == note


def test_quarantine_keeps_the_raw_row_as_json(con, tmp_path):
    stage_with(con, tmp_path, purchases__csv=BAD / "purchases_wrong_type.csv")
    source_file, record = con.execute(
        "SELECT source_file, record FROM quarantine WHERE extract = 'purchases' AND source_row = 3").fetchone()
    assert source_file == "purchases.csv"
    assert json.loads(record) == {"order_id": "O2003", "customer_id": "C002", "order_ts": "2026-10-03 10:00:00",
                                  "amount": "12,50", "quantity": "1", "product_id": "P1", "category": "shoes",
                                  "channel": "web", "discount_amount": "0", "status": "completed"}


# ---------------------------------------------------------------- file order
def large_purchases(path, n_rows: int) -> dict[str, list[int]]:
    """Write `n_rows` purchases (null tokens, bad numbers, exact copies spread through the file); returns the
    data line numbers of each outcome."""
    lines = ["order_id,customer_id,order_ts,amount,quantity,product_id,category,channel,discount_amount,status"]
    outcome = {"accepted": [], "required_missing": [], "invalid_number": [], "duplicate_exact": []}
    for row in range(1, n_rows + 1):
        if row % 983 == 0 and outcome["accepted"][-1:] == [row - 1]:
            lines.append(lines[-1])
            outcome["duplicate_exact"].append(row)
            continue
        amount, rule = (("N/A", "required_missing") if row % 997 == 0 else
                        ("abc", "invalid_number") if row % 991 == 0 else ("10", "accepted"))
        quantity = ("", "NULL", "2")[row % 3]  # a null token takes the default too
        lines.append(f"O{row},C00{row % 6 + 1},2026-10-01 10:00:00,{amount},{quantity},P1,shoes,web,0,completed")
        outcome[rule].append(row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return outcome


def test_a_large_extract_is_staged_in_file_order(con, tmp_path):
    """Several row groups on two threads: stg rows, suite rejects and quarantine keep the line order of the file."""
    con.execute("SET threads = 2")
    outcome = large_purchases(tmp_path / "purchases.csv", 600_000)
    result = stage_with(con, tmp_path, purchases__csv=tmp_path / "purchases.csv")["purchases"]
    assert result.quarantined_by_rule == {rule: len(lines) for rule, lines in outcome.items() if rule != "accepted"}
    assert [r[0] for r in con.execute("SELECT _source_row FROM stg_purchases").fetchall()] == outcome["accepted"]
    assert [r[0] for r in con.execute("SELECT _source_row FROM typed_purchases_rejected").fetchall()] == \
        outcome["required_missing"]
    assert [r[0] for r in con.execute("SELECT source_row FROM quarantine WHERE extract = 'purchases'").fetchall()] == \
        sorted(outcome["required_missing"] + outcome["invalid_number"] + outcome["duplicate_exact"])


# ---------------------------------------------------------------- whole-extract breaches stop the run
def test_too_many_bad_rows_stop_the_run_naming_file_rule_and_example(con, tmp_path):
    stage_with(con, tmp_path / "ok")  # yesterday's good stg_purchases
    with pytest.raises(ContractError) as err:
        stage_with(con, tmp_path / "bad", max_bad_row_share=0.05, purchases__csv=BAD / "purchases_mostly_bad.csv")
    message = str(err.value)
    assert message.startswith("purchases.csv: 3 of 5 rows (60.0%) of the purchases extract were quarantined")
    assert "'amount_positive_unless_return' (2 rows)" in message and '"order_id":"O1502"' in message
    assert "\n" not in message
    assert len(quarantine_rows(con, "purchases")) == 3  # kept for inspection
    assert con.execute("SELECT count(*) FROM stg_purchases").fetchone()[0] == 8  # not replaced
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'typed_purchases'").fetchone()[0] == 0
    assert work_tables(con) == []


def test_a_suite_query_failing_mid_staging_leaves_the_previous_staging_in_place(con, tmp_path):
    stage_with(con, tmp_path)
    load_again(con, tmp_path, "purchases")
    tables = ("stg_purchases", "typed_purchases", "quarantine", "raw_purchases")
    before = [con.execute(f"SELECT * FROM {t}").fetchall() for t in tables]
    suite = load_suite("purchases")
    query = "SELECT * FROM {batch} WHERE order_id::INTEGER > 0"  # fails on the first id: O1001
    suite["expectations"].append({"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": query},
                                  "meta": {"rule": "numeric_order_id", "column": "order_id"}})
    with pytest.raises(duckdb.ConversionException):
        stage_extract(con, "purchases", load_contract("purchases"), suite, AS_OF, max_bad_row_share=1.0)
    assert [con.execute(f"SELECT * FROM {t}").fetchall() for t in tables] == before
    assert work_tables(con) == []


def test_staging_needs_a_table_loaded_by_ingest(con, tmp_path):
    """A staged extract is renamed to stg_: staging it again needs a new load; a hand-made raw table is refused."""
    stage_with(con, tmp_path)
    with pytest.raises(ContractError, match="table raw_customers does not exist; load the extract first"):
        stage_extract(con, "customers", load_contract("customers"), load_suite("customers"), AS_OF,
                      max_bad_row_share=0.05)
    con.execute("CREATE TABLE raw_customers AS SELECT 'C1' AS customer_id, 'crm' AS source_system, "
                "'customers.csv' AS _source_file, 1::BIGINT AS _source_row")
    with pytest.raises(ContractError, match="raw_customers was not written by this version's ingest"):
        stage_extract(con, "customers", load_contract("customers"), load_suite("customers"), AS_OF,
                      max_bad_row_share=0.05)


def test_purchases_need_customers_staged_first(con, tmp_path):
    load_raw(con, "purchases", [good_landing(tmp_path) / "purchases.csv"])
    with pytest.raises(RuntimeError, match="stage customers before purchases"):
        stage_extract(con, "purchases", load_contract("purchases"), load_suite("purchases"), AS_OF,
                      max_bad_row_share=0.05)


# ---------------------------------------------------------------- rules live in the suite files
def test_a_rule_added_to_the_suite_file_needs_no_code_change(con, tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR / "extracts", contracts / "extracts")
    shutil.copytree(CONTRACTS_DIR / "suites", contracts / "suites")
    path = contracts / "suites" / "purchases.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_between",
                                  "kwargs": {"column": "discount_amount", "max_value": 20},
                                  "meta": {"rule": "discount_too_large"}})
    path.write_text(json.dumps(suite))
    stage_with(con, tmp_path)  # customers
    load_again(con, tmp_path, "purchases")
    result = stage_extract(con, "purchases", load_contract("purchases", contracts),
                           load_suite("purchases", contracts), AS_OF, max_bad_row_share=1.0)
    assert result.quarantined_by_rule == {"discount_too_large": 1}
    assert quarantine_rows(con, "purchases") == [(6, "discount_too_large", "discount_amount", "25.0")]


def test_an_expectation_staging_cannot_compile_is_reported(con, tmp_path):
    stage_with(con, tmp_path)
    load_again(con, tmp_path, "purchases")
    suite = load_suite("purchases")
    suite["expectations"].append({"type": "expect_column_values_to_match_regex",
                                  "kwargs": {"column": "order_id", "regex": "^O"}, "meta": {"rule": "bad_id"}})
    with pytest.raises(ContractError, match="expectation type 'expect_column_values_to_match_regex'"):
        stage_extract(con, "purchases", load_contract("purchases"), suite, AS_OF, max_bad_row_share=1.0)


def test_a_suite_that_disagrees_with_the_contract_is_reported(con, tmp_path):
    stage_with(con, tmp_path)
    suite = load_suite("purchases")
    suite["expectations"] = [e for e in suite["expectations"] if e["kwargs"].get("column") != "amount"]
    with pytest.raises(ContractError, match="required column 'amount' has no expect_column_values_to_not_be_null"):
        stage_extract(con, "purchases", load_contract("purchases"), suite, AS_OF, max_bad_row_share=1.0)


# ---------------------------------------------------------------- reruns
def test_restaging_replaces_the_quarantine_and_is_deterministic(tmp_path):
    outputs = []
    for run in ("a", "b"):
        with duckdb.connect() as con:
            stage_with(con, tmp_path / run, purchases__csv=BAD / "purchases_one_rule_each.csv")
            load_again(con, tmp_path / run, "purchases")
            result = stage_extract(con, "purchases", load_contract("purchases"), load_suite("purchases"), AS_OF,
                                   max_bad_row_share=1.0)  # second staging of the same delivery
            assert result.rows_quarantined == 8 == len(quarantine_rows(con, "purchases"))
            outputs.append((con.execute("SELECT * FROM stg_purchases").fetchall(),
                            con.execute("SELECT * FROM quarantine ORDER BY ALL").fetchall()))
    assert outputs[0] == outputs[1]


def test_suite_parameters_follow_as_of_and_future_days(con, tmp_path):
    """The rows are judged against the parameters: with 2 future days an update at the last second of as-of + 2
    days is accepted and one at the next midnight is not; a birth year of the as-of year is, the next is not."""
    last_second = datetime.combine(AS_OF, datetime.min.time()) + timedelta(days=3, seconds=-1)
    path = tmp_path / "customers_edges.csv"
    path.write_text("customer_id,signup_date,birth_year,updated_at\n"
                    f"E1,2024-01-01,{AS_OF.year},{last_second}\n"
                    f"E2,2024-01-01,1980,{last_second + timedelta(seconds=1)}\n"
                    f"E3,2024-01-01,{AS_OF.year + 1},2024-01-01 00:00:00\n", encoding="utf-8")
    result = stage_with(con, tmp_path, max_future_days=2, customers__csv=path)["customers"]
    assert [(r[1], r[2], r[3]) for r in quarantine_rows(con, "customers")] == [
        ("future_timestamp", "updated_at", str(last_second + timedelta(seconds=1))),
        ("birth_year_out_of_range", "birth_year", str(AS_OF.year + 1))]
    assert con.execute("SELECT customer_id FROM stg_customers").fetchall() == [("E1",)]
    assert result.suite_parameters["future_cutoff"] == last_second + timedelta(seconds=1)


def test_customer_versions_newest_wins_and_only_a_true_conflict_is_quarantined(con, tmp_path):
    """Change data capture: V1 changed later (the older copy is superseded), V2 two contents at one updated_at
    (a true conflict), V3 a newer copy dated after the as-of date (the current copy stays), V4 a copy without
    updated_at next to a dated one (superseded), V5 two undated contents (a conflict), V6 delivered once."""
    from data_contracts.gx_adapter import validate_table

    result = stage_with(con, tmp_path, customers__csv=BAD / "customers_versions.csv")["customers"]
    assert result.quarantined_by_rule == {"superseded": 2, "duplicate_conflict": 4, "future_timestamp": 1}
    assert [(r[0], r[1]) for r in quarantine_rows(con, "customers")] == [
        (1, "superseded"), (3, "duplicate_conflict"), (4, "duplicate_conflict"), (6, "future_timestamp"),
        (7, "superseded"), (9, "duplicate_conflict"), (10, "duplicate_conflict")]
    assert con.execute("SELECT customer_id, consent_email, _source_row FROM stg_customers ORDER BY 1").fetchall() == [
        ("V1", False, 2), ("V3", True, 5), ("V4", False, 8), ("V6", True, 11)]
    gx = validate_table(con, result.typed_table, load_suite("customers"), parameters=result.suite_parameters)
    assert gx.unexpected_by_rule() == {k: v for k, v in result.violations_by_rule.items()}
    assert result.violations_by_rule["duplicate_conflict"] == 4


def test_an_opt_out_on_a_record_not_yet_known_is_honoured_on_the_backfill_night(con, tmp_path):
    """A person's second record, signed up after the night and saying do-not-contact, is not yet known (no golden
    customer of its own) but its "no" still reaches the person's known record: the legal rule holds on backfills."""
    from models.golden.consent import honour_delivered_consent
    from models.golden.resolve import resolve_golden_records

    customers = (GOOD / "customers.csv").read_text(encoding="utf-8") + (
        "C900,2026-11-01,shop,ana.garcia@example.com,,Ana,García,1985,Madrid,gold,false,false,false,false,true,,"
        "2026-11-01 10:00:00\n")
    (tmp_path / "customers.csv").write_text(customers, encoding="utf-8")
    night = date(2026, 10, 10)
    results = stage_landing(con, good_landing(tmp_path, customers__csv=tmp_path / "customers.csv"), as_of=night,
                            extracted_on=AS_OF)
    assert results["customers"].rows_not_yet_known == 1 and results["customers"].rows_quarantined == 0
    resolve_golden_records(con)
    honour_delivered_consent(con, load_contract("customers"), night)
    golden = dict(con.execute("SELECT c.source_customer_id, g.do_not_contact FROM customer_crosswalk c "
                              "JOIN golden_customers g ON g.customer_id = c.golden_id").fetchall())
    assert "C900" not in golden and golden["C001"] is True
