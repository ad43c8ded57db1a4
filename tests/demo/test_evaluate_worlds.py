"""nba evaluate-worlds refuses a folder that already holds a world's home (its models would score the night)."""
import argparse

import pytest

from demo.evaluate_worlds import cmd_evaluate_worlds


def test_an_old_home_under_out_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "lifecycle-300-5" / "home").mkdir(parents=True)
    args = argparse.Namespace(worlds=["conversion", "lifecycle"], customers=[300], seeds=[5], out=str(tmp_path),
                              keep=True)
    with pytest.raises(SystemExit, match=r"lifecycle-300-5/home exists; give a new --out folder"):
        cmd_evaluate_worlds(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lifecycle-300-5"]  # nothing generated, nothing run
