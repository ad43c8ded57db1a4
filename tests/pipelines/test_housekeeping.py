"""Housekeeping on a HOME: `nba housekeep --dry-run` lists and deletes nothing; the real pass deletes exactly the
old nights' exports, the MLflow runs past retention and old Dagster runs (fixed clock), never the last good night,
the champion or a version a kept night's lists came from; after a successful night the sensor does it."""
import datetime as dt

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.dagster_run import DagsterRun
from mlflow.tracking import MlflowClient

from models.training import registry
from pipelines import cli, housekeeping, settings
from pipelines.resources import NbaHome
from pipelines.runner import dagster_instance
from pipelines.sensors import build_housekeeping_sensor
from tests.models.exports.test_retention import publish
from tests.models.training.mlflow_helpers import ConstantModel

NIGHTS = {"2026-10-30": "2", "2026-10-31": "3", "2026-11-01": "4"}  # night -> the churn version its lists used
KEEP = "retention: {exports_nights_to_keep: 2, mlflow_runs_to_keep: 1, dagster_run_history_days: 90}\n"


@dg.asset
def tiny() -> int:
    return 1


def make_home(tmp_path, config_text: str = KEEP):
    """A HOME with three published nights, five churn versions (v1 the champion, v5 trained after the last
    night), one finished Dagster run, and a config keeping 2 nights, 1 MLflow run per model, 90 days of runs."""
    home_dir = tmp_path / "home"
    NbaHome(home_dir=str(home_dir)).configure_tracking()
    for quality in (0.7, 0.71, 0.72, 0.73, 0.74):
        registry.log_candidate("nba_churn", ConstantModel(quality), params={}, metrics={}, tags={},
                               artifacts={"f.json": "[]"}, input_example=pd.DataFrame({"x": [1.0]}))
    MlflowClient().set_registered_model_alias("nba_churn", registry.CHAMPION, "1")
    for night, version in NIGHTS.items():
        publish(home_dir / "exports", night, {"churn": version})
    with dagster_instance(home_dir) as instance:
        assert dg.materialize([tiny], instance=instance).success
    config = tmp_path / "nba.yaml"
    config.write_text(config_text, encoding="utf-8")
    return home_dir, config


def state(home_dir):
    exports = sorted(p.name for p in (home_dir / "exports").iterdir())
    churn = sorted(int(v.version) for v in MlflowClient().search_model_versions("name = 'nba_churn'"))
    with dagster_instance(home_dir) as instance:
        return exports, churn, len(instance.get_runs())


KEPT_EXPORTS = [".2026-10-31.vabc31", ".2026-11-01.vabc01", "2026-10-31", "2026-11-01",
                "run_summary_2026-10-31.md", "run_summary_2026-11-01.md"]


def test_dry_run_lists_then_the_real_pass_deletes_only_what_retention_allows(tmp_path, capsys):
    home_dir, config = make_home(tmp_path)
    before = state(home_dir)
    assert before[1:] == ([1, 2, 3, 4, 5], 1)

    assert cli.main(["housekeep", "--home", str(home_dir), "--config", str(config), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert state(home_dir) == before  # nothing deleted
    exports = home_dir / "exports"
    assert out[:3] == [f"would delete exports {exports / name}"
                       for name in (".2026-10-30.vabc30", "2026-10-30", "run_summary_2026-10-30.md")]
    assert len(out) == 5 and out[3].startswith("would delete MLflow run ")
    assert out[3].endswith(", version nba_churn v2)")
    assert out[4] == ("dry run, nothing deleted: 3 export entries, 1 MLflow runs, 0 Dagster runs; "
                      "exports kept: 2026-11-01, 2026-10-31")

    assert cli.main(["housekeep", "--home", str(home_dir), "--config", str(config)]) == 0
    # v5 is the newest run, v1 the champion, v3 / v4 made the kept nights' lists; v2 only the deleted night's
    assert state(home_dir) == (KEPT_EXPORTS, [1, 3, 4, 5], 1)
    assert capsys.readouterr().out.splitlines()[-1].startswith("deleted: 3 export entries, 1 MLflow runs")


def test_dagster_runs_older_than_the_history_go_at_a_fixed_clock(tmp_path):
    home_dir, config = make_home(tmp_path, KEEP.replace("exports_nights_to_keep: 2", "exports_nights_to_keep: 0")
                                 .replace("mlflow_runs_to_keep: 1", "mlflow_runs_to_keep: 0"))
    retention = settings.load_settings(config).retention
    home = NbaHome(home_dir=str(home_dir))
    now = dt.datetime.now(dt.timezone.utc)
    with dagster_instance(home_dir) as instance:
        assert housekeeping.plan_housekeeping(home, instance, retention, now + dt.timedelta(days=89)).dagster_runs == ()
        plan = housekeeping.plan_housekeeping(home, instance, retention, now + dt.timedelta(days=91))
        assert [run.job_name for run in plan.dagster_runs] == ["__ephemeral_asset_job__"]
        assert (plan.exports.deletions, plan.mlflow_runs) == ((), ())  # 0 keeps everything
        housekeeping.apply_housekeeping(plan, home, instance)
        assert instance.get_runs() == []
    assert len(state(home_dir)[0]) == 9 and state(home_dir)[1] == [1, 2, 3, 4, 5]


def test_the_sensor_applies_retention_after_a_successful_night(tmp_path):
    home_dir, config = make_home(tmp_path)
    retention = settings.load_settings(config).retention
    sensor = build_housekeeping_sensor(retention, switch_on=True)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    before = state(home_dir)
    with dagster_instance(home_dir) as instance:
        run = instance.get_runs()[0]
        success = next(entry.dagster_event for entry in instance.all_logs(run.run_id)
                       if entry.is_dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS)
        resources = {"home": NbaHome(home_dir=str(home_dir), config_path=str(config))}
        busy = instance.add_run(DagsterRun(job_name="nightly_nba", status=dg.DagsterRunStatus.STARTED))
        sensor(dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=success,
                                                  dagster_instance=instance, dagster_run=run, resources=resources))
        assert state(home_dir)[:2] == before[:2]  # another night is running: nothing deleted
        instance.delete_run(busy.run_id)
        sensor(dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=success,
                                                  dagster_instance=instance, dagster_run=run, resources=resources))
    assert state(home_dir) == (KEPT_EXPORTS, [1, 3, 4, 5], 1)
    off = settings.load_settings().retention
    assert build_housekeeping_sensor(off, switch_on=False).default_status == dg.DefaultSensorStatus.STOPPED


def test_nba_housekeep_refuses_while_a_run_is_in_progress(tmp_path, capsys):
    home_dir, config = make_home(tmp_path)
    before = state(home_dir)
    with dagster_instance(home_dir) as instance:
        busy = instance.add_run(DagsterRun(job_name="nightly_nba", status=dg.DagsterRunStatus.STARTED))
    assert cli.main(["housekeep", "--home", str(home_dir), "--config", str(config)]) == 3
    assert f"run {busy.run_id} is in progress; run nba housekeep after it" in capsys.readouterr().err
    assert state(home_dir)[:2] == before[:2]


@pytest.mark.parametrize("override, message", [
    ("retention: {exports_nights_to_keep: -1}", "retention.exports_nights_to_keep '-1' must be a whole number >= 0"),
    ("retention: {dagster_run_history_days: 7.5}", "'retention.dagster_run_history_days' must be a whole number"),
])
def test_a_wrong_retention_setting_is_named(tmp_path, override, message):
    path = tmp_path / "nba.yaml"
    path.write_text(override + "\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=message):
        settings.load_settings(path).retention
