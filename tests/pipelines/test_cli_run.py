"""`nba run` at its edge: an as-of date outside the partitions is refused in one line before anything runs, and
the paths printed after a night are those the config gives (`paths.exports`)."""
import datetime as dt
from pathlib import Path

from pipelines import cli, runner
from pipelines.schedule_settings import as_of_for_tick


def _run(tmp_path, as_of: str, *extra: str) -> int:
    (tmp_path / "landing").mkdir(exist_ok=True)
    return cli.main(["run", "--landing", str(tmp_path / "landing"), "--as-of", as_of, "--home", str(tmp_path / "home"),
                     *extra])


def test_an_as_of_date_outside_the_partitions_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    assert _run(tmp_path, tomorrow.isoformat()) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"nba run: as-of date {tomorrow} is outside the nightly partitions 1970-01-01 .. "
                     f"{lines[0].split(' .. ')[1].split(' ')[0]} (a night decides on events before its as-of "
                     "date, which cannot be after today)"]
    assert _run(tmp_path, "1969-12-31") == 2  # an empty landing folder: the floor
    assert capsys.readouterr().err == ("nba run: as-of date 1969-12-31 is before the first nightly partition "
                                       "1970-01-01 (the earliest date the pipeline supports)\n")
    assert not (tmp_path / "home").exists()


def test_the_partitions_follow_the_landing_data_or_the_config(tmp_path, capsys, monkeypatch):
    """A 1997 log gets partitions from the day after its first purchase (not 20,000 days from 1970); an earlier
    night is refused in one line naming where the first partition comes from; the config may set it."""
    from pipelines.definitions import build_definitions
    from pipelines.partitions import first_as_of
    from pipelines.settings import load_settings

    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: runner.RunOutcome(True, "run-1", ""))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "customers.csv").write_text("customer_id,signup_date\nA,1997-01-01\nB,1997-02-03\n")
    (landing / "purchases.csv").write_text("order_id,customer_id,order_ts,amount\n1,B,1997-02-03,9.5\n"
                                           "2,A,1997-01-05,3\n3,A,1900-01-01,1\n")  # 1900: a placeholder
    first, why = first_as_of(load_settings(), landing)
    assert (first, why) == (dt.date(1997, 1, 6), f"the day after the first purchase in {landing}")
    job = build_definitions(load_settings(), first_as_of=first).resolve_job_def("nightly_nba")
    keys = job.partitions_def.get_partition_keys()
    today = as_of_for_tick(dt.datetime.now(dt.timezone.utc), load_settings().schedule.timezone, "today")  # their zone
    assert keys[0] == "1997-01-06" and len(keys) == (today - dt.date(1997, 1, 6)).days + 1
    assert _run(tmp_path, "1997-01-05") == 2
    assert capsys.readouterr().err == ("nba run: as-of date 1997-01-05 is before the first nightly partition "
                                       f"1997-01-06 (the day after the first purchase in {landing})\n")
    assert _run(tmp_path, "1997-10-01") == 0
    config = tmp_path / "config.yaml"
    config.write_text("partitions: {first_as_of_date: 1997-06-01}\n", encoding="utf-8")
    assert first_as_of(load_settings(config), landing) == (dt.date(1997, 6, 1), "partitions.first_as_of_date in the config")
    assert _run(tmp_path, "1997-05-31", "--config", str(config)) == 2
    assert "before the first nightly partition 1997-06-01 (partitions.first_as_of_date" in capsys.readouterr().err
    config.write_text("partitions: {first_as_of_date: June 1997}\n", encoding="utf-8")
    assert _run(tmp_path, "1997-10-01", "--config", str(config)) == 2
    assert capsys.readouterr().err == (f"nba run: {config}: 'partitions.first_as_of_date' must be a date "
                                       "(YYYY-MM-DD), got 'June 1997'\n")


def test_a_bad_config_stops_nba_run_in_one_line_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    config = tmp_path / "bad.yaml"
    config.write_text("decisions:\n  holdout_share: 1.5\n", encoding="utf-8")
    for sharded in ([], ["--sharded"]):
        assert _run(tmp_path, "1997-10-01", "--config", str(config), *sharded) == 2
        assert capsys.readouterr().err == (f"nba run: {config}: 'decisions.holdout_share' must be between 0 and 1, "
                                           "got 1.5\n")
    assert not (tmp_path / "home").exists()


def test_a_config_naming_an_action_the_catalog_lacks_stops_nba_run_before_anything_runs(tmp_path, capsys,
                                                                                       monkeypatch):
    """A volume cap or lever for an action the catalog does not have used to fail in the decisions asset, after
    ingest and training; a catalog that does not parse, too. Both are refused in one line before anything runs."""
    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    config = tmp_path / "config.yaml"
    config.write_text("decisions:\n  action_volume_caps: {mens_emial: 100}\n", encoding="utf-8")
    assert _run(tmp_path, "1997-10-01", "--config", str(config)) == 2
    assert capsys.readouterr().err == (
        f"nba run: {config}: config decisions.action_volume_caps: 'mens_emial' is not an action id of the catalog "
        "action_catalog.yaml (its actions: content_newsletter, cross_sell, retention_offer, satisfaction_survey, "
        "service_recovery_call, upsell_premium, winback)\n")
    config.write_text("decisions:\n  levers: {retention: 2.0}\npaths: {action_catalog: my_catalog.yaml}\n",
                      encoding="utf-8")
    (tmp_path / "my_catalog.yaml").write_text("version: '1'\nactions: []\n", encoding="utf-8")
    assert _run(tmp_path, "1997-10-01", "--config", str(config)) == 2
    assert capsys.readouterr().err == "nba run: my_catalog.yaml: field 'actions' must be a non-empty list\n"
    assert not (tmp_path / "home").exists()


def test_the_assets_read_the_values_of_the_nights_config_file(nightly_home):
    """The fast config's 25 calls a night (the shipped default is 500) is what the decisions asset planned with."""
    import json

    from tests.conftest import query

    (summary,) = query(nightly_home, "SELECT summary FROM decision_summary")[0]
    assert (json.loads(summary)["capacity_calls"], json.loads(summary)["offer_budget"]) == (25, 300.0)


def test_the_printed_export_paths_follow_paths_exports(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: runner.RunOutcome(True, "run-1", ""))
    config = tmp_path / "config.yaml"
    config.write_text("paths: {exports: published/lists}\n", encoding="utf-8")
    assert _run(tmp_path, "1997-10-01", "--config", str(config)) == 0
    out = capsys.readouterr().out
    root = (tmp_path / "home" / "published" / "lists").resolve()
    assert f"  exports: {root / '1997-10-01'}\n" in out and f"  summary: {root / 'run_summary_1997-10-01.md'}\n" in out


def test_nba_explain_reads_the_catalog_the_night_recorded(nightly_home, tmp_path, capsys):
    """A night records its merged config and catalog under HOME/runs/<as-of>/; `nba explain` uses them without
    --config (the issue's KeyError on a custom catalog), and says in one line what to pass when a home predates it."""
    import shutil

    import yaml

    from tests.conftest import AS_OF, query

    recorded = nightly_home / "runs" / AS_OF.isoformat()
    config = yaml.safe_load((recorded / "config.yaml").read_text(encoding="utf-8"))
    assert config["paths"]["action_catalog"] == "catalog.yaml"
    assert config["training"]["max_training_rows_per_cutoff"] == 3000  # the night's --config, merged
    home = tmp_path / "home"
    shutil.copytree(nightly_home, home)
    customer = query(home, "SELECT customer_id FROM next_best_actions WHERE chosen AND action_id = 'retention_offer' "
                           "ORDER BY customer_id LIMIT 1")[0][0]
    catalog = (home / "runs" / AS_OF.isoformat() / "catalog.yaml")
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(
        'en: "Retention offer: 10% off the next order"', 'en: "Recorded retention offer"'), encoding="utf-8")
    assert cli.main(["explain", customer, "--home", str(home)]) == 0
    assert "Recorded retention offer" in capsys.readouterr().out
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("- id: retention_offer", "- id: kept_offer"),
                       encoding="utf-8")  # the night's decisions name an action this catalog lacks
    assert cli.main(["explain", customer, "--home", str(home)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"nba explain: action 'retention_offer' is not in the catalog catalog.yaml; pass the --config the night of "
        f"{AS_OF} ran with"]


def test_a_night_run_in_process_is_a_run_of_the_job_in_the_ui_code_location(nightly_home):
    """`nba run` executes in process; its run carries the origin of `nightly_nba` in workspace.yaml's code location
    (the one nba serve's workspace names the same), so the job page and the Overview timeline list it."""
    import dagster as dg
    import yaml

    from pipelines.jobs import NIGHTLY_JOB
    from pipelines.serve import component_commands

    instance = runner.dagster_instance(nightly_home)
    (run,) = instance.get_runs(dg.RunsFilter(job_name=NIGHTLY_JOB))
    origin = run.remote_job_origin
    assert origin is not None, "the run has no code location: the UI's job page would say it never ran"
    assert (origin.location_name, origin.repository_origin.repository_name, origin.job_name) == (
        "nba", "__repository__", NIGHTLY_JOB)
    assert run.tags[".dagster/repository"] == "__repository__@nba" and run.tags["dagster/partition"] == "2026-11-01"
    assert instance.get_runs(dg.RunsFilter(tags={".dagster/repository": "__repository__@nba"})) == [run]
    served = component_commands("127.0.0.1", 3000)["webserver"]
    workspace = yaml.safe_load(Path(served[served.index("-w") + 1]).read_text(encoding="utf-8"))
    assert workspace["load_from"][0]["python_module"]["location_name"] == origin.location_name


def test_nba_ui_without_landing_gives_ui_launched_runs_the_last_nights_landing_and_no_pop_up(nightly_home, small_world,
                                                                                              monkeypatch, capsys):
    """A backfill launched from the UI failed unless `nba ui` was given --landing; and a first visit showed the
    "Join the Dagster community" dialog."""
    import subprocess

    import yaml

    started = {}

    class FakeDev:
        def __init__(self, command, env, **options):
            started.update(command=command, env=env)

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", FakeDev)
    monkeypatch.setattr(cli.signal, "signal", lambda *a: None)
    assert cli.main(["ui", "--home", str(nightly_home)]) == 0
    assert started["env"]["NBA_LANDING"] == str(small_world.resolve())
    assert str(small_world.resolve()) in capsys.readouterr().out
    assert cli.main(["ui", "--home", str(nightly_home), "--landing", str(nightly_home)]) == 0
    assert started["env"]["NBA_LANDING"] == str(nightly_home.resolve())
    instance = yaml.safe_load((nightly_home / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))
    assert instance["nux"] == {"enabled": False}
