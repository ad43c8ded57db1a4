"""End to end: an opt-out delivered on any path is honoured, and an erased person appears in no exported byte.

A 300-person world runs one baseline night; people the baseline e-mailed (or texted) then get crafted records:
one opt-out path each (a record dated after the as-of date, a re-delivery with new content, a true conflict, an
unreadable boolean, a placeholder signup date), or a line on the erasure list. The crafted night must e-mail
none of the opted-out people and write none of the erased people's identifiers anywhere.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST_CONFIG

AS_OF = dt.date(2026, 11, 1)
PATHS = ("future", "redelivery", "conflict", "invalid_boolean", "placeholder_date")
PER_PATH = 2


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    from demo.generator.world import generate_world, write_world

    landing = tmp_path_factory.mktemp("opt_out_world")
    write_world(generate_world(300, 11, dt.date(2023, 11, 1), dt.date(2026, 10, 31)), landing)
    return landing


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, world) -> Path:
    """HOME after a night on the world as generated: who gets e-mailed or texted without any crafted record."""
    from pipelines.runner import run_nightly

    root = tmp_path_factory.mktemp("opt_out_baseline")
    (root / "fast.yaml").write_text(FAST_CONFIG, encoding="utf-8")
    outcome = run_nightly(root / "home", world, AS_OF, root / "fast.yaml")
    assert outcome.success, outcome.message
    return root / "home"


def _listed(home: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(home / "exports" / AS_OF.isoformat() / f"{name}.csv", dtype=str, keep_default_na=False)


def _single_record_people(customers: pd.DataFrame, ids: pd.Series, column: str) -> list[str]:
    """Listed ids whose person is one source record with a usable `column` (so a crafted record links only by it)."""
    counts = customers["customer_id"].value_counts()
    shared = customers[column].value_counts()
    rows = customers.set_index("customer_id")
    return [cid for cid in sorted(ids) if counts.get(cid) == 1 and rows.at[cid, column]
            and shared.get(rows.at[cid, column]) == 1]


def _craft(world: Path, baseline: Path, out: Path) -> tuple[Path, dict[str, list[dict]], list[dict]]:
    """A landing folder with the crafted records, the opted-out people per path and the erased people."""
    customers = pd.read_csv(world / "customers.csv", dtype=str, keep_default_na=False)
    emailed = _single_record_people(customers, _listed(baseline, "email")["customer_id"], "email")
    texted = [c for c in _single_record_people(customers, _listed(baseline, "sms")["customer_id"], "phone")
              if c not in emailed]
    assert len(emailed) >= len(PATHS) * PER_PATH + 1 and texted, "the baseline night lists too few people"
    rows = customers.set_index("customer_id", drop=False)
    added, people = [], {}
    for k, path in enumerate(PATHS):
        people[path] = []
        for cid in emailed[1 + k * PER_PATH:1 + (k + 1) * PER_PATH]:
            person = rows.loc[cid].to_dict()
            people[path].append(person)
            updated = dt.datetime.fromisoformat(person["updated_at"])
            other = {**person, "customer_id": f"X{cid}", "source_system": "shop", "consent_email": "true",
                     "do_not_contact": "false"}  # a second record of the person, saying yes
            if path == "future":  # a shop record dated 00:30 the day after the as-of date (a late night)
                added.append({**other, "consent_email": "false", "do_not_contact": "true",
                              "updated_at": f"{AS_OF + dt.timedelta(days=1)} 00:30:00"})
            elif path == "redelivery":  # the shop record twice, changed later to say no (change data capture)
                added += [other, {**other, "consent_email": "false",
                                  "updated_at": str(min(updated + dt.timedelta(hours=1),
                                                        dt.datetime.combine(AS_OF, dt.time(23))))}]
            elif path == "conflict":  # the shop record twice with the same updated_at, once saying no
                added += [other, {**other, "consent_email": "false"}]
            elif path == "invalid_boolean":  # a record whose sms consent is unreadable, but whose e-mail consent is no
                added.append({**other, "consent_email": "no", "consent_sms": "maybe"})
            else:  # a placeholder signup date
                added.append({**other, "consent_email": "false", "signup_date": "0001-01-01"})
    # The smallest listed id: first in every ordered preview of the baseline night.
    erased = [rows.loc[emailed[0]].to_dict(), rows.loc[texted[0]].to_dict()]
    landing = out / "landing"
    landing.mkdir(parents=True)
    for name in ("purchases.csv", "interactions.csv"):
        (landing / name).write_bytes((world / name).read_bytes())
    pd.concat([customers, pd.DataFrame(added)], ignore_index=True).to_csv(landing / "customers.csv", index=False)
    # Erasure requests by e-mail only and by phone only (written as delivered, i.e. not yet canonical).
    pd.DataFrame({"email": [erased[0]["email"].upper(), ""], "phone": ["", erased[1]["phone"]]}).to_csv(
        out / "suppression.csv", index=False)
    return landing, people, erased


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, world, baseline):
    from pipelines.runner import run_nightly

    root = tmp_path_factory.mktemp("opt_out_crafted")
    landing, people, erased = _craft(world, baseline, root)
    (root / "fast.yaml").write_text(FAST_CONFIG + "paths:\n  suppression_list: suppression.csv\n", encoding="utf-8")
    outcome = run_nightly(root / "home", landing, AS_OF, root / "fast.yaml")
    assert outcome.success, outcome.message
    return root / "home", people, erased


def _identifiers(person: dict) -> set[str]:
    """The person's source ids (the crafted records' ids too), e-mail and phone as delivered."""
    cid = person["customer_id"]
    return {cid, f"X{cid}", person["email"], person["phone"]} - {""}


@pytest.mark.parametrize("path", PATHS)
def test_an_opt_out_on_any_path_keeps_the_person_off_the_email_list(crafted, baseline, path):
    home, people, _ = crafted
    before = _listed(baseline, "email")
    for person in people[path]:
        assert person["customer_id"] in set(before["customer_id"])  # listed without the opt-out
        ids = _identifiers(person)
        for fmt in ("csv", "parquet"):
            file = home / "exports" / AS_OF.isoformat() / f"email.{fmt}"
            frame = (pd.read_csv(file, dtype=str, keep_default_na=False) if fmt == "csv"
                     else pq.read_table(file).to_pandas())
            listed = set(frame["customer_id"]) | set(frame["email"])
            assert not ids & listed, (path, person["customer_id"], file.name)
    if path == "future":  # do_not_contact: on no list at all
        for name in ("sms", "app", "call_center"):
            assert not {p["customer_id"] for p in people[path]} & set(_listed(home, name)["customer_id"])


def _parquet_cells(path: Path) -> str:
    table = pq.read_table(path)
    return "\n".join(str(v) for column in table.columns for v in column.to_pylist())


def test_an_erased_person_appears_in_no_exported_byte_and_no_preview(crafted, baseline):
    home, _, erased = crafted
    needles = set()
    for person in erased:
        needles |= _identifiers(person) - {f"X{person['customer_id']}"}
    exported = [p for p in (home / "exports").rglob("*") if p.is_file()]
    assert any(p.name == "customer_scores.parquet" for p in exported) and any(p.suffix == ".md" for p in exported)
    for file in exported:
        text = file.read_bytes().decode("utf-8", errors="replace")
        if file.suffix == ".parquet":
            text += _parquet_cells(file)
        for needle in needles:
            assert needle not in text, (needle, file.name)
    # The baseline (no erasure list) did export them: the check above can fail.
    baseline_scores = pq.read_table(baseline / "exports" / AS_OF.isoformat() / "customer_scores.parquet")
    assert {p["customer_id"] for p in erased} <= set(baseline_scores.column("customer_id").to_pylist())
    assert erased[0]["customer_id"] in _all_metadata(baseline)  # the baseline's previews show the first id
    metadata = _all_metadata(home)
    for needle in needles:
        assert needle not in metadata, needle


def _all_metadata(home: Path) -> str:
    """Every asset's latest materialisation metadata (previews included) as text: what the UI shows."""
    from pipelines.runner import dagster_instance

    instance = dagster_instance(home)
    texts = []
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        if event is not None and event.asset_materialization is not None:
            texts.append(json.dumps({k: str(v.value) for k, v in event.asset_materialization.metadata.items()}))
    return "\n".join(texts)
