"""The warehouse tables that cross layers: their names and the reads and writes more than one layer uses.

A table written by one layer and read by another is named here once, with the function that writes it
and the ones that read it, so a change of a table's shape is made in one place. Tables a single layer
keeps to itself (raw_, stg_, quarantine, the golden tables, customer_features) are written by that
layer's own module and only read elsewhere with plain SQL on their documented columns.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import pandas as pd

from models.decisions.catalog import CHANNELS
from models.decisions.feedback import FeedbackSettings, counted_contacts_sql, listed_delivery_sql
from models.decisions.policies import (CAP_WINDOWS, campaign_contact_counts_sql, decision_log_counts_sql,
                                      latest_declines_sql)

INGEST_LOG = "ingest_log"            # ingest: every file loaded (models/ingest/load.py writes it)
STAGING_LOG = "staging_log"          # validation: rows in / accepted / quarantined per extract
MODEL_SELECTION = "model_selection"  # models: the version of each target that scores tonight
CUSTOMER_SCORES = "customer_scores"  # scores: one row per customer (single-process or combined shards)
ACTION_RESPONSE = "action_response"  # scores: one row per customer x action
SCORE_HISTORY = "score_history"      # scores: the last scored as-of date, tomorrow's drift reference
SCORE_DRIFT = "score_drift"          # scores: tonight's PSI per score / main feature vs the previous night
NEXT_BEST_ACTIONS = "next_best_actions"  # decisions: the ranked actions per customer
DECISION_AUDIT = "decision_audit"    # decisions: every customer x action x channel considered
CUSTOMER_REASONS = "customer_reasons"  # decisions: the call list's reasons
DECISION_SUMMARY = "decision_summary"  # decisions: the JSON summary of the as-of date's decisions
DECISION_LOG = "decision_log"        # decisions: every as-of date's decisions, kept (a rerun replaces its date only)
CONTACT_FEEDBACK = "contact_feedback"  # decisions: every distinct contacts-extract row ever delivered, kept
REALISED_LIFT = "realised_lift"      # decisions: treated vs holdout per past period and action, replaced nightly
PLAN_VALUE = "plan_value"            # decisions: doubly robust value of each past night's plan, replaced nightly
KPI_SCORECARD = "kpi_scorecard"      # decisions: the monthly KPIs of treated vs holdout customers, replaced nightly
LIFT_CELLS = "realised_lift_cells"   # decisions: per past night and action the sums realised lift is made of, kept
LIFT_MEASURED = "realised_lift_measured"  # decisions: the (night, horizon) groups LIFT_CELLS holds, measured when
SCORECARD_MONTHS = "kpi_scorecard_months"  # decisions: the scorecard rows of months whose windows had closed, kept


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, order_by: str | None = None) -> None:
    """Replace `table` with a pandas frame (rows sorted by `order_by` when given); categorical columns
    become VARCHAR (not DuckDB ENUMs)."""
    categorical = [c for c in frame.columns if str(frame[c].dtype) == "category"]
    casts = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in categorical)
    select = f"SELECT * REPLACE ({casts}) FROM _frame" if categorical else "SELECT * FROM _frame"
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select}" + (f" ORDER BY {order_by}" if order_by else ""))
    finally:
        con.unregister("_frame")


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchall()[0][0])


# ---------------------------------------------------------------- ingest

def input_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """sha256s of the latest loaded file of each extract, as logged by ingest (data lineage of a training
    run and part of the campaign id)."""
    rows = con.execute(f"SELECT extract, file, sha256 FROM {INGEST_LOG} WHERE (extract, loaded_at) IN "
                       f"(SELECT (extract, max(loaded_at)) FROM {INGEST_LOG} GROUP BY extract) ORDER BY ALL").fetchall()
    return json.dumps([list(r) for r in rows])[:5000]


def read_intake(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows in, accepted, quarantined and set aside as not yet known (a backfill night) per extract (for the
    run summary)."""
    return con.execute("SELECT extract, rows_in, rows_accepted AS accepted, rows_quarantined AS quarantined, "
                       f"rows_not_yet_known AS not_yet_known FROM {STAGING_LOG} ORDER BY extract").df()


# ---------------------------------------------------------------- models

def record_selection(con: duckdb.DuckDBPyConnection, target: str, model_name: str, version: str,
                     trained_as_of: str, mlflow_run_id: str, reason: str, baseline_rule: str | None = None) -> None:
    """Remember which model version scores tonight for `target` (read by scoring, decisions and exports);
    `baseline_rule` names the rule baseline when it scores instead of a model (a flagged fallback)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {MODEL_SELECTION} (target VARCHAR PRIMARY KEY, model_name VARCHAR, "
                "version VARCHAR, trained_as_of VARCHAR, mlflow_run_id VARCHAR, reason VARCHAR, baseline_rule VARCHAR)")
    con.execute(f"ALTER TABLE {MODEL_SELECTION} ADD COLUMN IF NOT EXISTS baseline_rule VARCHAR")  # older homes
    con.execute(f"INSERT OR REPLACE INTO {MODEL_SELECTION} (target, model_name, version, trained_as_of, mlflow_run_id, "
                "reason, baseline_rule) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [target, model_name, version, trained_as_of, mlflow_run_id, reason, baseline_rule])


def read_selected_models(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(target, registered model name, version) of every selected model."""
    return con.execute(f"SELECT target, model_name, version FROM {MODEL_SELECTION}").fetchall()


def read_model_versions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """target -> selected version, by target."""
    return {t: str(v) for t, v in con.execute(f"SELECT target, version FROM {MODEL_SELECTION} ORDER BY target").fetchall()}


def read_model_selection(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """target, version, trained_as_of, reason and baseline_rule (empty for a model) of every selected model, by
    target (for the run summary and the manifest)."""
    return con.execute(f"SELECT target, version, trained_as_of, reason, coalesce(baseline_rule, '') AS baseline_rule "
                       f"FROM {MODEL_SELECTION} ORDER BY target").df()


# ---------------------------------------------------------------- scores

def write_scores(con: duckdb.DuckDBPyConnection, scores: pd.DataFrame, responses: pd.DataFrame) -> None:
    """Replace `customer_scores` (in the frame's order) and `action_response` (by customer, action)."""
    replace_table(con, CUSTOMER_SCORES, scores)
    replace_table(con, ACTION_RESPONSE, responses, order_by="customer_id, action_id")


def read_score_history(con: duckdb.DuckDBPyConnection, before: dt.date) -> pd.DataFrame | None:
    """The stored scores of an as-of date earlier than `before`, or None when there is none."""
    if not table_exists(con, SCORE_HISTORY):
        return None
    previous = con.execute(f"SELECT * FROM {SCORE_HISTORY} WHERE as_of < ?", [before]).df()
    return None if previous.empty else previous


def replace_score_history(con: duckdb.DuckDBPyConnection, history: pd.DataFrame) -> None:
    """Keep only `history` (tonight's scores and drift features) as tomorrow's drift reference."""
    replace_table(con, SCORE_HISTORY, history)


# ---------------------------------------------------------------- decisions

def record_contact_feedback(con: duckdb.DuckDBPyConnection) -> int:
    """Add tonight's staged contacts feedback (`stg_contacts`) to `contact_feedback`, which keeps every distinct
    row ever delivered: a tool may deliver only its latest events each night. Returns the rows added."""
    columns = "campaign_id, customer_id, action_id, channel, status, status_at"
    con.execute(f"CREATE TABLE IF NOT EXISTS {CONTACT_FEEDBACK} (campaign_id VARCHAR, customer_id VARCHAR, "
                "action_id VARCHAR, channel VARCHAR, status VARCHAR, status_at TIMESTAMP)")
    if not table_exists(con, "stg_contacts"):
        return 0
    before = con.execute(f"SELECT count(*) FROM {CONTACT_FEEDBACK}").fetchone()[0]
    con.execute(f"INSERT INTO {CONTACT_FEEDBACK} SELECT {columns} FROM (SELECT DISTINCT {columns} FROM stg_contacts "
                f"EXCEPT SELECT {columns} FROM {CONTACT_FEEDBACK}) ORDER BY ALL")
    return int(con.execute(f"SELECT count(*) FROM {CONTACT_FEEDBACK}").fetchone()[0] - before)


def _feedback_table(con: duckdb.DuckDBPyConnection) -> str | None:
    """The kept contacts feedback, or None when no contacts extract was ever delivered (every state assumed)."""
    return CONTACT_FEEDBACK if table_exists(con, CONTACT_FEEDBACK) else None


def read_listed_delivery(con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: FeedbackSettings) -> pd.DataFrame:
    """Every contact listed before `as_of` with its delivery state (models/decisions/feedback.py)."""
    if not table_exists(con, DECISION_LOG):
        return pd.DataFrame(columns=["as_of", "customer_id", "action_id", "channel", "campaign_id", "delivery", "reported",
                                     "contacted_on"])
    return con.execute(f"SELECT * FROM ({listed_delivery_sql(as_of, settings, DECISION_LOG, _feedback_table(con))}) "
                       "ORDER BY as_of, customer_id, action_id").df()


def decline_events(con: duckdb.DuckDBPyConnection) -> str:
    """The interactions, plus the declines the tools fed back (contacts status `declined`) as declined campaign
    contacts: the cool-down after a decline honours both."""
    if not table_exists(con, CONTACT_FEEDBACK):
        return "interactions"
    return ("(SELECT customer_id, interaction_ts, type, outcome FROM interactions UNION ALL "
            f"SELECT customer_id, status_at, 'campaign', 'declined' FROM {CONTACT_FEEDBACK} WHERE status = 'declined')")


def read_decision_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date,
                         feedback: FeedbackSettings = FeedbackSettings()) -> tuple:
    """(customers, features, scores, responses, model versions) the decisions read, ordered by customer.

    Only the columns the decision reads: at 1M customers every string column costs hundreds of MB. The
    responses (a row per customer x action, 7M at 1M customers) come as categoricals: ~0.1 GB, not ~1 GB.
    Customers carry days_since_any_decline (every decline before `as_of`, settled or not) for the cool-down,
    and the contacts the caps count in their windows: the interactions extract's campaign contacts (`seen_`)
    and the pipeline's own listed ones (`logged_`, delivered or outstanding, per the tools' feedback).
    """
    seen_columns = "".join(f", coalesce(s.seen_{ch}_{w}, 0) AS seen_{ch}_{w}" for ch in CHANNELS for w in CAP_WINDOWS)
    seen = f"LEFT JOIN ({campaign_contact_counts_sql(as_of, CHANNELS)}) s USING (customer_id)"
    logged, logged_columns = "", ""
    if table_exists(con, DECISION_LOG):  # the pipeline's own lists count toward the caps (decision_log_counts_sql)
        counted = f"({counted_contacts_sql(as_of, feedback, DECISION_LOG, _feedback_table(con))})"
        logged = f"LEFT JOIN ({decision_log_counts_sql(as_of, CHANNELS, counted)}) l USING (customer_id)"
        logged_columns = "".join(f", l.logged_{ch}_{w}" for ch in CHANNELS for w in CAP_WINDOWS)
    customers = con.execute("SELECT g.customer_id, g.do_not_contact, g.consent_email, g.consent_sms, g.consent_phone, "
                            f"g.consent_app, d.days_since_any_decline{seen_columns}{logged_columns} FROM golden_customers g "
                            f"LEFT JOIN ({latest_declines_sql(as_of, decline_events(con))}) d USING (customer_id) {seen} {logged} "
                            "ORDER BY customer_id").df()
    features = con.execute("SELECT * FROM customer_features ORDER BY customer_id").df()
    scores = con.execute(f"SELECT customer_id, clv, upsell_probability FROM {CUSTOMER_SCORES} ORDER BY customer_id").df()
    responses = con.sql(f"SELECT customer_id, action_id, p_treated, uplift, value_uplift, value_se FROM {ACTION_RESPONSE} "
                        "ORDER BY customer_id, action_id").to_arrow_table().to_pandas(strings_to_categorical=True)
    return customers, features, scores, responses, read_model_versions(con)


def write_decisions(con: duckdb.DuckDBPyConnection, as_of: dt.date, next_best_actions: pd.DataFrame,
                    decision_audit: pd.DataFrame, reasons: pd.DataFrame, summary: dict[str, Any]) -> None:
    """Replace the decision tables and the decision summary of `as_of` (read by the exports)."""
    replace_table(con, NEXT_BEST_ACTIONS, next_best_actions)
    replace_table(con, DECISION_AUDIT, decision_audit)
    replace_table(con, CUSTOMER_REASONS, reasons)
    con.execute(f"CREATE OR REPLACE TABLE {DECISION_SUMMARY} (as_of DATE, summary VARCHAR)")
    con.execute(f"INSERT INTO {DECISION_SUMMARY} VALUES (?, ?)", [as_of, json.dumps(summary, default=str)])


# decision_log's columns and types, fixed: a table created from a first night's frame typed a column that was empty
# that night (no holdout customer had a withheld option) as DuckDB's "NULL", and the next night could not insert.
DECISION_LOG_SCHEMA = {
    "as_of": "DATE", "customer_id": "VARCHAR", "action_id": "VARCHAR", "channel": "VARCHAR",
    "expected_value": "DOUBLE", "selection_probability": "DOUBLE", "is_holdout": "BOOLEAN", "is_exploration": "BOOLEAN",
    "withheld_action_id": "VARCHAR", "withheld_channel": "VARCHAR", "withheld_expected_value": "DOUBLE",
    "campaign_id": "VARCHAR", "policy": "VARCHAR", "policy_version": "VARCHAR", "model_versions": "VARCHAR",
    "exploration_set": "VARCHAR",
}


def table_columns(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    """{column: DuckDB type} of table `name` ({} when it does not exist)."""
    return dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
                            [name]).fetchall())


def append_decision_log(con: duckdb.DuckDBPyConnection, as_of: dt.date, log: pd.DataFrame, **facts: str) -> None:
    """Keep `as_of`'s decisions in decision_log (never replaced as a whole: a rerun of a date replaces that
    date's rows only). `facts` (campaign_id, policy, policy_version, model_versions) are the same for every row.
    The table has the fixed DECISION_LOG_SCHEMA; a log of an older version with a column typed "NULL" is repaired
    and one without a newer column gets it (empty on its old nights)."""
    frame = log.assign(as_of=as_of, **facts)[["as_of", *log.columns, *facts]]
    unknown = sorted(set(frame.columns) - set(DECISION_LOG_SCHEMA))
    if unknown:
        raise ValueError(f"decision_log has no column {unknown}: add it to DECISION_LOG_SCHEMA")
    con.register("_log", frame)
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind in DECISION_LOG_SCHEMA.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {DECISION_LOG} ({columns})")
        existing = table_columns(con, DECISION_LOG)
        for name, kind in existing.items():
            if kind.strip('"') == "NULL" and name in DECISION_LOG_SCHEMA:
                con.execute(f"ALTER TABLE {DECISION_LOG} ALTER {name} TYPE {DECISION_LOG_SCHEMA[name]}")
        for name in [n for n in DECISION_LOG_SCHEMA if n not in existing]:
            con.execute(f"ALTER TABLE {DECISION_LOG} ADD COLUMN {name} {DECISION_LOG_SCHEMA[name]}")
        con.execute(f"DELETE FROM {DECISION_LOG} WHERE as_of = ?", [as_of])
        con.execute(f"INSERT INTO {DECISION_LOG} BY NAME SELECT * FROM _log ORDER BY customer_id, action_id")
        forget_measured_of(con, as_of)
    finally:
        con.unregister("_log")


def read_plan_arms(con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: FeedbackSettings,
                   since: dt.date = dt.date.min, until: dt.date | None = None,
                   actions: list[str] | None = None, first_of_month: bool = False) -> pd.DataFrame:
    """The plan's own experiment of every night from `since` to before `as_of` (and before `until`, when given; of
    `actions` only, when given) (the `source = plan` rows of models/training/uplift.py
    with what realised lift shows next to them): (night, customer_id, action_id, channel, treated, expected_value,
    delivery, reported) — contacted customers with their chosen option and delivery state, holdout customers with
    the option withheld from them; exploration draws left out (no control group). `first_of_month`: only each
    customer's first night of each month per arm (what the scorecard reads: a month of daily lists is not copied)."""
    columns = ["night", "customer_id", "action_id", "channel", "treated", "expected_value", "delivery", "reported"]
    if not table_exists(con, DECISION_LOG):
        return pd.DataFrame(columns=columns)
    end = min(as_of, until) if until else as_of
    delivery = listed_delivery_sql(as_of, settings, DECISION_LOG, _feedback_table(con),
                                   nights=(since, end))
    chosen = " AND coalesce(l.withheld_action_id, l.action_id) IN (SELECT unnest(?))" if actions is not None else ""
    arms = f"""
        SELECT l.as_of AS night, l.customer_id, coalesce(l.withheld_action_id, l.action_id) AS action_id,
               CASE WHEN l.is_holdout THEN l.withheld_channel ELSE l.channel END AS channel,
               CAST(NOT l.is_holdout AS INTEGER) AS treated,
               CASE WHEN l.is_holdout THEN l.withheld_expected_value ELSE l.expected_value END AS expected_value,
               d.delivery, d.reported
        FROM {DECISION_LOG} l LEFT JOIN ({delivery}) d
          ON NOT l.is_holdout AND d.as_of = l.as_of AND d.customer_id = l.customer_id AND d.action_id = l.action_id
        WHERE l.as_of < ? AND l.as_of >= ? AND NOT l.is_exploration{chosen}
          AND ((NOT l.is_holdout AND l.action_id <> 'no_action') OR (l.is_holdout AND l.withheld_action_id IS NOT NULL))"""
    if first_of_month:
        firsts = ", ".join(f"arg_min({c}, night) AS {c}" for c in columns if c not in ("night", "customer_id", "treated"))
        arms = (f"SELECT min(night) AS night, customer_id, treated, {firsts} FROM ({arms}) "
                "GROUP BY date_trunc('month', night), customer_id, treated")
    return con.execute(f"{arms} ORDER BY night, customer_id",
                       [end, since, *([list(actions)] if actions is not None else [])]).df()[columns]


def plan_nights(con: duckdb.DuckDBPyConnection, as_of: dt.date, since: dt.date) -> list[dt.date]:
    """The nights of decision_log from `since` to before `as_of`, oldest first."""
    if not table_exists(con, DECISION_LOG):
        return []
    return [row[0] for row in con.execute(f"SELECT DISTINCT as_of FROM {DECISION_LOG} WHERE as_of >= ? AND as_of < ? "
                                          "ORDER BY as_of", [since, as_of]).fetchall()]


def read_kept(con: duckdb.DuckDBPyConnection, table: str, fingerprint: str) -> pd.DataFrame:
    """The rows of a kept measurement table (LIFT_CELLS, LIFT_MEASURED, SCORECARD_MONTHS) measured with the
    settings of `fingerprint` (an empty frame when the table does not exist yet)."""
    if not table_exists(con, table):
        return pd.DataFrame()
    return con.execute(f"SELECT * EXCLUDE (fingerprint) FROM {table} WHERE fingerprint = ?", [fingerprint]).df()


def keep_measured(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, groups: pd.DataFrame,
                  fingerprint: str, schema: dict[str, str]) -> None:
    """Replace the rows of `table` of the measured `groups` (a frame of key columns; whatever their fingerprint) with
    `frame`'s, marked with `fingerprint`: each night's measure of the groups it measured again (a group measured with
    no rows loses its old ones). `schema` ({column: DuckDB type}, without the fingerprint) types the table when it is
    created: a first frame with an empty column would type it "NULL" (DECISION_LOG_SCHEMA)."""
    if groups.empty:
        return
    keys = list(groups.columns)
    con.register("_kept", frame.assign(fingerprint=fingerprint))
    con.register("_groups", groups.drop_duplicates())
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind in {**schema, "fingerprint": "VARCHAR"}.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
        on = " AND ".join(f"t.{k} = g.{k}" for k in keys)
        con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM _groups g WHERE {on})")
        if len(frame):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _kept")
    finally:
        con.unregister("_kept")
        con.unregister("_groups")


def forget_measured_of(con: duckdb.DuckDBPyConnection, night: dt.date) -> None:
    """A night's decisions were written again: the kept measures its log entered are measured again — the (night,
    horizon) groups whose window holds it (their contact doses count its lists) and the scorecard of its month."""
    for table in (LIFT_CELLS, LIFT_MEASURED):
        if table_exists(con, table):
            con.execute(f"DELETE FROM {table} WHERE night <= ? AND night + to_days(CAST(horizon_days AS INTEGER)) > ?",
                        [night, night])
    if table_exists(con, SCORECARD_MONTHS):
        con.execute(f"DELETE FROM {SCORECARD_MONTHS} WHERE month = ?", [night.strftime("%Y-%m")])


def write_realised_lift(con: duckdb.DuckDBPyConnection, as_of: dt.date, lift: pd.DataFrame, plan_value: pd.DataFrame,
                        scorecard: pd.DataFrame) -> None:
    """Replace the realised-lift tables with tonight's measurement over every settled past night."""
    for table, frame in ((REALISED_LIFT, lift), (PLAN_VALUE, plan_value), (KPI_SCORECARD, scorecard)):
        replace_table(con, table, frame.assign(measured_as_of=as_of))


def read_realised_lift(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, pd.DataFrame]:
    """Tonight's realised lift, plan value and scorecard (empty frames when they were not measured for `as_of`)."""
    out = {}
    for name, table in (("lift", REALISED_LIFT), ("plan_value", PLAN_VALUE), ("scorecard", KPI_SCORECARD)):
        out[name] = (con.execute(f"SELECT * EXCLUDE (measured_as_of) FROM {table} WHERE measured_as_of = ?", [as_of]).df()
                     if table_exists(con, table) else pd.DataFrame())
    return out


def read_decision_summary(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, Any]:
    """The decision summary written for `as_of` ({} when the decisions of that date were not written)."""
    if not table_exists(con, DECISION_SUMMARY):
        return {}
    rows = con.execute(f"SELECT summary FROM {DECISION_SUMMARY} WHERE as_of = ?", [as_of]).fetchall()
    return json.loads(rows[0][0]) if rows else {}


def write_score_drift(con: duckdb.DuckDBPyConnection, drift: pd.DataFrame | None) -> None:
    """Tonight's drift per column (column, psi, drifted; no rows on a first scored night), for the run summary."""
    frame = drift[["column", "psi", "drifted"]] if drift is not None else pd.DataFrame(
        {"column": pd.Series(dtype=str), "psi": pd.Series(dtype=float), "drifted": pd.Series(dtype=bool)})
    replace_table(con, SCORE_DRIFT, frame.reset_index(drop=True), order_by='"column"')


def read_drifted_columns(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """column -> PSI of the columns tonight's drift check flagged ({} before any drift was written)."""
    if not table_exists(con, SCORE_DRIFT):
        return {}
    return {c: float(p) for c, p in con.execute(f'SELECT "column", psi FROM {SCORE_DRIFT} WHERE drifted ORDER BY "column"')
            .fetchall()}


def read_deployed_policy(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> str | None:
    """The policy the latest night before `as_of` in decision_log deployed (None before any): the baseline tonight's
    policy must be shown better than (models/decisions/policy_selection.kept_or_replaced). A rerun of a night and a
    backfill of older nights read the nights before their own date only."""
    if not table_exists(con, DECISION_LOG):
        return None
    row = con.execute(f"SELECT policy FROM {DECISION_LOG} WHERE as_of < ? AND policy IS NOT NULL "
                      "ORDER BY as_of DESC LIMIT 1", [as_of]).fetchone()
    return row[0] if row else None


def read_last_decision_summary(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dict[str, Any]]:
    """The as-of date and decision summary the home wrote last (None, {} before its first decisions): what
    tonight's run summary compares with ("what changed since last night")."""
    if not table_exists(con, DECISION_SUMMARY):
        return None, {}
    rows = con.execute(f"SELECT as_of, summary FROM {DECISION_SUMMARY} ORDER BY as_of DESC LIMIT 1").fetchall()
    return (rows[0][0], json.loads(rows[0][1])) if rows else (None, {})


# ---------------------------------------------------------------- exports

def read_export_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, Any]:
    """What the exports and the run summary read, in a deterministic order: the decisions, golden customers,
    scores, call-list reasons, intake, model selection, decision summary and the inputs' fingerprint."""
    return {
        "next_best_actions": con.execute(f"SELECT * FROM {NEXT_BEST_ACTIONS} ORDER BY customer_id, rank").df(),
        "customers": con.execute("SELECT * FROM golden_customers ORDER BY customer_id").df(),
        "scores": con.execute(f"SELECT * FROM {CUSTOMER_SCORES} ORDER BY customer_id").df(),
        "reasons": con.execute(f"SELECT * FROM {CUSTOMER_REASONS} ORDER BY customer_id").df(),
        "intake": read_intake(con),
        "models": read_model_selection(con),
        "decision_summary": read_decision_summary(con, as_of),
        "drifted_columns": read_drifted_columns(con),
        "input_sha256": input_fingerprint(con),
    }
