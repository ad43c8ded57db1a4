"""Type a raw extract, apply its contract and split it into `stg_<extract>` and `quarantine`.

Three stages, each row quarantined under the first rule it breaks:
1. cast: every contract column is read from its raw VARCHAR (null tokens, defaults, type rules);
2. duplicate_exact: later identical copies of a primary key are dropped (the first copy is kept);
3. the row-level expectations of the GX suite (those with `meta.rule`), compiled here to SQL.
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
    raw, stg = f"raw_{extract}", f"stg_{extract}"
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
    predicates = [expectation_predicate(e, "_stage_typed", params, suite) for e in expectations]

    con.execute("BEGIN TRANSACTION")
    try:
        _type_rows(con, contract, raw, raw_columns)
        violations = _flag_rows(con, expectations, predicates)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_rejects AS {_rejects_sql(contract, expectations)}")
        quarantined = dict(con.execute(
            "SELECT rule, count(*) FROM _stage_rejects GROUP BY rule ORDER BY rule").fetchall())
        _write_quarantine(con, contract, raw, raw_columns, expectations)
        rows_quarantined = sum(quarantined.values())
        error = None
        if rows_quarantined > max_bad_row_share * rows_in:
            error = _too_many_bad_rows(con, extract, rows_in, quarantined, max_bad_row_share)
            _drop_typed(con, extract)
        else:
            _write_accepted(con, contract)
        rows_accepted = con.execute(f"SELECT count(*) FROM {stg}").fetchone()[0] if error is None else 0
        for tmp in ("VIEW _stage_typed", "TABLE _stage_cast", "TABLE _stage_dup", "TABLE _stage_flags",
                    "TABLE _stage_rejects"):
            con.execute(f"DROP {tmp}")
        con.execute("COMMIT")  # on a breach too: the quarantine rows stay for inspection
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if error is not None:
        raise error
    if rows_in != rows_accepted + rows_quarantined:  # an internal bug, never a data problem
        raise RuntimeError(f"staging {extract} lost rows: {rows_in} in, {rows_accepted} + {rows_quarantined} out")
    return StageResult(extract, stg, f"typed_{extract}", rows_in, rows_accepted, rows_quarantined, quarantined,
                       violations, params)


def _type_rows(con: duckdb.DuckDBPyConnection, contract: ExtractContract, raw: str, raw_columns: list[str]) -> None:
    """Temp `_stage_cast` (every row typed), `_stage_dup` (exact copies) and view `_stage_typed` (the rest)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_cast AS {cast_sql(contract, raw, raw_columns)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_dup AS {_duplicate_exact_sql(contract)}")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _stage_typed AS SELECT * EXCLUDE (_cast_rule, _cast_column) FROM _stage_cast "
        "WHERE _cast_rule IS NULL AND _rid NOT IN (SELECT _rid FROM _stage_dup)"
    )


def _flag_rows(con: duckdb.DuckDBPyConnection, expectations: list[dict], predicates: list[str]) -> dict[str, int]:
    """Temp `_stage_flags`: one boolean per suite expectation per typed row; returns the counts per rule."""
    flags = ", ".join(f"COALESCE(({p}), false) AS f{i}" for i, p in enumerate(predicates)) or "false AS f0"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_flags AS SELECT _rid, {flags} FROM _stage_typed")
    return _count_violations(con, expectations)


def _write_accepted(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> None:
    """Persist `stg_<extract>` (accepted rows, file order), the typed rows the suite rejected, and the
    view `typed_<extract>` over both: the typed rows before the suite's rules, which GX validates."""
    name = contract.extract
    cols = ", ".join(sql_ident(c) for c in contract.column_names) + ", _source_row"
    con.execute(f"CREATE OR REPLACE TABLE stg_{name} AS SELECT {cols} FROM _stage_typed "
                "WHERE _rid NOT IN (SELECT _rid FROM _stage_rejects) ORDER BY _rid")
    con.execute(f"CREATE OR REPLACE TABLE typed_{name}_rejected AS SELECT {cols} FROM _stage_typed "
                "WHERE _rid IN (SELECT _rid FROM _stage_rejects) ORDER BY _rid")
    con.execute(f"CREATE OR REPLACE VIEW typed_{name} AS SELECT * FROM stg_{name} "
                f"UNION ALL SELECT * FROM typed_{name}_rejected")


def _drop_typed(con: duckdb.DuckDBPyConnection, extract: str) -> None:
    """After a breach nothing may validate a mix of this run's rejects and an older stg table."""
    con.execute(f"DROP VIEW IF EXISTS typed_{extract}")
    con.execute(f"DROP TABLE IF EXISTS typed_{extract}_rejected")


# ---------------------------------------------------------------- stage 1: cast
def cast_sql(contract: ExtractContract, raw: str, raw_columns: list[str]) -> str:
    """SELECT of typed contract columns (defaults applied) plus the first cast rule broken per row."""
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
        f"SELECT _rid, _source_row, {final}, "
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
    return f"CASE WHEN {value} IN ({', '.join(map(sql_literal, nulls))}) THEN NULL ELSE {value} END"


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
        return (f"CASE WHEN lower({n}) IN ({', '.join(map(sql_literal, contract.true_values))}) THEN true "
                f"WHEN lower({n}) IN ({', '.join(map(sql_literal, contract.false_values))}) THEN false END")
    iso = (f"CASE WHEN regexp_matches({n}, '{TZ_SUFFIX}') THEN timezone('UTC', TRY_CAST({n} AS TIMESTAMPTZ)) "
           f"ELSE TRY_CAST({n} AS TIMESTAMP) END")
    formats = ", ".join(map(sql_literal, contract.timestamp_formats))
    parsed = f"COALESCE({iso}, TRY_STRPTIME({n}, [{formats}]))" if formats else iso
    ts = f"CASE WHEN left({n}, 1) BETWEEN '0' AND '9' THEN {parsed} END"
    return f"CAST({ts} AS DATE)" if col.type == "DATE" else ts


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
def _duplicate_exact_sql(contract: ExtractContract) -> str:
    """Row ids of the 2nd, 3rd, ... identical copies of a primary key (typed values compared)."""
    if not contract.primary_key:
        return "SELECT _rid FROM _stage_cast WHERE false"
    pk = ", ".join(sql_ident(c) for c in contract.primary_key)
    not_null = " AND ".join(f"{sql_ident(c)} IS NOT NULL" for c in contract.primary_key)
    every = ", ".join(sql_ident(c) for c in contract.column_names)
    keys = f"SELECT {pk} FROM _stage_cast WHERE _cast_rule IS NULL AND {not_null} GROUP BY ALL HAVING count(*) > 1"
    return (
        f"SELECT _rid FROM (SELECT _rid, row_number() OVER (PARTITION BY {every} ORDER BY _rid) AS _copy "
        f"FROM _stage_cast SEMI JOIN ({keys}) AS keys USING ({pk}) WHERE _cast_rule IS NULL) WHERE _copy > 1"
    )


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
    if type_ in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
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
def _rejects_sql(contract: ExtractContract, expectations: list[dict]) -> str:
    """One row per rejected raw row: its id, the first rule broken and the column it concerns."""
    pk = ",".join(contract.primary_key)
    parts = [
        "SELECT _rid, _cast_rule AS rule, _cast_column AS column_name FROM _stage_cast WHERE _cast_rule IS NOT NULL",
        f"SELECT _rid, {sql_literal(contract.duplicate_exact_rule)}, {sql_literal(pk)} FROM _stage_dup",
    ]
    if expectations:
        whens = [(f"f{i}", e["meta"]["rule"], expectation_column(e)) for i, e in enumerate(expectations)]
        rule = " ".join(f"WHEN {f} THEN {sql_literal(r)}" for f, r, _ in whens)
        column = " ".join(f"WHEN {f} THEN {_sql_value(col)}" for f, _, col in whens)
        any_flag = " OR ".join(f for f, _, _ in whens)
        parts.append(f"SELECT _rid, CASE {rule} END, CASE {column} END FROM _stage_flags WHERE {any_flag}")
    return " UNION ALL ".join(parts)


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

