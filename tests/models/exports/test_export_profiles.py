"""Export profiles: every tool's files read back with that tool's rules and with pandas, DuckDB and csv; splitting,
priority scales, unsatisfiable profiles, per-customer language and suppression files."""
from __future__ import annotations

import csv
import io
import json
import re

import duckdb
import pandas as pd
import phonenumbers
import pytest

from models.exports.compliance import ComplianceError, ComplianceInputs
from models.exports.lists import build_contact_rows, lists_from_contacts
from models.exports.profile_files import render_profile, scaled_priority
from models.exports.profiles import (
    CHANNEL_IDENTIFIER, PROFILES_DIR, STANDARD, ProfileError, load_profile, load_profiles, profile_columns,
)
from models.exports.publishing import write_export_set
from tests.models.exports.test_exports import ACTIONS, AS_OF, CONFIG, CONTRACT, REASONS, RUN_INFO, customers_frame, \
    nba_frame, scores_frame

ALL = sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
TOOLS = [p for p in ALL if p != STANDARD]
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def place_customers() -> pd.DataFrame:
    customers = customers_frame()
    customers["phone_country"] = ["ES", "PT", "ES", "ES", "ES", "ES"]
    customers["country"] = ["ES", "PT", "ES", "ES", "ES", "ES"]
    customers["time_zone"] = ["Europe/Madrid", "Europe/Lisbon", "Atlantic/Canary", "Europe/Madrid", "Europe/Madrid",
                              "Europe/Madrid"]
    customers["language"] = ["es", "pt", "en", "es", "es", "es"]
    return customers


def contacts(customers=None, nba=None):
    return build_contact_rows(nba if nba is not None else nba_frame(), customers if customers is not None else place_customers(),
                              ACTIONS, REASONS, RUN_INFO)


def export_profiles(root, names, customers=None, suppressed=frozenset(), nba=None):
    customers = customers if customers is not None else place_customers()
    rows = contacts(customers, nba)
    return write_export_set(lists_from_contacts(rows, CONTRACT), {"customer_scores": scores_frame(),
                            "next_best_actions": nba if nba is not None else nba_frame()}, root, AS_OF, RUN_INFO, CONFIG,
                            ComplianceInputs(customers, suppressed), profiles=load_profiles(names), contacts=rows)


def read_as_the_tool(path, profile):
    """The file read with the tool's rules: encoding (BOM only where declared), delimiter, one record per line."""
    raw = path.read_bytes()
    fmt = profile["csv"]
    assert raw.startswith(b"\xef\xbb\xbf") == fmt["bom"], path.name
    text = raw.decode(fmt["encoding"]).removeprefix("\ufeff")
    lines = text.split(fmt["line_terminator"])
    assert lines[-1] == "" and all("\n" not in line and "\r" not in line for line in lines), "one record per line"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=fmt["delimiter"]))
    assert all(len(r) == len(rows[0]) for r in rows), path.name
    return rows[0], rows[1:]


@pytest.mark.parametrize("name", TOOLS)
def test_each_profile_writes_files_its_tool_imports(tmp_path, name):
    folder = export_profiles(tmp_path, [name])
    profile = load_profile(PROFILES_DIR / f"{name}.yaml")
    manifest = json.loads((folder / "manifest.json").read_text())
    entries = {k: v for k, v in manifest["files"].items() if v["profile"] == name}
    assert manifest["profiles"] == [name] and not (folder / "email.csv").exists()  # standard not chosen
    assert {p.relative_to(folder).as_posix() for p in (folder / name).iterdir()} == set(entries)
    expected = contacts()
    for relative, entry in entries.items():
        path = folder / relative
        assert entry["bytes"] == path.stat().st_size <= profile["max_bytes"] and entry["rows"] <= profile["max_rows"]
        header, rows = read_as_the_tool(path, profile)
        assert len(rows) == entry["rows"] and AS_OF.strftime("%Y%m%d") in relative
        if entry["kind"] == "suppression":
            assert header == [profile["suppression_columns"][CHANNEL_IDENTIFIER[entry["channel"]]]]
            continue
        columns = profile_columns(profile, entry["channel"])
        assert header == [c["name"] for c in columns]
        chosen = expected[expected["channel"] == entry["channel"]]
        if entry["action_id"]:
            assert entry["action_id"] in relative
            chosen = chosen[chosen["action_id"] == entry["action_id"]]
        source = {c["source"]: i for i, c in enumerate(columns)}
        assert [r[source["customer_id"]] for r in rows] == chosen["customer_id"].tolist()  # the list's order
        for column in columns:
            cells = [r[source[column["source"]]] for r in rows]
            if column.get("required"):
                assert all(cells), (relative, column["name"])
            if column["source"] == "phone":
                e164 = cells if profile["phone_format"] == "e164" else ["+" + c for c in cells]
                assert all(E164.fullmatch(p) and phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in e164)
                assert [phonenumbers.region_code_for_number(phonenumbers.parse(p)) for p in e164] == \
                    chosen["phone_country"].tolist()
            if column["source"] == "priority" and profile.get("priority"):
                scale = profile["priority"]
                values = [int(c) for c in cells]
                assert all(scale["lowest"] <= v <= scale["highest"] for v in values)
                assert values == sorted(values, reverse=scale["first_is"] == "highest")
            if column["source"] == "time_zone":
                assert cells == chosen["time_zone"].tolist()
        frame = pd.read_csv(path, sep=profile["csv"]["delimiter"], encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert frame.columns.tolist() == header and frame.values.tolist() == rows
        got = duckdb.connect().execute("SELECT * FROM read_csv(?, delim=?, all_varchar=true, header=true)",
                                       [str(path), profile["csv"]["delimiter"]]).fetchall()
        assert [[c or "" for c in r] for r in got] == rows


def test_spreadsheet_profiles_use_the_locale_and_neutralise_formulas_only_there(tmp_path):
    folder = export_profiles(tmp_path, ["spreadsheet_es_es", "talkdesk"])
    header, rows = read_as_the_tool(folder / "spreadsheet_es_es" / "nba_phone_20261123_001.csv",
                                    load_profile(PROFILES_DIR / "spreadsheet_es_es.yaml"))
    row = dict(zip(header, rows[0]))
    assert row["Apellidos"] == "'=HYPERLINK(\"http://x\")" and row["Nombre"] == "João Pedro"  # one line per record
    assert row["Valor esperado"] == "40,00" and row["Válido hasta"] == "30/11/2026"
    assert row["Acción"] == "Service recovery call" and row["Idioma"] == "pt"  # no pt text in ACTIONS: English
    talkdesk = pd.read_csv(folder / "talkdesk" / "nba_phone_service_recovery_call_20261123_001.csv", dtype=str)
    assert talkdesk["last_name"].tolist()[0] == '=HYPERLINK("http://x")'  # a tool stores the true value
    assert talkdesk["priority"].tolist() == ["10", "1"] and talkdesk["timezone"].tolist() == ["Europe/Lisbon", "Atlantic/Canary"]


def test_texts_follow_each_customers_language():
    rows = contacts().set_index(["customer_id", "action_id"])
    assert rows.loc[("g01", "retention_offer"), "action_name"] == "Oferta de retención"  # es customer
    assert rows.loc[("g01", "retention_offer"), "offer"] == "10% de descuento"
    assert rows.loc[("g04", "retention_offer"), "action_name"] == "Oferta de retención"
    customers = place_customers().assign(language=["en", "pt", "en", "en", "en", "en"])
    assert contacts(customers).set_index(["customer_id", "action_id"]).loc[("g01", "retention_offer"), "action_name"] \
        == "Retention offer"


def test_files_split_at_the_profiles_limits_and_every_part_has_the_header():
    profile = load_profile(PROFILES_DIR / "braze.yaml") | {"max_rows": 1, "split_by": "channel",
                                                           "file_name": "b_{channel}_{as_of}_{part}.csv"}
    rows = contacts()
    files = [(n, e) for n, e, _ in render_profile(profile, rows, {}, AS_OF) if e["kind"] == "list"]
    assert [n for n, _ in files] == ["b_email_20261123_001.csv", "b_email_20261123_002.csv", "b_sms_20261123_001.csv",
                                     "b_app_20261123_001.csv"]
    by_bytes = load_profile(PROFILES_DIR / "braze.yaml") | {"split_by": "channel", "file_name": "b_{channel}_{as_of}_{part}.csv"}
    whole = next(d for n, e, d in render_profile(by_bytes, rows, {}, AS_OF) if n.startswith("b_email"))
    by_bytes["max_bytes"] = len(whole) - 1
    parts = [d for n, e, d in render_profile(by_bytes, rows, {}, AS_OF) if n.startswith("b_email")]
    assert len(parts) == 2 and all(len(p) <= by_bytes["max_bytes"] for p in parts)
    head = whole.split(b"\n")[0]
    assert all(p.split(b"\n")[0] == head for p in parts) and b"".join(p.split(b"\n", 1)[1] for p in parts) == whole.split(b"\n", 1)[1]


def test_priority_scales_put_the_best_customer_first_on_the_tools_scale():
    assert scaled_priority(3, None) == [1, 2, 3]
    assert scaled_priority(20, {"lowest": 1, "highest": 10, "first_is": "highest"}) == [10, 10, 9, 9, 8, 8, 7, 7, 6, 6,
                                                                                         5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scaled_priority(2, {"lowest": 1, "highest": 10, "first_is": "lowest"}) == [1, 10]
    assert scaled_priority(4, {"lowest": 1, "highest": 10, "first_is": "highest"}) == [10, 7, 4, 1]


def test_an_unsatisfiable_profile_stops_the_export_naming_profile_field_and_row(tmp_path):
    customers = place_customers()
    customers.loc[customers["customer_id"] == "g03", "time_zone"] = None
    with pytest.raises(ProfileError, match=r"Profile genesys cannot be satisfied: required field 'TimeZone' "
                                           r"\(source time_zone\) is empty in 1 phone row\(s\), e.g. .*'g03'"):
        export_profiles(tmp_path, ["genesys"], customers=customers)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".2026")]  # nothing left behind


@pytest.mark.parametrize("change, message", [
    ({"channels": ["fax"]}, "channels must be a list"),
    ({"phone_format": "national"}, "phone_format 'national'"),
    ({"file_name": "list.csv"}, "file_name 'list.csv' must contain"),
    ({"priority": {"lowest": 10, "highest": 1, "first_is": "highest"}}, "priority must be"),
    ({"columns": [{"name": "Email", "source": "e_mail"}]}, "unknown source 'e_mail'"),
    ({"csv": {"delimiter": ",", "decimal": ","}}, "csv.delimiter and csv.decimal"),
    ({"max_bytes": 0}, "max_bytes must be a positive integer"),
])
def test_a_wrong_profile_file_names_file_and_field(tmp_path, change, message):
    import yaml
    spec = yaml.safe_load((PROFILES_DIR / "klaviyo.yaml").read_text()) | change
    (tmp_path / "klaviyo.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    with pytest.raises(ProfileError, match=f"klaviyo.yaml: .*{re.escape(message)}"):
        load_profiles(["klaviyo"], tmp_path)
    with pytest.raises(ProfileError, match="'nope', which has no file"):
        load_profiles(["nope"])


def test_compliance_rereads_profile_files(tmp_path, monkeypatch):
    from models.exports import profile_files
    real = profile_files.render_profile

    def leak_a_customer(profile, rows, suppression, as_of):  # a bug that puts g06 (no e-mail consent) in a file
        out = real(profile, rows, suppression, as_of)
        name, entry, data = out[0]
        return [(name, entry | {"rows": entry["rows"] + 1}, data + b"bob@example.com,Bob,g06,ES,es,x,,2026-11-30\n"), *out[1:]]

    customers = place_customers()
    customers.loc[customers["customer_id"] == "g06", "consent_email"] = False
    monkeypatch.setattr(profile_files, "render_profile", leak_a_customer)
    with pytest.raises(ComplianceError, match="lack consent_email, e.g. customer_id g06"):
        export_profiles(tmp_path, ["klaviyo"], customers=customers)


def test_all_profiles_together_keep_the_standard_files(tmp_path):
    folder = export_profiles(tmp_path, ALL)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["files"]["email.csv"]["profile"] == STANDARD and (folder / "email.parquet").exists()
    assert {e["profile"] for e in manifest["files"].values()} == set(ALL)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == TOOLS


# ---------------------------------------------------------------- property: consent and suppression

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

CHANNEL_OF_LIST = {"email": "email", "sms": "sms", "app": "app", "phone": "phone"}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(consents=st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans()),
                         min_size=6, max_size=6),
       suppressed=st.sets(st.sampled_from(["g01", "g02", "g03", "g04", "g05", "g06"]), max_size=3),
       chosen=st.lists(st.booleans(), min_size=10, max_size=10), leak=st.booleans())
def test_no_profile_file_holds_a_customer_without_consent_and_every_suppressed_one_is_in_the_suppression_file(
        tmp_path_factory, consents, suppressed, chosen, leak):
    customers = place_customers()
    for i, (email, sms, phone, app, dnc) in enumerate(consents):
        customers.loc[i, ["consent_email", "consent_sms", "consent_phone", "consent_app", "do_not_contact"]] = \
            [email, sms, phone, app, dnc]
    people = customers.set_index("customer_id")
    blocked = {c: {cid for cid in people.index if not people.loc[cid, f"consent_{c}"] or people.loc[cid, "do_not_contact"]
                   or cid in suppressed} for c in CHANNEL_OF_LIST.values()}
    nba = nba_frame().assign(chosen=chosen)
    allowed = [c is None or cid not in blocked[c] for cid, c in zip(nba["customer_id"], nba["channel"])]
    nba = nba if leak else nba.assign(chosen=nba["chosen"] & allowed)  # leak: a decision bug upstream
    root = tmp_path_factory.mktemp("prop")
    try:
        folder = export_profiles(root, TOOLS, customers=customers, suppressed=frozenset(suppressed), nba=nba)
    except ComplianceError:
        assert leak and not any(p.name == "2026-11-23" for p in root.iterdir())  # refused, nothing published
        return
    manifest = json.loads((folder / "manifest.json").read_text())
    for relative, entry in manifest["files"].items():
        if entry["profile"] == STANDARD:
            continue
        profile = load_profile(PROFILES_DIR / f"{entry['profile']}.yaml")
        header, rows = read_as_the_tool(folder / relative, profile)
        if entry["kind"] == "list":
            source = {c["name"]: c["source"] for c in profile_columns(profile, entry["channel"])}
            ids = [r[[source[h] for h in header].index("customer_id")] for r in rows]
            assert not set(ids) & blocked[entry["channel"]], relative
        else:
            identifier = CHANNEL_IDENTIFIER[entry["channel"]]
            values = {r[0] for r in rows}
            if profile["phone_format"] == "e164_digits" and identifier == "phone":
                values = {"+" + v for v in values}
            assert {str(people.loc[cid, identifier] if identifier != "customer_id" else cid)
                    for cid in blocked[entry["channel"]]} <= values, relative
