"""Sharded mode: the same night computed in 3 customer shards (multiprocess executor, 2 steps at a time)
gives exactly the single-process night's features, scores, decisions and audit."""
import datetime as dt

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tests.conftest import AS_OF

# The single-process run's outputs per customer (table -> order). Dropped before the sharded run, so
# the sharded run must rebuild every one of them, in the right order, or the comparison fails.
COMPARED = {"customer_features": "customer_id", "customer_scores": "customer_id",
            "action_response": "customer_id, action_id", "score_history": "customer_id",
            "next_best_actions": "customer_id, rank", "decision_audit": "customer_id, action_id, channel",
            "customer_reasons": "customer_id"}
STARTED = dg.DagsterEventType.STEP_START


def read_tables(home) -> dict[str, tuple[pd.DataFrame, list]]:
    """table -> (rows in a fixed order, column names and types)."""
    con = duckdb.connect(str(home / "warehouse" / "nba.duckdb"), read_only=True)
    try:
        return {t: (con.execute(f"SELECT * FROM {t} ORDER BY {order}").df(), con.execute(f"DESCRIBE {t}").fetchall())
                for t, order in COMPARED.items()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def sharded_night(tmp_path_factory, fast_config):
    """(single-process tables, sharded tables, sharded run outcome, home) on a 600-person world: the
    nightly job first, then `run_sharded` (inputs job in process, sharded job multiprocess) in the same home."""
    from demo.generator.world import generate_world, write_world
    from pipelines.runner import run_nightly
    from pipelines.sharding import run_sharded

    landing = tmp_path_factory.mktemp("landing600")
    write_world(generate_world(600, 7, dt.date(2023, 11, 1), dt.date(2026, 10, 31)), landing)
    home = tmp_path_factory.mktemp("home600")
    single = run_nightly(home, landing, AS_OF, fast_config)
    assert single.success, single.message
    expected = read_tables(home)
    con = duckdb.connect(str(home / "warehouse" / "nba.duckdb"))
    for table in COMPARED:
        con.execute(f"DROP TABLE {table}")
    con.close()
    outcome = run_sharded(home, landing, AS_OF, fast_config)
    assert outcome.success, outcome.message
    return expected, read_tables(home), outcome, home


def started_steps(instance, run_id: str) -> list[tuple[str, int]]:
    """(step key, process id) of every step start of a run, in order."""
    return [(r.step_key, r.dagster_event.pid) for r in instance.all_logs(run_id, of_type=STARTED)]


def test_sharded_night_equals_single_night_row_for_row(sharded_night):
    expected, actual, _, _ = sharded_night
    for table, (frame, schema) in expected.items():
        got_frame, got_schema = actual[table]
        assert got_schema == schema, table
        assert len(got_frame) == len(frame) > 0, table
        pd.testing.assert_frame_equal(got_frame, frame, check_exact=True, obj=table)
    nba = expected["next_best_actions"][0]
    assert (nba.loc[nba["chosen"], "action_id"] != "no_action").sum() > 10  # real decisions were compared


def test_every_customer_is_in_exactly_its_own_shard(sharded_night):
    from assets.sharded import N_SHARDS
    from models.sharding import shard_file, shard_of

    _, actual, _, home = sharded_night
    seen: list[str] = []
    for k in range(N_SHARDS):
        ids = duckdb.sql(f"SELECT customer_id FROM read_parquet('{shard_file(home, AS_OF, 'customer_features', k)}')").df()
        assert len(ids) > 0 and all(shard_of(i, N_SHARDS) == k for i in ids["customer_id"])
        seen += list(ids["customer_id"])
    assert sorted(seen) == sorted(actual["customer_features"][0]["customer_id"])


def test_shards_ran_in_their_own_processes_between_the_single_process_steps(sharded_night):
    from pipelines.runner import dagster_instance
    from assets.sharded import N_SHARDS, SHARD_INPUTS_JOB
    from pipelines.sharding import SHARDED_JOB

    _, _, outcome, home = sharded_night
    instance = dagster_instance(home)
    run = instance.get_run_by_id(outcome.run_id)
    assert run.job_name == SHARDED_JOB and run.tags["dagster/partition"] == AS_OF.isoformat()
    started = started_steps(instance, outcome.run_id)
    order = [step for step, _ in started]
    shard_steps = [f"sharded__shard_{k}__{name}" for k in range(N_SHARDS) for name in ("customer_features", "customer_scores")]
    assert set(shard_steps) <= set(order)
    assert not {"features__customer_features", "scores__customer_scores", "golden_record"} & set(order)
    assert max(order.index(s) for s in shard_steps) < order.index("combine_shards") < order.index("decisions__next_best_actions")
    assert order.index("decisions__next_best_actions") < order.index("exports__campaign_lists")
    run_pid = next(r.dagster_event.pid for r in instance.all_logs(outcome.run_id, of_type=dg.DagsterEventType.RUN_START))
    shard_pids = {pid for step, pid in started if step in shard_steps}
    assert len(shard_pids) == len(shard_steps) and run_pid not in shard_pids  # one process per step

    inputs_run = instance.get_runs(dg.RunsFilter(job_name=SHARD_INPUTS_JOB))[0]
    inputs = [step for step, _ in started_steps(instance, inputs_run.run_id)]
    assert "features__customer_features" not in inputs
    assert max(inputs.index(f"raw__{e}") for e in ("customers", "purchases", "interactions")) < inputs.index("golden_record")
    assert all(inputs.index("golden_record") < inputs.index(f"models__{m}_model") for m in ("churn", "upsell", "clv", "response"))


def test_sensor_starts_the_shards_when_the_inputs_succeed(sharded_night):
    from pipelines.runner import dagster_instance
    from assets.sharded import SHARD_INPUTS_JOB
    from pipelines.sharding import shards_after_inputs

    instance = dagster_instance(sharded_night[3])
    inputs_run = instance.get_runs(dg.RunsFilter(job_name=SHARD_INPUTS_JOB))[0]
    success = instance.all_logs(inputs_run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)[0].dagster_event
    context = dg.build_run_status_sensor_context(sensor_name="shards_after_inputs", dagster_event=success,
                                                 dagster_instance=instance, dagster_run=inputs_run)
    request = shards_after_inputs(context)
    assert request.partition_key == AS_OF.isoformat() and inputs_run.run_id in request.run_key


def test_every_run_of_the_night_is_listed_under_its_job_in_the_nba_code_location(sharded_night):
    """The single-process night and both sharded runs carry their job's origin in the UI's code location."""
    import dagster as dg

    from pipelines.runner import dagster_instance

    *_, home = sharded_night
    runs = dagster_instance(home).get_runs(dg.RunsFilter(tags={"dagster/partition": AS_OF.isoformat()}))
    assert sorted(r.job_name for r in runs) == ["nightly_nba", "nightly_nba_shard_inputs", "nightly_nba_sharded"]
    for run in runs:
        origin = run.remote_job_origin
        assert origin is not None and (origin.location_name, origin.job_name) == ("nba", run.job_name), run.job_name
        assert run.tags[".dagster/repository"] == "__repository__@nba"
