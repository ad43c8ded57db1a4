"""Which of the pipeline's listed decisions were executed, from the tools' feedback (the optional contacts extract)
or, where no tool reports, from the assumption that a published list is delivered.

Every contact the plan listed (decision_log rows with an action, not held out) gets one delivery state tonight:
- `delivered`: a tool reported the customer reached (delivered, opened, clicked, declined, unsubscribed, answered,
  callback_requested), or reported it `sent` at least `assume_delivered_after_days` ago with no bounce since; or no
  tool reports on that campaign and channel at all and the night is at least `assume_delivered_after_days` old
  (the "published = delivered" assumption);
- `not_delivered`: a bounce or a wrong number; or only failed call attempts (no_answer, busy), or nothing at all
  while the tool reports on the same campaign and channel, once the list has expired (`valid_for_days`);
- `outstanding`: none of these yet (the list may still be worked).
Only feedback dated strictly before the as-of date is known (point in time). The contact caps count delivered
and outstanding contacts, never the ones the tools say did not reach the customer, on the day a tool says the contact
went out (`contacted_on`: its first `sent` or reached status), else on the night it was listed: a list a tool works
days after its night counts from the day it was sent.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping

REACHED = ("delivered", "opened", "clicked", "declined", "unsubscribed", "answered", "callback_requested")
FAILED = ("bounced", "wrong_number")
NOT_REACHED = ("no_answer", "busy")
DELIVERY_STATES = ("delivered", "not_delivered", "outstanding")
# The contacts extract names the call channel `call`; the decisions and lists name it `phone`.
FEEDBACK_CHANNEL = {"call": "phone"}


@dataclass(frozen=True)
class FeedbackSettings:
    """The `feedback` and `decisions.valid_for_days` settings delivery states depend on."""

    assume_delivered_after_days: int = 2
    valid_for_days: int = 7


def feedback_settings(config: Mapping) -> FeedbackSettings:
    """The settings from a loaded (already checked) run config."""
    return FeedbackSettings(int(config["feedback"]["assume_delivered_after_days"]),
                            int(config["decisions"]["valid_for_days"]))


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def listed_delivery_sql(as_of: dt.date, settings: FeedbackSettings, log_table: str = "decision_log",
                        contacts: str | None = "stg_contacts", nights: tuple[dt.date, dt.date] | None = None) -> str:
    """SQL for (as_of, customer_id, action_id, channel, campaign_id, delivery, reported, contacted_on) of every contact
    the plan listed before `as_of`: `delivery` one of DELIVERY_STATES (module docstring), `reported` whether a tool
    reports on its campaign and channel, `contacted_on` the date of the first status saying the contact went out or
    reached the person (NULL without one). `contacts` None (the extract was never delivered): every state is assumed.
    `nights` (first, end): only the lists of the nights from first to before end, and only the tools' reports on
    their campaigns (what a measure of a few past nights reads, not every report of the whole log)."""
    assumed = f"DATE '{as_of}' - INTERVAL {int(settings.assume_delivered_after_days)} DAY"
    expired = f"DATE '{as_of}' - INTERVAL {int(settings.valid_for_days)} DAY"
    within = f" AND as_of >= DATE '{nights[0]}' AND as_of < DATE '{nights[1]}'" if nights else ""
    listed = (f"SELECT as_of, customer_id, action_id, channel, campaign_id FROM {log_table} "
              f"WHERE as_of < DATE '{as_of}'{within} AND NOT is_holdout AND action_id <> 'no_action' "
              "AND channel IS NOT NULL")
    if contacts is None:
        return (f"SELECT *, CASE WHEN as_of <= {assumed} THEN 'delivered' ELSE 'outstanding' END AS delivery, "
                f"false AS reported, CAST(NULL AS DATE) AS contacted_on FROM ({listed})")
    channel = "CASE channel " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in FEEDBACK_CHANNEL.items()) + " ELSE channel END"
    known = f"SELECT *, {channel} AS list_channel FROM {contacts} WHERE status_at < TIMESTAMP '{as_of}'" + (
        f" AND campaign_id IN (SELECT DISTINCT campaign_id FROM {log_table} WHERE TRUE{within})" if nights else "")
    return f"""
        WITH known AS ({known}),
        events AS (SELECT campaign_id, customer_id, action_id,
                          bool_or(status IN ({_quoted(REACHED)})) AS reached, bool_or(status IN ({_quoted(FAILED)})) AS failed,
                          bool_or(status IN ({_quoted(NOT_REACHED)})) AS attempted,
                          min(status_at) FILTER (status = 'sent') AS sent_at,
                          min(status_at) FILTER (status = 'sent' OR status IN ({_quoted(REACHED)})) AS out_at
                   FROM known GROUP BY ALL),
        reporting AS (SELECT DISTINCT campaign_id, list_channel AS channel FROM known)
        SELECT l.*, CASE
            WHEN e.reached THEN 'delivered'
            WHEN e.failed THEN 'not_delivered'
            WHEN e.sent_at IS NOT NULL AND CAST(e.sent_at AS DATE) <= {assumed} THEN 'delivered'
            WHEN e.sent_at IS NOT NULL THEN 'outstanding'
            WHEN (e.attempted OR r.campaign_id IS NOT NULL) AND l.as_of <= {expired} THEN 'not_delivered'
            WHEN e.attempted OR r.campaign_id IS NOT NULL THEN 'outstanding'
            WHEN l.as_of <= {assumed} THEN 'delivered'
            ELSE 'outstanding' END AS delivery,
            r.campaign_id IS NOT NULL AS reported, CAST(e.out_at AS DATE) AS contacted_on
        FROM ({listed}) l
        LEFT JOIN events e USING (campaign_id, customer_id, action_id)
        LEFT JOIN reporting r ON r.campaign_id = l.campaign_id AND r.channel = l.channel"""


def counted_contacts_sql(as_of: dt.date, settings: FeedbackSettings, log_table: str = "decision_log",
                         contacts: str | None = "stg_contacts") -> str:
    """SQL for the listed contacts the contact caps count (decision_log's columns the caps read): delivered and
    outstanding ones; a contact the tools say never reached the customer does not use up a cap. `as_of` is the day
    the contact counts on: the day a tool says it went out when that is later than its night (`contacted_on`).

    A holdout customer's withheld option counts as the contact it would have been: the option withheld from it
    tonight must be the one the plan would choose were it not held out, and the plan would have capped it after
    its earlier lists. Without this the holdout, never contacted, stays open on every channel while the customers
    the plan contacted are capped, and the withheld actions' controls are other customers than their treated ones
    (measured: 83 holdout customers against 630 contacted for an e-mail on the second weekly night of a
    simulation, where the 5 % holdout gives about 33). Holdout customers are never listed, so this changes nobody's
    list."""
    listed = (f"SELECT greatest(as_of, coalesce(contacted_on, as_of)) AS as_of, customer_id, action_id, channel FROM "
              f"({listed_delivery_sql(as_of, settings, log_table, contacts)}) WHERE delivery <> 'not_delivered'")
    withheld = (f"SELECT as_of, customer_id, withheld_action_id AS action_id, withheld_channel AS channel "
                f"FROM {log_table} WHERE as_of < DATE '{as_of}' AND is_holdout AND withheld_channel IS NOT NULL")
    return f"{listed} UNION ALL {withheld}"
