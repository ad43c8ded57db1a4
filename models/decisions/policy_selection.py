"""Choose tonight's policy by its value measured on held-out randomised contacts, never by its own forecast.

Candidates, under the same eligibility, consent and limits:
- `learned`: per customer the option with the best estimated value (the constrained plan);
- `all:<action>`: every eligible, contactable customer gets that action on its cheapest permitted channel;
- `ranked`: the actions that gain on average after their contact cost, best first; every customer gets the first one
  it may get (its rules hold and a channel of it is allowed), so customers the best action cannot reach get the next
  one instead of nothing (segment_rule with one segment);
- `segment`: the same ranking per recency segment (segment_rule);
- `no_action`: nobody is contacted (value 0 by definition).

Value (doubly robust off-policy estimate). The rows are the settled randomised contacts and controls of
every action (models/training/uplift.py); each has Gamma = the DR score of its action's effect on that
customer, out of sample (models/training/value_uplift.py). A policy that would give that customer action a
on channel ch earns Gamma - cost(a, ch) there, else 0, so

    V(pi) = N x sum_a mean_{rows of a's experiment} [ w_i 1{pi(x_i) = a} (Gamma_i - cost_i) ]

is unbiased for pi's incremental value over N customers like the experiments' (w_i < 1 when a limit lets
only a share of the policy's intended contacts through tonight). Its standard error adds each
experiment's variance. Each mean weighs a row by the precision of its source (HeldOut.weights: a company campaign,
the plan's holdout experiment and its exploration draws are separate experiments of very different noise;
models/training/value_uplift.precision_weights). Where an action's Gamma is the surrogate index of its conversions (models/training/surrogate.py), each
candidate is also valued on net value alone, on the same rows; when the two disagree (paired, at the rows'
`surrogacy_alpha`), conversions do not tell that candidate's story and it is valued on net value alone
(evaluate_checked). When that happens to an 'all:<action>' candidate, the action's rows are valued on net value alone
in every later candidate, in the rules fitted on them and in the effect the plan sends the action at (on_net_value).
Simple policies use no model, so every row values them. The learned targeting is valued on the rows whose own
action's value comes from a model that did not see them: the held-out ones (the latest campaign dates, or a held-out
customer sample) and the training rows by their action's out-of-fold fit (each customer's fold left out; another
action's model never sees an action's rows). The ranked and segment rules cost nothing to refit, so they are
cross-fitted: each block of campaign dates (models/training/uplift.policy_folds) is valued by the rule fitted on the
other blocks, every row values it, and the rule deployed is the one fitted on all of them
(four times the rows of a held-out quarter: its gain's standard error about halves). The deployed policy: the
candidate with the best lower confidence bound (ties: the simpler; a safe policy improvement rule, Thomas et al.
2015). A targeted policy is valued only on rows its rule was not fitted on, so its bound is compared with the best
bound every simpler candidate (no action included; the ranked rule before the segment rule before the learned one)
has on those same rows, and it replaces the policy deployed so far when it is higher and its paired gain over that
rival there is positive: a more complex rule must beat every simpler one where both are valued. A policy
that contacts few people has a narrow interval, and without the gain a quiet rule would beat a better but noisier
simple policy on a small sample of rows (measured: the lifecycle world, 20,000
customers, seed 11, the learned rule contacting nobody beat `all:winback_sms` 0.00 to -4,883 on the held-out rows,
a paired gain of -14,481, and the plan earned 11 instead of 960 per 1,000 customers). With `shared_bound`, every
bound is at the confidence shared by all the candidates that claim a value (Bonferroni: the winner is the best of
many noisy estimates; fewer worthless deployments, more real value missed, measured in the response model card).
Each targeted policy's paired gain over the best simpler one is shown beside it.
From the second night on, the policy the last night deployed is the baseline (safe policy improvement: the policy in
place is the one to beat): tonight's winner replaces it only when its paired gain over it is positive at the same
confidence, or when the deployed policy is shown to lose value, or when tonight's best is simpler than it (no action
aside) and it is not shown better than tonight's best; otherwise it stays (kept_or_replaced;
`decisions.keep_deployed_policy`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from statistics import NormalDist

import numpy as np
import pandas as pd

from models.decisions.catalog import CHANNELS, Catalog
from models.training.surrogate import DEFAULT_ALPHA as SURROGACY_ALPHA
from models.training.value_uplift import weighted_mean_se

LEARNED, SEGMENT, RANKED, NO_ACTION_POLICY = "learned", "segment", "ranked", "no_action"
NET_VALUE_ONLY = "valued on net value"
TARGETED = (RANKED, SEGMENT, LEARNED)  # fitted on the rows (the others are simple); in order of simplicity
SEGMENT_EDGES_DAYS = (30, 90, 365)  # recency bands: <= 30, <= 90, <= 365 days, longer or never
SEGMENT_LABELS = ("last purchase <= 30 days", "31-90 days", "91-365 days", "over a year or never")


def recency_segment(days_since_last_purchase: pd.Series | np.ndarray) -> np.ndarray:
    """The simple segment of a customer: its recency band (0..3; 3 = over a year or never)."""
    days = np.nan_to_num(np.asarray(days_since_last_purchase, dtype=float), nan=1e9)
    return np.searchsorted(np.asarray(SEGMENT_EDGES_DAYS, dtype=float), days, side="left").astype(np.int64)


def rule_segments(policy: str, recency: np.ndarray) -> np.ndarray:
    """The segment each customer's rule applies in: its recency band (recency_segment) for the segment rule, one
    segment (0) for everyone for the ranked rule."""
    return recency if policy == SEGMENT else np.zeros(len(recency), dtype=np.int64)


@dataclass(frozen=True)
class HeldOut:
    """Held-out randomised rows with what each candidate needs to act on them.

    rows: per row customer_id, action_id (the experiment), gamma, segment, held_out (no model saw the row), and
    optionally gamma_direct: the row's score on net value where gamma is the surrogate index of its conversion.
    Optionally fold: the row's cross-fitting fold for the segment rule (models/training/uplift.policy_folds), and
    out_of_sample: the row's own action's value in `uplift` comes from a model that did not see the row.
    Optionally weight: the row's weight in its action's averages, the precision of its experiment
    (models/training/value_uplift.precision_weights); without it every row weighs the same.
    uplift / uplift_se: (R, A) the learned value per catalog action (NaN where the action has no model).
    eligible: (R, A) the action's rules held for the customer on the contact date.
    surrogacy_alpha: level of the check that a candidate's value via conversions agrees with its value on net value.
    """

    rows: pd.DataFrame
    uplift: np.ndarray
    uplift_se: np.ndarray
    eligible: np.ndarray
    surrogacy_alpha: float = SURROGACY_ALPHA
    min_rows: int = 200  # rows of an action in a segment the segment rule needs (training.response_min_contacts)

    def weights(self) -> np.ndarray:
        """Each row's weight in its action's averages (1 for every row of rows without a `weight` column)."""
        if "weight" in self.rows.columns:
            return self.rows["weight"].to_numpy(float)
        return np.ones(len(self.rows))

    @cached_property
    def experiments(self) -> tuple[np.ndarray, np.ndarray]:
        """(per row the index of its experiment's action id in the sorted ids, the sorted ids): the rows grouped by
        integers, not by comparing millions of strings again for every candidate (the policy selection took 101 of
        a 1,000,000-customer night's 137 s in the decisions step that way)."""
        codes, labels = pd.factorize(self.rows["action_id"].to_numpy(), sort=True)
        return codes.astype(np.int64), np.asarray(labels, dtype=object)

    def experiment_of(self, action_ids: list[str]) -> np.ndarray:
        """Per action id its experiment index (experiments), -2 for an action with no rows."""
        index = {label: k for k, label in enumerate(self.experiments[1])}
        return np.array([index.get(a, -2) for a in action_ids], dtype=np.int64)


@dataclass
class PolicyEstimate:
    name: str
    value: float
    se: float
    lcb: float
    contacts_share: float  # share of held-out rows the policy would contact on their experiment's action
    chosen: bool = False
    note: str = ""


@dataclass
class PolicyChoice:
    winner: str
    estimates: list[PolicyEstimate]
    reason: str
    n_rows: int
    notes: list[str] = field(default_factory=list)
    evidence: dict | None = None  # evidence_needed: what would let a more promising simple policy be shown
    action_effects: dict[str, float] = field(default_factory=dict)  # per action its mean Gamma over its rows (on net
    # value alone where its conversions disagree with it): the effect an 'all:<action>' plan sends it at
    rule_actions: dict[int, list[tuple[str, float]]] = field(default_factory=dict)  # the deployed ranked or segment
    # rule, fitted on every row: segment (0 for the ranked rule) -> [(action id, its effect per contact there)],
    # best first

    def as_dict(self) -> dict:
        return {"winner": self.winner, "reason": self.reason, "held_out_rows": self.n_rows,
                "candidates": [{"policy": e.name, "value": round(e.value, 2), "se": round(e.se, 2),
                                "lower_bound": round(e.lcb, 2), "chosen": e.chosen, "note": e.note}
                               for e in self.estimates],
                **({"evidence_needed": self.evidence} if self.evidence else {})}


def evidence_needed(estimates: list[PolicyEstimate], winner: PolicyEstimate, z: float,
                    rows_per_action: dict[str, int]) -> dict | None:
    """For the deployed simple policy: the 'all:<action>' candidate whose estimate is above the winner's bound but
    whose own bound is not, that the fewest extra randomised rows of its action would show better (its standard
    error shrinks as 1 / sqrt(rows): k = (z se / (value - winner's bound))^2 times its rows, if its estimate held).
    What a marketer can do about a plan held back by too little evidence; None when no candidate is close."""
    best = None
    for e in estimates:
        action = e.name.removeprefix("all:")
        if e is winner or e.name == action or e.se <= 0 or e.value <= winner.lcb or not rows_per_action.get(action):
            continue
        factor = (z * e.se / (e.value - winner.lcb)) ** 2
        if best is None or factor < best[0]:
            best = (factor, e, action)
    if best is None:
        return None
    factor, e, action = best
    rows = rows_per_action[action]
    return {"policy": e.name, "action_id": action, "value": round(e.value, 2), "se": round(e.se, 2),
            "rows": rows, "more_rows": int(np.ceil(max(factor - 1.0, 0.0) * rows)), "factor": round(factor, 2)}


def z_of(confidence: float) -> float:
    """One-sided normal quantile of a confidence level (0.95 -> 1.645)."""
    return float(NormalDist().inv_cdf(confidence))


def cheapest_channel(catalog: Catalog, action_index: int, contactable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (channel index into CHANNELS or -1, its contact cost) — the cheapest channel of the action
    the customer may be contacted on."""
    action = catalog.ordered_actions()[action_index]
    best, cost = np.full(len(contactable), -1), np.full(len(contactable), np.inf)
    for ch in sorted(action.channels, key=lambda c: action.cost_per_contact[c]):
        k = CHANNELS.index(ch)
        take = (best < 0) & contactable[:, k]
        best[take], cost[take] = k, action.cost_per_contact[ch]
    return best, cost


def learned_choice(held: HeldOut, catalog: Catalog, contactable: np.ndarray, *, z_option: float,
                   call_price: float) -> tuple[np.ndarray, np.ndarray]:
    """Per held-out row: (action index or -1, contact cost) the learned rule picks: the best option whose
    value minus z standard errors, after its contact cost and tonight's shadow price of a call, is positive."""
    actions = catalog.ordered_actions()
    n = len(held.rows)
    best_value, best_action, best_cost = np.zeros(n), np.full(n, -1), np.zeros(n)
    for a, action in enumerate(actions):
        u, se = held.uplift[:, a], held.uplift_se[:, a]
        for ch in action.channels:
            k, cost = CHANNELS.index(ch), action.cost_per_contact[ch]
            adjusted = u - cost - (call_price if ch == "phone" else 0.0)
            ok = held.eligible[:, a] & contactable[:, k] & ~np.isnan(u) & (u - z_option * se - cost > 0)
            better = ok & (adjusted > best_value)
            best_value[better], best_action[better], best_cost[better] = adjusted[better], a, cost
    return best_action, best_cost


def evaluate_policy(held: HeldOut, choice: np.ndarray, cost: np.ndarray, weight: np.ndarray,
                    action_ids: list[str], n_customers: int, rows: np.ndarray,
                    gamma_column: str = "gamma") -> tuple[float, float, np.ndarray]:
    """(value over `n_customers`, standard error, per-row contribution) of a policy's per-row choice,
    estimated on the rows where `rows` is True."""
    experiment = held.experiments[0]
    gamma = held.rows[gamma_column].to_numpy(float)
    picked = np.where(choice >= 0, held.experiment_of(action_ids)[np.maximum(choice, 0)], -1)
    contribution = np.where(picked == experiment, weight * (gamma - cost), 0.0)
    return (*_scaled_mean(contribution[rows], experiment[rows], n_customers, held.weights()[rows]), contribution)


def evaluate_checked(held: HeldOut, choice: np.ndarray, cost: np.ndarray, weight: np.ndarray,
                     action_ids: list[str], n_customers: int, rows: np.ndarray) -> tuple[float, float, np.ndarray, str]:
    """evaluate_policy on the rows' gamma, unless part of it is the surrogate index of conversions
    (models/training/surrogate.py) and, on the rows this policy would contact, its value via conversions
    differs from its value on net value (paired, two-sided at the held-out rows' `surrogacy_alpha`): then
    the policy is valued on net value alone. Also returns a note saying which."""
    value, se, contribution = evaluate_policy(held, choice, cost, weight, action_ids, n_customers, rows)
    if "gamma_direct" not in held.rows.columns or not rows.any():
        return value, se, contribution, ""
    direct = evaluate_policy(held, choice, cost, weight, action_ids, n_customers, rows, "gamma_direct")
    if np.array_equal(direct[2], contribution):
        return value, se, contribution, ""
    experiment = held.experiments[0]
    gap, gap_se = _scaled_mean((direct[2] - contribution)[rows], experiment[rows], n_customers, held.weights()[rows])
    if abs(gap) > NormalDist().inv_cdf(1 - held.surrogacy_alpha / 2) * gap_se:
        return (*direct, f"{NET_VALUE_ONLY}: via conversions {value:,.2f} disagrees (gap {gap:,.2f}, "
                         f"se {gap_se:,.2f})")
    return value, se, contribution, f"partly via conversions (net value alone {direct[0]:,.2f}, se {direct[1]:,.2f})"


def on_net_value(held: HeldOut, action_ids: list[str]) -> HeldOut:
    """The rows with the named actions' Gamma replaced by their score on net value alone (gamma_direct)."""
    if not action_ids:
        return held
    rows = held.rows.copy()
    switch = rows["action_id"].isin(action_ids).to_numpy()
    rows["gamma"] = np.where(switch, rows["gamma_direct"].to_numpy(float), rows["gamma"].to_numpy(float))
    return replace(held, rows=rows)


def _scaled_mean(contribution: np.ndarray, experiment: np.ndarray, n_customers: int,
                 weight: np.ndarray) -> tuple[float, float]:
    """(n_customers x the sum over experiments of the rows' weighted mean contribution, its standard error).
    `experiment`: per row its experiment's action id, or its index in the sorted ids (HeldOut.experiments: the same
    sums in the same order, faster)."""
    value, variance = 0.0, 0.0
    groups = (np.flatnonzero(np.bincount(experiment)) if np.issubdtype(experiment.dtype, np.integer) and len(experiment)
              else np.unique(experiment))
    for a in groups:
        mean, se = weighted_mean_se(contribution[experiment == a], weight[experiment == a])
        value += mean
        variance += se ** 2
    return float(n_customers * value), float(n_customers * np.sqrt(variance))


def segment_rule(held: HeldOut, catalog: Catalog, rows: np.ndarray,
                 segments: np.ndarray) -> dict[int, list[tuple[int, float]]]:
    """Per segment of `segments` (one per row) the actions that gain there, best first: [(action index, effect)],
    where an action gains when its randomised rows among `rows` in that segment, where its rules held, beat its
    cheapest contact cost on average (effect = their mean Gamma, before the cost), on at least `held.min_rows` rows.
    Segments where nothing gains are absent. A customer gets the first of its segment's actions it may get (its
    rules hold and a channel of it is allowed), so a customer the best action cannot reach still gets the next."""
    experiment, codes = held.experiments[0], held.experiment_of([a.id for a in catalog.ordered_actions()])
    gamma, weight = held.rows["gamma"].to_numpy(float), held.weights()
    gains: dict[int, list[tuple[float, int, float]]] = {}  # segment -> [(gain after cost, action index, effect)]
    for a, action in enumerate(catalog.ordered_actions()):
        cost = min(action.cost_per_contact.values())
        own = rows & (experiment == codes[a]) & held.eligible[:, a]
        for s in np.unique(segments[own]):
            cell = own & (segments == s)
            gain = weighted_mean_se(gamma[cell], weight[cell])[0] - cost
            if cell.sum() >= held.min_rows and gain > 0:
                gains.setdefault(int(s), []).append((gain, a, gain + cost))
    return {s: [(a, effect) for _, a, effect in sorted(cells, key=lambda c: (-c[0], c[1]))]
            for s, cells in sorted(gains.items())}


def segment_choice(held: HeldOut, catalog: Catalog, contactable: np.ndarray, segments: np.ndarray,
                   rules: list[tuple[dict[int, list[tuple[int, float]]], np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per row (action index or -1, contact cost) of the rule that applies to it: each (rule, rows) pair acts on its
    rows (the rule fitted on the other folds). Of its segment's actions the row gets the one worth most after the
    cost of its cheapest allowed channel, as the plan does when the rule is deployed (plan.with_policy_values)."""
    n = len(held.rows)
    choice, cost, best = np.full(n, -1), np.zeros(n), np.zeros(n)
    channels = {a: cheapest_channel(catalog, a, contactable)
                for a in sorted({a for rule, _ in rules for ranked in rule.values() for a, _ in ranked})}
    for rule, rows in rules:
        for s, ranked in rule.items():
            for a, effect in ranked:
                channel, channel_cost = channels[a]
                worth = effect - channel_cost
                take = rows & (segments == s) & held.eligible[:, a] & (channel >= 0) & (worth > best)
                choice[take], cost[take], best[take] = a, channel_cost[take], worth[take]
    return choice, cost


def describe_rule(rule: dict[int, list[tuple[str, float]]], labels: tuple[str, ...] | None) -> str:
    """'upsell (+1.91 a contact), else survey (+0.60 a contact)' per segment (labels) or for everyone (None)."""
    def ranked(actions: list[tuple[str, float]]) -> str:
        return ", else ".join(f"{a} ({effect:+,.2f} a contact)" for a, effect in actions)
    if labels is None:
        return ranked(rule.get(0, [])) or "nobody"
    return "; ".join(f"{labels[s]} -> {ranked(actions)}" for s, actions in rule.items()) or "nobody"


def simplicity(policy: str) -> int:
    """A policy's rank by complexity: no action, then one action for everyone, then the targeted rules (TARGETED)."""
    if policy == NO_ACTION_POLICY:
        return 0
    return 2 + TARGETED.index(policy) if policy in TARGETED else 1


def kept_or_replaced(winner: PolicyEstimate, reason: str, deployed: str | None, estimates: list[PolicyEstimate],
                     contributions: dict[str, np.ndarray], valued_on: dict[str, np.ndarray], experiment: np.ndarray,
                     weight: np.ndarray, *, n_customers: int, z: float,
                     confidence: float) -> tuple[PolicyEstimate, str]:
    """Tonight's policy given the one the last night deployed (`deployed`; None on a first night or with
    `decisions.keep_deployed_policy: false`): a safe policy improvement replaces the deployed policy only when the new
    one is shown better than it (Thomas et al. 2015: the baseline is the policy in place), so tonight's `winner`
    replaces it when its paired gain over it, on the rows both are valued on, is positive at `confidence`; the
    deployed policy also goes when it is shown to lose money (no action is shown better than it). Otherwise it stays:
    a policy shown on the evidence of one night is not dropped because a refitted model or a new night's rows leave
    its bound just below zero (measured on 12-night lifecycle simulations, 20,000 customers: the plan fell to no
    action from night 3 (seed 11) or night 7 (seed 23) and earned 0.20 and 0.40 x the best single action; kept,
    0.73 and 0.72 x; models/cards/response.md). One exception keeps the burden of proof on the more complex rule
    every night, as on the night it was first deployed: a targeted rule in place gives way to a simpler tonight's best
    (one action for everyone, or the ranked rule before the segment rule before the learned one; never to no action,
    which needs the rule in place shown to lose value) unless it is shown better than that simpler policy."""
    by_name = {e.name: e for e in estimates}
    if deployed is None or deployed == winner.name or deployed not in by_name:
        return winner, reason
    incumbent = by_name[deployed]

    def shown_better(name: str, than: str = deployed) -> tuple[bool, str]:
        rows = valued_on[name] & valued_on[than]
        if not rows.any():
            return True, f"no rows value both '{name}' and '{than}'"
        gain, se = _scaled_mean((contributions[name] - contributions[than])[rows], experiment[rows], n_customers,
                                weight[rows])
        return bool(round(gain - z * se, 9) > 0), (f"paired gain of '{name}' over '{than}' {gain:,.2f} (lower "
                                                  f"bound {gain - z * se:,.2f}) on {int(rows.sum()):,} rows")
    better, gain = shown_better(winner.name)
    if better:
        return winner, f"{reason}; it replaces the last night's '{deployed}': {gain}"
    loses, loss = shown_better(NO_ACTION_POLICY)
    if loses:
        return winner, f"{reason}; the last night's '{deployed}' is shown to lose value: {loss}"
    if winner.name != NO_ACTION_POLICY and simplicity(winner.name) < simplicity(deployed):
        # the rule in place is more complex than tonight's best and no longer beats it as a new rule must: it stays
        # only while it is shown better than it (the burden of proof is on the more complex rule, every night)
        holds, held = shown_better(deployed, winner.name)
        if not holds:
            return winner, (f"{reason}; it replaces the last night's '{deployed}', a more complex policy that is not "
                            f"shown better than it at {confidence:.0%} ({held})")
    also = "" if winner.name == NO_ACTION_POLICY else f", and it is not shown to lose value ({loss})"
    return incumbent, (f"'{deployed}', deployed the last night, stays: tonight's best by its bound '{winner.name}' is "
                       f"not shown better than it at {confidence:.0%} ({gain}){also}; a safe policy improvement "
                       f"replaces the policy in place only with one shown better (decisions.keep_deployed_policy)")


def select_policy(held: HeldOut, catalog: Catalog, contactable: np.ndarray, action_weights: np.ndarray, *,
                  n_customers: int, z_option: float, call_price: float, confidence: float,
                  shared_bound: bool = False, deployed: str | None = None) -> PolicyChoice:
    """Estimate every candidate on the held-out rows and pick tonight's policy (module docstring).

    contactable: (R, len(CHANNELS)) the channels each row's customer may be contacted on at all (consent,
    do-not-contact, erasure, reachability; not tonight's contact policy or holdout: models/decisions/plan.choose_policy).
    action_weights: (A,) share of an action's intended contacts tonight's limits let through.
    The segment rule is cross-fitted when the rows carry folds (each fold valued by the rule fitted on the others,
    so every row values it), else fitted on the training rows and valued on the held-out ones.
    deployed: the policy the last night deployed, which stays unless tonight's best is shown better (kept_or_replaced).
    """
    actions = catalog.ordered_actions()
    # shared_bound: every candidate but no action is a claim of value (the simple ones, then the targeted ones'
    # gains) and the deployed one is the best of them, so each is held to `confidence` shared among them
    # (Bonferroni): the noisiest estimate no longer wins by chance, at the price of real value missed (module
    # docstring; `decisions.policy_bound`).
    claims = len(actions) + len(TARGETED) if shared_bound else 1
    z = z_of(1.0 - (1.0 - confidence) / claims)
    action_ids = [a.id for a in actions]
    n = len(held.rows)
    unseen = held.rows["held_out"].to_numpy(bool)
    every = np.ones(n, dtype=bool)
    estimates, contributions, valued_on = [], {}, {}

    def add(name: str, choice: np.ndarray, cost: np.ndarray, weight: np.ndarray, rows: np.ndarray,
            where: str = "") -> bool:
        """Value the candidate; True when conversions did not tell its story (valued on net value alone)."""
        value, se, contribution, measure = evaluate_checked(held, choice, cost, weight, action_ids, n_customers, rows)
        contributions[name], valued_on[name] = contribution, rows
        share = float(np.mean(choice[rows] >= 0)) if rows.any() else 0.0
        note = (where or ("all settled randomised rows" if rows is every else "held-out rows only")) + \
            (f"; {measure}" if measure else "")
        estimates.append(PolicyEstimate(name, value, se, value - z * se, share, note=note))
        return measure.startswith(NET_VALUE_ONLY)

    add(NO_ACTION_POLICY, np.full(n, -1), np.zeros(n), np.zeros(n), every)
    net_value_only = []
    for a, action in enumerate(actions):
        channel, cost = cheapest_channel(catalog, a, contactable)
        choice = np.where(held.eligible[:, a] & (channel >= 0), a, -1)
        if add(f"all:{action.id}", choice, np.where(choice >= 0, cost, 0.0), np.full(n, action_weights[a]), every):
            net_value_only.append(action.id)
    # an action whose conversions disagree with its net value on its own rows is valued on net value alone in the
    # rules fitted below and in every candidate that sends it, and deployed at that effect
    held = on_net_value(held, net_value_only)
    (experiment, labels), gamma, weight = held.experiments, held.rows["gamma"].to_numpy(float), held.weights()
    action_effects = {str(labels[a]): weighted_mean_se(gamma[experiment == a], weight[experiment == a])[0]
                      for a in np.flatnonzero(np.bincount(experiment, minlength=len(labels)))}
    segments = {name: rule_segments(name, held.rows["segment"].to_numpy()) for name in (RANKED, SEGMENT)}
    for name, segment in segments.items():  # the rules fitted on the rows: cross-fitted over the folds when the
        if "fold" in held.rows.columns:      # rows carry them, so every row values them
            fold = held.rows["fold"].to_numpy()
            rules = [(segment_rule(held, catalog, fold != k, segment), fold == k) for k in np.unique(fold)]
            rule_rows, where = every, f"cross-fitted over {len(rules)} folds of campaign dates: every row"
        else:  # a response model from before the folds
            rules, rule_rows, where = [(segment_rule(held, catalog, ~unseen, segment), unseen)], unseen, ""
        rule_choice, rule_cost = segment_choice(held, catalog, contactable, segment, rules)
        add(name, rule_choice, rule_cost,
            np.where(rule_choice >= 0, action_weights[np.maximum(rule_choice, 0)], 0.0), rule_rows, where)
    choice, cost = learned_choice(held, catalog, contactable, z_option=z_option, call_price=call_price)
    if "out_of_sample" in held.rows.columns:
        add(LEARNED, choice, cost, np.ones(n), held.rows["out_of_sample"].to_numpy(bool),
            "rows valued out of sample: training rows by their action's out-of-fold model, held-out rows")
    else:  # a response model from before the out-of-fold values
        add(LEARNED, choice, cost, np.ones(n), unseen)

    simple = [e for e in estimates if e.name not in TARGETED]  # in order of simplicity: ties keep the first
    baseline = max(simple, key=lambda e: round(e.lcb, 9))
    shared = f", shared by {claims} candidates" if claims > 1 else ""
    winner, reason, simpler = baseline, "", list(simple)
    for targeted in TARGETED:  # in order of simplicity: each must beat every simpler candidate on its rows
        rows = valued_on[targeted]
        estimate = next(e for e in estimates if e.name == targeted)
        if not rows.any():
            continue
        bounds = []  # every simpler candidate's estimate on these rows (if valued on all of them): the best bound
        for e in simpler:  # is the one to beat
            if valued_on[e.name][rows].all():
                value, se = _scaled_mean(contributions[e.name][rows], experiment[rows], n_customers, weight[rows])
                bounds.append((round(value - z * se, 9), value, e.name))
        simpler.append(estimate)
        rival_lcb, rival_value, rival = max(bounds, key=lambda b: b[0])  # ties keep the simpler
        gain, gain_se = _scaled_mean((contributions[targeted] - contributions[rival])[rows], experiment[rows],
                                     n_customers, weight[rows])
        estimate.note += (f"; best simpler policy on the same rows '{rival}' {rival_value:,.2f} (lower bound "
                          f"{rival_lcb:,.2f}), paired gain {gain:,.2f} (lower bound {gain - z * gain_se:,.2f})")
        if gain > 0 and round(estimate.lcb - rival_lcb, 9) > 0:  # ahead of every simpler one on the same rows, safer
            winner = estimate
            reason = (f"'{targeted}' has a better lower {confidence:.0%} bound{shared} than every simpler policy "
                      f"on the {int(rows.sum()):,} randomised rows its rule was not fitted on — the best of them "
                      f"'{rival}' ({estimate.lcb:,.2f} against {rival_lcb:,.2f}) — and gains {gain:,.2f} over it "
                      f"there (paired)")
    if winner is baseline:
        reason = (f"'{baseline.name}' has the best lower {confidence:.0%} bound{shared} among the simple policies "
                  f"({baseline.lcb:,.2f}), and no targeted policy a better one than it on the randomised rows that "
                  f"policy was not fitted on ({int(valued_on[RANKED].sum()):,} for the ranked and the segment rules, "
                  f"{int(valued_on[LEARNED].sum()):,} for the learned targeting)")
    winner, reason = kept_or_replaced(winner, reason, deployed, estimates, contributions, valued_on, experiment,
                                      weight, n_customers=n_customers, z=z, confidence=confidence)
    winner.chosen = True
    evidence = None
    if winner.name not in TARGETED:
        actions_of_rows = held.rows["action_id"].value_counts()
        evidence = evidence_needed(estimates, winner, z, {a: int(k) for a, k in actions_of_rows.items()})
    rule_actions: dict[int, list[tuple[str, float]]] = {}
    if winner.name in (RANKED, SEGMENT):  # the rule deployed is fitted on every row
        rule_actions = {s: [(action_ids[a], effect) for a, effect in ranked]
                        for s, ranked in segment_rule(held, catalog, every, segments[winner.name]).items()}
        reason += "; the rule: " + describe_rule(rule_actions, SEGMENT_LABELS if winner.name == SEGMENT else None)
    return PolicyChoice(winner.name, estimates, reason, int(unseen.sum()), evidence=evidence, rule_actions=rule_actions,
                        action_effects=action_effects)
