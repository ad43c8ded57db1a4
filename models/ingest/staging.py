"""Apply an extract's contract and suite to `raw_<extract>` and split it into `stg_<extract>` and `quarantine`.

Ingest typed every row on the way in (models/ingest/casting.py). First the rows not yet known on the as-of date
are set aside (see below); then three stages, each row quarantined under the first rule it breaks:
1. cast: a value ingest could not read as its type (`_cast_rule`, the row as delivered in `_raw_record`);
2. duplicate_exact: later identical copies of a primary key are dropped (the first copy is kept); then, for an
   extract whose contract names a `version_column` (customers: updated_at, i.e. change data capture), the copies
   of a primary key older than its newest copy dated before `future_cutoff` are `superseded` (a copy without a
   version counts as oldest) and its copies dated at or after the cut-off are `future_timestamp`; copies sharing
   the newest version with different content stay, for the suite's uniqueness rule (a true conflict);
3. the row-level expectations of the GX suite (those with `meta.rule`), compiled here to SQL.
Not yet known (a backfill on later extracts): when the extracts were delivered after the as-of date
(`extracted_on`), a row whose contract `known_from` column (the date the record came into being: a signup, an
order, an interaction) falls after the as-of date + `max_future_days` but not after `extracted_on` +
`max_future_days` is set aside under rule `not_yet_known`: it is not a bad row (not in `rows_quarantined`, not
counted toward `max_bad_row_share`) and is absent from `stg_` that night, exactly as if the extract had been cut at
the as-of date. It is still written to `quarantine` with its delivered row, because every reader of delivered
opt-outs (models/golden/consent.py, models/exports/opt_outs.py) reads that table: a "no" dated after the as-of
date is honoured that night too. A date after `extracted_on` + `max_future_days` is still a
`future_timestamp` (the suite's `future_cutoff` follows `extracted_on`).
The stages only collect the rejected row ids (`_rid`: the row id in `raw_<extract>`, which ingest wrote in
file order in one transaction); the rows still in play are the view `_stage_live`. If the rejects stay
within `max_bad_row_share`, they are deleted from `raw_<extract>` and the table is renamed `stg_<extract>`
(no copy; file order kept), all in one transaction; otherwise only the quarantine rows are written and
`raw_<extract>` and the previous `stg_<extract>` stay as they were.
The rows after stage 2 stay visible as the view `typed_<extract>` (= `stg_<extract>` plus
`typed_<extract>_rejected`): what the GX suite validates, so GX's per-expectation unexpected counts
equal `StageResult.violations_by_rule`. Cast failures and exact duplicates are counted here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb

from data_contracts import (
    ContractError,
    ExtractContract,
    expectation_column,
    find_contract_suite_mismatches,
    row_expectations,
)
from models.ingest.casting import sql_ident, sql_literal, sql_value
from models.ingest.load import RAW_EXTRA_COLUMNS

WORK_COLUMNS = tuple(name for name, _ in RAW_EXTRA_COLUMNS if name != "_source_row")  # raw_ only, not stg_
UNIQUENESS_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
LIVE = "_stage_live"  # the raw rows no stage has rejected yet
STAGING_LOG_DDL = ("CREATE TABLE IF NOT EXISTS staging_log(extract VARCHAR, rows_in BIGINT, rows_accepted BIGINT, "
                   "rows_quarantined BIGINT, staged_at TIMESTAMP, rows_not_yet_known BIGINT DEFAULT 0)")
NOT_YET_KNOWN = "not_yet_known"  # the rule of rows dated after the as-of date of a backfill night (not a breach)
QUARANTINE_DDL = (
    "CREATE TABLE IF NOT EXISTS quarantine(extract VARCHAR, source_file VARCHAR, source_row BIGINT, "
    "rule VARCHAR, column_name VARCHAR, value VARCHAR, record VARCHAR)"
)


@dataclass(frozen=True)
class StageResult:
    """Outcome of staging one extract (rows_in == rows_accepted + rows_quarantined + rows_not_yet_known)."""

    extract: str
    table: str
    typed_table: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    quarantined_by_rule: dict[str, int]  # first rule broken per row; sums to rows_quarantined
    violations_by_rule: dict[str, int]  # suite rules on typed_table, each expectation counted (= GX)
    suite_parameters: dict[str, Any]
    rows_not_yet_known: int = 0  # rule `not_yet_known`: dated after the as-of date of a backfill night


def suite_parameters(as_of: date, max_future_days: int = 0, extracted_on: date | None = None) -> dict[str, Any]:
    """Values for the suites' `$PARAMETER`s: events at or after `future_cutoff` are in the future (of the
    extracts' delivery date `extracted_on`, which is the as-of date on a night run on fresh extracts)."""
    return {
        "future_cutoff": _day_cutoff(max(as_of, extracted_on or as_of), max_future_days),
        "as_of_year": as_of.year,
    }


def _day_cutoff(day: date, max_future_days: int) -> datetime:
    """The start of the day after `day` + `max_future_days`: the first moment not known on `day`."""
    return datetime.combine(day + timedelta(days=max_future_days + 1), datetime.min.time())


def stage_extract(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    contract: ExtractContract,
    suite: dict,
    as_of: date,
    *,
    max_bad_row_share: float,
    max_future_days: int = 0,
    extracted_on: date | None = None,
) -> StageResult:
    """Turn `raw_<extract>` into `stg_<extract>` (and view `typed_<extract>`); replace its quarantine and
    not-yet-known rows. `extracted_on`: the date the extracts were delivered (None: the as-of date).

    Raises ContractError (before `stg_<extract>` is written) for an empty extract or more than
    `max_bad_row_share` of the rows known tonight quarantined; the quarantine rows are kept, `raw_<extract>` too.
    """
    raw, stg = f"raw_{extract}", f"stg_{extract}"
    _check_suite(contract, suite)
    _check_raw(con, contract, raw)
    files = [r[0] for r in con.execute(f"SELECT DISTINCT _source_file FROM {raw} ORDER BY 1").fetchall()]
    rows_in = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
    if rows_in == 0 and not contract.allow_empty:
        raise ContractError(files[0] if files else raw, None, None, f"the {extract} extract has no data rows.")
    _check_references(con, contract)
    params = suite_parameters(as_of, max_future_days, extracted_on)
    expectations = row_expectations(suite)
    predicates = [expectation_predicate(e, _rows_to_group(e, contract), params, suite) for e in expectations]

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _stage_rejects(_rid BIGINT, rule VARCHAR, column_name VARCHAR)")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {LIVE} AS "
                    f"SELECT *, rowid AS _rid FROM {raw} WHERE rowid NOT IN (SELECT _rid FROM _stage_rejects)")
        _reject(con, _not_yet_known_sql(contract, _day_cutoff(as_of, max_future_days), params["future_cutoff"]))
        _reject(con, f"SELECT rowid, _cast_rule, _cast_column FROM {raw} WHERE _cast_rule IS NOT NULL "
                     "AND rowid NOT IN (SELECT _rid FROM _stage_rejects)")
        _find_repeated_keys(con, contract)
        _reject(con, _duplicate_exact_sql(contract))
        if contract.version_column:
            _reject(con, _older_versions_sql(contract, params, expectations))
        violations = _flag_rows(con, expectations, predicates)
        _reject(con, _suite_rejects_sql(expectations), keep_in=f"typed_{extract}_rejected")
        quarantined = dict(con.execute(
            "SELECT rule, count(*) FROM _stage_rejects GROUP BY rule ORDER BY rule").fetchall())
        not_yet_known = quarantined.pop(NOT_YET_KNOWN, 0)
        _write_quarantine(con, contract, raw, expectations)
        rows_quarantined = sum(quarantined.values())
        error = None
        if rows_quarantined > max_bad_row_share * (rows_in - not_yet_known):
            error = _too_many_bad_rows(con, extract, rows_in - not_yet_known, quarantined, max_bad_row_share)
            _drop_typed(con, extract)
        else:
            _write_accepted(con, contract)
        rows_accepted = con.execute(f"SELECT count(*) FROM {stg}").fetchone()[0] if error is None else 0
        if error is None:
            _log_staging(con, extract, rows_in, rows_accepted, rows_quarantined, not_yet_known)
        for view in (LIVE, "_stage_repeated"):
            con.execute(f"DROP VIEW IF EXISTS {view}")
        for tmp in ("_stage_keys", "_stage_flags", "_stage_batch", "_stage_rejects"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
        con.execute("COMMIT")  # on a breach too: the quarantine rows stay for inspection
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if error is not None:
        raise error
    if rows_in != rows_accepted + rows_quarantined + not_yet_known:  # an internal bug, never a data problem
        raise RuntimeError(f"staging {extract} lost rows: {rows_in} in, {rows_accepted} + {rows_quarantined} + "
                           f"{not_yet_known} out")
    return StageResult(extract, stg, f"typed_{extract}", rows_in, rows_accepted, rows_quarantined, quarantined,
                       violations, params, not_yet_known)


def _reject(con: duckdb.DuckDBPyConnection, rows_sql: str, keep_in: str | None = None) -> None:
    """Add the rows that `rows_sql` names (`_rid`, rule, column) to `_stage_rejects` (so out of `_stage_live`).

    With `keep_in`, their typed values are first copied, in file order, into that table.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_batch AS {rows_sql}")
    if keep_in:
        con.execute(f"CREATE OR REPLACE TABLE {keep_in} AS SELECT * EXCLUDE (_rid, {', '.join(WORK_COLUMNS)}) "
                    f"FROM {LIVE} WHERE _rid IN (SELECT _rid FROM _stage_batch) ORDER BY _rid")
    con.execute("INSERT INTO _stage_rejects SELECT * FROM _stage_batch")


def _flag_rows(con: duckdb.DuckDBPyConnection, expectations: list[dict], predicates: list[str]) -> dict[str, int]:
    """Temp `_stage_flags`: the live rows that break a suite expectation, with one boolean per expectation;
    returns the rows breaking each expectation, summed by rule."""
    flags = [f"COALESCE(({p}), false) AS f{i}" for i, p in enumerate(predicates)] or ["false AS f0"]
    any_flag = " OR ".join(f"f{i}" for i in range(len(flags)))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_flags AS "
                f"SELECT * FROM (SELECT _rid, {', '.join(flags)} FROM {LIVE}) WHERE {any_flag}")
    return _count_violations(con, expectations)


def _write_accepted(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    """Delete the rejected rows from `raw_<extract>` and rename it `stg_<extract>` (file order kept), then
    create the view `typed_<extract>` over it and the typed rows the suite rejected: what GX validates."""
    name, raw = contract.extract, f"raw_{contract.extract}"
    con.execute(f"DELETE FROM {raw} WHERE rowid IN (SELECT _rid FROM _stage_rejects)")
    for column in WORK_COLUMNS:
        con.execute(f"ALTER TABLE {raw} DROP COLUMN {column}")
    con.execute(f"DROP TABLE IF EXISTS stg_{name}")
    con.execute(f"ALTER TABLE {raw} RENAME TO stg_{name}")
    con.execute(f"CREATE OR REPLACE VIEW typed_{name} AS SELECT * FROM stg_{name} "
                f"UNION ALL SELECT * FROM typed_{name}_rejected")


def _log_staging(con: duckdb.DuckDBPyConnection, extract: str, rows_in: int, accepted: int, quarantined: int,
                 not_yet_known: int) -> None:
    """`staging_log`: one row per extract for its current `stg_` table (the raw table it came from is gone)."""
    con.execute(STAGING_LOG_DDL)
    con.execute("ALTER TABLE staging_log ADD COLUMN IF NOT EXISTS rows_not_yet_known BIGINT DEFAULT 0")  # older homes
    con.execute("DELETE FROM staging_log WHERE extract = ?", [extract])
    staged_at = datetime.now(timezone.utc).replace(tzinfo=None)
    con.execute("INSERT INTO staging_log (extract, rows_in, rows_accepted, rows_quarantined, staged_at, "
                "rows_not_yet_known) VALUES (?, ?, ?, ?, ?, ?)",
                [extract, rows_in, accepted, quarantined, staged_at, not_yet_known])


def _drop_typed(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    """After a breach nothing may validate a mix of this run's rejects and an older stg table."""
    con.execute(f"DROP VIEW IF EXISTS typed_{extract}")
    con.execute(f"DROP TABLE IF EXISTS typed_{extract}_rejected")


# ---------------------------------------------------------------- stage 2: exact duplicates
def _find_repeated_keys(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    """Temp `_stage_keys`: the primary keys (no part NULL) held by more than one live row, and the view
    `_stage_repeated` of the live rows holding one. Without a primary key both are empty."""
    if contract.primary_key:
        pk = ", ".join(sql_ident(c) for c in contract.primary_key)
        not_null = " AND ".join(f"{sql_ident(c)} IS NOT NULL" for c in contract.primary_key)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_keys AS "
                    f"SELECT {pk} FROM {LIVE} WHERE {not_null} GROUP BY ALL HAVING count(*) > 1")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _stage_repeated AS "
                    f"SELECT * FROM {LIVE} SEMI JOIN _stage_keys USING ({pk})")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _stage_repeated AS SELECT * FROM {LIVE} WHERE false")


def _duplicate_exact_sql(contract: ExtractContract) -> str:
    """The 2nd, 3rd, ... identical copies of a primary key among the live rows (typed values compared),
    as (`_rid`, rule, primary key columns)."""
    every = ", ".join(sql_ident(c) for c in contract.column_names)
    return (
        f"SELECT _rid, {sql_literal(contract.duplicate_exact_rule)}, {sql_literal(','.join(contract.primary_key))} "
        f"FROM (SELECT _rid, row_number() OVER (PARTITION BY {every} ORDER BY _rid) AS _copy FROM _stage_repeated) "
        "WHERE _copy > 1"
    )


def _older_versions_sql(contract: ExtractContract, params: dict[str, Any], expectations: list[dict]) -> str:
    """The copies of a repeated primary key other than its current version (the newest one dated before the
    future cut-off), as (`_rid`, rule, column): older or unversioned copies are superseded, later ones are in
    the future (named like the suite's rule on that column). Keys with no current version are left alone."""
    pk = ", ".join(sql_ident(c) for c in contract.primary_key)
    version = sql_ident(contract.version_column)
    future = next((e["meta"]["rule"] for e in expectations if e["kwargs"].get("column") == contract.version_column
                   and isinstance(e["kwargs"].get("max_value"), dict)), "future_timestamp")
    return (
        f"SELECT _rid, CASE WHEN {version} > current THEN {sql_literal(future)} "
        f"ELSE {sql_literal(contract.superseded_rule)} END, {sql_literal(contract.version_column)} "
        f"FROM (SELECT _rid, {version}, max({version}) FILTER ({version} < {sql_value(params['future_cutoff'])}) "
        f"OVER (PARTITION BY {pk}) AS current FROM _stage_repeated) "
        f"WHERE current IS NOT NULL AND {version} IS DISTINCT FROM current"
    )


def _rows_to_group(expectation: dict, contract: ExtractContract) -> str:
    """The rows a suite predicate groups to find repeated values. For uniqueness of the primary key that is
    `_stage_repeated`: every live row was live when `_stage_keys` was found, so no other key repeats."""
    kwargs = expectation["kwargs"]
    columns = set(kwargs.get("column_list") or [kwargs.get("column")])
    if expectation["type"] in UNIQUENESS_TYPES and contract.primary_key and columns == set(contract.primary_key):
        return "_stage_repeated"
    return LIVE


# ---------------------------------------------------------------- not yet known on the as-of date
def _not_yet_known_sql(contract: ExtractContract, known_cutoff: datetime, future_cutoff: datetime) -> str:
    """The live rows whose `known_from` date is at or after `known_cutoff` (not known on the as-of date) but
    before `future_cutoff` (a later date is a `future_timestamp` breach), as (`_rid`, rule, column)."""
    column = contract.known_from
    if column is None or future_cutoff <= known_cutoff:
        return f"SELECT _rid, {sql_literal(NOT_YET_KNOWN)}, NULL FROM {LIVE} WHERE false"
    c = sql_ident(column)
    return (f"SELECT _rid, {sql_literal(NOT_YET_KNOWN)}, {sql_literal(column)} FROM {LIVE} "
            f"WHERE {c} >= {sql_value(known_cutoff)} AND {c} < {sql_value(future_cutoff)}")


# ---------------------------------------------------------------- stage 3: suite rules
def expectation_predicate(expectation: dict, table: str, parameters: dict[str, Any], suite: dict | None = None) -> str:
    """SQL condition, over the columns of `table`, that is true for a row the expectation rejects.

    Mirrors GX's semantics: column-map expectations ignore NULLs; uniqueness ignores rows with a NULL key.
    """
    type_, kwargs = expectation["type"], _resolve(expectation, parameters, suite)
    c = sql_ident(kwargs["column"]) if "column" in kwargs else None
    if type_ == "expect_column_values_to_not_be_null":
        return f"{c} IS NULL"
    if type_ == "expect_column_values_to_be_null":
        return f"{c} IS NOT NULL"
    if type_ == "expect_column_values_to_be_between":
        return f"{c} IS NOT NULL AND NOT ({_bounds(c, kwargs, expectation, suite)})"
    if type_ == "expect_column_value_lengths_to_be_between":
        return f"{c} IS NOT NULL AND NOT ({_bounds(f'length({c})', kwargs, expectation, suite)})"
    if type_ == "expect_column_values_to_be_in_set":
        return f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(map(sql_value, kwargs['value_set']))})"
    if type_ == "expect_column_values_to_not_be_in_set":
        return f"{c} IN ({', '.join(map(sql_value, kwargs['value_set']))})"
    if type_ in UNIQUENESS_TYPES:
        cols = [kwargs["column"]] if c else kwargs["column_list"]
        key = ", ".join(sql_ident(x) for x in cols)
        not_null = " AND ".join(f"{sql_ident(x)} IS NOT NULL" for x in cols)
        return f"({key}) IN (SELECT {key} FROM {table} WHERE {not_null} GROUP BY ALL HAVING count(*) > 1)"
    if type_ == "unexpected_rows_expectation":
        query = kwargs["unexpected_rows_query"].replace("{batch}", table)
        return f"_rid IN (SELECT _rid FROM ({query}))"
    raise _suite_error(
        suite, expectation,
        f"expectation type '{type_}' (rule '{expectation['meta']['rule']}') cannot be compiled to SQL by staging "
        "(GX on DuckDB does not support regex or LIKE expectations either: use an unexpected_rows_expectation "
        "with regexp_matches).",
    )


def _bounds(value: str, kwargs: dict, expectation: dict, suite: dict | None) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is None and high is None:
        raise _suite_error(suite, expectation, f"{expectation['type']} needs min_value or max_value.")
    parts = []
    if low is not None:
        parts.append(f"{value} {'>' if kwargs.get('strict_min') else '>='} {sql_value(low)}")
    if high is not None:
        parts.append(f"{value} {'<' if kwargs.get('strict_max') else '<='} {sql_value(high)}")
    return " AND ".join(parts)


def _resolve(expectation: dict, parameters: dict[str, Any], suite: dict | None) -> dict:
    """kwargs with every {"$PARAMETER": name} replaced by its value."""
    kwargs = {}
    for key, value in expectation["kwargs"].items():
        if isinstance(value, dict) and "$PARAMETER" in value:
            if value["$PARAMETER"] not in parameters:
                raise _suite_error(suite, expectation, f"uses unknown parameter '{value['$PARAMETER']}'.")
            value = parameters[value["$PARAMETER"]]
        kwargs[key] = value
    return kwargs


def _count_violations(con: duckdb.DuckDBPyConnection, expectations: list[dict]) -> dict[str, int]:
    """Rows breaking each expectation (independently), summed by rule."""
    if not expectations:
        return {}
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE f{i})" for i in range(len(expectations))) + " FROM _stage_flags"
    ).fetchone()
    totals: dict[str, int] = {}
    for exp, n in zip(expectations, counts):
        totals[exp["meta"]["rule"]] = totals.get(exp["meta"]["rule"], 0) + int(n)
    return totals


# ---------------------------------------------------------------- quarantine
def _suite_rejects_sql(expectations: list[dict]) -> str:
    """The flagged typed rows as (`_rid`, first suite rule broken, the column it concerns)."""
    whens = [(f"f{i}", e["meta"]["rule"], expectation_column(e)) for i, e in enumerate(expectations)]
    rule = " ".join(f"WHEN {f} THEN {sql_literal(r)}" for f, r, _ in whens) or "WHEN false THEN NULL"
    column = " ".join(f"WHEN {f} THEN {sql_value(col)}" for f, _, col in whens) or "WHEN false THEN NULL"
    return f"SELECT _rid, CASE {rule} END, CASE {column} END FROM _stage_flags"


def _write_quarantine(con: duckdb.DuckDBPyConnection, contract: ExtractContract, raw: str,
                      expectations: list[dict]) -> None:
    """Replace the extract's quarantine rows with the rejects, each with its value and its row as JSON: as
    delivered for a value that could not be typed, else as typed (the file and row point at the line). Rows not
    yet known are written too, under their own rule, so that their delivered opt-outs are read like any other."""
    con.execute(QUARANTINE_DDL)
    con.execute("DELETE FROM quarantine WHERE extract = ?", [contract.extract])
    labels = {c.name for c in contract.columns} | {",".join(contract.primary_key)}
    labels |= {expectation_column(e) for e in expectations if expectation_column(e)}
    typed_cases = []
    for label in sorted(labels):
        cols = [f"CAST(r.{sql_ident(c)} AS VARCHAR)" for c in label.split(",") if c in contract.column_names]
        if cols:
            expr = cols[0] if len(cols) == 1 else f"concat_ws(',', {', '.join(cols)})"
            typed_cases.append(f"WHEN {sql_literal(label)} THEN {expr}")
    typed_value = f"CASE q.column_name {' '.join(typed_cases)} END" if typed_cases else "NULL"
    delivered_value = "json_extract_string(r._raw_record, '$.\"' || q.column_name || '\"')"
    typed_record = ("CAST(to_json(struct_pack(" + ", ".join(f"{sql_ident(c)} := r.{sql_ident(c)}"
                                                           for c in contract.column_names) + ")) AS VARCHAR)")
    con.execute(
        f"INSERT INTO quarantine SELECT {sql_literal(contract.extract)}, r._source_file, r._source_row, q.rule, "
        f"q.column_name, CASE WHEN r._raw_record IS NULL THEN {typed_value} ELSE {delivered_value} END, "
        f"coalesce(r._raw_record, {typed_record}) "
        f"FROM _stage_rejects q JOIN {raw} r ON r.rowid = q._rid ORDER BY q._rid"
    )


def require_history(con: duckdb.DuckDBPyConnection, contract: ExtractContract, as_of: date) -> None:
    """Raise ContractError (one sentence) when no delivered row of `raw_<extract>` (load it, do not stage it yet)
    is dated before `as_of`: a night decides on events strictly before its as-of date, so the data cannot
    support such a date, and every row would otherwise be set aside or counted as tonight's bad rows."""
    column = sql_ident(contract.known_from)
    before, first = con.execute(f"SELECT count(*) FILTER (WHERE {column} < ?), min({column}) "
                                f"FROM raw_{contract.extract}", [as_of]).fetchone()
    if before:
        return
    since = f"; the first is dated {first:%Y-%m-%d}: choose a later --as-of" if first else ""
    raise ContractError(f"{contract.extract} extract", contract.known_from, as_of.isoformat(),
                        f"no {contract.extract} row dated before the as-of date {as_of}{since}.")


def quarantine_examples(con: duckdb.DuckDBPyConnection, extract: str,
                        per_rule: int = 3) -> dict[tuple[str, str | None], tuple[str | None, ...]]:
    """(rule, column) -> the values of the extract's first `per_rule` quarantined rows under that rule (by file
    and row): the examples shown next to each expectation in the Data Docs."""
    rows = con.execute(
        "SELECT rule, column_name, list(value ORDER BY source_file, source_row)[:?] FROM quarantine "
        "WHERE extract = ? GROUP BY ALL ORDER BY ALL", [per_rule, extract]).fetchall()
    return {(rule, column): tuple(values) for rule, column, values in rows}


def _too_many_bad_rows(con: duckdb.DuckDBPyConnection, extract: str, rows_in: int,
                       quarantined: dict[str, int], max_share: float) -> ContractError:
    top_rule = max(sorted(quarantined), key=lambda r: quarantined[r])
    file, row, column, record = con.execute(
        "SELECT source_file, source_row, column_name, record FROM quarantine WHERE extract = ? AND rule = ? "
        "ORDER BY source_file, source_row LIMIT 1", [extract, top_rule]).fetchone()
    bad = sum(quarantined.values())
    return ContractError(
        file, column, record,
        f"{bad} of {rows_in} rows ({bad / rows_in:.1%}) of the {extract} extract were quarantined, more than the "
        f"allowed {max_share:.1%}; the most frequent rule is '{top_rule}' ({quarantined[top_rule]} rows), "
        f"e.g. row {row}: {record[:300]}",
    )


# ---------------------------------------------------------------- helpers
def _check_suite(contract: ExtractContract, suite: dict) -> None:
    problems = find_contract_suite_mismatches(contract, suite)
    if problems:
        path = (suite.get("meta") or {}).get("path", f"suites/{contract.extract}.json")
        raise ContractError(path, None, None, f"the suite disagrees with {contract.path}: {'; '.join(problems)}.")


def _check_raw(con: duckdb.DuckDBPyConnection, contract: ExtractContract, raw: str) -> None:
    """`raw` must be a table as `load_raw` writes it (staging renames it: it is gone once staged)."""
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE {raw}").fetchall()]
    except duckdb.CatalogException as exc:
        raise ContractError(None, None, raw, f"table {raw} does not exist; load the extract first "
                                             "(a staged extract lives on as stg_ and quarantine).") from exc
    expected = [*contract.column_names, *(name for name, _ in RAW_EXTRA_COLUMNS)]
    if columns != expected:
        raise ContractError(None, None, raw, f"table {raw} was not written by this version's ingest "
                                             f"(columns {columns}); load the extract again.")


def _check_references(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for fk in contract.foreign_keys:
        if fk.table not in existing:
            raise RuntimeError(f"stage {fk.table.removeprefix('stg_')} before {contract.extract}: "
                               f"table {fk.table} does not exist")


def _suite_error(suite: dict | None, expectation: dict, message: str) -> ContractError:
    path = ((suite or {}).get("meta") or {}).get("path", "suite")
    return ContractError(path, expectation.get("kwargs", {}).get("column"), expectation.get("type"), message)

