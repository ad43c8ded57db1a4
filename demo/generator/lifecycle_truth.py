"""Ground truth of the `lifecycle` world: the expected incremental net margin of contacting each person tonight.

For every person and action, by expectation (no random draw): the net margin (MARGIN_RATE x list value
- discounts, returned orders count 0) over TRUTH_HORIZON_DAYS after the as-of date if contacted with the
action tonight, minus the same without contact. It integrates, week by week exactly as the simulation
steps, the survival under the churn hazard and the purchase rate with the effects in force (those left
by past campaigns, and the contact's from `action_effects`); a churned person is worth nothing without
contact and p_reactivate x their projected margin with it. Like the conversion world's projection it
leaves out complaints that have not happened yet. Before the contact cost: the evaluator subtracts the
catalog's cost_per_contact of the channel used.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from models.decisions.catalog import Action
from demo.generator.dynamics import (
    COMPLAINT_DECAY_DAYS, STEP_DAYS, TIER_PRICE_MULT, TRUTH_HORIZON_DAYS, People, PriceModel, day_dates,
    habitual_discount_share, hazard_daily, order_net_margin, project_future, purchase_rate, purchase_season,
    satisfaction,
)
from demo.generator.format import categorical
from demo.generator.lifecycle import Modifiers, action_effects, lifecycle_state
from demo.generator.response import customers_truth_columns

CONVERTED_WINDOW_DAYS = 7     # the tool's `converted` flag: an order within the campaign week


def project_net_margin(people: People, idx: np.ndarray, day0: int, start: dt.date, prices: PriceModel,
                       modifiers: Modifiers, *, load0: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Expected net margin, promotion discount and first-week order probability of persons `idx` from `day0`.

    `modifiers` (aligned with idx) are the effects in force; the persons are taken to be alive on day0;
    `load0` overrides their complaint load (a reactivated person starts afresh).
    """
    load0 = people.complaint_load[idx] if load0 is None else load0
    e, sat_base, rate_base = people.engagement[idx], people.sat_base[idx], people.rate_base[idx]
    keep = 1.0 - people.return_prob[idx]
    gross = prices.expected_gross(people.affinity[idx], TIER_PRICE_MULT[people.tier[idx]])
    habitual = habitual_discount_share(people.price_sens[idx])
    season = purchase_season(day_dates(start, day0, TRUTH_HORIZON_DAYS))
    bounds = list(range(0, TRUTH_HORIZON_DAYS, STEP_DAYS)) + [TRUTH_HORIZON_DAYS]
    survival = np.ones(len(idx))
    margin, promo_discount = np.zeros(len(idx)), np.zeros(len(idx))
    p_order_first_week = np.zeros(len(idx))
    everyone = slice(None)
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        span, day = t1 - t0, day0 + t0
        load = load0 * np.exp(-t0 / COMPLAINT_DECAY_DAYS)
        sat = satisfaction(sat_base, load)
        h = hazard_daily(e, sat, load, modifiers.active("hazard", everyone, day))
        lam = purchase_rate(rate_base, sat) * season[t0:t1].mean() * modifiers.active("rate", everyone, day)
        orders = survival * lam * -np.expm1(-h * span) / h
        if t0 == 0:
            q = h + lam
            p_order_first_week = lam / q * -np.expm1(-q * CONVERTED_WINDOW_DAYS)
        basket_gross = gross * modifiers.active("basket", everyone, day)
        promo = modifiers.active("promo", everyone, day)
        margin += orders * order_net_margin(basket_gross, np.where(promo >= 0, promo, habitual), keep)
        promo_discount += orders * keep * basket_gross * np.maximum(promo, 0.0)
        survival *= np.exp(-h * span)
    return {"net_margin": margin, "promo_discount": promo_discount, "p_order_7d": p_order_first_week}


def contact_truth(people: People, modifiers: Modifiers, receptiveness: np.ndarray, actions: list[Action],
                  prices: PriceModel, start: dt.date, day0: int) -> dict[str, np.ndarray]:
    """(persons, actions) arrays: incremental net margin, offer cost (promotion discount given), and the
    probability of an order within the converted window with (p_treated) and without (p_control) contact."""
    n = people.n
    alive = np.isinf(people.death_day)
    live, dead = np.flatnonzero(alive), np.flatnonzero(~alive)
    out = {name: np.zeros((n, len(actions))) for name in ("net_margin", "offer_cost", "p_treated", "p_control")}
    base = project_net_margin(people, live, day0, start, prices, modifiers.take(live))
    state = lifecycle_state(people, np.arange(n), day0, receptiveness)
    for j, action in enumerate(actions):
        effect = action_effects(action.type, state)
        for rows, baseline in ((live, base), (dead, None)):
            contacted = modifiers.take(rows)
            picked = _pick_effect(effect, rows)
            contacted.apply(np.arange(len(rows)), picked, day0)
            load = None if baseline is not None else np.zeros(len(rows))
            with_contact = project_net_margin(people, rows, day0, start, prices, contacted, load0=load)
            share = 1.0 if baseline is not None else picked.p_reactivate
            out["net_margin"][rows, j] = share * with_contact["net_margin"] - (
                baseline["net_margin"] if baseline is not None else 0.0)
            out["offer_cost"][rows, j] = share * with_contact["promo_discount"]
            out["p_treated"][rows, j] = share * with_contact["p_order_7d"]
            out["p_control"][rows, j] = baseline["p_order_7d"] if baseline is not None else 0.0
    return out


def _pick_effect(effect, rows: np.ndarray):
    return type(effect)(**{name: getattr(effect, name)[rows] for name in effect.__dataclass_fields__})


def build_lifecycle_truth(people: People, modifiers: Modifiers, receptiveness: np.ndarray, actions: list[Action],
                          prices: PriceModel, start: dt.date, n_days: int, person_ids: pa.StringArray,
                          person_numbers: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """customers_truth (as in the conversion world) and action_truth as of day n_days, sorted by person_id.

    action_truth: person_id, action_id, p_treated, p_control (an order within CONVERTED_WINDOW_DAYS: what
    the tool's flag estimates), true_net_margin_365d (incremental, before the contact cost) and
    true_offer_cost_365d (the promotion discount the contact gives away, cannibalised orders included).
    customers_truth's churn and revenue leave out the effects of past campaigns still in force.
    """
    idx = np.flatnonzero(np.isinf(people.death_day))
    order_value = prices.expected_order_value(people, np.arange(people.n))
    base = project_future(people, idx, n_days, start)
    order = np.argsort(person_numbers, kind="stable")
    ids = person_ids.take(pa.array(order))
    net = order_value * (1.0 - people.return_prob)
    customers = customers_truth_columns(people, n_days, idx, base, order_value, net)
    customers_truth = pa.table({"person_id": ids, **{k: v[order] for k, v in customers.items()}})
    truth = contact_truth(people, modifiers, receptiveness, actions, prices, start, n_days)
    action_truth = pa.table({
        "person_id": ids.take(pa.array(np.repeat(np.arange(people.n), len(actions)))),
        "action_id": categorical(np.tile(np.arange(len(actions)), people.n), [a.id for a in actions]),
        "p_treated": np.round(truth["p_treated"][order].ravel(), 6),
        "p_control": np.round(truth["p_control"][order].ravel(), 6),
        "true_net_margin_365d": np.round(truth["net_margin"][order].ravel(), 4),
        "true_offer_cost_365d": np.round(truth["offer_cost"][order].ravel(), 4),
    })
    return customers_truth, action_truth
