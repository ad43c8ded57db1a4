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
