"""`nba bench`: memory of a process tree, step summaries, targets, and one smoke run checked against the warehouse."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from demo import bench

STAGES = ["ingest", "validate", "golden", "features", "train", "score", "decide", "export"]


def test_tree_rss_counts_a_grandchild():
    """The sampler must see memory held by a grandchild, not only by the process it started."""
    code = "x = b'\\x01' * 300_000_000; import time; time.sleep(10)"
    shell = subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "{code}" & wait'])
    try:
        deadline, seen = time.time() + 10, 0
        while time.time() < deadline and seen < 300_000_000:
            seen = bench.tree_rss(shell.pid)
            time.sleep(0.1)
        assert seen >= 300_000_000
        parents, rss = bench._proc_table()
        assert rss[shell.pid] < 50_000_000  # the shell itself is small: the memory is its child's
    finally:
        for pid, parent in bench._proc_table()[0].items():
            if parent == shell.pid:
                os.kill(pid, signal.SIGTERM)
        shell.wait()
    assert bench.tree_rss(shell.pid) == 0  # gone


class _FakeSampler:
    def __init__(self, samples):
        self.samples = samples

    peak = bench.TreeSampler.peak


def test_steps_get_stage_rows_throughput_and_their_own_memory_peak():
    steps = [
        {"step": "raw__purchases", "start": 100.0, "end": 102.0, "status": "ok",
         "assets": {"raw/purchases": {"dagster/row_count": 1000}}},
        {"step": "validated__purchases", "start": 102.0, "end": 106.0, "status": "ok",
         "assets": {"validated/purchases": {"dagster/row_count": 990, "rows_in": 1000,
                                            "rows_quarantined": 10}}},
        {"step": "golden_record", "start": 106.0, "end": 107.0, "status": "ok",
         "assets": {"golden/golden_customers": {"dagster/row_count": 5},
                    "golden/purchases": {"dagster/row_count": 990}}},
        {"step": "exports__campaign_lists", "start": 107.0, "end": None, "status": "failed", "assets": {}},
    ]
    sampler = _FakeSampler([(101.0, 10), (103.0, 50), (105.0, 40), (106.5, 20), (108.0, 70)])
    rows = {s["step"]: s for s in bench.summarise_steps(steps, sampler, ended_at=109.0)}
    assert [rows[k]["stage"] for k in rows] == ["ingest", "validate", "golden", "export"]
    assert rows["validated__purchases"]["rows_in"] == 1000 and rows["validated__purchases"]["rows_out"] == 990
    assert rows["validated__purchases"]["rows_per_second"] == pytest.approx(250.0)
    assert rows["golden_record"]["rows_in"] == 990  # what it read: the validated purchases
    assert rows["golden_record"]["rows_out"] == 995
    assert rows["raw__purchases"]["peak_rss_bytes"] == 10
    assert rows["validated__purchases"]["peak_rss_bytes"] == 50
    assert rows["exports__campaign_lists"]["seconds"] == pytest.approx(2.0)  # failed step: until the run ended
    assert rows["exports__campaign_lists"]["peak_rss_bytes"] == 70


def _report(customers, wall, peak_gb=1.0, ratio=2.0, success=True):
    return {"customers": customers, "floor_ratio": ratio,
            "run": {"success": success, "wall_seconds": wall, "peak_rss_bytes": peak_gb * bench.GB}}


def test_targets_are_judged_only_where_they_apply():
    targets = bench.evaluate_targets(_report(1_000_000, 700.0, 5.0, 3.5), _report(100_000, 80.0))
    status = {t["target"]: t["status"] for t in targets}
    assert status == {"100k customers: nightly run <= 90 s": "n/a", "1M customers: nightly run <= 10 min": "missed",
                      "1M customers: peak RSS <= 6 GB": "met", "time(1M) <= 10 x time(100k)": "met",
                      "ingest+validate+features <= 3 x floor": "missed"}
    small = {t["target"]: t for t in bench.evaluate_targets(_report(100_000, 95.0), None)}
    assert small["100k customers: nightly run <= 90 s"]["status"] == "missed"
    assert small["time(1M) <= 10 x time(100k)"]["status"] == "n/a"  # no 1M report to compare with yet
    failed = {t["target"]: t["status"] for t in bench.evaluate_targets(_report(100_000, 10.0, success=False), None)}
    assert failed["100k customers: nightly run <= 90 s"] == "missed"


def test_counterpart_is_the_latest_successful_report_of_the_other_scale(tmp_path):
    for name, customers, started, success in (("a", 100_000, "2026-11-01T01:00:00", True),
                                              ("b", 100_000, "2026-11-02T01:00:00", True),
                                              ("c", 100_000, "2026-11-03T01:00:00", False),
                                              ("d", 1_000_000, "2026-11-04T01:00:00", True)):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"customers": customers, "started_at": started, "run": {"success": success}}), encoding="utf-8")
    path, found = bench.find_counterpart({"customers": 1_000_000}, tmp_path, None)
    assert Path(path).name == "b.json" and found["started_at"] == "2026-11-02T01:00:00"
    assert bench.find_counterpart({"customers": 300}, tmp_path, None) == (None, None)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, fast_config):
    """One `nba bench --customers 300` run (fast training config), kept so the warehouse can be compared."""
    work = tmp_path_factory.mktemp("bench")
    report_path = work / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "--customers", "300", "--out", str(work / "w"), "--keep",
         "--json", str(report_path), "--config", str(fast_config)],
        cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(report_path.read_text(encoding="utf-8")), work / "w" / "home", done.stdout


def test_smoke_report_has_every_stage_with_positive_times(smoke):
    report, _, printed = smoke
    assert list(report["stages"]) == STAGES
    assert report["run"]["success"] and report["run"]["wall_seconds"] > 0 and report["run"]["peak_rss_bytes"] > 0
    for step in report["steps"]:
        assert step["status"] == "ok" and step["seconds"] > 0 and step["peak_rss_bytes"] > 0, step
    assert sum(s["seconds"] for s in report["steps"]) < report["run"]["wall_seconds"]
    assert report["generation"]["wall_seconds"] > 0 and len(report["machine"]["load_average_end"]) == 3
    assert "golden_record" in printed and "targets" in printed


def test_smoke_row_counts_match_the_warehouse(smoke):
    report, home, _ = smoke
    steps = {s["step"]: s for s in report["steps"]}
    con = duckdb.connect(str(home / "warehouse" / "nba.duckdb"), read_only=True)
    try:
        def count(table):
            return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

        for extract in ("customers", "purchases", "interactions"):
            loaded = count(f"quarantine WHERE extract = '{extract}'") + count(f"stg_{extract}")  # raw_ became stg_
            assert steps[f"raw__{extract}"]["rows_out"] == loaded
            assert steps[f"validated__{extract}"]["rows_in"] == loaded
            assert steps[f"validated__{extract}"]["rows_out"] == count(f"stg_{extract}")
            assert report["floor"]["files"][extract]["rows"] == loaded  # the floor read the same files
        golden = sum(count(t) for t in ("golden_customers", "customer_crosswalk", "purchases", "interactions"))
        assert steps["golden_record"]["rows_out"] == golden
        assert steps["features__customer_features"]["rows_out"] == count("customer_features")
        assert steps["scores__customer_scores"]["rows_out"] == count("customer_scores")
        assert steps["decisions__next_best_actions"]["rows_out"] == count("next_best_actions")
    finally:
        con.close()


def test_smoke_floor_ratio_is_positive_and_judged(smoke):
    report, _, _ = smoke
    assert report["floor"]["seconds"] > 0 and report["floor"]["close_seconds_not_counted"] >= 0
    assert report["floor"]["seconds"] == pytest.approx(sum(f["seconds"] for f in report["floor"]["files"].values()))
    # The ratio's numerator is the wall time of the night's own ingest, validation and feature steps.
    stages = ("raw__", "validated__", "features__")
    steps = sum(s["seconds"] for s in report["steps"] if s["step"].startswith(stages))
    assert steps > 0 and report["floor_ratio"] == pytest.approx(steps / report["floor"]["seconds"])
    targets = {t["target"]: t for t in report["targets"]}
    judged = targets["ingest+validate+features <= 3 x floor"]
    assert judged["measured"] == report["floor_ratio"]
    assert judged["status"] == ("met" if report["floor_ratio"] <= 3.0 else "missed")
    assert targets["1M customers: nightly run <= 10 min"]["status"] == "n/a"


def test_bad_config_is_refused_before_generating(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "bench", "--customers", "10", "--out", str(tmp_path),
                           "--config", str(tmp_path / "missing.yaml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "missing.yaml" in done.stderr and not (tmp_path / "landing").exists()
