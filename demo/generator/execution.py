"""The demo world executes the pipeline's exported lists with its true effects and reports back like the tools.

One night's listed contacts (customer_id, action_id, channel, campaign_id, from the exported lists) are
carried out on the night's day, in order:
- consent: a person is contacted on a channel only when every CRM record of theirs says yes to it and none
  says do_not_contact (the pipeline should never list anyone else; `not_permitted` counts it when it does);
- delivery: e-mails bounce, SMS and app pushes fail with fixed shares; a call ends in a disposition
  (answered, no_answer, busy, wrong_number, callback_requested) and only an answered call reaches the person;
- the true effect on every person reached: the `conversion` world draws the conversion from
  demo.generator.response and applies it (demo.generator.simulation.apply_conversions), the `lifecycle` world
  puts the action's effects in force (demo.generator.lifecycle.apply_contacts). A conversion world's person converts
  with `p_treated` when contacted and `p_control` when not, but only a campaign's control arm is ever drawn the
  latter: nobody the lists leave out converts that way. So a reached person converts only where the contact makes the
  difference (a draw u with p_control <= u < p_treated, probability p_treated - p_control), and what the lists earn
  in purchases is what the truth credits them with (`true_net_margin_365d`, (p_treated - p_control) x the
  conversion's margin). Before, a reached person converted with p_treated: compared with a holdout that gets no
  conversion drawn, a contact paid about p_treated's conversions;
- declines among the reached, more often from those the contact hurts (as in the company's campaigns).

What the tools report comes back as rows of the `contacts` feedback extract (campaign_id, customer_id,
action_id, channel, status, status_at); the outcome in money is left to the purchases that follow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from demo.generator.lifecycle import apply_contacts
from demo.generator.response import response_probabilities
from demo.generator.simulation import (
    DECLINED, INTERACTION_CHANNELS, Collector, apply_conversions, draw_outcomes,
)
from demo.generator.dynamics import STEP_DAYS
from demo.generator.world import WorldState

FAILED_DELIVERY_SHARE = {"email": 0.03, "sms": 0.02, "app": 0.08}   # bounced / not delivered
CALL_DISPOSITIONS = {"answered": 0.55, "no_answer": 0.28, "busy": 0.08, "wrong_number": 0.04,
                     "callback_requested": 0.05}
OPENED_SHARE = {"email": 0.30, "app": 0.45}       # of the delivered
CLICKED_SHARE = 0.25                              # of the opened
FEEDBACK_CHANNEL = {"phone": "call"}              # the contacts extract calls a phone contact a call
CONTACT_COLUMNS = ["campaign_id", "customer_id", "action_id", "channel", "status", "status_at"]


@dataclass
class Execution:
    """What happened to one night's listed contacts."""

    feedback: pd.DataFrame          # rows of the contacts extract (CONTACT_COLUMNS)
    contacts: pd.DataFrame          # one row per listed contact: ..., person, permitted, reached, declined
    converted_day: np.ndarray       # per person: day of a conversion the execution applied (-1: none)


def person_consent(state: WorldState) -> dict[str, np.ndarray]:
    """Per channel, per person: may the person be contacted on it (every record says yes, none do_not_contact)."""
    customers, records = state.records.customers, state.records
    yes = {}
    dnc = _is_true(customers["do_not_contact"])
    for channel, column in (("email", "consent_email"), ("sms", "consent_sms"), ("app", "consent_app"),
                            ("phone", "consent_phone")):
        ok = _is_true(customers[column]) & ~dnc
        both = ok[records.number_a - 1] & np.where(records.number_b > 0, ok[np.maximum(records.number_b, 1) - 1], True)
        yes[channel] = both
    return yes


def _is_true(column) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.equal(column.cast("string"), "true"), False).to_numpy(zero_copy_only=False))


def execute_contacts(state: WorldState, listed: pd.DataFrame, day: int, rng: np.random.Generator, out: Collector,
                     person_of: dict[str, int], consent: dict[str, np.ndarray]) -> Execution:
    """Carry out `listed` (customer_id, action_id, channel, campaign_id) on `day` in the world `state` (changed
    in place); events go to `out`. `person_of` maps golden customer ids to persons, `consent` is person_consent."""
    actions = list(state.catalog.actions)
    action_index = {a.id: j for j, a in enumerate(actions)}
    contacts = listed[["campaign_id", "customer_id", "action_id", "channel"]].astype(str).reset_index(drop=True)
    unknown = sorted(set(contacts["action_id"]) - set(action_index))
    if unknown:
        raise ValueError(f"the exported lists name action(s) {', '.join(unknown)} the world's catalog does not have")
    person = contacts["customer_id"].map(person_of).fillna(-1).astype(np.int64).to_numpy()
    action = contacts["action_id"].map(action_index).to_numpy(np.int64)
    channel = contacts["channel"].to_numpy()
    permitted = person >= 0
    for ch, yes in consent.items():
        rows = np.flatnonzero(permitted & (channel == ch))
        permitted[rows] = yes[person[rows]]
    status, reached = _delivery(rng, channel, permitted)
    harmed = np.zeros(len(contacts), dtype=bool)
    converted_day = np.full(state.people.n, -1.0)
    hit = np.flatnonzero(reached)
    if state.lifecycle:
        harmed[hit] = apply_contacts(state.people, state.modifiers, state.receptiveness, person[hit], action[hit],
                                     [a.type for a in actions], day, rng)
        converted = np.zeros(len(hit), dtype=bool)
    else:
        alive = np.isinf(state.people.death_day[person[hit]])
        p_control, p_treated = response_probabilities(state.people, person[hit], day, actions)
        rows = np.arange(len(hit))
        p_control, p_treated = p_control[rows, action[hit]], p_treated[rows, action[hit]]
        u = rng.random(len(hit))
        converted = alive & (u >= p_control) & (u < p_treated)  # only the conversions the contact causes
        harmed[hit] = p_treated < p_control
        codes = np.array([INTERACTION_CHANNELS.index(c) for c in channel[hit]], dtype=np.int64)
        when = apply_conversions(state.people, person[hit], action[hit], codes, converted, day, actions,
                                 rng.integers(1, STEP_DAYS, len(hit)), out)
        converted_day[person[hit[converted]]] = when[converted]
    declined = np.zeros(len(contacts), dtype=bool)
    declined[hit] = draw_outcomes(rng, converted, np.zeros(len(hit), dtype=bool), harmed[hit]) == DECLINED
    contacts = contacts.assign(person=person, permitted=permitted, reached=reached, declined=declined,
                               delivery=status)
    return Execution(feedback=_feedback(rng, contacts, day, state.start), contacts=contacts,
                     converted_day=converted_day)


def _delivery(rng: np.random.Generator, channel: np.ndarray, permitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per contact: the delivery status (delivered / bounced / a call disposition; '' when not permitted) and
    whether it reached the person."""
    u = rng.random(len(channel))
    status = np.where(permitted, "delivered", "").astype(object)
    for ch, share in FAILED_DELIVERY_SHARE.items():
        status[permitted & (channel == ch) & (u < share)] = "bounced"
    calls = np.flatnonzero(permitted & (channel == "phone"))
    names = list(CALL_DISPOSITIONS)
    status[calls] = np.array(names, dtype=object)[rng.choice(len(names), len(calls),
                                                             p=list(CALL_DISPOSITIONS.values()))]
    return status, np.isin(status, ["delivered", "answered"])


def _feedback(rng: np.random.Generator, contacts: pd.DataFrame, day: int, start) -> pd.DataFrame:
    """The status events a marketing tool or dialer reports: sent, then delivered / bounced (or the call's
    disposition), opened / clicked, declined; timestamps on the contact day and the days after."""
    base = pd.Timestamp(start) + pd.Timedelta(days=int(day)) + pd.Timedelta(hours=9)
    sent = contacts[contacts["permitted"]]
    n = len(sent)
    minutes = rng.integers(0, 8 * 60, n)
    rows = []

    def add(mask, status, offset_minutes):
        part = sent[mask]
        rows.append(pd.DataFrame({
            "campaign_id": part["campaign_id"], "customer_id": part["customer_id"], "action_id": part["action_id"],
            "channel": part["channel"].map(lambda c: FEEDBACK_CHANNEL.get(c, c)),
            "status": status if isinstance(status, str) else status[mask],
            "status_at": base + pd.to_timedelta(minutes[mask] + offset_minutes[mask], unit="min")}))

    is_call = (sent["channel"] == "phone").to_numpy()
    zero = np.zeros(n, dtype=np.int64)
    add(~is_call, "sent", zero)
    add(np.ones(n, dtype=bool), sent["delivery"].to_numpy(), zero + np.where(is_call, 0, 2))
    delivered = (sent["delivery"] == "delivered").to_numpy()
    opened = delivered & (rng.random(n) < sent["channel"].map(OPENED_SHARE).fillna(0.0).to_numpy())
    later = rng.integers(10, 3 * 24 * 60, n)
    add(opened, "opened", later)
    add(opened & (rng.random(n) < CLICKED_SHARE), "clicked", later + 3)
    add(sent["declined"].to_numpy(), "declined", later + 5)
    feedback = pd.concat(rows, ignore_index=True)
    feedback["status_at"] = feedback["status_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return feedback.sort_values(["status_at", "customer_id", "status"], kind="mergesort")[CONTACT_COLUMNS]
