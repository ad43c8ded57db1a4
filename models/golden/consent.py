"""Consent as the latest known state of every customer record ever delivered: the opt-out ledger.

Point-in-time is for features, never for honouring an opt-out. Every night the consent fields of every
delivered customer row — accepted, or quarantined under any rule (a date after the as-of date, a true
conflict, an unreadable value, a placeholder date ...) — are appended to the warehouse table
`consent_ledger`, which is only ever added to: a record that a later extract omits keeps its "no".

The rule (README "Consent and erasure"; data_contracts/extracts/customers.yaml):
- a ledger row says "no" on a channel when its consent_<channel> is false or missing, and "do not contact"
  when do_not_contact is true. Values of a quarantined row are read with the contract's typing, so an
  unreadable value reads as its default (no consent; not do-not-contact) and the row's other fields count;
- a "no" stands for ever, except for a re-consent: an ACCEPTED row of the same source record
  (source_system, customer_id) saying yes, with an updated_at strictly newer than the "no"'s, dated on or
  before the as-of date and delivered on or before the as-of night. A "no" without updated_at cannot be
  ordered, so it is never overridden;
- a tool's `unsubscribed` in the contacts feedback extract (accepted or quarantined) is a ledger row of its own
  source `feedback` saying "no" on that channel; nothing re-consents it (feedback_opt_out_states_sql);
- a "no" reaches its own keys (customer_id in any source system, as the golden record links; normalised
  e-mail / phone) and every key of any delivered row, of any night, sharing one of them (one hop), except a
  key found on more than MAX_CUSTOMERS_PER_KEY customer ids (a placeholder nobody owns, which the golden
  record ignores too); a person is reached through any of their ids or tonight's e-mails / phones. "A no
  anywhere wins" across a person's records, as in the golden merge. The export compliance check
  (models/exports/opt_outs.py) reaches the same keys from the same rows, without the golden record.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb

from data_contracts import ExtractContract
from models.golden.resolve import CONSENTS, MAX_CUSTOMERS_PER_KEY, normalize_email_sql, normalize_phone_sql
from models.ingest.casting import cast_sql, sql_ident, sql_literal
from models.warehouse import table_exists

LEDGER = "consent_ledger"
FLAGS = (*CONSENTS, "do_not_contact")
_STATE_COLUMNS = ("source_system", "customer_id", "email", "phone", "updated_at", *FLAGS, "accepted", "rule")
LEDGER_DDL = (f"CREATE TABLE IF NOT EXISTS {LEDGER}(source_system VARCHAR, customer_id VARCHAR, email VARCHAR, "
              "phone VARCHAR, updated_at TIMESTAMP, consent_email BOOLEAN, consent_sms BOOLEAN, consent_phone BOOLEAN, "
              "consent_app BOOLEAN, do_not_contact BOOLEAN, accepted BOOLEAN, rule VARCHAR, first_seen_as_of DATE)")


def delivered_states_sql(contract: ExtractContract) -> str:
    """SELECT of tonight's delivered customer rows as ledger states: stg_customers (accepted) and the customers
    rows in `quarantine`, whose JSON record is typed again with the contract (defaults included)."""
    names = contract.column_names
    fields = ", ".join(f"json_extract_string(record, {sql_literal('$.' + n)}) AS {sql_ident(n)}" for n in names)
    quarantined = (f"quarantine WHERE extract = {sql_literal(contract.extract)} ORDER BY source_file, source_row")
    typed = (f"SELECT * FROM ({cast_sql(contract, f'(SELECT {fields} FROM {quarantined})', names)}) "
             f"POSITIONAL JOIN (SELECT rule FROM {quarantined})")  # cast_sql keeps the order of its source
    columns = (f"coalesce(source_system, 'crm') AS source_system, nullif(trim(customer_id), '') AS customer_id, "
               f"{normalize_email_sql('email')} AS email, {normalize_phone_sql('phone')} AS phone, updated_at, "
               f"{', '.join(FLAGS)}")
    return (f"SELECT {columns}, true AS accepted, CAST(NULL AS VARCHAR) AS rule FROM stg_customers "
            f"UNION ALL SELECT {columns}, false, rule FROM ({typed})")


# A tool's `unsubscribed` (contacts feedback extract, README "Feedback from the tools") is a "no" on that channel.
FEEDBACK_SOURCE, FEEDBACK_RULE = "feedback", "tool_unsubscribed"
_FEEDBACK_CONSENT = {"email": "consent_email", "sms": "consent_sms", "call": "consent_phone", "phone": "consent_phone",
                     "app": "consent_app"}


def feedback_opt_out_states_sql(con: duckdb.DuckDBPyConnection) -> str | None:
    """SELECT of ledger states for every `unsubscribed` the tools reported in tonight's contacts extract, accepted
    (stg_contacts) or quarantined, whatever its date (an opt-out is honoured, never point-in-time): a "no" on the
    row's channel (on every channel when the channel cannot be read), under its own source `feedback`, never
    accepted, so no customer row can re-consent it. None when no contacts extract was staged tonight."""
    parts = []
    if table_exists(con, "stg_contacts"):
        parts.append("SELECT customer_id, channel, status_at, 'accepted' AS how FROM stg_contacts "
                     "WHERE lower(trim(status)) = 'unsubscribed'")
    if table_exists(con, "quarantine"):
        field = "json_extract_string(record, '$.{}')"
        parts.append(f"SELECT {field.format('customer_id')} AS customer_id, {field.format('channel')} AS channel, "
                     f"TRY_CAST({field.format('status_at')} AS TIMESTAMP) AS status_at, 'quarantined' AS how FROM quarantine "
                     f"WHERE extract = 'contacts' AND lower(trim({field.format('status')})) = 'unsubscribed'")
    if not parts:
        return None
    flags = ", ".join(
        f"CASE WHEN lower(trim(channel)) IN ({', '.join(sql_literal(ch) for ch, c in _FEEDBACK_CONSENT.items() if c == flag)}) "
        f"THEN false WHEN lower(trim(channel)) IN ({', '.join(sql_literal(ch) for ch in _FEEDBACK_CONSENT)}) THEN true "
        f"ELSE false END AS {flag}" for flag in CONSENTS)
    return (f"SELECT '{FEEDBACK_SOURCE}' AS source_system, nullif(trim(customer_id), '') AS customer_id, "
            f"CAST(NULL AS VARCHAR) AS email, CAST(NULL AS VARCHAR) AS phone, CAST(status_at AS TIMESTAMP) AS updated_at, "
            f"{flags}, false AS do_not_contact, false AS accepted, '{FEEDBACK_RULE}' AS rule "
            f"FROM ({' UNION ALL '.join(parts)}) WHERE nullif(trim(customer_id), '') IS NOT NULL")


def tonight_states_sql(con: duckdb.DuckDBPyConnection, contract: ExtractContract) -> str:
    """SELECT of every ledger state delivered tonight: the customer rows and the tools' unsubscribes."""
    feedback = feedback_opt_out_states_sql(con)
    customers = delivered_states_sql(contract)
    return customers if feedback is None else f"{customers} UNION ALL {feedback}"


def record_delivered_consent(con: duckdb.DuckDBPyConnection, contract: ExtractContract, as_of: date) -> int:
    """Append tonight's delivered customer states and tool unsubscribes not yet in the ledger (first seen
    tonight); returns how many."""
    con.execute(LEDGER_DDL)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consent_new AS SELECT DISTINCT * FROM ({tonight_states_sql(con, contract)}) "
                f"EXCEPT SELECT {', '.join(_STATE_COLUMNS)} FROM {LEDGER}")
    added = con.execute("SELECT count(*) FROM _consent_new").fetchone()[0]
    con.execute(f"INSERT INTO {LEDGER} SELECT *, ? FROM _consent_new ORDER BY ALL", [as_of])
    con.execute("DROP TABLE _consent_new")
    return int(added)


def opted_out_records_sql(as_of: date, source: str = LEDGER) -> str:
    """SELECT of the ledger rows (of `source`, a table with the ledger's columns) whose "no" stands on the as-of
    night: (customer_id, email, phone, <flag> per FLAGS: true = opted out on that channel / do-not-contact)."""
    day_after = f"TIMESTAMP '{as_of + timedelta(days=1)}'"
    says_no = {c: f"NOT coalesce(n.{c}, false)" for c in CONSENTS} | {"do_not_contact": "coalesce(n.do_not_contact, false)"}
    says_yes = {c: f"y.{c}" for c in CONSENTS} | {"do_not_contact": "NOT y.do_not_contact"}
    flags = []
    for flag in FLAGS:
        reconsent = (f"EXISTS (SELECT 1 FROM {source} y WHERE y.accepted AND y.source_system = n.source_system "
                     f"AND y.customer_id = n.customer_id AND y.updated_at > n.updated_at AND y.updated_at < {day_after} "
                     f"AND y.first_seen_as_of <= DATE '{as_of}' AND {says_yes[flag]})")
        flags.append(f"{says_no[flag]} AND NOT {reconsent} AS {flag}")
    any_no = " OR ".join(says_no.values())
    return (f"SELECT * FROM (SELECT n.customer_id, n.email, n.phone, {', '.join(flags)} FROM {source} n "
            f"WHERE {any_no}) WHERE {' OR '.join(FLAGS)}")


def keys_sql(table: str) -> str:
    """(row, key) for the customer id / normalised e-mail / phone of every row of `table` (which has `row`)."""
    return (f"SELECT row, 'c:' || customer_id AS key FROM {table} WHERE customer_id IS NOT NULL "
            f"UNION ALL SELECT row, 'e:' || email FROM {table} WHERE email IS NOT NULL "
            f"UNION ALL SELECT row, 'p:' || phone FROM {table} WHERE phone IS NOT NULL")


def blocked_keys_sql(records: str, blocked: str, max_customers_per_key: int = MAX_CUSTOMERS_PER_KEY) -> str:
    """SELECT DISTINCT (key, flag) of every key a blocked row reaches: its own keys, and every key of a delivered
    record (a row of `records`, any night) sharing one of them. `records` and `blocked` have (row, customer_id,
    email, phone), `blocked` also `flag`. An e-mail / phone on more than `max_customers_per_key` customer ids of
    `records` links nobody (a placeholder, as in the golden record). Keys: 'c:<id>', 'e:<email>', 'p:<phone>'."""
    return f"""
        WITH record_keys AS ({keys_sql(records)}),
        shared AS (SELECT key FROM record_keys k JOIN {records} r USING (row) WHERE key NOT LIKE 'c:%'
                   GROUP BY key HAVING count(DISTINCT r.customer_id) > {int(max_customers_per_key)}),
        own_keys AS (SELECT * FROM record_keys ANTI JOIN shared USING (key)),
        blocked_keys AS (SELECT k.key, b.flag FROM ({keys_sql(blocked)}) k JOIN {blocked} b USING (row)
                         ANTI JOIN shared USING (key))
        SELECT key, flag FROM blocked_keys
        UNION SELECT o2.key, b.flag FROM blocked_keys b JOIN own_keys o1 USING (key) JOIN own_keys o2 ON o2.row = o1.row"""


def stage_opted_out_keys(con: duckdb.DuckDBPyConnection, as_of: date, records: str) -> str:
    """Temp table `_consent_keys(key, flag)`: the keys reached by a standing "no" among `records` (a table with
    the ledger's columns)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consent_records AS SELECT row_number() OVER () AS row, * FROM {records}")
    flags = " UNION ALL ".join(f"SELECT customer_id, email, phone, '{f}' AS flag FROM outs WHERE {f}" for f in FLAGS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consent_blocked AS WITH outs AS "
                f"({opted_out_records_sql(as_of, '_consent_records')}) "
                f"SELECT row_number() OVER () AS row, * FROM ({flags})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consent_keys AS "
                f"{blocked_keys_sql('_consent_records', '_consent_blocked')}")
    con.execute("DROP TABLE _consent_records; DROP TABLE _consent_blocked")
    return "_consent_keys"


def opted_out_people_sql(keys: str) -> str:
    """SELECT (golden customer_id, <flag> per FLAGS) of the people the blocked `keys` (key, flag) reach: a 'c:' key
    through the crosswalk, an e-mail / phone key through tonight's accepted records that carry it."""
    record_keys = " UNION ALL ".join(
        f"SELECT '{p}' || {normalise('c.' + field)} AS key, c.customer_id FROM stg_customers c"
        for p, field, normalise in (("e:", "email", normalize_email_sql), ("p:", "phone", normalize_phone_sql)))
    return f"""
        WITH owners AS (SELECT 'c:' || source_customer_id AS key, golden_id FROM customer_crosswalk
                        UNION SELECT k.key, x.golden_id FROM ({record_keys}) k
                        JOIN customer_crosswalk x ON x.source_customer_id = k.customer_id WHERE k.key IS NOT NULL)
        SELECT golden_id AS customer_id, {', '.join(f"bool_or(flag = '{f}') AS {f}" for f in FLAGS)}
        FROM {keys} JOIN owners USING (key) GROUP BY golden_id"""


def apply_consent_ledger(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Turn off in `golden_customers` every consent (and turn on do_not_contact) a standing "no" in the ledger
    says; returns how many golden customers changed."""
    con.execute(LEDGER_DDL)
    keys = stage_opted_out_keys(con, as_of, LEDGER)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _consent_outs AS {opted_out_people_sql(keys)}")
    changed = con.execute(
        "SELECT count(*) FROM golden_customers g JOIN _consent_outs o USING (customer_id) WHERE "
        + " OR ".join([*(f"(o.{c} AND coalesce(g.{c}, false))" for c in CONSENTS),
                       "(o.do_not_contact AND NOT coalesce(g.do_not_contact, false))"])).fetchone()[0]
    sets = ", ".join([*(f"{c} = g.{c} AND NOT o.{c}" for c in CONSENTS), "do_not_contact = g.do_not_contact OR o.do_not_contact"])
    con.execute(f"UPDATE golden_customers g SET {sets} FROM _consent_outs o WHERE g.customer_id = o.customer_id")
    con.execute(f"DROP TABLE _consent_outs; DROP TABLE {keys}")
    return int(changed)


def honour_delivered_consent(con: duckdb.DuckDBPyConnection, contract: ExtractContract, as_of: date) -> tuple[int, int]:
    """Record tonight's delivered customer rows in the ledger, then apply every standing "no" to
    golden_customers; returns (ledger rows added, golden customers changed)."""
    return record_delivered_consent(con, contract, as_of), apply_consent_ledger(con, as_of)
