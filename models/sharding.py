"""Which shard a customer belongs to, and where a shard step publishes its tables.

A customer's shard is the first 8 hex digits of md5(customer_id) (UTF-8) read as an unsigned integer,
modulo the shard count: `shard_of` in Python and `shard_sql` in DuckDB SQL give the same number (md5
is fixed by RFC 1321 and DuckDB documents that '0x…' strings cast to integers), unlike DuckDB's
`hash()`, which may change between versions. The Dagster side (shard steps, jobs, executor) is
assets/sharded.py and pipelines/sharding.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pandas as pd

from models.atomic import atomic_path

SHARD_HASH_HEX_DIGITS = 8
# table -> its order, as the single-process assets write it (and as shard files are published)
SHARD_TABLES = {"customer_features": "customer_id", "customer_scores": "customer_id",
                "action_response": "customer_id, action_id"}


def shard_of(customer_id: str, n_shards: int) -> int:
    """The shard (0 .. n_shards-1) of a golden id; the same number as `shard_sql` in DuckDB."""
    digest = hashlib.md5(customer_id.encode("utf-8")).hexdigest()
    return int(digest[:SHARD_HASH_HEX_DIGITS], 16) % n_shards


def shard_sql(column: str, n_shards: int) -> str:
    """DuckDB expression for the shard of `column`, identical to `shard_of`."""
    return f"(CAST('0x' || left(md5({column}), {SHARD_HASH_HEX_DIGITS}) AS UBIGINT) % {int(n_shards)})"


def shard_file(home: Path, as_of: dt.date, table: str, shard: int) -> Path:
    """Where a shard step publishes one of its tables: HOME/shards/<as_of>/<table>/shard=<k>.parquet."""
    return home / "shards" / as_of.isoformat() / table / f"shard={shard}.parquet"


def use_scratch_database(con: duckdb.DuckDBPyConnection) -> None:
    """Let a read-only warehouse connection create tables: new tables go to an attached in-memory
    database, names are looked up there first and then in the warehouse."""
    warehouse = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute("ATTACH ':memory:' AS shard_scratch (READ_WRITE)")
    con.execute("USE shard_scratch")
    con.execute(f"SET search_path = 'shard_scratch.main,\"{warehouse}\".main'")


def publish_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    """Write a query's rows to `path` atomically (temp file + rename): readers see all of it or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        con.execute(f"COPY ({query}) TO '{_sql_text(tmp)}' (FORMAT parquet)")


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def read_shard(path: Path, order: str) -> pd.DataFrame:
    """A published shard table as pandas, ordered, with the dtypes DuckDB gives the warehouse table."""
    if not path.exists():
        raise FileNotFoundError(f"shard file {path} is missing: run the shard step that writes it first")
    with duckdb.connect() as con:
        return con.execute(f"SELECT * FROM read_parquet(?) ORDER BY {order}", [str(path)]).df()


def check_shards(con: duckdb.DuckDBPyConnection, files: dict[str, list[Path]], n_shards: int) -> dict[int, int]:
    """Rows per shard; raises if a file is missing, a customer sits in the wrong shard or appears twice,
    or a shard's scores do not cover exactly its features."""
    for paths in files.values():
        for path in paths:
            if not path.exists():
                raise FileNotFoundError(f"shard file {path} is missing: its shard step did not publish it")
    query = f"""
        SELECT count(*), count(DISTINCT customer_id), count(*) FILTER ({shard_sql('customer_id', n_shards)} <> $3),
               (SELECT count(*) FROM read_parquet($2)),
               (SELECT count(*) FROM (SELECT customer_id FROM read_parquet($1) EXCEPT ALL
                                      SELECT customer_id FROM read_parquet($2)))
        FROM read_parquet($1)"""
    rows = {}
    for shard, (features, scores) in enumerate(zip(files["customer_features"], files["customer_scores"])):
        n, distinct, misplaced, scored, unscored = con.execute(query, [str(features), str(scores), shard]).fetchall()[0]
        if misplaced or distinct != n or unscored or scored != n:
            raise ValueError(f"shard {shard} is inconsistent ({features.parent.parent}): {misplaced} customers of other "
                             f"shards, {n - distinct} repeated ids, {unscored} customers without scores, "
                             f"{scored} score rows for {n} customers")
        rows[shard] = int(n)
    return rows
