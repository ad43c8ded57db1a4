"""The nightly job hands memory a step freed back to the system (pipelines/jobs.release_freed_memory)."""
import ctypes.util
import subprocess
import sys
import textwrap

import pytest

from pipelines.jobs import nightly_job, release_memory_after_step


def test_every_step_of_the_nightly_job_releases_freed_memory_after_it_succeeds():
    assert release_memory_after_step in nightly_job.hooks


@pytest.mark.skipif(not ctypes.util.find_library("c") or sys.platform != "linux", reason="glibc's malloc_trim only")
def test_memory_freed_between_live_blocks_goes_back_to_the_system():
    """Blocks of 4 MB from the heap (as glibc serves a step's columns once it has raised its mmap threshold), each
    followed by a small block that stays alive (as a step's results and logs do), are freed: the holes stay in the
    process until release_freed_memory. In a fresh process, so the heap is its own."""
    script = textwrap.dedent("""
        import ctypes, ctypes.util
        from pipelines.jobs import release_freed_memory

        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
        libc.mallopt(-3, 16 << 20)  # M_MMAP_THRESHOLD: blocks under 16 MB come from the heap

        def rss_mb():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024

        blocks, live = [], []
        for _ in range(100):  # 400 MB in use
            blocks.append(libc.malloc(4 << 20))
            ctypes.memset(blocks[-1], 1, 4 << 20)
            live.append(libc.malloc(256 << 10))  # too large for the small holes the imports left: it follows the block
            ctypes.memset(live[-1], 1, 256 << 10)
        for block in blocks:
            libc.free(block)
        before = rss_mb()
        released = release_freed_memory()
        print(released, before, rss_mb())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    released, before, after = out[0] == "True", float(out[1]), float(out[2])
    assert released
    assert before - after > 300, (before, after)  # of the 400 MB freed


def test_frames_only_a_reference_cycle_keeps_alive_are_freed():
    """A step's frame caught in a reference cycle outlives the step until the collector's oldest generation runs
    (rarely, in a process holding as many objects as a night's); release_freed_memory collects it."""
    script = textwrap.dedent("""
        import gc
        import numpy as np
        from pipelines.jobs import release_freed_memory

        def rss_mb():
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024

        gc.disable()  # as if the collector's oldest generation did not run before the next step
        step = {"frame": np.ones(50_000_000)}  # 400 MB
        step["self"] = step
        del step
        before = rss_mb()
        release_freed_memory(collect_above_bytes=0)
        print(before, rss_mb())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    before, after = float(out[0]), float(out[1])
    assert before - after > 300, (before, after)  # of the 400 MB


def test_a_small_process_is_not_walked_for_cycles():
    """Below the threshold a full collection would cost more than it could give back: none runs."""
    script = textwrap.dedent("""
        import gc
        from pipelines.jobs import release_freed_memory

        gc.disable()
        full = []
        gc.callbacks.append(lambda phase, info: full.append(info["generation"]) if phase == "start" else None)
        release_freed_memory(collect_above_bytes=1 << 40)
        small = len(full)
        release_freed_memory(collect_above_bytes=0)
        print(small, len(full))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert (int(out[0]), int(out[1])) == (0, 1)
