"""data_contracts.gx_adapter: GX validates the typed rows and counts exactly what staging quarantines."""

from __future__ import annotations

import inspect
import json
import shutil

import duckdb
import pytest

from data_contracts import CONTRACTS_DIR, load_contract, load_suite, row_expectations
from data_contracts.gx_adapter import SuiteResult, enable_duckdb_persisted_connection, validate_table
from models.ingest.staging import quarantine_examples, stage_extract
from tests.data_contracts.helpers import AS_OF, BAD, good_landing, load_again, stage_landing


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A warehouse file where every bad purchase / interaction breaks exactly one suite rule."""
    root = tmp_path_factory.mktemp("gx")
    con = duckdb.connect(str(root / "nba.duckdb"))
    landing = good_landing(root, purchases__csv=BAD / "purchases_one_rule_each.csv",
                           interactions__csv=BAD / "interactions_one_rule_each.csv")
    results = stage_landing(con, landing)
    yield con, results
    con.close()


def test_the_persisted_connection_fix_still_matches_gx_internals():
    """Fails loudly when GX renames the private names the adapter patches (see enable_duckdb_persisted_connection)."""
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    enable_duckdb_persisted_connection()
    enable_duckdb_persisted_connection()  # idempotent
    dialects = engine_module._PERSISTED_CONNECTION_DIALECTS
    assert isinstance(dialects, tuple) and [d for d in dialects if d == "duckdb"] == ["duckdb"]
    assert engine_module._dialect_requires_persisted_connection(connection_string="duckdb:///warehouse.duckdb")
    assert not engine_module._dialect_requires_persisted_connection(connection_string="postgresql://h/db")
    get_connection = inspect.unwrap(engine_module.SqlAlchemyExecutionEngine.get_connection)
    assert "_PERSISTED_CONNECTION_DIALECTS" in get_connection.__code__.co_names  # still read at call time


@pytest.mark.parametrize("extract", ["purchases", "interactions"])
def test_gx_unexpected_counts_equal_the_quarantine_counts_per_rule(staged, extract):
    con, results = staged
    result = results[extract]
    suite = load_suite(extract)
    gx_result = validate_table(con, result.typed_table, suite, parameters=result.suite_parameters)
    assert isinstance(gx_result, SuiteResult) and gx_result.success is False
    assert gx_result.row_count == result.rows_in  # no cast failures or exact copies in these fixtures
    by_rule = gx_result.unexpected_by_rule()
    assert by_rule == result.violations_by_rule
    suite_rules = {e["meta"]["rule"] for e in row_expectations(suite)}
    assert {r: n for r, n in by_rule.items() if n} == \
        {r: n for r, n in result.quarantined_by_rule.items() if r in suite_rules}
    assert sum(by_rule.values()) == result.rows_quarantined == {"purchases": 8, "interactions": 5}[extract]


def test_result_rows_are_plain_and_in_suite_order(staged):
    con, results = staged
    suite = load_suite("purchases")
    gx_result = validate_table(con, "typed_purchases", suite, parameters=results["purchases"].suite_parameters,
                               max_examples=3)
    assert [o.expectation_type for o in gx_result.expectations] == [e["type"] for e in suite["expectations"]]
    status = next(o for o in gx_result.expectations if o.rule == "unknown_status")
    assert (status.column, status.unexpected_count, status.examples, status.success) == ("status", 1, ("cancelled",), False)
    assert status.unexpected_percent == pytest.approx(10.0)
    unknown = next(o for o in gx_result.expectations if o.rule == "unknown_customer")
    assert (unknown.expectation_type, unknown.column, unknown.unexpected_count) == \
        ("unexpected_rows_expectation", "customer_id", 1)


def test_without_gx_examples_the_counts_are_the_same_and_examples_come_from_the_quarantine(staged):
    """The night asks GX for counts only (max_examples=0) and shows the quarantine's raw values instead."""
    con, results = staged
    for extract in ("purchases", "interactions"):
        suite, params = load_suite(extract), results[extract].suite_parameters
        with_gx = validate_table(con, f"typed_{extract}", suite, parameters=params, max_examples=3)
        counts_only = validate_table(con, f"typed_{extract}", suite, parameters=params)
        assert all(o.examples == () for o in counts_only.expectations)
        assert [(o.rule, o.unexpected_count, o.success) for o in counts_only.expectations] == \
            [(o.rule, o.unexpected_count, o.success) for o in with_gx.expectations]
        shown = counts_only.with_examples(quarantine_examples(con, extract))
        for outcome in shown.expectations:  # each bad row breaks one rule here, so each is an example of it
            assert len(outcome.examples) == (min(outcome.unexpected_count, 3) if outcome.rule else 0), outcome
    status = next(o for o in validate_table(con, "typed_purchases", load_suite("purchases"),
                                            parameters=results["purchases"].suite_parameters)
                  .with_examples(quarantine_examples(con, "purchases")).expectations if o.rule == "unknown_status")
    assert status.examples == ("cancelled",)


def test_quarantine_examples_are_the_first_raw_values_per_rule_and_column(tmp_path):
    con = duckdb.connect()
    con.execute("CREATE TABLE quarantine(extract VARCHAR, source_file VARCHAR, source_row BIGINT, rule VARCHAR, "
                "column_name VARCHAR, value VARCHAR, record VARCHAR)")
    con.executemany("INSERT INTO quarantine VALUES ('purchases', ?, ?, ?, ?, ?, '{}')", [
        ["p.csv", 9, "unknown_status", "status", "Cancelled "], ["p.csv", 2, "unknown_status", "status", "x"],
        ["p.csv", 5, "unknown_status", "status", "y"], ["p.csv", 7, "unknown_status", "status", "z"],
        ["p.csv", 3, "required_missing", "amount", None], ["p.csv", 4, "required_missing", "customer_id", ""]])
    con.execute("INSERT INTO quarantine VALUES ('customers', 'c.csv', 1, 'unknown_status', 'status', 'other', '{}')")
    assert quarantine_examples(con, "purchases") == {
        ("unknown_status", "status"): ("x", "y", "z"), ("required_missing", "amount"): (None,),
        ("required_missing", "customer_id"): ("",)}
    assert quarantine_examples(con, "purchases", per_rule=1)[("unknown_status", "status")] == ("x",)


def test_overlapping_violations_are_counted_per_expectation_like_staging(tmp_path, capfd):
    """A row breaking two rules is quarantined once, under the first, but GX and staging count it for both."""
    bad = tmp_path / "purchases.csv"
    bad.write_text((BAD / "purchases_future.csv").read_text() + "O4005,C999,2027-02-01,-3,1,P1,shoes,web,0,completed\n")
    with duckdb.connect() as con:  # in-memory warehouse: GX reaches it through a cursor of the same connection
        results = stage_landing(con, good_landing(tmp_path, purchases__csv=bad))
        result = results["purchases"]
        gx_result = validate_table(con, result.typed_table, load_suite("purchases"), parameters=result.suite_parameters)
    assert result.quarantined_by_rule == {"future_timestamp": 3}
    assert {r: n for r, n in gx_result.unexpected_by_rule().items() if n} == \
        {"future_timestamp": 3, "amount_positive_unless_return": 1, "unknown_customer": 1} == \
        {r: n for r, n in result.violations_by_rule.items() if n}
    captured = capfd.readouterr()
    assert "Calculating Metrics" not in captured.out + captured.err  # progress bars are off


def test_a_rule_added_to_the_suite_file_is_counted_by_gx_and_staging_alike(tmp_path):
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR / "extracts", contracts / "extracts")
    shutil.copytree(CONTRACTS_DIR / "suites", contracts / "suites")
    path = contracts / "suites" / "purchases.json"
    suite = json.loads(path.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_not_be_in_set",
                                  "kwargs": {"column": "category", "value_set": ["electronics", "home"]},
                                  "meta": {"rule": "category_not_sold_online"}})
    path.write_text(json.dumps(suite))
    with duckdb.connect() as con:
        stage_landing(con, good_landing(tmp_path))
        load_again(con, tmp_path, "purchases")
        result = stage_extract(con, "purchases", load_contract("purchases", contracts),
                               load_suite("purchases", contracts), AS_OF, max_bad_row_share=1.0)
        gx_result = validate_table(con, result.typed_table, load_suite("purchases", contracts),
                                   parameters=result.suite_parameters)
    assert result.quarantined_by_rule == {"category_not_sold_online": 2}
    assert gx_result.unexpected_by_rule()["category_not_sold_online"] == 2


def test_uniqueness_of_the_key_and_of_another_column_are_counted_by_gx_and_staging_alike(tmp_path):
    """Staging looks for repeated primary keys only among the keys repeated before exact copies were dropped,
    and for any other repeated column among all typed rows: both count what GX counts."""
    purchases = tmp_path / "purchases.csv"
    purchases.write_text("order_id,customer_id,order_ts,amount,product_id\n"
                         "O1,C001,2026-10-01,10,P1\nO1,C001,2026-10-01,10,P1\nO2,C002,2026-10-02,10,P1\n"
                         "O3,C003,2026-10-03,10,P2\nO3,C003,2026-10-03,10,P3\n")
    suite = load_suite("purchases")
    suite["expectations"].append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "product_id"},
                                  "meta": {"rule": "product_listed_once"}})
    with duckdb.connect() as con:
        stage_landing(con, good_landing(tmp_path, purchases__csv=purchases))
        load_again(con, tmp_path, "purchases")
        result = stage_extract(con, "purchases", load_contract("purchases"), suite, AS_OF, max_bad_row_share=1.0)
        gx_result = validate_table(con, result.typed_table, suite, parameters=result.suite_parameters)
    assert result.quarantined_by_rule == {"duplicate_exact": 1, "duplicate_conflict": 2, "product_listed_once": 2}
    counted = {"duplicate_conflict": 2, "product_listed_once": 2}
    assert {r: n for r, n in result.violations_by_rule.items() if n} == counted == \
        {r: n for r, n in gx_result.unexpected_by_rule().items() if n}


def test_an_expectation_gx_cannot_run_on_duckdb_fails_loudly(staged):
    con, results = staged
    suite = {"name": "regex", "expectations": [
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "order_id", "regex": "^O"},
         "meta": {"rule": "order_id_format"}}]}
    with pytest.raises(RuntimeError, match="GX could not evaluate expect_column_values_to_match_regex"):
        validate_table(con, "typed_purchases", suite)
