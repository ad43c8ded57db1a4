"""The `lifecycle` demo world: campaigns that act on retention, order size, reactivation and purchase rate.

Same people, records, dirty rows and extract contract as the `conversion` world; only the campaign
mechanics differ. A contact changes, for some weeks, a person's churn hazard, purchase rate, basket
size or the discount on their orders, or brings a churned (lapsed) customer back:

- discount_offer: 15 % off every order for 2 weeks — also the orders that would have happened anyway
  (cannibalisation) — and more orders from the price-sensitive. Loses money on loyal frequent buyers.
- retention_call: lowers the hazard of recent complainers (and eases their complaint) and of unhappy
  high-risk customers; RAISES the hazard and dents the purchase rate of content customers (calls hurt).
- upsell: larger baskets for engaged standard-tier buyers, next to nothing for premium buyers; turns
  price-sensitive budget buyers off (fewer orders).
- win_back: reactivates churned customers (more likely when they were engaged and left recently),
  revives long-idle ones, annoys recently active ones.
- survey: a small positive nudge (purchase rate, hazard) for nearly everyone.

Effects depend on state the pipeline's features see (recency, frequency, spend and tier, discount habit,
complaints, engagement) and on a per-person, per-action receptiveness (lognormal noise). The tool's
`converted` flag on a campaign row is "an order within the campaign week" (either arm): it misses
retention months later and basket size, and counts discounted orders that would have happened anyway.
The same `action_effects` drives the simulation and the truth (demo.generator.lifecycle_truth).
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

from models.decisions.catalog import Action
from demo.generator.dynamics import STEP_DAYS, People, hazard_daily, purchase_rate, satisfaction, season_table
from demo.generator.simulation import (
    NONE_CHANNEL, History, Collector, assign_campaign, campaign_days, draw_outcomes, draw_week_events,
)

EFFECT_TYPES = ("discount_offer", "retention_call", "upsell", "win_back", "survey")
PROMO_DISCOUNT_SHARE = 0.15       # the discount e-mail's code: 15 % off every order while it is valid
NOISE_SIGMA = 0.5                 # receptiveness: lognormal spread of each person's effect size per action type


@dataclass(frozen=True)
class Effect:
    """What one contact does to each person (arrays over persons); a multiplier of 1 or 0 weeks: nothing."""

    hazard_mult: np.ndarray
    hazard_weeks: np.ndarray
    rate_mult: np.ndarray
    rate_weeks: np.ndarray
    basket_mult: np.ndarray
    basket_weeks: np.ndarray
    promo_share: np.ndarray       # discount share on every order in the promotion window, -1: none
    promo_weeks: np.ndarray
    load_factor: np.ndarray       # complaint load is scaled by this (service recovery)
    p_reactivate: np.ndarray      # probability that a churned person comes back

    @property
    def harms(self) -> np.ndarray:
        """The contact raises the hazard or lowers the purchase rate (such people decline more often)."""
        return (self.hazard_mult > 1.0) | (self.rate_mult < 1.0)


@dataclass(frozen=True)
class LifecycleState:
    """The state of persons on a day that their response depends on (arrays over persons)."""

    alive: np.ndarray
    recency_days: np.ndarray          # days since the last order (or signup)
    days_since_complaint: np.ndarray  # inf if never
    days_since_churn: np.ndarray      # 0 while alive
    risk_90d: np.ndarray              # 1 - exp(-90 x hazard) without contact
    orders_per_year: np.ndarray       # current purchase rate, before the season
    engagement: np.ndarray
    price_sens: np.ndarray
    tier: np.ndarray
    receptiveness: np.ndarray         # (persons, len(EFFECT_TYPES)) lognormal, mean-one-ish noise


def draw_receptiveness(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, len(EFFECT_TYPES)) per-person effect-size noise: lognormal(0, NOISE_SIGMA), fixed for the world."""
    return rng.lognormal(0.0, NOISE_SIGMA, (n, len(EFFECT_TYPES)))


def lifecycle_state(people: People, idx: np.ndarray, day: float, receptiveness: np.ndarray) -> LifecycleState:
    """Collect the response-relevant state of persons `idx` on `day` (alive or churned)."""
    load = people.complaint_load[idx]
    sat = satisfaction(people.sat_base[idx], load)
    hazard = hazard_daily(people.engagement[idx], sat, load, 1.0)
    alive = ~(people.death_day[idx] <= day)
    return LifecycleState(
        alive=alive, recency_days=day - people.last_purchase_day[idx],
        days_since_complaint=day - people.last_complaint_day[idx],
        days_since_churn=np.where(alive, 0.0, day - people.death_day[idx]),
        risk_90d=-np.expm1(-90.0 * hazard), orders_per_year=purchase_rate(people.rate_base[idx], sat) * 365.0,
        engagement=people.engagement[idx], price_sens=people.price_sens[idx], tier=people.tier[idx],
        receptiveness=receptiveness[idx])


def action_effects(kind: str, s: LifecycleState) -> Effect:
    """The effect of contacting each person in `s` with an action of type `kind` (see the module docstring)."""
    if kind not in EFFECT_TYPES:
        raise ValueError(f"lifecycle world: action type '{kind}' has no mechanics; expected one of "
                         f"{', '.join(EFFECT_TYPES)}")
    n = len(s.alive)
    noise = s.receptiveness[:, EFFECT_TYPES.index(kind)]
    ones, zeros = np.ones(n), np.zeros(n)
    hazard, hazard_weeks, rate, rate_weeks = ones.copy(), zeros.copy(), ones.copy(), zeros.copy()
    basket, basket_weeks, promo, promo_weeks = ones.copy(), zeros.copy(), np.full(n, -1.0), zeros.copy()
    load_factor, reactivate = ones.copy(), zeros.copy()
    if kind == "discount_offer":
        promo[:], promo_weeks[:] = PROMO_DISCOUNT_SHARE, 2
        rate, rate_weeks[:] = 1.0 + 2.2 * s.price_sens ** 2 * noise, 2
    elif kind == "retention_call":
        complained = s.days_since_complaint <= 60
        unhappy = ~complained & (s.risk_90d >= 0.12)
        content = ~complained & ~unhappy
        hazard = np.where(complained, 0.4 ** noise, np.where(unhappy, 0.7 ** noise, 1.35 ** noise))
        hazard_weeks = np.where(content, 8, 13)
        load_factor = np.where(complained, 0.3, 1.0)
        rate = np.where(content, 1.0 - 0.15 * np.minimum(noise, 3.0), 1.0)
        rate_weeks = np.where(content, 4, 0)
    elif kind == "upsell":
        responsive = (s.tier == 1) & (s.engagement > 0.35) & (s.orders_per_year >= 3)
        turned_off = (s.tier == 0) & (s.price_sens > 0.6)
        basket = np.where(responsive, 1.0 + 0.30 * noise, np.where(s.tier == 2, 1.02, np.where(turned_off, 1.0, 1.06)))
        basket_weeks[:] = 4
        rate = np.where(turned_off, 1.0 - 0.10 * np.minimum(noise, 3.0), 1.0)
        rate_weeks = np.where(turned_off, 4, 0)
    elif kind == "win_back":
        idle, recent = s.recency_days > 120, s.recency_days <= 45
        reactivate = np.where(s.alive, 0.0, np.minimum(0.3, 0.12 * (0.3 + s.engagement)
                                                       * np.exp(-s.days_since_churn / 180.0) * noise))
        rate = np.where(~s.alive, 1.3, np.where(idle, 1.0 + 0.5 * noise, np.where(recent, 1.0, 1.1)))
        rate_weeks[:] = 4
        hazard = np.where(s.alive & idle, 0.8, np.where(s.alive & recent, 1.15 ** noise, 1.0))
        hazard_weeks = np.where(s.alive & idle, 8, np.where(s.alive & recent, 4, 0))
    else:  # survey
        rate = np.where(s.engagement > 0.15, 1.0 + 0.03 * noise, 1.0)
        rate_weeks[:] = 4
        hazard, hazard_weeks[:] = 0.95 ** noise, 8
    dead = ~s.alive   # a churned person is only touched by a reactivation
    return Effect(hazard_mult=np.where(dead & (reactivate == 0), 1.0, hazard), hazard_weeks=hazard_weeks,
                  rate_mult=rate, rate_weeks=rate_weeks, basket_mult=basket, basket_weeks=basket_weeks,
                  promo_share=promo, promo_weeks=promo_weeks, load_factor=load_factor, p_reactivate=reactivate)


EFFECT_SLOTS = 3                  # effects of up to this many recent contacts are in force together per field
_FIELDS = {"hazard": ("hazard_mult", "hazard_weeks"), "rate": ("rate_mult", "rate_weeks"),
           "basket": ("basket_mult", "basket_weeks"), "promo": ("promo_share", "promo_weeks")}


@dataclass
class Modifiers:
    """Per person and field (hazard, rate, basket, promo): the effects in force, EFFECT_SLOTS at a time.

    Effects of several contacts combine: hazard, rate and basket multipliers multiply, the best promotion
    discount applies. A new effect takes the slot that ends first (an ended one when there is one).
    """

    value: dict[str, np.ndarray]    # field -> (persons, EFFECT_SLOTS) multiplier or promotion share
    until: dict[str, np.ndarray]    # field -> (persons, EFFECT_SLOTS) day the effect ends (-inf: empty)

    @staticmethod
    def none(n: int) -> "Modifiers":
        return Modifiers({name: np.full((n, EFFECT_SLOTS), -1.0 if name == "promo" else 1.0) for name in _FIELDS},
                         {name: np.full((n, EFFECT_SLOTS), -np.inf) for name in _FIELDS})

    def take(self, idx: np.ndarray) -> "Modifiers":
        """The modifiers of persons `idx` (a copy)."""
        return Modifiers({k: v[idx].copy() for k, v in self.value.items()},
                         {k: v[idx].copy() for k, v in self.until.items()})

    def apply(self, rows: np.ndarray, effect: Effect, day: float, people: People | None = None,
              persons: np.ndarray | None = None) -> None:
        """Put `effect` (arrays aligned with `rows`) in force from `day` for its weeks; fields it does not set
        are left alone. With `people` and `persons` (the person of each row) the complaint load is scaled too."""
        for name, (value_field, weeks_field) in _FIELDS.items():
            weeks = getattr(effect, weeks_field)
            sets = np.flatnonzero(weeks > 0)
            target = rows[sets]
            slot = self.until[name][target].argmin(axis=1)
            self.value[name][target, slot] = getattr(effect, value_field)[sets]
            self.until[name][target, slot] = day + STEP_DAYS * weeks[sets]
        if people is not None:
            people.complaint_load[persons] *= effect.load_factor

    def active(self, name: str, rows: np.ndarray | slice, day: float | np.ndarray) -> np.ndarray:
        """The combined multiplier (or best promotion share, -1 for none) of `rows` in force on `day`."""
        live = self.until[name][rows] > np.asarray(day, dtype=float).reshape(-1, 1)
        if name == "promo":
            return np.where(live, self.value[name][rows], -1.0).max(axis=1)
        return np.where(live, self.value[name][rows], 1.0).prod(axis=1)


def simulate_lifecycle(people: People, actions: list[Action], start: dt.date, n_days: int, seed: int,
                       receptiveness: np.ndarray) -> tuple[History, Modifiers]:
    """Run the period week by week with lifecycle campaigns; returns every event and the effects in force at the end.

    Campaigns go out on campaign_days(n_days) to persons signed up before the campaign and not
    do-not-contact, churned ones included (they are still in the CRM). `people` is updated in place.
    """
    kinds = [a.type for a in actions]
    for kind in kinds:
        action_effects(kind, lifecycle_state(people, np.zeros(0, np.int64), 0, receptiveness))  # unknown type: fail now
    seasons = season_table(start, n_days)
    modifiers = Modifiers.none(people.n)
    campaigns = set(campaign_days(n_days)) if actions else set()
    collector = Collector()
    tag = zlib.crc32(b"lifecycle-week")
    bounds = list(range(0, n_days, STEP_DAYS)) + [n_days]
    for s0, s1 in zip(bounds[:-1], bounds[1:]):
        rng = np.random.default_rng([seed, tag, s0])
        lifecycle_week(people, modifiers, s0, s1, seasons, actions if s0 in campaigns else None, kinds,
                        receptiveness, rng, collector)
    return collector.history(), modifiers


def lifecycle_week(people: People, modifiers: Modifiers, s0: int, s1: int, seasons: np.ndarray,
                   actions: list[Action] | None, kinds: list[str], receptiveness: np.ndarray,
                   rng: np.random.Generator, out: Collector) -> None:
    """One week: campaign effects (reactivations first), then death times and events of everybody alive."""
    if actions:
        candidates = np.flatnonzero((people.signup_day < s0) & ~people.do_not_contact)
        persons, action, channel, control = assign_campaign(rng, candidates, actions)
        harmed = np.zeros(len(persons), dtype=bool)
        treated = np.flatnonzero(~control)
        harmed[treated] = apply_contacts(people, modifiers, receptiveness, persons[treated], action[treated], kinds,
                                         s0, rng)
    idx = np.flatnonzero((people.signup_day < s1) & np.isinf(people.death_day))
    if len(idx):
        begin = np.maximum(s0, people.signup_day[idx]).astype(float)
        buyers = draw_week_events(
            people, idx, s0, s1, begin, seasons, modifiers.active("hazard", idx, s0), np.full(len(idx), -np.inf),
            rng, out, rate_mult=modifiers.active("rate", idx, s0),
            purchase_terms=lambda who, day: (modifiers.active("basket", who, day), modifiers.active("promo", who, day)))
    else:
        buyers = np.zeros(0, dtype=np.int64)
    if actions:
        converted = np.isin(persons, buyers)    # the tool's flag: an order within the campaign week
        out.add("campaign", person=persons, day=s0, action=action,
                channel=np.where(control, NONE_CHANNEL, channel),
                outcome=draw_outcomes(rng, converted, control, harmed))


def apply_contacts(people: People, modifiers: Modifiers, receptiveness: np.ndarray, persons: np.ndarray,
                   action: np.ndarray, kinds: list[str], day: int, rng: np.random.Generator) -> np.ndarray:
    """Put the effects of contacting `persons` (action index per row, types `kinds`) on `day` in force:
    reactivation of the churned, then the modifiers and complaint relief. Returns who was harmed (alive, and the
    contact raises their hazard or lowers their purchase rate). Shared by the company's campaigns and the
    simulator's execution of the plan (demo.generator.execution)."""
    harmed = np.zeros(len(persons), dtype=bool)
    state = lifecycle_state(people, persons, day, receptiveness)
    back = rng.random(len(persons))
    for j, kind in enumerate(kinds):
        rows = np.flatnonzero(action == j)
        effect = action_effects(kind, _subset(state, rows))
        who = persons[rows]
        returns = back[rows] < effect.p_reactivate
        people.death_day[who[returns]] = np.inf
        people.complaint_load[who[returns]] = 0.0
        modifiers.apply(who, effect, day, people, who)
        harmed[rows] = effect.harms & state.alive[rows]
    return harmed


def _subset(state: LifecycleState, rows: np.ndarray) -> LifecycleState:
    return LifecycleState(**{name: getattr(state, name)[rows] for name in state.__dataclass_fields__})
