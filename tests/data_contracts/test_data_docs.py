"""data_contracts.data_docs: a night's GX results become self-contained HTML pages an analyst can read."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from data_contracts import load_suite
from data_contracts.data_docs import INDEX, build_data_docs, describe_expectation, suite_status
from data_contracts.gx_adapter import ExpectationOutcome, SuiteResult, validate_table
from models.ingest.staging import quarantine_examples
from tests.data_contracts.helpers import AS_OF, BAD, good_landing, stage_landing


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """(suite, SuiteResult) per extract of the bad fixtures (each bad row breaks one rule); the night's parameters;
    and per extract the "failed / evaluated" the pages must show, known without the results: the suite file's
    expectations, and those broken = the distinct (rule, column) staging quarantined under a suite rule."""
    root = tmp_path_factory.mktemp("docs_night")
    with duckdb.connect() as con:
        staged = stage_landing(con, good_landing(root, purchases__csv=BAD / "purchases_one_rule_each.csv",
                                                 interactions__csv=BAD / "interactions_one_rule_each.csv"))
        validations = [(load_suite(extract), validate_table(con, stage.typed_table, load_suite(extract),
                                                            parameters=stage.suite_parameters)
                        .with_examples(quarantine_examples(con, extract)))  # as assets/validation.py does
                       for extract, stage in staged.items()]
        expected = {}
        for extract in staged:
            suite = load_suite(extract)["expectations"]
            rules = sorted({e["meta"]["rule"] for e in suite})
            broken = con.execute("SELECT count(DISTINCT (rule, column_name)) FROM quarantine WHERE extract = ? "
                                 "AND list_contains(?, rule)", [extract, rules]).fetchone()[0]
            expected[extract] = f"{broken} / {len(suite)}"
    return validations, staged["purchases"].suite_parameters, expected


def row_of(page: str, text: str) -> str:
    """The one table row of `page` that contains `text`."""
    rows = [r for r in re.findall(r"<tr.*?</tr>", page, re.S) if text in r]
    assert len(rows) == 1, f"{len(rows)} rows contain {text!r}"
    return rows[0]


def test_a_page_shows_each_expectation_in_gx_words_with_its_outcome(tmp_path, night):
    validations, parameters, expected = night
    index = build_data_docs(tmp_path, AS_OF, validations, parameters=parameters)
    assert index == tmp_path / AS_OF.isoformat() / INDEX
    page = (index.parent / "purchases.html").read_text(encoding="utf-8")
    assert 'typed_purchases: suite purchases <span class="quarantined">quarantined</span>' in page
    status = row_of(page, "unknown_status")
    assert "status</span> values must belong to this set:" in status and "completed" in status and "returned" in status
    assert ">quarantined<" in status and '<td class="num">1</td>' in status and "<code>cancelled</code>" in status
    future = row_of(page, "future_timestamp")  # the $PARAMETER is shown as tonight's value, not its name
    assert 'values must be less than <span class="param">2026-11-24</span>' in future and "PARAMETER" not in page
    assert ">passed<" in row_of(page, "order_ts</span> values must never be null")
    sql = "No row may be returned by:<pre>SELECT * FROM {batch} WHERE amount &lt;= 0"
    assert sql in row_of(page, "amount_positive")
    failed, evaluated = expected["purchases"].split(" / ")
    assert f"{evaluated} evaluated, {failed} did not hold" in page and int(failed) >= 6
    customers = (index.parent / "customers.html").read_text(encoding="utf-8")
    assert 'suite customers <span class="passed">passed</span>' in customers
    assert not re.search(r'class="(quarantined|failed)"', customers)


def test_indexes_list_every_suite_of_a_night_and_every_night(tmp_path, night):
    validations, parameters, expected = night
    for suite, result in validations:  # one call per validated asset, as the assets make them
        build_data_docs(tmp_path, AS_OF, [(suite, result)], parameters=parameters)
    index = (tmp_path / AS_OF.isoformat() / INDEX).read_text(encoding="utf-8")
    assert re.findall(r'<a href="(\w+\.html)">', index) == ["customers.html", "interactions.html", "purchases.html"]
    assert "passed" in row_of(index, "customers.html") and expected["customers"].startswith("0 / ")
    assert expected["customers"] in row_of(index, "customers.html")
    for name, quarantined in (("purchases", 8), ("interactions", 5)):  # each bad fixture row breaks one rule
        assert expected[name] in row_of(index, f"{name}.html")
        assert f'<td class="num">{quarantined}</td></tr>' in row_of(index, f"{name}.html")
    earlier = AS_OF - dt.timedelta(days=1)
    build_data_docs(tmp_path, earlier, validations[:1], parameters=parameters)
    nights = (tmp_path / INDEX).read_text(encoding="utf-8")
    assert re.findall(r'<a href="([\d-]+)/index.html">', nights) == [AS_OF.isoformat(), earlier.isoformat()]
    tonight = row_of(nights, AS_OF.isoformat())
    assert '<span class="quarantined">quarantined</span></td><td>1 passed, 2 quarantined<' in tonight
    assert '<span class="passed">passed</span></td><td>1 passed<' in row_of(nights, earlier.isoformat())


def test_docs_are_self_contained_and_the_same_results_give_the_same_bytes(tmp_path, night):
    validations, parameters, expected = night
    first = build_data_docs(tmp_path / "a", AS_OF, validations, parameters=parameters).parent.parent
    second = build_data_docs(tmp_path / "b", AS_OF, validations, parameters=parameters).parent.parent
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    night_pages = [f"2026-11-23/{name}.html" for name in ("customers", "index", "interactions", "purchases")]
    assert [str(f) for f in files if f.suffix == ".html"] == [*night_pages, "index.html"]
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        text = (first / name).read_text(encoding="utf-8")
        assert not re.search(r"https?:|<script|<link|src=", text), f"{name} loads something from elsewhere"


def test_extract_values_are_escaped_and_odd_suite_names_stay_inside_the_night(tmp_path):
    hostile = "<script>alert(1)</script>"
    suite = {"name": "../x", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "status", "value_set": ["a"]},
         "meta": {"rule": "unknown_status", "description": "a & b"}}]}
    outcome = ExpectationOutcome("expect_column_values_to_be_in_set", "status", "unknown_status", False, 1, 50.0,
                                 (hostile,))
    build_data_docs(tmp_path, AS_OF, [(suite, SuiteResult("../x", "typed_x", False, 2, (outcome,)))])
    page = (tmp_path / AS_OF.isoformat() / ".._x.html").read_text(encoding="utf-8")
    assert hostile not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a &amp; b" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", AS_OF.isoformat(), INDEX]


def test_a_result_that_does_not_follow_its_suite_is_refused(tmp_path, night):
    validations, parameters, expected = night
    by_name = {result.suite: (suite, result) for suite, result in validations}
    purchases_suite, customers = by_name["purchases"][0], by_name["customers"][1]
    expected = rf"\({len(customers.expectations)} results for {len(purchases_suite['expectations'])} expectations\)"
    with pytest.raises(ValueError, match=r"suite 'customers' on typed_customers does not follow .*" + expected):
        build_data_docs(tmp_path, AS_OF, [(purchases_suite, customers)], parameters=parameters)


def test_an_unknown_parameter_is_named_rather_than_hidden():
    spec = {"type": "expect_column_values_to_be_between",
            "kwargs": {"column": "birth_year", "min_value": 1900, "max_value": {"$PARAMETER": "as_of_year"}}}
    assert describe_expectation(spec, {}) == (
        '<span class="param">birth_year</span> values must be greater than or equal to <span class="param">1900</span> '
        'and less than or equal to <span class="param">parameter as_of_year</span>.')
    assert 'equal to <span class="param">2026</span>.' in describe_expectation(spec, {"as_of_year": 2026})


def test_only_an_expectation_without_a_rule_makes_a_suite_fail(tmp_path):
    def outcome(success: bool, rule: str | None) -> ExpectationOutcome:
        return ExpectationOutcome("expect_column_values_to_not_be_null", "amount", rule, success, 0 if success else 3,
                                  0.0 if success else 30.0, ())

    assert suite_status([outcome(True, "required_missing"), outcome(True, None)]) == "passed"
    assert suite_status([outcome(False, "required_missing"), outcome(True, None)]) == "quarantined"
    assert suite_status([outcome(False, "required_missing"), outcome(False, None)]) == "failed"
    spec = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amount"}}
    suite = {"name": "purchases", "expectations": [{**spec, "meta": {"rule": "required_missing"}}, spec]}
    outcomes = (outcome(True, "required_missing"), outcome(False, None))
    result = SuiteResult("purchases", "typed_purchases", False, 10, outcomes)
    index = build_data_docs(tmp_path, AS_OF, [(suite, result)]).read_text(encoding="utf-8")
    assert '<span class="failed">failed</span>' in row_of(index, "purchases.html")
    assert "1 / 2" in row_of(index, "purchases.html")
    assert '<span class="failed">failed</span></td><td>1 failed<' in (tmp_path / INDEX).read_text(encoding="utf-8")


def test_the_pages_reconcile_with_the_intake_whichever_stage_caught_a_row(tmp_path):
    """Rows quarantined before GX saw them (unreadable values, exact duplicates) were missing from the pages (196
    unexpected vs 290 quarantined) and a suite with quarantined rows read "passed"."""
    with duckdb.connect() as con:
        stage = stage_landing(con, good_landing(tmp_path / "landing",
                                                purchases__csv=BAD / "purchases_duplicate_exact.csv"))["purchases"]
        suite = load_suite("purchases")
        result = validate_table(con, stage.typed_table, suite, parameters=stage.suite_parameters)
    counts = {"rows_in": stage.rows_in, "rows_accepted": stage.rows_accepted, "rows_quarantined": stage.rows_quarantined,
              "rows_not_yet_known": stage.rows_not_yet_known, "quarantined_by_rule": dict(stage.quarantined_by_rule)}
    suite_rules = {(e.get("meta") or {}).get("rule") for e in suite["expectations"]}
    assert "duplicate_exact" in counts["quarantined_by_rule"] and "duplicate_exact" not in suite_rules
    assert sum(o.unexpected_count for o in result.expectations) < counts["rows_quarantined"]  # GX alone undercounts
    index = build_data_docs(tmp_path / "docs", AS_OF, [(suite, result)], parameters=stage.suite_parameters,
                            intake={result.suite: counts}).read_text("utf-8")
    page = (tmp_path / "docs" / AS_OF.isoformat() / f"{result.suite}.html").read_text(encoding="utf-8")
    section = page[page.index("<h2>Intake reconciliation</h2>"):page.index("<h2>Parameters")]
    assert f"<dt>rows in</dt><dd>{counts['rows_in']:,}</dd>" in section
    shown = {rule: int(n.replace(",", "")) for rule, n in
             re.findall(r'<tr class="quarantined"><td>([^<]+)</td><td class="num">([\d,]+)</td>', section)}
    assert shown == counts["quarantined_by_rule"] and sum(shown.values()) == counts["rows_quarantined"]
    assert "staging, before GX" in row_of(section, "<td>duplicate_exact</td>")
    assert '<span class="quarantined">quarantined</span>' in row_of(index, f"{result.suite}.html")
