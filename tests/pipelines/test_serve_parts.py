"""`nba serve`'s edges without starting Dagster: flags and config checked before anything starts, and the stop
that leaves nothing behind (a component's own children included)."""
import os
import subprocess
import sys
import time

from pipelines import cli
from pipelines.serve import start_components, stop_components

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


def test_stopping_a_component_also_stops_what_it_started(tmp_path):
    procs = start_components({"component": [sys.executable, "-c", GRANDPARENT]}, dict(os.environ), tmp_path / "logs",
                             cwd=tmp_path)
    log = tmp_path / "logs" / "component.log"
    deadline = time.monotonic() + 30
    while not log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = int(log.read_text().split()[0])
    started = time.monotonic()
    codes = stop_components(procs, timeout=3)  # the grandchild ignores SIGTERM: it is killed at the deadline
    assert codes == {"component": -15}
    assert time.monotonic() - started < 10
    time.sleep(0.5)  # let init reap it
    assert not _alive(grandchild)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
