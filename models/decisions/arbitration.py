"""Arbitration between options: the expected incremental value of every (customer, action, channel)
option, how options group into slots (one choice per slot), their presentation order, and why an
option that could have been chosen was not.

    expected_value = value_uplift x lever - cost_per_contact[channel]

where the action has a value model (value_uplift: the learned incremental net margin over the action's
outcome horizon, discounts included, models/training/value_uplift.py). An action without one (too little
randomised history) falls back to its catalog prior:

    expected_value = uplift x value_at_stake x lever - cost_per_contact[channel] - p_treated x offer_cost

value_at_stake by the action's value_basis: retained_clv = margin_rate x clv; order_margin =
margin_rate x order_value; upsell_margin = margin_rate x order_value x (1 + upsell_probability);
fixed = value_per_conversion. offer_cost = offer_cost_share x order_value, paid only on acceptance
(hence x p_treated). order_value is the customer's avg_order_value_365d, or the population median
of the positive ones when the customer has none. Levers (config `decisions.levers`) weight an action
by id or by type (id wins); default 1.
A (customer, action) without a response row uses the catalog prior: uplift = prior_uplift,
p_treated = max(prior_uplift, 0) (no control conversions assumed).

Not-chosen reasons, judged against the slot's value-maximising (greedy) choice: below_margin (worth
less than min_margin_value or nothing), lower_value / one_action_per_customer (worth less than the
choice: same action on another channel / another action), capacity / budget / action_cap (worth
more, but displaced by a binding limit it would have used more of), holdout, exploration (the greedy
choice, replaced by a random draw).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.decisions.catalog import Action
from models.decisions.constraints import Allocation, AllocationProblem

NOT_CHOSEN_REASONS = ("lower_value", "below_margin", "capacity", "budget", "action_cap",
                      "one_action_per_customer", "holdout", "exploration")
_REASON = {reason: code for code, reason in enumerate(NOT_CHOSEN_REASONS, start=1)}


@dataclass(frozen=True)
class OptionValues:
    """Per customer x option: expected value and the expected offer cost charged to the budget."""

    expected_value: np.ndarray  # (C, P) float64
    offer_spend: np.ndarray     # (C, P) float64, p_treated x offer_cost
    order_value_median: float
    value_se: np.ndarray        # (C, P) standard error of expected_value (0 for prior-based options)
    measured: np.ndarray        # (C, P) the value comes from a value model (not the catalog prior)


def response_matrices(responses: pd.DataFrame, customer_ids: pd.Index, actions: Sequence[Action]) -> dict[str, np.ndarray]:
    """uplift, p_treated, value_uplift, value_se as (C, A) arrays aligned to `customer_ids` and `actions`:
    priors filled in for the conversion columns, NaN where no value model scored the action."""
    n, action_ids = len(customer_ids), [a.id for a in actions]
    priors = np.array([a.prior_uplift for a in actions], dtype=np.float64)
    matrices = {"uplift": np.broadcast_to(priors, (n, len(actions))).copy(),
                "p_treated": np.broadcast_to(np.maximum(priors, 0.0), (n, len(actions))).copy(),
                "value_uplift": np.full((n, len(actions)), np.nan), "value_se": np.full((n, len(actions)), np.nan)}
    rows = customer_ids.get_indexer(responses["customer_id"].astype(str))
    cols = pd.Index(action_ids).get_indexer(responses["action_id"].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    for column, target in matrices.items():
        if column not in responses.columns:
            continue
        values = pd.to_numeric(responses[column]).to_numpy(dtype=np.float64, na_value=np.nan)
        known = keep & ~np.isnan(values)
        target[rows[known], cols[known]] = values[known]
    return matrices


def compute_option_values(features: pd.DataFrame, scores: pd.DataFrame, responses: Mapping[str, np.ndarray],
                          actions: Sequence[Action], pair_action: np.ndarray, pair_contact_cost: np.ndarray,
                          *, margin_rate: float, levers: Mapping[str, float]) -> OptionValues:
    """Expected value and offer spend of every option; features/scores/responses are aligned by row."""
    uplift, p_treated = responses["uplift"], responses["p_treated"]
    order_value = _number(features, "avg_order_value_365d")
    positive = order_value[order_value > 0]
    median = float(np.median(positive)) if len(positive) else 0.0
    order_value = np.where(np.isnan(order_value) | (order_value <= 0), median, order_value)
    clv = np.nan_to_num(_number(scores, "clv"), nan=0.0)
    upsell_probability = np.nan_to_num(_number(scores, "upsell_probability"), nan=0.0)

    stake = np.empty_like(uplift)
    offer_cost = np.empty_like(uplift)
    lever = np.empty(len(actions), dtype=np.float64)
    for a, action in enumerate(actions):
        stake[:, a] = _value_at_stake(action, margin_rate, clv, order_value, upsell_probability)
        offer_cost[:, a] = action.offer_cost_share * order_value
        lever[a] = float(levers.get(action.id, levers.get(action.type, 1.0)))
    measured = ~np.isnan(responses["value_uplift"])
    action_value = np.where(measured, np.nan_to_num(responses["value_uplift"]) * lever,
                            uplift * stake * lever - p_treated * offer_cost)
    value_se = np.where(measured, np.nan_to_num(responses["value_se"]) * lever, 0.0)
    spend = (p_treated * offer_cost)[:, pair_action]
    expected = action_value[:, pair_action] - pair_contact_cost[None, :]
    return OptionValues(expected_value=expected, offer_spend=np.maximum(spend, 0.0), order_value_median=median,
                        value_se=value_se[:, pair_action], measured=measured[:, pair_action])


def _value_at_stake(action: Action, margin_rate: float, clv: np.ndarray, order_value: np.ndarray,
                    upsell_probability: np.ndarray) -> np.ndarray | float:
    """Currency value a conversion of this action is worth, per customer."""
    if action.value_basis == "retained_clv":
        return margin_rate * clv
    if action.value_basis == "order_margin":
        return margin_rate * order_value
    if action.value_basis == "upsell_margin":
        return margin_rate * order_value * (1.0 + upsell_probability)
    return float(action.value_per_conversion)


def order_options(value: np.ndarray, listed: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per row, column indices in presentation order: chosen first, then value desc, then column order.

    Columns are laid out in tie-break order (no action first, then catalog priority, action id,
    channel), so a stable sort settles ties deterministically. Unlisted columns come last.
    """
    finite = np.abs(value[listed])
    offset = 2.0 * (float(finite.max()) if finite.size else 0.0) + 1.0  # lifts chosen options above all others
    key = np.where(listed, -(value + np.where(chosen, offset, 0.0)), np.inf)
    return np.argsort(key, axis=1, kind="stable")


@dataclass(frozen=True)
class SlotLayout:
    """How options group into slots (one choice each): all of a customer's options, or one action's."""

    columns: np.ndarray  # (K, W) option index per slot kind and column; -1 = padding

    @property
    def per_customer(self) -> int:
        return self.columns.shape[0]

    def gather(self, matrix: np.ndarray, fill) -> np.ndarray:
        """(C, P) per-option matrix -> (C * K, W) per-slot matrix."""
        if self.per_customer == 1 and np.array_equal(self.columns[0], np.arange(matrix.shape[1])):
            return matrix
        padded = np.concatenate([matrix, np.full((matrix.shape[0], 1), fill, dtype=matrix.dtype)], axis=1)
        return padded[:, self.columns].reshape(-1, self.columns.shape[1])

    def scatter(self, slot_matrix: np.ndarray, n_options: int, fill) -> np.ndarray:
        """(C * K, W) per-slot matrix -> (C, P) per-option matrix (inverse of gather)."""
        n_customers = slot_matrix.shape[0] // self.per_customer
        out = np.full((n_customers, n_options + 1), fill, dtype=slot_matrix.dtype)
        out[:, self.columns] = slot_matrix.reshape(n_customers, *self.columns.shape)
        return out[:, :n_options]


def build_layout(pair_action: np.ndarray, n_actions: int, one_action_per_customer: bool) -> SlotLayout:
    """One slot per customer, or (several actions allowed) one slot per customer and action."""
    if one_action_per_customer:
        return SlotLayout(np.arange(len(pair_action))[None, :])
    width = int(np.bincount(pair_action, minlength=n_actions).max())
    columns = np.full((n_actions, width), -1, dtype=np.int64)
    for a in range(n_actions):
        members = np.flatnonzero(pair_action == a)
        columns[a, :len(members)] = members
    return SlotLayout(columns)


def explain_not_chosen(problem: AllocationProblem, allocation: Allocation, layout: SlotLayout, choice: np.ndarray,
                       chosen: np.ndarray, feasible: np.ndarray, worth: np.ndarray, holdout: np.ndarray,
                       contactable: np.ndarray, one_action_per_customer: bool) -> np.ndarray:
    """(C, P) code into NOT_CHOSEN_REASONS (0 = none) for options that could have been chosen but were not."""
    slots = np.arange(len(choice))
    greedy = allocation.choice
    has = greedy >= 0
    g = np.maximum(greedy, 0)
    col = np.arange(problem.value.shape[1])[None, :]
    g_value = np.where(has, problem.value[slots, g], -np.inf)[:, None]
    better = (problem.value > g_value) | ((problem.value == g_value) & (col < g[:, None]))
    code = np.zeros(problem.value.shape, dtype=np.int8)
    candidate = problem.allowed & (col != choice[:, None])
    lower = candidate & ~better
    same_action = problem.action == np.where(has, problem.action[slots, g], -2)[:, None]
    code[lower] = _REASON["lower_value"]
    if one_action_per_customer:
        code[lower & ~same_action] = _REASON["one_action_per_customer"]
    displaced = candidate & better
    code[displaced] = _REASON["lower_value"]  # only when no binding limit explains it
    g_calls = np.where(has, problem.calls[slots, g], False)[:, None]
    g_spend = np.where(has, problem.spend[slots, g], 0.0)[:, None]
    rules = [(allocation.binding.get("action_caps", {}).get(a, False), problem.action == a, "action_cap")
             for a in problem.action_caps]
    rules += [(allocation.binding.get("budget", False), problem.spend > g_spend, "budget"),
              (allocation.binding.get("calls", False), problem.calls & ~g_calls, "capacity")]
    for binding, applies, reason in rules:  # reversed priority: capacity wins, then budget, then caps
        if binding:
            code[displaced & applies] = _REASON[reason]
    explored_away = (choice != greedy) & has
    code[slots[explored_away], greedy[explored_away]] = _REASON["exploration"]
    options = layout.scatter(code, feasible.shape[1], 0)
    options[feasible & ~worth & ~chosen] = _REASON["below_margin"]
    options[contactable & holdout[:, None]] = _REASON["holdout"]
    return options


def _number(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column]).astype("float64").to_numpy()
