"""One nightly run per HOME at a time: a second run refuses at once instead of corrupting the warehouse."""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import Iterator


class HomeBusyError(RuntimeError):
    """Another run holds this HOME."""


@contextlib.contextmanager
def home_lock(home: Path, purpose: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on HOME for the duration of a run (released on crash by the OS)."""
    home.mkdir(parents=True, exist_ok=True)
    lock_path = home / ".nba.lock"
    handle = open(lock_path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise HomeBusyError(
                f"{home}: another nba run is using this home ({holder}); refusing to start a second one"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "purpose": purpose,
                                 "started": dt.datetime.now().isoformat(timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()
