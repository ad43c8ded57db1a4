"""Nightly decisions: per customer a ranked list of actions by expected incremental value, chosen under
consent, contact policy, control groups and the night's global limits.

Steps (each in its own module): catalog rules and the contact policy (models.decisions.policies), expected
value of every (customer, action, channel) option (models.decisions.arbitration), the universal holdout and
exploration (models.decisions.control_groups), and the constrained choice (models.decisions.constraints). This module
wires them and lays out the two output tables:

next_best_actions: per customer the options in presentation order, at most `top_k` rows:
    customer_id, rank (1 = first), action_id ('no_action' for none), channel (None for no action),
    expected_value, chosen, is_holdout, is_exploration (the customer was explored tonight: the
    chosen option is a uniform draw), selection_probability (probability the logging policy had of
    choosing this option), policy_version, model_versions (JSON text, sorted keys).
    Chosen options come first, then the rest by expected value desc; ties by catalog priority,
    action id, channel. Options are the contact-feasible actions plus 'no_action' (value 0).
decision_audit: one row per customer x catalog (action, channel):
    customer_id, action_id, channel, eligible, ineligible_rule ('eligibility: <clause>' /
    'suitability: <clause>', the first failing clause), suppressed, suppression_reason,
    expected_value, rank (as in next_best_actions, null when not an option), chosen,
    not_chosen_reason. Text columns are pandas Categoricals (a 1M-customer audit is ~17M rows).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from models.decisions.arbitration import (NOT_CHOSEN_REASONS, SlotLayout, build_layout, compute_option_values,
                                explain_not_chosen, order_options, response_matrices)
from models.decisions.catalog import CHANNELS, NO_ACTION, Catalog
from models.decisions.constraints import (Allocation, AllocationProblem, measure_constraint_costs, measure_usage,
                                priced_choice, repair_keeping, solve_lagrangian, within_limits)
from models.decisions.control_groups import (assign_exploration, assign_holdout, draw_uniform, explore,
                                   limited_exploration_share, no_action_probability)
from models.decisions.policies import (SUPPRESSION_REASONS, DecisionSettings, contact_policy_features, evaluate_eligibility,
                             evaluate_suppression, read_decision_settings)
from models.decisions.policy_selection import (LEARNED, NO_ACTION_POLICY, RANKED, SEGMENT, HeldOut, PolicyChoice,
                                               recency_segment, rule_segments, select_policy, z_of)

NBA_COLUMNS = ["customer_id", "rank", "action_id", "channel", "expected_value", "chosen", "is_holdout",
               "is_exploration", "selection_probability", "policy_version", "model_versions"]
AUDIT_COLUMNS = ["customer_id", "action_id", "channel", "eligible", "ineligible_rule", "suppressed",
                 "suppression_reason", "expected_value", "rank", "chosen", "not_chosen_reason"]
_HOLDOUT_CODE = SUPPRESSION_REASONS.index("holdout") + 1
# codes of tonight's contact rules, set by past contacts (the plan's own listed ones included)
_CONTACT_RULE_CODES = tuple(SUPPRESSION_REASONS.index(reason) + 1 for reason in
                            ("frequency_cap_7d", "frequency_cap_30d", "cooldown_after_decline"))
# codes under which a customer may still be contacted at all: none, or only tonight's contact rules or the holdout
_PERMITTED_CODES = (0, *_CONTACT_RULE_CODES, _HOLDOUT_CODE)


@dataclass
class DecisionResult:
    """The two decision tables and a JSON-ready summary of the night."""

    next_best_actions: pd.DataFrame
    decision_audit: pd.DataFrame
    summary: dict
    log: pd.DataFrame  # per customer the decision as it is kept in decision_log (see decision_log_rows)


def align_inputs(customers: pd.DataFrame, features: pd.DataFrame, scores: pd.DataFrame,
                 catalog: Catalog) -> tuple[pd.Index, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Customers sorted by id (so results never depend on input order) with features and scores aligned."""
    optional = [c for c in customers.columns if c == "days_since_any_decline" or c.startswith("logged_")]
    needs = {"customers": (customers, ["customer_id", "do_not_contact", *(f"consent_{ch}" for ch in CHANNELS),
                                       *optional]),
             "features": (features, ["customer_id", "avg_order_value_365d", "days_since_last_purchase",  # segment rule
                                     *contact_policy_features(),
                                     *sorted(set().union(*(_rule_features(a) for a in catalog.actions)))]),
             "scores": (scores, ["customer_id", "clv", "upsell_probability"])}
    aligned = {}
    for name, (frame, columns) in needs.items():
        columns = list(dict.fromkeys(columns))
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"decisions: {name} lacks column(s) {', '.join(missing)}")
        keyed = frame[columns].assign(customer_id=frame["customer_id"].astype(str)).set_index("customer_id")
        if keyed.index.has_duplicates:
            raise ValueError(f"decisions: {name} has customer_id '{keyed.index[keyed.index.duplicated()][0]}' more than once")
        aligned[name] = keyed
    ids = aligned["customers"].index.sort_values()
    return (ids, aligned["customers"].reindex(ids).reset_index(), aligned["features"].reindex(ids).reset_index(),
            aligned["scores"].reindex(ids).reset_index())


def _rule_features(action) -> set[str]:
    return set(action.eligibility.features) | (set(action.suitability.features) if action.suitability else set())


def decide(customers: pd.DataFrame, features: pd.DataFrame, scores: pd.DataFrame, responses: pd.DataFrame,
           catalog: Catalog, config: dict, *, as_of: date, suppressed_ids: set[str],
           model_versions: dict, held_out: HeldOut | None = None, deployed_policy: str | None = None) -> DecisionResult:
    """Choose tonight's action per customer; see the module docstring for the output tables.

    `config` is the full run config (its `seed` and `decisions` section are read); `suppressed_ids`
    are erased / suppressed customers, who get nothing at all. `held_out`: the response model's held-out
    randomised rows; with them the plan is the policy that wins on them (models/decisions/policy_selection.py),
    without them (no randomised history) the learned / prior-based plan, flagged in the summary. `deployed_policy`:
    the policy of the last night before `as_of` (warehouse.read_deployed_policy), which stays unless tonight's best is
    shown better, it is shown to lose value, or it is a targeted rule not shown better than a simpler tonight's best
    (policy_selection.kept_or_replaced).
    """
    settings = read_decision_settings(config, catalog)
    ids, customers, features, scores = align_inputs(customers, features, scores, catalog)
    options = evaluate_options(ids, customers, features, scores, responses, catalog, settings, suppressed_ids)
    chosen_options = choose_options(options, settings, as_of)
    choice = None
    if held_out is not None and len(held_out.rows):
        choice = choose_policy(options, chosen_options, held_out, catalog, settings, deployed_policy)
        if choice.winner != LEARNED:
            options = with_policy_values(options, choice, features, catalog)
            chosen_options = choose_options(options, settings, as_of, apply_confidence=False)
    result = lay_out_results(options, chosen_options, settings, catalog, model_versions)
    result.summary["policy_selection"] = (choice.as_dict() if choice is not None else
                                          {"winner": LEARNED, "reason": "no action has enough randomised contacts with "
                                           "a settled outcome for a value model (training.response_min_contacts per arm), "
                                           "so the plan rests on the catalog priors and is not validated against simple "
                                           "policies"})
    return result


@dataclass
class Options:
    """Every (customer, action, channel) option of the night, customers in id order, options in pair order."""

    ids: pd.Index
    pairs: tuple[tuple[str, str], ...]
    actions: tuple
    eligible: np.ndarray      # (C, P) the action's rules hold
    failing: np.ndarray       # (C, P) code of the first failing rule clause, -1 when eligible
    rule_labels: list[str]
    suppression: np.ndarray   # (C, P) 0 or 1-based code into SUPPRESSION_REASONS
    holdout: np.ndarray       # (C,)
    expected_value: np.ndarray
    offer_spend: np.ndarray
    order_value_median: float
    value_se: np.ndarray      # (C, P) standard error of expected_value (0 where it is a catalog prior)
    channel_ok: np.ndarray    # (C, len(CHANNELS)) consent / do-not-contact / erasure / contact policy allow it
    channel_permitted: np.ndarray  # (C, len(CHANNELS)) consent / do-not-contact / erasure / reachability allow it
    # (tonight's contact policy and the holdout aside): who a policy may contact at all, what policies are valued on

    @property
    def contactable(self) -> np.ndarray:
        """Eligible and allowed by consent and contact policy (the holdout aside)."""
        return self.eligible & ((self.suppression == 0) | (self.suppression == _HOLDOUT_CODE))


@dataclass
class ChosenOptions:
    """The chosen options with the solver's view, the exploration outcome and the reasons."""

    problem: AllocationProblem
    allocation: Allocation
    explored: np.ndarray      # (C,)
    choice: np.ndarray        # (S,) final column per slot
    chosen: np.ndarray        # (C, P)
    probability: np.ndarray   # (C, P) selection probability of each option
    no_action_probability: np.ndarray  # (C,)
    reasons: np.ndarray       # (C, P) code into NOT_CHOSEN_REASONS
    withheld: np.ndarray      # (C,) for holdout customers the option the plan would have chosen (-1: none)
    threshold_removed: dict   # customers left with no action by min_margin_value / option_confidence, and the
                              # estimated value of their best option so held back
    contact_rules_held_back: dict  # customers whose best option worth sending is on a channel tonight's contact rules
                                   # close, and how much better it is than their best open one (contact_rules_held_back)
    exploration_set: np.ndarray | None = None  # (C,) explored customers' uniform draw set (exploration_sets)


def evaluate_options(ids, customers, features, scores, responses, catalog: Catalog, settings: DecisionSettings,
                     suppressed_ids: set[str]) -> Options:
    """Rules, consent / contact policy / holdout and expected value of every option (inputs aligned to ids)."""
    actions = catalog.ordered_actions()
    pairs = catalog.pairs()
    action_index = {a.id: i for i, a in enumerate(actions)}
    pair_action = np.array([action_index[a] for a, _ in pairs], dtype=np.int64)
    pair_channel = np.array([CHANNELS.index(ch) for _, ch in pairs], dtype=np.int64)
    pair_cost = np.array([catalog.action(a).cost_per_contact[ch] for a, ch in pairs], dtype=np.float64)
    eligible, failing, rule_labels = evaluate_eligibility(features, actions)
    holdout = assign_holdout(ids, settings.holdout_salt, settings.holdout_share)
    erased = ids.isin(set(map(str, suppressed_ids)))
    by_channel = evaluate_suppression(customers, features, erased, holdout, CHANNELS, settings.contact_policy)
    values = compute_option_values(features, scores, response_matrices(responses, ids, actions), actions,
                                   pair_action, pair_cost, margin_rate=settings.margin_rate, levers=settings.levers)
    return Options(ids=ids, pairs=pairs, actions=actions, eligible=eligible[:, pair_action],
                   failing=failing[:, pair_action], rule_labels=rule_labels, suppression=by_channel[:, pair_channel],
                   holdout=holdout, expected_value=values.expected_value, offer_spend=values.offer_spend,
                   order_value_median=values.order_value_median, value_se=values.value_se,
                   channel_ok=(by_channel == 0) | (by_channel == _HOLDOUT_CODE),
                   channel_permitted=np.isin(by_channel, _PERMITTED_CODES))


def choose_options(options: Options, settings: DecisionSettings, as_of: date, *, apply_confidence: bool = True) -> ChosenOptions:
    """Solve the constrained choice, apply exploration, and record probabilities and reasons.

    An option is worth sending when its value is positive, at least `min_margin_value`, and (with
    `apply_confidence`) the lower bound of its value at `option_confidence` is positive."""
    ev, holdout, contactable = options.expected_value, options.holdout, options.contactable
    feasible = contactable & ~holdout[:, None]
    passes = (ev >= settings.min_margin_value) & (ev > 0)
    if apply_confidence:
        passes &= ev - z_of(settings.option_confidence) * options.value_se > 0
    worth = contactable & passes
    removed = feasible & (ev > 0) & ~worth  # worth something by its estimate, held back by a threshold
    pair_action = np.array([[a.id for a in options.actions].index(a) for a, _ in options.pairs], dtype=np.int64)
    layout = build_layout(pair_action, len(options.actions), settings.one_action_per_customer)
    problem = _allocation_problem(settings, layout, ev, worth & ~holdout[:, None], options.offer_spend,
                                  pair_action, options.pairs, [a.id for a in options.actions])
    allocation = solve_lagrangian(problem)

    explored = assign_exploration(options.ids, settings.seed, as_of, settings.exploration_share) & ~holdout
    slot_explored = np.repeat(explored, layout.per_customer)
    draw = np.zeros(len(slot_explored))
    draw[slot_explored] = draw_uniform(_draw_keys(options, explored, layout, settings, as_of))
    members = layout.gather(feasible, False)
    free = _unconstrained(problem)
    share = limited_exploration_share(problem, members & ~free, slot_explored, settings.exploration_share)
    may_use_limits = np.repeat(draw_uniform(f"{settings.seed}|{as_of.isoformat()}|{cid}|limited" for cid in options.ids)
                               < share, layout.per_customer)
    members &= free | may_use_limits[:, None]
    greedy = allocation.choice  # the plan's own choice per slot, recorded with probability 1 - eps (+ eps / n)
    choice, slot_probability, n = explore(greedy, members, slot_explored, draw, settings.exploration_share)
    if share > 0:  # explored calls / offers may push a limit over: the plan's own lowest-value uses give way
        greedy = np.where(slot_explored, allocation.choice, repair_keeping(problem, choice, slot_explored))
        choice, slot_probability, n = explore(greedy, members, slot_explored, draw, settings.exploration_share)
        if not within_limits(problem, choice):  # a limit too small to share: tonight explores free options only
            members &= free
            greedy = allocation.choice
            choice, slot_probability, n = explore(greedy, members, slot_explored, draw, settings.exploration_share)

    chosen = layout.scatter(_one_hot(choice, problem.value.shape[1]), len(options.pairs), False)
    probability = layout.scatter(slot_probability, len(options.pairs), 0.0)
    probability[holdout] = 0.0
    per_customer = (len(options.ids), layout.per_customer)
    p_none = no_action_probability((greedy < 0).reshape(per_customer), n.reshape(per_customer),
                                   settings.exploration_share)
    p_none[holdout] = 1.0
    reasons = explain_not_chosen(problem, allocation, layout, choice, chosen, feasible, worth, holdout, contactable,
                                 settings.one_action_per_customer)
    left_out = removed & ~chosen.any(axis=1, keepdims=True)
    withheld = withheld_options(problem, allocation, layout, worth & holdout[:, None], ev)
    return ChosenOptions(problem=problem, allocation=allocation, explored=explored, choice=choice, chosen=chosen,
                 probability=probability, no_action_probability=p_none, reasons=reasons, withheld=withheld,
                 threshold_removed={"customers": int(left_out.any(axis=1).sum()),
                                    "value": round(float(np.where(left_out, ev, 0.0).max(axis=1).sum()), 6)},
                 contact_rules_held_back=contact_rules_held_back(options, passes),
                 exploration_set=exploration_sets(options, layout, members, greedy, slot_explored))


def contact_rules_held_back(options: Options, passes: np.ndarray) -> dict:
    """What tonight's contact rules (frequency caps, the cool-down after a decline) held back: the customers, holdout
    aside, whose best option worth sending (`passes`: the value thresholds) is on a channel those rules close tonight
    and is worth more than their best open one; the sum of the differences by the options' estimates (before the
    night's limits on calls, budget and volumes); and the customers per reason of that closed option. The caps count
    the plan's own listed contacts, so a channel deployed every night is closed to last night's customers for as long
    as the cap's window lasts."""
    ev, customers = options.expected_value, ~options.holdout[:, None]
    closed = options.eligible & np.isin(options.suppression, _CONTACT_RULE_CODES) & passes & customers
    closed_value = np.where(closed, ev, 0.0)  # > 0 only on closed options worth sending
    best_open = np.where(options.contactable & passes & customers, ev, 0.0).max(axis=1, initial=0.0)
    held = closed_value.max(axis=1, initial=0.0) > best_open
    if not held.any():
        return {"customers": 0, "value": 0.0, "by_reason": {}}
    best = closed_value[held].argmax(axis=1)  # the best closed option, and the rule that closed it
    reason = options.suppression[held][np.arange(len(best)), best]
    by_reason = {SUPPRESSION_REASONS[code - 1]: int(np.sum(reason == code)) for code in _CONTACT_RULE_CODES}
    gap = closed_value[held].max(axis=1) - best_open[held]
    return {"customers": int(held.sum()), "value": round(float(gap.sum()), 6),
            "by_reason": {k: v for k, v in by_reason.items() if v}}


def withheld_options(problem: AllocationProblem, allocation: Allocation, layout: SlotLayout, allowed: np.ndarray,
                     ev: np.ndarray) -> np.ndarray:
    """Per customer the option withheld from a holdout customer (-1: none; `allowed` is False outside the holdout):
    the one the plan would choose were the customer not held out — its option worth most after tonight's prices of
    the call capacity, budget and volume caps, the rule every slot of the plan is priced by. Limits aside, a holdout
    customer whose best option is a call would be a control for calls while the plan calls only the customers worth
    a call slot; with several actions per customer, the most valuable of its slots' options."""
    held = replace(problem, allowed=layout.gather(allowed, False))
    priced = _one_hot(priced_choice(held, allocation.prices), problem.value.shape[1])
    chosen = layout.scatter(priced, ev.shape[1], False)
    value = np.where(chosen, ev, -np.inf)
    return np.where(chosen.any(axis=1), value.argmax(axis=1), -1)


def exploration_sets(options: Options, layout: SlotLayout, members: np.ndarray, greedy: np.ndarray,
                     slot_explored: np.ndarray) -> np.ndarray:
    """(C,) per explored customer the options its uniform draw chose from besides 'no action', as the action id of
    each (action, channel) option, sorted and comma-separated ('retain,retain,survey': retain on two channels);
    None for everybody else. Logged so that exploration becomes training data (models/training/uplift.py): an
    explored customer got action a with probability c/n and nothing with 1/n (c = a's options in the set, n = the
    set's size with 'no action'), so among those two outcomes contacted with the known probability c / (c + 1).
    One slot per customer only: with one slot per action the draws are separate experiments, not logged here."""
    out = np.full(len(options.ids), None, dtype=object)
    if layout.per_customer != 1:
        return out
    drawn_from = members.copy()
    rows = np.flatnonzero(slot_explored & (greedy >= 0))
    drawn_from[rows, greedy[rows]] = True
    action_of = np.array([options.pairs[c][0] if c >= 0 else "" for c in layout.columns[0]], dtype=object)
    for i in np.flatnonzero(slot_explored):
        out[i] = ",".join(sorted(action_of[drawn_from[i]]))
    return out


def choose_policy(options: Options, chosen_options: ChosenOptions, held_out: HeldOut, catalog: Catalog,
                  settings: DecisionSettings, deployed: str | None = None) -> PolicyChoice:
    """Value every candidate policy on the held-out randomised rows under tonight's consent and limits.

    A row's customer may be contacted by a candidate on the channels its consent, do-not-contact, erasure and
    reachability allow (`channel_permitted`), not only where tonight's contact policy and the holdout let it be
    listed: those depend on the contacts the rows are about. The plan's own experiment has the holdout as its controls
    and the customers it contacted as its treated, who are the ones capped or cooling down after a decline tonight;
    leaving them out of the valuation drops one arm of that experiment, or part of it. Measured on the twelfth night
    of a simulated lifecycle world (20,000 customers, seed 11): the upsell's eligible rows score +1.50 a contact,
    -0.38 with the holdout's rows left out; 'all:upsell_email' was valued at -18,824, and from the third night on the
    plan contacted only its exploration share."""
    rows = options.ids.get_indexer(held_out.rows["customer_id"].astype(str))
    contactable = np.zeros((len(rows), len(CHANNELS)), dtype=bool)
    known = rows >= 0
    contactable[known] = options.channel_permitted[rows[known]]
    return select_policy(held_out, catalog, contactable, action_weights(options, settings), n_customers=len(options.ids),
                         z_option=z_of(settings.option_confidence), call_price=float(chosen_options.allocation.prices["calls"]),
                         confidence=settings.policy_confidence, shared_bound=settings.policy_bound == "shared",
                         deployed=deployed if settings.keep_deployed_policy else None)


def action_weights(options: Options, settings: DecisionSettings) -> np.ndarray:
    """(A,) share of an action's eligible, contactable customers that tonight's limits let through when
    everyone is given it on its cheapest channel (call capacity, offer budget, the action's volume cap)."""
    weights = np.ones(len(options.actions))
    allowed = options.contactable & ~options.holdout[:, None]
    for a, action in enumerate(options.actions):
        cols = [k for k, (action_id, _) in enumerate(options.pairs) if action_id == action.id]
        cheapest = min(cols, key=lambda k: action.cost_per_contact[options.pairs[k][1]])
        reach = allowed[:, cols].any(axis=1)
        n = int(reach.sum())
        if not n:
            continue
        limits = [settings.action_volume_caps.get(action.id)]
        if options.pairs[cheapest][1] == "phone":
            limits.append(settings.capacity_calls_per_night)
        spend = float(options.offer_spend[reach, cheapest].sum())
        if settings.offer_budget_per_night is not None and spend > 0:
            limits.append(n * settings.offer_budget_per_night / spend)
        weights[a] = min([1.0, *(limit / n for limit in limits if limit is not None)])
    return weights


def with_policy_values(options: Options, choice: PolicyChoice, features: pd.DataFrame, catalog: Catalog) -> Options:
    """The options valued as the winning simple or rule policy would: its action(s) at their measured average effect
    (PolicyChoice.action_effects, or per segment rule_actions) after the contact cost, everything else not worth
    sending ('no_action': nothing is)."""
    policy = choice.winner
    pair_action = np.array([a for a, _ in options.pairs], dtype=object)
    pair_cost = np.array([catalog.action(a).cost_per_contact[ch] for a, ch in options.pairs])
    value = np.full(options.expected_value.shape, -np.inf)
    if policy.startswith("all:"):
        action_id = policy.removeprefix("all:")
        effect = choice.action_effects.get(action_id, 0.0)
        value[:, pair_action == action_id] = effect - pair_cost[pair_action == action_id]
    elif policy in (RANKED, SEGMENT):  # each ranked action at its effect (in the customer's segment): the best the
        segment = rule_segments(policy, recency_segment(features["days_since_last_purchase"]))  # customer may get wins
        for s, ranked in choice.rule_actions.items():
            for action_id, effect in ranked:
                cols = pair_action == action_id
                value[np.ix_(segment == s, cols)] = effect - pair_cost[cols]
    value = np.where(np.isfinite(value), value, -1.0)  # never worth sending (the value must be > 0)
    return replace(options, expected_value=value, value_se=np.zeros_like(value))


def lay_out_results(options: Options, chosen_options: ChosenOptions, settings: DecisionSettings, catalog: Catalog,
                    model_versions: dict) -> DecisionResult:
    """The next_best_actions and decision_audit tables and the summary."""
    n = len(options.ids)
    value_ext = np.concatenate([np.zeros((n, 1)), options.expected_value], axis=1)
    listed_ext = np.concatenate([np.ones((n, 1), bool), options.contactable], axis=1)
    chosen_ext = np.concatenate([~chosen_options.chosen.any(axis=1, keepdims=True), chosen_options.chosen], axis=1)
    order_ext = order_options(value_ext, listed_ext, chosen_ext)
    rank_ext = _ranks(order_ext, listed_ext)
    probability_ext = np.concatenate([chosen_options.no_action_probability[:, None], chosen_options.probability], axis=1)
    versions_json = json.dumps(model_versions, sort_keys=True, default=str)
    summary = _summary(options, chosen_options, settings, catalog, model_versions)  # first: its scratch is freed before
    nba = _next_best_actions(options, order_ext, rank_ext, value_ext, chosen_ext, probability_ext, chosen_options.explored,
                             settings.top_k, catalog.version, versions_json)  # the two big frames exist
    audit = _audit(options, rank_ext[:, 1:], chosen_options.chosen, chosen_options.reasons)
    return DecisionResult(next_best_actions=nba, decision_audit=audit, summary=summary,
                          log=decision_log_rows(options, chosen_options, nba))


def decision_log_rows(options: Options, chosen_options: ChosenOptions, nba: pd.DataFrame) -> pd.DataFrame:
    """Per customer (one row per chosen action when several are allowed) what was decided, kept night after
    night in decision_log: the chosen action and channel ('no_action'), its expected value and selection
    probability, the holdout and exploration flags, for a holdout customer the withheld option and for an explored
    one the set its option was drawn from (exploration_sets)."""
    rows = nba.loc[nba["chosen"], ["customer_id", "action_id", "channel", "expected_value", "selection_probability",
                                   "is_holdout", "is_exploration"]].reset_index(drop=True)
    position = options.ids.get_indexer(rows["customer_id"])
    withheld = chosen_options.withheld[position]
    has = withheld >= 0
    pairs = np.array(options.pairs + (("", ""),), dtype=object)
    rows["withheld_action_id"] = np.where(has, pairs[withheld, 0], None)
    rows["withheld_channel"] = np.where(has, pairs[withheld, 1], None)
    rows["withheld_expected_value"] = np.where(has, options.expected_value[position, np.maximum(withheld, 0)], np.nan)
    sets = chosen_options.exploration_set
    rows["exploration_set"] = sets[position] if sets is not None else None
    return rows


def _allocation_problem(settings: DecisionSettings, layout: SlotLayout, ev, allowed, spend, pair_action, pairs,
                        action_ids: list[str]) -> AllocationProblem:
    """The solver's view: per slot the options' value, permission and resource use."""
    n_customers, n_options = ev.shape
    is_phone = np.array([ch == "phone" for _, ch in pairs])
    calls = layout.gather(np.broadcast_to(is_phone, (n_customers, n_options)), False)
    action = layout.gather(np.broadcast_to(pair_action, (n_customers, n_options)), -1)
    return AllocationProblem(
        value=layout.gather(ev, -np.inf), allowed=layout.gather(allowed, False), calls=calls,
        spend=layout.gather(spend, 0.0), action=action, n_actions=len(action_ids),
        capacity_calls=settings.capacity_calls_per_night, budget=settings.offer_budget_per_night,
        action_caps={action_ids.index(a): cap for a, cap in settings.action_volume_caps.items()})


def _unconstrained(problem: AllocationProblem) -> np.ndarray:
    """Options that spend no globally limited resource (the only ones exploration may draw)."""
    free = np.ones(problem.value.shape, dtype=bool)
    if problem.capacity_calls is not None:
        free &= ~problem.calls
    if problem.budget is not None:
        free &= problem.spend <= 0
    for a in problem.action_caps:
        free &= problem.action != a
    return free


def _draw_keys(options: Options, explored, layout: SlotLayout, settings: DecisionSettings, as_of: date) -> list[str]:
    """Hash keys of the explored slots: one independent uniform draw per slot."""
    prefix = f"{settings.seed}|{as_of.isoformat()}|"
    if layout.per_customer == 1:
        return [f"{prefix}{cid}|pick" for cid in options.ids[explored]]
    slot_names = [options.pairs[layout.columns[k, 0]][0] for k in range(layout.per_customer)]
    return [f"{prefix}{cid}|{name}" for cid in options.ids[explored] for name in slot_names]


def _one_hot(choice: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(choice), width), dtype=bool)
    rows = np.flatnonzero(choice >= 0)
    out[rows, choice[rows]] = True
    return out


def _ranks(order: np.ndarray, listed: np.ndarray) -> np.ndarray:
    """(C, 1 + P) rank (1-based) of each listed option from the presentation order, 0 where not an option."""
    rank = np.empty(order.shape, dtype=np.int16)
    np.put_along_axis(rank, order, np.arange(1, order.shape[1] + 1, dtype=np.int16)[None, :], axis=1)
    rank[~listed] = 0
    return rank


def _next_best_actions(options: Options, order, rank_ext, value_ext, chosen_ext, probability_ext, explored, top_k,
                       policy_version, versions_json) -> pd.DataFrame:
    """The first `top_k` listed options per customer, ordered by customer then rank."""
    k = min(top_k, order.shape[1])
    rows = np.repeat(np.arange(order.shape[0]), k)
    cols = order[:, :k].ravel()
    keep = rank_ext[rows, cols] > 0
    rows, cols = rows[keep], cols[keep]
    action_ids = np.array([NO_ACTION, *(a for a, _ in options.pairs)], dtype=object)
    channels = np.array([None, *(ch for _, ch in options.pairs)], dtype=object)
    return pd.DataFrame({
        "customer_id": options.ids.to_numpy(dtype=object)[rows], "rank": rank_ext[rows, cols].astype(np.int64),
        "action_id": action_ids[cols], "channel": channels[cols],
        "expected_value": value_ext[rows, cols].astype(np.float64), "chosen": chosen_ext[rows, cols],
        "is_holdout": options.holdout[rows], "is_exploration": explored[rows],
        "selection_probability": probability_ext[rows, cols].astype(np.float64),
        "policy_version": np.full(len(rows), policy_version, dtype=object),
        "model_versions": np.full(len(rows), versions_json, dtype=object)}, columns=NBA_COLUMNS, copy=False)


def _audit(options: Options, rank: np.ndarray, chosen: np.ndarray, reasons: np.ndarray) -> pd.DataFrame:
    """One row per customer x (action, channel), customers in id order, options in tie-break order."""
    n_customers, n_options = options.expected_value.shape
    action_ids = [a.id for a in options.actions]
    action_codes = np.array([action_ids.index(a) for a, _ in options.pairs], dtype=np.int16)
    channel_codes = np.array([CHANNELS.index(ch) for _, ch in options.pairs], dtype=np.int8)

    def categorical(codes: np.ndarray, categories) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.ravel().astype(np.int16), categories=list(categories))

    return pd.DataFrame({
        "customer_id": np.repeat(options.ids.to_numpy(dtype=object), n_options),
        "action_id": categorical(np.tile(action_codes, n_customers), action_ids),
        "channel": categorical(np.tile(channel_codes, n_customers), CHANNELS),
        "eligible": options.eligible.ravel(),
        "ineligible_rule": categorical(options.failing, options.rule_labels),
        "suppressed": (options.suppression > 0).ravel(),
        "suppression_reason": categorical(options.suppression.astype(np.int16) - 1, SUPPRESSION_REASONS),
        "expected_value": options.expected_value.ravel(),
        "rank": pd.arrays.IntegerArray(rank.ravel().astype(np.int16), rank.ravel() == 0),
        "chosen": chosen.ravel(),
        "not_chosen_reason": categorical(reasons.astype(np.int16) - 1, NOT_CHOSEN_REASONS),
    }, columns=AUDIT_COLUMNS, copy=False)


def _summary(options: Options, chosen_options: ChosenOptions, settings: DecisionSettings, catalog: Catalog, model_versions) -> dict:
    """JSON-ready counts, value, control group sizes, limit use, constraint costs and solver diagnostics."""
    chosen, allocation = chosen_options.chosen, chosen_options.allocation
    by_action: dict[str, int] = {NO_ACTION: int((~chosen.any(axis=1)).sum())}
    by_channel: dict[str, int] = {}
    by_action_channel: dict[str, dict[str, int]] = {}
    for (action_id, channel), count in zip(options.pairs, chosen.sum(axis=0).tolist()):
        if count:
            by_action[action_id] = by_action.get(action_id, 0) + count
            by_channel[channel] = by_channel.get(channel, 0) + count
            by_action_channel.setdefault(action_id, {})[channel] = count
    use = measure_usage(chosen_options.problem, chosen_options.choice)
    costs = measure_constraint_costs(chosen_options.problem, allocation)
    return {
        "n_customers": len(options.ids),
        "counts_by_action": dict(sorted(by_action.items())),
        "counts_by_channel": dict(sorted(by_channel.items())),
        "counts_by_action_channel": {k: dict(sorted(v.items())) for k, v in sorted(by_action_channel.items())},
        "total_expected_value": round(float(options.expected_value[chosen].sum()), 6),
        "holdout_size": int(options.holdout.sum()), "exploration_size": int(chosen_options.explored.sum()),
        "calls_used": use["calls"], "capacity_calls": settings.capacity_calls_per_night,
        "offer_spend_expected": round(use["budget"], 6), "offer_budget": settings.offer_budget_per_night,
        "constraint_costs": {k: round(v, 6) for k, v in costs.items()},
        "shadow_price_call": round(float(allocation.prices["calls"]), 6),
        "shadow_price_budget_unit": round(float(allocation.prices["budget"]), 6),
        "solver": {"method": allocation.method, "objective": round(allocation.objective, 6),
                   "dual_bound": round(allocation.dual_bound, 6), "gap": round(allocation.gap, 9),
                   "rounds": allocation.rounds, "repaired_slots": allocation.repaired_slots},
        "order_value_median": round(options.order_value_median, 6),
        "threshold_removed": chosen_options.threshold_removed,
        "contact_rules_held_back": chosen_options.contact_rules_held_back,
        "option_confidence": settings.option_confidence, "min_margin_value": settings.min_margin_value,
        "policy_version": catalog.version, "model_versions": dict(model_versions),
    }
