"""Who may be offered what, on which channel: catalog rules, the contact policy and the validated
`decisions` settings of the run config.

Consent, do-not-contact and erasure are absolute. A channel is usable only when the customer consented
to it and is reachable on it; a do-not-contact or erased (suppressed) customer gets nothing at all.
The contact policy adds frequency caps per channel (7 and 30 days) and a cool-down after a decline.
A cap of N per W days means that no W consecutive calendar days hold more than N contacts on the channel,
tonight's included (CAP_WINDOWS).
Missing values are read the cautious way: missing consent or reachability = no, missing
do_not_contact = do not contact, missing contact counts = none, missing decline = never declined.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.decisions.catalog import CHANNELS, Action, Catalog

SUPPRESSION_REASONS = ("erased", "do_not_contact",
                       *(f"no_consent_{ch}" for ch in CHANNELS), *(f"unreachable_{ch}" for ch in CHANNELS),
                       "frequency_cap_7d", "frequency_cap_30d", "cooldown_after_decline", "holdout")
_CODE = {reason: code for code, reason in enumerate(SUPPRESSION_REASONS, start=1)}
# The caps' windows in days. A cap of N per W days holds when no W consecutive calendar days have more than N
# contacts on the channel, tonight's included: tonight's list is sent on the as-of date, so the earlier contacts
# it shares a window with are those of the W - 1 days before it, and a customer may get a weekly e-mail under
# "one per 7 days". The tools count their caps the same way (Braze's frequency capping counts calendar days:
# "every 2 days" is the current and the previous one).
CAP_WINDOWS = {"7d": 7, "30d": 30}


@dataclass(frozen=True)
class DecisionSettings:
    """The `decisions` config section (plus the run seed), validated."""

    seed: int
    top_k: int
    min_margin_value: float
    one_action_per_customer: bool
    holdout_share: float
    holdout_salt: str
    exploration_share: float
    capacity_calls_per_night: int | None
    offer_budget_per_night: float | None
    action_volume_caps: dict[str, int]
    margin_rate: float
    contact_policy: dict
    levers: dict[str, float]
    option_confidence: float = 0.8   # an option is sent only if its value's lower bound at this level is > 0
    policy_confidence: float = 0.95  # the learned policy must beat the best simple policy at this level
    policy_bound: str = "single"     # "shared": the confidence is shared by every candidate claiming a value
    keep_deployed_policy: bool = True  # the last night's policy stays unless tonight's best is shown better



def read_decision_settings(config: Mapping, catalog: Catalog) -> DecisionSettings:
    """Validate the run config's `decisions` section; a bad value raises ValueError naming the key."""
    section = config.get("decisions")
    if not isinstance(section, Mapping):
        raise ValueError("config: the 'decisions' section is missing")

    def get(key, kind, *, low=None, high=None, optional=False, source=section, prefix="decisions"):
        value = source.get(key)
        if value is None and optional:
            return None
        if kind is bool:
            ok, expected = isinstance(value, bool), "true or false"
        else:
            ok = isinstance(value, kind) and not isinstance(value, bool)
            expected = {str: "a string", int: "an integer"}.get(kind, "a number")
            if kind is not str:
                ok = ok and (low is None or value >= low) and (high is None or value <= high)
                expected += f" between {low} and {high}" if high is not None else f" >= {low}" if low is not None else ""
        if not ok:
            raise ValueError(f"config {prefix}.{key}: expected {expected}, got {value!r}")
        return value

    policy = section.get("contact_policy") or {}
    contact = {key: get(key, (int, float), low=0, source=policy, prefix="decisions.contact_policy")
               for key in ("max_contacts_per_channel_7d", "max_contacts_per_channel_30d", "cooldown_after_decline_days")}
    ids, types = {a.id for a in catalog.actions}, {a.type for a in catalog.actions}
    caps = dict(section.get("action_volume_caps") or {})
    levers = dict(section.get("levers") or {})
    for key, value in caps.items():
        if key not in ids:
            raise ValueError(f"config decisions.action_volume_caps: '{key}' is not an action id of the catalog "
                             f"{catalog.source} (its actions: {', '.join(sorted(ids))})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"config decisions.action_volume_caps.{key}: expected a non-negative integer, got {value!r}")
    for key, value in levers.items():
        if key not in ids | types:
            raise ValueError(f"config decisions.levers: '{key}' is neither an action id nor an action type of the "
                             f"catalog {catalog.source} (its actions: {', '.join(sorted(ids))}; types: "
                             f"{', '.join(sorted(types))})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"config decisions.levers.{key}: expected a non-negative number, got {value!r}")
    if section.get("policy_bound") not in (None, "single", "shared"):
        raise ValueError(f"config decisions.policy_bound: expected single or shared, got {section['policy_bound']!r}")
    seed = config.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"config seed: expected an integer, got {seed!r}")
    return DecisionSettings(
        seed=seed, top_k=get("top_k", int, low=1), min_margin_value=float(get("min_margin_value", (int, float), low=0)),
        one_action_per_customer=get("one_action_per_customer", bool),
        holdout_share=float(get("holdout_share", (int, float), low=0, high=1)), holdout_salt=get("holdout_salt", str),
        exploration_share=float(get("exploration_share", (int, float), low=0, high=1)),
        capacity_calls_per_night=get("capacity_calls_per_night", int, low=0, optional=True),
        offer_budget_per_night=get("offer_budget_per_night", (int, float), low=0, optional=True),
        action_volume_caps={k: int(v) for k, v in caps.items()},
        margin_rate=float(get("margin_rate", (int, float), low=0, high=1)), contact_policy=contact,
        levers={k: float(v) for k, v in levers.items()},
        **{key: float(value) for key in ("option_confidence", "policy_confidence")
           if (value := get(key, (int, float), low=0.5, high=0.999, optional=True)) is not None},
        **({"policy_bound": bound} if (bound := get("policy_bound", str, optional=True)) else {}),
        **({"keep_deployed_policy": keep} if (keep := get("keep_deployed_policy", bool, optional=True)) is not None
           else {}))


def latest_declines_sql(as_of, interactions: str = "interactions") -> str:
    """SQL for (customer_id, days_since_any_decline) over every declined contact before `as_of`, settled or
    not: the cool-down honours yesterday's "no", while the model feature days_since_last_decline counts
    settled outcomes only (models/features/customer_features.py)."""
    return (f"SELECT customer_id, date_diff('day', CAST(max(interaction_ts) AS DATE), DATE '{as_of}') "
            f"AS days_since_any_decline FROM {interactions} WHERE type = 'campaign' AND outcome = 'declined' "
            f"AND interaction_ts < TIMESTAMP '{as_of}' GROUP BY customer_id")


def cap_window_start(as_of, days: int) -> str:
    """SQL date of the first day whose contacts count toward a `days`-day cap tonight (CAP_WINDOWS)."""
    return f"DATE '{as_of}' - INTERVAL {int(days) - 1} DAY"


def campaign_contact_counts_sql(as_of, channels: Sequence[str], interactions: str = "interactions") -> str:
    """SQL for (customer_id, seen_<channel>_7d, seen_<channel>_30d ...): the campaign contacts the interactions
    extract reports on each channel in each cap window before `as_of` (CAP_WINDOWS). The model features
    contacts_<channel>_7d / _30d count a day more (the 7 / 30 days before the as-of date)."""
    counts = ", ".join(f"count(*) FILTER (channel = '{ch}' AND interaction_ts >= {cap_window_start(as_of, days)}) "
                       f"AS seen_{ch}_{window}" for ch in channels for window, days in CAP_WINDOWS.items())
    return (f"SELECT customer_id, {counts} FROM {interactions} WHERE type = 'campaign' "
            f"AND interaction_ts < TIMESTAMP '{as_of}' "
            f"AND interaction_ts >= {cap_window_start(as_of, max(CAP_WINDOWS.values()))} GROUP BY customer_id")


def contact_policy_features() -> list[str]:
    """Feature columns the contact policy reads."""
    return ["days_since_last_decline", *(f"reachable_{ch}" for ch in CHANNELS),
            *(f"contacts_{ch}_{window}" for ch in CHANNELS for window in CAP_WINDOWS)]


def evaluate_eligibility(features: pd.DataFrame, actions: Sequence[Action]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per customer x action: eligible (eligibility and suitability rules hold) and the failing clause.

    Returns (eligible (C, A) bool, failing (C, A) int16 code into `labels`, -1 when eligible, labels)
    where a label reads 'eligibility: <clause>' or 'suitability: <clause>'.
    """
    eligible = np.ones((len(features), len(actions)), dtype=bool)
    failing = np.full((len(features), len(actions)), -1, dtype=np.int16)
    labels: dict[str, int] = {}
    for a, action in enumerate(actions):
        for kind, rule in (("eligibility", action.eligibility), ("suitability", action.suitability)):
            if rule is None:
                continue
            codes = np.array([labels.setdefault(f"{kind}: {text}", len(labels)) for text in rule.clauses],
                             dtype=np.int16)
            clause = rule.failing_clause(features)
            fails = (clause >= 0) & eligible[:, a]
            failing[fails, a] = codes[clause[fails]]
            eligible[fails, a] = False
    return eligible, failing, list(labels)


def evaluate_suppression(customers: pd.DataFrame, features: pd.DataFrame, erased: np.ndarray,
                         holdout: np.ndarray, channels: Sequence[str], contact_policy: dict) -> np.ndarray:
    """Per customer x channel: 0 when contact is allowed, else the code (1-based) of the first reason.

    Reasons are checked in the order of SUPPRESSION_REASONS, so the most fundamental one is reported.
    `customers` and `features` are aligned row by row; `channels` is the channel of each column.
    """
    n = len(customers)
    never_contact = erased | _flag(customers, "do_not_contact", missing=True)
    max_7d = contact_policy["max_contacts_per_channel_7d"]
    max_30d = contact_policy["max_contacts_per_channel_30d"]
    since_decline = _number(features, "days_since_last_decline", missing=np.inf)
    if "days_since_any_decline" in customers.columns:  # fresher than the settled feature (latest_declines_sql)
        since_decline = np.fmin(since_decline, _number(customers, "days_since_any_decline", missing=np.inf))
    in_cooldown = since_decline < contact_policy["cooldown_after_decline_days"]
    by_channel = {}
    for ch in set(channels):
        code = np.zeros(n, dtype=np.int8)
        checks = [(erased, "erased"), (never_contact, "do_not_contact"),
                  (~_flag(customers, f"consent_{ch}", missing=False), f"no_consent_{ch}"),
                  (~_flag(features, f"reachable_{ch}", missing=False), f"unreachable_{ch}"),
                  (_contacts(customers, features, ch, "7d") >= max_7d, "frequency_cap_7d"),
                  (_contacts(customers, features, ch, "30d") >= max_30d, "frequency_cap_30d"),
                  (in_cooldown, "cooldown_after_decline"), (holdout, "holdout")]
        for applies, reason in reversed(checks):
            code[applies] = _CODE[reason]
        by_channel[ch] = code
    return np.stack([by_channel[ch] for ch in channels], axis=1) if channels else np.zeros((n, 0), np.int8)


def _contacts(customers: pd.DataFrame, features: pd.DataFrame, channel: str, window: str) -> np.ndarray:
    """Contacts on `channel` in the cap window (CAP_WINDOWS): those the interactions extract shows
    (`seen_<channel>_<window>` from campaign_contact_counts_sql), or the pipeline's own listed decisions of the
    window (`logged_<channel>_<window>` from decision_log_counts_sql) when more — a list sent yesterday counts
    before the tools report it back (the larger, so an echoed contact is not counted twice). Without the
    `seen_` counts (decision inputs built by hand) the features' contacts_<channel>_<window> stand in: their
    window is a day longer, so they cap as much or more."""
    seen_column = f"seen_{channel}_{window}"
    seen = (_number(customers, seen_column, missing=0.0) if seen_column in customers.columns
            else _number(features, f"contacts_{channel}_{window}", missing=0.0))
    logged = f"logged_{channel}_{window}"
    return np.fmax(seen, _number(customers, logged, missing=0.0)) if logged in customers.columns else seen


def decision_log_counts_sql(as_of, channels: Sequence[str], log_table: str = "decision_log") -> str:
    """SQL for (customer_id, logged_<channel>_7d, logged_<channel>_30d ...): the customers the pipeline listed
    on each channel in each cap window before `as_of` (CAP_WINDOWS; holdout rows list nothing)."""
    counts = ", ".join(f"count(*) FILTER (channel = '{ch}' AND as_of >= {cap_window_start(as_of, days)}) "
                       f"AS logged_{ch}_{window}" for ch in channels for window, days in CAP_WINDOWS.items())
    return (f"SELECT customer_id, {counts} FROM {log_table} WHERE as_of < DATE '{as_of}' "
            f"AND as_of >= {cap_window_start(as_of, max(CAP_WINDOWS.values()))} AND action_id <> 'no_action' "
            "GROUP BY customer_id")


def _flag(frame: pd.DataFrame, column: str, *, missing: bool) -> np.ndarray:
    """A yes/no column as a numpy bool array, `missing` where the value is null."""
    values = frame[column]
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean").fillna(missing).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.astype("float64").to_numpy()
        return np.where(np.isnan(numbers), missing, numbers != 0)
    parsed = values.map(lambda v: None if pd.isna(v) else str(v).strip().lower() in ("true", "1", "t", "yes", "y"))
    return parsed.astype("boolean").fillna(missing).to_numpy(dtype=bool)


def _number(frame: pd.DataFrame, column: str, *, missing: float) -> np.ndarray:
    """A numeric column as float64, `missing` where the value is null."""
    return pd.to_numeric(frame[column]).astype("float64").fillna(missing).to_numpy()
