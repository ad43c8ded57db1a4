"""`nba serve`'s edges without starting Dagster: flags and config checked before anything starts, and the stop
that leaves nothing behind (a component's own children included)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines import cli, settings
from pipelines.log_rotation import LogRotation, log_rotation
from pipelines.serve import start_components, stop_components

ROOMY = LogRotation(max_bytes=1024 * 1024, keep_files=2)

GRANDPARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_missing_landing_folder_or_a_bad_cron_stops_nba_serve_before_it_starts(tmp_path, capsys):
    home = tmp_path / "home"
    assert cli.main(["serve", "--home", str(home), "--landing", str(tmp_path / "nowhere")]) == 2
    assert f"landing folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    config = tmp_path / "nba.yaml"
    config.write_text('schedule: {cron: "30 25 * * *"}\n', encoding="utf-8")
    assert cli.main(["serve", "--home", str(home), "--landing", str(tmp_path), "--config", str(config)]) == 2
    assert "schedule.cron '30 25 * * *' is not a valid cron expression" in capsys.readouterr().err
    assert not home.exists()


@pytest.mark.parametrize("inherited_sigterm", [signal.SIG_DFL, signal.SIG_IGN])
def test_stopping_a_component_also_stops_what_it_started(tmp_path, inherited_sigterm):
    """Also when this process ignores SIGTERM (an ignored signal survives exec: in the full suite an earlier
    in-process Dagster run left it so, and the component was SIGKILLed instead of stopping on its SIGTERM)."""
    previous = signal.signal(signal.SIGTERM, inherited_sigterm)
    try:
        _stop_a_component(tmp_path)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_a_component(tmp_path):
    procs = start_components({"component": [sys.executable, "-c", GRANDPARENT]}, dict(os.environ), tmp_path / "logs",
                             cwd=tmp_path, rotation=ROOMY)
    log = tmp_path / "logs" / "component.log"
    deadline = time.monotonic() + 30
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = int(log.read_text().split()[0])
    started = time.monotonic()
    # the grandchild ignores SIGTERM: it is killed at the deadline (8 s: room for a loaded machine)
    codes = stop_components(procs, timeout=8)
    assert codes == {"component": -15}
    assert time.monotonic() - started < 20
    time.sleep(0.5)  # let init reap it
    assert not _alive(grandchild)


CHATTY = """
import sys
for i in range(400):
    print(f"line {i:04d} " + "x" * 90, flush=True)
print("last line", flush=True)
"""


def test_a_component_log_rotates_at_its_size_and_keeps_n_files(tmp_path):
    logs = tmp_path / "logs"
    procs = start_components({"chatty": [sys.executable, "-c", CHATTY]}, dict(os.environ), logs, cwd=tmp_path,
                             rotation=LogRotation(max_bytes=10_000, keep_files=2))
    procs["chatty"].wait(timeout=30)
    stop_components(procs, timeout=5)  # the exited component's output is copied to the end
    assert sorted(p.name for p in logs.iterdir()) == ["chatty.log", "chatty.log.1", "chatty.log.2"]
    assert all(p.stat().st_size <= 10_000 for p in logs.iterdir())
    newest, previous, oldest = ((logs / name).read_text().splitlines() for name in
                                ("chatty.log", "chatty.log.1", "chatty.log.2"))
    assert newest[-1] == "last line"
    assert previous[-1][:9] == f"line {int(newest[0][5:9]) - 1:04d}"  # .1 ends where the current log starts
    assert oldest[-1][:9] == f"line {int(previous[0][5:9]) - 1:04d}"
    assert int(oldest[0][5:9]) > 0  # ~40 kB written, 3 files of 10 kB kept: the oldest lines were dropped


@pytest.mark.parametrize("override, message", [
    ("logs: {max_megabytes: 0}", "logs.max_megabytes '0' must be a number of megabytes above 0"),
    ("logs: {keep_files: 0}", "logs.keep_files '0' must be a whole number >= 1"),
])
def test_a_wrong_log_setting_is_named(tmp_path, override, message):
    path = tmp_path / "nba.yaml"
    path.write_text(override + "\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=message):
        log_rotation(settings.load_settings(path).logs)


def test_shipped_log_rotation():
    assert log_rotation(settings.load_settings().logs) == LogRotation(max_bytes=50 * 1024 * 1024, keep_files=5)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
