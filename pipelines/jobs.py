"""The nightly job: the whole asset graph (with its checks) for one as-of date."""
import ctypes
import ctypes.util
import functools
import gc
import os

import dagster as dg

NIGHTLY_JOB = "nightly_nba"


# A full collection walks every object the process holds (~0.15 s in a night's process, more in a long test session):
# worth it only when a step may have left big frames behind. Measured: 12 end-to-end test nights (tests/assets/
# test_nightly_run.py, test_opt_outs.py) took 63.1 s collecting after every step, 49.1 s above this threshold, 46.8 s
# never.
COLLECT_ABOVE_BYTES = 1 << 30


def release_freed_memory(collect_above_bytes: int = COLLECT_ABOVE_BYTES) -> bool:
    """Free the objects only reference cycles keep alive (when the process holds more than `collect_above_bytes`),
    then hand the memory the process has freed back to the system (glibc's malloc_trim); False where there is none.

    The night runs every step in one process, and a step's frames can outlive it: measured after the response model's
    step alone at 1,000,000 customers, the process still held 2.96 GB; collecting its reference cycles took it to
    1.22 GB and malloc_trim to 0.61 GB. Every later step stood on that memory (`nba bench --customers 1000000`: the
    exports step peaked at 10.2 GB)."""
    rss = _resident_bytes()
    if rss is None or rss > collect_above_bytes:
        gc.collect()
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, looked up once (find_library runs ldconfig), or None where there is no such function."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim") if name else None
    except (OSError, AttributeError):
        return None


def _resident_bytes() -> int | None:
    """The process's resident memory (Linux /proc), None where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dg.success_hook(name="release_freed_memory")
def release_memory_after_step(_context: dg.HookContext) -> None:
    release_freed_memory()


nightly_job = dg.define_asset_job(
    NIGHTLY_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sharded"),
    # one process, as `nba run` runs it: the assets write one DuckDB file, which takes one writing process at a time
    executor_def=dg.in_process_executor, hooks={release_memory_after_step},
    description="Ingest, validate, resolve, featurise, train (on cadence), score, decide and export for one as-of date.",
)
