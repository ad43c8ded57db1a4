"""The single Definitions object loads and holds the graph analysts browse: layers, checks, job, schedule, sensor."""
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.sensors import READY_MARKER, ready_landing_dates

LAYERS = {"raw", "validated", "golden", "features", "models", "scores", "decisions", "exports", "sharded"}


def test_every_asset_sits_in_its_layer_with_a_description_and_kinds():
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    assert {key.path[0] for key in keys} == LAYERS
    for key in keys:
        node = graph.get(key)
        assert node.group_name == key.path[0], key
        assert node.description and len(node.description) > 30, key
        assert node.kinds, key
        assert node.partitions_def is not None, key


def test_contracts_and_model_gates_are_blocking_checks():
    graph = defs.resolve_asset_graph()
    checks = {(spec.asset_key.to_user_string(), spec.name): spec for spec in graph.asset_check_specs if hasattr(spec, "blocking")} \
        if hasattr(graph, "asset_check_specs") else {}
    if not checks:
        checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    for extract in ("customers", "purchases", "interactions"):
        assert checks[(f"validated/{extract}", "gx_suite")].blocking
    for target in ("churn", "upsell", "clv", "response"):
        assert checks[(f"models/{target}_model", "promotion_gate")].blocking
    assert not checks[("scores/customer_scores", "score_drift")].blocking


def test_lineage_runs_from_raw_extracts_to_exports():
    graph = defs.resolve_asset_graph()
    upstream = graph.upstream_key_iterator(dg.AssetKey(["exports", "campaign_lists"]))
    assert dg.AssetKey(["decisions", "next_best_actions"]) in set(upstream)
    ancestors = set()
    frontier = [dg.AssetKey(["exports", "campaign_lists"])]
    while frontier:
        key = frontier.pop()
        for parent in graph.get(key).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    assert {dg.AssetKey(["raw", e]) for e in ("customers", "purchases", "interactions", "contacts")} <= ancestors
    assert dg.AssetKey(["decisions", "realised_lift"]) in ancestors  # the run summary tells what past contacts earned


def test_the_sharded_jobs_together_run_every_asset_of_the_single_process_night():
    def keys(name):
        return set(defs.resolve_job_def(name).asset_layer.executable_asset_keys)
    single = keys("nightly_nba")
    sharded = keys("nightly_nba_shard_inputs") | keys("nightly_nba_sharded")
    assert single - sharded == {dg.AssetKey(["features", "customer_features"]), dg.AssetKey(["scores", "customer_scores"])}
    assert dg.AssetKey(["validated", "contacts"]) in keys("nightly_nba_shard_inputs")


def test_job_schedule_and_sensor_are_defined():
    assert defs.resolve_job_def("nightly_nba") is not None
    assert defs.resolve_schedule_def("nightly_nba_schedule").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor") is not None


def test_sensor_sees_only_dated_folders_with_the_ready_marker(tmp_path):
    for name, ready in (("2026-11-01", True), ("2026-11-02", False), ("not-a-date", True), ("2026-11-03", True)):
        (tmp_path / name).mkdir()
        if ready:
            (tmp_path / name / READY_MARKER).touch()
    assert ready_landing_dates(tmp_path) == ["2026-11-01", "2026-11-03"]


def test_dagster_cli_validates_the_workspace():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout


def test_the_ui_and_serve_locations_start_their_partitions_where_the_landing_data_starts(tmp_path, monkeypatch):
    """`nba ui` / `nba serve` hand the landing folder to their Dagster processes: the partition bar starts the day
    after its first purchase, not in 1970; without a landing folder it is the floor."""
    from pipelines.served import definitions_from_environment

    (tmp_path / "customers.csv").write_text("customer_id,signup_date\nA,1997-01-01\n")
    (tmp_path / "purchases.csv").write_text("order_id,customer_id,order_ts,amount\n1,A,1997-01-01,11.77\n")
    monkeypatch.setenv("NBA_CONFIG", "")
    monkeypatch.setenv("NBA_LANDING", str(tmp_path))
    job = definitions_from_environment(switch_on=False).resolve_job_def("nightly_nba")
    assert job.partitions_def.get_first_partition_key() == "1997-01-02"
    monkeypatch.setenv("NBA_LANDING", "")
    job = definitions_from_environment(switch_on=False).resolve_job_def("nightly_nba")
    assert job.partitions_def.get_first_partition_key() == "1970-01-01"


def test_partitions_that_follow_the_data_move_the_partitioned_checks_with_their_assets():
    """A night's checks are partitioned like their asset (assets/_common.night_check): moving the assets' first
    partition must move the checks' too, or Dagster refuses every step of such an asset."""
    import datetime as dt

    from pipelines.definitions import build_definitions
    from pipelines.settings import load_settings

    moved = build_definitions(load_settings(), first_as_of=dt.date(1997, 1, 2))
    checked = 0
    for assets_def in moved.assets:
        start = assets_def.partitions_def.start.date()  # raises when a check kept other partitions
        assert start == dt.date(1997, 1, 2), assets_def.keys
        for spec in assets_def.check_specs:
            if spec.partitions_def is not None:
                assert spec.partitions_def.start.date() == dt.date(1997, 1, 2)
                checked += 1
    assert checked >= 3  # learning_health, decision_sanity, export_compliance, ...
