"""Turn the simulated history into the purchases and interactions extracts, dirty rows included.

Rows are sorted by timestamp and numbered in that order (order_id "O000000001", interaction_id
"I000000001"). About 0.5 % extra dirty rows are then inserted at random places: negative amounts on
completed orders, impossible timestamps, unknown customer ids, duplicate ids (exact and conflicting),
"N/A" / "NULL" / empty amounts and out-of-range csat. Clean rows are never altered, so the ground
truth describes the clean rows.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from models.decisions.catalog import Action
from demo.generator.dynamics import (
    CATEGORIES, CATEGORY_BASE_PRICE, COMPLAINT, DISCOUNT_SHARES, EVENT_TYPES, INQUIRY, QUANTITY_PROBS, SUPPORT,
    SURVEY, TIER_PRICE_MULT, UNIT_PRICE_SIGMA, VISIT, People, PriceModel, discount_probability,
)
from demo.generator.format import (
    categorical, epoch_day, format_cents, format_ids, format_timestamps, id_width,
)
from demo.generator.population import Records
from demo.generator.response import conversion_effect, new_category_weights
from demo.generator.simulation import INTERACTION_CHANNELS, OUTCOMES, History
from demo.generator.text import LANGUAGES, SENTIMENTS, note_catalog

DIRTY_SHARE = 0.005
PURCHASE_CHANNELS = ("web", "app", "store")
IMPOSSIBLE_TIMESTAMPS = ("2024-13-45 10:12:00", "2025-02-30 08:00:00", "2024-00-10 12:00:00",
                         "2025-11-31 23:59:60", "0000-00-00 00:00:00")
BAD_AMOUNTS = ("N/A", "NULL", None)
_ONLINE_HOURS = np.array([1, 1, 0.5, 0.3, 0.3, 0.5, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 6, 7, 8, 8, 6, 3], float)
_CHUNK = 2_000_000
# Interaction channels per event type (shares over INTERACTION_CHANNELS), visits use the person's habits.
_TYPE_CHANNELS = {
    SUPPORT: {"phone": 0.35, "email": 0.25, "chat": 0.3, "store": 0.1},
    INQUIRY: {"phone": 0.35, "email": 0.25, "chat": 0.3, "store": 0.1},
    COMPLAINT: {"phone": 0.45, "email": 0.3, "chat": 0.15, "store": 0.1},
    SURVEY: {"email": 0.6, "sms": 0.25, "app": 0.15},
}


def build_purchases(rng: np.random.Generator, history: History, people: People, records: Records,
                    actions: list[Action], prices: PriceModel, start: dt.date, n_days: int) -> pa.Table:
    """The purchases extract: orders (ordinary and converted), their returns, then dirty rows."""
    person, day, action = history.purchase_person, history.purchase_day, history.purchase_action
    n = len(person)
    effects = [conversion_effect(a) for a in actions]
    category = _pick(rng, people.affinity, person)
    cross_sell = np.flatnonzero(np.isin(action, [j for j, e in enumerate(effects) if e.new_category]))
    category[cross_sell] = _pick(rng, new_category_weights(people.affinity), person[cross_sell])
    product = prices.draw_products(rng, n)
    price = CATEGORY_BASE_PRICE[category] * prices.product_factor[category, product]
    tier_mult = TIER_PRICE_MULT[people.tier[person]]
    for j, effect in enumerate(effects):
        if effect.tier_mult is not None:
            tier_mult[action == j] = effect.tier_mult
    price *= tier_mult
    del tier_mult
    boosted = np.flatnonzero(history.purchase_value_mult != 1.0)    # larger baskets (lifecycle upsell)
    price[boosted] *= history.purchase_value_mult[boosted]
    price *= rng.lognormal(0.0, UNIT_PRICE_SIGMA, n)
    quantity = (np.searchsorted(np.cumsum(QUANTITY_PROBS), rng.random(n) * 0.999999) + 1).astype(np.int8)
    price *= quantity * 100.0
    gross = np.maximum(np.rint(price), 1).astype(np.int64)
    del price
    share = np.where(rng.random(n) < discount_probability(people.price_sens[person]),
                     DISCOUNT_SHARES[rng.integers(0, len(DISCOUNT_SHARES), n)], 0.0)
    offer_share = np.array([e.discount_share for e in effects] + [0.0])
    share = np.where(action >= 0, offer_share[action], share)
    promoted = np.flatnonzero(history.purchase_discount >= 0)       # orders placed under a promotion
    share[promoted] = history.purchase_discount[promoted]
    discount = np.rint(gross * share).astype(np.int32)
    del share
    channel = _pick(rng, people.channel_pref, person)
    seconds = _time_of_day(rng, channel == PURCHASE_CHANNELS.index("store"))
    r = np.flatnonzero(rng.random(n) < people.return_prob[person])
    back = day[r] + rng.integers(1, 31, len(r), dtype=np.int32)
    r, back = r[back < n_days], back[back < n_days]
    sign = np.where(rng.random(len(r)) < 0.7, -1, 1)            # returns are booked with either sign
    amount = gross - discount
    del gross
    rows = {
        "person": np.concatenate([person, person[r]]),
        "day": np.concatenate([day, back]),
        "seconds": np.concatenate([seconds, _time_of_day(rng, channel[r] == PURCHASE_CHANNELS.index("store"))]),
        "amount": np.concatenate([amount, sign * amount[r]]),
        "quantity": np.concatenate([quantity, quantity[r]]),
        "product": np.concatenate([product, product[r]]),
        "category": np.concatenate([category, category[r]]),
        "channel": np.concatenate([channel, channel[r]]),
        "discount": np.concatenate([discount, np.zeros(len(r), dtype=np.int32)]),
        "status": np.concatenate([np.zeros(n, dtype=np.int8), np.ones(len(r), dtype=np.int8)]),
    }
    del amount, quantity, product, category, channel, discount, seconds
    rows["customer"] = records.numbers_for_events(rng, rows["person"], rows["day"])
    rows["ts"] = (epoch_day(start) + rows.pop("day").astype(np.int64)) * 86400 + rows.pop("seconds")
    del rows["person"]
    _reorder(rows, np.argsort(rows["ts"], kind="stable"))
    return _purchases_table(rng, rows, records)


def _purchases_table(rng: np.random.Generator, rows: dict, records: Records) -> pa.Table:
    """Format the sorted order rows and insert the dirty ones."""
    n = len(rows["ts"])
    kinds = ("negative_amount", "impossible_ts", "unknown_customer", "duplicate_exact", "duplicate_conflict",
             "bad_amount")
    src, dirty_kind = _plan_dirty(rng, n, len(kinds), np.flatnonzero(rows["status"] == 0))
    ids = np.arange(1, n + 1, dtype=np.int64)[src]
    new_id = np.isin(dirty_kind, [0, 1, 2, 5])
    ids[new_id] = n + np.arange(1, new_id.sum() + 1)
    _reorder(rows, src)
    unknown = dirty_kind == 2
    rows["customer"][unknown] = records.n_records + np.arange(1, unknown.sum() + 1)
    amount = rows.pop("amount")
    amount[dirty_kind == 0] = -np.abs(amount[dirty_kind == 0])
    amount[dirty_kind == 4] = np.rint(amount[dirty_kind == 4] * 1.1)
    product = rows.pop("product")
    return pa.table({
        "order_id": format_ids("O", ids, id_width(ids.max(initial=1), 9)),
        "customer_id": records.customer_ids(rows.pop("customer")),
        "order_ts": _replace(format_timestamps(rows.pop("ts")), dirty_kind == 1, rng, IMPOSSIBLE_TIMESTAMPS),
        "amount": _replace(format_cents(amount), dirty_kind == 5, rng, BAD_AMOUNTS),
        "quantity": pa.array(rows.pop("quantity")),
        "product_id": format_ids("P", (rows["category"].astype(np.int64) + 1) * 10_000 + product, 5),
        "category": categorical(rows.pop("category"), CATEGORIES),
        "channel": categorical(rows.pop("channel"), PURCHASE_CHANNELS),
        "discount_amount": format_cents(rows.pop("discount")),
        "status": categorical(rows.pop("status"), ("completed", "returned")),
    })


def build_interactions(rng: np.random.Generator, history: History, people: People, records: Records,
                       actions: list[Action], start: dt.date) -> pa.Table:
    """The interactions extract: visits, support, inquiries, complaints, surveys and campaign contacts."""
    h = history
    n_events, n_campaigns = len(h.event_person), len(h.campaign_person)
    n = n_events + n_campaigns
    control = h.campaign_channel == INTERACTION_CHANNELS.index("none")
    campaign_type = np.where(control, len(EVENT_TYPES) + 1, len(EVENT_TYPES)).astype(np.int8)
    surveyed = h.event_type == SURVEY
    sat = h.event_sat[surveyed].astype(float)
    csat = np.full(n, -1, dtype=np.int8)
    nps = np.full(n, -1, dtype=np.int8)
    csat[:n_events][surveyed] = np.clip(np.rint(1 + 4 * sat + rng.normal(0, 0.6, len(sat))), 1, 5)
    nps[:n_events][surveyed] = np.clip(np.rint(10 * sat + rng.normal(0, 1.3, len(sat))), 0, 10)
    hours = np.concatenate([rng.integers(8, 22, n_events, dtype=np.int32), rng.integers(9, 19, n_campaigns,
                                                                                         dtype=np.int32)])
    rows = {
        "customer": records.numbers_for_events(rng, np.concatenate([h.event_person, h.campaign_person]),
                                               np.concatenate([h.event_day, h.campaign_day])),
        "ts": (epoch_day(start) + np.concatenate([h.event_day, h.campaign_day]).astype(np.int64)) * 86400
              + hours * 3600 + rng.integers(0, 3600, n, dtype=np.int32),
        "channel": np.concatenate([_event_channels(rng, h, people), h.campaign_channel]),
        "type": np.concatenate([h.event_type, campaign_type]),
        "action": np.concatenate([np.full(n_events, -1, dtype=np.int16), h.campaign_action]),
        "outcome": np.concatenate([np.full(n_events, -1, dtype=np.int8), h.campaign_outcome]),
        "note": np.concatenate([_draw_notes(rng, h, people), np.full(n_campaigns, -1, dtype=np.int16)]),
        "csat": csat, "nps": nps,
    }
    del hours, csat, nps
    _reorder(rows, np.argsort(rows["ts"], kind="stable"))
    return _interactions_table(rng, rows, records, actions)


def _interactions_table(rng: np.random.Generator, rows: dict, records: Records, actions: list[Action]) -> pa.Table:
    """Format the sorted interaction rows and insert the dirty ones."""
    n = len(rows["ts"])
    src, dirty_kind = _plan_dirty(rng, n, 4, np.arange(n))   # impossible_ts, unknown_customer, duplicate, csat
    ids = np.arange(1, n + 1, dtype=np.int64)[src]
    new_id = np.isin(dirty_kind, [0, 1, 3])
    ids[new_id] = n + np.arange(1, new_id.sum() + 1)
    _reorder(rows, src)
    unknown = dirty_kind == 1
    rows["customer"][unknown] = records.n_records + np.arange(1, unknown.sum() + 1)
    csat = rows.pop("csat")
    csat[dirty_kind == 3] = rng.choice(np.array([0, 6, 9], dtype=np.int8), (dirty_kind == 3).sum())
    nps = rows.pop("nps")
    notes, _ = note_catalog()
    return pa.table({
        "interaction_id": format_ids("I", ids, id_width(ids.max(initial=1), 9)),
        "customer_id": records.customer_ids(rows.pop("customer")),
        "interaction_ts": _replace(format_timestamps(rows.pop("ts")), dirty_kind == 0, rng, IMPOSSIBLE_TIMESTAMPS),
        "channel": categorical(rows.pop("channel"), INTERACTION_CHANNELS),
        "type": categorical(rows.pop("type"), EVENT_TYPES + ("campaign", "campaign_control")),
        "action_id": _optional(rows.pop("action"), [a.id for a in actions]),
        "outcome": _optional(rows.pop("outcome"), OUTCOMES),
        "note_text": _optional(rows.pop("note"), notes),
        "csat": pa.array(csat, mask=csat < 0),
        "nps": pa.array(nps, mask=nps < 0),
    })


def _event_channels(rng: np.random.Generator, h: History, people: People) -> np.ndarray:
    """Interaction channel of each event: visits follow the person's habits (plus chat), others the type."""
    channel = h.event_channel.astype(np.int8)
    visits = np.flatnonzero((h.event_type == VISIT) & (channel < 0))
    web_app_store = np.array([INTERACTION_CHANNELS.index(c) for c in PURCHASE_CHANNELS], dtype=np.int8)
    habit = web_app_store[_pick(rng, people.channel_pref, h.event_person[visits])]
    channel[visits] = np.where(rng.random(len(visits)) < 0.05, INTERACTION_CHANNELS.index("chat"), habit)
    for event_type, shares in _TYPE_CHANNELS.items():
        hit = np.flatnonzero((h.event_type == event_type) & (channel < 0))
        codes = np.array([INTERACTION_CHANNELS.index(c) for c in shares], dtype=np.int8)
        channel[hit] = codes[rng.choice(len(codes), len(hit), p=list(shares.values()))]
    return channel


def _draw_notes(rng: np.random.Generator, h: History, people: People) -> np.ndarray:
    """Note number (into note_catalog) per event, -1 for none: complaints negative, support by satisfaction."""
    _, layout = note_catalog()
    n = len(h.event_person)
    sat = h.event_sat.astype(float)
    u = rng.random(n)
    p_negative = 0.1 + 0.7 * (1.0 - sat)
    sentiment = np.where(u < p_negative, 0, np.where(u < p_negative + (1 - p_negative) * 0.6 * sat, 2, 1))
    sentiment = np.where(h.event_type == COMPLAINT, 0, np.where(h.event_type == INQUIRY, 1, sentiment))
    has_note = (h.event_type == COMPLAINT) | (h.event_type == SUPPORT) | ((h.event_type == INQUIRY) & (u < 0.5))
    lang = people.lang[h.event_person]
    note = np.full(n, -1, dtype=np.int16)
    for (language, mood), (offset, n_prefix, n_body, n_suffix) in layout.items():
        hit = np.flatnonzero(has_note & (lang == LANGUAGES.index(language)) & (sentiment == SENTIMENTS.index(mood)))
        prefix, body, suffix = (rng.integers(0, k, len(hit)) for k in (n_prefix, n_body, n_suffix))
        note[hit] = offset + (prefix * n_body + body) * n_suffix + suffix
    return note


def _plan_dirty(rng: np.random.Generator, n: int, n_kinds: int, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the extract with ~DIRTY_SHARE dirty copies placed at random positions among the clean rows.

    Returns (source row of every output row, dirty kind of every output row: -1 for clean rows).
    """
    k = int(round(DIRTY_SHARE * n)) if len(sources) else 0
    src = sources[rng.integers(0, len(sources), k)] if k else np.zeros(0, dtype=np.int64)
    kind = rng.integers(0, n_kinds, k)
    position = np.sort(rng.integers(0, n + 1, k))             # a dirty row goes before clean row `position`
    placed = position + np.arange(k)
    out_src = np.empty(n + k, dtype=np.int64)
    out_kind = np.full(n + k, -1, dtype=np.int8)
    clean = np.ones(n + k, dtype=bool)
    clean[placed] = False
    out_src[clean] = np.arange(n)
    out_src[placed] = src
    out_kind[placed] = kind
    return out_src, out_kind


def _reorder(rows: dict, index: np.ndarray) -> None:
    """Apply `index` to every column in place (one column at a time to bound memory)."""
    for key in list(rows):
        rows[key] = rows[key][index]


def _replace(values: pa.Array, mask: np.ndarray, rng: np.random.Generator, choices) -> pa.Array:
    """Put random `choices` (None = null) where mask is set."""
    if not mask.any():
        return values
    picked = pa.array([choices[i] for i in rng.integers(0, len(choices), int(mask.sum()))], pa.string())
    return pc.replace_with_mask(values, pa.array(mask), picked)


def _optional(codes: np.ndarray, labels) -> pa.DictionaryArray:
    return categorical(np.maximum(codes, 0), labels, codes < 0)


def _pick(rng: np.random.Generator, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One column index per entry of `rows`, drawn from weights[rows] (rows of weights sum to 1), in chunks."""
    out = np.empty(len(rows), dtype=np.int8)
    for lo in range(0, len(rows), _CHUNK):
        cumulative = np.cumsum(weights[rows[lo:lo + _CHUNK]], axis=1)
        u = rng.random(len(cumulative))[:, None] * cumulative[:, -1:]
        out[lo:lo + _CHUNK] = np.minimum((u > cumulative).sum(axis=1), weights.shape[1] - 1)
    return out


def _time_of_day(rng: np.random.Generator, store: np.ndarray) -> np.ndarray:
    """Seconds after midnight: stores open 10-21 h, online orders peak in the evening."""
    online_hour = np.searchsorted(np.cumsum(_ONLINE_HOURS / _ONLINE_HOURS.sum()), rng.random(len(store)) * 0.999999)
    hour = np.where(store, rng.integers(10, 21, len(store)), online_hour)
    return (hour * 3600 + rng.integers(0, 3600, len(store))).astype(np.int32)
