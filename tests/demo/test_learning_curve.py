"""The learning curve's figures on constructed nights with known answers: caps counted over the pipeline's own
lists, the targets judged as the issue states them, realised lift put next to the truth."""
from __future__ import annotations

import math

import pandas as pd

from demo.learning_curve import cap_violations, check_targets, read_exported_lists, realised_lift_cells

POLICY = {"max_contacts_per_channel_7d": 1, "max_contacts_per_channel_30d": 3, "cooldown_after_decline_days": 14}


def _lists(rows):
    return pd.DataFrame(rows, columns=["as_of", "customer_id", "channel"])


def test_weekly_lists_within_the_caps_pass():
    weekly = _lists([(d, "C1", "email") for d in ("2026-11-01", "2026-11-15", "2026-11-29")]
                    + [(d, "C1", "sms") for d in ("2026-11-08", "2026-11-22")])
    caps = cap_violations(weekly, POLICY)
    assert caps["7d"] == {"cap": 1, "max_count": 1, "cells_over_cap": 0}
    assert caps["30d"]["cells_over_cap"] == 0 and caps["30d"]["max_count"] == 3


def test_nights_six_days_apart_break_the_7_day_cap_and_four_in_30_days_the_30_day_cap():
    """A window of W days on night D holds nights D - W + 1 .. D: weekly nights share no 7-day window, nights six
    days apart do; four weekly e-mails fall in one 30-day window."""
    weekly = _lists([(d, "C1", "email") for d in ("2026-11-01", "2026-11-08", "2026-11-15", "2026-11-22")]
                    + [("2026-11-01", "C2", "email"), ("2026-11-01", "C2", "sms")])
    caps = cap_violations(weekly, POLICY)
    assert caps["7d"]["cells_over_cap"] == 0 and caps["7d"]["max_count"] == 1
    assert caps["30d"]["cells_over_cap"] == 1 and caps["30d"]["max_count"] == 4
    six_days = _lists([(d, "C1", "sms") for d in ("2026-11-01", "2026-11-07", "2026-12-01")])
    caps = cap_violations(six_days, POLICY)
    assert caps["7d"]["cells_over_cap"] == 1 and caps["7d"]["max_count"] == 2
    assert caps["30d"]["cells_over_cap"] == 0 and caps["30d"]["max_count"] == 2  # 11-01 is 30 days before 12-01


def _night(k, plan, best_single):
    return {"night": k, "as_of": f"2026-11-{k:02d}", "plan_true_value": plan, "best_single_true_value": best_single,
            "per_action": [{"action_id": "a", "plan_true_value_per_contact": 1.0}]}


def test_targets_met_and_not_met():
    caps = {"7d": {"cells_over_cap": 0}, "30d": {"cells_over_cap": 0}}
    rising = [_night(k, 100 + 10 * k, 50) for k in range(1, 7)]
    targets = check_targets(rising, caps, {"available": False, "reason": "none"})
    assert targets["last4_mean_vs_first"]["met"] and targets["rises_or_holds"]["met"]
    assert targets["not_below_best_single_after_night_4"]["met"] and targets["caps_hold"]["met"]
    assert targets["realised_lift_coverage"]["met"] is None
    flat = [_night(k, v, 150) for k, v in enumerate([100, 120, 90, 110, 100, 160], start=1)]
    targets = check_targets(flat, {"7d": {"cells_over_cap": 2}}, {"available": False})
    assert not targets["last4_mean_vs_first"]["met"]                 # 115 < 1.2 x 100
    assert targets["rises_or_holds"]["nights_below_previous"] == [3, 5]
    assert targets["not_below_best_single_after_night_4"]["nights_below"] == [5]
    assert not targets["caps_hold"]["met"]


def test_a_negative_first_night_must_grow_by_a_fifth_of_its_size():
    caps = {"7d": {"cells_over_cap": 0}}
    assert check_targets([_night(k, v, 0) for k, v in enumerate([-100, -80, -75, -70, -65], 1)], caps,
                         {"available": False})["last4_mean_vs_first"]["met"]
    assert not check_targets([_night(k, v, 0) for k, v in enumerate([-100, -90, -95, -90, -99], 1)], caps,
                             {"available": False})["last4_mean_vs_first"]["met"]


def test_realised_lift_next_to_the_truth_and_its_coverage():
    """Cells are compared net of the contact cost; small cells, weeks and the overall row are left out."""
    curve = [{"as_of": "2026-11-01", "per_action": [{"action_id": "a", "plan_true_value_per_contact": 2.0},
                                                    {"action_id": "b", "plan_true_value_per_contact": -1.0}]}]
    lift = pd.DataFrame({"period": ["2026-11-01", "2026-11-01", "2026-11-08", "2026-11-01", "2026-11-01", "2026-W45"],
                         "action_id": ["a", "b", "a", "(all)", "c", "a"],
                         "lift_per_contact": [2.5, 0.5, 3.0, 1.0, 1.0, 1.0], "lift_low": [1.0, 0.1, 1.0, 0, 0, 0],
                         "lift_high": [3.5, 1.0, 5.0, 2, 2, 2], "contact_cost_per_contact": [0.5, 0.05, 0, 0, 0, 0],
                         "enough_customers": [True, True, True, True, False, True]})
    cells = realised_lift_cells(lift, curve)
    assert [(c["action_id"], c["covered"]) for c in cells["cells"]] == [("a", True), ("b", False)]
    assert cells["cells"][0]["ci_low"] == 0.5 and cells["cells"][0]["estimate"] == 2.0
    assert math.isclose(cells["coverage"], 0.5) and cells["cells_skipped"] == 2
    odd = realised_lift_cells(pd.DataFrame({"when": ["x"], "action_id": ["a"]}), curve)
    assert odd["reason"].startswith("columns not recognised") and "coverage" not in odd
    assert realised_lift_cells(None, curve) == {"available": False,
                                                "reason": "the warehouse has no realised_lift table"}


def test_exported_lists_are_read_with_their_channel(tmp_path):
    (tmp_path / "email.csv").write_text("customer_id,email,action_id,expected_value,campaign_id\n"
                                        "C1,a@x.org,winback,1.25,nba-1\n", encoding="utf-8")
    (tmp_path / "call_center.csv").write_text("customer_id,phone,action_id,expected_value,campaign_id\n"
                                              "C2,+34600111222,retention_offer,3.5,nba-1\n", encoding="utf-8")
    listed = read_exported_lists(tmp_path)
    assert listed[["customer_id", "channel", "action_id"]].values.tolist() == [
        ["C1", "email", "winback"], ["C2", "phone", "retention_offer"]]
    assert listed["expected_value"].sum() == 4.75
