"""The deployment files stay true to the code: the Dockerfile passes hadolint, and the commands the compose file and
the systemd unit start are ones `nba serve` accepts. (No container runtime here: the image is not built.)"""
import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from pipelines.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).with_name("hadolint")
    done = subprocess.run([str(hadolint), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_nba_serve_as_a_non_root_user_on_a_home_volume():
    lines = [line.split(maxsplit=1) for line in (DEPLOY / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.startswith("#") and not line.startswith(" ")]
    final_stage = lines[max(i for i, (word, _) in enumerate(lines) if word == "FROM"):]
    instructions = {word: rest for word, rest in final_stage}
    assert instructions["USER"] not in ("root", "0", "0:0")
    assert instructions["VOLUME"] == '["/srv/nba"]'
    assert instructions["ENTRYPOINT"] == '["nba", "serve"]'
    assert "uv sync --frozen" in (DEPLOY / "Dockerfile").read_text()


def serve_args(argv: list[str]):
    return build_parser().parse_args(["serve", *argv])


def test_compose_starts_nba_serve_with_flags_it_accepts_and_publishes_on_loopback():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    nba = compose["services"]["nba"]
    args = serve_args(nba["command"])
    assert (args.home, args.landing, args.config) == ("/srv/nba", "/landing", "/etc/nba/nba.yaml")
    assert all(port.startswith("127.0.0.1:") for service in compose["services"].values() for port in service["ports"])
    assert "nba-home:/srv/nba" in compose["services"]["mlflow"]["volumes"]


def test_the_systemd_unit_starts_nba_serve_and_stops_it_with_sigterm():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string((DEPLOY / "nba.service").read_text())
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[:2] == ["/opt/nba-pipeline/.venv/bin/nba", "serve"]
    assert serve_args(command[2:]).home == "/srv/nba"
    assert (service["KillMode"], service["KillSignal"], service["User"]) == ("mixed", "SIGTERM", "nba")
