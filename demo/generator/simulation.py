"""Week-by-week simulation of the demo world: churn, purchases, interactions and randomised campaigns.

Each week every living person draws a death time from their current hazard and Poisson counts of
events (thinned by the daily season); complaints then raise the complaint load that lowers
satisfaction and raises the hazard. Every ~30 days a campaign randomly assigns ~15 % of the living,
contactable persons to an action and channel, a quarter of them to a no-contact control; conversions
add an order (or a survey answer) within the week and lower the hazard for BOOST_DAYS.
Everything is vectorised over persons; the only Python loop is over the ~160 weeks.
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

from models.decisions.catalog import Action
from demo.generator.dynamics import (
    BOOST_DAYS, COMPLAINT, COMPLAINT_DECAY_DAYS, PURCHASE, STEP_DAYS, SURVEY, People, active_boost, event_rates,
    hazard_daily, satisfaction, season_table,
)
from demo.generator.response import conversion_effect, response_probabilities

INTERACTION_CHANNELS = ("email", "sms", "phone", "web", "app", "store", "chat", "none")
NONE_CHANNEL = INTERACTION_CHANNELS.index("none")
OUTCOMES = ("accepted", "declined", "no_response", "converted")
ACCEPTED, DECLINED, NO_RESPONSE, CONVERTED = range(len(OUTCOMES))
CAMPAIGN_SHARE = 0.15
CONTROL_SHARE = 0.25
CAMPAIGN_GAPS_WEEKS = (4, 4, 5)      # campaign dates every 28, 28, 35 days: ~30 on average
ACCEPT_SHARE = 0.06                  # treated, not converted: accepted the offer but did not buy


@dataclass
class History:
    """Everything that happened in the period, one array per field (persons are indices)."""

    purchase_person: np.ndarray
    purchase_day: np.ndarray
    purchase_action: np.ndarray      # -1 ordinary order, else index of the action it converted on
    purchase_value_mult: np.ndarray  # multiplier of the order's expected gross value (1: as usual)
    purchase_discount: np.ndarray    # discount share of a promotion the order was placed under, -1: habitual
    event_person: np.ndarray
    event_day: np.ndarray
    event_type: np.ndarray           # index into generator_dynamics.EVENT_TYPES (never PURCHASE)
    event_sat: np.ndarray            # satisfaction at the time (drives notes, csat, nps)
    event_channel: np.ndarray        # index into INTERACTION_CHANNELS, -1: drawn later from the type
    campaign_person: np.ndarray
    campaign_day: np.ndarray
    campaign_action: np.ndarray
    campaign_channel: np.ndarray     # NONE_CHANNEL for the control arm
    campaign_outcome: np.ndarray


class Collector:
    """Accumulates per-week arrays and concatenates them once at the end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in History.__dataclass_fields__}

    def add(self, prefix: str, **fields) -> None:
        size = max(len(v) for v in fields.values() if np.ndim(v))
        for name, value in fields.items():
            self.parts[f"{prefix}_{name}"].append(np.broadcast_to(value, size).copy() if np.ndim(value) == 0
                                                  else np.asarray(value))

    def history(self) -> History:
        dtypes = {"person": np.int32, "day": np.int32, "action": np.int16, "type": np.int8, "sat": np.float32,
                  "channel": np.int8, "outcome": np.int8, "value_mult": np.float64, "discount": np.float64}
        return History(**{name: np.concatenate(parts).astype(dtypes[name.split("_", 1)[1]]) if parts
                          else np.zeros(0, dtype=dtypes[name.split("_", 1)[1]]) for name, parts in self.parts.items()})


def campaign_days(n_days: int) -> list[int]:
    """Days (step starts) on which a campaign goes out: from day 14, every 4, 4, 5 weeks, never in the last week."""
    days, week, gap = [], 2, 0
    while (week + 1) * STEP_DAYS <= n_days - STEP_DAYS:
        days.append(week * STEP_DAYS)
        week += CAMPAIGN_GAPS_WEEKS[gap % len(CAMPAIGN_GAPS_WEEKS)]
        gap += 1
    return days


def simulate_history(people: People, actions: list[Action], start: dt.date, n_days: int, seed: int, *,
                     first_day: int = 0) -> History:
    """Run days first_day .. n_days - 1 week by week, updating `people` in place; returns every event.

    Campaigns go out on campaign_days(n_days) when `actions` is non-empty (an empty list: no campaigns).
    """
    seasons = season_table(start, n_days)
    bounds = list(range(first_day, n_days, STEP_DAYS)) + [n_days]
    campaigns = set(campaign_days(n_days)) if actions else set()
    collector = Collector()
    tag = zlib.crc32(b"simulation-week")
    for s0, s1 in zip(bounds[:-1], bounds[1:]):
        rng = np.random.default_rng([seed, tag, s0])
        simulate_week(people, s0, s1, seasons, actions if s0 in campaigns else None, rng, collector)
    return collector.history()


def simulate_week(people: People, s0: int, s1: int, seasons: np.ndarray, actions: list[Action] | None,
                  rng: np.random.Generator, out: Collector, converted_day: np.ndarray | None = None) -> None:
    """One week for everybody alive and signed up: campaign (if any), death time, events, state update.

    `converted_day` (optional, per person, -1: none) holds conversions already applied this week (the
    simulator's executed contacts): such a person does not die before converting, as for a campaign's."""
    idx = np.flatnonzero((people.signup_day < s1) & np.isinf(people.death_day))
    if not len(idx):
        return
    begin = np.maximum(s0, people.signup_day[idx]).astype(float)
    converted_at = np.full(len(idx), -1.0) if converted_day is None else converted_day[idx].astype(float)
    if actions:
        _run_campaign(people, idx, begin == s0, s0, actions, rng, out, converted_at)
    draw_week_events(people, idx, s0, s1, begin, seasons, active_boost(people, idx, s0), converted_at - s0 + 0.5,
                     rng, out)


def draw_week_events(people: People, idx: np.ndarray, s0: int, s1: int, begin: np.ndarray, seasons: np.ndarray,
                     hazard_mult: np.ndarray, min_death: np.ndarray, rng: np.random.Generator, out: Collector, *,
                     rate_mult: np.ndarray | None = None, purchase_terms=None) -> np.ndarray:
    """Death times and Poisson events of persons `idx` over [begin, s1), then the state update.

    `hazard_mult` scales each person's churn hazard, `rate_mult` (optional) their purchase rate; nobody dies
    before `min_death` days after s0. `purchase_terms(persons, days)` (optional) returns each new order's
    (value multiplier, promotion discount share or -1). Returns the persons (of idx) who bought this week.
    """
    load = people.complaint_load[idx]
    sat = satisfaction(people.sat_base[idx], load)
    hazard = hazard_daily(people.engagement[idx], sat, load, hazard_mult)
    death = np.maximum(rng.exponential(1.0, len(idx)) / hazard, min_death)
    span = s1 - begin
    dies = death < span
    exposure = np.where(dies, death, span)
    peak = seasons[:, s0:s1].max(axis=1)
    weighted = event_rates(people, idx, sat) * peak
    if rate_mult is not None:
        weighted[:, PURCHASE] *= rate_mult
    local = np.repeat(np.arange(len(idx)), rng.poisson(weighted.sum(axis=1) * exposure))
    day = np.minimum(begin[local] + rng.random(len(local)) * exposure[local], s1 - 1).astype(np.int32)
    cumulative = np.cumsum(weighted[local], axis=1)
    kind = (rng.random(len(local))[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1).astype(np.int8)
    keep = rng.random(len(local)) * peak[kind] < seasons[kind, day]      # thinning: the daily season
    local, day, kind = local[keep], day[keep], kind[keep]
    buys = kind == PURCHASE
    buyers = idx[local[buys]]
    value_mult, discount = purchase_terms(buyers, day[buys]) if purchase_terms else (1.0, -1.0)
    out.add("purchase", person=buyers, day=day[buys], action=-1, value_mult=value_mult, discount=discount)
    out.add("event", person=idx[local[~buys]], day=day[~buys], type=kind[~buys], sat=sat[local[~buys]], channel=-1)
    np.maximum.at(people.last_purchase_day, buyers, day[buys])
    complaints = kind == COMPLAINT
    np.maximum.at(people.last_complaint_day, idx[local[complaints]], day[complaints])
    decay = np.exp(-(s1 - s0) / COMPLAINT_DECAY_DAYS)
    people.complaint_load[idx] = load * decay + np.bincount(local[complaints], minlength=len(idx))
    people.death_day[idx[dies]] = begin[dies] + death[dies]
    return np.unique(buyers)


def _run_campaign(people: People, idx: np.ndarray, present: np.ndarray, day: int, actions: list[Action],
                  rng: np.random.Generator, out: Collector, converted_at: np.ndarray) -> None:
    """Randomly assign action, channel and arm; draw outcomes; apply conversions (sets converted_at)."""
    chosen, action, channel, control = assign_campaign(rng, np.flatnonzero(present & ~people.do_not_contact[idx]),
                                                       actions)
    persons = idx[chosen]
    p_control, p_treated = response_probabilities(people, persons, day, actions)
    rows = np.arange(len(chosen))
    p_control, p_treated = p_control[rows, action], p_treated[rows, action]
    converted = rng.random(len(chosen)) < np.where(control, p_control, p_treated)
    outcome = draw_outcomes(rng, converted, control, p_treated < p_control)
    out.add("campaign", person=persons, day=day, action=action, channel=np.where(control, NONE_CHANNEL, channel),
            outcome=outcome)
    when = apply_conversions(people, persons, action, np.where(control, -1, channel), converted, day, actions,
                             rng.integers(1, STEP_DAYS, len(chosen)), out)
    converted_at[chosen[converted]] = when[converted]


def apply_conversions(people: People, persons: np.ndarray, action: np.ndarray, channel: np.ndarray,
                      converted: np.ndarray, day: int, actions: list[Action], offset: np.ndarray,
                      out: Collector) -> np.ndarray:
    """Apply the conversions of contacts made on `day` (persons x action index, `converted` flags): a lower
    hazard for BOOST_DAYS, the action's complaint relief and the converted order (or survey answer, on
    `channel`; -1: drawn later) `offset` days later. Returns each row's conversion day (-1 where not converted).
    Shared by the company's campaigns and the simulator's execution of the plan (demo.generator.execution)."""
    sat = satisfaction(people.sat_base[persons], people.complaint_load[persons])
    converted_at = np.full(len(persons), -1.0)
    for j, spec in enumerate(actions):
        hit = np.flatnonzero(converted & (action == j))
        who = persons[hit]
        effect = conversion_effect(spec)
        people.boost_mult[who] = np.minimum(active_boost(people, who, day), effect.hazard_cap)
        people.boost_until[who] = day + BOOST_DAYS
        people.complaint_load[who] *= effect.load_factor
        when = day + offset[hit]
        if effect.buys:
            out.add("purchase", person=who, day=when, action=j, value_mult=1.0, discount=-1.0)
            people.last_purchase_day[who] = np.maximum(people.last_purchase_day[who], when)
        else:
            out.add("event", person=who, day=when, type=SURVEY, sat=sat[hit], channel=channel[hit])
        converted_at[hit] = when
    return converted_at


def assign_campaign(rng: np.random.Generator, candidates: np.ndarray,
                    actions: list[Action]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomise a campaign: CAMPAIGN_SHARE of `candidates` get a uniform action and channel, CONTROL_SHARE
    of them are the no-contact control. Returns (chosen candidates, action index, channel code, control)."""
    chosen = candidates[rng.random(len(candidates)) < CAMPAIGN_SHARE]
    action = rng.integers(0, len(actions), len(chosen))
    channel_table = _channel_table(actions)
    n_channels = np.array([len(a.channels) for a in actions])
    channel = channel_table[action, (rng.random(len(chosen)) * n_channels[action]).astype(np.int64)]
    control = rng.random(len(chosen)) < CONTROL_SHARE
    return chosen, action, channel, control


def draw_outcomes(rng: np.random.Generator, converted: np.ndarray, control: np.ndarray,
                  annoyed: np.ndarray) -> np.ndarray:
    """The marketing tool's outcome per campaign row: converted, else (treated) accepted / declined / no response.

    The annoyed (contacts that hurt them) decline more often; the control arm is never contacted.
    """
    u = rng.random(len(converted))
    decline = ACCEPT_SHARE + 0.15 + 0.25 * annoyed
    outcome = np.where(u < ACCEPT_SHARE, ACCEPTED, np.where(u < decline, DECLINED, NO_RESPONSE))
    return np.where(converted, CONVERTED, np.where(control, NO_RESPONSE, outcome))


def _channel_table(actions: list[Action]) -> np.ndarray:
    """(actions, max channels) interaction-channel codes of each action's channels."""
    table = np.zeros((len(actions), max(len(a.channels) for a in actions)), dtype=np.int8)
    for j, spec in enumerate(actions):
        table[j, :len(spec.channels)] = [INTERACTION_CHANNELS.index(ch) for ch in spec.channels]
    return table
