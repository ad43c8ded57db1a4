"""Two nights through Dagster: the tools report back on the first night's e-mail list (contacts extract), the second
night keeps that feedback, and the realised-lift asset measures the first night against its holdout, on the asset
page and in the run summary."""
import datetime as dt
import shutil

import pandas as pd
import pytest

from models.decisions.catalog import load_catalog
from models.features.customer_features import FEATURE_COLUMNS
from pipelines.settings import DEFAULT_CONFIG
from tests.conftest import AS_OF, query

FIRST = AS_OF - dt.timedelta(days=45)  # its 30-day outcome windows close before AS_OF


def test_feedback_is_kept_and_the_first_nights_lift_is_measured_the_next_night(tmp_path, small_world, fast_config):
    from pipelines.runner import run_nightly

    landing, home = tmp_path / "landing", tmp_path / "home"
    shutil.copytree(small_world, landing, ignore=shutil.ignore_patterns("truth", "_READY"))
    first = run_nightly(home, landing, FIRST, fast_config)
    assert first.success, first.message
    emails = pd.read_csv(home / "exports" / FIRST.isoformat() / "email.csv", dtype=str)
    assert len(emails) >= 10
    bounced = emails.iloc[: len(emails) // 5]
    at = f"{FIRST.isoformat()} 08:00:00"
    feedback = pd.concat([
        emails.assign(status="delivered"), bounced.assign(status="bounced")]).drop_duplicates("customer_id", keep="last")
    feedback = feedback.assign(channel="email", status_at=at)[
        ["campaign_id", "customer_id", "action_id", "channel", "status", "status_at"]]
    # three reached customers unsubscribe in the tool, one of them on a row the contract quarantines (bad date)
    delivered = feedback[feedback["status"] == "delivered"]
    unsubscribed = delivered.iloc[:3].assign(status="unsubscribed", status_at=f"{FIRST.isoformat()} 09:00:00")
    unsubscribed.iloc[2, unsubscribed.columns.get_loc("status_at")] = "not a date"
    assert len(feedback) + len(unsubscribed) > 20  # one quarantined row stays under ingest.max_bad_row_share
    pd.concat([feedback, unsubscribed]).to_csv(landing / "contacts.csv", index=False)

    second = run_nightly(home, landing, AS_OF, fast_config)
    assert second.success, second.message
    states = dict(query(home, "SELECT status, count(*) FROM contact_feedback GROUP BY 1"))
    assert states == {"delivered": len(emails) - len(bounced), "bounced": len(bounced), "unsubscribed": 2}
    # an unsubscribe reported by a tool is an opt-out on that channel, quarantined or not: the ledger keeps it,
    # the golden record and the e-mail list honour it
    gone = set(unsubscribed["customer_id"])
    ledger = {r[0] for r in query(home, "SELECT customer_id FROM consent_ledger WHERE rule = 'tool_unsubscribed' "
                                        "AND NOT consent_email AND consent_sms")}
    assert ledger == gone
    consent = dict(query(home, "SELECT x.source_customer_id, g.consent_email FROM golden_customers g JOIN "
                               "customer_crosswalk x ON x.golden_id = g.customer_id"))
    assert not any(consent[c] for c in gone)
    second_emails = pd.read_csv(home / "exports" / AS_OF.isoformat() / "email.csv", dtype=str)
    assert not gone & set(second_emails["customer_id"])
    nights = {r[0] for r in query(home, "SELECT DISTINCT period FROM realised_lift")}
    assert nights == {FIRST.isoformat()}
    measured = {r[0]: r[1:] for r in query(home, "SELECT action_id, customers_contacted, customers_holdout, delivered_share "
                                                 "FROM realised_lift WHERE action_id <> '(all)'")}
    logged = {r[0]: r[1:] for r in query(
        home, "SELECT coalesce(withheld_action_id, action_id), count(*) FILTER (NOT is_holdout), count(*) FILTER (is_holdout) "
              f"FROM decision_log WHERE as_of = DATE '{FIRST}' AND NOT is_exploration GROUP BY 1")}
    catalog = load_catalog(DEFAULT_CONFIG.parent / "action_catalog.yaml", set(FEATURE_COLUMNS))
    horizons = {a.id: a.outcome_horizon_days for a in catalog.actions}
    settled = {a for a in logged if a != "no_action" and FIRST + dt.timedelta(days=horizons[a]) <= AS_OF}
    assert set(measured) == settled and settled  # 90-day actions of the first night are not measured yet
    for action in settled:
        assert measured[action][:2] == logged[action], action
    listed = emails.groupby("action_id").size()
    bounced_share = bounced.groupby("action_id").size().reindex(listed.index, fill_value=0) / listed
    for action, share in bounced_share.items():
        if action in settled and logged[action][0] == emails["action_id"].eq(action).sum():  # only e-mailed
            assert measured[action][2] == pytest.approx(1 - share), action
    summary = (home / "exports" / f"run_summary_{AS_OF.isoformat()}.md").read_text(encoding="utf-8")
    assert f"Each contact made in {FIRST.isoformat()} earned" in summary
    assert "KPI scorecard of" in summary
