"""Randomised control groups of the decision policy: the universal holdout and exploration.

Both are deterministic hashes, so the same inputs give the same groups byte for byte:
- holdout: sha256(salt + customer_id) in [0, 1) < holdout_share. It does not depend on the date, so a
  customer stays in (or out of) the holdout night after night; changing the salt reshuffles it.
- exploration: sha256(f"{seed}|{as_of}|{customer_id}") < exploration_share picks, afresh each night,
  the (non-holdout) customers who are explored; each explored slot then draws its option uniformly
  with its own hash key (see draw_uniform).

The logging policy is "greedy with probability 1 - eps, else uniform over the exploration set", so the
probability of the greedy option is 1 - eps + eps/n and of every other member eps/n (n = set size,
'no action' included). Options that spend a globally limited resource (call slots, offer budget, capped
action volume) are in an explored customer's set only for a hashed share q of the customers
(`limited_exploration_share`): q is set so that exploration is expected to use about eps of each limit,
so calls and offers are explored too but never take the bulk of a limit. When the draws push a limit
over, the plan's own lowest-value uses give way (constraints.repair_keeping). The recorded probabilities
are the ones each customer's set gave; a customer whose plan choice was moved that way is recorded with
the moved choice as its greedy option.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import numpy as np

_SCALE = float(2**64)


def hash_unit_interval(keys: Iterable[str], *, offset: int = 0) -> np.ndarray:
    """Map each key to [0, 1) with 8 bytes of its sha256 digest (bytes offset..offset+8)."""
    sha256 = hashlib.sha256
    digests = b"".join([sha256(key.encode("utf-8")).digest()[offset:offset + 8] for key in keys])
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / _SCALE


def assign_holdout(customer_ids: Iterable[str], salt: str, share: float) -> np.ndarray:
    """True for customers in the universal holdout (stable across nights for a fixed salt)."""
    return hash_unit_interval(salt + str(cid) for cid in customer_ids) < share


def assign_exploration(customer_ids: Iterable[str], seed: int, as_of: date, share: float) -> np.ndarray:
    """True for customers explored this night (a fresh share every night, fixed by seed and date)."""
    prefix = f"{seed}|{as_of.isoformat()}|"
    return hash_unit_interval(prefix + str(cid) for cid in customer_ids) < share


def draw_uniform(keys: Iterable[str]) -> np.ndarray:
    """One uniform [0, 1) draw per key (e.g. seed|as_of|customer|slot), independent across keys."""
    return hash_unit_interval(keys)


def explore(greedy: np.ndarray, members: np.ndarray, explored: np.ndarray, draw: np.ndarray,
            share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply exploration to each slot; returns (choice, option probabilities, n).

    greedy: (S,) column the solver chose, -1 for none. members: (S, W) options the uniform draw may
    pick besides 'no action' (the greedy column is added). explored, draw: (S,) per slot; `draw` is
    only read where explored. n: size of each slot's exploration set, 'no action' included, so the
    probability of 'no action' is (1 - share) * [greedy is none] + share / n.
    """
    slots = np.arange(len(greedy))
    members = members.copy()
    has_greedy = greedy >= 0
    members[slots[has_greedy], greedy[has_greedy]] = True
    n = members.sum(axis=1) + 1
    choice = greedy.copy()
    rows = np.flatnonzero(explored)
    pick = np.minimum((draw[rows] * n[rows]).astype(np.int64), n[rows] - 1)  # 0 = no action, k = k-th member
    hit = members[rows] & (np.cumsum(members[rows], axis=1) == pick[:, None])
    choice[rows] = np.where(pick > 0, hit.argmax(axis=1), -1)

    probability = np.where(members, (share / n)[:, None], 0.0)
    probability[slots[has_greedy], greedy[has_greedy]] += 1.0 - share
    return choice, probability, n


def no_action_probability(greedy_none: np.ndarray, n: np.ndarray, share: float) -> np.ndarray:
    """Probability a customer gets nothing at all, from per-slot (C, K) greedy-is-none flags and set sizes.

    Greedy with probability 1 - share (nothing only if every slot's greedy choice is nothing); when
    explored, each slot draws independently, so nothing at all has probability prod(1 / n).
    """
    return (1.0 - share) * greedy_none.all(axis=1) + share * np.prod(1.0 / n, axis=1)


def limited_exploration_share(problem, limited: np.ndarray, explored: np.ndarray, share: float) -> float:
    """The share q of explored customers whose exploration set may include options using a limited resource,
    so that exploration is expected to use at most `share` of each limit (1 when that is never binding).

    limited: (S, W) the feasible options that use a limited resource; explored: (S,) slots explored tonight.
    """
    if share <= 0 or not (limited & explored[:, None]).any():
        return 0.0
    per_draw = 1.0 / (limited[explored].sum(axis=1) + 1 + 1)  # at most: the limited options plus greedy and none
    rows = np.flatnonzero(explored)
    weight = limited[rows] * per_draw[:, None]  # expected use of each option per explored slot if q = 1
    ratios = []
    if problem.capacity_calls is not None:
        expected = float((weight * problem.calls[rows]).sum())
        ratios.append(share * problem.capacity_calls / expected if expected > 0 else 1.0)
    if problem.budget is not None:
        expected = float((weight * problem.spend[rows]).sum())
        ratios.append(share * problem.budget / expected if expected > 0 else 1.0)
    for action, cap in problem.action_caps.items():
        expected = float((weight * (problem.action[rows] == action)).sum())
        ratios.append(share * cap / expected if expected > 0 else 1.0)
    return float(min([1.0, *ratios]))
