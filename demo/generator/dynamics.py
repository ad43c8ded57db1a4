"""Latent dynamics of the demo world: seasonality, churn hazard, event rates, prices and projections.

The simulation (generator_simulation) and the ground truth (generator_response) both call these
functions, so what the truth files claim is exactly the process the extracts were drawn from.
Time is measured in days since the first day of the period (day 0); arrays run over persons.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

STEP_DAYS = 7                    # the simulation advances a week at a time
BASE_HAZARD_DAILY = 0.0006       # churn hazard of an average person (~20 % a year)
COMPLAINT_DECAY_DAYS = 45.0      # a complaint's weight on satisfaction and hazard fades with this time constant
BOOST_DAYS = 90                  # a conversion lowers the hazard for this many days
EVENT_TYPES = ("purchase", "visit", "support", "inquiry", "complaint", "survey")
PURCHASE, VISIT, SUPPORT, INQUIRY, COMPLAINT, SURVEY = range(len(EVENT_TYPES))

CATEGORIES = ("electronics", "home", "fashion", "beauty", "grocery", "sports", "books", "toys")
CATEGORY_POPULARITY = np.array([0.12, 0.15, 0.18, 0.12, 0.15, 0.10, 0.08, 0.10])
CATEGORY_BASE_PRICE = np.array([160.0, 60.0, 48.0, 26.0, 34.0, 55.0, 18.0, 30.0])
TIERS = ("budget", "standard", "premium")
TIER_PRICE_MULT = np.array([0.6, 1.0, 1.9])
PREMIUM_RANGE_MULT = 2.3         # price level of the premium range an upsell conversion buys
PRODUCTS_PER_CATEGORY = 250
UNIT_PRICE_SIGMA = 0.15
QUANTITY_PROBS = np.array([0.6, 0.24, 0.096, 0.0384, 0.0256])   # quantity 1..5
DISCOUNT_SHARES = np.array([0.05, 0.10, 0.15, 0.20, 0.25, 0.30])
MARGIN_RATE = 0.30               # the worlds' true gross margin on list prices (= the shipped decisions.margin_rate)
TRUTH_HORIZON_DAYS = 365         # the truth's evaluation horizon after the as-of date

_WEEKLY_PURCHASE = np.array([0.92, 0.90, 0.94, 0.98, 1.08, 1.22, 0.96])   # Monday .. Sunday


@dataclass
class People:
    """Latent state per person (static traits plus the dynamic state the simulation updates)."""

    signup_day: np.ndarray          # int32, days since the period start (negative: before it)
    engagement: np.ndarray          # (0, 1)
    sat_base: np.ndarray            # satisfaction without recent complaints, (0, 1)
    price_sens: np.ndarray          # (0, 1)
    tier: np.ndarray                # int8 index into TIERS
    affinity: np.ndarray            # (n, len(CATEGORIES)), rows sum to 1
    rate_base: np.ndarray           # purchases per day at satisfaction 0.6 and season 1
    channel_pref: np.ndarray        # (n, 3) shares of web / app / store purchases
    lang: np.ndarray                # int8 index into generator_text.LANGUAGES
    do_not_contact: np.ndarray      # bool: excluded from campaigns
    return_prob: np.ndarray         # probability that an order is returned
    death_day: np.ndarray           # float, inf while alive
    complaint_load: np.ndarray      # decayed count of recent complaints
    last_complaint_day: np.ndarray  # float, -inf if none
    last_purchase_day: np.ndarray   # float (signup day if no purchase yet)
    boost_mult: np.ndarray          # hazard multiplier of the latest conversion
    boost_until: np.ndarray         # day the boost ends

    @property
    def n(self) -> int:
        return len(self.signup_day)


def day_dates(start: dt.date, first_day: int, n_days: int) -> np.ndarray:
    """Calendar dates (datetime64[D]) of days first_day .. first_day + n_days - 1."""
    return np.datetime64(start, "D") + np.arange(first_day, first_day + n_days)


def _raw_purchase_season(dates: np.ndarray) -> np.ndarray:
    weekday = (dates.astype(np.int64) + 3) % 7
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    dom = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    yearly = 1.0 + 0.12 * np.cos(2 * np.pi * (doy - 355) / 365.25)
    peak = np.ones(len(dates))
    peak[(month == 11) & (dom >= 20)] = 1.9
    peak[(month == 12) & (dom <= 23)] = 1.45
    peak[(month == 1) & (dom >= 7) & (dom <= 20)] = 1.2
    peak[month == 8] = 0.85
    return _WEEKLY_PURCHASE[weekday] * yearly * peak


_SEASON_MEAN = float(_raw_purchase_season(np.arange(np.datetime64("2020-01-01"), np.datetime64("2024-01-01"))).mean())


def purchase_season(dates: np.ndarray) -> np.ndarray:
    """Multiplier of the purchase rate on each date (mean 1): weekends, Black Friday, Christmas, sales."""
    return _raw_purchase_season(dates) / _SEASON_MEAN


def visit_season(dates: np.ndarray) -> np.ndarray:
    """Multiplier of the visit rate: a damped copy of the purchase season."""
    return np.sqrt(purchase_season(dates))


def season_table(start: dt.date, n_days: int) -> np.ndarray:
    """(len(EVENT_TYPES), n_days) daily rate multipliers per event type; types without a season are 1."""
    dates = day_dates(start, 0, n_days)
    table = np.ones((len(EVENT_TYPES), n_days))
    table[PURCHASE] = purchase_season(dates)
    table[VISIT] = visit_season(dates)
    return table


def satisfaction(sat_base: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Current satisfaction: the base level dented by recent complaints."""
    return np.clip(sat_base - 0.15 * load, 0.02, 0.98)


def hazard_daily(engagement: np.ndarray, sat: np.ndarray, load: np.ndarray, mult: np.ndarray | float) -> np.ndarray:
    """Daily churn hazard: up with low satisfaction and recent complaints, down with engagement."""
    risk = 3.0 * (0.7 - sat) - 2.0 * (engagement - 0.45) + 0.5 * np.minimum(load, 3.0)
    return BASE_HAZARD_DAILY * np.exp(risk) * mult


def purchase_rate(rate_base: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """Purchases per day (before seasonality): unhappy customers buy less."""
    return rate_base * (0.55 + 0.75 * sat)


def event_rates(people: People, idx: np.ndarray, sat: np.ndarray) -> np.ndarray:
    """(len(idx), len(EVENT_TYPES)) events per day, before seasonality."""
    e = people.engagement[idx]
    rates = np.empty((len(idx), len(EVENT_TYPES)))
    rates[:, PURCHASE] = purchase_rate(people.rate_base[idx], sat)
    rates[:, VISIT] = (2.0 + 25.0 * e ** 1.5) / 365.0
    rates[:, SUPPORT] = (0.4 + 0.8 * (1.0 - sat)) / 365.0
    rates[:, INQUIRY] = 0.5 * (0.5 + e) / 365.0
    rates[:, COMPLAINT] = (0.05 + 2.5 * (1.0 - sat) ** 2) / 365.0
    rates[:, SURVEY] = 0.35 * (0.5 + e) / 365.0
    return rates


def active_boost(people: People, idx: np.ndarray, day: float) -> np.ndarray:
    """Hazard multiplier from a past conversion that is still in force on `day` (1 otherwise)."""
    return np.where(people.boost_until[idx] > day, people.boost_mult[idx], 1.0)


@dataclass(frozen=True)
class PriceModel:
    """Product price factors and the expected values that follow from them."""

    product_factor: np.ndarray      # (len(CATEGORIES), PRODUCTS_PER_CATEGORY) price factor of each product

    @staticmethod
    def draw(rng: np.random.Generator) -> "PriceModel":
        factors = rng.lognormal(0.0, 0.35, (len(CATEGORIES), PRODUCTS_PER_CATEGORY))
        return PriceModel(product_factor=factors)

    def draw_products(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Product index within its category: a few best sellers, a long tail."""
        return np.minimum((PRODUCTS_PER_CATEGORY * rng.random(n) ** 2).astype(np.int32), PRODUCTS_PER_CATEGORY - 1)

    def category_value(self) -> np.ndarray:
        """Expected gross order value per category at tier multiplier 1 (noise and quantity included)."""
        k = np.arange(PRODUCTS_PER_CATEGORY + 1) / PRODUCTS_PER_CATEGORY
        popularity = np.diff(np.sqrt(k))
        mean_factor = self.product_factor @ popularity
        mean_quantity = float(QUANTITY_PROBS @ np.arange(1, len(QUANTITY_PROBS) + 1))
        return CATEGORY_BASE_PRICE * mean_factor * np.exp(UNIT_PRICE_SIGMA ** 2 / 2) * mean_quantity

    def expected_gross(self, weights: np.ndarray, tier_mult: np.ndarray | float) -> np.ndarray:
        """Expected gross order value given category weights (n, categories) and a tier multiplier."""
        return (weights @ self.category_value()) * tier_mult

    def expected_order_value(self, people: People, idx: np.ndarray) -> np.ndarray:
        """Expected amount paid for an ordinary order (after the usual discounts)."""
        gross = self.expected_gross(people.affinity[idx], TIER_PRICE_MULT[people.tier[idx]])
        return gross * (1.0 - discount_probability(people.price_sens[idx]) * DISCOUNT_SHARES.mean())


def discount_probability(price_sens: np.ndarray) -> np.ndarray:
    """Share of a person's ordinary orders that carry a discount."""
    return 0.08 + 0.25 * price_sens


def habitual_discount_share(price_sens: np.ndarray) -> np.ndarray:
    """Expected discount share of a person's ordinary orders (how often times how much)."""
    return discount_probability(price_sens) * DISCOUNT_SHARES.mean()


def order_net_margin(gross: np.ndarray, discount_share: np.ndarray | float, keep: np.ndarray) -> np.ndarray:
    """Expected net margin of an order: MARGIN_RATE x list value - discount, 0 when it is returned.

    The discount comes off the margin in full (the goods cost the same); `keep` = 1 - return probability.
    """
    return keep * gross * (MARGIN_RATE - discount_share)


@dataclass(frozen=True)
class Projection:
    """What lies ahead of alive persons from a day on, with no further contact."""

    p_no_purchase_90d: np.ndarray
    expected_orders_365d: np.ndarray


def project_future(people: People, idx: np.ndarray, day0: int, start: dt.date, *,
                   hazard_cap: float | None = None, load_factor: float = 1.0) -> Projection:
    """Integrate hazard and purchase rate week by week from `day0` (persons `idx`, all alive then).

    `hazard_cap` / `load_factor` describe a conversion on day0: the hazard multiplier is at most the
    cap for BOOST_DAYS days and the complaint load is scaled. Complaint load decays as in the simulation.
    """
    horizon = 365
    load0 = people.complaint_load[idx] * load_factor
    mult_now = active_boost(people, idx, day0)
    if hazard_cap is not None:
        mult_now, until = np.minimum(mult_now, hazard_cap), np.full(len(idx), day0 + BOOST_DAYS, dtype=float)
    else:
        until = people.boost_until[idx]
    season = purchase_season(day_dates(start, day0, horizon))
    e, sat_base, rate_base = people.engagement[idx], people.sat_base[idx], people.rate_base[idx]
    bounds = sorted(set(range(0, horizon, STEP_DAYS)) | {90, horizon})
    alive_no_purchase, no_purchase = np.ones(len(idx)), np.zeros(len(idx))
    survival, orders = np.ones(len(idx)), np.zeros(len(idx))
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        span = t1 - t0
        load = load0 * np.exp(-t0 / COMPLAINT_DECAY_DAYS)
        sat = satisfaction(sat_base, load)
        h = hazard_daily(e, sat, load, np.where(day0 + t0 < until, mult_now, 1.0))
        lam = purchase_rate(rate_base, sat) * season[t0:t1].mean()
        orders += survival * lam * -np.expm1(-h * span) / h
        survival *= np.exp(-h * span)
        if t1 <= 90:
            q = h + lam
            no_purchase += alive_no_purchase * h / q * -np.expm1(-q * span)
            alive_no_purchase *= np.exp(-q * span)
    return Projection(p_no_purchase_90d=no_purchase + alive_no_purchase, expected_orders_365d=orders)
