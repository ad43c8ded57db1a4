"""The whole asset graph materialised on a small generated world, checked on content, not existence."""
import csv
import hashlib
import json

import pandas as pd

from tests.conftest import AS_OF, query


def test_every_input_row_is_accepted_or_quarantined(nightly_home):
    for extract in ("customers", "purchases", "interactions"):
        rows_in = query(nightly_home, f"SELECT sum(rows) FROM ingest_log WHERE extract = '{extract}' AND loaded_at = "
                                      f"(SELECT max(loaded_at) FROM ingest_log WHERE extract = '{extract}')")[0][0]
        staged = query(nightly_home, f"SELECT rows_in, rows_accepted, rows_quarantined FROM staging_log "
                                     f"WHERE extract = '{extract}'")[0]
        accepted = query(nightly_home, f"SELECT count(*) FROM stg_{extract}")[0][0]
        quarantined = query(nightly_home, f"SELECT count(*) FROM quarantine WHERE extract = '{extract}'")[0][0]
        assert rows_in == staged[0] == accepted + quarantined and staged[1:] == (accepted, quarantined), extract
        assert not query(nightly_home, f"SELECT * FROM duckdb_tables() WHERE table_name = 'raw_{extract}'")  # renamed
    assert query(nightly_home, "SELECT count(*) FROM quarantine")[0][0] > 0  # the generator plants dirty rows


def test_no_quarantined_row_reaches_downstream_tables(nightly_home):
    leaked = query(nightly_home, """
        SELECT count(*) FROM quarantine q JOIN purchases p ON p.order_id = json_extract_string(q.record, '$.order_id')
        AND p.amount = TRY_CAST(json_extract_string(q.record, '$.amount') AS DOUBLE)
        WHERE q.extract = 'purchases' AND q.rule NOT LIKE 'duplicate_exact%'""")[0][0]
    assert leaked == 0
    unknown = query(nightly_home, "SELECT count(*) FROM purchases WHERE customer_id NOT IN (SELECT customer_id FROM golden_customers)")[0][0]
    assert unknown == 0


def test_scores_cover_every_golden_customer_once(nightly_home):
    golden = query(nightly_home, "SELECT count(*) FROM golden_customers WHERE signup_date < DATE '2026-11-01'")[0][0]
    scored, distinct = query(nightly_home, "SELECT count(*), count(DISTINCT customer_id) FROM customer_scores")[0]
    assert scored == distinct == golden
    low, high = query(nightly_home, "SELECT min(churn_probability), max(churn_probability) FROM customer_scores")[0]
    assert 0.0 <= low < high <= 1.0


def test_exports_respect_consent_capacity_and_holdout(nightly_home):
    folder = nightly_home / "exports" / AS_OF.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text())
    customers = pd.DataFrame(query(nightly_home, "SELECT customer_id, consent_email, consent_sms, consent_phone, consent_app, do_not_contact FROM golden_customers"),
                             columns=["customer_id", "email", "sms", "phone", "app", "dnc"]).set_index("customer_id")
    for name, channel in (("email", "email"), ("sms", "sms"), ("app", "app"), ("call_center", "phone")):
        with open(folder / f"{name}.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        entry = manifest["files"][f"{name}.csv"]  # the manifest must describe every list file
        assert entry["rows"] == len(rows) and entry["bytes"] == (folder / f"{name}.csv").stat().st_size
        assert entry["sha256"] == hashlib.sha256((folder / f"{name}.csv").read_bytes()).hexdigest()
        for row in rows:
            person = customers.loc[row["customer_id"]]
            assert bool(person[channel]) and not bool(person["dnc"]), (name, row["customer_id"])
    calls = query(nightly_home, "SELECT count(*) FROM next_best_actions WHERE chosen AND channel = 'phone'")[0][0]
    assert calls <= 25
    holdout_contacted = query(nightly_home, "SELECT count(*) FROM next_best_actions WHERE is_holdout AND chosen AND action_id <> 'no_action'")[0][0]
    assert holdout_contacted == 0


def test_model_selection_and_audit_are_recorded(nightly_home):
    targets = {r[0] for r in query(nightly_home, "SELECT target FROM model_selection")}
    assert targets == {"churn", "upsell", "clv", "response"}
    audited = query(nightly_home, "SELECT count(DISTINCT customer_id) FROM decision_audit")[0][0]
    assert audited == query(nightly_home, "SELECT count(*) FROM customer_scores")[0][0]
    summary = (nightly_home / "exports" / f"run_summary_{AS_OF.isoformat()}.md").read_text()
    assert "rows_in" in summary and "**Held out:**" in summary and "**Explored:**" in summary
    assert "## The plan" in summary and " EUR** of incremental net margin over the **" in summary


def test_the_night_at_a_glance_and_every_layers_checks_are_recorded_under_the_night(nightly_home):
    """The decisions page leads with the plan's value, currency and horizon and the contacts split plan /
    exploration / holdout; the checks of every layer carry the night's partition (the UI showed "—")."""
    import re

    import dagster as dg

    from pipelines.runner import dagster_instance

    instance = dagster_instance(nightly_home)
    event = instance.get_latest_materialization_event(dg.AssetKey(["decisions", "next_best_actions"]))
    metadata = event.asset_materialization.metadata
    assert list(metadata)[:2] == ["plan_value", "contacts"]
    assert re.fullmatch(r"-?[\d,]+\.\d\d EUR over \d+(–\d+)? days after the contact \(expected incremental net "
                        r"margin of the plan's contacts\)", metadata["plan_value"].value), metadata["plan_value"].value
    assert "| action_id | channel | plan | exploration | holdout |" in re.sub(r" +", " ", metadata["contacts"].value)
    explored = query(nightly_home, "SELECT count(*) FROM next_best_actions WHERE chosen AND is_exploration "
                                   "AND action_id <> 'no_action'")[0][0]
    assert metadata["exploration_contacts"].value == explored
    assert re.fullmatch(r"\d+ of 25", metadata["calls_used"].value)
    checks = {("validated", "purchases"): "gx_suite", ("golden", "golden_customers"): "record_resolution",
              ("features", "customer_features"): "one_row_per_customer", ("models", "churn_model"): "promotion_gate",
              ("models", "response_model"): "learning_health", ("scores", "customer_scores"): "score_drift",
              ("decisions", "next_best_actions"): "decision_sanity", ("exports", "campaign_lists"): "export_compliance"}
    for asset, name in checks.items():
        (record,) = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey(asset), name),
                                                                                 limit=1)
        assert record.partition == AS_OF.isoformat(), (asset, name, record.partition)
        evaluation = record.event.dagster_event.event_specific_data
        if name in ("decision_sanity", "export_compliance", "record_resolution", "one_row_per_customer"):
            assert evaluation.passed, (name, evaluation.metadata["reason"].value)
