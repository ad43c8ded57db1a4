"""`nba simulate` end to end on a small lifecycle world (300 customers, 2 nights six days apart, ~2-3 min on 2
cores): the second night's extracts carry the first night's executed contacts, the holdout gets nothing, the caps
hold counting the pipeline's own lists (the two nights share a 7-day window), and the curve's files exist with sane
numbers."""
from __future__ import annotations

import json
import os
import math
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

NIGHTS = ("2026-11-01", "2026-11-07")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    out = tmp_path_factory.mktemp("simulate")
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "simulate", "--customers", "300", "--nights", "2",
                           "--world", "lifecycle", "--seed", "3", "--every-days", "6", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "NBA_MLFLOW_TRACKING_URI": ""})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done.stdout


def _lists(out, as_of):
    frames = [pd.read_csv(p, dtype=str).assign(channel=p.stem if p.stem != "call_center" else "phone")
              for p in (out / "home" / "exports" / as_of).glob("*.csv")]
    return pd.concat(frames, ignore_index=True)[["customer_id", "action_id", "channel", "campaign_id"]]


def test_second_night_extracts_carry_the_first_nights_executed_contacts(simulated):
    out, _ = simulated
    listed = _lists(out, NIGHTS[0])
    assert len(listed) > 0
    contacts = pd.read_csv(out / "landing" / NIGHTS[1] / "contacts.csv", dtype=str)
    assert not (out / "landing" / NIGHTS[0] / "contacts.csv").exists()
    first = contacts[contacts["status"].isin(["sent", "answered", "no_answer", "busy", "wrong_number",
                                              "callback_requested"])]
    reported = set(zip(first["customer_id"], first["action_id"], first["channel"].replace("call", "phone"),
                       first["campaign_id"]))
    assert reported == set(zip(listed["customer_id"], listed["action_id"], listed["channel"], listed["campaign_id"]))
    assert pd.to_datetime(contacts["status_at"]).max() < pd.Timestamp(NIGHTS[1])
    purchases = pd.read_csv(out / "landing" / NIGHTS[1] / "purchases.csv", dtype=str)
    week = purchases[purchases["order_id"].str.startswith("D")]
    assert len(week) > 0 and set(week["customer_id"]) & set(listed["customer_id"])


def test_holdout_gets_nothing_and_caps_hold_on_the_pipelines_own_lists(simulated):
    out, _ = simulated
    with duckdb.connect(str(out / "home" / "warehouse" / "nba.duckdb"), read_only=True) as con:
        holdout = set(con.execute("SELECT customer_id FROM decision_log WHERE is_holdout").df()["customer_id"])
    assert holdout
    contacts = pd.read_csv(out / "landing" / NIGHTS[1] / "contacts.csv", dtype=str)
    assert not holdout & set(contacts["customer_id"])
    # who night 1's contacts reached (the tools' feedback), never listed again on that channel six days later (one
    # contact per 7 days); a bounce or an unanswered call is no contact and may be (models/decisions/feedback.py)
    reached = contacts[contacts["status"].isin(["delivered", "opened", "clicked", "declined", "answered",
                                                "callback_requested"])]
    two = _lists(out, NIGHTS[1])
    assert len(reached) and not set(zip(reached["customer_id"], reached["channel"].replace("call", "phone"))) \
        & set(zip(two["customer_id"], two["channel"]))
    curve = json.loads((out / "learning_curve.json").read_text())
    assert curve["targets"]["caps_hold"]["met"] and curve["caps"]["7d"]["max_count"] == 1


def test_curve_files_exist_with_sane_numbers(simulated):
    out, stdout = simulated
    curve = json.loads((out / "learning_curve.json").read_text())
    assert [n["as_of"] for n in curve["nights"]] == list(NIGHTS)
    for night in curve["nights"]:
        values = [night[k] for k in ("plan_true_value", "best_single_true_value", "best_possible_true_value")]
        assert all(math.isfinite(v) for v in values)
        assert night["best_possible_true_value"] >= max(values[:2]) - 1e-6 * max(1.0, abs(values[2]))
        assert night["contacts"] == sum(night["contacts_by_channel"].values()) > 0
        assert night["executed"]["not_permitted"] == 0        # the pipeline never lists anyone without consent
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "learning_curve.txt").read_text()
    assert "targets:" in text and "caps_hold: met" in text and f"night 2 {NIGHTS[1]}" in stdout
    assert (out / "truth" / NIGHTS[1] / "action_truth.csv").exists()
    assert not (out / "landing" / NIGHTS[1] / "truth").exists()      # the night never sees the truth


def test_the_simulated_nights_never_pass_today():
    """Twelve weekly nights from the demo window's end would reach past today, whose partitions do not exist yet:
    the generated window moves back so the last night is today at the latest (and stays put when it fits)."""
    import datetime as dt

    from demo.generator.world import DEFAULT_END, DEFAULT_START
    from demo.simulate import simulation_window

    today = dt.date(2026, 12, 6)
    start, end = simulation_window(12, 7, today)
    assert end + dt.timedelta(days=1 + 11 * 7) == today and (end - start) == (DEFAULT_END - DEFAULT_START)
    assert simulation_window(2, 7, today) == (DEFAULT_START, DEFAULT_END)
