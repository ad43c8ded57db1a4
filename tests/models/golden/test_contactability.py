"""Contact fields of the golden record: E.164 phones with their country, time zone and language, never guessed."""
import pandas as pd
import pytest

from models.golden.contactability import ContactSettings, contact_fields, parse_phone
from tests.models.golden.test_golden_record import _customers_con
from models.golden.resolve import resolve_golden_records

SETTINGS = ContactSettings(default_region="ES", default_time_zone="Europe/Madrid", default_language="es")


def _fields(**crm):
    row = {"customer_id": "C1", "phone_raw": None, "region": None, "postal_code": None, "country": None,
           "time_zone": None, "language": None, **crm}
    fields, quarantined = contact_fields(pd.DataFrame([row]), SETTINGS)
    return fields.iloc[0].to_dict(), quarantined.to_dict("records")


@pytest.mark.parametrize("raw, region, e164, country", [
    ("+351 913 524 768", "ES", "+351913524768", "PT"),      # the examples keep their country code
    ("+1 212 555 0199", "ES", "+12125550199", "US"),
    ("0034 699-111-222", "PT", "+34699111222", "ES"),
    ("913 524 768", "PT", "+351913524768", "PT"),           # a national number is read in the customer's country
    ("913 524 768", "ES", "+34913524768", "ES"),            # ... which decides: a Madrid landline in Spain
    ("+44 (0)20 7946 0958", "ES", "+442079460958", "GB"),
])
def test_phones_keep_e164_and_their_country(raw, region, e164, country):
    assert parse_phone(raw, region) == (e164, country, None)


@pytest.mark.parametrize("raw, rule", [("n/a", "phone_unparsable"), ("123", "phone_invalid"),
                                       ("000000000", "phone_invalid"), ("+34 12", "phone_invalid")])
def test_unusable_phones_are_quarantined_with_their_rule_not_guessed(raw, rule):
    fields, quarantined = _fields(phone_raw=raw)
    assert fields["phone"] is None and fields["phone_country"] is None
    assert quarantined == [{"customer_id": "C1", "field": "phone", "value": raw, "rule": rule}]


def test_time_zone_comes_from_crm_then_region_then_postal_code_then_phone_then_country():
    assert _fields(time_zone="Atlantic/Canary", region="Madrid")[0]["time_zone"] == "Atlantic/Canary"
    assert _fields(region="Canarias", phone_raw="612345678")[0]["time_zone"] == "Atlantic/Canary"
    assert _fields(region="CANARIAS ")[0]["time_zone"] == "Atlantic/Canary"  # case and spaces folded
    assert _fields(postal_code="38001")[0]["time_zone"] == "Atlantic/Canary"  # Santa Cruz de Tenerife
    assert _fields(phone_raw="928 123 456")[0]["time_zone"] == "Atlantic/Canary"  # a Canary Islands landline
    assert _fields(phone_raw="612 345 678")[0]["time_zone"] == "Europe/Madrid"  # a mobile: the country's zone
    assert _fields(region="Lisboa")[0] == {"customer_id": "C1", "phone": None, "phone_country": None, "country": "PT",
                                                 "time_zone": "Europe/Lisbon", "language": "pt"}
    assert _fields()[0]["time_zone"] == "Europe/Madrid"  # nothing known: the configured default


def test_language_comes_from_crm_then_country_then_default():
    assert _fields(language="pt-BR", region="Madrid")[0]["language"] == "pt"
    assert _fields(phone_raw="+351 913 524 768")[0]["language"] == "pt"  # country from the phone
    assert _fields(phone_raw="+44 7400 123456")[0]["language"] == "en"
    assert _fields(country="JP")[0]["language"] == "es"  # a country without a listed language: the default


def test_unusable_crm_values_are_quarantined_and_the_next_source_is_used():
    fields, quarantined = _fields(country="Spain", time_zone="Madrid", language="klingon", region="Porto")
    assert (fields["country"], fields["time_zone"], fields["language"]) == ("PT", "Europe/Lisbon", "pt")
    assert sorted(q["rule"] for q in quarantined) == ["country_unknown", "language_unknown", "time_zone_unknown"]


def test_settings_from_config_name_the_bad_key():
    assert ContactSettings.from_config({"contactability": {"default_region": "PT"}}).default_region == "PT"
    for key, value in (("default_region", "Portugal"), ("default_time_zone", "Lisbon"), ("default_language", "fr")):
        with pytest.raises(ValueError, match=f"contactability.{key} '{value}'"):
            ContactSettings.from_config({"contactability": {key: value}})


def test_golden_record_holds_e164_and_quarantines_what_it_cannot_read():
    con = _customers_con()
    result = resolve_golden_records(con)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT customer_id, phone, phone_country, country, time_zone, language FROM golden_customers").fetchall()}
    assert rows["C1"] == ("+34699111222", "ES", "ES", "Europe/Madrid", "es")
    assert rows["C10"] == ("+442079460958", "GB", "GB", "Europe/London", "en")
    assert rows["C12"] == ("+351912345678", "PT", "PT", "Europe/Lisbon", "pt")
    quarantined = con.execute("SELECT customer_id, rule FROM contact_quarantine ORDER BY ALL").fetchall()
    assert quarantined == [("C5", "phone_unparsable"), ("C6", "phone_invalid"), ("C7", "phone_invalid"),
                           ("C8", "phone_invalid"), ("C9", "phone_invalid")]
    assert result.contact_values_quarantined == len(quarantined)
    assert all(rows[c][0] is None for c, _ in quarantined)
