"""End to end: `nba serve` (Dagster webserver + daemon on a persistent instance) runs a night from the landing
sensor and publishes its lists; a night with a broken extract sends exactly one alert, to a local webhook receiver
and a local SMTP server; SIGTERM stops every process it started."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.runner import dagster_instance
from pipelines.sensors import FAILURE_SENSOR, HOUSEKEEPING_SENSOR, READY_MARKER
from tests.conftest import FAST_CONFIG
from tests.pipelines.helpers import assert_complete_set, write_without_column
from tests.pipelines.receivers import free_port, smtp_receiver, webhook_receiver

pytestmark = pytest.mark.slow

GOOD, BROKEN = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
WAIT_SECONDS = 420     # a 300-customer night takes ~50 s with start-up on an idle machine; far longer on busy cores
QUIET_SECONDS = 8      # after the alert: several evaluations of the failure sensor that must send nothing more
STOP_SECONDS = 60


def landing_night(root: Path, as_of: dt.date) -> Path:
    folder = root / as_of.isoformat()
    assert cli.main(["generate", "--customers", "300", "--seed", "5", "--out", str(folder),
                     "--end", str(as_of - dt.timedelta(days=1))]) == 0
    shutil.rmtree(folder / "truth")  # the generator's truth is never in a landing folder
    return folder


def serve_config(path: Path, smtp_port: int) -> Path:
    path.write_text(FAST_CONFIG + f"""
sensor: {{minimum_interval_seconds: 2}}
alerts:
  webhook_url_env: NBA_TEST_WEBHOOK_URL
  smtp: {{host: 127.0.0.1, port: {smtp_port}, from: nba@example.org, to: [ops@example.org], starttls: false}}
  minimum_interval_seconds: 2
""", encoding="utf-8")
    return path


def processes_of(home: Path) -> list[int]:
    """Ids of the processes running for HOME (their environment names it): nba serve's components and what they
    started (code servers, runs)."""
    marker = f"NBA_HOME={home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
    return found


def wait_for(what: str, condition, serve: subprocess.Popen, log: Path, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            pytest.fail(f"nba serve exited with {serve.returncode} while waiting for {what}:\n{log.read_text()[-3000:]}")
        value = condition()
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout:.0f} s; nba serve said:\n{log.read_text()[-3000:]}")


def runs_for(home: Path, as_of: dt.date, status: str) -> list:
    with dagster_instance(home) as instance:
        return [run for run in instance.get_runs() if run.tags.get("dagster/partition") == as_of.isoformat()
                and run.status.value == status]


def test_nba_serve_runs_the_landed_night_alerts_once_on_a_broken_one_and_stops_on_sigterm(tmp_path):
    landing, home, log = tmp_path / "landing", tmp_path / "home", tmp_path / "serve.log"
    good = landing_night(landing, GOOD)
    (good / READY_MARKER).touch()
    port = free_port()
    serve = None
    with webhook_receiver() as (webhook_url, posts), smtp_receiver() as (smtp_port, mails):
        config = serve_config(tmp_path / "nba.yaml", smtp_port)
        env = {**os.environ, "NBA_TEST_WEBHOOK_URL": webhook_url}
        command = [str(Path(sys.executable).with_name("nba")), "serve", "--home", str(home), "--landing", str(landing),
                   "--config", str(config), "--port", str(port)]
        try:
            with open(log, "wb") as out:
                serve = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

            # night one: the sensor starts it, it succeeds and publishes that night's lists
            succeeded = wait_for("successful run of 2026-11-01", lambda: runs_for(home, GOOD, "SUCCESS"), serve, log)
            assert [run.tags.get("dagster/sensor_name") for run in succeeded] == ["landing_sensor"]
            assert succeeded[0].job_name == "nightly_nba"
            published = assert_complete_set(home / "exports", GOOD)
            assert any(name.endswith(".csv") for name in os.listdir(published))
            info = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=10).read())
            assert "dagster_webserver_version" in info  # the UI answers on loopback
            assert posts == [] and mails == []

            # night two: purchases.csv without its amount column fails the run; one alert on each channel
            broken = landing / BROKEN.isoformat()
            broken.mkdir()
            for name in ("customers.csv", "interactions.csv"):
                shutil.copy(good / name, broken / name)
            write_without_column(good / "purchases.csv", broken / "purchases.csv", "amount")
            (broken / READY_MARKER).touch()
            failed = wait_for("failed run of 2026-11-02", lambda: runs_for(home, BROKEN, "FAILURE"), serve, log)
            wait_for("alert", lambda: posts and mails, serve, log, timeout=120)
            time.sleep(QUIET_SECONDS)
            assert len(failed) == 1 and len(posts) == 1 and len(mails) == 1, (posts, [m["Subject"] for m in mails])
            text = posts[0]["text"]
            assert text.startswith("NBA night 2026-11-02 FAILED (nightly_nba): step 'raw__purchases' failed: "
                                   "purchases.csv: required column 'amount' of the purchases extract is missing"), text
            assert text.endswith(f"Run: http://127.0.0.1:{port}/runs/{failed[0].run_id}"), text
            assert mails[0]["Subject"] == "NBA night 2026-11-02 FAILED (nightly_nba)"
            assert mails[0].get_content().strip() == text
            assert not (home / "exports" / BROKEN.isoformat()).exists()
            with dagster_instance(home) as instance:  # housekeeping after night one evaluated without an error
                state = next(s for s in instance.all_instigator_state() if s.name == HOUSEKEEPING_SENSOR)
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
                assert ticks and [t.status.value for t in ticks if t.status.value == "FAILURE"] == [], \
                    [t.error for t in ticks]
            assert assert_complete_set(home / "exports", GOOD) == published  # night one's lists stay published

            # SIGTERM: both components stop, and nothing they started is left running
            assert processes_of(home), "no process of nba serve found (the check below would prove nothing)"
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=STOP_SECONDS) == 0, log.read_text()[-3000:]
            assert "stopped (webserver 0, daemon 0)" in log.read_text()
            assert processes_of(home) == []
            with dagster_instance(home) as instance:  # the instance under HOME keeps both nights' runs and ticks
                assert len(instance.get_runs()) == 2
                assert any(s.name == FAILURE_SENSOR for s in instance.all_instigator_state())
        finally:
            if serve is not None and serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
            for pid in processes_of(home):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert (home / "logs" / "webserver.log").stat().st_size > 0 and (home / "logs" / "daemon.log").stat().st_size > 0
