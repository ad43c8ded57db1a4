"""Nothing lost, nothing leaked: `nba run` killed with SIGKILL during ingest, training or export leaves the
published export set exactly as it was, shows consumers no half-written set, and the next run converges to
the uninterrupted result. Every test starts from a private copy of one good night (helpers.good_night)."""
import os
import shutil

import pytest

from tests.pipelines.helpers import (AS_OF, NbaRun, assert_champions_trained_for, assert_complete_set, copy_home,
                                     export_differences, good_night, hidden_entries, run_in_process, visible_exports)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    return good_night(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(night):
    """The uninterrupted night's published set: what every recovered run must reproduce."""
    return assert_complete_set(night.exports, AS_OF)


def rerun_and_compare(home, night, reference) -> None:
    """Run the night again, untouched: it must publish a complete set equal to the uninterrupted one
    and clear every leftover of the killed run."""
    outcome = run_in_process(home, night)
    assert outcome.success, outcome.message
    published = assert_complete_set(home / "exports", AS_OF)
    differences = export_differences(reference, published)
    assert not differences, "the recovered set differs from the uninterrupted one:\n" + "\n".join(differences)
    assert hidden_entries(home / "exports") == [published.name]


def test_kill_during_ingest_keeps_the_published_set_and_the_rerun_converges(night, reference, tmp_path):
    home = copy_home(night, tmp_path)
    before = visible_exports(home / "exports")
    with NbaRun(home, night) as run:
        run.kill_when(run.step_started("raw__purchases"))  # raw_customers and raw_interactions already replaced
    assert "  ok     raw__customers" in run.stderr
    assert visible_exports(home / "exports") == before
    rerun_and_compare(home, night, reference)


def test_kill_during_training_keeps_the_published_set_and_the_rerun_converges(night, reference, tmp_path):
    """The model store is lost after a good night, so the next run retrains (as the first night did); it is killed
    with churn trained and promoted and clv starting. The rerun reuses churn, trains the rest, and scores and
    exports exactly what the first night did: never lists from an untrained model."""
    home = copy_home(night, tmp_path)
    shutil.rmtree(home / "mlflow")
    before = visible_exports(home / "exports")
    with NbaRun(home, night) as run:
        run.kill_when(run.step_started("models__clv_model"))
    assert "  ok     models__churn_model" in run.stderr
    assert visible_exports(home / "exports") == before
    rerun_and_compare(home, night, reference)  # includes manifest model_versions: no orphaned candidate versions
    assert_champions_trained_for(home, AS_OF)


def test_kill_during_export_keeps_the_published_set_and_the_rerun_converges(night, reference, tmp_path):
    home = copy_home(night, tmp_path)
    root = home / "exports"
    before, published = visible_exports(root), hidden_entries(root)
    with NbaRun(home, night) as run:
        export_started = run.step_started("exports__campaign_lists")
        run.kill_when(lambda: export_started() and hidden_entries(root) != published)  # the new hidden version exists
    leftovers = set(hidden_entries(root)) - set(published)
    assert any(name.startswith(f".{AS_OF.isoformat()}.v") for name in leftovers), leftovers
    if os.readlink(root / AS_OF.isoformat()) == published[0]:
        assert visible_exports(root) == before  # consumers still see the old set, every byte of it
    else:  # the poll was descheduled past the (0.3 s) write: the kill came after the one-rename publish
        assert_complete_set(root, AS_OF)
    rerun_and_compare(home, night, reference)
