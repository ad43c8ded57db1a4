"""The tools' feedback decides which listed contacts were executed, and the contact caps count what it says."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from models import warehouse
from models.decisions.feedback import FeedbackSettings
from models.decisions.policies import decision_log_counts_sql

NIGHT = dt.date(2026, 11, 1)
SETTINGS = FeedbackSettings(assume_delivered_after_days=2, valid_for_days=7)


def _log(customers, action="discount_email", channel="email"):
    return pd.DataFrame({"customer_id": customers, "action_id": action, "channel": channel, "expected_value": 1.0,
                         "selection_probability": 1.0, "is_holdout": False, "is_exploration": False,
                         "withheld_action_id": None, "withheld_channel": None, "withheld_expected_value": np.nan})


def _stage_contacts(con, rows):
    frame = pd.DataFrame(rows, columns=["campaign_id", "customer_id", "action_id", "channel", "status", "status_at"])
    frame["status_at"] = pd.to_datetime(frame["status_at"])
    con.execute("CREATE OR REPLACE TABLE stg_contacts AS SELECT * FROM frame")
    return warehouse.record_contact_feedback(con)


@pytest.fixture
def con():
    connection = duckdb.connect()
    warehouse.append_decision_log(connection, NIGHT, pd.concat([
        _log(["A", "B", "C", "D", "E", "F"]), _log(["P", "Q"], action="retention_call", channel="phone")]),
        campaign_id="c1", policy="learned")
    yield connection
    connection.close()


def _states(con, as_of):
    frame = warehouse.read_listed_delivery(con, as_of, SETTINGS)
    return dict(zip(frame["customer_id"], frame["delivery"]))


def test_without_feedback_a_list_is_outstanding_then_assumed_delivered(con):
    assert set(_states(con, NIGHT + dt.timedelta(days=1)).values()) == {"outstanding"}
    assert set(_states(con, NIGHT + dt.timedelta(days=2)).values()) == {"delivered"}


def test_feedback_decides_each_listed_contact(con):
    _stage_contacts(con, [
        ("c1", "A", "discount_email", "email", "delivered", "2026-11-01 07:00"),
        ("c1", "B", "discount_email", "email", "bounced", "2026-11-01 07:00"),
        ("c1", "C", "discount_email", "email", "sent", "2026-11-01 07:00"),
        ("c1", "D", "discount_email", "email", "sent", "2026-11-03 07:00"),
        ("c1", "E", "discount_email", "email", "opened", "2026-11-05 09:00"),  # known only from Nov 6
        ("c1", "P", "retention_call", "call", "no_answer", "2026-11-01 10:00"),
        ("c1", "P", "retention_call", "call", "answered", "2026-11-02 10:00"),
        ("c1", "Q", "retention_call", "call", "busy", "2026-11-01 10:00"),
    ])
    assert _states(con, dt.date(2026, 11, 4)) == {
        "A": "delivered", "B": "not_delivered", "C": "delivered",  # sent 3 days ago, no bounce: delivered
        "D": "outstanding",  # sent yesterday: a bounce may still come
        "E": "outstanding", "F": "outstanding",  # the tool reports on c1's e-mails but not (yet) on E and F
        "P": "delivered", "Q": "outstanding"}  # a call answered on the second try; Q only busy so far
    later = _states(con, dt.date(2026, 11, 8))  # the list expired (valid 7 days)
    assert (later["E"], later["F"], later["Q"], later["D"]) == ("delivered", "not_delivered", "not_delivered", "delivered")


def test_a_campaign_channel_no_tool_reports_on_keeps_the_assumption(con):
    _stage_contacts(con, [("c1", "A", "discount_email", "email", "delivered", "2026-11-01 07:00")])
    later = _states(con, dt.date(2026, 11, 9))
    assert later["F"] == "not_delivered"  # e-mail of c1 is reported: silence after expiry = not sent
    assert later["P"] == later["Q"] == "delivered"  # no dialer feedback at all: published = delivered


def test_caps_skip_contacts_the_tools_say_never_arrived(con):
    _stage_contacts(con, [("c1", "A", "discount_email", "email", "delivered", "2026-11-01 07:00"),
                          ("c1", "B", "discount_email", "email", "bounced", "2026-11-01 07:00")])
    as_of = dt.date(2026, 11, 3)
    customers, *_ = _decision_customers(con, as_of)
    counts = customers.set_index("customer_id")["logged_email_7d"]
    assert (counts.get("A"), counts.get("C"), counts.get("F")) == (1, 1, 1)  # delivered / outstanding count
    assert pd.isna(counts.get("B")) or counts.get("B") == 0  # bounced: the cap is not used up


def test_a_list_the_tools_sent_days_after_its_night_counts_from_the_day_it_was_sent(con):
    """The night-1 list (Nov 1) is valid for 7 days: a tool that works it on Nov 5 sends A's e-mail then, so on Nov 8 A
    has had an e-mail in the 7-day window (Nov 2-8) and may not get another; B's went out on Nov 1 and may."""
    _stage_contacts(con, [("c1", "A", "discount_email", "email", "sent", "2026-11-05 07:00"),
                          ("c1", "A", "discount_email", "email", "opened", "2026-11-06 07:00"),
                          ("c1", "B", "discount_email", "email", "sent", "2026-11-01 07:00"),
                          ("c1", "C", "discount_email", "email", "delivered", "2026-11-01 08:00")])
    frame = warehouse.read_listed_delivery(con, dt.date(2026, 11, 8), SETTINGS).set_index("customer_id")
    assert frame.loc[["A", "B", "C"], "contacted_on"].astype(str).tolist() == ["2026-11-05", "2026-11-01", "2026-11-01"]
    assert pd.isna(frame.at["F", "contacted_on"]) and frame.at["F", "delivery"] == "not_delivered"
    customers, = _decision_customers(con, dt.date(2026, 11, 8))
    week = customers.set_index("customer_id")["logged_email_7d"]
    assert week.get("A") == 1 and week.get("B", 0) == 0 and week.get("C", 0) == 0
    month = customers.set_index("customer_id")["logged_email_30d"]
    assert (month.get("A"), month.get("B"), month.get("C")) == (1, 1, 1)
    phone = customers.set_index("customer_id")["logged_phone_7d"]
    assert phone.get("P", 0) == 0  # no dialer feedback: the call counts on its night, 7 days ago


def test_feedback_is_kept_across_deliveries_without_duplicates(con):
    assert _stage_contacts(con, [("c1", "A", "discount_email", "email", "delivered", "2026-11-01 07:00")]) == 1
    assert _stage_contacts(con, [("c1", "A", "discount_email", "email", "delivered", "2026-11-01 07:00"),
                                 ("c1", "A", "discount_email", "email", "opened", "2026-11-02 07:00")]) == 1
    assert _stage_contacts(con, [("c1", "B", "discount_email", "email", "bounced", "2026-11-01 07:00")]) == 1
    assert con.execute("SELECT count(*) FROM contact_feedback").fetchone()[0] == 3


def _decision_customers(con, as_of):
    """The caps' view of the customers: the SQL read_decision_inputs joins (no features or scores needed)."""
    from models.decisions.feedback import counted_contacts_sql
    counted = f"({counted_contacts_sql(as_of, SETTINGS, 'decision_log', 'contact_feedback')})"
    return (con.execute(decision_log_counts_sql(as_of, ["email", "phone"], counted)).df(),)


def test_a_decline_the_tools_report_starts_the_cooldown(con):
    con.execute("CREATE TABLE interactions (customer_id VARCHAR, interaction_ts TIMESTAMP, type VARCHAR, outcome VARCHAR)")
    con.execute("INSERT INTO interactions VALUES ('B', '2026-10-20', 'campaign', 'declined')")
    _stage_contacts(con, [("c1", "P", "retention_call", "call", "declined", "2026-11-01 10:00"),
                          ("c1", "A", "discount_email", "email", "opened", "2026-11-01 10:00")])
    from models.decisions.policies import latest_declines_sql
    days = dict(con.execute(latest_declines_sql(dt.date(2026, 11, 4), warehouse.decline_events(con))).fetchall())
    assert days == {"B": 15, "P": 3}
