"""Shared fixtures: one small generated world and one nightly run on it, reused by the asset tests."""
import datetime as dt
from pathlib import Path

import duckdb
import pytest

AS_OF = dt.date(2026, 11, 1)
FAST_CONFIG = """
training:
  n_cutoffs: 3
  max_training_rows_per_cutoff: 3000
  xgboost_params: {num_boost_round: 40}
decisions:
  capacity_calls_per_night: 25
  offer_budget_per_night: 300.0
"""


@pytest.fixture(scope="session")
def small_world(tmp_path_factory) -> Path:
    """A 1,200-person generated landing folder (deterministic)."""
    from demo.generator.world import generate_world, write_world

    out = tmp_path_factory.mktemp("landing")
    write_world(generate_world(1200, 11, dt.date(2023, 11, 1), dt.date(2026, 10, 31)), out)
    return out


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fast.yaml"
    path.write_text(FAST_CONFIG, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def nightly_home(tmp_path_factory, small_world, fast_config) -> Path:
    """HOME after one successful nightly run on the small world (through Dagster, in process)."""
    from pipelines.runner import run_nightly

    home = tmp_path_factory.mktemp("home")
    outcome = run_nightly(home, small_world, AS_OF, fast_config)
    assert outcome.success, outcome.message
    return home


def query(home: Path, sql: str):
    """Rows of a read-only query on HOME's warehouse."""
    con = duckdb.connect(str(home / "warehouse" / "nba.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus):
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config):
    """Leave right after pytest's summary with pytest's own exit status.

    At interpreter teardown DuckDB 2.0's nanobind bindings print pages of "leaked function" notices
    once Great Expectations' SQL engine has touched a connection; they are not test results and
    would bury the summary line CI reads.
    """
    import os
    import sys

    if _exit_status and os.environ.get("NBA_PYTEST_CLEAN_TEARDOWN", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
