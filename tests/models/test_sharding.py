"""The shard hash (Python and SQL agree) and the combine step's consistency check on published shard files."""
import hashlib

import duckdb
import pandas as pd
import pytest

from models.sharding import check_shards, publish_parquet, shard_of, shard_sql


def test_shard_of_matches_the_sql_expression():
    ids = [f"C{i:07d}" for i in range(2000)] + ["ñandú-Ç", "José Müller", "", "客户42"]
    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT unnest(?) AS customer_id", [ids])
    in_sql = dict(con.execute(f"SELECT customer_id, {shard_sql('customer_id', 3)} FROM ids").fetchall())
    assert {i: shard_of(i, 3) for i in ids} == in_sql
    counts = pd.Series([shard_of(i, 3) for i in ids[:2000]]).value_counts()
    assert set(counts.index) == {0, 1, 2} and counts.min() > 600  # md5 spreads ids evenly
    assert shard_of("C0000001", 7) == int(hashlib.md5(b"C0000001").hexdigest()[:8], 16) % 7  # the documented formula


def test_combine_refuses_a_missing_or_misplaced_shard(tmp_path):
    ids = [f"C{i:07d}" for i in range(30)]
    con = duckdb.connect()
    con.execute("CREATE TABLE ids AS SELECT unnest(?) AS customer_id", [ids])
    files = {t: [tmp_path / t / f"shard={k}.parquet" for k in range(2)] for t in ("customer_features", "customer_scores")}
    for k in range(2):
        for table in files:
            publish_parquet(con, f"SELECT customer_id FROM ids WHERE {shard_sql('customer_id', 2)} = {k}", files[table][k])
    assert check_shards(con, files, 2) == {k: sum(shard_of(i, 2) == k for i in ids) for k in range(2)}
    publish_parquet(con, "SELECT customer_id FROM ids", files["customer_features"][0])  # shard 0 now holds everyone
    with pytest.raises(ValueError, match="shard 0 is inconsistent"):
        check_shards(con, files, 2)
    files["customer_scores"][1].unlink()
    with pytest.raises(FileNotFoundError, match="shard=1.parquet is missing"):
        check_shards(con, files, 2)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic publishing leaves no temp files behind
