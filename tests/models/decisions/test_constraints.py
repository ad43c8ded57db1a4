"""The constrained choice: the Lagrangian solver is feasible, close to the exact MILP optimum, and honest."""
import numpy as np
import pytest

from models.decisions.constraints import (AllocationProblem, is_feasible, measure_constraint_costs, measure_usage, repair,
                                solve_exact, solve_lagrangian)


def random_problem(seed: int, slots: int = 300, *, calls=25, budget=30.0, caps=None) -> AllocationProblem:
    """Slots x 6 options: actions 0-2 on two channels each; column 1 and 3 are phone calls, action 0 spends."""
    rng = np.random.default_rng(seed)
    action = np.tile(np.array([0, 0, 1, 1, 2, 2]), (slots, 1))
    calls_mask = np.tile(np.array([False, True, False, True, False, False]), (slots, 1))
    value = rng.gamma(1.5, 3.0, (slots, 6)) + calls_mask * rng.normal(2.0, 2.0, (slots, 6))
    spend = np.where(action == 0, rng.gamma(2.0, 0.8, (slots, 1)), 0.0)
    allowed = (rng.random((slots, 6)) < 0.7) & (value > 0.5)
    return AllocationProblem(value=value, allowed=allowed, calls=calls_mask, spend=spend, action=action, n_actions=3,
                             capacity_calls=calls, budget=budget, action_caps=caps or {})


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_is_feasible_and_close_to_the_exact_optimum(seed):
    problem = random_problem(seed, caps={2: 60} if seed % 2 else {})
    heuristic, exact = solve_lagrangian(problem), solve_exact(problem)
    assert is_feasible(problem, heuristic.choice) and is_feasible(problem, exact.choice)
    assert heuristic.objective <= exact.objective + 1e-6
    assert exact.objective <= heuristic.dual_bound + 1e-6  # the dual bound really bounds the optimum
    gap_to_optimum = (exact.objective - heuristic.objective) / exact.objective
    print(f"seed {seed}: gap to MILP optimum {gap_to_optimum:.5%}, reported dual gap {heuristic.gap:.5%}")
    assert gap_to_optimum < 0.005
    assert heuristic.gap < 0.01


def test_binding_limits_are_priced_and_reported():
    problem = random_problem(1)
    allocation = solve_lagrangian(problem)
    assert allocation.binding["calls"] and allocation.binding["budget"]
    assert allocation.prices["calls"] > 0 and allocation.prices["budget"] > 0
    assert allocation.usage["calls"] <= 25 and allocation.usage["budget"] <= 30.0 + 1e-9
    costs = measure_constraint_costs(problem, allocation)
    assert costs["capacity_calls_per_night"] > 0 and costs["offer_budget_per_night"] > 0
    assert costs["action_volume_caps"] == 0.0
    # the cost of the calls limit is what dropping it gains, as measured by the exact solver too
    exact_gain = solve_exact(AllocationProblem(**{**problem.__dict__, "capacity_calls": None})).objective \
        - solve_exact(problem).objective
    assert costs["capacity_calls_per_night"] == pytest.approx(exact_gain, rel=0.05)


def test_shadow_price_of_a_call_is_the_marginal_value_of_one_more_slot():
    # slot i gains i+1 by calling instead of emailing; 3 call slots: the 4th caller gains 2, the 3rd 3
    value = np.array([[1.0, 1.0 + gain] for gain in (1, 2, 3, 4, 5, 6)])
    problem = AllocationProblem(value=value, allowed=np.ones_like(value, bool), calls=np.array([[False, True]] * 6),
                                spend=np.zeros_like(value), action=np.zeros_like(value, int), n_actions=1,
                                capacity_calls=3)
    allocation = solve_lagrangian(problem)
    assert allocation.prices["calls"] == pytest.approx(3.5)  # between the 3rd (4) and 4th (3) best advantage
    assert allocation.choice.tolist() == [0, 0, 0, 1, 1, 1]
    assert allocation.objective == pytest.approx(6 + 4 + 5 + 6)
    bigger = solve_lagrangian(AllocationProblem(**{**problem.__dict__, "capacity_calls": 4}))
    assert 3 <= bigger.objective - allocation.objective <= allocation.prices["calls"]


def test_repair_moves_the_cheapest_losses_to_their_next_best_option():
    value = np.array([[10.0, 9.0, 0.0], [10.0, 2.0, 0.0], [10.0, 0.0, 8.5]])
    allowed = np.array([[True, True, False], [True, True, False], [True, False, True]])
    problem = AllocationProblem(value=value, allowed=allowed, calls=np.array([[True, False, False]] * 3),
                                spend=np.zeros_like(value), action=np.array([[0, 1, 2]] * 3), n_actions=3,
                                capacity_calls=1)
    choice, moved, cut = repair(problem, np.array([0, 0, 0]))
    assert choice.tolist() == [1, 0, 2]  # slot 1 keeps the call: moving it would lose 8
    assert moved == 2 and cut == {"calls"}
    assert is_feasible(problem, choice)


def test_ties_at_the_price_are_repaired_to_feasibility():
    """Identical slots make the priced choice ambiguous (every slot sits exactly at the price)."""
    value = np.tile([2.0, 5.0, 0.0], (10, 1))
    spend = np.tile([0.0, 1.0, 0.0], (10, 1))
    problem = AllocationProblem(value=value, allowed=value > 0, calls=np.tile([False, True, False], (10, 1)),
                                spend=spend, action=np.tile([0, 1, 2], (10, 1)), n_actions=3, capacity_calls=3,
                                budget=2.0)
    allocation = solve_lagrangian(problem)
    assert is_feasible(problem, allocation.choice)
    assert allocation.choice.tolist().count(1) == 2  # the budget (2.0) binds before the 3 call slots
    assert allocation.objective == pytest.approx(2 * 5.0 + 8 * 2.0)


def test_without_limits_every_slot_takes_its_best_option():
    problem = random_problem(4, calls=None, budget=None)
    allocation = solve_lagrangian(problem)
    best = np.where(problem.allowed, problem.value, -np.inf)
    expected = np.where(problem.allowed.any(axis=1), best.argmax(axis=1), -1)
    assert allocation.choice.tolist() == expected.tolist()
    assert allocation.gap == 0.0 and allocation.repaired_slots == 0
    assert measure_constraint_costs(problem, allocation) == {"capacity_calls_per_night": 0.0,
                                                             "offer_budget_per_night": 0.0, "action_volume_caps": 0.0}


def test_zero_capacity_and_empty_problems():
    problem = random_problem(2, calls=0, budget=0.0)
    allocation = solve_lagrangian(problem)
    use = measure_usage(problem, allocation.choice)
    assert use["calls"] == 0 and use["budget"] == 0.0 and use["objective"] > 0
    empty = AllocationProblem(value=np.zeros((3, 2)), allowed=np.zeros((3, 2), bool), calls=np.zeros((3, 2), bool),
                              spend=np.zeros((3, 2)), action=np.zeros((3, 2), int), n_actions=1, capacity_calls=5)
    assert solve_lagrangian(empty).choice.tolist() == [-1, -1, -1]
    assert solve_exact(empty).objective == 0.0


def test_a_held_out_slot_is_priced_as_the_plans_slots_are():
    """At the solver's prices a slot takes what the plan's slots take: where the call capacity binds, the plan's
    slots that got no call would again get none — and a held-out slot like them (the holdout's withheld option,
    models/decisions/plan.withheld_options) gets the same, not the call it would get with the limits aside."""
    from dataclasses import replace

    from models.decisions.constraints import priced_choice

    problem = random_problem(2)
    allocation = solve_lagrangian(problem)
    assert allocation.prices["calls"] > 0
    priced = priced_choice(problem, allocation.prices)
    assert (priced == allocation.choice).mean() > 0.95  # the priced rule is the plan's but for repair and fill
    assert problem.calls[np.arange(len(priced))[priced >= 0], priced[priced >= 0]].sum() <= 25 + 3
    free = priced_choice(problem, {"calls": 0.0, "budget": 0.0, "action_caps": {}})
    limits_aside_calls = problem.calls[np.arange(len(free))[free >= 0], free[free >= 0]].sum()
    assert limits_aside_calls > 2 * 25  # with the limits aside far more slots would take a call
    held = replace(problem, allowed=problem.allowed & (np.arange(len(priced)) % 2 == 0)[:, None])
    assert (priced_choice(held, allocation.prices)[::2] == priced[::2]).all()
