"""The raw opt-outs the export compliance check reads itself, independently of the golden record.

Blocked keys come straight from what was delivered: tonight's stg_customers and quarantined customer rows, the
tools' unsubscribes in tonight's contacts extract (accepted or quarantined), plus
the consent ledger of earlier nights (a standing "no" per models/golden/consent.py's rule), and the
suppression / erasure list file. A key is 'c:<customer id>', 'e:<normalised e-mail>' or 'p:<phone NSN>'; its
channel is email / sms / phone / app, 'all' (do-not-contact) or 'erased'. A blocked row blocks every key of
every delivered row sharing one of its keys (one hop over the delivered rows, as consent.blocked_keys_sql
does for the golden record, but without the golden record's resolution or crosswalk).
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from data_contracts import ExtractContract
from models.golden.consent import (LEDGER, LEDGER_DDL, blocked_keys_sql, delivered_states_sql, keys_sql,
                                   stage_opted_out_keys, tonight_states_sql)
from models.golden.resolve import normalize_email_sql, normalize_phone_sql

ERASED, EVERY_CHANNEL = "erased", "all"
_CHANNEL_OF = {"consent_email": "email", "consent_sms": "sms", "consent_phone": "phone", "consent_app": "app",
               "do_not_contact": EVERY_CHANNEL}


def raw_opt_out_keys(con: duckdb.DuckDBPyConnection, as_of: date, contract: ExtractContract,
                     suppression_path: Path | None) -> pd.DataFrame:
    """(key, channel) of everything a delivered row or the erasure list forbids on the as-of night.

    An erasure row reaches its own keys and those of tonight's accepted rows sharing one (as load_suppressed_ids
    finds people); a standing "no" reaches keys through the delivered rows of every night (as the ledger does)."""
    con.execute(LEDGER_DDL)
    tonight = delivered_states_sql(contract)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _oo_records AS SELECT *, DATE '{as_of}' AS first_seen_as_of "
                f"FROM ({tonight_states_sql(con, contract)}) UNION ALL BY NAME SELECT * FROM {LEDGER}")
    keys = stage_opted_out_keys(con, as_of, "_oo_records")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _oo_accepted AS SELECT row_number() OVER () AS row, * "
                f"FROM ({tonight}) WHERE accepted")
    con.execute("CREATE OR REPLACE TEMP TABLE _oo_list(row BIGINT, customer_id VARCHAR, email VARCHAR, phone VARCHAR, "
                "flag VARCHAR)")
    if suppression_path is not None:
        listed = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_csv(?, all_varchar=true, header=true, "
                                            "normalize_names=true)", [str(suppression_path)]).fetchall()}
        value = {c: (c if c in listed else "NULL") for c in ("customer_id", "email", "phone")}
        con.execute(f"INSERT INTO _oo_list SELECT row_number() OVER (), nullif(trim({value['customer_id']}), ''), "
                    f"{normalize_email_sql(value['email'])}, {normalize_phone_sql(value['phone'])}, '{ERASED}' "
                    "FROM read_csv(?, all_varchar=true, header=true, normalize_names=true)", [str(suppression_path)])
    channel = "CASE flag " + " ".join(f"WHEN '{f}' THEN '{c}'" for f, c in _CHANNEL_OF.items()) + " ELSE flag END"
    blocked = con.execute(f"SELECT DISTINCT key, {channel} AS channel FROM (SELECT * FROM {keys} UNION ALL "
                          f"SELECT * FROM ({blocked_keys_sql('_oo_accepted', '_oo_list')})) ORDER BY ALL").df()
    for table in ("_oo_records", "_oo_accepted", "_oo_list", keys):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return blocked


def blocked_rows(frame: pd.DataFrame, channel: str | None, blocked: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Masks over an export file's rows: (opted out on `channel` or do-not-contact, erased). A row's keys are its
    customer_id and, when the file has them, its normalised email / phone cells."""
    if blocked is None or blocked.empty or frame.empty:
        return np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    with duckdb.connect() as con:
        con.register("_rows", pd.DataFrame({"row": np.arange(len(frame)), "customer_id": frame["customer_id"].to_numpy(),
                                            **{c: frame[c].to_numpy() if c in frame.columns else None
                                               for c in ("email", "phone")}}))  # the key columns, not a copy of all
        con.register("_blocked", blocked)
        hits = con.execute(f"""
            WITH keyed AS (SELECT row, nullif(trim(CAST(customer_id AS VARCHAR)), '') AS customer_id,
                                  {normalize_email_sql('email')} AS email, {normalize_phone_sql('phone')} AS phone FROM _rows)
            SELECT DISTINCT k.row, b.channel FROM ({keys_sql('keyed')}) k JOIN _blocked b USING (key)""").fetchall()
    opted_out, erased = np.zeros(len(frame), bool), np.zeros(len(frame), bool)
    for row, hit in hits:
        if hit == ERASED:
            erased[row] = True
        elif hit in (EVERY_CHANNEL, channel):
            opted_out[row] = True
    return opted_out, erased


def drop_erased(frame: pd.DataFrame, erased_ids: set[str] | frozenset[str]) -> pd.DataFrame:
    """The rows of an export frame whose customer_id is not erased (erased people appear in no file); the frame itself
    when nobody in it is (no copy of millions of rows)."""
    keep = ~frame["customer_id"].astype(str).isin({str(i) for i in erased_ids}).to_numpy()
    if keep.all() and frame.index.equals(pd.RangeIndex(len(frame))):
        return frame
    return frame[keep].reset_index(drop=True)
