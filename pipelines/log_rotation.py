"""Size-rotated logs for `nba serve`'s components: the `logs:` config section and the copy of a component's output
into HOME/logs/<component>.log, rotated to <component>.log.1 … .N when it reaches its size (the oldest dropped).
nba serve itself copies the output (the components write to a pipe), so rotation needs no logrotate and no
restart, and works the same in a container."""
from __future__ import annotations

import logging
import logging.handlers
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.config_schema import Logs


@dataclass(frozen=True)
class LogRotation:
    """When a component log rotates and how many rotated files are kept besides the current one."""

    max_bytes: int
    keep_files: int


def log_rotation(section: Logs) -> LogRotation:
    """The rotation of the checked `logs:` section (Settings.logs)."""
    return LogRotation(max_bytes=max(int(section.max_megabytes * 1024 * 1024), 1), keep_files=section.keep_files)


def rotating_log(path: Path, rotation: LogRotation) -> logging.Handler:
    """The log file `path` (created now, appended to), rotated at `rotation.max_bytes` keeping `keep_files`."""
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=rotation.max_bytes,
                                                   backupCount=rotation.keep_files, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


def copy_output(stream: BinaryIO, log: logging.Handler) -> None:
    """Append every line read from `stream` to `log` until end of file, then close both. Lines are kept as
    written (undecodable bytes replaced), each flushed at once so a crash loses nothing."""
    try:
        for line in iter(stream.readline, b""):
            log.emit(logging.makeLogRecord({"msg": line.decode("utf-8", "replace").rstrip("\n")}))
    finally:
        log.close()
        stream.close()
