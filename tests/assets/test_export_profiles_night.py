"""A generated base with phones written in Spanish, Portuguese and British formats, through a real night: every
golden and exported phone is valid E.164 of the customer's country, time zones match the region, and every
profile's files pass its tool's rules (the exports asset re-run on a copy of the night's warehouse)."""
import json
import shutil

import dagster as dg
import phonenumbers
import pytest

from assets.exports import campaign_lists
from models.exports.profiles import PROFILES_DIR, STANDARD, load_profile, profile_columns
from pipelines.resources import NbaHome
from tests.conftest import AS_OF, FAST_CONFIG, query
from tests.models.exports.test_export_profiles import read_as_the_tool

ALL = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
REGION_ZONES = {"Canarias": "Atlantic/Canary", "Lisboa": "Europe/Lisbon", "Porto": "Europe/Lisbon",
                "Braga": "Europe/Lisbon"}


def test_golden_phones_are_e164_of_their_country_and_time_zones_match_the_region(nightly_home):
    rows = query(nightly_home, "SELECT phone, phone_country, country, time_zone, region, language FROM golden_customers")
    phones = [r for r in rows if r[0] is not None]
    assert {r[1] for r in phones} >= {"ES", "PT", "GB"}  # several countries' formats in the generated base
    for phone, phone_country, *_ in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
        assert phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == phone_country
    for _, _, country, zone, region, language in rows:
        assert zone == REGION_ZONES.get(region, "Europe/Madrid"), region
        assert country == ("PT" if region in ("Lisboa", "Porto", "Braga") else "ES")
        assert language in ("en", "es", "pt")
    assert {r[5] for r in rows if r[4] == "Lisboa"} >= {"pt"}
    unusable = query(nightly_home, "SELECT count(*) FROM contact_quarantine c JOIN golden_customers g USING (customer_id) "
                                   "WHERE c.field = 'phone' AND g.phone IS NOT NULL")[0][0]
    assert unusable == 0  # a quarantined phone is never kept


@pytest.fixture(scope="module")
def profiled_night(nightly_home, tmp_path_factory):
    home = tmp_path_factory.mktemp("profiled_home")
    shutil.copytree(nightly_home / "warehouse", home / "warehouse")
    config = home / "profiles.yaml"
    config.write_text(FAST_CONFIG + "exports:\n  profiles: [" + ", ".join(ALL) + "]\n", encoding="utf-8")
    result = dg.materialize([campaign_lists], partition_key=AS_OF.isoformat(),
                            resources={"home": NbaHome(home_dir=str(home), config_path=str(config))})
    assert result.success
    folder = home / "exports" / AS_OF.isoformat()
    return folder, json.loads((folder / "manifest.json").read_text()), home


def test_every_profile_of_a_real_night_passes_its_tools_rules(profiled_night):
    folder, manifest, home = profiled_night
    assert manifest["profiles"] == ALL
    golden = {r[0]: r[1:] for r in query(home, "SELECT customer_id, phone, phone_country, time_zone, language FROM golden_customers")}
    checked = 0
    for relative, entry in manifest["files"].items():
        if entry["profile"] == STANDARD or entry["kind"] != "list":
            continue
        profile = load_profile(PROFILES_DIR / f"{entry['profile']}.yaml")
        header, rows = read_as_the_tool(folder / relative, profile)
        assert (folder / relative).stat().st_size <= profile["max_bytes"] and len(rows) <= profile["max_rows"]
        source = [{c["name"]: c["source"] for c in profile_columns(profile, entry["channel"])}[h] for h in header]
        for row in rows:
            cell = dict(zip(source, row))
            phone, phone_country, zone, language = golden[cell["customer_id"]]
            if "phone" in cell:
                e164 = cell["phone"] if profile["phone_format"] == "e164" else "+" + cell["phone"]
                assert e164 == phone and phonenumbers.region_code_for_number(phonenumbers.parse(e164)) == phone_country
                checked += 1
            if "time_zone" in cell:
                assert cell["time_zone"] == zone
            if "language" in cell:
                assert cell["language"] == language
    assert checked > 0
    standard = json.loads((folder / "manifest.json").read_text())["files"]
    assert standard["call_center.csv"]["profile"] == STANDARD
