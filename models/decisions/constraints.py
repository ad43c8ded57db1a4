"""Choose at most one option per slot to maximise total expected value under the night's global limits.

Limits: call-centre slots (options on the phone channel), the offer budget (expected offer spend)
and per-action volume caps. A slot is a customer (one outbound action per customer) or a
customer x action (when several actions per customer are allowed).

Method (solve_lagrangian): Lagrangian relaxation. Each limit gets a multiplier (the price of one
unit of it); given the prices every slot independently takes its option with the highest
value - price x resources, or nothing when none is positive. The call and volume-cap prices have a
closed form (midpoint between the k-th and k+1-th largest advantage of using the resource); the
budget price is found by bisection; the three are updated in turn until they settle. The priced
choice is then repaired greedily until every limit holds (slots that lose their option fall back
to their next best allowed option), and slack left by the repair is filled greedily by value.
The Lagrangian dual at the final prices is an upper bound on the optimum, so the reported gap is
an honest bound on how far from optimal the allocation can be. solve_exact solves the same
problem as a MILP with HiGHS, for small instances and for testing that gap.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

MAX_ROUNDS = 8
BISECTION_STEPS = 60
PRICE_TOLERANCE = 1e-5
BUDGET_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AllocationProblem:
    """Slots x options; columns of a row are in tie-break order (the first of equal values wins)."""

    value: np.ndarray       # (S, W) float64 expected value of each option
    allowed: np.ndarray     # (S, W) bool: the option may be chosen
    calls: np.ndarray       # (S, W) bool: the option takes one call-centre slot
    spend: np.ndarray       # (S, W) float64 >= 0: expected offer spend charged to the budget
    action: np.ndarray      # (S, W) int: action index of the option (-1 for padding)
    n_actions: int
    capacity_calls: int | None = None
    budget: float | None = None
    action_caps: Mapping[int, int] = field(default_factory=dict)


@dataclass
class Allocation:
    """A feasible choice per slot (-1 = nothing) with its objective and solver diagnostics."""

    choice: np.ndarray
    objective: float
    dual_bound: float
    method: str
    prices: dict = field(default_factory=dict)     # calls, budget, action_caps {action: price}
    binding: dict = field(default_factory=dict)    # calls, budget, action_caps {action: bool}
    usage: dict = field(default_factory=dict)      # calls, budget, actions {action: count}
    rounds: int = 0
    repaired_slots: int = 0

    @property
    def gap(self) -> float:
        """Relative distance between the objective and the upper bound (0 = proven optimal)."""
        return max(0.0, self.dual_bound - self.objective) / max(abs(self.dual_bound), 1e-9)


# ---------------------------------------------------------------- evaluation helpers

def measure_usage(problem: AllocationProblem, choice: np.ndarray) -> dict:
    """Objective and resource use of a choice vector."""
    rows = np.flatnonzero(choice >= 0)
    cols = choice[rows]
    counts = np.bincount(problem.action[rows, cols], minlength=problem.n_actions) if len(rows) else np.zeros(problem.n_actions, int)
    return {"objective": float(problem.value[rows, cols].sum()), "calls": int(problem.calls[rows, cols].sum()),
            "budget": float(problem.spend[rows, cols].sum()), "actions": {a: int(c) for a, c in enumerate(counts)}}


def is_feasible(problem: AllocationProblem, choice: np.ndarray) -> bool:
    """True when the choice respects allowed options and every global limit."""
    rows = np.flatnonzero(choice >= 0)
    return bool(problem.allowed[rows, choice[rows]].all()) and within_limits(problem, choice)


def within_limits(problem: AllocationProblem, choice: np.ndarray) -> bool:
    """True when the choice respects every global limit (calls, budget, action caps)."""
    use = measure_usage(problem, choice)
    return ((problem.capacity_calls is None or use["calls"] <= problem.capacity_calls)
            and (problem.budget is None or use["budget"] <= problem.budget * (1 + BUDGET_TOLERANCE) + BUDGET_TOLERANCE)
            and all(use["actions"].get(a, 0) <= cap for a, cap in problem.action_caps.items()))


def _best(adjusted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: best column (-1 when no option is worth more than nothing) and its adjusted value."""
    col = adjusted.argmax(axis=1)
    best = np.take_along_axis(adjusted, col[:, None], axis=1)[:, 0]
    return np.where(best > 0, col, -1), np.maximum(best, 0.0)


class _Pricer:
    """Adjusted values value - prices x resources, with the base masked once."""

    def __init__(self, problem: AllocationProblem):
        self.p = problem
        self.base = np.where(problem.allowed, problem.value, -np.inf)

    def adjusted(self, calls: float, budget: float, caps: np.ndarray, rows=slice(None)) -> np.ndarray:
        out = self.base[rows].copy()
        if calls:
            out -= calls * self.p.calls[rows]
        if budget:
            out -= budget * self.p.spend[rows]
        if caps.any():
            extended = np.append(caps, 0.0)  # index -1 (padding) -> 0
            out -= extended[self.p.action[rows]]
        return out

    def dual(self, calls: float, budget: float, caps: np.ndarray) -> float:
        """Lagrangian dual value: an upper bound on the optimum for any non-negative prices."""
        _, best = _best(self.adjusted(calls, budget, caps))
        bound = float(best.sum())
        if self.p.capacity_calls is not None:
            bound += calls * self.p.capacity_calls
        if self.p.budget is not None:
            bound += budget * self.p.budget
        return bound + sum(float(caps[a]) * cap for a, cap in self.p.action_caps.items())


def _count_price(pricer: _Pricer, uses: np.ndarray, capacity: int, calls: float, budget: float,
                 caps: np.ndarray) -> float:
    """Price of a unit resource: midpoint of the capacity-th and next largest advantage of using it.

    A slot's advantage is its best priced option using the resource minus its best priced option
    without it (or nothing); at a price between the two order statistics exactly `capacity` slots use it.
    """
    rows = np.flatnonzero((pricer.p.allowed & uses).any(axis=1))
    if len(rows) <= capacity:
        return 0.0
    adjusted = pricer.adjusted(calls, budget, caps, rows)
    uses = uses[rows]
    with_resource = np.where(uses, adjusted, -np.inf).max(axis=1)
    without = np.maximum(np.where(uses, -np.inf, adjusted).max(axis=1), 0.0)
    advantage = with_resource - without
    advantage = advantage[advantage > 0]
    if len(advantage) <= capacity:
        return 0.0
    if capacity == 0:
        return float(advantage.max()) + 1.0
    top = -np.partition(-advantage, [capacity - 1, capacity])[[capacity - 1, capacity]]
    return float(top[0] + top[1]) / 2.0


def _budget_price(pricer: _Pricer, calls: float, caps: np.ndarray, previous: float) -> float:
    """Smallest budget price at which the priced choice spends within the budget (bracket + bisection).

    Only rows and columns with an allowed option that spends are looked at; every other option is
    folded into a per-row floor (the best option that spends nothing, or nothing at all).
    """
    problem = pricer.p
    spends = problem.allowed & (problem.spend > 0)
    rows = np.flatnonzero(spends.any(axis=1))
    if not len(rows):
        return 0.0
    cols = np.flatnonzero(spends[rows].any(axis=0))
    adjusted = pricer.adjusted(calls, 0.0, caps, rows)
    floor = np.maximum(np.where(problem.spend[rows] > 0, -np.inf, adjusted).max(axis=1), 0.0).astype(np.float32)
    spend = problem.spend[rows][:, cols].astype(np.float32)
    costly = np.where(spend > 0, adjusted[:, cols], -np.inf).astype(np.float32)  # float32: half the memory traffic
    index = np.arange(len(rows))
    buffer = np.empty_like(costly)

    def spent(price: float) -> float:
        np.multiply(spend, np.float32(-price), out=buffer)
        np.add(buffer, costly, out=buffer)
        col = buffer.argmax(axis=1)
        take = np.take_along_axis(buffer, col[:, None], axis=1)[:, 0] > floor
        return float(spend[index[take], col[take]].sum(dtype=np.float64))

    if spent(0.0) <= problem.budget:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ceiling = float(np.max(np.where(spend > 0, (costly - floor[:, None]) / spend, 0.0))) * (1 + 1e-6) + 1e-9
    low, high = _bracket(spent, problem.budget, previous, ceiling)
    for _ in range(BISECTION_STEPS):
        if high - low <= PRICE_TOLERANCE * high:
            break
        middle = (low + high) / 2 if low == 0 or high / low < 2 else (low * high) ** 0.5
        if spent(middle) > problem.budget:
            low = middle
        else:
            high = middle
    return high


def _bracket(spent, budget: float, previous: float, ceiling: float) -> tuple[float, float]:
    """(low, high) with spent(low) > budget >= spent(high), grown geometrically around `previous`."""
    step = 1.05 if previous else 4.0
    guess = min(previous or 1.0, ceiling)
    if spent(guess) > budget:
        low, high = guess, min(guess * step, ceiling)
        while high < ceiling and spent(high) > budget:
            low, high = high, min(high * step * step, ceiling)
        return low, high
    low, high = guess / step, guess
    while low > 1e-12 and spent(low) <= budget:
        low, high = low / (step * step), low
    return (low if low > 1e-12 else 0.0), high


def find_prices(pricer: _Pricer, start: Mapping | None = None) -> tuple[float, float, np.ndarray, int]:
    """Coordinate search of the multipliers (calls, budget, per-action caps); returns them and rounds.

    `start` (prices of a similar problem, as in Allocation.prices) only speeds up the search.
    """
    problem = pricer.p
    start = start or {}
    calls = float(start.get("calls", 0.0)) if problem.capacity_calls is not None else 0.0
    budget = float(start.get("budget", 0.0)) if problem.budget is not None else 0.0
    caps = np.zeros(problem.n_actions, dtype=np.float64)
    for a, price in (start.get("action_caps") or {}).items():
        if a in problem.action_caps:
            caps[a] = price
    rounds = 0
    for rounds in range(1, MAX_ROUNDS + 1):
        before = (calls, budget, caps.copy())
        if problem.capacity_calls is not None:
            calls = _count_price(pricer, problem.calls, problem.capacity_calls, 0.0, budget, caps)
        for a, cap in sorted(problem.action_caps.items()):
            others = caps.copy()
            others[a] = 0.0
            caps[a] = _count_price(pricer, problem.action == a, cap, calls, budget, others)
        if problem.budget is not None:
            budget = _budget_price(pricer, calls, caps, budget)
        change = max(abs(calls - before[0]), abs(budget - before[1]), float(np.abs(caps - before[2]).max(initial=0.0)))
        if change <= 10 * PRICE_TOLERANCE * max(calls, budget, float(caps.max(initial=0.0)), 1e-9):
            break
    return calls, budget, caps, rounds


# ---------------------------------------------------------------- repair and fill

def _fallback(problem: AllocationProblem, rows: np.ndarray, banned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best allowed, non-banned option (by raw value) for `rows` given their ban mask; value 0 for none."""
    values = np.where(problem.allowed[rows] & ~banned, problem.value[rows], -np.inf)
    return _best(values)


def _shed_count(problem, choice, banned, uses: np.ndarray, excess: int) -> int:
    """Move the `excess` cheapest-to-move slots using a unit resource to their best option without it."""
    rows = np.flatnonzero(choice >= 0)
    rows = rows[uses[rows, choice[rows]]]
    trial_ban = banned[rows] | uses[rows]
    new_col, new_value = _fallback(problem, rows, trial_ban)
    loss = problem.value[rows, choice[rows]] - new_value
    order = np.lexsort((rows, loss))[:excess]
    moved = rows[order]
    banned[moved] = trial_ban[order]
    choice[moved] = new_col[order]
    return len(moved)


def _shed_budget(problem, choice, banned, excess: float) -> int:
    """Move slots to cheaper options, least value lost per unit of spend saved first, until within budget."""
    rows = np.flatnonzero(choice >= 0)
    current = problem.spend[rows, choice[rows]]
    rows, current = rows[current > 0], current[current > 0]
    trial_ban = banned[rows] | (problem.spend[rows] >= current[:, None])
    new_col, new_value = _fallback(problem, rows, trial_ban)
    new_spend = np.where(new_col >= 0, problem.spend[rows, np.maximum(new_col, 0)], 0.0)
    saving = current - new_spend
    loss = problem.value[rows, choice[rows]] - new_value
    order = np.lexsort((rows, loss / saving))
    enough = np.searchsorted(np.cumsum(saving[order]), excess * (1 - 1e-12)) + 1
    order = order[:enough]
    moved = rows[order]
    banned[moved] = trial_ban[order]
    choice[moved] = new_col[order]
    return len(moved)


def repair(problem: AllocationProblem, choice: np.ndarray) -> tuple[np.ndarray, int, set[str]]:
    """Greedily move slots off over-used resources until every limit holds; returns choice, moves, limits cut."""
    choice = choice.copy()
    banned = np.zeros(problem.allowed.shape, dtype=bool)
    moved, cut = 0, set()
    for _ in range(1000):
        use = measure_usage(problem, choice)
        if problem.capacity_calls is not None and use["calls"] > problem.capacity_calls:
            moved += _shed_count(problem, choice, banned, problem.calls, use["calls"] - problem.capacity_calls)
            cut.add("calls")
            continue
        if problem.budget is not None and use["budget"] > problem.budget * (1 + BUDGET_TOLERANCE) + BUDGET_TOLERANCE:
            moved += _shed_budget(problem, choice, banned, use["budget"] - problem.budget)
            cut.add("budget")
            continue
        over = [(a, use["actions"][a] - cap) for a, cap in sorted(problem.action_caps.items()) if use["actions"][a] > cap]
        if not over:
            return choice, moved, cut
        a, excess = over[0]
        moved += _shed_count(problem, choice, banned, problem.action == a, excess)
        cut.add(f"action_{a}")
    raise RuntimeError("constraint repair did not converge")  # a bug, not a user error


def repair_keeping(problem: AllocationProblem, choice: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """`choice` made feasible by moving the other slots first: the `keep` slots' choices (e.g. exploration
    draws, whose probabilities are recorded) move only if nothing else can restore a limit."""
    pinned = problem.value.copy()
    rows = np.flatnonzero(keep & (choice >= 0))
    finite = np.abs(pinned[np.isfinite(pinned)])
    pinned[rows, choice[rows]] = 1e9 * (1.0 + (finite.max() if finite.size else 0.0))
    repaired, _, _ = repair(replace(problem, value=pinned), choice)
    return repaired


def fill_slack(problem: AllocationProblem, choice: np.ndarray) -> np.ndarray:
    """Upgrade slots to better options while the limits still have room, largest gain first."""
    choice = choice.copy()
    use = measure_usage(problem, choice)
    calls_left = np.inf if problem.capacity_calls is None else problem.capacity_calls - use["calls"]
    budget_left = np.inf if problem.budget is None else problem.budget - use["budget"]
    cap_left = {a: cap - use["actions"][a] for a, cap in problem.action_caps.items()}
    slots = np.arange(len(choice))
    has = choice >= 0
    current_col = np.maximum(choice, 0)
    cur_value = np.where(has, problem.value[slots, current_col], 0.0)
    cur_calls = np.where(has, problem.calls[slots, current_col], False)
    cur_spend = np.where(has, problem.spend[slots, current_col], 0.0)
    cur_action = np.where(has, problem.action[slots, current_col], -1)
    fits = problem.allowed & (problem.value > cur_value[:, None])
    fits &= (problem.calls.astype(np.int8) - cur_calls[:, None]) <= calls_left
    fits &= (problem.spend - cur_spend[:, None]) <= budget_left
    for a, left in cap_left.items():
        fits &= ~((problem.action == a) & (cur_action[:, None] != a)) | (left >= 1)
    candidates = np.flatnonzero(fits.any(axis=1))
    if not len(candidates):
        return choice
    col, _ = _best(np.where(fits[candidates], problem.value[candidates], -np.inf))
    gain = problem.value[candidates, col] - cur_value[candidates]
    for i in np.lexsort((candidates, -gain)):
        slot, new = int(candidates[i]), int(col[i])
        d_calls = int(problem.calls[slot, new]) - int(cur_calls[slot])
        d_spend = float(problem.spend[slot, new] - cur_spend[slot])
        new_action, old_action = int(problem.action[slot, new]), int(cur_action[slot])
        cap_ok = new_action == old_action or cap_left.get(new_action, 1) >= 1
        if d_calls > calls_left or d_spend > budget_left or not cap_ok:
            continue
        calls_left -= d_calls
        budget_left -= d_spend
        if new_action != old_action:
            if new_action in cap_left:
                cap_left[new_action] -= 1
            if old_action in cap_left:
                cap_left[old_action] += 1
        choice[slot] = new
    return choice


# ---------------------------------------------------------------- solvers

def priced_choice(problem: AllocationProblem, prices: Mapping) -> np.ndarray:
    """Per slot the option worth most after the given prices of the limits (Allocation.prices), -1 when none is
    worth more than nothing: the rule every slot follows in solve_lagrangian before its greedy repair and fill."""
    caps = np.zeros(problem.n_actions)
    for a, price in (prices.get("action_caps") or {}).items():
        caps[int(a)] = price
    choice, _ = _best(_Pricer(problem).adjusted(prices.get("calls", 0.0), prices.get("budget", 0.0), caps))
    return choice


def solve_lagrangian(problem: AllocationProblem, start: Mapping | None = None) -> Allocation:
    """Lagrangian prices + greedy repair + greedy fill; feasible by construction, with a dual bound."""
    pricer = _Pricer(problem)
    calls, budget, caps, rounds = find_prices(pricer, start)
    priced_choice, _ = _best(pricer.adjusted(calls, budget, caps))
    choice, moved, cut = repair(problem, priced_choice)
    choice = fill_slack(problem, choice)
    use = measure_usage(problem, choice)
    bound = pricer.dual(calls, budget, caps)
    caps_binding = {a: bool(caps[a] > 0 or f"action_{a}" in cut or use["actions"][a] >= cap)
                    for a, cap in problem.action_caps.items()}
    return Allocation(
        choice=choice, objective=use["objective"], dual_bound=max(bound, use["objective"]), method="lagrangian",
        prices={"calls": calls, "budget": budget, "action_caps": {a: float(caps[a]) for a in problem.action_caps}},
        binding={"calls": problem.capacity_calls is not None and (calls > 0 or "calls" in cut or use["calls"] >= problem.capacity_calls),
                 "budget": problem.budget is not None and (budget > 0 or "budget" in cut),
                 "action_caps": caps_binding},
        usage={k: use[k] for k in ("calls", "budget", "actions")}, rounds=rounds, repaired_slots=moved)


def solve_exact(problem: AllocationProblem, *, time_limit_s: float = 60.0) -> Allocation:
    """The same problem as a MILP (scipy.optimize.milp / HiGHS); meant for small instances and tests."""
    rows, cols = np.nonzero(problem.allowed)
    n_vars = len(rows)
    choice = np.full(problem.allowed.shape[0], -1, dtype=np.int64)
    if n_vars == 0:
        return Allocation(choice=choice, objective=0.0, dual_bound=0.0, method="milp")
    var = np.arange(n_vars)
    blocks = [sparse.csr_matrix((np.ones(n_vars), (rows, var)), shape=(problem.allowed.shape[0], n_vars))]
    upper = [np.ones(problem.allowed.shape[0])]
    if problem.capacity_calls is not None:
        blocks.append(sparse.csr_matrix(problem.calls[rows, cols].astype(np.float64)[None, :]))
        upper.append([problem.capacity_calls])
    if problem.budget is not None:
        blocks.append(sparse.csr_matrix(problem.spend[rows, cols][None, :]))
        upper.append([problem.budget])
    for a, cap in sorted(problem.action_caps.items()):
        blocks.append(sparse.csr_matrix((problem.action[rows, cols] == a).astype(np.float64)[None, :]))
        upper.append([cap])
    result = milp(-problem.value[rows, cols], integrality=np.ones(n_vars), bounds=Bounds(0, 1),
                  constraints=LinearConstraint(sparse.vstack(blocks).tocsr(), -np.inf, np.concatenate(upper)),
                  options={"time_limit": time_limit_s, "disp": False})
    if result.x is None:
        raise RuntimeError(f"MILP solver found no solution: {result.message}")
    picked = result.x > 0.5
    choice[rows[picked]] = cols[picked]
    use = measure_usage(problem, choice)
    bound = -float(result.mip_dual_bound) if getattr(result, "mip_dual_bound", None) is not None else use["objective"]
    return Allocation(choice=choice, objective=use["objective"], dual_bound=max(bound, use["objective"]), method="milp",
                      usage={k: use[k] for k in ("calls", "budget", "actions")})


def measure_constraint_costs(problem: AllocationProblem, allocation: Allocation) -> dict[str, float]:
    """Value left on the table per limit: objective without that limit minus with it (0 if not binding)."""
    relaxations = {"capacity_calls_per_night": ("calls", {"capacity_calls": None}),
                   "offer_budget_per_night": ("budget", {"budget": None}),
                   "action_volume_caps": ("action_caps", {"action_caps": {}})}
    costs = {}
    for name, (key, change) in relaxations.items():
        binding = allocation.binding.get(key)
        binding = any(binding.values()) if isinstance(binding, dict) else bool(binding)
        if not binding:
            costs[name] = 0.0
            continue
        relaxed = solve_lagrangian(replace(problem, **change), start=allocation.prices)
        costs[name] = max(0.0, relaxed.objective - allocation.objective)
    return costs
