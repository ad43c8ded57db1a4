"""Tests of the demo world generator: contract shape, determinism, duplicates, truth and its realism."""
from __future__ import annotations

import datetime as dt
import re

import numpy as np
import phonenumbers
import pandas as pd
import pytest
import yaml

from models.decisions.catalog import parse_catalog
from models.features.customer_features import FEATURE_COLUMNS
from demo.generator.world import DEFAULT_CATALOG_PATH, generate_world, load_default_catalog, write_world
from demo.generator.dynamics import project_future
from demo.generator.population import draw_people
from demo.generator.simulation import simulate_history

START, END = dt.date(2023, 11, 1), dt.date(2026, 10, 31)
N = 20_000
CUSTOMER_COLUMNS = ["customer_id", "signup_date", "source_system", "email", "phone", "first_name", "last_name",
                    "birth_year", "region", "segment", "consent_email", "consent_sms", "consent_phone", "consent_app",
                    "do_not_contact", "preferred_channel", "language", "updated_at"]
PURCHASE_COLUMNS = ["order_id", "customer_id", "order_ts", "amount", "quantity", "product_id", "category", "channel",
                    "discount_amount", "status"]
INTERACTION_COLUMNS = ["interaction_id", "customer_id", "interaction_ts", "channel", "type", "action_id", "outcome",
                       "note_text", "csat", "nps"]
TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


@pytest.fixture(scope="module")
def world():
    return generate_world(N, 11, START, END)


@pytest.fixture(scope="module")
def catalog():
    return yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))["actions"]


@pytest.fixture(scope="module")
def person_of(world):
    """customer_id -> person id, resolved independently of the generator from normalised email / phone."""
    c = world.customers.drop_duplicates("customer_id").astype(object).where(lambda f: f.notna(), None)
    parent = {cid: cid for cid in c["customer_id"]}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key in (_normalise_emails(c["email"]), _normalise_phones(c["phone"])):
        first_with_key = {}
        for cid, k in zip(c["customer_id"], key):
            if k is None:
                continue
            if k in first_with_key:
                parent[find(cid)] = find(first_with_key[k])
            else:
                first_with_key[k] = cid
    c = c.assign(root=[find(x) for x in c["customer_id"]]).sort_values(["signup_date", "customer_id"])
    golden = c.groupby("root")["customer_id"].first()
    return dict(zip(c["customer_id"], golden.loc[c["root"]].to_numpy()))


def _normalise_emails(emails):
    return [None if e is None else re.sub(r"\s+", "", e).lower() for e in emails]


def _normalise_phones(phones):
    """E.164 by phonenumbers (national numbers in this world are Spanish), independently of the golden record."""
    return [None if p is None else phonenumbers.format_number(phonenumbers.parse(p, "ES"), phonenumbers.PhoneNumberFormat.E164)
            for p in phones]


def _clean_ts(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.astype(object), format="%Y-%m-%d %H:%M:%S", errors="coerce")


def test_same_arguments_write_identical_bytes_and_another_seed_differs(tmp_path):
    paths = []
    for run, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_world(generate_world(1500, seed, START, END), tmp_path / run)
        paths.append(tmp_path / run)
    names = ["customers.csv", "purchases.csv", "interactions.csv", "truth/customers_truth.csv",
             "truth/action_truth.csv"]
    for name in names:
        assert (paths[0] / name).read_bytes() == (paths[1] / name).read_bytes(), name
    assert (paths[0] / "purchases.csv").read_bytes() != (paths[2] / "purchases.csv").read_bytes()


def test_files_written_truth_kept_apart_and_ready_marker_last(tmp_path):
    small = generate_world(800, 3, START, END)
    counts = write_world(small, tmp_path)
    top = {p.name for p in tmp_path.iterdir() if p.is_file()}
    assert top == {"customers.csv", "purchases.csv", "interactions.csv", "_READY"}
    assert {p.name for p in (tmp_path / "truth").iterdir()} == {"customers_truth.csv", "action_truth.csv"}
    assert (tmp_path / "_READY").stat().st_size == 0
    newest_data = max(p.stat().st_mtime_ns for p in tmp_path.rglob("*.csv"))
    assert (tmp_path / "_READY").stat().st_mtime_ns >= newest_data
    reread = pd.read_csv(tmp_path / "purchases.csv", dtype=str, keep_default_na=False)
    assert list(reread.columns) == PURCHASE_COLUMNS and len(reread) == counts["purchases.csv"] == len(small.purchases)
    assert counts["truth/action_truth.csv"] == 800 * len(yaml.safe_load(DEFAULT_CATALOG_PATH.read_text())["actions"])


def test_parquet_holds_the_same_rows_as_csv(tmp_path):
    small = generate_world(500, 4, START, END)
    counts = write_world(small, tmp_path, fmt="parquet")
    assert {"customers.parquet", "purchases.parquet", "interactions.parquet"} <= set(counts)
    frame = pd.read_parquet(tmp_path / "interactions.parquet")
    assert list(frame.columns) == INTERACTION_COLUMNS
    assert frame["interaction_id"].tolist() == small.interactions["interaction_id"].astype(str).tolist()
    assert (tmp_path / "truth" / "customers_truth.csv").exists()


def test_columns_follow_the_extract_contract(world):
    assert list(world.customers.columns) == CUSTOMER_COLUMNS
    assert list(world.purchases.columns) == PURCHASE_COLUMNS
    assert list(world.interactions.columns) == INTERACTION_COLUMNS


def test_row_counts_are_in_the_expected_range(world, catalog):
    assert 1.02 * N < len(world.customers) < 1.045 * N
    assert 7 * N < len(world.purchases) < 13 * N
    assert 14 * N < len(world.interactions) < 26 * N
    assert len(world.customers_truth) == N and len(world.action_truth) == N * len(catalog)


def test_identifiers_and_codes_have_their_formats(world, catalog):
    c, p, i = world.customers, world.purchases, world.interactions
    assert c["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert p["order_id"].str.fullmatch(r"O\d{9}").all() and i["interaction_id"].str.fullmatch(r"I\d{9}").all()
    assert p["customer_id"].str.fullmatch(r"C\d{7}").all() and i["customer_id"].str.fullmatch(r"C\d{7}").all()
    assert p["product_id"].str.fullmatch(r"P[1-8]\d{4}").all()
    assert c["signup_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all() and c["updated_at"].str.fullmatch(TS).all()
    assert set(c["source_system"]) == {"crm_a", "shop_b"}
    for col in ("consent_email", "consent_sms", "consent_phone", "consent_app", "do_not_contact"):
        assert set(c[col].dropna()) == {"true", "false"}
    assert set(p["channel"]) == {"web", "app", "store"} and set(p["status"]) == {"completed", "returned"}
    assert set(i["type"].dropna()) == {"campaign", "campaign_control", "complaint", "support", "inquiry", "visit",
                                       "survey"}
    assert set(i["channel"]) == {"email", "sms", "phone", "web", "app", "store", "chat", "none"}
    assert set(i["action_id"].dropna()) == {a["id"] for a in catalog}
    clean = p["order_ts"].str.fullmatch(TS) & _clean_ts(p["order_ts"]).notna()
    assert clean.mean() > 0.995
    assert (_clean_ts(p.loc[clean, "order_ts"]).dt.date <= END).all()
    assert (_clean_ts(p.loc[clean, "order_ts"]).dt.date >= START).all()


def test_campaign_rows_follow_the_interaction_semantics(world, catalog):
    i = world.interactions
    channels = {a["id"]: set(a["channels"]) for a in catalog}
    campaign = i[i["type"] == "campaign"]
    control = i[i["type"] == "campaign_control"]
    assert set(campaign["outcome"]) == {"accepted", "declined", "no_response", "converted"}
    assert set(control["outcome"]) == {"converted", "no_response"} and set(control["channel"]) == {"none"}
    assert all(ch in channels[a] for a, ch in zip(campaign["action_id"], campaign["channel"]))
    share_control = len(control) / (len(control) + len(campaign))
    assert 0.2 < share_control < 0.3
    others = i[~i["type"].isin(["campaign", "campaign_control"])]
    assert others["action_id"].isna().all() and others["outcome"].isna().all()


def test_duplicates_resolve_to_the_truth_person_ids(world, person_of):
    truth_ids = set(world.customers_truth["person_id"])
    assert set(person_of.values()) == truth_ids
    merged = pd.Series(person_of).value_counts()
    assert 0.02 * N < (merged == 2).sum() < 0.04 * N and merged.max() == 2
    c = world.customers.drop_duplicates("customer_id")
    dup_ids = [cid for cid, person in person_of.items() if merged[person] == 2]
    pairs = c[c["customer_id"].isin(dup_ids)].assign(person=lambda f: f["customer_id"].map(person_of))
    assert (pairs.groupby("person")["source_system"].nunique() == 2).all()
    assert (pairs["signup_date"].groupby(pairs["person"]).nunique() == 1).any()       # ties by customer_id occur
    booked = world.purchases.assign(person=world.purchases["customer_id"].map(person_of)).dropna(subset=["person"])
    split = booked[booked["person"].isin(pairs["person"])].groupby("person")["customer_id"].nunique()
    assert (split == 2).mean() > 0.3                       # a duplicate's orders are spread over both ids


def test_consent_and_contact_shares(world):
    c = world.customers
    for col, share in (("consent_email", 0.70), ("consent_sms", 0.40), ("consent_phone", 0.50), ("consent_app", 0.30)):
        assert abs((c[col].dropna() == "true").mean() - share) < 0.03, col
        assert 0.01 < c[col].isna().mean() < 0.06, col
    assert 0.01 < (c["do_not_contact"] == "true").mean() < 0.03


def test_dirty_rows_are_present_but_rare(world):
    p, i = world.purchases, world.interactions
    amount = pd.to_numeric(p["amount"].astype(object), errors="coerce")
    bad_amount = amount.isna()
    bad_ts = _clean_ts(p["order_ts"]).isna()
    negative_completed = (amount < 0) & (p["status"] == "completed")
    known = set(world.customers["customer_id"])
    unknown = ~p["customer_id"].isin(known)
    duplicated = p["order_id"].duplicated(keep=False)
    for flag in (bad_amount, bad_ts, negative_completed, unknown, duplicated):
        assert 0 < flag.sum() < 0.004 * len(p)
    assert set(p.loc[bad_amount, "amount"].dropna()) <= {"N/A", "NULL"} and p["amount"].isna().any()
    dirty = bad_amount | bad_ts | negative_completed | unknown | duplicated
    assert 0.003 < dirty.mean() < 0.012
    conflicting = p[duplicated].groupby("order_id")["amount"].nunique()
    assert (conflicting > 1).any() and (conflicting == 1).any()
    assert 0 < (~i["customer_id"].isin(known)).sum() < 0.004 * len(i)
    assert 0 < _clean_ts(i["interaction_ts"]).isna().sum() < 0.004 * len(i)
    assert 0 < (~i["csat"].dropna().between(1, 5)).sum() < 0.004 * len(i)
    assert world.customers["customer_id"].duplicated().sum() > 0


def test_orders_returns_and_discounts_look_like_retail(world, person_of):
    p = world.purchases
    amount = pd.to_numeric(p["amount"].astype(object), errors="coerce")
    returned = p["status"] == "returned"
    assert 0.03 < returned.mean() < 0.07
    assert 0.1 < (pd.to_numeric(p["discount_amount"].astype(object)) > 0).mean() < 0.35
    assert (amount[returned] < 0).mean() > 0.5 and (amount[returned] > 0).any()     # either sign, as the file says
    bought = p[~returned].assign(person=p["customer_id"].map(person_of))
    back = p[returned].assign(person=p["customer_id"].map(person_of)).dropna(subset=["person"])
    pairs = set(zip(bought["person"], bought["product_id"]))
    assert all(key in pairs for key in zip(back["person"], back["product_id"]))
    months = _clean_ts(p.loc[~returned, "order_ts"]).dt.to_period("M").value_counts()
    peak = months[[pd.Period("2025-11"), pd.Period("2025-12")]].mean()
    assert peak > 1.2 * months[[pd.Period("2025-09"), pd.Period("2025-10")]].mean()


def test_notes_are_multilingual_and_surveys_track_satisfaction(world, person_of):
    i = world.interactions
    notes = i["note_text"].dropna().astype(str)
    for phrase in ("el pedido llegó roto", "esperando el reembolso", "continuo sem solução", "não resolveu",
                   "still waiting for my refund", "no funciona", "no tengo ninguna queja"):
        assert notes.str.contains(phrase, regex=False).any(), phrase
    assert i.loc[i["type"].isin(["complaint", "support"]), "note_text"].notna().all()
    assert i.loc[i["type"].isin(["visit", "campaign"]), "note_text"].isna().all()
    surveys = i[(i["type"] == "survey") & i["csat"].between(1, 5)]
    assert surveys["nps"].between(0, 10).all()
    assert i.loc[i["type"] != "survey", "csat"].notna().mean() < 0.002       # only dirty rows
    by_person = surveys.assign(person=surveys["customer_id"].map(person_of)).groupby("person")["csat"].mean()
    hazard = world.customers_truth.set_index("person_id")["churn_hazard_daily"].reindex(by_person.index)
    assert by_person.astype(float).corr(hazard.astype(float), method="spearman") < -0.2


def test_truth_is_consistent_with_the_history(world, person_of):
    t = world.customers_truth.set_index("person_id")
    dead = ~t["is_alive"].astype(bool)
    assert 0.2 < dead.mean() < 0.6
    assert (t.loc[dead, "true_churn_90d_probability"] == 1).all() and (t.loc[dead, "expected_revenue_365d"] == 0).all()
    p = world.purchases[world.purchases["status"] == "completed"]
    ts = _clean_ts(p["order_ts"])
    persons = p["customer_id"].map(person_of)
    recent = set(persons[ts >= pd.Timestamp(END) - pd.Timedelta(days=30)].dropna())
    active = set(persons[ts >= pd.Timestamp(END) - pd.Timedelta(days=180)].dropna())
    alive = t[~dead]
    churn_recent = alive.loc[alive.index.isin(recent), "true_churn_90d_probability"].mean()
    churn_lapsed = alive.loc[~alive.index.isin(active), "true_churn_90d_probability"].mean()
    assert churn_recent + 0.2 < churn_lapsed
    assert len(recent & set(t.index[dead])) < 0.05 * len(recent)         # the dead have stopped buying
    a = world.action_truth
    assert ((a["p_treated"] >= 0) & (a["p_treated"] <= 1) & (a["p_control"] >= 0) & (a["p_control"] <= 1)).all()
    assert (a["value_if_converted"] >= 0).all()


def _conversion_rates(world, action_id: str, mask=None) -> tuple[float, float]:
    i = world.interactions
    rows = i[(i["action_id"] == action_id)] if mask is None else i[(i["action_id"] == action_id) & mask]
    rates = rows.assign(conv=rows["outcome"] == "converted").groupby(rows["type"].astype(str))["conv"].mean()
    return float(rates["campaign"]), float(rates["campaign_control"])


def test_campaign_history_uplift_has_the_direction_of_the_truth(world):
    alive = world.customers_truth.loc[world.customers_truth["is_alive"].astype(bool), "person_id"]
    a = world.action_truth[world.action_truth["person_id"].isin(alive)]
    truth = (a["p_treated"] - a["p_control"]).groupby(a["action_id"].astype(str)).mean()
    observed = pd.Series({action_id: np.subtract(*_conversion_rates(world, action_id)) for action_id in truth.index})
    clear = truth[truth.abs() >= 0.04]
    assert len(clear) >= 2
    assert (np.sign(observed[clear.index]) == np.sign(clear)).all()
    assert np.corrcoef(truth, observed[truth.index])[0, 1] > 0.8


def test_service_recovery_works_for_recent_complainers_only(world):
    i = world.interactions.assign(ts=_clean_ts(world.interactions["interaction_ts"]))
    calls = i[(i["action_id"] == "service_recovery_call")].dropna(subset=["ts"])
    complaints = i[i["type"] == "complaint"].dropna(subset=["ts"])
    merged = calls.reset_index().merge(complaints[["customer_id", "ts"]], on="customer_id", suffixes=("", "_c"))
    recent_rows = merged[(merged["ts_c"] < merged["ts"]) & (merged["ts_c"] >= merged["ts"] - pd.Timedelta(days=30))]
    recent = i.index.isin(recent_rows["index"])
    treated, control = _conversion_rates(world, "service_recovery_call", pd.Series(recent, index=i.index))
    assert treated - control > 0.08
    treated, control = _conversion_rates(world, "service_recovery_call", pd.Series(~recent, index=i.index))
    assert abs(treated - control) < 0.03


def test_bad_arguments_are_rejected_with_a_clear_message(tmp_path):
    with pytest.raises(ValueError, match="n_customers"):
        generate_world(0, 1, START, END)
    with pytest.raises(ValueError, match="end"):
        generate_world(10, 1, END, START)
    with pytest.raises(ValueError, match="format 'xlsx'"):
        write_world(generate_world(50, 1, START, END), tmp_path, fmt="xlsx")


def test_truth_projection_matches_continuing_the_simulation():
    """The truth's 90-day churn and 365-day orders equal what the process does if it simply runs on."""
    n_days = (END - START).days + 1
    actions = list(load_default_catalog().actions)
    people = draw_people(np.random.default_rng(1), 20_000, n_days)
    simulate_history(people, actions, START, n_days, seed=1)
    alive = np.flatnonzero(np.isinf(people.death_day))
    projection = project_future(people, alive, n_days, START)
    future = simulate_history(people, [], START, n_days + 365, seed=2, first_day=n_days)
    in_90 = future.purchase_day < n_days + 90
    realised_churn = ~np.isin(alive, future.purchase_person[in_90])
    assert abs(projection.p_no_purchase_90d.mean() - realised_churn.mean()) < 0.015
    high = projection.p_no_purchase_90d > np.quantile(projection.p_no_purchase_90d, 0.8)
    low = projection.p_no_purchase_90d < np.quantile(projection.p_no_purchase_90d, 0.2)
    assert abs(projection.p_no_purchase_90d[high].mean() - realised_churn[high].mean()) < 0.04
    assert abs(projection.p_no_purchase_90d[low].mean() - realised_churn[low].mean()) < 0.02
    realised_orders = np.isin(future.purchase_person, alive).sum()
    assert abs(projection.expected_orders_365d.sum() / realised_orders - 1) < 0.03


def test_a_custom_catalog_drives_the_campaigns_and_the_truth():
    document = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    document["actions"] = [a for a in document["actions"] if a["id"] in ("winback", "content_newsletter")]
    document["actions"].append({**document["actions"][1], "id": "vip_event", "type": "event", "prior_uplift": 0.05,
                                "channels": ["sms"], "cost_per_contact": {"sms": 0.1}})
    catalog = parse_catalog(document, set(FEATURE_COLUMNS), source="custom.yaml", sha256="0" * 64)
    small = generate_world(3000, 2, START, END, catalog=catalog)
    assert set(small.action_truth["action_id"]) == {"winback", "content_newsletter", "vip_event"}
    assert set(small.interactions["action_id"].dropna()) == {"winback", "content_newsletter", "vip_event"}
    vip = small.action_truth[(small.action_truth["action_id"] == "vip_event") & (small.action_truth["p_control"] > 0)]
    assert np.allclose(vip["p_treated"] - vip["p_control"], 0.05, atol=1e-6)      # unknown type: the prior uplift
    assert set(small.interactions.loc[small.interactions["action_id"] == "vip_event", "channel"]) == {"sms", "none"}
