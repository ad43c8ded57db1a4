"""The raw opt-outs the export compliance check reads itself, independently of the golden record.

Blocked keys come straight from what was delivered: tonight's stg_customers and quarantined customer rows plus
the consent ledger of earlier nights (a standing "no" per models/golden/consent.py's rule), and the
suppression / erasure list file. A key is 'c:<customer id>', 'e:<normalised e-mail>' or 'p:<phone NSN>'; its
channel is email / sms / phone / app, 'all' (do-not-contact) or 'erased'. A blocked record blocks every key of
every delivered record sharing one of its keys (one hop, without the golden record's resolution), except keys
found on more than MAX_CUSTOMERS_PER_KEY customer ids, which link nobody (as in the golden record).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data_contracts import ExtractContract
from models.golden.consent import FLAGS, LEDGER, LEDGER_DDL, delivered_states_sql, opted_out_records_sql
from models.golden.resolve import MAX_CUSTOMERS_PER_KEY, normalize_email_sql, normalize_phone_sql

ERASED, EVERY_CHANNEL = "erased", "all"
_CHANNEL_OF = {"consent_email": "email", "consent_sms": "sms", "consent_phone": "phone", "consent_app": "app",
               "do_not_contact": EVERY_CHANNEL}


def _keys_sql(table: str) -> str:
    """(row, key) for every customer id / normalised e-mail / phone of `table` (which has `row`)."""
    return (f"SELECT row, 'c:' || customer_id AS key FROM {table} WHERE customer_id IS NOT NULL "
            f"UNION ALL SELECT row, 'e:' || email FROM {table} WHERE email IS NOT NULL "
            f"UNION ALL SELECT row, 'p:' || phone FROM {table} WHERE phone IS NOT NULL")


def raw_opt_out_keys(con: duckdb.DuckDBPyConnection, as_of: date, contract: ExtractContract,
                     suppression_path: Path | None) -> pd.DataFrame:
    """(key, channel) of everything a delivered row or the erasure list forbids on the as-of night."""
    con.execute(LEDGER_DDL)
    tonight = delivered_states_sql(contract)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _oo_records AS SELECT row_number() OVER () AS row, * FROM ("
                f"SELECT *, DATE '{as_of}' AS first_seen_as_of FROM ({tonight}) "
                f"UNION ALL BY NAME SELECT * FROM {LEDGER})")
    outs = opted_out_records_sql(as_of, source="_oo_records")
    channels = " UNION ALL ".join(f"SELECT customer_id, email, phone, '{_CHANNEL_OF[f]}' AS channel FROM outs WHERE {f}"
                                  for f in FLAGS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _oo_blocked AS WITH outs AS ({outs}) "
                f"SELECT row_number() OVER () AS row, * FROM ({channels})")
    if suppression_path is not None:
        con.execute("CREATE OR REPLACE TEMP TABLE _oo_list AS SELECT * FROM read_csv(?, all_varchar=true, "
                    "header=true, normalize_names=true)", [str(suppression_path)])
        listed = {r[0] for r in con.execute("DESCRIBE _oo_list").fetchall()}
        value = {c: (c if c in listed else "NULL") for c in ("customer_id", "email", "phone")}
        con.execute(f"INSERT INTO _oo_blocked SELECT (SELECT count(*) FROM _oo_blocked) + row_number() OVER (), "
                    f"nullif(trim({value['customer_id']}), ''), {normalize_email_sql(value['email'])}, "
                    f"{normalize_phone_sql(value['phone'])}, '{ERASED}' FROM _oo_list")
    blocked = con.execute(f"""
        WITH record_keys AS ({_keys_sql('_oo_records')}),
        shared AS (SELECT key FROM record_keys k JOIN _oo_records r USING (row) WHERE key NOT LIKE 'c:%'
                   GROUP BY key HAVING count(DISTINCT r.customer_id) > {int(MAX_CUSTOMERS_PER_KEY)}),
        own_keys AS (SELECT * FROM record_keys ANTI JOIN shared USING (key)),
        blocked_keys AS (SELECT k.key, b.channel FROM ({_keys_sql('_oo_blocked')}) k JOIN _oo_blocked b USING (row)
                         ANTI JOIN shared USING (key))
        SELECT DISTINCT key, channel FROM blocked_keys
        UNION SELECT DISTINCT o2.key, b.channel FROM blocked_keys b JOIN own_keys o1 USING (key)
              JOIN own_keys o2 ON o2.row = o1.row
        ORDER BY ALL""").df()
    for table in ("_oo_records", "_oo_blocked", "_oo_list"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return blocked


def blocked_rows(frame: pd.DataFrame, channel: str | None, blocked: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks over an export file's rows: (opted out on `channel` or do-not-contact, erased). A row's keys are its
    customer_id and, when the file has them, its normalised email / phone cells."""
    if blocked is None or blocked.empty or frame.empty:
        return np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    with duckdb.connect() as con:
        con.register("_rows", frame.assign(row=np.arange(len(frame)), email=frame.get("email"), phone=frame.get("phone")))
        con.register("_blocked", blocked)
        hits = con.execute(f"""
            WITH keyed AS (SELECT row, nullif(trim(CAST(customer_id AS VARCHAR)), '') AS customer_id,
                                  {normalize_email_sql('email')} AS email, {normalize_phone_sql('phone')} AS phone FROM _rows)
            SELECT DISTINCT k.row, b.channel FROM ({_keys_sql('keyed')}) k JOIN _blocked b USING (key)""").fetchall()
    opted_out, erased = np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    for row, hit in hits:
        if hit == ERASED:
            erased[row] = True
        elif hit in (EVERY_CHANNEL, channel):
            opted_out[row] = True
    return opted_out, erased


def drop_erased(frame: pd.DataFrame, erased_ids: set[str] | frozenset[str]) -> pd.DataFrame:
    """The rows of an export frame whose customer_id is not erased (erased people appear in no file)."""
    return frame[~frame["customer_id"].astype(str).isin({str(i) for i in erased_ids})].reset_index(drop=True)
