"""Last night at a glance: the plan's contacts apart from exploration and the holdout, the value horizon, the
decision-sanity verdict and the snapshot the next night compares with."""
from pathlib import Path

import pandas as pd

from models.decisions.catalog import load_catalog
from models.decisions.night_glance import (contact_breakdown, decision_sanity, horizon_days, horizon_text,
                                           night_snapshot, previous_night)
from models.features.customer_features import FEATURE_COLUMNS

CATALOG = load_catalog(Path(__file__).resolve().parents[3] / "pipelines" / "config" / "action_catalog.yaml",
                       set(FEATURE_COLUMNS))


def night_log() -> pd.DataFrame:
    """Three plan e-mails, two explored newsletters, one planned call; two held-out customers the plan would have
    e-mailed, one held out with nothing withheld, one customer left alone."""
    rows = [("c1", "content_newsletter", "email", 1.0, False, False, None, None),
            ("c2", "content_newsletter", "email", 2.0, False, False, None, None),
            ("c3", "retention_offer", "email", 3.0, False, False, None, None),
            ("c4", "content_newsletter", "email", 0.5, False, True, None, None),
            ("c5", "content_newsletter", "app", 0.1, False, True, None, None),
            ("c6", "retention_offer", "phone", 7.0, False, False, None, None),
            ("h1", "no_action", None, 0.0, True, False, "content_newsletter", "email"),
            ("h2", "no_action", None, 0.0, True, False, "retention_offer", "email"),
            ("h3", "no_action", None, 0.0, True, False, None, None),
            ("n1", "no_action", None, 0.0, False, False, None, None)]
    return pd.DataFrame(rows, columns=["customer_id", "action_id", "channel", "expected_value", "is_holdout",
                                       "is_exploration", "withheld_action_id", "withheld_channel"])


def test_the_plan_exploration_and_holdout_are_counted_apart_per_action_and_channel():
    table = contact_breakdown(night_log(), CATALOG).set_index(["action_id", "channel"])
    assert table.loc[("content_newsletter", "email"), ["plan", "exploration", "holdout"]].tolist() == [2, 1, 1]
    assert table.loc[("content_newsletter", "app"), ["plan", "exploration", "holdout"]].tolist() == [0, 1, 0]
    assert table.loc[("retention_offer", "email"), ["plan", "exploration", "holdout"]].tolist() == [1, 0, 1]
    assert table.loc[("content_newsletter", "email"), "plan_value"] == 3.0  # the explored 0.5 is not the plan's
    assert ("no_action", "-") not in table.index and table["plan"].sum() == 4
    assert table.loc[("retention_offer", "phone"), "horizon_days"] == 90
    assert horizon_days(table.reset_index()) == [30, 90] and horizon_text([30, 90]) == "30–90 days"
    assert horizon_text([90, 90], "días") == "90 días" and horizon_text([]) == "-"


def test_decision_sanity_flags_a_holdout_off_its_share_and_a_deployed_policy_below_a_simple_one():
    candidates = [{"policy": "learned", "value": 90.0, "se": 5.0, "lower_bound": 80.0},
                  {"policy": "all:content_newsletter", "value": 60.0, "se": 5.0, "lower_bound": 50.0},
                  {"policy": "no_action", "value": 0.0, "se": 0.0, "lower_bound": 0.0}]
    good = {"n_customers": 10_000, "holdout_size": 500, "exploration_size": 190,
            "policy_selection": {"winner": "learned", "candidates": candidates}}
    verdict = decision_sanity(good, holdout_share=0.05, exploration_share=0.02)
    assert verdict.passed and verdict.figures["best_simple"] == "all:content_newsletter", verdict
    bad = {**good, "holdout_size": 100, "exploration_size": 900,
           "policy_selection": {"winner": "no_action", "candidates": candidates}}
    verdict = decision_sanity(bad, holdout_share=0.05, exploration_share=0.02)
    assert not verdict.passed and len(verdict.reasons) == 3, verdict
    assert "holdout is 1.00% of 10,000 customers" in verdict.reasons[0]
    assert "exploration is 9.00%" in verdict.reasons[1]
    assert "'no_action' (lower bound 0.00) is below the simple policy 'all:content_newsletter'" in verdict.reasons[2]


def test_the_previous_night_is_the_last_earlier_night_and_a_rerun_keeps_it():
    import datetime as dt

    contacts = contact_breakdown(night_log(), CATALOG)
    summary = {"plan_value": 13.0, "total_expected_value": 13.6, "contacts": contacts.to_dict("records"),
               "policy_selection": {"winner": "learned"}, "model_versions": {"churn": "3"}}
    snapshot = night_snapshot(summary, {"purchases": 0.01})
    assert snapshot == {"plan_value": 13.0, "plan_contacts": 4, "policy": "learned",
                        "model_versions": {"churn": "3"}, "quarantine_share": {"purchases": 0.01}}
    nov1, nov2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    assert previous_night(nov2, nov1, {"snapshot": snapshot}) == {"as_of": "2026-11-01", **snapshot}
    assert previous_night(nov2, nov2, {"snapshot": {}, "previous_night": {"as_of": "2026-11-01"}}) == {"as_of": "2026-11-01"}
    assert previous_night(nov1, nov2, {"snapshot": snapshot}) is None  # a backfill of an earlier date
    assert previous_night(nov1, None, {}) is None
