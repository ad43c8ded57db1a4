"""models.ingest.load: finding extract files and loading them, typed by their contract, into raw_<extract> tables."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from datetime import datetime

import duckdb
import pytest

from data_contracts import ContractError, load_contract
from models.ingest.load import RAW_EXTRA_COLUMNS, discover_extracts, load_raw, scan_landing
from tests.data_contracts.helpers import BAD, GOOD, make_landing


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def raw_rows(con, extract: str) -> list[tuple]:
    """Raw rows as dicts: the typed columns and `_source_row`, in file order."""
    cur = con.execute(f"SELECT * EXCLUDE (_source_file, _cast_rule, _cast_column, _raw_record) "
                      f"FROM raw_{extract} ORDER BY _source_file, _source_row")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def load_one(con, tmp_path, extract: str, name: str, source):
    landing = make_landing(tmp_path, {name: source})
    return load_raw(con, extract, [landing / name])


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- discovery
def test_discover_groups_part_files_in_natural_order_and_ignores_other_files(tmp_path):
    landing = make_landing(tmp_path, {
        "customers.csv": GOOD / "customers.csv",
        "purchases.csv.gz": GOOD / "purchases.csv.gz",
        "purchases_part10.csv": GOOD / "purchases_pipe.csv",
        "purchases_part2.csv": GOOD / "purchases_reordered.csv",
        "README.txt": GOOD / "customers.csv",
        "customers.csv.tmp": GOOD / "customers.csv",
        "interactions_backup.xlsx": GOOD / "interactions.csv",
    })
    found = discover_extracts(landing)
    assert {k: [p.name for p in v] for k, v in found.items()} == {
        "customers": ["customers.csv"],
        "purchases": ["purchases.csv.gz", "purchases_part2.csv", "purchases_part10.csv"],
    }


def test_missing_required_extract_stops_the_run(tmp_path):
    landing = make_landing(tmp_path, {"customers.csv": GOOD / "customers.csv"})
    with pytest.raises(ContractError, match="no purchases extract was delivered"):
        discover_extracts(landing)


def test_same_extract_delivered_twice_is_skipped_and_reported(tmp_path, caplog):
    landing = make_landing(tmp_path, {
        "customers.csv": GOOD / "customers.csv",
        "purchases.csv": GOOD / "purchases.csv",
        "purchases_resent.csv": GOOD / "purchases.csv",
    })
    scan = scan_landing(landing)
    assert [(d.file.name, d.same_as.name) for d in scan.duplicates] == [("purchases_resent.csv", "purchases.csv")]
    assert scan.duplicates[0].sha256 == sha(GOOD / "purchases.csv")
    with caplog.at_level(logging.WARNING):
        found = discover_extracts(landing)
    assert [p.name for p in found["purchases"]] == ["purchases.csv"]
    assert "duplicate delivery of purchases.csv" in caplog.text


# ---------------------------------------------------------------- what raw keeps
def test_raw_types_every_column_by_the_contract_and_logs_the_file(con, tmp_path):
    info = load_one(con, tmp_path, "purchases", "purchases.csv", GOOD / "purchases.csv")
    types = [(name, type_) for name, type_, *_ in con.execute("DESCRIBE raw_purchases").fetchall()]
    assert types == [(c.name, c.type) for c in load_contract("purchases").columns] + list(RAW_EXTRA_COLUMNS)
    rows = raw_rows(con, "purchases")
    assert [r["_source_row"] for r in rows] == list(range(1, 9))
    assert rows[0]["amount"] == 59.9 and rows[6]["status"] == "completed" and rows[2]["quantity"] == 1  # default
    assert con.execute("SELECT count(*) FROM raw_purchases WHERE _cast_rule IS NOT NULL OR _raw_record IS NOT NULL"
                       ).fetchone()[0] == 0
    log = con.execute("SELECT extract, file, sha256, format, encoding, rows FROM ingest_log").fetchall()
    assert log == [("purchases", "purchases.csv", sha(GOOD / "purchases.csv"), "csv", "utf-8", 8)]
    assert info.rows == 8 and info.files[0].delimiter == ","


def test_a_value_that_does_not_type_keeps_its_rule_and_the_row_as_delivered(con, tmp_path):
    path = tmp_path / "purchases.csv"
    path.write_text("order_id,customer_id,order_ts,amount,Store Code\n"
                    "O1,C001,2026-10-01,12.5,S1\nO2,C001,2026-02-30,abc,S2\nO3, C002 ,yesterday,1,S3\n",
                    encoding="utf-8")
    load_raw(con, "purchases", [path])
    rows = con.execute("SELECT order_id, customer_id, amount, _source_row, rowid, _cast_rule, _cast_column, "
                       "_raw_record FROM raw_purchases ORDER BY _source_row").fetchall()
    assert rows[0] == ("O1", "C001", 12.5, 1, 0, None, None, None)
    assert rows[1][:7] == ("O2", "C001", None, 2, 1, "impossible_date", "order_ts")  # the first bad column
    assert json.loads(rows[1][7]) == {"order_id": "O2", "customer_id": "C001", "order_ts": "2026-02-30",
                                      "amount": "abc", "store code": "S2"}
    assert rows[2][5:7] == ("unparsable_date", "order_ts") and json.loads(rows[2][7])["customer_id"] == " C002 "


@pytest.mark.parametrize("variant, encoding", [
    ("customers_latin1.csv", "cp1252"),
    ("customers_bom.csv", "utf-8-sig"),
    ("customers_semicolon.csv", "utf-8"),
])
def test_encodings_and_delimiters_load_the_same_rows(con, tmp_path, variant, encoding):
    load_one(con, tmp_path / "a", "customers", "customers.csv", GOOD / "customers.csv")
    expected = raw_rows(con, "customers")
    info = load_one(con, tmp_path / "b", "customers", "customers.csv", GOOD / variant)
    assert raw_rows(con, "customers") == expected
    assert expected[1]["first_name"] == "João" and "customer_id" in expected[0]
    assert info.files[0].encoding == encoding


def test_cp1252_only_characters_are_decoded(con, tmp_path):
    path = tmp_path / "interactions.csv"
    path.write_bytes("interaction_id,customer_id,interaction_ts,channel,type,note_text\n"
                     "I1,C001,2026-10-01,email,complaint,cobro de 5 € “dos veces”\n".encode("cp1252"))
    load_raw(con, "interactions", [path])
    assert raw_rows(con, "interactions")[0]["note_text"] == "cobro de 5 € “dos veces”"


@pytest.mark.parametrize("variant, delimiter", [("purchases_pipe.csv", "|"), ("purchases.csv.gz", ",")])
def test_pipe_delimiter_and_gzip_load_the_same_rows(con, tmp_path, variant, delimiter):
    load_one(con, tmp_path / "a", "purchases", "purchases.csv", GOOD / "purchases.csv")
    expected = raw_rows(con, "purchases")
    info = load_one(con, tmp_path / "b", "purchases", variant, GOOD / variant)
    assert raw_rows(con, "purchases") == expected
    assert info.files[0].delimiter == delimiter
    assert info.files[0].format == ("csv.gz" if variant.endswith(".gz") else "csv")


def test_quoted_fields_keep_embedded_newlines_quotes_and_delimiters(con, tmp_path):
    for name in ("interactions.csv", "interactions_tab.csv"):
        load_one(con, tmp_path / name, "interactions", "interactions.csv", GOOD / name)
        rows = raw_rows(con, "interactions")
        assert rows[2]["note_text"] == 'El pedido llegó tarde, y la caja estaba rota.\nPide reembolso; dice "nunca más".'
        assert rows[3]["note_text"] == "Cliente pergunta sobre a troca | prazo, devolução"
        assert [r["_source_row"] for r in rows] == list(range(1, 9))  # data rows, not physical lines


def test_rows_of_large_files_are_numbered_in_file_order(con, tmp_path):
    """Files of several row groups read on two threads: each data row keeps its number, counted from 1 per file,
    and the table holds the rows in file order."""
    con.execute("SET threads = 2")
    files = {"interactions.csv": 600_000, "interactions_part2.csv": 1_000}
    for name, n_rows in files.items():
        lines = ["interaction_id,customer_id,interaction_ts,channel,type,note_text"]
        for row in range(1, n_rows + 1):  # interaction_id = the data row number; every 1000th row spans two lines
            note = '"line one\nline two"' if row % 1000 == 0 else "ok"
            lines.append(f"{row},C1,2026-10-01,web,visit,{note}")
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_raw(con, "interactions", [tmp_path / name for name in files])
    numbered = con.execute("SELECT _source_file, _source_row, interaction_id FROM raw_interactions").fetchall()
    assert numbered == [(name, row, str(row)) for name, n_rows in files.items() for row in range(1, n_rows + 1)]


def test_parquet_columns_are_typed_like_csv_text(con, tmp_path):
    path = tmp_path / "purchases.parquet"
    con.execute(f"COPY (SELECT 'O1' AS Order_ID, 'C001' AS customer_id, TIMESTAMP '2026-10-01 10:00:00' AS order_ts, "
                f"12.5::DOUBLE AS amount, 2 AS quantity) TO '{path}' (FORMAT parquet)")
    info = load_raw(con, "purchases", [path])
    row = raw_rows(con, "purchases")[0]
    assert {k: row[k] for k in ("order_id", "customer_id", "order_ts", "amount", "quantity", "_source_row")} == {
        "order_id": "O1", "customer_id": "C001", "order_ts": datetime(2026, 10, 1, 10), "amount": 12.5,
        "quantity": 2, "_source_row": 1}
    assert (info.files[0].format, info.files[0].encoding) == ("parquet", None)


def test_a_field_of_several_megabytes_is_loaded_whole(con, tmp_path):
    note = "Queja muy larga; " * 400_000  # 6.8 MB in one field
    path = tmp_path / "interactions.csv"
    path.write_text("interaction_id,customer_id,interaction_ts,channel,type,note_text\n"
                    f'I1,C001,2026-10-01,phone,complaint,"{note}"\nI2,C002,2026-10-02,email,support,short\n',
                    encoding="utf-8")
    load_raw(con, "interactions", [path])
    rows = raw_rows(con, "interactions")
    assert rows[0]["note_text"] == note.strip() and rows[1]["note_text"] == "short"  # trimmed, as typed


def test_part_files_with_different_column_orders_are_united_by_name(con, tmp_path):
    landing = make_landing(tmp_path, {"purchases.csv": GOOD / "purchases.csv",
                                      "purchases_part2.csv": GOOD / "purchases_extra_columns.csv"})
    info = load_raw(con, "purchases", [landing / "purchases.csv", landing / "purchases_part2.csv"])
    assert info.rows == 16 and {"store_code", "comment"} <= set(info.columns)  # delivered, not in the contract
    per_file = con.execute("SELECT _source_file, count(*), count(product_id), max(_source_row) FROM raw_purchases "
                           "GROUP BY 1 ORDER BY 1").fetchall()
    assert per_file == [("purchases.csv", 8, 8, 8), ("purchases_part2.csv", 8, 8, 8)]
    assert raw_rows(con, "purchases")[:8] == raw_rows(con, "purchases")[8:]  # the same rows, other columns around
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 2


def test_header_names_are_lower_cased_and_stripped(con, tmp_path):
    info = load_one(con, tmp_path, "purchases", "purchases.csv", GOOD / "purchases_reordered.csv")
    assert info.columns == ("status", "amount", "order_id", "discount_amount", "order_ts", "customer_id",
                            "channel", "quantity", "category", "product_id")


# ---------------------------------------------------------------- broken deliveries stop the run
def test_empty_file_stops_the_run(con, tmp_path):
    with pytest.raises(ContractError, match=r"^purchases.csv: is empty \(0 bytes\)"):
        load_one(con, tmp_path, "purchases", "purchases.csv", BAD / "purchases_empty.csv")


def test_header_only_customers_stop_the_run_but_interactions_may_be_empty(con, tmp_path):
    with pytest.raises(ContractError, match="has a header but no data rows"):
        load_one(con, tmp_path / "c", "customers", "customers.csv", BAD / "customers_header_only.csv")
    info = load_one(con, tmp_path / "i", "interactions", "interactions.csv", BAD / "interactions_header_only.csv")
    assert info.rows == 0 and con.execute("SELECT count(*) FROM raw_interactions").fetchone()[0] == 0


def test_an_optional_extract_not_delivered_loads_as_an_empty_table(con):
    info = load_raw(con, "interactions", [])
    assert (info.rows, info.files) == (0, ())
    columns = [r[0] for r in con.execute("DESCRIBE raw_interactions").fetchall()]
    assert columns == load_contract("interactions").column_names + [name for name, _ in RAW_EXTRA_COLUMNS]
    with pytest.raises(ContractError, match="no files were given for the required purchases extract"):
        load_raw(con, "purchases", [])


def test_missing_required_column_names_the_file_and_column(con, tmp_path):
    with pytest.raises(ContractError) as err:
        load_one(con, tmp_path, "purchases", "purchases.csv", BAD / "purchases_missing_amount.csv")
    assert err.value.column == "amount" and err.value.file.endswith("purchases.csv")
    assert str(err.value).startswith("purchases.csv: required column 'amount' of the purchases extract is missing")


def test_truncated_last_line_names_the_file_and_line(con, tmp_path):
    with pytest.raises(ContractError) as err:
        load_one(con, tmp_path, "purchases", "purchases.csv", BAD / "purchases_truncated.csv")
    assert str(err.value).startswith("purchases.csv: line 4 is malformed")
    assert err.value.value == "O1103,C002,2026-10-0" and "\n" not in str(err.value)


def test_unterminated_quote_names_the_file_and_line(con, tmp_path):
    with pytest.raises(ContractError, match=r"^interactions.csv: line 3 is malformed \(Value with unterminated quote"):
        load_one(con, tmp_path, "interactions", "interactions.csv", BAD / "interactions_unterminated_quote.csv")


def test_truncated_gzip_stops_the_run(con, tmp_path):
    path = tmp_path / "purchases.csv.gz"
    path.write_bytes((GOOD / "purchases.csv.gz").read_bytes()[:-30])
    with pytest.raises(ContractError, match="not a readable gzip file"):
        load_raw(con, "purchases", [path])


def test_failed_load_keeps_the_previous_raw_table_and_log(con, tmp_path):
    load_one(con, tmp_path / "a", "purchases", "purchases.csv", GOOD / "purchases.csv")
    landing = make_landing(tmp_path / "b", {"purchases.csv": GOOD / "purchases.csv",
                                            "purchases_part2.csv": BAD / "purchases_truncated.csv"})
    with pytest.raises(ContractError, match="purchases_part2.csv: line 4"):
        load_raw(con, "purchases", [landing / "purchases.csv", landing / "purchases_part2.csv"])
    assert con.execute("SELECT count(*) FROM raw_purchases").fetchone()[0] == 8
    assert con.execute("SELECT count(*) FROM ingest_log").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_load\\_%' ESCAPE '\\'"
                       ).fetchone()[0] == 0


def test_rows_are_numbered_per_file_after_the_load_and_no_work_table_stays(con, tmp_path):
    landing = make_landing(tmp_path, {"purchases.csv": GOOD / "purchases.csv",
                                      "purchases_part2.csv": GOOD / "purchases_reordered.csv"})
    load_raw(con, "purchases", [landing / "purchases.csv", landing / "purchases_part2.csv"])
    numbered = con.execute("SELECT _source_file, list(_source_row ORDER BY rowid), list(rowid ORDER BY rowid) "
                           "FROM raw_purchases GROUP BY 1 ORDER BY 1").fetchall()
    assert numbered == [("purchases.csv", list(range(1, 9)), list(range(0, 8))),
                        ("purchases_part2.csv", list(range(1, 9)), list(range(8, 16)))]
    assert [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()] == \
        ["ingest_log", "raw_purchases"]


def test_raw_files_are_never_modified(con, tmp_path):
    names = {"customers.csv": GOOD / "customers_latin1.csv", "purchases.csv.gz": GOOD / "purchases.csv.gz",
             "interactions.csv": GOOD / "interactions_tab.csv"}
    landing = make_landing(tmp_path, names)
    before = {p.name: (sha(p), p.stat().st_mtime_ns) for p in landing.iterdir()}
    for extract, paths in discover_extracts(landing).items():
        load_raw(con, extract, paths)
    assert {p.name: (sha(p), p.stat().st_mtime_ns) for p in landing.iterdir()} == before
    assert sorted(p.name for p in landing.iterdir()) == sorted(names)


def test_loading_is_deterministic(tmp_path):
    results = []
    for run in ("a", "b"):
        with duckdb.connect() as con:
            landing = make_landing(tmp_path / run, {"purchases.csv": GOOD / "purchases.csv",
                                                    "purchases_part2.csv": GOOD / "purchases_pipe.csv"})
            load_raw(con, "purchases", sorted(landing.iterdir()))
            results.append(con.execute("SELECT * FROM raw_purchases").fetchall())
    assert results[0] == results[1]


def test_gzip_fixture_holds_the_plain_fixture():
    assert gzip.decompress((GOOD / "purchases.csv.gz").read_bytes()) == (GOOD / "purchases.csv").read_bytes()
