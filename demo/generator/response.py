"""Campaign response of the demo world: heterogeneous uplift per action type, conversion effects, truth.

The same `response_probabilities` decides conversions in the simulated campaign history and fills
`action_truth`, and `project_future` (generator_dynamics) fills `customers_truth`, so the truth files
describe exactly the process that produced the extracts.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from models.decisions.catalog import Action
from demo.generator.dynamics import (
    PREMIUM_RANGE_MULT, TIER_PRICE_MULT, People, PriceModel, Projection, active_boost, habitual_discount_share,
    hazard_daily, order_net_margin, project_future, purchase_rate, satisfaction,
)
from demo.generator.format import categorical

# Share of the natural 14-day purchase probability that counts as a spontaneous conversion (control arm).
_CONTROL_SCALE = {"retention_offer": 0.5, "win_back": 0.5, "upsell": 0.2, "cross_sell": 0.25,
                  "service_recovery_call": 0.4, "content": 0.4}
# Per action type: (hazard multiplier cap for BOOST_DAYS after a conversion, complaint-load factor).
_RETENTION_EFFECT = {"retention_offer": (0.5, 1.0), "win_back": (0.6, 1.0), "service_recovery_call": (0.5, 0.3),
                     "upsell": (0.9, 1.0), "cross_sell": (0.9, 1.0), "content": (0.95, 1.0), "survey": (1.0, 1.0)}


@dataclass(frozen=True)
class ConversionEffect:
    """What a conversion does to the person: an order (or a survey answer) and a lower hazard for a while."""

    hazard_cap: float
    load_factor: float
    buys: bool                  # False: the conversion is a survey answer, no order
    tier_mult: float | None     # price level of the converted order (None: the person's own tier)
    new_category: bool          # the converted order is in a category the person rarely buys
    discount_share: float


def conversion_effect(action: Action) -> ConversionEffect:
    """The effect of converting on `action` (unknown action types get a mild default)."""
    cap, load_factor = _RETENTION_EFFECT.get(action.type, (0.9, 1.0))
    return ConversionEffect(hazard_cap=cap, load_factor=load_factor, buys=action.value_basis != "fixed",
                            tier_mult=PREMIUM_RANGE_MULT if action.type == "upsell" else None,
                            new_category=action.type == "cross_sell", discount_share=action.offer_cost_share)


def new_category_weights(affinity: np.ndarray) -> np.ndarray:
    """Category weights of a cross-sell order: mostly categories the person rarely buys."""
    weights = (1.0 - affinity) ** 4
    return weights / weights.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ResponseFeatures:
    """The state a campaign response depends on, for persons idx on a day."""

    engagement: np.ndarray
    sat: np.ndarray
    price_sens: np.ndarray
    tier: np.ndarray
    risk_90d: np.ndarray            # 1 - exp(-90 * hazard): churn risk without contact
    recency_days: np.ndarray        # days since the last order (or signup)
    complained_30d: np.ndarray
    purchases_per_year: np.ndarray
    top_affinity: np.ndarray
    buy_14d: np.ndarray             # probability of an ordinary order within 14 days


def response_features(people: People, idx: np.ndarray, day: float) -> ResponseFeatures:
    """Collect the response-relevant state of persons `idx` on `day`."""
    load = people.complaint_load[idx]
    sat = satisfaction(people.sat_base[idx], load)
    hazard = hazard_daily(people.engagement[idx], sat, load, 1.0)
    return ResponseFeatures(
        engagement=people.engagement[idx], sat=sat, price_sens=people.price_sens[idx], tier=people.tier[idx],
        risk_90d=-np.expm1(-90.0 * hazard), recency_days=day - people.last_purchase_day[idx],
        complained_30d=(day - people.last_complaint_day[idx]) <= 30,
        purchases_per_year=people.rate_base[idx] * 365.0, top_affinity=people.affinity[idx].max(axis=1),
        buy_14d=-np.expm1(-14.0 * purchase_rate(people.rate_base[idx], sat)),
    )


def true_uplift(action: Action, f: ResponseFeatures) -> np.ndarray:
    """Heterogeneous uplift in conversion probability; negative for some people on some actions."""
    kind = action.type
    if kind == "retention_offer":   # works for medium risk; cheapens the brand for safe premium buyers
        bump = 0.16 * np.exp(-(((f.risk_90d - 0.10) / 0.05) ** 2)) * (0.6 + 0.8 * f.price_sens)
        return bump - 0.02 * ((f.tier == 2) & (f.risk_90d < 0.03))
    if kind == "win_back":          # for the lapsed; annoys the recently active
        return np.where(f.recency_days > 180, 0.05 + 0.10 * f.engagement, np.where(f.recency_days < 30, -0.006, 0.004))
    if kind == "upsell":            # frequent buyers in the lower tiers; price-sensitive budget buyers resent it
        lift = np.where(f.purchases_per_year >= 6, 0.10 * (1.2 - f.price_sens), 0.01)
        lift = np.where(f.tier == 2, 0.005, lift)
        return np.where((f.tier == 0) & (f.price_sens > 0.7), -0.03, lift)
    if kind == "cross_sell":        # engaged people with spread-out tastes
        return 0.005 + 0.07 * f.engagement * (1.0 - f.top_affinity)
    if kind == "service_recovery_call":   # recent complainers, most when unhappy; an unprompted call irritates
        return np.where(f.complained_30d, 0.12 + 0.18 * (1.0 - f.sat), -0.01 * (1.0 - f.engagement))
    if kind == "survey":
        return 0.03 + 0.08 * f.engagement
    if kind == "content":           # next to nothing, slightly negative for the disengaged
        return 0.006 * (f.engagement - 0.3)
    return np.full(len(f.sat), action.prior_uplift)


def response_probabilities(people: People, idx: np.ndarray, day: float,
                           actions: list[Action]) -> tuple[np.ndarray, np.ndarray]:
    """(p_control, p_treated), each (len(idx), len(actions)): conversion within 14 days without / with contact."""
    f = response_features(people, idx, day)
    p_control = np.empty((len(idx), len(actions)))
    p_treated = np.empty_like(p_control)
    for j, action in enumerate(actions):
        if action.type == "survey":
            base = 0.01 + 0.02 * f.engagement
        else:
            base = 0.003 + _CONTROL_SCALE.get(action.type, 0.4) * f.buy_14d
        p_control[:, j] = np.clip(base, 0.001, 0.9)
        p_treated[:, j] = np.clip(p_control[:, j] + true_uplift(action, f), 0.001, 0.95)
    return p_control, p_treated


def build_truth(people: People, actions: list[Action], prices: PriceModel, start: dt.date, n_days: int,
                person_ids: pa.StringArray, person_numbers: np.ndarray) -> tuple[pa.Table, pa.Table]:
    """customers_truth and action_truth as of the day after the period (day n_days), sorted by person_id.

    person_ids / person_numbers: each person's golden customer id and its number (same order as ids).
    Dead persons get churn probability 1 and revenue 0, and probability 0 and value 0 for every action.
    action_truth: p_treated / p_control (conversion within 14 days), value_if_converted (revenue of one
    conversion), true_net_margin_365d = (p_treated - p_control) x the conversion's net margin (its order and
    the orders it retains over TRUTH_HORIZON_DAYS, MARGIN_RATE x list value - discounts) and
    true_offer_cost_365d = p_treated x the discount of the converted order; both before the contact cost.
    """
    alive = np.isinf(people.death_day)
    idx = np.flatnonzero(alive)
    order_value = prices.expected_order_value(people, np.arange(people.n))
    net = order_value * (1.0 - people.return_prob)
    base = project_future(people, idx, n_days, start)
    order = np.argsort(person_numbers, kind="stable")
    ids = person_ids.take(pa.array(order))
    customers_truth = customers_truth_columns(people, n_days, idx, base, order_value, net)
    customers_truth = pa.table({"person_id": ids, **{k: v[order] for k, v in customers_truth.items()}})
    p_control, p_treated = response_probabilities(people, np.arange(people.n), n_days, actions)
    p_control[~alive], p_treated[~alive] = 0.0, 0.0
    values, margins, offer = (np.zeros_like(p_control) for _ in range(3))
    values[idx], margins[idx], offer[idx] = _conversion_values(people, idx, actions, prices, start, n_days,
                                                               base.expected_orders_365d, net[idx])
    action_truth = pa.table({
        "person_id": ids.take(pa.array(np.repeat(np.arange(people.n), len(actions)))),
        "action_id": categorical(np.tile(np.arange(len(actions)), people.n), [a.id for a in actions]),
        "p_treated": np.round(p_treated[order].ravel(), 6), "p_control": np.round(p_control[order].ravel(), 6),
        "value_if_converted": np.round(values[order].ravel(), 2),
        "true_net_margin_365d": np.round(((p_treated - p_control) * margins)[order].ravel(), 4),
        "true_offer_cost_365d": np.round((p_treated * offer)[order].ravel(), 4),
    })
    return customers_truth, action_truth


def customers_truth_columns(people: People, n_days: int, idx: np.ndarray, base: Projection, order_value: np.ndarray,
                     net: np.ndarray) -> dict[str, np.ndarray]:
    """Per person (in person order): hazard today, 90-day churn, order value, 365-day revenue, alive."""
    everyone = np.arange(people.n)
    load = people.complaint_load
    hazard = hazard_daily(people.engagement, satisfaction(people.sat_base, load), load,
                          active_boost(people, everyone, n_days))
    churn, revenue = np.ones(people.n), np.zeros(people.n)
    churn[idx] = base.p_no_purchase_90d
    revenue[idx] = base.expected_orders_365d * net[idx]
    return {"churn_hazard_daily": np.round(hazard, 8), "true_churn_90d_probability": np.round(churn, 6),
            "expected_order_value": np.round(order_value, 2), "expected_revenue_365d": np.round(revenue, 2),
            "is_alive": np.isin(everyone, idx)}


def _conversion_values(people: People, idx: np.ndarray, actions: list[Action], prices: PriceModel,
                       start: dt.date, n_days: int, base_orders: np.ndarray,
                       net: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(len(idx), len(actions)) arrays per conversion: revenue (the converted order plus the revenue it
    retains), net margin (the same in MARGIN_RATE x list value - discounts) and the offer's discount.

    A `fixed` action's conversion is worth the catalog's value_per_conversion, in both revenue and margin.
    """
    values, margins, offer = (np.zeros((len(idx), len(actions))) for _ in range(3))
    retained: dict[tuple[float, float], np.ndarray] = {}
    keep = 1.0 - people.return_prob[idx]
    ordinary_margin = order_net_margin(prices.expected_gross(people.affinity[idx], TIER_PRICE_MULT[people.tier[idx]]),
                                       habitual_discount_share(people.price_sens[idx]), keep)
    for j, action in enumerate(actions):
        effect = conversion_effect(action)
        if not effect.buys:
            values[:, j] = margins[:, j] = action.value_per_conversion or 0.0
            continue
        weights = new_category_weights(people.affinity[idx]) if effect.new_category else people.affinity[idx]
        tier_mult = effect.tier_mult if effect.tier_mult is not None else TIER_PRICE_MULT[people.tier[idx]]
        gross = prices.expected_gross(weights, tier_mult)
        order_value = gross * (1.0 - effect.discount_share) * keep
        key = (effect.hazard_cap, effect.load_factor)
        if key not in retained:
            converted = project_future(people, idx, n_days, start, hazard_cap=key[0], load_factor=key[1])
            retained[key] = converted.expected_orders_365d - base_orders
        values[:, j] = order_value + retained[key] * net
        margins[:, j] = order_net_margin(gross, effect.discount_share, keep) + retained[key] * ordinary_margin
        offer[:, j] = gross * effect.discount_share * keep
    return values, margins, offer
