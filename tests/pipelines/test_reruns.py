"""Reruns: the same night run twice publishes the same bytes (only manifest.json's created_at differs); a second
run on a busy HOME refuses at once; a lost model store retrains, a corrupt or unreachable one stops the run
with one message; a bad extract on the next night stops with one message. A failed run leaves the previous
exports byte for byte as they were. Every test starts from a private copy of one good night."""
import datetime as dt
import json
import shutil
import time

import pytest

from pipelines import cli
from pipelines.runner import dagster_instance
from tests.pipelines.helpers import (AS_OF, MANIFEST_RUN_FIELDS, NbaRun, assert_champions_trained_for,
                                     assert_complete_set, copy_home, export_differences, good_night, run_in_process,
                                     sha256, visible_exports, write_without_column)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    return good_night(tmp_path_factory)


def nba_run(home, landing, as_of, config) -> int:
    """`nba run` through the CLI's own main (in process: the imports are already warm)."""
    return cli.main(["run", "--landing", str(landing), "--as-of", as_of.isoformat(), "--home", str(home),
                     "--config", str(config)])


def nba_run_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("nba run:")]


def timed_nba_run(home, night, capsys) -> tuple[int, float, str, list[str]]:
    """Run a night on `home`: (exit code, seconds it took, stderr, the run's own message lines)."""
    started = time.monotonic()
    code = nba_run(home, night.landing, AS_OF, night.config)
    took = time.monotonic() - started
    err = capsys.readouterr().err
    return code, took, err, nba_run_lines(err)


def test_rerun_of_the_same_night_publishes_byte_identical_exports(night, tmp_path):
    home = copy_home(night, tmp_path)
    outcome = run_in_process(home, night)
    assert outcome.success, outcome.message
    first, second = assert_complete_set(night.exports, AS_OF), assert_complete_set(home / "exports", AS_OF)
    assert first.name != second.name  # a new version was really written and published
    manifests = [json.loads((folder / "manifest.json").read_text(encoding="utf-8")) for folder in (first, second)]
    # the contract lets only created_at differ; widening MANIFEST_RUN_FIELDS would weaken every comparison
    assert MANIFEST_RUN_FIELDS == ("created_at",) and all(m["created_at"] for m in manifests)
    assert manifests[0]["run_id"] == manifests[1]["run_id"] != outcome.run_id  # a campaign id, not the Dagster run
    differences = export_differences(first, second)
    assert not differences, "a rerun of the same night changed the exports:\n" + "\n".join(differences)
    assert_reused_models_show_their_promoted_metrics(home)


def assert_reused_models_show_their_promoted_metrics(home):
    """A night that reuses the champions shows, on each model page, the metrics the champion was promoted with,
    rounded and each beside its baseline (the pages showed no metrics at all)."""
    import dagster as dg

    from pipelines.runner import dagster_instance

    event = dagster_instance(home).get_latest_materialization_event(dg.AssetKey(["models", "churn_model"]))
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert metadata["trained"] is False and metadata["metrics_of"].endswith("(reused)"), metadata
    keys = list(metadata)
    assert keys[keys.index("auc") + 1] == "baseline_auc", keys
    assert all(round(v, 4) == v for v in metadata.values() if isinstance(v, float) and v == v), metadata


def test_second_run_on_a_busy_home_refuses_at_once_and_the_first_completes(night, tmp_path, capsys):
    home = copy_home(night, tmp_path)
    with dagster_instance(home) as instance:
        runs_before = instance.get_runs_count()
    with NbaRun(home, night) as first:
        first.wait_until(first.step_started("raw__customers"))  # the first run holds the home's lock
        code, took, err, messages = timed_nba_run(home, night, capsys)
        assert code == 3, err
        assert len(messages) == 1 and str(home.resolve()) in messages[0] and "another nba run" in messages[0], err
        assert took < 5, f"the refusal took {took:.1f} s"
        assert first.wait() == 0, first.stderr
        assert "FAILED" not in first.stderr
    published = assert_complete_set(home / "exports", AS_OF)
    assert published.name != assert_complete_set(night.exports, AS_OF).name
    with dagster_instance(home) as instance:
        assert instance.get_runs_count() == runs_before + 1  # the refused run never started a Dagster run


def test_bad_extract_on_night_two_fails_with_one_message_and_keeps_night_one(night, tmp_path, capsys):
    home = copy_home(night, tmp_path)
    landing = tmp_path / "landing_2026-11-02"
    landing.mkdir()
    for name in ("customers.csv", "interactions.csv"):
        shutil.copy(night.landing / name, landing / name)
    write_without_column(night.landing / "purchases.csv", landing / "purchases.csv", "amount")
    before = visible_exports(home / "exports")
    code = nba_run(home, landing, AS_OF + dt.timedelta(days=1), night.config)
    err = capsys.readouterr().err
    assert code == 1, err
    messages = nba_run_lines(err)
    assert len(messages) == 1 and "Traceback" not in err, err
    assert "purchases.csv" in messages[0] and "'amount'" in messages[0], messages[0]
    assert visible_exports(home / "exports") == before  # night one's set and summary, byte for byte; no 2026-11-02


def test_lost_model_store_retrains_and_exports_from_the_new_champions(night, tmp_path):
    home = copy_home(night, tmp_path)
    shutil.rmtree(home / "mlflow")
    outcome = run_in_process(home, night)
    assert outcome.success, outcome.message
    assert_champions_trained_for(home, AS_OF)
    published, first = assert_complete_set(home / "exports", AS_OF), assert_complete_set(night.exports, AS_OF)
    for name in ("customer_scores.parquet", "next_best_actions.parquet"):  # the retrained models decide as before
        assert sha256(published / name) == sha256(first / name), name


def test_corrupt_model_store_stops_with_one_message_naming_it(night, tmp_path, capsys):
    home = copy_home(night, tmp_path)
    (home / "mlflow" / "mlflow.db").write_bytes(b"this is not an SQLite database\n" * 64)
    before = visible_exports(home / "exports")
    code = nba_run(home, night.landing, AS_OF, night.config)
    err = capsys.readouterr().err
    assert code == 1, err
    messages = nba_run_lines(err)
    assert len(messages) == 1 and "Traceback" not in err, err
    assert "mlflow.db" in messages[0], messages[0]  # the user must learn which store is broken
    assert "exports__campaign_lists" not in err
    assert visible_exports(home / "exports") == before


def test_unreachable_tracking_server_fails_fast_and_keeps_the_exports(night, tmp_path, capsys, monkeypatch):
    home = copy_home(night, tmp_path)
    monkeypatch.setenv("NBA_MLFLOW_TRACKING_URI", "http://127.0.0.1:9/")  # loopback discard port: refused at once
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    before = visible_exports(home / "exports")
    code, took, err, messages = timed_nba_run(home, night, capsys)
    assert code == 1, err
    assert len(messages) == 1 and "Traceback" not in err and "127.0.0.1:9" in messages[0], err
    assert "scores__customer_scores" not in err and "exports__campaign_lists" not in err
    assert took < 90, f"a refused connection took {took:.0f} s to fail the run"
    assert visible_exports(home / "exports") == before
