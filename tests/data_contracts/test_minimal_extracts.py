"""Only the required columns may be assumed: a company with a bare customer list and purchases still runs."""
import datetime as dt

import duckdb

from data_contracts import load_contract, load_suite
from models.ingest.load import load_raw
from models.ingest.staging import stage_extract


def test_required_columns_only_and_no_interactions_stage_with_defaults(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,signup_date\nA1,2024-01-05\nA2,2024-02-01\n", encoding="utf-8")
    (tmp_path / "purchases.csv").write_text(
        "order_id,customer_id,order_ts,amount\nO1,A1,2024-03-01,20.5\nO2,A2,2024-03-02 10:00:00,7\n", encoding="utf-8")
    con = duckdb.connect()
    as_of = dt.date(2026, 11, 1)
    for extract, paths in (("customers", [tmp_path / "customers.csv"]), ("purchases", [tmp_path / "purchases.csv"]),
                           ("interactions", [])):
        load_raw(con, extract, paths)
        result = stage_extract(con, extract, load_contract(extract), load_suite(extract), as_of, max_bad_row_share=0.05)
        assert result.rows_quarantined == 0, (extract, result.quarantined_by_rule)
    rows = con.execute("SELECT customer_id, source_system, consent_email, consent_sms, do_not_contact "
                       "FROM stg_customers ORDER BY 1").fetchall()
    assert rows == [("A1", "crm", False, False, False), ("A2", "crm", False, False, False)]
    assert con.execute("SELECT quantity, status, discount_amount FROM stg_purchases ORDER BY order_id").fetchall() == [
        (1, "completed", 0.0), (1, "completed", 0.0)]
    assert con.execute("SELECT count(*) FROM stg_interactions").fetchall()[0][0] == 0
