"""`nba evaluate` on a real night: the table, the JSON next to it, and the plan valued from the warehouse."""
from __future__ import annotations

import json

import pandas as pd

from demo.generator.world import load_default_catalog
from pipelines.cli import main
from tests.conftest import AS_OF, query


def test_evaluate_values_last_nights_contacts_on_the_truth_and_writes_json(nightly_home, small_world, fast_config,
                                                                           capsys):
    code = main(["evaluate", "--home", str(nightly_home), "--truth", str(small_world / "truth"),
                 "--config", str(fast_config)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "plan (last night)" in printed and "best possible" in printed and "plan / best possible" in printed
    result = json.loads((nightly_home / f"evaluation_{AS_OF.isoformat()}.json").read_text())
    truth = pd.read_csv(small_world / "truth" / "action_truth.csv", dtype={"person_id": str})
    value = dict(zip(zip(truth["person_id"], truth["action_id"]), truth["true_net_margin_365d"]))
    cost = {(a.id, ch): c for a in load_default_catalog().actions for ch, c in a.cost_per_contact.items()}
    chosen = query(nightly_home, "SELECT customer_id, action_id, channel FROM next_best_actions "
                                 "WHERE chosen AND action_id <> 'no_action'")
    expected = sum(value[(c, a)] - cost[(a, ch)] for c, a, ch in chosen)
    policies = {p["policy"]: p for p in result["policies"]}
    assert policies["plan (last night)"]["contacts"] == len(chosen) > 0
    assert abs(policies["plan (last night)"]["true_value"] - expected) < 1e-3
    assert all(p["calls"] <= 25 and p["offer_cost"] <= 300.0 + 1e-6 for name, p in policies.items()
               if name != "plan (last night)")
    assert policies["best possible (true values, same limits)"]["true_value"] >= max(
        p["true_value"] for name, p in policies.items() if name != "plan (last night)") - 1e-6
    assert {r["action_id"] for r in result["per_action"]} == {a.id for a in load_default_catalog().actions}
