"""`nba run` at its edge: an as-of date outside the partitions is refused in one line before anything runs, and
the paths printed after a night are those the config gives (`paths.exports`)."""
import datetime as dt

from pipelines import cli, runner


def _run(tmp_path, as_of: str, *extra: str) -> int:
    (tmp_path / "landing").mkdir(exist_ok=True)
    return cli.main(["run", "--landing", str(tmp_path / "landing"), "--as-of", as_of, "--home", str(tmp_path / "home"),
                     *extra])


def test_an_as_of_date_outside_the_partitions_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "run_nightly", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    for as_of in ("1969-12-31", tomorrow.isoformat()):
        assert _run(tmp_path, as_of) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines == [f"nba run: as-of date {as_of} is outside the nightly partitions 1970-01-01 .. "
                         f"{lines[0].split(' .. ')[1].split(' ')[0]} (a night decides on events before its as-of "
                         "date, which cannot be after today)"]
    assert not (tmp_path / "home").exists()


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
