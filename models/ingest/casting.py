"""The contract's typing as SQL: every delivered value read as its column's type, once, while a file is loaded.

`cast_sql` turns a FROM item whose columns are the delivered text into the typed contract columns (null
tokens, normalisation, defaults) plus, per row, the first cast rule broken (`_cast_rule`, `_cast_column`)
and — only for a row that will be quarantined for sure (a value that does not type, a required value
missing) — the row as delivered, as JSON (`_raw_record`). Ingest runs it on every file; staging
quarantines the rows. Also the SQL quoting helpers used by ingest and staging.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from data_contracts import ColumnSpec, ExtractContract

CAST_COLUMNS = ("_cast_rule", "_cast_column", "_raw_record")
DATE_SHAPE = r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([ T].*)?"
TZ_SUFFIX = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


def cast_sql(contract: ExtractContract, source: str, delivered: Sequence[str]) -> str:
    """SELECT, in the order of `source`, of the typed contract columns and `CAST_COLUMNS`.

    `source` is a FROM item whose VARCHAR columns are named `delivered` (the file's normalised header);
    a contract column the file does not have reads as missing (NULL, then its default).
    """
    present = set(delivered)
    normalized = ", ".join(
        f"{_normalize_expr(contract, c, present)} AS {sql_ident('n_' + c.name)}" for c in contract.columns
    )
    parsed = ", ".join(f"{_parse_expr(contract, c)} AS {sql_ident('t_' + c.name)}" for c in contract.columns)
    failed = [(c, f"{sql_ident('n_' + c.name)} IS NOT NULL AND {sql_ident('t_' + c.name)} IS NULL")
              for c in contract.columns if c.type != "VARCHAR"]
    rule = " ".join(f"WHEN {cond} THEN {_cast_rule_expr(contract, c)}" for c, cond in failed)
    column = " ".join(f"WHEN {cond} THEN {sql_literal(c.name)}" for c, cond in failed)
    missing = [f"{sql_ident('n_' + c.name)} IS NULL" for c in contract.columns if c.required]
    keep_record = " OR ".join(f"({cond})" for cond in [*(cond for _, cond in failed), *missing]) or "false"
    final = ", ".join(f"{_typed_expr(c)} AS {sql_ident(c.name)}" for c in contract.columns)
    record = "struct_pack(" + ", ".join(f"{sql_ident(c)} := {sql_ident(c)}" for c in delivered) + ")"
    return (
        f"SELECT {final}, "
        f"CASE {rule or 'WHEN false THEN NULL'} END AS _cast_rule, "
        f"CASE {column or 'WHEN false THEN NULL'} END AS _cast_column, "
        f"CASE WHEN {keep_record} THEN CAST(to_json(_raw_record) AS VARCHAR) END AS _raw_record "
        f"FROM (SELECT *, {parsed} FROM (SELECT {record} AS _raw_record, {normalized} FROM {source}))"
    )


def _normalize_expr(contract: ExtractContract, col: ColumnSpec, present: set[str]) -> str:
    """The delivered string trimmed; "" (VARCHAR) or any null token (other types) becomes NULL."""
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
        value = f"COALESCE({value}, {sql_value(col.default)})"
    return f"CAST({value} AS {col.type})"


def sql_ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_value(value: Any) -> str:
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
