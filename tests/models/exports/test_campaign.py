"""The campaign id: the same inputs, config, catalog and models give the same id; any change gives another."""
import datetime as dt

from models.exports.campaign import campaign_id, campaign_info

AS_OF = dt.date(2026, 11, 1)
CONFIG = {"decisions": {"holdout_share": 0.05, "valid_for_days": 7}, "seed": 7}


def test_the_campaign_id_is_deterministic_and_changes_with_every_input():
    base = campaign_id(AS_OF, "[inputs]", CONFIG, "policy-1", {"churn": "1", "clv": "2"})
    assert base.startswith("nba-2026-11-01-") and len(base) == len("nba-2026-11-01-") + 12
    assert base == campaign_id(AS_OF, "[inputs]", dict(CONFIG), "policy-1", {"clv": "2", "churn": "1"})
    others = {campaign_id(AS_OF, "[other inputs]", CONFIG, "policy-1", {"churn": "1", "clv": "2"}),
              campaign_id(AS_OF, "[inputs]", {**CONFIG, "seed": 8}, "policy-1", {"churn": "1", "clv": "2"}),
              campaign_id(AS_OF, "[inputs]", CONFIG, "policy-2", {"churn": "1", "clv": "2"}),
              campaign_id(AS_OF, "[inputs]", CONFIG, "policy-1", {"churn": "3", "clv": "2"})}
    assert base not in others and len(others) == 4


def test_campaign_info_carries_the_facts_of_the_lists():
    info = campaign_info(AS_OF, "[inputs]", CONFIG, "policy-1", {"churn": "1"})
    assert info["valid_until"] == dt.date(2026, 11, 8) and info["control_group_share"] == 0.05
    assert info["campaign_id"] == campaign_id(AS_OF, "[inputs]", CONFIG, "policy-1", {"churn": "1"})
