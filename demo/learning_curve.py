"""The learning curve of a multi-night simulation: per night the plan's true value next to simple policies,
the contacts per channel against the caps (counting the pipeline's own lists) and the realised-lift estimate
next to the truth; and the issue's targets, met or not. Pure functions over the simulator's records
(demo.simulate); the truth enters only through demo.policy_evaluation's results.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from models.decisions.policies import CAP_WINDOWS

LIST_CHANNELS = {"email": "email", "sms": "sms", "app": "app", "call_center": "phone"}
LIST_COLUMNS = ["customer_id", "action_id", "channel", "campaign_id", "expected_value"]
CAP_SETTINGS = {window: f"max_contacts_per_channel_{window}" for window in CAP_WINDOWS}
GROWTH_TARGET = 1.2           # last-4-nights mean >= 1.2 x the first night's
BEST_SINGLE_AFTER_NIGHT = 4   # no night below the best single action after the fourth
COVERAGE_TARGET = 0.9         # realised lift's 95 % interval covers the truth in >= 90 % of cells
# Column names of the realised_lift table (models/decisions/realised_lift.py LIFT_COLUMNS, built in parallel:
# matched by name, else the rows are reported as they are). Its lift is before the contact cost; the truth after.
_LIFT_DATE = ("period", "as_of", "night")
_LIFT_ESTIMATE = ("lift_per_contact", "estimate")
_LIFT_LOW = ("lift_low", "ci_low")
_LIFT_HIGH = ("lift_high", "ci_high")
_LIFT_COST = "contact_cost_per_contact"
_LIFT_ENOUGH = "enough_customers"
_ALL_ACTIONS = "(all)"


def read_exported_lists(folder: Path) -> pd.DataFrame:
    """The night's exported contacts (LIST_COLUMNS) from the CSV lists in `folder` (HOME/exports/<as-of>/)."""
    parts = []
    for name, channel in LIST_CHANNELS.items():
        path = Path(folder) / f"{name}.csv"
        if path.exists():
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            parts.append(frame.assign(channel=channel)[[c for c in LIST_COLUMNS if c in frame.columns or
                                                        c == "channel"]])
    if not parts:
        raise FileNotFoundError(f"no exported list (email.csv, sms.csv, app.csv, call_center.csv) in {folder}")
    listed = pd.concat(parts, ignore_index=True)
    listed["expected_value"] = pd.to_numeric(listed.get("expected_value"), errors="coerce")
    return listed


def cap_violations(listed: pd.DataFrame, contact_policy: dict) -> dict:
    """Customers contacted on a channel more often than the caps allow, counting only the pipeline's own lists'
    contacts that reached the person (`listed`: as_of, customer_id, channel; a bounce or an unanswered call the
    tools report is no contact, as the contact policy counts it). A window of W days on night D holds those of nights in
    [D - W + 1, D]: no W consecutive days may hold more than the cap (models.decisions.policies.CAP_WINDOWS).
    Returns per window the cap, the largest count seen and the (night, customer, channel) cells above the cap."""
    result = {}
    frame = listed[["as_of", "customer_id", "channel"]].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    nights = sorted(frame["as_of"].unique())
    for window, days in CAP_WINDOWS.items():
        cap = contact_policy[CAP_SETTINGS[window]]
        worst, over = 0, 0
        for night in nights:
            part = frame[(frame["as_of"] <= night) & (frame["as_of"] > night - pd.Timedelta(days=days))]
            tonight = frame.loc[frame["as_of"] == night, ["customer_id", "channel"]].drop_duplicates()
            counts = part.groupby(["customer_id", "channel"]).size().rename("n").reset_index()
            counts = counts.merge(tonight, on=["customer_id", "channel"])
            if len(counts):
                worst = max(worst, int(counts["n"].max()))
                over += int((counts["n"] > cap).sum())
        result[window] = {"cap": cap, "max_count": worst, "cells_over_cap": over}
    return result


def contacts_by_channel(listed: pd.DataFrame) -> dict[str, int]:
    return {ch: int(n) for ch, n in listed.groupby("channel").size().items()}


def night_row(night: int, as_of: dt.date, evaluation: dict, listed: pd.DataFrame, executed: pd.DataFrame | None,
              seconds: float) -> dict:
    """One night of the curve from its truth evaluation (demo.policy_evaluation.evaluate_plan), its lists and
    what the world did with them."""
    values = {p["policy"]: p["true_value"] for p in evaluation["policies"]}
    best_single = evaluation["best_single_action"]
    row = {
        "night": night, "as_of": as_of.isoformat(),
        "plan_true_value": values["plan (last night)"],
        "best_single_action": best_single, "best_single_true_value": values[f"everyone gets {best_single}"],
        "best_possible_true_value": values["best possible (true values, same limits)"],
        "random_true_value": values["random permitted action"],
        "plan_expected_value": round(float(listed["expected_value"].sum()), 2),
        "contacts": int(len(listed)), "contacts_by_channel": contacts_by_channel(listed),
        "per_action": evaluation["per_action"], "run_seconds": round(seconds, 1),
    }
    if executed is not None:
        row["executed"] = {"not_permitted": int((~executed["permitted"]).sum()),
                           "reached": int(executed["reached"].sum()), "declined": int(executed["declined"].sum())}
    return row


def realised_lift_cells(lift: pd.DataFrame | None, curve: list[dict]) -> dict:
    """The realised-lift estimates next to the truth: per (night, action) cell with enough customers the
    estimate and its interval net of the contact cost, and the true mean value per contact of that night's plan
    contacts of the action (365-day net margin after contact cost, the truth the world states; the estimate
    covers the action's own outcome horizon). Coverage is the share of cells whose interval holds the truth."""
    if lift is None:
        return {"available": False, "reason": "the warehouse has no realised_lift table"}
    columns = {name: next((c for c in options if c in lift.columns), None) for name, options in
               (("date", _LIFT_DATE), ("estimate", _LIFT_ESTIMATE), ("low", _LIFT_LOW), ("high", _LIFT_HIGH))}
    if "action_id" not in lift.columns or None in columns.values():
        return {"available": True, "reason": "columns not recognised: coverage not computed",
                "columns": list(lift.columns), "rows": lift.head(50).to_dict(orient="records")}
    truth = {(r["as_of"], a["action_id"]): a["plan_true_value_per_contact"] for r in curve for a in r["per_action"]}
    cells, skipped = [], 0
    for row in lift.to_dict(orient="records"):
        if str(row["action_id"]) == _ALL_ACTIONS:
            continue
        if _LIFT_ENOUGH in row and not bool(row[_LIFT_ENOUGH]):
            skipped += 1
            continue
        try:
            key = (str(pd.Timestamp(str(row[columns["date"]])).date()), str(row["action_id"]))
        except ValueError:          # a week period ("2026-W45") has no single night's truth
            skipped += 1
            continue
        true = truth.get(key)
        if true is None or (isinstance(true, float) and math.isnan(true)):
            continue
        cost = float(row.get(_LIFT_COST, 0.0) or 0.0)
        low, high = float(row[columns["low"]]) - cost, float(row[columns["high"]]) - cost
        cells.append({"as_of": key[0], "action_id": key[1], "estimate": float(row[columns["estimate"]]) - cost,
                      "ci_low": low, "ci_high": high, "true_value_per_contact": true,
                      "covered": bool(low <= true <= high)})
    coverage = float(np.mean([c["covered"] for c in cells])) if cells else math.nan
    return {"available": True, "columns": columns, "cells": cells, "cells_skipped": skipped, "coverage": coverage}


def check_targets(curve: list[dict], caps: dict, lift: dict) -> dict:
    """The issue's targets for the curve, each with its figures and met / not met (None: cannot be judged)."""
    plan = [r["plan_true_value"] for r in curve]
    targets = {}
    if len(plan) >= 5:
        last4 = float(np.mean(plan[-4:]))
        targets["last4_mean_vs_first"] = {"first": plan[0], "last4_mean": round(last4, 2),
                                          "target": f">= first + {GROWTH_TARGET - 1:.1f} x |first|",
                                          "met": bool(last4 >= plan[0] + (GROWTH_TARGET - 1) * abs(plan[0]))}
    else:
        targets["last4_mean_vs_first"] = {"met": None, "reason": f"{len(plan)} nights: needs at least 5"}
    falls = [r["night"] for prev, r in zip(curve, curve[1:]) if r["plan_true_value"] < prev["plan_true_value"]]
    targets["rises_or_holds"] = {"nights_below_previous": falls, "met": not falls}
    late = [r for r in curve if r["night"] > BEST_SINGLE_AFTER_NIGHT]
    below = [r["night"] for r in late if r["plan_true_value"] < r["best_single_true_value"]]
    targets["not_below_best_single_after_night_4"] = {"nights_below": below,
                                                      "met": (not below) if late else None}
    targets["caps_hold"] = {"met": all(w["cells_over_cap"] == 0 for w in caps.values()), **caps}
    coverage = lift.get("coverage") if lift.get("available") else None
    targets["realised_lift_coverage"] = (
        {"met": None, "reason": lift.get("reason", "no cells")} if coverage is None or math.isnan(coverage)
        else {"coverage": round(coverage, 3), "cells": len(lift["cells"]), "met": coverage >= COVERAGE_TARGET})
    return targets


def curve_table(curve: list[dict]) -> pd.DataFrame:
    """The printed table: one line per night."""
    return pd.DataFrame([{
        "night": r["night"], "as_of": r["as_of"], "plan": r["plan_true_value"],
        "best_single": r["best_single_true_value"], "best_single_action": r["best_single_action"],
        "best_possible": r["best_possible_true_value"], "plan_expected": r["plan_expected_value"],
        "contacts": r["contacts"], **{f"n_{ch}": r["contacts_by_channel"].get(ch, 0) for ch in LIST_CHANNELS.values()},
        "run_s": r["run_seconds"]} for r in curve])


def format_report(curve: list[dict], targets: dict) -> str:
    """Table and targets as printed (and written as OUT/learning_curve.txt)."""
    lines = ["true incremental value per night (365-day net margin after contact costs):",
             curve_table(curve).to_string(index=False, float_format=lambda v: f"{v:,.1f}"), "", "targets:"]
    for name, figures in targets.items():
        state = {True: "met", False: "NOT met", None: "not judged"}[figures["met"]]
        details = {k: v for k, v in figures.items() if k != "met"}
        lines.append(f"- {name}: {state} {details}")
    return "\n".join(lines)


def curve_chart(curve: list[dict]) -> bytes:
    """PNG: the plan, the best single action and the best possible plan per night."""
    from models.charts import plot_series

    frame = pd.DataFrame({"plan": [r["plan_true_value"] for r in curve],
                          "best single action": [r["best_single_true_value"] for r in curve],
                          "best possible": [r["best_possible_true_value"] for r in curve]},
                         index=[r["as_of"] for r in curve])
    return plot_series(frame, "night (as-of date)", "true incremental value")
