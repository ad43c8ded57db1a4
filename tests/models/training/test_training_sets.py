"""Cut-off plans, labels and point-in-time training frames.

`make_warehouse` / `shake_future` (a tiny generated warehouse, and an edit of everything dated on or after
T) are shared with test_train.py and test_uplift.py.
"""
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

import models.training.training_sets as training_sets
from models.features.customer_features import MODEL_FEATURE_COLUMNS
from models.training.labels import build_labels
from models.training.training_sets import (build_population_features, build_training_frame, find_history_start, plan_cutoffs,
                                          sample_stratified)

T = date(2026, 11, 23)
CATEGORIES = ["home", "garden", "kitchen", "sport", "toys"]
CUSTOMER_COLUMNS = {
    "customer_id": "VARCHAR", "signup_date": "DATE", "email": "VARCHAR", "phone": "VARCHAR",
    "first_name": "VARCHAR", "last_name": "VARCHAR", "birth_year": "INTEGER", "region": "VARCHAR",
    "segment": "VARCHAR", "consent_email": "BOOLEAN", "consent_sms": "BOOLEAN", "consent_phone": "BOOLEAN",
    "consent_app": "BOOLEAN", "do_not_contact": "BOOLEAN", "preferred_channel": "VARCHAR",
    "n_source_records": "INTEGER"}
PURCHASE_COLUMNS = {
    "order_id": "VARCHAR", "customer_id": "VARCHAR", "order_ts": "TIMESTAMP", "amount": "DOUBLE",
    "quantity": "INTEGER", "product_id": "VARCHAR", "category": "VARCHAR", "channel": "VARCHAR",
    "discount_amount": "DOUBLE", "status": "VARCHAR"}
INTERACTION_COLUMNS = {
    "interaction_id": "VARCHAR", "customer_id": "VARCHAR", "interaction_ts": "TIMESTAMP", "channel": "VARCHAR",
    "type": "VARCHAR", "action_id": "VARCHAR", "outcome": "VARCHAR", "note_text": "VARCHAR", "csat": "INTEGER",
    "nps": "INTEGER"}


# ---- shared tiny warehouse -------------------------------------------------------------------------
def write_table(con, name: str, rows: list[dict] | pd.DataFrame, columns: dict[str, str]) -> None:
    """Create table `name` with the architecture's column types from rows (missing keys are NULL)."""
    frame = pd.DataFrame(rows).reindex(columns=list(columns))
    con.register("_rows", frame)
    select = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in columns.items())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM _rows")
    con.unregister("_rows")


def make_warehouse(con, n_customers: int = 300, seed: int = 7, as_of: date = T, history_days: int = 600,
                   future_days: int = 60) -> None:
    """golden_customers, purchases and interactions for customers who buy at their own rate until they lapse.

    Events run until `as_of + future_days`, so there is a "future" to leak from.
    """
    rng = np.random.default_rng(seed)
    start, end = datetime.combine(as_of - timedelta(days=history_days), datetime.min.time()), \
        datetime.combine(as_of + timedelta(days=future_days), datetime.min.time())
    customers, purchases, interactions = [], [], []
    for i in range(n_customers):
        cid = f"C{i:04d}"
        signup = start + timedelta(days=float(rng.uniform(0, 200)))
        lapse = signup + timedelta(days=float(rng.exponential(350)))
        rate = rng.gamma(2.0, 1 / 40)  # purchases per day
        customers.append({"customer_id": cid, "signup_date": signup.date(), "email": f"{cid.lower()}@example.com",
                          "phone": f"+3460000{i:04d}", "region": "north", "segment": "retail",
                          "consent_email": True, "consent_sms": bool(i % 2), "consent_phone": True,
                          "consent_app": bool(i % 3), "do_not_contact": False, "preferred_channel": "email",
                          "n_source_records": 1})
        active_days = (min(lapse, end) - signup).days
        favourite = rng.choice(CATEGORIES, 2, replace=False)
        for k in range(rng.poisson(rate * max(active_days, 0))):
            ts = signup + timedelta(seconds=float(rng.uniform(0, active_days * 86400)))
            returned = rng.random() < 0.05
            amount = round(float(rng.lognormal(3.5, 0.6)), 2)
            purchases.append({
                "order_id": f"{cid}-{k}", "customer_id": cid, "order_ts": ts,
                "amount": -amount if returned and rng.random() < 0.5 else amount,
                "quantity": int(rng.integers(1, 4)), "product_id": f"P{rng.integers(50)}",
                "category": str(rng.choice(favourite if rng.random() < 0.8 else CATEGORIES)), "channel": "web",
                "discount_amount": 5.0 if rng.random() < 0.2 else 0.0,
                "status": "returned" if returned else "completed"})
        for k in range(rng.poisson(max(active_days, 0) / 60)):
            kind = str(rng.choice(["complaint", "support", "visit", "survey", "inquiry"]))
            interactions.append({
                "interaction_id": f"{cid}-i{k}", "customer_id": cid,
                "interaction_ts": signup + timedelta(seconds=float(rng.uniform(0, active_days * 86400))),
                "channel": str(rng.choice(["web", "phone", "store", "chat"])), "type": kind,
                "note_text": "sigo esperando el reembolso" if kind == "complaint" else None,
                "csat": int(rng.integers(1, 6)) if kind == "survey" else None,
                "nps": int(rng.integers(0, 11)) if kind == "survey" else None})
    write_table(con, "golden_customers", customers, CUSTOMER_COLUMNS)
    write_table(con, "purchases", purchases, PURCHASE_COLUMNS)
    write_table(con, "interactions", interactions, INTERACTION_COLUMNS)


def shake_future(con, as_of: date = T) -> None:
    """Move and change every event dated on/after `as_of`, and add new ones (some exactly at as_of 00:00)."""
    at = datetime.combine(as_of, datetime.min.time())
    con.execute("UPDATE purchases SET order_ts = order_ts + INTERVAL 3 DAY, amount = amount * 7, "
                "category = 'brand_new' WHERE order_ts >= ?", [at])
    con.execute("UPDATE interactions SET interaction_ts = interaction_ts + INTERVAL 5 DAY, type = 'complaint', "
                "outcome = 'converted' WHERE interaction_ts >= ?", [at])
    ids = [r[0] for r in con.execute("SELECT customer_id FROM golden_customers ORDER BY 1").fetchall()]
    new_purchases = pd.DataFrame({
        "order_id": [f"F{i}" for i in range(len(ids))], "customer_id": ids,
        "order_ts": [at + timedelta(hours=(i % 3) * 24 * 7) for i in range(len(ids))],
        "amount": 999.0, "quantity": 1, "category": "luxury", "status": "completed"})
    new_interactions = pd.DataFrame({
        "interaction_id": [f"FI{i}" for i in range(len(ids))], "customer_id": ids,
        "interaction_ts": at, "channel": "email", "type": ["campaign", "campaign_control"] * (len(ids) // 2)
        + ["campaign"] * (len(ids) % 2), "action_id": "retention_offer", "outcome": "converted"})
    for name, frame, columns in (("purchases", new_purchases, PURCHASE_COLUMNS),
                                 ("interactions", new_interactions, INTERACTION_COLUMNS)):
        con.register("_new", frame.reindex(columns=list(columns)))
        con.execute(f"INSERT INTO {name} SELECT * FROM _new")
        con.unregister("_new")
    con.execute("INSERT INTO golden_customers (customer_id, signup_date) VALUES ('NEW1', ?)", [as_of])
    con.execute("INSERT INTO purchases (order_id, customer_id, order_ts, amount, quantity, category, status) "
                "VALUES ('NEW1-1', 'NEW1', ?, 50, 1, 'home', 'completed')", [at])


@pytest.fixture
def warehouse():
    con = duckdb.connect()
    make_warehouse(con)
    yield con
    con.close()


# ---- cut-off plan ----------------------------------------------------------------------------------
def test_plan_with_enough_history_places_every_cutoff_so_its_labels_close_before_T():
    plan = plan_cutoffs(T, date(2024, 1, 1), 90, 4, 30, 90, True)
    assert plan.cutoffs == tuple(T - timedelta(days=90 + k * 30) for k in (3, 2, 1, 0))
    assert all(c + timedelta(days=plan.horizon_days) <= T for c in plan.cutoffs)
    assert plan.horizon_days == 90 and plan.label_scale == 1.0 and plan.notes == ()


def test_short_history_keeps_the_cutoffs_that_fit_and_says_so():
    start = T - timedelta(days=90 + 30 + 90)  # room for k = 0 and k = 1 only
    plan = plan_cutoffs(T, start, 90, 4, 30, 90, True)
    assert plan.cutoffs == (T - timedelta(days=120), T - timedelta(days=90))
    assert all(c - timedelta(days=90) >= start for c in plan.cutoffs)
    assert "2 of 4 cut-offs" in plan.notes[0]


def test_too_short_history_falls_back_to_the_longest_horizon_the_data_supports():
    start = T - timedelta(days=150)
    plan = plan_cutoffs(T, start, 365, 4, 30, 90, True)
    assert plan.horizon_days == 60 and plan.requested_horizon_days == 365
    assert plan.cutoffs == (T - timedelta(days=60),)
    assert plan.cutoffs[0] - timedelta(days=90) == start
    assert plan.label_scale == pytest.approx(365 / 60)
    assert "fell back to a 60-day horizon" in plan.notes[0]


def test_fallback_can_require_several_cutoffs():
    plan = plan_cutoffs(T, T - timedelta(days=300), 365, 4, 30, 90, True, min_cutoffs=3)
    assert len(plan.cutoffs) == 3 and plan.horizon_days == 300 - 90 - 60


def test_too_short_history_without_fallback_is_a_clear_error():
    with pytest.raises(ValueError, match="too short for a 365-day horizon.*horizon_fallback"):
        plan_cutoffs(T, T - timedelta(days=150), 365, 4, 30, 90, False)


def test_history_too_short_even_for_a_fallback_horizon_is_an_error():
    with pytest.raises(ValueError, match="too short to train"):
        plan_cutoffs(T, T - timedelta(days=95), 90, 4, 30, 90, True)


def test_bad_plan_settings_name_the_config_key():
    with pytest.raises(ValueError, match="training.n_cutoffs must be >= 1, got 0"):
        plan_cutoffs(T, date(2020, 1, 1), 90, 0, 30, 90, True)


def test_history_start_ignores_rows_dated_on_or_after_T(warehouse):
    first = find_history_start(warehouse, T)
    warehouse.execute("DELETE FROM purchases WHERE order_ts < ?", [T])
    with pytest.raises(ValueError, match="no purchases before the as-of date"):
        find_history_start(warehouse, T)
    assert first < T


# ---- labels ----------------------------------------------------------------------------------------
C = date(2026, 6, 1)


def _purchase(cid, when, amount=10.0, *, category="home", quantity=1, status="completed"):
    return {"order_id": f"{cid}-{when}-{amount}", "customer_id": cid, "order_ts": when, "amount": amount,
            "quantity": quantity, "category": category, "status": status}


@pytest.fixture
def label_con():
    """Hand-made histories around cut-off C (2026-06-01) with a 30-day horizon."""
    con = duckdb.connect()
    d = lambda days: datetime.combine(C, datetime.min.time()) + timedelta(days=days)  # noqa: E731
    rows = [
        _purchase("stays", d(-10)), _purchase("stays", d(0)),                      # buys exactly at c
        _purchase("churns", d(-10)), _purchase("churns", d(30)),                   # next buy at c + h: outside
        _purchase("returns_only", d(-5)), _purchase("returns_only", d(3), -10, status="returned"),
        _purchase("lapsed", d(-400)), _purchase("lapsed", d(5)),                   # not active at c
        _purchase("new_cat", d(-20), 50, category="home"), _purchase("new_cat", d(2), 5, category="garden"),
        _purchase("pricier", d(-20), 60, quantity=3), _purchase("pricier", d(4), 25, quantity=1),
        _purchase("same", d(-20), 60, quantity=2), _purchase("same", d(4), 30, quantity=1),
    ]
    write_table(con, "purchases", rows, PURCHASE_COLUMNS)
    write_table(con, "golden_customers", [{"customer_id": "signed_only", "signup_date": C - timedelta(days=1)},
                                          {"customer_id": "future_signup", "signup_date": C}], CUSTOMER_COLUMNS)
    yield con
    con.close()


def _labels(con, target, **kw):
    frame = build_labels(con, target, C, 30, **kw)
    return dict(zip(frame["customer_id"], frame["label"]))


def test_churn_label_is_no_purchase_in_the_window_among_active_customers(label_con):
    assert _labels(label_con, "churn") == {"stays": 0, "churns": 1, "returns_only": 1, "new_cat": 0,
                                           "pricier": 0, "same": 0}


def test_upsell_label_is_a_new_category_or_a_higher_unit_price(label_con):
    labels = _labels(label_con, "upsell")
    assert labels["new_cat"] == 1 and labels["pricier"] == 1
    assert labels["same"] == 0 and labels["stays"] == 0 and labels["churns"] == 0
    assert "lapsed" not in labels


def test_clv_label_is_net_revenue_in_the_window_scaled(label_con):
    labels = _labels(label_con, "clv", scale=2.0)
    assert labels["stays"] == 20.0 and labels["new_cat"] == 10.0 and labels["pricier"] == 50.0
    assert labels["returns_only"] == 0.0          # a return in the window nets to 0, never below
    assert labels["lapsed"] == 20.0               # known at c even though not active
    assert labels["signed_only"] == 0.0 and "future_signup" not in labels
    assert labels["churns"] == 0.0                # c + h is outside the window


def test_clv_label_of_a_fully_returned_basket_is_exactly_zero(label_con):
    """0.1 + 0.2 - 0.3 is 5.6e-17 in floating point, and a parallel sum's rounding varies by run: the label is
    rounded like the money features, so the stratum (label > 0) and the model do not change from run to run."""
    d = lambda days: datetime.combine(C, datetime.min.time()) + timedelta(days=days)  # noqa: E731
    rows = [_purchase("basket", d(-20), 5), _purchase("basket", d(2), 0.1), _purchase("basket", d(3), 0.2),
            _purchase("basket", d(4), 0.3, status="returned")]
    label_con.execute("CREATE TEMP TABLE basket_purchases AS SELECT * FROM purchases")
    label_con.executemany("INSERT INTO basket_purchases BY NAME SELECT ? AS customer_id, ? AS order_ts, ? AS amount, "
                          "? AS status", [[r["customer_id"], r["order_ts"], r["amount"], r["status"]] for r in rows])
    labels = _labels(label_con, "clv", purchases="basket_purchases")
    unrounded = label_con.execute(  # the window's net revenue summed without rounding, by the same engine
        "SELECT sum(CASE WHEN status = 'returned' THEN -abs(amount) ELSE amount END) FROM basket_purchases "
        "WHERE customer_id = 'basket' AND order_ts >= ?", [datetime.combine(C, datetime.min.time())]).fetchone()[0]
    assert unrounded != 0.0 and labels["basket"] == 0.0


def test_unknown_target_is_rejected(label_con):
    with pytest.raises(ValueError, match="unknown model target 'retention'"):
        build_labels(label_con, "retention", C, 30)


# ---- training frame --------------------------------------------------------------------------------
def test_sample_stratified_keeps_the_label_mix_and_is_seeded():
    labels = pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(1000)], "label": [1] * 100 + [0] * 900})
    sample = sample_stratified(labels, labels["label"], 200, 1)
    assert len(sample) == 200 and sample["label"].sum() == 20
    assert sample.equals(sample_stratified(labels, labels["label"], 200, 1))
    assert not sample.equals(sample_stratified(labels, labels["label"], 200, 2))
    assert sample["customer_id"].is_monotonic_increasing


def test_training_frame_has_features_at_each_cutoff_and_labels(warehouse):
    cutoffs = [date(2026, 5, 1), date(2026, 7, 1)]
    frame = build_training_frame(warehouse, cutoffs, 90, "churn", 10_000, seed=3)
    assert list(frame.columns) == ["customer_id", "cutoff", *MODEL_FEATURE_COLUMNS, "label"]
    assert sorted(frame["cutoff"].unique()) == cutoffs
    assert set(frame["label"].unique()) == {0, 1}
    for cutoff in cutoffs:
        rows = frame[frame["cutoff"] == cutoff]
        expected = build_labels(warehouse, "churn", cutoff, 90)
        assert rows["customer_id"].tolist() == expected["customer_id"].tolist()
        assert (rows["days_since_last_purchase"] <= 365).all()  # active: bought within 365 days before c
    assert not warehouse.execute("SELECT * FROM duckdb_tables() WHERE starts_with(table_name, '_pf_')").fetchall()


def test_training_frame_caps_rows_per_cutoff_and_builds_features_only_for_the_sample(warehouse, monkeypatch):
    built = []
    real = training_sets.build_features

    def spy(con, as_of, out_table, **kw):
        built.append(con.execute(f"SELECT count(*) FROM {kw['population']}").fetchone()[0])
        return real(con, as_of, out_table, **kw)

    monkeypatch.setattr(training_sets, "build_features", spy)
    cutoffs = [date(2026, 5, 1), date(2026, 7, 1)]
    full = build_training_frame(warehouse, cutoffs, 90, "churn", 10_000, seed=3)
    capped = build_training_frame(warehouse, cutoffs, 90, "churn", 50, seed=3)
    assert built[-2:] == [50, 50]
    assert capped.groupby("cutoff").size().tolist() == [50, 50]
    for cutoff in cutoffs:
        share = full[full["cutoff"] == cutoff]["label"].mean()
        assert capped[capped["cutoff"] == cutoff]["label"].mean() == pytest.approx(share, abs=0.02)
    merged = capped.merge(full, on=["customer_id", "cutoff"], suffixes=("", "_full"))
    assert len(merged) == len(capped)  # sampled rows carry the same features and labels as unsampled ones
    assert (merged["spend_365d"] == merged["spend_365d_full"]).all() and (merged["label"] == merged["label_full"]).all()


def test_training_frame_ignores_everything_dated_on_or_after_T(warehouse):
    plan = plan_cutoffs(T, find_history_start(warehouse, T), 90, 4, 30, 90, True)
    before = {t: build_training_frame(warehouse, plan.cutoffs, plan.horizon_days, t, 120, seed=5)
              for t in ("churn", "upsell", "clv")}
    shake_future(warehouse)
    assert plan_cutoffs(T, find_history_start(warehouse, T), 90, 4, 30, 90, True) == plan
    for target, frame in before.items():
        pd.testing.assert_frame_equal(frame, build_training_frame(warehouse, plan.cutoffs, plan.horizon_days,
                                                                  target, 120, seed=5))


def test_churn_and_upsell_share_one_sample_and_its_features_per_cutoff_under_a_snapshot_key(warehouse, monkeypatch):
    cutoffs = [date(2026, 5, 1), date(2026, 7, 1)]
    fresh = {t: build_training_frame(warehouse, cutoffs, 90, t, 40, seed=3) for t in ("churn", "upsell")}
    built = []
    real = training_sets.build_features
    monkeypatch.setattr(training_sets, "build_features", lambda con, as_of, out, **kw: built.append(as_of) or
                        real(con, as_of, out, **kw))
    keyed = {t: build_training_frame(warehouse, cutoffs, 90, t, 40, seed=3, snapshot_key="run-1")
             for t in ("churn", "upsell")}
    assert built == cutoffs  # features built once per cut-off for both targets
    for target in ("churn", "upsell"):
        pd.testing.assert_frame_equal(keyed[target], fresh[target])  # reading the snapshot changes nothing
    assert fresh["churn"]["customer_id"].tolist() == fresh["upsell"]["customer_id"].tolist()
    for cutoff in cutoffs:  # the shared sample keeps both labels' shares (stratified on the pair)
        labels = {t: build_labels(warehouse, t, cutoff, 90)["label"].mean() for t in ("churn", "upsell")}
        for target, share in labels.items():
            rows = fresh[target][fresh[target]["cutoff"] == cutoff]
            assert len(rows) == 40 and rows["label"].mean() == pytest.approx(share, abs=0.05)
    build_training_frame(warehouse, cutoffs, 90, "churn", 40, seed=3, snapshot_key="run-2")
    assert built == cutoffs * 2  # another run's snapshot is never read ...
    keys = {r[0] for r in warehouse.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, "
                                            "'_train_snapshot_')").fetchall()}
    assert len(keys) == 2 and all(warehouse.execute(f"SELECT DISTINCT snapshot_key FROM {k}").fetchall() == [("run-2",)]
                                  for k in keys)  # ... and is dropped


def change_tonights_consent(con) -> None:
    """Tonight's consent and contact fields change for every other customer (an opt-out after the cut-offs, a
    re-consent, a new e-mail, a lost phone): state the pipeline knows only as of tonight."""
    con.execute("UPDATE golden_customers SET consent_email = NOT consent_email, consent_sms = NOT consent_sms, "
                "consent_phone = NOT consent_phone, consent_app = NOT consent_app, do_not_contact = NOT do_not_contact, "
                "email = NULL, phone = '' WHERE right(customer_id, 1) IN ('0', '2', '4', '6', '8')")


def test_training_frames_never_read_tonights_consent(warehouse):
    """Consent and contact fields exist only as tonight's snapshot: no training or response frame at a past
    cut-off may change when tonight's consent changes (they stay decision-time eligibility inputs)."""
    plan = plan_cutoffs(T, find_history_start(warehouse, T), 90, 3, 30, 90, True)
    tables = dict(customers="golden_customers", purchases="purchases", interactions="interactions")
    ids = pd.Series([r[0] for r in warehouse.execute("SELECT customer_id FROM golden_customers").fetchall()])
    before = {t: build_training_frame(warehouse, plan.cutoffs, plan.horizon_days, t, 150, seed=5)
              for t in ("churn", "upsell", "clv")}
    response_before = build_population_features(warehouse, plan.cutoffs[0], ids, tables, None, tag="response")[0]
    change_tonights_consent(warehouse)
    for target, frame in before.items():
        pd.testing.assert_frame_equal(frame, build_training_frame(warehouse, plan.cutoffs, plan.horizon_days,
                                                                  target, 150, seed=5), obj=target)
    pd.testing.assert_frame_equal(
        response_before, build_population_features(warehouse, plan.cutoffs[0], ids, tables, None, tag="response")[0])
