"""Campaign list exports: columns and types, CSV safety and dialects, determinism, atomic publish, compliance."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from models.exports import publishing
from models.exports.compliance import ComplianceError, ComplianceInputs, assert_export_compliance
from models.exports.contract import TEXT_TYPES, check_file_name, load_export_contract
from models.exports.files import neutralise_cell, restore_cell
from models.exports.lists import build_export_lists
from models.exports.publishing import write_export_set

AS_OF = dt.date(2026, 11, 23)
RUN_INFO = {"as_of": AS_OF, "campaign_id": "run-20261123-01", "policy_version": "policy-v3",
            "model_versions": {"churn": "4", "upsell": "2", "clv": "7"}, "control_group_share": 0.05,
            "valid_until": dt.date(2026, 11, 30)}
CONFIG = {"excel_friendly": False, "excel_delimiter": ";"}
CONTRACT = load_export_contract()
ACTIONS = {
    "retention_offer": {"name": {"en": "Retention offer", "es": "Oferta de retención"}, "type": "retention_offer",
                        "script_hint": {"en": "Offer 10% off.", "es": "Ofrezca un 10%."}, "offer": {"en": "10% off", "es": "10% de descuento"}},
    "winback": {"name": "Win-back", "type": "win_back", "script_hint": "Invite them back.", "offer": "15% off"},
    "service_recovery_call": {"name": "Service recovery call", "type": "service_recovery_call",
                              "script_hint": "=Apologise, then confirm it is solved.", "offer": None},
    "content_newsletter": {"name": "Content: seasonal guide", "type": "content", "script_hint": "", "offer": ""},
}


def customers_frame() -> pd.DataFrame:
    rows = [  # customer_id, email, phone, first_name, last_name
        ("g01", "ana@example.es", "+34600000001", "Ána María", 'O"Brien, Núñez'),
        ("g02", "joao@example.pt", "+351910000002", "João\nPedro", "=HYPERLINK(\"http://x\")"),
        ("g03", "li@example.com", "+34600000003", "-Li", '@Chen, "Li" Núñez'),
        ("g04", "=cmd|' /C calc'!A0", "+34600000004", "Zoë", "Smith"),
        ("g05", "eve@example.com", "+34600000005", "Eve", "Adams"),
        ("g06", "bob@example.com", "+34600000006", "Bob", "Brown"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "email", "phone", "first_name", "last_name"])
    for channel in ("email", "sms", "phone", "app"):
        frame[f"consent_{channel}"] = True
    frame["do_not_contact"] = False
    frame["preferred_channel"] = "email"
    return frame


def nba_frame() -> pd.DataFrame:
    rows = [  # customer_id, rank, action_id, channel, expected_value, chosen, is_holdout
        ("g01", 1, "retention_offer", "email", 12.346, True, False),
        ("g01", 2, "winback", "sms", 3.0, False, False),
        ("g02", 1, "service_recovery_call", "phone", 40.0, True, False),
        ("g03", 1, "service_recovery_call", "phone", 40.0, True, False),
        ("g04", 1, "retention_offer", "email", -1.5, True, False),
        ("g05", 1, "winback", "sms", 7.129, True, False),
        ("g05", 2, "content_newsletter", "app", 1.0, False, False),
        ("g06", 1, "content_newsletter", "app", 0.6, True, True),   # holdout: never exported
        ("g03", 2, "no_action", None, 0.0, False, False),
        ("g01", 1, "content_newsletter", "app", 2.004, True, False),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "rank", "action_id", "channel", "expected_value", "chosen", "is_holdout"])
    frame["is_exploration"] = False
    frame["selection_probability"] = 1.0
    frame["policy_version"] = "policy-v3"
    frame["model_versions"] = [{"churn": "4", "clv": "7"}] * len(frame)
    return frame


REASONS = {"g02": ["Complaint in the last 30 days", "=1+1 formula-like note", "-20% spend vs last quarter"],
           "g03": ["=High churn risk", "Long-time customer, loyal"]}


def scores_frame() -> pd.DataFrame:
    customers = customers_frame()
    return pd.DataFrame({"customer_id": customers["customer_id"], "churn_probability": 0.1, "upsell_probability": 0.2,
                         "clv": 100.0, "churn_model_version": "4", "upsell_model_version": "2", "clv_model_version": "7", "clv_horizon_days": 365,
                         "as_of": AS_OF, "email": customers["email"]})


def export(root, lists=None, config=CONFIG, customers=None, suppressed=frozenset(), **kwargs):
    lists = lists if lists is not None else build_export_lists(nba_frame(), customers_frame(), ACTIONS, REASONS, RUN_INFO)
    compliance = ComplianceInputs(customers if customers is not None else customers_frame(), suppressed)
    return write_export_set(lists, {"customer_scores": scores_frame(), "next_best_actions": nba_frame()}, root, AS_OF,
                            RUN_INFO, config, compliance, **kwargs)


def snapshot(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------- building

def test_lists_hold_only_chosen_contacted_rows_with_their_channel_fields():
    lists = build_export_lists(nba_frame(), customers_frame(), ACTIONS, REASONS, RUN_INFO)
    assert set(lists) == {"email", "sms", "app", "call_center"}
    for name, spec in CONTRACT["lists"].items():
        assert list(lists[name].columns) == [c["name"] for c in spec["columns"]]
    assert list(lists["email"]["customer_id"]) == ["g01", "g04"]          # expected value desc
    assert list(lists["email"]["expected_value"]) == [12.35, -1.5]        # rounded to 2 decimals
    assert list(lists["sms"]["customer_id"]) == ["g05"] and list(lists["sms"]["phone"]) == ["+34600000005"]
    assert list(lists["app"]["customer_id"]) == ["g01"]                   # g06 is holdout, g05's app row not chosen
    assert list(lists["app"].columns[:2]) == ["customer_id", "action_id"]  # no contact field for the app
    call = lists["call_center"]
    assert list(call["customer_id"]) == ["g02", "g03"] and list(call["priority"]) == [1, 2]  # tie -> customer_id
    assert call.loc[0, "reasons"] == "Complaint in the last 30 days; =1+1 formula-like note; -20% spend vs last quarter"
    assert call.loc[0, "last_name"] == '=HYPERLINK("http://x")' and call.loc[0, "offer"] == ""
    assert set(call["campaign_id"]) == {"run-20261123-01"} and set(call["valid_until"]) == {dt.date(2026, 11, 30)}
    assert "email" not in call.columns and "phone" not in lists["email"].columns


def test_lists_are_localised():
    lists = build_export_lists(nba_frame(), customers_frame(), ACTIONS, REASONS, RUN_INFO, lang="es")
    assert lists["email"].loc[0, "action_name"] == "Oferta de retención"
    assert lists["email"].loc[0, "offer"] == "10% de descuento"
    assert lists["sms"].loc[0, "action_name"] == "Win-back"  # a plain string name is used for every language
    with pytest.raises(ValueError, match="'fr'"):
        build_export_lists(nba_frame(), customers_frame(), ACTIONS, REASONS, RUN_INFO, lang="fr")


def test_unknown_action_channel_or_duplicate_customer_are_clear_errors():
    nba = nba_frame()
    nba.loc[0, "action_id"] = "mystery"
    with pytest.raises(ValueError, match="'mystery'.*action catalog"):
        build_export_lists(nba, customers_frame(), ACTIONS, REASONS, RUN_INFO)
    nba = nba_frame()
    nba.loc[0, "channel"] = "fax"
    with pytest.raises(ValueError, match="'fax'"):
        build_export_lists(nba, customers_frame(), ACTIONS, REASONS, RUN_INFO)
    customers = pd.concat([customers_frame(), customers_frame().head(1)])
    with pytest.raises(ValueError, match="'g01' more than once"):
        build_export_lists(nba_frame(), customers, ACTIONS, REASONS, RUN_INFO)


# ---------------------------------------------------------------- CSV content and readers

def test_csvs_load_cleanly_with_pandas_duckdb_and_csv_module(tmp_path):
    folder = export(tmp_path)
    call_csv = folder / "call_center.csv"
    raw = call_csv.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw  # no BOM, '\n' line endings
    assert raw.splitlines()[0] == b"customer_id,phone,first_name,last_name,action_id,action_name,offer,script_hint,reasons,rank,priority,expected_value,campaign_id,valid_until,country,time_zone,language"

    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert [r["customer_id"] for r in rows] == ["g02", "g03"]
    assert rows[0]["first_name"] == "João\nPedro"                                  # newline kept inside quotes
    assert rows[0]["last_name"] == "=HYPERLINK(\"http://x\")"                        # the true value (no spreadsheet)
    assert rows[0]["reasons"] == "Complaint in the last 30 days; =1+1 formula-like note; -20% spend vs last quarter"
    assert rows[0]["script_hint"] == "=Apologise, then confirm it is solved."
    assert rows[1]["first_name"] == "-Li" and rows[1]["last_name"] == "@Chen, \"Li\" Núñez"
    assert rows[1]["reasons"] == "=High churn risk; Long-time customer, loyal"
    assert rows[0]["phone"] == "+351910000002"                                     # plain phone number kept as is
    assert rows[0]["expected_value"] == "40.00" and rows[0]["valid_until"] == "2026-11-30"

    text_columns = {c["name"]: str for c in CONTRACT["lists"]["email"]["columns"] if c["type"] in TEXT_TYPES}
    email = pd.read_csv(folder / "email.csv", dtype=text_columns, keep_default_na=False, parse_dates=["valid_until"])
    assert list(email.columns) == [c["name"] for c in CONTRACT["lists"]["email"]["columns"]]
    assert email["first_name"].tolist() == ["Ána María", "Zoë"]
    assert email["email"].tolist() == ["ana@example.es", "=cmd|' /C calc'!A0"]
    assert email["expected_value"].tolist() == [12.35, -1.5]                      # numeric: never neutralised
    assert str(email["rank"].dtype) == "int64" and str(email["valid_until"].dtype).startswith("datetime64")

    sms = pd.read_csv(folder / "sms.csv", dtype={"phone": str}, keep_default_na=False)
    assert sms["phone"].tolist() == ["+34600000005"]

    con = duckdb.connect()
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{call_csv}')").fetchall()}
    assert types == {"customer_id": "VARCHAR", "phone": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
                     "action_id": "VARCHAR", "action_name": "VARCHAR", "offer": "VARCHAR", "script_hint": "VARCHAR",
                     "reasons": "VARCHAR", "rank": "BIGINT", "priority": "BIGINT", "expected_value": "DOUBLE",
                     "campaign_id": "VARCHAR", "valid_until": "DATE", "country": "VARCHAR", "time_zone": "VARCHAR",
                     "language": "VARCHAR"}
    got = con.execute(f"SELECT first_name, last_name, phone FROM read_csv('{call_csv}') ORDER BY priority").fetchall()
    assert got == [("João\nPedro", "=HYPERLINK(\"http://x\")", "+351910000002"),
                   ("-Li", "@Chen, \"Li\" Núñez", "+34600000003")]
    call = pd.read_csv(call_csv, dtype={"phone": str}, keep_default_na=False)
    assert call["last_name"].tolist() == ["=HYPERLINK(\"http://x\")", "@Chen, \"Li\" Núñez"]
    assert con.execute(f"SELECT first_name FROM read_csv('{folder / 'email.csv'}') ORDER BY priority").fetchall() == [("Ána María",), ("Zoë",)]


def test_parquet_matches_csv_rows_and_has_contract_types(tmp_path):
    folder = export(tmp_path)
    table = pq.read_table(folder / "call_center.parquet")
    assert table.schema.metadata is None or b"pandas" not in table.schema.metadata
    assert str(table.schema.field("valid_until").type) == "date32[day]"
    assert str(table.schema.field("priority").type) == "int64"
    assert table.column("last_name").to_pylist()[0] == '=HYPERLINK("http://x")'  # Parquet keeps the true value
    assert table.num_rows == 2


def test_csv_and_parquet_agree_cell_for_cell(tmp_path):
    folder = export(tmp_path)
    for name, spec in CONTRACT["lists"].items():
        texts = {c["name"]: str for c in spec["columns"] if c["type"] in TEXT_TYPES}
        from_csv = pd.read_csv(folder / f"{name}.csv", dtype=texts, keep_default_na=False)
        from_parquet = pq.read_table(folder / f"{name}.parquet").to_pandas()
        for column in spec["columns"]:
            got, want = from_csv[column["name"]].tolist(), from_parquet[column["name"]].tolist()
            if column["type"] == "date":
                got = [dt.date.fromisoformat(v) for v in got]
            want = ["" if v is None else v for v in want] if column["type"] in TEXT_TYPES else want
            assert got == want, (name, column["name"])


def test_neutralise_cell_rules():
    for text in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"]:
        assert neutralise_cell(text) == "'" + text
        assert restore_cell(neutralise_cell(text)) == text
    assert neutralise_cell("Ana") == "Ana" and neutralise_cell("'quoted") == "'quoted"
    assert neutralise_cell("+34600111222", phone=True) == "+34600111222"
    assert neutralise_cell("+34=cmd", phone=True) == "'+34=cmd"


def test_excel_friendly_mode_writes_bom_and_delimiter(tmp_path):
    folder = export(tmp_path, config={"exports": {"excel_friendly": True, "excel_delimiter": ";"}})
    raw = (folder / "email.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfcustomer_id;email;first_name;")
    frame = pd.read_csv(folder / "email.csv", sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert frame["first_name"].tolist() == ["Ána María", "Zoë"] and frame["expected_value"].tolist() == ["12.35", "-1.50"]
    rows = duckdb.connect().execute(f"SELECT customer_id FROM read_csv('{folder / 'email.csv'}')").fetchall()
    assert rows == [("g01",), ("g04",)]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["csv"] == {"encoding": "utf-8-sig", "delimiter": ";", "line_terminator": "\n",
                               "formula_neutralisation": True}
    assert frame["email"].tolist() == ["ana@example.es", "'=cmd|' /C calc'!A0"]  # spreadsheet mode: neutralised
    call = pd.read_csv(folder / "call_center.csv", sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert call["last_name"].tolist() == ["'=HYPERLINK(\"http://x\")", "'@Chen, \"Li\" Núñez"]
    assert call["first_name"].tolist() == ["João\nPedro", "'-Li"] and call["phone"].tolist()[0] == "+351910000002"
    with pytest.raises(ValueError, match="excel_delimiter"):
        export(tmp_path / "bad", config={"excel_friendly": True, "excel_delimiter": '"'})


# ---------------------------------------------------------------- determinism, manifest, layout

def test_reruns_are_byte_identical_except_created_at(tmp_path):
    first = snapshot(export(tmp_path / "a"))
    second = snapshot(export(tmp_path / "b"))
    assert first.keys() == second.keys()
    for name in first:
        if name != "manifest.json":
            assert first[name] == second[name], name
    m1, m2 = (json.loads(s["manifest.json"]) for s in (first, second))
    m1.pop("created_at"), m2.pop("created_at")
    assert m1 == m2


def test_manifest_records_counts_hashes_and_run_facts(tmp_path):
    import hashlib
    folder = export(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == "run-20261123-01" and manifest["as_of"] == "2026-11-23"
    assert manifest["model_versions"] == {"churn": "4", "clv": "7", "upsell": "2"}
    assert manifest["control_group_share"] == 0.05 and manifest["policy_version"] == "policy-v3"
    assert manifest["files"]["email.csv"]["rows"] == 2 and manifest["files"]["call_center.parquet"]["rows"] == 2
    assert manifest["files"]["next_best_actions.parquet"]["rows"] == len(nba_frame())
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    assert set(manifest["files"]) | {"manifest.json"} == {p.name for p in folder.iterdir()}


def test_layout_is_a_symlink_swapped_on_rerun_and_old_versions_removed(tmp_path):
    link = export(tmp_path)
    assert link == tmp_path.resolve() / "2026-11-23" and link.is_symlink()
    first_target = os.readlink(link)
    assert first_target.startswith(".2026-11-23.v") and "/" not in first_target
    export(tmp_path, lists=build_export_lists(nba_frame().head(1), customers_frame(), ACTIONS, REASONS, RUN_INFO))
    assert os.readlink(link) != first_target
    assert {p.name for p in tmp_path.iterdir()} == {"2026-11-23", os.readlink(link)}
    assert len(pd.read_csv(link / "email.csv")) == 1  # the rerun replaced the set whole


def test_customer_scores_export_has_no_contact_details(tmp_path):
    folder = export(tmp_path)
    scores = pq.read_table(folder / "customer_scores.parquet")
    assert scores.column_names == [c["name"] for c in CONTRACT["extras"]["customer_scores"]["columns"]]
    assert not set(scores.column_names) & set(CONTRACT["personal_columns"])
    assert scores.num_rows == 6
    nba = pq.read_table(folder / "next_best_actions.parquet")
    assert json.loads(nba.column("model_versions")[0].as_py()) == {"churn": "4", "clv": "7"}


# ---------------------------------------------------------------- atomic publish

def test_failure_mid_write_leaves_previous_set_and_no_temp_folder(tmp_path, monkeypatch):
    link = export(tmp_path)
    before, target = snapshot(link), os.readlink(link)
    other_day = tmp_path / "2026-11-22"
    other_day.symlink_to(target)  # another date's set must not be touched either
    written, original = [], publishing.write_parquet

    def write_one_then_fail(frame, columns, path):
        if written:
            raise OSError("disk full")
        written.append(path)
        original(frame, columns, path)

    monkeypatch.setattr(publishing, "write_parquet", write_one_then_fail)
    with pytest.raises(OSError, match="disk full"):
        export(tmp_path)
    assert written, "the failure happened after a file was written"
    assert os.readlink(link) == target and snapshot(link) == before
    assert {p.name for p in tmp_path.iterdir()} == {"2026-11-22", "2026-11-23", target}


def test_failure_at_publish_leaves_previous_set(tmp_path, monkeypatch):
    link = export(tmp_path)
    before, target = snapshot(link), os.readlink(link)

    def broken_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr(publishing.os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        export(tmp_path)
    assert os.readlink(link) == target and snapshot(link) == before
    assert {p.name for p in tmp_path.iterdir()} == {"2026-11-23", target}


# ---------------------------------------------------------------- compliance

@pytest.mark.parametrize("column,value,rule", [
    ("consent_email", False, "lack consent_email"),
    ("consent_email", None, "lack consent_email"),
    ("do_not_contact", True, "are do_not_contact"),
    ("do_not_contact", None, "are do_not_contact"),
    ("email", "someone.else@example.com", "have email that is not the customer's"),
])
def test_write_refuses_a_list_breaking_a_rule(tmp_path, column, value, rule):
    link = export(tmp_path)
    target = os.readlink(link)
    customers = customers_frame().astype({column: object})
    customers.loc[customers["customer_id"] == "g04", column] = value
    with pytest.raises(ComplianceError, match=f"email.csv: 1 row\\(s\\) {rule}.*g04"):
        export(tmp_path, customers=customers)
    assert os.readlink(link) == target and {p.name for p in tmp_path.iterdir()} == {"2026-11-23", target}


def test_write_refuses_suppressed_customers(tmp_path):
    with pytest.raises(ComplianceError, match="sms.csv: 1 row\\(s\\) are suppressed or erased, e.g. customer_id g05"):
        export(tmp_path, suppressed={"g05"})
    assert list(tmp_path.iterdir()) == []


def tamper_parquet(path, column, value):
    frame = pq.read_table(path).to_pandas()
    frame.loc[0, column] = value
    frame.to_parquet(path, index=False)


@pytest.mark.parametrize("file_name,column,value,rule", [
    ("call_center.csv", "phone", "+34699999999", "phone that is not the customer's"),
    ("call_center.parquet", "phone", "+34699999999", "phone that is not the customer's"),
    ("sms.parquet", "phone", "", "empty phone"),
    ("email.parquet", "customer_id", "g99", "are not in golden_customers"),
    ("call_center.parquet", "customer_id", "g05", "phone that is not the customer's"),
])
def test_check_catches_a_tampered_file(tmp_path, file_name, column, value, rule):
    folder = export(tmp_path)
    assert_export_compliance(folder, customers_frame(), set())  # the published set is clean
    path = folder / file_name
    if file_name.endswith(".csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[0, column] = value
        path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    else:
        tamper_parquet(path, column, value)
    with pytest.raises(ComplianceError, match=rule):
        assert_export_compliance(folder, customers_frame(), set())


def test_check_catches_consent_dnc_and_suppression_per_file(tmp_path):
    folder = export(tmp_path)
    customers = customers_frame()
    customers.loc[customers["customer_id"] == "g02", "consent_phone"] = False
    customers.loc[customers["customer_id"] == "g05", "do_not_contact"] = True
    with pytest.raises(ComplianceError) as caught:
        assert_export_compliance(folder, customers, {"g01"})
    message = str(caught.value)
    assert "call_center.csv: 1 row(s) lack consent_phone, e.g. customer_id g02" in message
    assert "sms.parquet: 1 row(s) are do_not_contact, e.g. customer_id g05" in message
    assert "app.csv: 1 row(s) are suppressed or erased, e.g. customer_id g01" in message


def test_check_refuses_personal_columns_in_extras_and_unexpected_files(tmp_path):
    folder = export(tmp_path)
    scores = pq.read_table(folder / "customer_scores.parquet").to_pandas()
    scores.insert(1, "email", customers_frame()["email"])
    scores.to_parquet(folder / "customer_scores.parquet", index=False)
    (folder / "leak.csv").write_text("customer_id,email\ng01,ana@example.es\n")
    with pytest.raises(ComplianceError) as caught:
        assert_export_compliance(folder, customers_frame(), set())
    assert "customer_scores.parquet: columns" in str(caught.value) and "leak.csv: not in the export contract" in str(caught.value)


def test_extra_columns_in_a_list_are_dropped_by_the_contract(tmp_path):
    lists = build_export_lists(nba_frame(), customers_frame(), ACTIONS, REASONS, RUN_INFO)
    lists["sms"]["email"] = "leak@example.com"
    folder = export(tmp_path, lists=lists)
    assert "email" not in pd.read_csv(folder / "sms.csv").columns


def test_a_night_without_contacts_exports_header_only_lists(tmp_path):
    nba = nba_frame().assign(chosen=False)
    folder = export(tmp_path, lists=build_export_lists(nba, customers_frame(), ACTIONS, REASONS, RUN_INFO))
    assert (folder / "call_center.csv").read_text(encoding="utf-8").count("\n") == 1
    assert pq.read_table(folder / "email.parquet").num_rows == 0
    assert json.loads((folder / "manifest.json").read_text())["files"]["sms.csv"]["rows"] == 0


# ---------------------------------------------------------------- paths and inputs

def test_path_escape_is_rejected(tmp_path):
    contract = load_export_contract()
    contract["lists"]["email"]["files"]["csv"] = "../evil.csv"
    root = tmp_path / "exports"
    with pytest.raises(ValueError, match="escape"):
        export(root, contract=contract)
    assert not (tmp_path / "evil.csv").exists() and not root.exists()  # refused before anything is written
    for name in ["/etc/passwd", "a/b.csv", "..", ".hidden.csv", ""]:
        with pytest.raises(ValueError, match="escape"):
            check_file_name(name)
    with pytest.raises(ValueError):
        write_export_set({}, {}, root, "../../2026-11-23", RUN_INFO, CONFIG, ComplianceInputs(customers_frame()))


def test_a_real_folder_at_the_date_is_not_overwritten(tmp_path):
    (tmp_path / "2026-11-23").mkdir()
    (tmp_path / "2026-11-23" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="real folder"):
        export(tmp_path)
    assert (tmp_path / "2026-11-23" / "keep.txt").read_text() == "x"


def test_run_info_must_be_complete_and_match_the_date(tmp_path):
    with pytest.raises(ValueError, match="'campaign_id'"):
        write_export_set({}, {}, tmp_path, AS_OF, {k: v for k, v in RUN_INFO.items() if k != "campaign_id"}, CONFIG,
                         ComplianceInputs(customers_frame()))
    with pytest.raises(ValueError, match="differs from the export date"):
        write_export_set({}, {}, tmp_path, dt.date(2026, 11, 24), RUN_INFO, CONFIG, ComplianceInputs(customers_frame()))
