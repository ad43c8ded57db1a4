"""`nba serve`: the production way to run the nights on one machine — Dagster's webserver and daemon (not
`dagster dev`) on HOME's persistent instance, loading pipelines/served.py (the schedule, landing sensor and
failure alerts as the config file says), one size-rotated log per component under HOME/logs/, a clean stop on
SIGTERM."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipelines.log_rotation import LogRotation, copy_output, log_rotation, rotating_log

CODE_LOCATION = ["-w", str(Path(__file__).resolve().with_name("served_workspace.yaml"))]
STOP_SECONDS = 30
LOG_TAIL_SECONDS = 5


class Component(subprocess.Popen):
    """A component process whose output a thread copies into its rotating log."""

    def copy_output_to(self, path: Path, rotation: LogRotation) -> None:
        self.copier = threading.Thread(target=copy_output, args=(self.stdout, rotating_log(path, rotation)),
                                       daemon=True, name=f"log {path.name}")
        self.copier.start()

    def finish_log(self, timeout: float = LOG_TAIL_SECONDS) -> None:
        """Wait for the last lines; the pipe stays open while something the component started still writes."""
        self.copier.join(timeout)


def component_commands(host: str, port: int) -> dict[str, list[str]]:
    """The two long-running components and their command lines (the scripts of this environment)."""
    return {"webserver": [_script("dagster-webserver"), "-h", host, "-p", str(port), *CODE_LOCATION],
            "daemon": [_script("dagster-daemon"), "run", *CODE_LOCATION]}


def _script(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def serve_environment(home: Path, landing: Path, config: Path | None, ui_url: str) -> dict:
    """`nba ui`'s environment (instance, resources) plus the UI address the alerts link to."""
    from pipelines.cli import ui_environment

    env = ui_environment(home, str(landing), str(config or ""))
    env["NBA_UI_URL"] = ui_url
    return env


def _restore_default_sigint() -> None:
    """In the child: a shell that started us in the background left SIGINT ignored, and Dagster mirrors that onto
    SIGTERM (docs: STACK_NOTES), in the child or already in this process (an in-process Dagster run does it, and an
    ignored signal survives exec); with both defaults back, SIGTERM stops the component."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_components(commands: dict[str, list[str]], env: dict, logs: Path, cwd: Path,
                     rotation: LogRotation) -> dict[str, Component]:
    """Start every component, each in its own process group (it and the code servers and runs it starts), with
    its output appended to logs/<component>.log, rotated as `rotation` says."""
    logs.mkdir(parents=True, exist_ok=True)
    started = {}
    for name, command in commands.items():
        started[name] = Component(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, restore_signals=True, start_new_session=True,
                                  preexec_fn=_restore_default_sigint)
        started[name].copy_output_to(logs / f"{name}.log", rotation)
    return started


def stop_components(procs: dict[str, Component], timeout: float = STOP_SECONDS) -> dict[str, int]:
    """SIGTERM every component, wait for it, then for what it started in its group (code servers otherwise
    linger until their heartbeat times out); SIGKILL what is left after `timeout`. The components' exit codes."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    codes = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = proc.wait()
            print(f"nba serve: {name} did not stop within {timeout:.0f} s and was killed", file=sys.stderr, flush=True)
        _stop_group(proc.pid, deadline)
        proc.finish_log()
    return codes


def _stop_group(pgid: int, deadline: float) -> None:
    """SIGTERM the processes left in a component's group; SIGKILL them if any still runs at `deadline`."""
    if not _signal_group(pgid, signal.SIGTERM):
        return
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if not _group_running(pgid):
            return
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs. Exited orphans stay in the group as zombies until PID 1 reaps
    them, which a container's PID 1 may never do: on Linux, /proc tells them apart."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return _signal_group(pgid, 0)
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # gone meanwhile
            if int(fields[2]) == pgid and fields[0] != "Z":  # fields after "(comm)": state, ppid, pgrp
                return True
    return False


def serve(home: Path, landing: Path, config: Path | None, host: str, port: int, rotation: LogRotation) -> int:
    """Run the webserver and the daemon until SIGTERM / SIGINT (0) or until one of them exits (1)."""
    from pipelines.runner import dagster_instance

    dagster_instance(home).dispose()  # writes HOME/dagster/dagster.yaml on a new home
    ui_url = f"http://{host}:{port}"
    logs = home / "logs"
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs: dict[str, Component] = {}
    failed = None
    try:
        procs = start_components(component_commands(host, port), serve_environment(home, landing, config, ui_url),
                                 logs, cwd=home, rotation=rotation)
        print(f"nba serve: Dagster UI on {ui_url}, daemon running; home {home}, landing {landing}, "
              f"config {config or 'shipped defaults'}; logs in {logs}/ (SIGTERM or Ctrl-C stops it)", flush=True)
        while not stop.wait(0.5):
            failed = next((name for name, proc in procs.items() if proc.poll() is not None), None)
            if failed:
                print(f"nba serve: {failed} exited with code {procs[failed].returncode} (see {logs / failed}.log); "
                      "stopping", file=sys.stderr, flush=True)
                break
    finally:
        codes = stop_components(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"nba serve: stopped ({', '.join(f'{name} {code}' for name, code in codes.items())})", flush=True)
    return 1 if failed else 0


def cmd_serve(args) -> int:
    """Check the flags and the config at the edge, then serve."""
    from pipelines.definitions import build_definitions
    from pipelines.settings import ConfigError, load_settings

    landing = Path(args.landing).expanduser().resolve()
    if not landing.is_dir():
        print(f"nba serve: landing folder {landing} does not exist", file=sys.stderr)
        return 2
    config = Path(args.config).expanduser().resolve() if args.config else None
    try:
        settings = load_settings(config)
        build_definitions(settings)  # the schedule, sensors and alerts the daemon will load
        rotation = log_rotation(settings.logs)
    except ConfigError as exc:
        print(f"nba serve: {exc}", file=sys.stderr)
        return 2
    home = Path(args.home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return serve(home, landing, config, args.host, args.port, rotation)


def add_command(sub: argparse._SubParsersAction) -> None:
    serve_parser = sub.add_parser("serve", help="run the nights unattended: Dagster webserver + daemon on a home")
    serve_parser.add_argument("--home", required=True, help="folder for the warehouse, MLflow store, exports, "
                                                            "Dagster instance and logs")
    serve_parser.add_argument("--landing", required=True, help="landing root with one <YYYY-MM-DD>/ folder per night")
    serve_parser.add_argument("--config", help="YAML file overriding keys of pipelines/config/default.yaml "
                                               "(schedule, sensor and alerts too)")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address of the UI (default: loopback only)")
    serve_parser.add_argument("--port", type=int, default=3000)
    serve_parser.set_defaults(func=cmd_serve)
