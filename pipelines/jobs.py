"""The nightly job: the whole asset graph (with its checks) for one as-of date."""
import ctypes
import ctypes.util
import gc

import dagster as dg

NIGHTLY_JOB = "nightly_nba"


def release_freed_memory() -> bool:
    """Free the objects only reference cycles keep alive, then hand the memory the process has freed back to the system
    (glibc's malloc_trim); False where there is no malloc_trim.

    The night runs every step in one process, and a step's frames can outlive it: measured after the response model's
    step alone at 1,000,000 customers, the process still held 2.96 GB; collecting its reference cycles took it to
    1.22 GB and malloc_trim to 0.61 GB. Every later step stood on that memory (`nba bench --customers 1000000`: the
    exports step peaked at 10.2 GB)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    try:
        trim = getattr(ctypes.CDLL(name), "malloc_trim") if name else None
    except OSError:
        trim = None
    return bool(trim(0)) if trim is not None else False


@dg.success_hook(name="release_freed_memory")
def release_memory_after_step(_context: dg.HookContext) -> None:
    release_freed_memory()


nightly_job = dg.define_asset_job(
    NIGHTLY_JOB, selection=dg.AssetSelection.all() - dg.AssetSelection.groups("sharded"),
    # one process, as `nba run` runs it: the assets write one DuckDB file, which takes one writing process at a time
    executor_def=dg.in_process_executor, hooks={release_memory_after_step},
    description="Ingest, validate, resolve, featurise, train (on cadence), score, decide and export for one as-of date.",
)
