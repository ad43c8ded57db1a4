"""Golden record: resolve duplicate customer records into one person, in DuckDB SQL.

Records are linked when they share a customer_id, a normalised email or a canonical phone;
people are the connected components of that graph, found by iterative min-label propagation
(two hash aggregations per round, plus pointer jumping), which scales to millions of records.
The golden id is the customer_id of the person's earliest record (earliest signup_date, ties by
customer_id), so a customer without duplicates keeps its id.

Phone rule (canonical form = national significant number, NSN, digits only):
  1. keep the digits; a number written with "+" or "00" in front is international: drop the
     "00", then drop the country calling code, whose length follows from the E.164 code plan
     (1 and 7 are one digit; 20, 27, 30-34, 36, 39, 40-41, 43-49, 51-58, 60-66, 81-82, 84, 86,
     90-95, 98 are two; every other code is three), with no country table and no default country;
  2. drop leading zeros (trunk prefix: "+44 (0)20 ..." and "020 ..." both give "20...");
  3. keep it only if 7-15 digits long and not one repeated digit or a run like 123456789.
Limits: a national number written with its country code but without "+"/"00" ("34612...") keeps
the code; the same NSN in two countries links (rare); trunk prefixes other than 0 are kept.
The NSN only links records: golden_customers keeps the phone in E.164 with its country, plus country, time
zone and language (models/golden/contactability.py); what cannot be read goes to contact_quarantine.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from models.golden.contactability import CONTACT_COLUMNS, QUARANTINE_TABLE, ContactSettings, contact_fields

# Local parts / domains that mean "no email" in CRMs (es / pt / en); such emails never link people.
PLACEHOLDER_EMAIL_LOCAL_PARTS = (
    "noemail", "no-email", "no_email", "nomail", "no", "none", "null", "na", "n.a", "unknown",
    "desconocido", "sinmail", "sinemail", "sincorreo", "semmail", "semeemail", "noreply", "no-reply",
    "test", "email", "correo", "mail", "x", "xx", "xxx",
)
PLACEHOLDER_EMAIL_DOMAINS = ("noemail.com", "nomail.com", "sinemail.com", "semmail.com", "invalid", "none.com")
_COUNTRY_CODE = r"^(?:1|7|2[07]|3[0-469]|4[013-9]|5[1-8]|6[0-6]|8[1246]|9[0-58]|\d{3})"
CONSENTS = ("consent_email", "consent_sms", "consent_phone", "consent_app")
_LATEST_FIELDS = ("email", "phone", "first_name", "last_name", "birth_year", "region", "segment", "preferred_channel")
CRM_PLACE_FIELDS = ("country", "postal_code", "time_zone", "language")  # optional CRM columns (contactability.py)
_MAX_ROUNDS = 1000
MAX_CUSTOMERS_PER_KEY = 10  # an email / phone on more customer ids is a placeholder nobody owns


@dataclass(frozen=True)
class GoldenResult:
    """What the resolution did: counts for the asset's metadata."""

    source_records: int
    golden_customers: int
    merged_groups: int  # golden customers built from more than one source record
    shared_keys_ignored: int  # emails/phones on too many customers to be a person's own
    label_rounds: int
    contact_values_quarantined: int = 0  # phones / CRM places that could not be used (contact_quarantine)


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def normalize_email_sql(col: str) -> str:
    """SQL expression: the email lower-cased without whitespace, or NULL if invalid or a placeholder."""
    e = f"lower(regexp_replace(CAST({col} AS VARCHAR), '\\s+', '', 'g'))"
    return (
        f"CASE WHEN regexp_full_match({e}, '[^@]+@[^@]+\\.[^@.]{{2,}}') "
        f"AND split_part({e}, '@', 1) NOT IN ({_sql_list(PLACEHOLDER_EMAIL_LOCAL_PARTS)}) "
        f"AND split_part({e}, '@', 2) NOT IN ({_sql_list(PLACEHOLDER_EMAIL_DOMAINS)}) THEN {e} END"
    )


def normalize_phone_sql(col: str) -> str:
    """SQL expression: the national significant number (digits) per the module's phone rule, or NULL."""
    raw = f"CAST({col} AS VARCHAR)"
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    international = f"regexp_matches({raw}, '^\\s*(\\+|00)')"
    without_code = f"regexp_replace(regexp_replace({digits}, '^00', ''), '{_COUNTRY_CODE}', '')"
    n = f"regexp_replace(CASE WHEN {international} THEN {without_code} ELSE {digits} END, '^0+', '')"
    return (
        f"CASE WHEN length({n}) BETWEEN 7 AND 15 AND length(replace({n}, left({n}, 1), '')) > 0 "
        f"AND position({n} IN '01234567890123456789') = 0 AND position({n} IN '98765432109876543210') = 0 "
        f"THEN {n} END"
    )


def _blank_to_null(col: str) -> str:
    return f"nullif(trim(CAST({col} AS VARCHAR)), '')"


def _stage_records(con: duckdb.DuckDBPyConnection) -> int:
    """Number every source record so that a smaller node_id is a better golden-id candidate."""
    present = {r[0] for r in con.execute("DESCRIBE stg_customers").fetchall()}
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _gr_records AS
        SELECT row_number() OVER (ORDER BY signup_date NULLS LAST, customer_id, source_system NULLS FIRST,
                                   updated_at DESC NULLS LAST, _source_row) AS node_id,
               source_system, customer_id, signup_date, updated_at,
               {normalize_email_sql('email')} AS email, {normalize_phone_sql('phone')} AS phone,
               {_blank_to_null('first_name')} AS first_name, {_blank_to_null('last_name')} AS last_name,
               birth_year, {_blank_to_null('region')} AS region, {_blank_to_null('segment')} AS segment,
               {', '.join(CONSENTS)}, do_not_contact,
               {_blank_to_null('preferred_channel')} AS preferred_channel, {_blank_to_null('phone')} AS phone_raw,
               {', '.join(f"{_blank_to_null(c) if c in present else 'CAST(NULL AS VARCHAR)'} AS {c}" for c in CRM_PLACE_FIELDS)}
        FROM stg_customers WHERE customer_id IS NOT NULL""")
    return con.execute("SELECT count(*) FROM _gr_records").fetchone()[0]


def _stage_keys(con: duckdb.DuckDBPyConnection, max_customers_per_key: int) -> int:
    """Link keys per record (customer id, email, phone); returns how many shared keys were dropped."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _gr_contact_keys AS
        SELECT node_id, customer_id, 'e:' || email AS key FROM _gr_records WHERE email IS NOT NULL
        UNION ALL
        SELECT node_id, customer_id, 'p:' || phone FROM _gr_records WHERE phone IS NOT NULL;
        CREATE OR REPLACE TEMP TABLE _gr_shared AS
        SELECT key FROM _gr_contact_keys GROUP BY key HAVING count(DISTINCT customer_id) > {int(max_customers_per_key)};
        CREATE OR REPLACE TEMP TABLE _gr_keys AS
        SELECT node_id, 'c:' || customer_id AS key FROM _gr_records
        UNION ALL
        SELECT node_id, key FROM _gr_contact_keys ANTI JOIN _gr_shared USING (key);""")
    return con.execute("SELECT count(*) FROM _gr_shared").fetchone()[0]


def _propagate_labels(con: duckdb.DuckDBPyConnection) -> int:
    """Give every record the smallest node_id of its connected component; returns the rounds used."""
    con.execute("CREATE OR REPLACE TEMP TABLE _gr_labels AS SELECT node_id, node_id AS label FROM _gr_records")
    previous = con.execute("SELECT sum(label) FROM _gr_labels").fetchone()[0]
    for round_no in range(1, _MAX_ROUNDS + 1):
        # Labels only decrease, so an unchanged sum means no label changed.
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _gr_next AS
            WITH key_min AS (SELECT k.key, min(l.label) AS label
                             FROM _gr_keys k JOIN _gr_labels l USING (node_id) GROUP BY k.key),
                 node_min AS (SELECT k.node_id, min(m.label) AS label
                              FROM _gr_keys k JOIN key_min m USING (key) GROUP BY k.node_id)
            SELECT n.node_id, least(n.label, j.label) AS label
            FROM node_min n JOIN _gr_labels j ON j.node_id = n.label;
            DROP TABLE _gr_labels;
            ALTER TABLE _gr_next RENAME TO _gr_labels;""")
        current = con.execute("SELECT sum(label) FROM _gr_labels").fetchone()[0]
        if current == previous:
            return round_no
        previous = current
    raise RuntimeError(f"Golden record label propagation did not converge in {_MAX_ROUNDS} rounds.")


def _latest(field: str) -> str:
    return f"first({field} ORDER BY updated_at DESC NULLS LAST, node_id) FILTER (WHERE {field} IS NOT NULL) AS {field}"


def _write_golden_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create customer_crosswalk and golden_customers from the converged labels."""
    latest = {f: _latest(f) for f in _LATEST_FIELDS}
    consents = ", ".join(f"bool_and(coalesce({c}, false)) AS {c}" for c in CONSENTS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _gr_resolved AS
        SELECT r.*, g.customer_id AS golden_id
        FROM _gr_records r JOIN _gr_labels l USING (node_id) JOIN _gr_records g ON g.node_id = l.label;
        CREATE OR REPLACE TABLE customer_crosswalk AS
        SELECT DISTINCT source_system, customer_id AS source_customer_id, golden_id
        FROM _gr_resolved ORDER BY golden_id, source_customer_id, source_system;
        CREATE OR REPLACE TABLE golden_customers AS
        SELECT golden_id AS customer_id, min(signup_date) AS signup_date, {latest['email']}, {latest['phone']},
               {latest['first_name']}, {latest['last_name']}, {latest['birth_year']}, {latest['region']},
               {latest['segment']}, {consents}, bool_or(coalesce(do_not_contact, false)) AS do_not_contact,
               {latest['preferred_channel']}, CAST(count(*) AS INTEGER) AS n_source_records,
               coalesce(first(phone_raw ORDER BY updated_at DESC NULLS LAST, node_id) FILTER (WHERE phone IS NOT NULL),
                        first(phone_raw ORDER BY updated_at DESC NULLS LAST, node_id) FILTER (WHERE phone_raw IS NOT NULL))
                   AS phone_raw,  -- the latest linkable phone as written, else the latest written: E.164 or quarantine
               {', '.join(_latest(f) for f in CRM_PLACE_FIELDS)}
        FROM _gr_resolved GROUP BY golden_id ORDER BY customer_id;""")


def _add_contact_fields(con: duckdb.DuckDBPyConnection, settings: ContactSettings) -> int:
    """Replace the linking phone (NSN) of golden_customers with E.164 and add phone_country, country, time_zone
    and language (models/golden/contactability.py); unusable values go to contact_quarantine. Returns how many."""
    crm = con.execute(f"SELECT customer_id, phone_raw, region, {', '.join(CRM_PLACE_FIELDS)} FROM golden_customers").df()
    fields, quarantined = contact_fields(crm, settings)
    con.register("_gr_contact", fields)
    con.register("_gr_contact_quarantine", quarantined.astype(str))
    con.execute(f"""
        CREATE OR REPLACE TABLE golden_customers AS
        SELECT g.* EXCLUDE (phone_raw, {', '.join(CRM_PLACE_FIELDS)}) REPLACE (CAST(c.phone AS VARCHAR) AS phone),
               {', '.join(f"CAST(c.{f} AS VARCHAR) AS {f}" for f in CONTACT_COLUMNS[1:])}
        FROM golden_customers g JOIN _gr_contact c USING (customer_id) ORDER BY customer_id;
        CREATE OR REPLACE TABLE {QUARANTINE_TABLE} AS
        SELECT {', '.join(f"CAST({f} AS VARCHAR) AS {f}" for f in ("customer_id", "field", "value", "rule"))}
        FROM _gr_contact_quarantine ORDER BY customer_id, field;""")
    con.unregister("_gr_contact")
    con.unregister("_gr_contact_quarantine")
    return len(quarantined)


def _rekey_events(con: duckdb.DuckDBPyConnection, source: str, target: str) -> None:
    """Copy an stg event table with customer_id mapped to the golden id (other ids kept as they are).

    Only merged ids go into the join (a small hash table). No ORDER BY: sorting 20M interactions
    takes minutes on 2 cores; readers aggregate or sort themselves.
    """
    columns = {r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()}
    exclude = "EXCLUDE (_source_row) " if "_source_row" in columns else ""
    con.execute(f"""
        CREATE OR REPLACE TABLE {target} AS
        SELECT e.* {exclude}REPLACE (coalesce(m.golden_id, e.customer_id) AS customer_id)
        FROM {source} e LEFT JOIN (
            SELECT DISTINCT source_customer_id AS customer_id, golden_id FROM customer_crosswalk
            WHERE source_customer_id <> golden_id) m USING (customer_id)""")


def resolve_golden_records(con: duckdb.DuckDBPyConnection, *, max_customers_per_key: int = MAX_CUSTOMERS_PER_KEY,
                           contact: ContactSettings = ContactSettings()) -> GoldenResult:
    """Build customer_crosswalk, golden_customers, purchases and interactions from the stg tables.

    An email or phone found on more than `max_customers_per_key` distinct customer ids is treated
    as a placeholder nobody owns (e.g. the shop's own number) and links nobody. Linking uses the phone's national
    significant number; golden_customers keeps the E.164 form with the contact fields of `contact`.
    """
    source_records = _stage_records(con)
    shared = _stage_keys(con, max_customers_per_key)
    rounds = _propagate_labels(con)
    _write_golden_tables(con)
    contact_quarantined = _add_contact_fields(con, contact)
    _rekey_events(con, "stg_purchases", "purchases")
    _rekey_events(con, "stg_interactions", "interactions")
    golden, merged = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE n_source_records > 1) FROM golden_customers"
    ).fetchone()
    for table in ("_gr_records", "_gr_contact_keys", "_gr_shared", "_gr_keys", "_gr_labels", "_gr_resolved"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return GoldenResult(source_records, golden, merged, shared, rounds, contact_quarantined)


def resolution_gaps(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """What the golden record's check counts (each must be 0): accepted customer records missing from the
    crosswalk, source records resolved to more than one golden id, crosswalk golden ids without a golden customer,
    and purchases or interactions whose customer is no golden customer."""
    return dict(zip(("unresolved_records", "records_in_two_golden_ids", "golden_ids_without_customer",
                     "purchases_without_customer", "interactions_without_customer"), con.execute("""
        SELECT
          (SELECT count(*) FROM (SELECT DISTINCT customer_id FROM stg_customers) s
             WHERE customer_id NOT IN (SELECT source_customer_id FROM customer_crosswalk)),
          (SELECT count(*) FROM (SELECT source_system, source_customer_id FROM customer_crosswalk
             GROUP BY ALL HAVING count(DISTINCT golden_id) > 1)),
          (SELECT count(DISTINCT golden_id) FROM customer_crosswalk
             WHERE golden_id NOT IN (SELECT customer_id FROM golden_customers)),
          (SELECT count(*) FROM purchases WHERE customer_id NOT IN (SELECT customer_id FROM golden_customers)),
          (SELECT count(*) FROM interactions WHERE customer_id NOT IN (SELECT customer_id FROM golden_customers))
    """).fetchall()[0]))
