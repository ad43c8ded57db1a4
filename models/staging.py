"""Type a raw extract, apply its contract and split it into `stg_<extract>` and `quarantine`.

Three stages, each row quarantined under the first rule it breaks:
1. cast: every contract column is read from its raw VARCHAR (null tokens, defaults, type rules);
2. duplicate_exact: later identical copies of a primary key are dropped (the first copy is kept);
3. the row-level expectations of the GX suite (those with `meta.rule`), compiled here to SQL.
Every raw row is typed once, in file order, into the work table `_stage_<extract>`; each stage then
moves the rows it rejects to `_stage_rejects`, and what is left becomes `stg_<extract>`. The wide rows
are never sorted or joined, only scanned, filtered and deleted from, so they keep the file order.
The rows after stage 2 stay visible as the view `typed_<extract>` (= `stg_<extract>` plus
`typed_<extract>_rejected`): what the GX suite validates, so GX's per-expectation unexpected counts
equal `StageResult.violations_by_rule`. Cast failures and exact duplicates are counted here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from data_contracts import (
    ColumnSpec,
    ContractError,
    ExtractContract,
    check_required_columns,
    expectation_column,
    find_contract_suite_mismatches,
    row_expectations,
)
from models.ingest import sql_ident, sql_literal

SOURCE_COLUMNS = ("_source_file", "_source_row")
WORK_COLUMNS = ("_rid", "_cast_rule", "_cast_column")  # in the work table only, after the typed columns
UNIQUENESS_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
DATE_SHAPE = r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T].*)?"
TZ_SUFFIX = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
QUARANTINE_DDL = (
    "CREATE TABLE IF NOT EXISTS quarantine(extract VARCHAR, source_file VARCHAR, source_row BIGINT, "
    "rule VARCHAR, column_name VARCHAR, value VARCHAR, record VARCHAR)"
)


@dataclass(frozen=True)
class StageResult:
    """Outcome of staging one extract (rows_in == rows_accepted + rows_quarantined)."""

    extract: str
    table: str
    typed_table: str
    rows_in: int
    rows_accepted: int
    rows_quarantined: int
    quarantined_by_rule: dict[str, int]  # first rule broken per row; sums to rows_quarantined
    violations_by_rule: dict[str, int]  # suite rules on typed_table, each expectation counted (= GX)
    suite_parameters: dict[str, Any]


def suite_parameters(as_of: date, max_future_days: int = 0) -> dict[str, Any]:
    """Values for the suites' `$PARAMETER`s: events at or after `future_cutoff` are in the future."""
    return {
        "future_cutoff": datetime.combine(as_of + timedelta(days=max_future_days + 1), datetime.min.time()),
        "as_of_year": as_of.year,
    }


def stage_extract(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    contract: ExtractContract,
    suite: dict,
    as_of: date,
    *,
    max_bad_row_share: float,
    max_future_days: int = 0,
) -> StageResult:
    """Create `stg_<extract>` (and view `typed_<extract>`) from `raw_<extract>`; replace its quarantine rows.

    Raises ContractError (before `stg_<extract>` is written) for a missing required column, an empty
    extract, or more than `max_bad_row_share` of the rows quarantined; the quarantine rows are kept.
    """
    raw, stg, work = f"raw_{extract}", f"stg_{extract}", f"_stage_{extract}"
    _check_suite(contract, suite)
    raw_columns = _raw_columns(con, raw)
    files = [r[0] for r in con.execute(f"SELECT DISTINCT _source_file FROM {raw} ORDER BY 1").fetchall()]
    check_required_columns(contract, raw_columns, ", ".join(files) or raw)
    rows_in = con.execute(f"SELECT count(*) FROM {raw}").fetchone()[0]
    if rows_in == 0 and not contract.allow_empty:
        raise ContractError(files[0] if files else raw, None, None, f"the {extract} extract has no data rows.")
    _check_references(con, contract)
    params = suite_parameters(as_of, max_future_days)
    expectations = row_expectations(suite)
    predicates = [expectation_predicate(e, _rows_to_group(e, contract, work), params, suite) for e in expectations]

    _type_rows(con, contract, raw, raw_columns)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _stage_rejects(_rid BIGINT, rule VARCHAR, column_name VARCHAR)")
        _set_aside(con, work, f"SELECT _rid, _cast_rule, _cast_column FROM {work} WHERE _cast_rule IS NOT NULL")
        _find_repeated_keys(con, contract, work)
        _set_aside(con, work, _duplicate_exact_sql(contract, work))
        violations = _flag_rows(con, work, expectations, predicates)
        _set_aside(con, work, _suite_rejects_sql(expectations), keep_in=f"typed_{extract}_rejected")
        quarantined = dict(con.execute(
            "SELECT rule, count(*) FROM _stage_rejects GROUP BY rule ORDER BY rule").fetchall())
        _write_quarantine(con, contract, raw, raw_columns, expectations)
        rows_quarantined = sum(quarantined.values())
        error = None
        if rows_quarantined > max_bad_row_share * rows_in:
            error = _too_many_bad_rows(con, extract, rows_in, quarantined, max_bad_row_share)
            _drop_typed(con, extract)
            con.execute(f"DROP TABLE {work}")
        else:
            _write_accepted(con, contract)
        rows_accepted = con.execute(f"SELECT count(*) FROM {stg}").fetchone()[0] if error is None else 0
        con.execute("DROP VIEW IF EXISTS _stage_repeated")
        for tmp in ("_stage_keys", "_stage_flags", "_stage_batch", "_stage_rejects"):
            con.execute(f"DROP TABLE IF EXISTS {tmp}")
        con.execute("COMMIT")  # on a breach too: the quarantine rows stay for inspection
    except BaseException:
        con.execute("ROLLBACK")
        con.execute(f"DROP TABLE IF EXISTS {work}")
        raise
    if error is not None:
        raise error
    if rows_in != rows_accepted + rows_quarantined:  # an internal bug, never a data problem
        raise RuntimeError(f"staging {extract} lost rows: {rows_in} in, {rows_accepted} + {rows_quarantined} out")
    return StageResult(extract, stg, f"typed_{extract}", rows_in, rows_accepted, rows_quarantined, quarantined,
                       violations, params)


def _type_rows(con: duckdb.DuckDBPyConnection, contract: ExtractContract, raw: str, raw_columns: list[str]) -> None:
    """Write every raw row, typed, into the work table `_stage_<extract>`, committed on its own.

    Rows are deleted from it only in a later transaction: DuckDB rewrites, at commit, a table that the
    committing transaction both created and deleted rows from, which would double the widest write.
    """
    con.execute(f"CREATE OR REPLACE TABLE _stage_{contract.extract} AS {cast_sql(contract, raw, raw_columns)}")


def _set_aside(con: duckdb.DuckDBPyConnection, work: str, rows_sql: str, keep_in: str | None = None) -> None:
    """Move the rows that `rows_sql` names (`_rid`, rule, column) from `work` to `_stage_rejects`.

    With `keep_in`, their typed values are first copied, in file order, into that table.
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_batch AS {rows_sql}")
    con.execute("INSERT INTO _stage_rejects SELECT * FROM _stage_batch")
    in_batch = "_rid IN (SELECT _rid FROM _stage_batch)"
    if keep_in:
        con.execute(f"CREATE OR REPLACE TABLE {keep_in} AS SELECT * EXCLUDE ({', '.join(WORK_COLUMNS)}) "
                    f"FROM {work} WHERE {in_batch} ORDER BY _rid")
    con.execute(f"DELETE FROM {work} WHERE {in_batch}")


def _flag_rows(con: duckdb.DuckDBPyConnection, work: str, expectations: list[dict],
               predicates: list[str]) -> dict[str, int]:
    """Temp `_stage_flags`: the typed rows that break a suite expectation, with one boolean per expectation;
    returns the rows breaking each expectation, summed by rule."""
    flags = [f"COALESCE(({p}), false) AS f{i}" for i, p in enumerate(predicates)] or ["false AS f0"]
    any_flag = " OR ".join(f"f{i}" for i in range(len(flags)))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_flags AS "
                f"SELECT * FROM (SELECT _rid, {', '.join(flags)} FROM {work}) WHERE {any_flag}")
    return _count_violations(con, expectations)


def _write_accepted(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    """Make the rows left in the work table `stg_<extract>` (file order) and create the view
    `typed_<extract>` over it and the typed rows the suite rejected: what GX validates."""
    name, work = contract.extract, f"_stage_{contract.extract}"
    for column in WORK_COLUMNS:
        con.execute(f"ALTER TABLE {work} DROP COLUMN {column}")
    con.execute(f"DROP TABLE IF EXISTS stg_{name}")
    con.execute(f"ALTER TABLE {work} RENAME TO stg_{name}")
    con.execute(f"CREATE OR REPLACE VIEW typed_{name} AS SELECT * FROM stg_{name} "
                f"UNION ALL SELECT * FROM typed_{name}_rejected")


def _drop_typed(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    """After a breach nothing may validate a mix of this run's rejects and an older stg table."""
    con.execute(f"DROP VIEW IF EXISTS typed_{extract}")
    con.execute(f"DROP TABLE IF EXISTS typed_{extract}_rejected")


# ---------------------------------------------------------------- stage 1: cast
def cast_sql(contract: ExtractContract, raw: str, raw_columns: list[str]) -> str:
    """SELECT, in file order, of the typed contract columns (defaults applied) and `_source_row`, then the
    raw row id and the first cast rule broken per row (`WORK_COLUMNS`)."""
    present = set(raw_columns)
    normalized = ", ".join(
        f"{_normalize_expr(contract, c, present)} AS {sql_ident('n_' + c.name)}" for c in contract.columns
    )
    parsed = ", ".join(f"{_parse_expr(contract, c)} AS {sql_ident('t_' + c.name)}" for c in contract.columns)
    failed = [(c, f"{sql_ident('n_' + c.name)} IS NOT NULL AND {sql_ident('t_' + c.name)} IS NULL")
              for c in contract.columns if c.type != "VARCHAR"]
    rule = " ".join(f"WHEN {cond} THEN {_cast_rule_expr(contract, c)}" for c, cond in failed)
    column = " ".join(f"WHEN {cond} THEN {sql_literal(c.name)}" for c, cond in failed)
    final = ", ".join(f"{_typed_expr(c)} AS {sql_ident(c.name)}" for c in contract.columns)
    return (
        f"SELECT {final}, _source_row, _rid, "
        f"CASE {rule or 'WHEN false THEN NULL'} END AS _cast_rule, "
        f"CASE {column or 'WHEN false THEN NULL'} END AS _cast_column "
        f"FROM (SELECT *, {parsed} FROM (SELECT rowid AS _rid, _source_row, {normalized} FROM {raw}))"
    )


def _normalize_expr(contract: ExtractContract, col: ColumnSpec, present: set[str]) -> str:
    """The raw string trimmed; "" (VARCHAR) or any null token (other types) becomes NULL."""
    if col.name not in present:
        return "CAST(NULL AS VARCHAR)"
    value = f"trim({sql_ident(col.name)})"
    if col.normalize == "lower":
        value = f"lower({value})"
    nulls = ("",) if col.type == "VARCHAR" else contract.null_values
    return f"CASE WHEN {_is_one_of(value, nulls)} THEN NULL ELSE {value} END"


def _parse_expr(contract: ExtractContract, col: ColumnSpec) -> str:
    """Typed value of the normalized string, NULL when it cannot be read."""
    n = sql_ident("n_" + col.name)
    if col.type == "VARCHAR":
        return n
    if col.type == "DOUBLE":
        return f"CASE WHEN isfinite(TRY_CAST({n} AS DOUBLE)) THEN TRY_CAST({n} AS DOUBLE) END"
    if col.type == "INTEGER":
        d = f"TRY_CAST({n} AS DOUBLE)"
        return (f"CASE WHEN isfinite({d}) AND {d} = trunc({d}) AND abs({d}) <= 2147483647 "
                f"THEN CAST({d} AS INTEGER) END")
    if col.type == "BOOLEAN":
        return (f"CASE WHEN {_is_one_of(f'lower({n})', contract.true_values)} THEN true "
                f"WHEN {_is_one_of(f'lower({n})', contract.false_values)} THEN false END")
    iso = (f"CASE WHEN regexp_matches({n}, '{TZ_SUFFIX}') THEN timezone('UTC', TRY_CAST({n} AS TIMESTAMPTZ)) "
           f"ELSE TRY_CAST({n} AS TIMESTAMP) END")
    formats = ", ".join(map(sql_literal, contract.timestamp_formats))
    parsed = f"COALESCE({iso}, TRY_STRPTIME({n}, [{formats}]))" if formats else iso
    ts = f"CASE WHEN left({n}, 1) BETWEEN '0' AND '9' THEN {parsed} END"
    return f"CAST({ts} AS DATE)" if col.type == "DATE" else ts


def _is_one_of(value: str, options: tuple[str, ...]) -> str:
    """SQL test that `value` equals one of `options`, evaluated row by row.

    Not `value IN (...)`: DuckDB plans an IN list of five or more constants as a join, and a join does
    not keep the file order of the rows.
    """
    return f"list_position([{', '.join(map(sql_literal, options))}], {value}) IS NOT NULL"


def _cast_rule_expr(contract: ExtractContract, col: ColumnSpec) -> str:
    """Rule name of an unreadable value; a date-shaped value that is no calendar date is 'impossible'."""
    rule = sql_literal(contract.cast_rules[col.type])
    if col.type in ("DATE", "TIMESTAMP"):
        impossible = sql_literal(contract.impossible_date_rule)
        return f"CASE WHEN regexp_full_match({sql_ident('n_' + col.name)}, '{DATE_SHAPE}') THEN {impossible} ELSE {rule} END"
    return rule


def _typed_expr(col: ColumnSpec) -> str:
    """The final typed column: parsed value, else the contract default."""
    value = sql_ident("t_" + col.name)
    if col.default is not None:
        value = f"COALESCE({value}, {_sql_value(col.default)})"
    return f"CAST({value} AS {col.type})"


# ---------------------------------------------------------------- stage 2: exact duplicates
def _find_repeated_keys(con: duckdb.DuckDBPyConnection, contract: ExtractContract, work: str) -> None:
    """Temp `_stage_keys`: the primary keys (no part NULL) held by more than one row of `work`, and the view
    `_stage_repeated` of the rows holding one. Without a primary key both are empty."""
    if contract.primary_key:
        pk = ", ".join(sql_ident(c) for c in contract.primary_key)
        not_null = " AND ".join(f"{sql_ident(c)} IS NOT NULL" for c in contract.primary_key)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_keys AS "
                    f"SELECT {pk} FROM {work} WHERE {not_null} GROUP BY ALL HAVING count(*) > 1")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _stage_repeated AS "
                    f"SELECT * FROM {work} SEMI JOIN _stage_keys USING ({pk})")
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _stage_repeated AS SELECT * FROM {work} WHERE false")


def _duplicate_exact_sql(contract: ExtractContract, work: str) -> str:
    """The 2nd, 3rd, ... identical copies of a primary key among the rows of `work` (typed values compared),
    as (`_rid`, rule, primary key columns)."""
    every = ", ".join(sql_ident(c) for c in contract.column_names)
    return (
        f"SELECT _rid, {sql_literal(contract.duplicate_exact_rule)}, {sql_literal(','.join(contract.primary_key))} "
        f"FROM (SELECT _rid, row_number() OVER (PARTITION BY {every} ORDER BY _rid) AS _copy FROM _stage_repeated) "
        "WHERE _copy > 1"
    )


def _rows_to_group(expectation: dict, contract: ExtractContract, work: str) -> str:
    """The rows a suite predicate groups to find repeated values. For uniqueness of the primary key that is
    `_stage_repeated`: every typed row was in `work` when `_stage_keys` was found, so no other key repeats."""
    kwargs = expectation["kwargs"]
    columns = set(kwargs.get("column_list") or [kwargs.get("column")])
    if expectation["type"] in UNIQUENESS_TYPES and contract.primary_key and columns == set(contract.primary_key):
        return "_stage_repeated"
    return work


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
        return f"{c} IS NOT NULL AND {c} NOT IN ({', '.join(map(_sql_value, kwargs['value_set']))})"
    if type_ == "expect_column_values_to_not_be_in_set":
        return f"{c} IN ({', '.join(map(_sql_value, kwargs['value_set']))})"
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
        parts.append(f"{value} {'>' if kwargs.get('strict_min') else '>='} {_sql_value(low)}")
    if high is not None:
        parts.append(f"{value} {'<' if kwargs.get('strict_max') else '<='} {_sql_value(high)}")
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
    column = " ".join(f"WHEN {f} THEN {_sql_value(col)}" for f, _, col in whens) or "WHEN false THEN NULL"
    return f"SELECT _rid, CASE {rule} END, CASE {column} END FROM _stage_flags"


def _write_quarantine(con: duckdb.DuckDBPyConnection, contract: ExtractContract, raw: str,
                      raw_columns: list[str], expectations: list[dict]) -> None:
    """Replace the extract's quarantine rows with the rejects, each with its raw value and raw row as JSON."""
    con.execute(QUARANTINE_DDL)
    con.execute("DELETE FROM quarantine WHERE extract = ?", [contract.extract])
    labels = {c.name for c in contract.columns} | {",".join(contract.primary_key)}
    labels |= {expectation_column(e) for e in expectations if expectation_column(e)}
    present = set(raw_columns)
    value_cases = []
    for label in sorted(labels):
        cols = [f"r.{sql_ident(c)}" for c in label.split(",") if c in present]
        if cols:
            expr = cols[0] if len(cols) == 1 else f"concat_ws(',', {', '.join(cols)})"
            value_cases.append(f"WHEN {sql_literal(label)} THEN {expr}")
    value = f"CASE q.column_name {' '.join(value_cases)} END" if value_cases else "NULL"
    record = "to_json(struct_pack(" + ", ".join(f"{sql_ident(c)} := r.{sql_ident(c)}" for c in raw_columns) + "))"
    con.execute(
        f"INSERT INTO quarantine SELECT {sql_literal(contract.extract)}, r._source_file, r._source_row, q.rule, "
        f"q.column_name, CAST({value} AS VARCHAR), CAST({record} AS VARCHAR) "
        f"FROM _stage_rejects q JOIN {raw} r ON r.rowid = q._rid ORDER BY q._rid"
    )


def quarantine_examples(con: duckdb.DuckDBPyConnection, extract: str,
                        per_rule: int = 3) -> dict[tuple[str, str | None], tuple[str | None, ...]]:
    """(rule, column) -> the raw values of the extract's first `per_rule` quarantined rows under that rule
    (by file and row): the examples shown next to each expectation in the Data Docs."""
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


def _raw_columns(con: duckdb.DuckDBPyConnection, raw: str) -> list[str]:
    try:
        rows = con.execute(f"DESCRIBE {raw}").fetchall()
    except duckdb.CatalogException as exc:
        raise ContractError(None, None, raw, f"table {raw} does not exist; load the extract first.") from exc
    return [r[0] for r in rows if r[0] not in SOURCE_COLUMNS]


def _check_references(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for fk in contract.foreign_keys:
        if fk.table not in existing:
            raise RuntimeError(f"stage {fk.table.removeprefix('stg_')} before {contract.extract}: "
                               f"table {fk.table} does not exist")


def _suite_error(suite: dict | None, expectation: dict, message: str) -> ContractError:
    path = ((suite or {}).get("meta") or {}).get("path", "suite")
    return ContractError(path, expectation.get("kwargs", {}).get("column"), expectation.get("type"), message)


def _sql_value(value: Any) -> str:
    """A Python value as a SQL literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return sql_literal(str(value))

