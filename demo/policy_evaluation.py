"""Last night's plan and simple policies valued on a demo world's truth (never read by the nightly pipeline).

The true value of contacting customer i with action a on channel c tonight is the truth's
true_net_margin_365d(i, a) (expected incremental net margin over the truth's horizon, offer cost included)
minus the catalog's cost_per_contact[a][c]. Every policy works under the plan's own limits:

- permitted options are the decision_audit rows that are eligible (catalog rules) and not suppressed
  (consent, do-not-contact, suppression list, contact policy, the universal holdout);
- one action per customer, the call capacity (phone options), the offer budget (charged with the
  truth's true_offer_cost_365d) and per-action volume caps.

Policies: the plan as executed (chosen next_best_actions rows, exploration included; the holdout gets
nothing), no action, "every permitted customer gets action A" on A's cheapest permitted channel (in a
seeded random order while the limits allow), a random permitted option per customer (seeded, within the
limits), and the best possible plan: the project's constraint solver run on the true values.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.decisions.catalog import NO_ACTION, Catalog
from models.decisions.constraints import AllocationProblem, solve_exact, solve_lagrangian

TRUTH_VALUE = "true_net_margin_365d"
TRUTH_OFFER = "true_offer_cost_365d"
PLAN = "plan (last night)"
NO_ACTION_POLICY = "no action"
BEST_POSSIBLE = "best possible (true values, same limits)"
RANDOM = "random permitted action"


@dataclass(frozen=True)
class Limits:
    """The night's global limits (None: unlimited)."""

    capacity_calls: int | None
    offer_budget: float | None
    action_caps: dict[str, int]


def option_table(audit: pd.DataFrame, truth: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Every permitted (customer, action, channel) with its true value, true offer cost and the plan's value.

    `audit` holds decision_audit's customer_id, action_id, channel, eligible, suppressed, expected_value;
    `truth` the truth's person_id, action_id, true_net_margin_365d, true_offer_cost_365d. An option whose
    customer is missing from the truth is worth nothing (counted in `missing_truth`).
    """
    for column in (TRUTH_VALUE, TRUTH_OFFER):
        if column not in truth.columns:
            raise ValueError(f"action_truth has no column '{column}': regenerate the world with this version "
                             "of `nba generate`")
    permitted = audit[audit["eligible"].astype(bool) & ~audit["suppressed"].astype(bool)]
    options = permitted[["customer_id", "action_id", "channel", "expected_value"]].astype(
        {"customer_id": str, "action_id": str, "channel": str})
    keyed = truth[["person_id", "action_id", TRUTH_VALUE, TRUTH_OFFER]].astype({"person_id": str, "action_id": str})
    options = options.merge(keyed.rename(columns={"person_id": "customer_id"}), on=["customer_id", "action_id"],
                            how="left", validate="many_to_one")
    options["missing_truth"] = options[TRUTH_VALUE].isna()
    cost = {(a.id, ch): c for a in catalog.actions for ch, c in a.cost_per_contact.items()}
    options["contact_cost"] = [cost[(a, ch)] for a, ch in zip(options["action_id"], options["channel"])]
    options["true_value"] = options[TRUTH_VALUE].fillna(0.0) - options["contact_cost"]
    options["offer_cost"] = options[TRUTH_OFFER].fillna(0.0)
    return options.sort_values(["customer_id", "action_id", "channel"], kind="mergesort").reset_index(drop=True)


def take_within_limits(candidates: pd.DataFrame, limits: Limits) -> pd.DataFrame:
    """Walk `candidates` in their order and keep, per customer, the first option that still fits the call
    capacity, the offer budget and the action caps (later options of a taken customer are skipped)."""
    calls, spend, per_action, taken, rows = 0, 0.0, {}, set(), []
    for position, row in enumerate(candidates[["customer_id", "action_id", "channel", "offer_cost"]].itertuples(
            index=False)):
        if row.customer_id in taken:
            continue
        is_call = row.channel == "phone"
        cap = limits.action_caps.get(row.action_id)
        if ((is_call and limits.capacity_calls is not None and calls >= limits.capacity_calls)
                or (limits.offer_budget is not None and spend + row.offer_cost > limits.offer_budget + 1e-9)
                or (cap is not None and per_action.get(row.action_id, 0) >= cap)):
            continue
        calls += is_call
        spend += row.offer_cost
        per_action[row.action_id] = per_action.get(row.action_id, 0) + 1
        taken.add(row.customer_id)
        rows.append(position)
    return candidates.iloc[rows]


def everyone_gets(options: pd.DataFrame, action_id: str, limits: Limits, seed: int) -> pd.DataFrame:
    """Every permitted customer gets `action_id` on its cheapest permitted channel; when a limit binds,
    the customers who get it are the first in a seeded random order."""
    part = options[options["action_id"] == action_id].sort_values(["customer_id", "contact_cost", "channel"],
                                                                  kind="mergesort")
    part = part.drop_duplicates("customer_id")
    rng = np.random.default_rng([seed, _stable_hash(action_id)])
    return take_within_limits(part.iloc[rng.permutation(len(part))], limits)


def random_permitted(options: pd.DataFrame, limits: Limits, seed: int) -> pd.DataFrame:
    """Each customer gets a uniformly random permitted option among those that still fit the limits
    (customers and options in a seeded random order)."""
    rng = np.random.default_rng([seed, _stable_hash("random")])
    customers = options["customer_id"].unique()
    rank = pd.Series(rng.permutation(len(customers)), index=customers)
    ordered = options.assign(_c=options["customer_id"].map(rank).to_numpy(), _o=rng.random(len(options)))
    return take_within_limits(ordered.sort_values(["_c", "_o"], kind="mergesort").drop(columns=["_c", "_o"]), limits)


def best_possible(options: pd.DataFrame, limits: Limits, *, exact_below: int = 2_000) -> tuple[pd.DataFrame, dict]:
    """The plan that maximises the TRUE value under the same limits, solved by models.decisions.constraints
    (exactly, as a MILP, below `exact_below` options; else Lagrangian with its proven gap)."""
    positive = options[options["true_value"] > 0].reset_index(drop=True)
    if positive.empty:
        return positive, {"method": "none", "gap": 0.0}
    slot, customers = pd.factorize(positive["customer_id"], sort=True)
    column = positive.groupby(slot).cumcount().to_numpy()
    shape = (len(customers), int(column.max()) + 1)
    action_ids = sorted(options["action_id"].unique())
    action_code = positive["action_id"].map({a: k for k, a in enumerate(action_ids)}).to_numpy()

    def grid(values, fill, dtype):
        out = np.full(shape, fill, dtype=dtype)
        out[slot, column] = values
        return out

    problem = AllocationProblem(
        value=grid(positive["true_value"].to_numpy(float), -np.inf, np.float64),
        allowed=grid(True, False, bool), calls=grid((positive["channel"] == "phone").to_numpy(), False, bool),
        spend=grid(positive["offer_cost"].to_numpy(float), 0.0, np.float64), action=grid(action_code, -1, np.int64),
        n_actions=len(action_ids), capacity_calls=limits.capacity_calls, budget=limits.offer_budget,
        action_caps={action_ids.index(a): cap for a, cap in limits.action_caps.items() if a in action_ids})
    allocation = solve_exact(problem) if len(positive) < exact_below else solve_lagrangian(problem)
    rows = np.flatnonzero(allocation.choice >= 0)
    index = pd.DataFrame({"slot": slot, "column": column}).reset_index().set_index(["slot", "column"])["index"]
    picked = index.loc[list(zip(rows, allocation.choice[rows]))].to_numpy()
    return positive.iloc[picked], {"method": allocation.method, "gap": float(allocation.gap),
                                   "dual_bound": float(allocation.dual_bound)}


def plan_contacts(plan: pd.DataFrame, truth: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """The plan's executed contacts (chosen rows other than no action) with their true value and cost."""
    chosen = plan[plan["chosen"].astype(bool) & (plan["action_id"].astype(str) != NO_ACTION)]
    chosen = chosen[["customer_id", "action_id", "channel", "expected_value"]].astype(
        {"customer_id": str, "action_id": str, "channel": str})
    keyed = truth[["person_id", "action_id", TRUTH_VALUE, TRUTH_OFFER]].astype({"person_id": str, "action_id": str})
    chosen = chosen.merge(keyed.rename(columns={"person_id": "customer_id"}), on=["customer_id", "action_id"],
                          how="left", validate="many_to_one")
    cost = {(a.id, ch): c for a in catalog.actions for ch, c in a.cost_per_contact.items()}
    chosen["contact_cost"] = [cost[(a, ch)] for a, ch in zip(chosen["action_id"], chosen["channel"])]
    chosen["missing_truth"] = chosen[TRUTH_VALUE].isna()
    chosen["true_value"] = chosen[TRUTH_VALUE].fillna(0.0) - chosen["contact_cost"]
    chosen["offer_cost"] = chosen[TRUTH_OFFER].fillna(0.0)
    return chosen


def evaluate_plan(plan: pd.DataFrame, audit: pd.DataFrame, truth: pd.DataFrame, catalog: Catalog, limits: Limits,
                  n_customers: int, seed: int) -> dict:
    """The true value of the plan and of every baseline, per action figures and the ratios; JSON-ready."""
    options = option_table(audit, truth, catalog)
    executed = plan_contacts(plan, truth, catalog)
    picks = {PLAN: executed, NO_ACTION_POLICY: options.iloc[:0]}
    for action in catalog.ordered_actions():
        picks[f"everyone gets {action.id}"] = everyone_gets(options, action.id, limits, seed)
    picks[RANDOM] = random_permitted(options, limits, seed)
    oracle, solver = best_possible(options, limits)
    picks[BEST_POSSIBLE] = oracle
    policies = [_policy_row(name, chosen, n_customers) for name, chosen in picks.items()]
    singles = [p for p in policies if p["policy"].startswith("everyone gets ")]
    best_single = max(singles, key=lambda p: p["true_value"])
    plan_value, oracle_value = policies[0]["true_value"], picks[BEST_POSSIBLE]["true_value"].sum()
    return {
        "n_customers": int(n_customers), "truth_value_column": TRUTH_VALUE, "seed": int(seed),
        "limits": {"capacity_calls": limits.capacity_calls, "offer_budget": limits.offer_budget,
                   "action_caps": dict(limits.action_caps)},
        "policies": policies,
        "per_action": [_action_row(a.id, executed, options, picks[f"everyone gets {a.id}"])
                       for a in catalog.ordered_actions()],
        "best_single_action": best_single["policy"].removeprefix("everyone gets "),
        "ratios": {"plan_over_best_single_action": _ratio(plan_value, best_single["true_value"]),
                   "plan_over_best_possible": _ratio(plan_value, float(oracle_value))},
        "best_possible_solver": solver,
        "options_missing_truth": int(options["missing_truth"].sum()),
        "plan_contacts_missing_truth": int(executed["missing_truth"].sum()),
    }


def _policy_row(name: str, chosen: pd.DataFrame, n_customers: int) -> dict:
    value = float(chosen["true_value"].sum())
    return {"policy": name, "contacts": int(len(chosen)), "calls": int((chosen["channel"] == "phone").sum()),
            "offer_cost": round(float(chosen["offer_cost"].sum()), 4), "true_value": round(value, 4),
            "true_value_per_1000_customers": round(1000.0 * value / n_customers, 4) if n_customers else math.nan}


def _action_row(action_id: str, executed: pd.DataFrame, options: pd.DataFrame, everyone: pd.DataFrame) -> dict:
    mine = executed[executed["action_id"] == action_id]
    offered = options[options["action_id"] == action_id]
    return {
        "action_id": action_id, "plan_contacts": int(len(mine)),
        "plan_true_value_per_contact": _mean(mine["true_value"]),
        "plan_expected_value_per_contact": _mean(mine["expected_value"]),
        "spearman_expected_vs_true": _spearman(offered["expected_value"], offered["true_value"]),
        "permitted_options": int(len(offered)),
        "everyone_contacts": int(len(everyone)), "everyone_true_value_per_contact": _mean(everyone["true_value"]),
    }


def _mean(values: pd.Series) -> float:
    return round(float(values.mean()), 4) if len(values) else math.nan


def _spearman(a: pd.Series, b: pd.Series) -> float:
    a, b = a.to_numpy(float), b.to_numpy(float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return round(float(spearmanr(a, b).statistic), 4)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b > 0 else math.nan


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def format_evaluation(result: dict, as_of: str) -> str:
    """The printed report: policies, per action figures and the ratios."""
    policies = pd.DataFrame(result["policies"])
    actions = pd.DataFrame(result["per_action"])
    lines = [f"true expected incremental net margin over the truth's horizon, night of {as_of}, "
             f"{result['n_customers']:,} customers (contact costs subtracted; limits: {result['limits']}):",
             policies.to_string(index=False, float_format=lambda v: f"{v:,.2f}"), "",
             "per action (plan = last night's contacts; everyone = every permitted customer gets it):",
             actions.to_string(index=False, float_format=lambda v: f"{v:,.3f}"), "",
             f"best single action: {result['best_single_action']}; "
             f"plan / best single action = {result['ratios']['plan_over_best_single_action']}; "
             f"plan / best possible = {result['ratios']['plan_over_best_possible']} "
             f"(best possible solved by {result['best_possible_solver']['method']}, "
             f"gap {result['best_possible_solver']['gap']:.2e})"]
    if result["options_missing_truth"] or result["plan_contacts_missing_truth"]:
        lines.append(f"warning: {result['options_missing_truth']:,} options and "
                     f"{result['plan_contacts_missing_truth']:,} plan contacts have no row in the truth (valued 0)")
    return "\n".join(lines)
