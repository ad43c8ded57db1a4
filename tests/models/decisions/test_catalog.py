"""Loading the action catalog: the shipped file is valid, and every kind of bad catalog is named precisely."""
import copy
import hashlib
from pathlib import Path

import pytest
import yaml

from models.decisions.catalog import CatalogError, load_catalog
from models.features.customer_features import FEATURE_COLUMNS

SHIPPED = Path(__file__).resolve().parents[3] / "pipelines" / "config" / "action_catalog.yaml"
KNOWN = {"purchases_365d", "purchases_total", "days_since_last_purchase", "complaints_30d", "days_since_last_discount"}

GOOD = {
    "version": "test-v1",
    "actions": [
        {"id": "winback", "type": "win_back", "names": {"en": "Win-back", "es": "Recuperación"},
         "channels": ["email", "sms"], "cost_per_contact": {"email": 0.05, "sms": 0.1}, "offer_cost_share": 0.15,
         "value_basis": "retained_clv", "eligibility": "purchases_total >= 1 and days_since_last_purchase > 180",
         "priority": 2, "prior_uplift": 0.01, "script_hint": {"en": "Invite them back.", "pt": "Convide-o."}},
        {"id": "survey", "type": "survey", "names": {"en": "Survey"}, "channels": ["email"],
         "cost_per_contact": {"email": 0.02}, "value_basis": "fixed", "value_per_conversion": 2.0,
         "eligibility": "true", "suitability": "complaints_30d == 0", "priority": 2, "prior_uplift": 0.02,
         "script_hint": {"en": "Ask how it went."}},
        {"id": "call", "type": "service_recovery_call", "names": {"en": "Call"}, "channels": ["phone"],
         "cost_per_contact": {"phone": 5}, "value_basis": "retained_clv", "eligibility": "complaints_30d >= 1",
         "priority": 0, "prior_uplift": 0.03, "script_hint": {"en": "Apologise."}},
    ],
}


def write(tmp_path, document) -> Path:
    path = tmp_path / "action_catalog.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True),
                    encoding="utf-8")
    return path


def changed(action_index: int, **fields):
    """GOOD with fields of one action replaced (a value of ... deletes the field)."""
    document = copy.deepcopy(GOOD)
    for key, value in fields.items():
        if value is ...:
            document["actions"][action_index].pop(key)
        else:
            document["actions"][action_index][key] = value
    return document


def test_shipped_catalog_is_valid_against_the_feature_columns():
    catalog = load_catalog(SHIPPED, set(FEATURE_COLUMNS))
    digest = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert catalog.version == f"catalog-2026.11-v1+{digest[:12]}"
    assert {a.id for a in catalog.actions} >= {"retention_offer", "winback", "service_recovery_call"}
    assert catalog.pairs()[0] == ("service_recovery_call", "phone")  # priority 0 first


def test_good_catalog_parses_with_fallbacks_and_order(tmp_path):
    catalog = load_catalog(write(tmp_path, GOOD), KNOWN)
    winback = catalog.action("winback")
    assert winback.channels == ("email", "sms") and winback.cost_per_contact == {"email": 0.05, "sms": 0.1}
    assert winback.name("es") == "Recuperación" and winback.name("pt") == "Win-back"  # pt falls back to en
    assert winback.script_hint("pt") == "Convide-o." and winback.script_hint("es") == "Invite them back."
    assert catalog.action("survey").value_per_conversion == 2.0 and catalog.action("survey").offer_cost_share == 0.0
    assert catalog.action("survey").suitability.features == {"complaints_30d"}
    # tie-break order: priority, then id, then channel
    assert catalog.pairs() == (("call", "phone"), ("survey", "email"), ("winback", "email"), ("winback", "sms"))
    assert catalog.texts()["call"]["name"] == {"en": "Call", "es": "Call", "pt": "Call"}
    with pytest.raises(KeyError, match="'nope'"):
        catalog.action("nope")


def test_version_changes_with_file_content(tmp_path):
    first = load_catalog(write(tmp_path, GOOD), KNOWN).version
    second = load_catalog(write(tmp_path, changed(0, prior_uplift=0.02)), KNOWN).version
    assert first.startswith("test-v1+") and second.startswith("test-v1+") and first != second


@pytest.mark.parametrize("document, message", [
    (changed(0, eligibility="days_since_lst > 180"),
     "action_catalog.yaml: action 'winback' eligibility rule 'days_since_lst > 180': unknown feature 'days_since_lst'"),
    (changed(1, suitability="__import__('os')"),
     "action_catalog.yaml: action 'survey' suitability rule '__import__('os')': unsupported syntax 'call'"),
    (changed(0, eligibility="purchases_total >="),
     "action_catalog.yaml: action 'winback' eligibility rule 'purchases_total >=': malformed"),
    (changed(1, id="winback"), "action_catalog.yaml: action 'winback' appears more than once"),
    (changed(0, channels=["email", "fax"]), "action 'winback' field 'channels': unknown channel 'fax'"),
    (changed(0, channels=[]), "action 'winback' field 'channels': expected a non-empty list"),
    (changed(0, channels=["email", "email"]), "action 'winback' field 'channels': a channel is listed twice"),
    (changed(0, cost_per_contact={"email": 0.05}), "action 'winback' field 'cost_per_contact': no cost for channel 'sms'"),
    (changed(0, cost_per_contact={"email": 0.05, "sms": 0.1, "app": 0.01}),
     "action 'winback' field 'cost_per_contact': has a cost for 'app', which is not in channels"),
    (changed(0, cost_per_contact={"email": -1, "sms": 0.1}), "action 'winback' field 'cost_per_contact.email'"),
    (changed(0, value_basis="revenue"), "action 'winback' field 'value_basis': expected one of retained_clv"),
    (changed(1, value_per_conversion=...), "action 'survey' field 'value_per_conversion': required when value_basis is 'fixed'"),
    (changed(0, value_per_conversion=3.0), "action 'winback' field 'value_per_conversion': only used when value_basis is 'fixed'"),
    (changed(0, names={"es": "Recuperación"}), "action 'winback' field 'names': the English text 'en' is required"),
    (changed(0, names={"en": "Win-back", "fr": "Reconquête"}), "action 'winback' field 'names': unsupported language 'fr'"),
    (changed(0, script_hint=...), "action 'winback' field 'script_hint': missing"),
    (changed(0, script_hint={"en": ""}), "action 'winback' field 'script_hint.en': expected a non-empty string"),
    (changed(0, priority="high"), "action 'winback' field 'priority': expected an integer"),
    (changed(0, priority=1.5), "action 'winback' field 'priority': expected an integer"),
    (changed(0, prior_uplift="small"), "action 'winback' field 'prior_uplift': expected a number"),
    (changed(0, prior_uplift=True), "action 'winback' field 'prior_uplift': expected a number"),
    (changed(0, offer_cost_share=1.5), "action 'winback' field 'offer_cost_share': expected a number between 0.0 and 1.0"),
    (changed(0, type=...), "action 'winback' field 'type': missing"),
    (changed(0, eligibilty="true"), "action 'winback' field 'eligibilty': unknown field"),
    (changed(0, eligibility=5), "action 'winback' eligibility rule 5: expected a rule as a string"),
    (changed(0, id="no_action"), "action #1 field 'id'"),
    (changed(2, id="Bad Id"), "action #3 field 'id'"),
    ({"version": "v1", "actions": []}, "action_catalog.yaml: field 'actions' must be a non-empty list"),
    ({"actions": GOOD["actions"]}, "action_catalog.yaml: field 'version' must be a non-empty string"),
    ({**GOOD, "extra": 1}, "action_catalog.yaml: unknown top-level field 'extra'"),
    ("- just\n- a list\n", "action_catalog.yaml: expected a mapping"),
    ("version: v1\nactions: [\n", "action_catalog.yaml: not valid UTF-8 YAML"),
])
def test_bad_catalogs_are_named(tmp_path, document, message):
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, document), KNOWN)
    assert message in str(info.value)
    assert str(info.value).startswith("action_catalog.yaml: ")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CatalogError, match="nothing.yaml: cannot read the action catalog"):
        load_catalog(tmp_path / "nothing.yaml", KNOWN)
