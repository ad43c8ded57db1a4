"""The action catalog: what the nightly run may propose, loaded from YAML and validated up front.

Every problem a user can put in the file is reported as one CatalogError naming the file, the action
and the field, e.g. "action_catalog.yaml: action 'winback' eligibility rule 'days_since_lst > 180':
unknown feature 'days_since_lst'". The catalog's version (its `version` string plus a short sha256 of
the file) is recorded as the policy version of every decision.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from models.decisions.rules import Rule, RuleError, compile_rule

CHANNELS = ("email", "sms", "phone", "app")
VALUE_BASES = ("retained_clv", "order_margin", "upsell_margin", "fixed")
LANGUAGES = ("en", "es", "pt")
NO_ACTION = "no_action"
# Days after a contact over which its outcome (net margin from purchases) is measured, when the catalog
# does not say: long enough for an e-mail's orders, short enough to settle within a few months of history.
DEFAULT_OUTCOME_HORIZON_DAYS = 30
ACTION_FIELDS = {"id", "type", "names", "channels", "cost_per_contact", "offer_cost_share", "value_basis",
                 "value_per_conversion", "eligibility", "suitability", "priority", "prior_uplift", "script_hint",
                 "outcome_horizon_days"}
REQUIRED_FIELDS = ("type", "names", "channels", "cost_per_contact", "value_basis", "eligibility", "priority",
                   "prior_uplift", "script_hint")
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class CatalogError(ValueError):
    """The action catalog file is invalid; the message names the file, the action and the field."""


@dataclass(frozen=True)
class Action:
    """One catalog action with its compiled rules and localised texts."""

    id: str
    type: str
    channels: tuple[str, ...]
    cost_per_contact: Mapping[str, float]
    offer_cost_share: float
    value_basis: str
    value_per_conversion: float | None
    eligibility: Rule
    suitability: Rule | None
    priority: int
    prior_uplift: float
    names: Mapping[str, str]
    script_hints: Mapping[str, str]
    outcome_horizon_days: int = DEFAULT_OUTCOME_HORIZON_DAYS

    def name(self, lang: str = "en") -> str:
        """The action's name in `lang`, English when that language is missing."""
        return self.names.get(lang) or self.names["en"]

    def script_hint(self, lang: str = "en") -> str:
        """The agent's script hint in `lang`, English when that language is missing."""
        return self.script_hints.get(lang) or self.script_hints["en"]


@dataclass(frozen=True)
class Catalog:
    """The validated catalog; `version` is '<version>+<first 12 hex of the file's sha256>'."""

    actions: tuple[Action, ...]
    version: str
    sha256: str
    source: str

    def action(self, action_id: str) -> Action:
        """The action with this id (KeyError naming it otherwise)."""
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(f"action '{action_id}' is not in the catalog {self.source}")

    def ordered_actions(self) -> tuple[Action, ...]:
        """Actions in tie-break order: catalog priority (lower first), then id."""
        return tuple(sorted(self.actions, key=lambda a: (a.priority, a.id)))

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (action_id, channel) option in tie-break order: priority, action id, channel."""
        return tuple((a.id, ch) for a in self.ordered_actions() for ch in sorted(a.channels))

    def texts(self) -> dict[str, dict[str, dict[str, str]]]:
        """action_id -> {'name': {lang: text}, 'script_hint': {lang: text}} with English filled in."""
        return {a.id: {"name": {lang: a.name(lang) for lang in LANGUAGES},
                       "script_hint": {lang: a.script_hint(lang) for lang in LANGUAGES}} for a in self.actions}


def load_catalog(path: Path, known_features: set[str]) -> Catalog:
    """Read and validate the catalog at `path`; rules may only name features in `known_features`."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{path.name}: cannot read the action catalog ({exc.strerror or exc})") from None
    try:
        document = yaml.safe_load(content.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CatalogError(f"{path.name}: not valid UTF-8 YAML ({first_line})") from None
    return parse_catalog(document, known_features, source=path.name, sha256=hashlib.sha256(content).hexdigest())


def parse_catalog(document, known_features: set[str], *, source: str, sha256: str) -> Catalog:
    """Validate an already-parsed catalog document (see load_catalog)."""
    if not isinstance(document, dict):
        raise CatalogError(f"{source}: expected a mapping with 'version' and 'actions'")
    unknown = sorted(set(document) - {"version", "actions"})
    if unknown:
        raise CatalogError(f"{source}: unknown top-level field '{unknown[0]}'")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise CatalogError(f"{source}: field 'version' must be a non-empty string")
    entries = document.get("actions")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: field 'actions' must be a non-empty list")
    actions, seen = [], set()
    for position, entry in enumerate(entries, start=1):
        action = _parse_action(entry, position, known_features, source)
        if action.id in seen:
            raise CatalogError(f"{source}: action '{action.id}' appears more than once (ids must be unique)")
        seen.add(action.id)
        actions.append(action)
    return Catalog(actions=tuple(actions), version=f"{version.strip()}+{sha256[:12]}", sha256=sha256, source=source)


def _parse_action(entry, position: int, known_features: set[str], source: str) -> Action:
    """One action entry -> Action; every problem raises CatalogError naming the action and field."""
    if not isinstance(entry, dict):
        raise CatalogError(f"{source}: action #{position} must be a mapping of fields")
    action_id = entry.get("id")
    if not isinstance(action_id, str) or not IDENTIFIER.match(action_id) or action_id == NO_ACTION:
        where = f"action #{position}"
        raise CatalogError(f"{source}: {where} field 'id': expected a lower-case identifier other than "
                           f"'{NO_ACTION}', got {action_id!r}")

    def fail(field: str, problem: str) -> CatalogError:
        return CatalogError(f"{source}: action '{action_id}' {field}: {problem}")

    unknown = sorted(set(entry) - ACTION_FIELDS)
    if unknown:
        raise fail(f"field '{unknown[0]}'", "unknown field")
    for field in REQUIRED_FIELDS:
        if entry.get(field) is None:
            raise fail(f"field '{field}'", "missing")
    if not isinstance(entry["type"], str) or not IDENTIFIER.match(entry["type"]):
        raise fail("field 'type'", f"expected a lower-case identifier, got {entry['type']!r}")
    channels = _parse_channels(entry["channels"], fail)
    costs = _parse_costs(entry["cost_per_contact"], channels, fail)
    value_basis = entry["value_basis"]
    if value_basis not in VALUE_BASES:
        raise fail("field 'value_basis'", f"expected one of {', '.join(VALUE_BASES)}, got {value_basis!r}")
    value_per_conversion = None
    if value_basis == "fixed":
        if entry.get("value_per_conversion") is None:
            raise fail("field 'value_per_conversion'", "required when value_basis is 'fixed'")
        value_per_conversion = _number(entry["value_per_conversion"], "value_per_conversion", fail, low=0.0)
    elif entry.get("value_per_conversion") is not None:
        raise fail("field 'value_per_conversion'", "only used when value_basis is 'fixed'")
    priority = entry["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise fail("field 'priority'", f"expected an integer, got {priority!r}")
    return Action(
        id=action_id, type=entry["type"], channels=channels, cost_per_contact=costs,
        offer_cost_share=_number(entry.get("offer_cost_share", 0.0), "offer_cost_share", fail, low=0.0, high=1.0),
        value_basis=value_basis, value_per_conversion=value_per_conversion,
        eligibility=_parse_rule(entry["eligibility"], "eligibility", known_features, fail),
        suitability=(None if entry.get("suitability") is None
                     else _parse_rule(entry["suitability"], "suitability", known_features, fail)),
        priority=priority,
        prior_uplift=_number(entry["prior_uplift"], "prior_uplift", fail, low=-1.0, high=1.0),
        names=_parse_texts(entry["names"], "names", fail),
        script_hints=_parse_texts(entry["script_hint"], "script_hint", fail),
        outcome_horizon_days=_horizon(entry.get("outcome_horizon_days", DEFAULT_OUTCOME_HORIZON_DAYS), fail),
    )


def _horizon(value, fail) -> int:
    """A whole number of days from 1 to 730 (two years: an outcome must settle within usable history)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 730:
        raise fail("field 'outcome_horizon_days'", f"expected a whole number of days from 1 to 730, got {value!r}")
    return value


def _parse_channels(value, fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise fail("field 'channels'", "expected a non-empty list")
    for channel in value:
        if channel not in CHANNELS:
            raise fail("field 'channels'", f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if len(set(value)) != len(value):
        raise fail("field 'channels'", "a channel is listed twice")
    return tuple(value)


def _parse_costs(value, channels: tuple[str, ...], fail) -> dict[str, float]:
    if not isinstance(value, dict):
        raise fail("field 'cost_per_contact'", "expected a mapping channel -> cost")
    for channel in value:
        if channel not in channels:
            raise fail("field 'cost_per_contact'", f"has a cost for {channel!r}, which is not in channels")
    for channel in channels:
        if channel not in value:
            raise fail("field 'cost_per_contact'", f"no cost for channel '{channel}'")
    return {ch: _number(value[ch], f"cost_per_contact.{ch}", fail, low=0.0) for ch in channels}


def _parse_texts(value, field: str, fail) -> dict[str, str]:
    if not isinstance(value, dict):
        raise fail(f"field '{field}'", "expected a mapping language -> text with at least 'en'")
    for lang, text in value.items():
        if lang not in LANGUAGES:
            raise fail(f"field '{field}'", f"unsupported language {lang!r}; expected {', '.join(LANGUAGES)}")
        if not isinstance(text, str) or not text.strip():
            raise fail(f"field '{field}.{lang}'", "expected a non-empty string")
    if "en" not in value:
        raise fail(f"field '{field}'", "the English text 'en' is required")
    return {lang: text.strip() for lang, text in value.items()}


def _parse_rule(text, kind: str, known_features: set[str], fail) -> Rule:
    if not isinstance(text, str):
        raise fail(f"{kind} rule {text!r}", "expected a rule as a string")
    try:
        return compile_rule(text, known_features)
    except RuleError as exc:
        raise fail(f"{kind} rule '{text}'", exc.problem) from None


def _number(value, field: str, fail, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(f"field '{field}'", f"expected a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise fail(f"field '{field}'", f"expected a number {bounds}, got {value!r}")
    return float(value)
