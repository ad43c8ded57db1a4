"""The suppression / erasure list: people who must never appear in any export, mapped to golden ids.

A list is a CSV with any of the columns customer_id, email, phone (one person per row). A row matches
a golden customer through its own id, any source id in the crosswalk, or the normalised email / phone
of any of the person's source records — so an erasure request filed against an old duplicate still
removes the person.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from models.golden.resolve import normalize_email_sql, normalize_phone_sql

MATCH_COLUMNS = ("customer_id", "email", "phone")


class SuppressionListError(ValueError):
    """The suppression list file cannot be used."""


def load_suppressed_ids(con: duckdb.DuckDBPyConnection, path: Path | None) -> set[str]:
    """Golden ids of everyone on the list at `path` (empty set if no list is configured)."""
    if path is None:
        return set()
    if not path.is_file():
        raise SuppressionListError(f"{path}: suppression list not found")
    try:
        header = con.execute("SELECT * FROM read_csv(?, all_varchar=true, header=true) LIMIT 0", [str(path)]).df()
    except duckdb.Error as exc:
        raise SuppressionListError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from exc
    columns = [c for c in MATCH_COLUMNS if c in {h.strip().lower() for h in header.columns}]
    if not columns:
        raise SuppressionListError(f"{path}: needs at least one of the columns {', '.join(MATCH_COLUMNS)}")
    con.execute("CREATE OR REPLACE TEMP TABLE _suppression AS SELECT * FROM read_csv(?, all_varchar=true, header=true, normalize_names=true)", [str(path)])
    matches = []
    if "customer_id" in columns:
        matches.append("SELECT golden_id FROM customer_crosswalk JOIN _suppression s ON trim(s.customer_id) = source_customer_id")
        matches.append("SELECT customer_id FROM golden_customers JOIN _suppression s USING (customer_id)")
    for field, normalise in (("email", normalize_email_sql), ("phone", normalize_phone_sql)):
        if field in columns:
            matches.append(
                f"SELECT x.golden_id FROM stg_customers c JOIN customer_crosswalk x ON x.source_customer_id = c.customer_id "
                f"JOIN _suppression s ON {normalise('s.' + field)} = {normalise('c.' + field)}"
            )
    rows = con.execute(" UNION ".join(matches)).fetchall()
    con.execute("DROP TABLE _suppression")
    return {r[0] for r in rows if r[0] is not None}


def suppressed_rows_sql(con: duckdb.DuckDBPyConnection, path: Path | None, table: str,
                        id_column: str = "customer_id") -> str:
    """SQL condition over the rows of `table`, true for a row of someone on the list at `path` ('false' without one).

    For the UI's previews, shown before or after the golden record exists: a row matches through its own
    `id_column`, email or phone (normalised) and, once golden tables exist, through every source and golden id
    of the people `load_suppressed_ids` finds. Leaves the temp table `_suppressed_keys` for the query to read.
    """
    if path is None:
        return "false"
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    con.execute("CREATE OR REPLACE TEMP TABLE _suppressed_keys(key VARCHAR)")
    listed = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_csv(?, all_varchar=true, header=true, "
                                        "normalize_names=true)", [str(path)]).fetchall()}
    for prefix, field, expr in (("c:", "customer_id", "trim(customer_id)"), ("e:", "email", normalize_email_sql("email")),
                                ("p:", "phone", normalize_phone_sql("phone"))):
        if field in listed:
            con.execute(f"INSERT INTO _suppressed_keys SELECT '{prefix}' || {expr} FROM read_csv(?, all_varchar=true, "
                        f"header=true, normalize_names=true) WHERE {expr} IS NOT NULL", [str(path)])
    golden = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if {"customer_crosswalk", "golden_customers", "stg_customers"} <= golden:
        con.execute("CREATE OR REPLACE TEMP TABLE _suppressed_golden(golden_id VARCHAR)")
        con.executemany("INSERT INTO _suppressed_golden VALUES (?)", [[i] for i in sorted(load_suppressed_ids(con, path))])
        con.execute("INSERT INTO _suppressed_keys SELECT 'c:' || source_customer_id FROM customer_crosswalk "
                    "SEMI JOIN _suppressed_golden USING (golden_id) UNION SELECT 'c:' || golden_id FROM _suppressed_golden")
        con.execute("DROP TABLE _suppressed_golden")
    tests = [f"'c:' || trim(CAST({id_column} AS VARCHAR))"]
    tests += [f"'e:' || {normalize_email_sql('email')}"] if "email" in columns else []
    tests += [f"'p:' || {normalize_phone_sql('phone')}"] if "phone" in columns else []
    return " OR ".join(f"coalesce({t} IN (SELECT key FROM _suppressed_keys), false)" for t in tests)
