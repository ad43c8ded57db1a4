"""Last night at a glance: tonight's contacts per action and channel with the plan, its exploration and its holdout
apart, what the plan is worth over which horizon, and the decision-sanity verdict.

Read by the decisions asset page (first-class metadata), the `decision_sanity` check and the run summary, so the
three say the same thing. The plan's own contacts are the chosen, neither explored nor held-out rows; exploration is
random (its probabilities logged) and the holdout's contacts are withheld on purpose: mixing them in would tell a
marketing manager that random draws and held-back customers are the plan.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from models.decisions.catalog import NO_ACTION, Catalog
from models.decisions.policy_selection import TARGETED

BREAKDOWN_COLUMNS = ["action_id", "channel", "plan", "exploration", "holdout", "plan_value", "horizon_days"]


def contact_breakdown(log: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Per action and channel: customers the plan contacts (`plan`), contacted at random (`exploration`), withheld
    from the universal holdout (`holdout`, the option the plan would have sent them), the plan's expected value and
    the action's outcome horizon. `log` holds the decision-log rows of one night (models.decisions.plan)."""
    contacted = log[log["action_id"] != NO_ACTION]
    plan = contacted[~contacted["is_holdout"] & ~contacted["is_exploration"]]
    explored = contacted[contacted["is_exploration"]]
    held = log[log["is_holdout"] & log["withheld_action_id"].notna()]
    parts = [plan.groupby(["action_id", "channel"]).agg(plan=("customer_id", "size"), plan_value=("expected_value", "sum")),
             explored.groupby(["action_id", "channel"]).size().rename("exploration"),
             held.groupby(["withheld_action_id", "withheld_channel"]).size().rename("holdout")
                 .rename_axis(["action_id", "channel"])]
    table = pd.concat(parts, axis=1).fillna(0).reset_index()
    if table.empty:
        return pd.DataFrame(columns=BREAKDOWN_COLUMNS)
    for column in ("plan", "exploration", "holdout"):
        table[column] = table[column].astype(int)
    table["plan_value"] = table["plan_value"].astype(float).round(2)
    horizons = {a.id: int(a.outcome_horizon_days) for a in catalog.actions}
    table["horizon_days"] = table["action_id"].map(horizons).astype("Int64")
    return table[BREAKDOWN_COLUMNS].sort_values(["action_id", "channel"]).reset_index(drop=True)


def horizon_days(breakdown: pd.DataFrame) -> list[int]:
    """The shortest and longest outcome horizon (days after the contact) of the plan's contacts ([] without any)."""
    days = sorted({int(d) for d in breakdown.loc[breakdown["plan"] > 0, "horizon_days"].dropna()})
    return [days[0], days[-1]] if days else []


def horizon_text(days: list[int], unit: str = "days") -> str:
    """`horizon_days` in words: one number, or the range across the plan's actions."""
    if not days:
        return "-"
    return f"{days[0]} {unit}" if days[0] == days[-1] else f"{days[0]}–{days[-1]} {unit}"


def night_snapshot(summary: dict, quarantine_share: dict[str, float]) -> dict:
    """The figures the next night's run summary compares with (kept in tonight's decision summary)."""
    return {"plan_value": summary.get("plan_value", 0.0),
            "plan_contacts": int(sum(c["plan"] for c in summary.get("contacts", []))),
            "policy": (summary.get("policy_selection") or {}).get("winner"),
            "model_versions": dict(summary.get("model_versions") or {}), "quarantine_share": dict(quarantine_share)}


def add_night_at_a_glance(summary: dict, log: pd.DataFrame, catalog: Catalog, response_model, *, currency: str,
                          previous: dict | None, quarantine_share: dict[str, float]) -> pd.DataFrame:
    """Add to tonight's decision summary what the asset page and the run summary show at a glance (contacts per
    action and channel, currency, value horizon, the learning-health facts of the response model, last night's
    snapshot and tonight's); returns the contacts table."""
    contacts = contact_breakdown(log, catalog)
    summary.update(contacts=json.loads(contacts.to_json(orient="records")), currency=currency,
                   plan_value=round(float(contacts["plan_value"].sum()), 2),  # exploration's value is not the plan's
                   value_horizon_days=horizon_days(contacts),
                   unmatched_campaign_actions=dict(getattr(response_model, "unmatched_actions", {})),
                   values_learned=bool(getattr(response_model, "values", {})), previous_night=previous)
    summary["snapshot"] = night_snapshot(summary, quarantine_share)
    return contacts


def previous_night(as_of, last_as_of, last_summary: dict) -> dict | None:
    """The snapshot of the night before `as_of`: the last written summary's own snapshot when it is of an earlier
    date, its remembered previous night when tonight is a rerun of the same date, else None (a first night, or a
    backfill of an earlier date: there is no "last night" to compare with)."""
    if last_as_of is None:
        return None
    if last_as_of < as_of:
        return {"as_of": str(last_as_of), **last_summary["snapshot"]} if "snapshot" in last_summary else None
    return last_summary.get("previous_night") if last_as_of == as_of else None


@dataclass(frozen=True)
class Sanity:
    """The decision-sanity verdict: passed, one reason per breach (or why all is well) and the figures behind it."""

    passed: bool
    reasons: list[str]
    figures: dict


def share_tolerance(share: float, n: int) -> float:
    """How far a hashed share of n customers may stray from its target by chance: three binomial standard
    deviations plus one customer."""
    return 3 * math.sqrt(max(share * (1 - share), 0.0) / max(n, 1)) + 1 / max(n, 1)


def decision_sanity(summary: dict, holdout_share: float, exploration_share: float) -> Sanity:
    """The plan beats the best simple policy by its own estimate (the deployed candidate's lower bound is not
    below the best simple candidate's), exploration stays within its share and the holdout at its share."""
    n = int(summary.get("n_customers", 0))
    holdout, explored = int(summary.get("holdout_size", 0)), int(summary.get("exploration_size", 0))
    reasons: list[str] = []
    figures = {"customers": n, "holdout": holdout, "holdout_share_target": holdout_share,
               "exploration": explored, "exploration_share_target": exploration_share}
    if n and abs(holdout / n - holdout_share) > share_tolerance(holdout_share, n):
        reasons.append(f"holdout is {holdout / n:.2%} of {n:,} customers, not the configured {holdout_share:.0%}")
    if n and explored / n > exploration_share + share_tolerance(exploration_share, n):
        reasons.append(f"exploration is {explored / n:.2%} of {n:,} customers, above the configured "
                       f"{exploration_share:.0%}")
    selection = summary.get("policy_selection") or {}
    candidates = {c["policy"]: c for c in selection.get("candidates", [])}
    winner = candidates.get(selection.get("winner"))
    simple = [c for name, c in candidates.items() if name not in TARGETED]
    if winner is not None and simple:
        best = max(simple, key=lambda c: c["lower_bound"])
        figures.update({"deployed": winner["policy"], "deployed_lower_bound": winner["lower_bound"],
                        "best_simple": best["policy"], "best_simple_lower_bound": best["lower_bound"]})
        if winner["lower_bound"] < best["lower_bound"]:
            reasons.append(f"the deployed policy '{winner['policy']}' (lower bound {winner['lower_bound']:,.2f}) is "
                           f"below the simple policy '{best['policy']}' ({best['lower_bound']:,.2f})")
    elif not candidates:
        figures["deployed"] = selection.get("winner", "")
    if reasons:
        return Sanity(False, reasons, figures)
    beats = (f"'{figures['deployed']}' is at least as good as the best simple policy by its own estimate"
             if "best_simple" in figures else "no randomised history to value the policies on (not validated)")
    return Sanity(True, [f"{beats}; holdout {holdout:,} and exploration {explored:,} of {n:,} customers within their "
                         "shares"], figures)
