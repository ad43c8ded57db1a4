"""The decision log: kept night after night, the holdout's withheld option recorded, and the pipeline's own
listed decisions counted by the contact caps before the tools report them back."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from models import warehouse
from models.decisions.policies import SUPPRESSION_REASONS, campaign_contact_counts_sql, decision_log_counts_sql
from tests.models.decisions.test_decisions import catalog, email_suppression_of_two, run  # noqa: F401  (catalog is a fixture)


def _log(customers, action="retain"):
    return pd.DataFrame({"customer_id": customers, "action_id": action, "channel": "email", "expected_value": 1.0,
                         "selection_probability": 1.0, "is_holdout": False, "is_exploration": False,
                         "withheld_action_id": None, "withheld_channel": None, "withheld_expected_value": np.nan})


def test_the_log_keeps_every_night_and_a_rerun_replaces_only_its_own_night():
    con = duckdb.connect()
    first, second = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    warehouse.append_decision_log(con, first, _log(["A", "B"]), campaign_id="c1", policy="learned")
    warehouse.append_decision_log(con, second, _log(["A"]), campaign_id="c2", policy="learned")
    warehouse.append_decision_log(con, first, _log(["C"], action="survey"), campaign_id="c1b", policy="all:survey")
    rows = con.execute("SELECT as_of, customer_id, action_id, campaign_id FROM decision_log ORDER BY ALL").fetchall()
    assert rows == [(first, "C", "survey", "c1b"), (second, "A", "retain", "c2")]


    assert warehouse.read_deployed_policy(con, dt.date(2026, 11, 3)) == "learned"  # the latest night before
    assert warehouse.read_deployed_policy(con, second) == "all:survey"  # a rerun of a night reads the ones before it
    assert warehouse.read_deployed_policy(con, first) is None  # nothing before the first night
    assert warehouse.read_deployed_policy(duckdb.connect(), first) is None  # no log yet


def test_a_first_night_without_any_withheld_option_does_not_block_the_next_nights_log():
    """The first night's holdout had no withheld option (every column empty): the next night's must still go in,
    and a log an older version created with "NULL"-typed columns is repaired."""
    con = duckdb.connect()
    warehouse.append_decision_log(con, dt.date(2026, 11, 1), _log(["A"]), campaign_id="c1", policy="no_action")
    held = _log(["B"]).assign(is_holdout=True, action_id="no_action", withheld_action_id="retain",
                              withheld_channel="email", withheld_expected_value=2.5)
    warehouse.append_decision_log(con, dt.date(2026, 11, 2), held, campaign_id="c2", policy="learned")
    assert con.execute("SELECT withheld_action_id, withheld_channel, withheld_expected_value FROM decision_log "
                       "WHERE customer_id = 'B'").fetchall() == [("retain", "email", 2.5)]
    old = duckdb.connect()
    old.register("_first", _log(["A"]).assign(as_of=dt.date(2026, 11, 1), campaign_id="c1", policy="no_action"))
    old.execute("CREATE TABLE decision_log AS SELECT * FROM _first")  # what the older version did
    assert dict(old.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'decision_log'").fetchall())["withheld_action_id"].strip('"') == "NULL"
    warehouse.append_decision_log(old, dt.date(2026, 11, 2), held, campaign_id="c2", policy="learned")
    assert old.execute("SELECT withheld_action_id FROM decision_log WHERE customer_id = 'B'").fetchall() == [("retain",)]

def test_holdout_customers_record_the_option_they_were_denied(catalog):  # noqa: F811
    result = run(catalog, holdout_share=1.0)  # everybody is held out tonight
    log = result.log.set_index("customer_id")
    assert (log["action_id"] == "no_action").all() and log["is_holdout"].all()
    # A: retain by e-mail is worth 0.2 x 0.5 x 1000 - 0.5 - 0.3 x 0.1 x 100 = 96.5 (tests/models/decisions/test_decisions)
    assert (log.at["A", "withheld_action_id"], log.at["A", "withheld_channel"]) == ("retain", "email")
    assert log.at["A", "withheld_expected_value"] > 0
    assert pd.isna(log.at["D", "withheld_action_id"])  # D is erased: nothing was withheld from D


def test_yesterdays_list_counts_toward_the_caps_before_the_tools_report_it():
    con = duckdb.connect()
    as_of = dt.date(2026, 11, 3)
    warehouse.append_decision_log(con, dt.date(2026, 11, 2), _log(["A"]), campaign_id="c", policy="learned")
    warehouse.append_decision_log(con, dt.date(2026, 11, 3), _log(["B"]), campaign_id="c", policy="learned")  # tonight
    logged = con.execute(decision_log_counts_sql(as_of, ["email"])).df()
    assert logged.to_dict("records") == [{"customer_id": "A", "logged_email_7d": 1, "logged_email_30d": 1}]
    codes = email_suppression_of_two(logged_email_7d=[1.0, np.nan], logged_email_30d=[1.0, np.nan])
    assert SUPPRESSION_REASONS[codes[0] - 1] == "frequency_cap_7d"
    assert codes[1] == 0


def test_a_cap_of_one_per_7_days_allows_a_weekly_contact_and_three_per_30_days_a_fourth_after_30_days():
    """No 7 (30) consecutive days may hold more contacts than the cap, tonight's included: a list or a reported
    contact of 7 days ago shares no 7-day window with tonight's, one of 6 days ago does. The same for the
    interactions extract's campaign contacts, whatever their time of day, and for the 30-day window."""
    con = duckdb.connect()
    tonight = dt.date(2026, 11, 30)
    for days_ago, customers in ((7, ["week"]), (6, ["six"]), (30, ["A30"]), (29, ["A29"])):
        warehouse.append_decision_log(con, tonight - dt.timedelta(days=days_ago), _log(customers),
                                      campaign_id="c", policy="learned")
    warehouse.append_decision_log(con, tonight - dt.timedelta(days=1), _log(["A30", "A29"]), campaign_id="c",
                                  policy="learned")
    warehouse.append_decision_log(con, tonight - dt.timedelta(days=8), _log(["A30", "A29"]), campaign_id="c",
                                  policy="learned")
    logged = con.execute(decision_log_counts_sql(tonight, ["email"])).df().set_index("customer_id").sort_index()
    assert logged["logged_email_7d"].to_dict() == {"A29": 1, "A30": 1, "six": 1, "week": 0}
    assert logged["logged_email_30d"].to_dict() == {"A29": 3, "A30": 2, "six": 1, "week": 1}
    con.execute("CREATE TABLE interactions AS SELECT * FROM (VALUES "
                "('week', TIMESTAMP '2026-11-23 23:59:00', 'email', 'campaign'), "
                "('six', TIMESTAMP '2026-11-24 00:00:00', 'email', 'campaign'), "
                "('six', TIMESTAMP '2026-11-29 10:00:00', 'email', 'inquiry'), "
                "('late', TIMESTAMP '2026-11-30 08:00:00', 'email', 'campaign')) "
                "t(customer_id, interaction_ts, channel, type)")
    seen = con.execute(campaign_contact_counts_sql(tonight, ["email"])).df().set_index("customer_id").sort_index()
    assert seen.to_dict("index") == {"six": {"seen_email_7d": 1, "seen_email_30d": 1},
                                     "week": {"seen_email_7d": 0, "seen_email_30d": 1}}  # 'late' is tonight's
    codes = email_suppression_of_two(seen_email_7d=[0, 1], seen_email_30d=[1, 1], logged_email_7d=[0, 0],
                                     logged_email_30d=[1, 1])
    assert codes[0] == 0 and SUPPRESSION_REASONS[codes[1] - 1] == "frequency_cap_7d"
    codes = email_suppression_of_two(logged_email_7d=[0, 0], logged_email_30d=[3, 2])
    assert SUPPRESSION_REASONS[codes[0] - 1] == "frequency_cap_30d" and codes[1] == 0


def test_a_holdout_customers_withheld_contact_counts_toward_its_caps_as_the_plans_contacts_do(catalog):  # noqa: F811
    """Night 1 withheld retain by e-mail from holdout customer A. On night 2 the plan would not e-mail A again
    (one e-mail a week), so the option withheld from A then is on another channel: the holdout stays a control
    for the customers the plan really contacts, who are capped by their night-1 lists."""
    from models.decisions.feedback import FeedbackSettings, counted_contacts_sql
    from tests.models.decisions.test_decisions import hand_inputs

    con = duckdb.connect()
    night1, night2 = dt.date(2026, 11, 22), dt.date(2026, 11, 23)
    held = _log(["A"]).assign(is_holdout=True, action_id="no_action", channel=None, withheld_action_id="retain",
                              withheld_channel="email", withheld_expected_value=96.5)
    warehouse.append_decision_log(con, night1, pd.concat([held, _log(["B"])]), campaign_id="c1", policy="learned")
    counted = f"({counted_contacts_sql(night2, FeedbackSettings(), 'decision_log', None)})"
    logged = con.execute(decision_log_counts_sql(night2, ["email"], counted)).df().set_index("customer_id")
    assert logged.loc[["A", "B"], "logged_email_7d"].tolist() == [1, 1]
    customers, features, scores, responses = hand_inputs()
    customers = customers.merge(logged.reset_index(), on="customer_id", how="left")
    log = run(catalog, inputs=(customers, features, scores, responses), holdout_share=1.0).log.set_index("customer_id")
    assert log.at["A", "withheld_action_id"] is not None and log.at["A", "withheld_channel"] != "email"
    unlogged = run(catalog, holdout_share=1.0).log.set_index("customer_id")
    assert unlogged.at["A", "withheld_channel"] == "email"  # without its night-1 withheld contact A would be e-mailed


def test_explored_customers_record_the_set_their_option_was_drawn_from(catalog):  # noqa: F811
    """Everybody explored: each customer's logged set is exactly the draw's (its size gives the logged selection
    probability 1 / (size + 1)), the drawn action is in it, and the erased customer, who may get nothing, has none."""
    log = run(catalog, exploration_share=1.0, holdout_share=0.0).log.set_index("customer_id")
    assert log["is_exploration"].all()
    sets = log["exploration_set"].map(lambda s: s.split(",") if s else [])
    assert np.allclose(log["selection_probability"], 1.0 / (sets.map(len) + 1))
    drew = log[log["action_id"] != "no_action"]
    assert len(drew) and all(a in s for a, s in zip(drew["action_id"], sets[drew.index]))
    assert sets["A"] == ["retain", "retain", "survey", "survey", "upsell"]  # retain: e-mail, phone; survey: e-mail, SMS
    assert sets["D"] == []
    assert log.loc[["A", "B", "C", "E", "F"], "exploration_set"].notna().all()
    plain = run(catalog).log
    assert plain.loc[~plain["is_exploration"], "exploration_set"].isna().all()


def test_exploration_rows_pair_each_drawn_action_with_the_customers_who_drew_nothing():
    """Training rows from the logged draws (models/training/uplift.randomised_arms_sql): a customer who drew an
    action is contacted for it with probability c / (c + 1) among the two outcomes (c = its options in the set);
    one who drew nothing is a control for every action of its set; nobody is a control for an action it did not
    draw when it drew another; a campaign row echoing an explored contact is not counted twice; a log from before
    the sets were logged gives no exploration rows."""
    from models.training.uplift import find_campaign_dates, logs_exploration, randomised_arms_sql

    con = duckdb.connect()
    night = dt.date(2026, 9, 1)
    drew = _log(["X", "Y", "Z"]).assign(is_exploration=True, action_id=["retain", "no_action", "survey"],
                                        exploration_set=["retain,retain,survey", "retain,survey", "retain,survey"])
    warehouse.append_decision_log(con, night, drew, campaign_id="c", policy="learned")
    con.execute("CREATE TABLE interactions AS SELECT 'X' AS customer_id, TIMESTAMP '2026-09-01 10:00' AS "
                "interaction_ts, 'retain' AS action_id, 'campaign' AS type, NULL AS outcome")
    rows = con.execute(f"SELECT customer_id, action_id, treated, source, round(propensity, 4) FROM "
                       f"({randomised_arms_sql(decision_log='decision_log')}) ORDER BY ALL").fetchall()
    assert rows == [("X", "retain", 1, "explore", 0.6667), ("Y", "retain", 0, "explore", 0.5),
                    ("Y", "survey", 0, "explore", 0.5), ("Z", "survey", 1, "explore", 0.5)]
    assert find_campaign_dates(con, dt.date(2026, 11, 1), 1, decision_log="decision_log", max_plan_nights=1) == [night]
    con.execute("ALTER TABLE decision_log DROP COLUMN exploration_set")  # a log of an older version
    assert not logs_exploration(con, "decision_log")
    old_arms = randomised_arms_sql(decision_log="decision_log", explore=False)
    assert con.execute(f"SELECT customer_id, source FROM ({old_arms})").fetchall() == [("X", "campaign")]
