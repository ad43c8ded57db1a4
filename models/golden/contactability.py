"""Contact fields of the golden record, worked out once: phone in E.164 with its country, country, IANA time zone
and language of every customer.

Why here: SMS tools and dialers reject national numbers, dialers keep calling hours per record's time zone and a
text must be in the customer's language; every export reads these fields instead of guessing per file.

Rules (reference data in places.yaml):
- phone: parsed with `phonenumbers`; a number without "+"/"00" is read as a national number of the customer's
  country (CRM country, else region's), else of `default_region`. A value that does not parse
  (`phone_unparsable`) or is not a valid number of its country (`phone_invalid`) is quarantined in table
  `contact_quarantine` with its rule and the phone left empty: never guessed;
- country: the CRM country field, else the region's country, else the phone's country, else `default_region`;
- time zone: the CRM time_zone field (an IANA name), else the region's, else the postal code's prefix, else the
  phone prefix's when it names exactly one zone of that country, else the country's, else `default_time_zone`;
- language: the CRM language field (en / es / pt, a tag like pt-BR counts as pt), else the country's, else
  `default_language`.
An unusable CRM country / time zone / language value is quarantined too (rule `<field>_unknown`) and the next
source is used.
"""
from __future__ import annotations

import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import phonenumbers
import yaml
from phonenumbers import timezone as phone_timezones

PLACES_PATH = Path(__file__).with_name("places.yaml")
LANGUAGES = ("en", "es", "pt")
CONTACT_COLUMNS = ("phone", "phone_country", "country", "time_zone", "language")
QUARANTINE_TABLE = "contact_quarantine"


@dataclass(frozen=True)
class ContactSettings:
    """The `contactability:` config section: what a customer gets when nothing in the data says otherwise."""

    default_region: str = "ES"
    default_time_zone: str = "Europe/Madrid"
    default_language: str = "es"

    @classmethod
    def from_config(cls, config: dict) -> ContactSettings:
        """Settings from the full config; unknown region / zone / language name the key and value."""
        section = config.get("contactability") or {}
        settings = cls(**{k: section[k] for k in ("default_region", "default_time_zone", "default_language") if k in section})
        if settings.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"contactability.default_region {settings.default_region!r} is not an ISO 3166 country code.")
        if settings.default_time_zone not in _time_zones():
            raise ValueError(f"contactability.default_time_zone {settings.default_time_zone!r} is not an IANA time zone.")
        if settings.default_language not in LANGUAGES:
            raise ValueError(f"contactability.default_language {settings.default_language!r} is not one of {', '.join(LANGUAGES)}.")
        return settings


@lru_cache(maxsize=1)
def load_places(path: Path = PLACES_PATH) -> dict:
    """The reference data: countries, regions (keys folded) and postal-code prefixes."""
    places = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    places["regions"] = {fold(k): v for k, v in places["regions"].items()}
    return places


def fold(text: str) -> str:
    """Lower-case without accents or surrounding spaces, to compare free-text region names."""
    decomposed = unicodedata.normalize("NFKD", str(text).strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def contact_fields(customers: pd.DataFrame, settings: ContactSettings, places: dict | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(customer_id + CONTACT_COLUMNS, quarantine rows customer_id/field/value/rule) for every customer.

    `customers` has customer_id, phone_raw, region, postal_code, country, time_zone, language (CRM values,
    missing as None/NaN).
    """
    places = places or load_places()
    rows, quarantined = [], []
    try:
        for record in customers.to_dict("records"):
            fields, problems = _contact_record(record, settings, places)
            rows.append({"customer_id": record["customer_id"], **fields})
            quarantined += [{"customer_id": record["customer_id"], **p} for p in problems]
    finally:  # each number is looked up once per call; the caches would otherwise hold a million of them all night
        _parse_phone.cache_clear()
        _phone_zone.cache_clear()
    return (pd.DataFrame(rows, columns=["customer_id", *CONTACT_COLUMNS]),
            pd.DataFrame(quarantined, columns=["customer_id", "field", "value", "rule"]))


def parse_phone(raw: str, region: str) -> tuple[str | None, str | None, str | None]:
    """(E.164, country, None) for a valid number, else (None, None, rule): national numbers read in `region`."""
    return _parse_phone(raw.strip(), region)


@lru_cache(maxsize=1_000_000)
def _parse_phone(raw: str, region: str) -> tuple[str | None, str | None, str | None]:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, None, "phone_unparsable"
    if not phonenumbers.is_valid_number(number):
        return None, None, "phone_invalid"
    return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.region_code_for_number(number), None)


def _contact_record(record: dict, settings: ContactSettings, places: dict) -> tuple[dict, list[dict]]:
    problems = []
    crm = {f: _text(record.get(f)) for f in ("country", "time_zone", "language", "region", "postal_code", "phone_raw")}
    country = crm["country"].upper() if crm["country"] else None
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        problems.append({"field": "country", "value": crm["country"], "rule": "country_unknown"})
        country = None
    place = places["regions"].get(fold(crm["region"])) if crm["region"] else None
    country = country or (place or {}).get("country")
    phone = phone_country = None
    if crm["phone_raw"]:
        phone, phone_country, rule = parse_phone(crm["phone_raw"], country or settings.default_region)
        if rule:
            problems.append({"field": "phone", "value": crm["phone_raw"], "rule": rule})
    country = country or phone_country or settings.default_region
    zone = crm["time_zone"]
    if zone and zone not in _time_zones():
        problems.append({"field": "time_zone", "value": zone, "rule": "time_zone_unknown"})
        zone = None
    zone = zone or _inferred_zone(country, place, crm["postal_code"], phone if phone_country == country else None,
                                  places) or settings.default_time_zone
    language = (crm["language"] or "").lower().replace("_", "-").split("-")[0] or None
    if crm["language"] and language not in LANGUAGES:
        problems.append({"field": "language", "value": crm["language"], "rule": "language_unknown"})
        language = None
    language = language or places["countries"].get(country, {}).get("language") or settings.default_language
    return {"phone": phone, "phone_country": phone_country, "country": country, "time_zone": zone,
            "language": language}, problems


def _inferred_zone(country: str, place: dict | None, postal_code: str | None, phone: str | None, places: dict) -> str | None:
    """Region, else postal-code prefix, else a phone prefix naming one zone, else the country's zone."""
    if place and place.get("country") == country:
        return place["time_zone"]
    if postal_code:
        prefixes = places.get("postal_codes", {}).get(country, {})
        code = postal_code.replace(" ", "")
        for prefix in sorted(prefixes, key=len, reverse=True):
            if code.startswith(prefix):
                return prefixes[prefix]
    zone = _phone_zone(phone) if phone else None
    return zone or places["countries"].get(country, {}).get("time_zone")


@lru_cache(maxsize=1_000_000)
def _phone_zone(e164: str) -> str | None:
    """The one IANA zone the number's prefix names, else None (mobiles usually name several)."""
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    return zones[0] if len(zones) == 1 and zones[0] in _time_zones() else None


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _text(value) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None
