"""The `lifecycle` demo world: its mechanics do what the docstring claims, its extracts show them, and the
default `conversion` world is unchanged."""
from __future__ import annotations

import datetime as dt
import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.decisions.catalog import load_catalog
from models.features.customer_features import FEATURE_COLUMNS
from demo.generator.dynamics import PriceModel
from demo.generator.format import to_table
from demo.generator.lifecycle import draw_receptiveness, lifecycle_state, simulate_lifecycle
from demo.generator.lifecycle_truth import contact_truth
from demo.generator.population import draw_people
from demo.generator.world import (
    CONFIG_FILE, CATALOG_FILE, LIFECYCLE_CATALOG_PATH, _rng, generate_world, write_world,
)
from pipelines.resources import NbaHome
from pipelines.settings import load_config

START, END = dt.date(2023, 11, 1), dt.date(2026, 10, 31)
N_DAYS = (END - START).days + 1


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(LIFECYCLE_CATALOG_PATH, set(FEATURE_COLUMNS))


@pytest.fixture(scope="module")
def simulated(catalog):
    """8,000 persons after the simulated period, their truth and their state on the as-of day."""
    seed, n = 21, 8_000
    people = draw_people(_rng(seed, "people"), n, N_DAYS)
    receptiveness = draw_receptiveness(_rng(seed, "receptiveness"), n)
    _, modifiers = simulate_lifecycle(people, list(catalog.actions), START, N_DAYS, seed, receptiveness)
    prices = PriceModel.draw(_rng(seed, "prices"))
    truth = contact_truth(people, modifiers, receptiveness, list(catalog.actions), prices, START, N_DAYS)
    state = lifecycle_state(people, np.arange(n), N_DAYS, receptiveness)
    column = {a.id: j for j, a in enumerate(catalog.actions)}
    return truth, state, column


def test_a_retention_call_hurts_content_customers_and_helps_recent_complainers(simulated):
    truth, s, column = simulated
    value = truth["net_margin"][:, column["retention_call"]]
    content = s.alive & (s.days_since_complaint > 180) & (s.risk_90d < 0.05) & (s.orders_per_year > 2)
    complainers = s.alive & (s.days_since_complaint <= 30) & (s.orders_per_year > 4)
    assert content.sum() > 500 and complainers.sum() > 30
    assert (value[content] < 0).all()
    assert np.median(value[complainers]) > 4.0          # worth more than the 4.00 call


def test_a_discount_loses_money_on_loyal_frequent_buyers_and_pays_on_price_sensitive_ones(simulated):
    truth, s, column = simulated
    value = truth["net_margin"][:, column["discount_email"]]
    offer = truth["offer_cost"][:, column["discount_email"]]
    loyal = s.alive & (s.orders_per_year >= 8) & (s.price_sens < 0.35)
    hunters = s.alive & (s.orders_per_year >= 3) & (s.price_sens > 0.8)
    assert loyal.sum() > 100 and hunters.sum() > 50
    assert (value[loyal] < 0).mean() > 0.95 and value[loyal].mean() < -2.0
    assert value[hunters].mean() > 0
    assert (offer[loyal] > -value[loyal]).all()      # the discount given exceeds the margin lost: some orders are new


def test_win_back_brings_churned_customers_back_and_irritates_the_recently_active(simulated):
    truth, s, column = simulated
    value = truth["net_margin"][:, column["winback_sms"]]
    assert (value[~s.alive] >= 0).all() and value[~s.alive & (s.days_since_churn < 120)].mean() > 1.0
    recent = s.alive & (s.recency_days <= 45)
    assert (value[recent] < 0).mean() > 0.95


def test_the_survey_email_is_a_small_gain_for_nearly_everyone_alive(simulated):
    truth, s, column = simulated
    value = truth["net_margin"][s.alive, column["survey_email"]]
    assert (value > 0).mean() > 0.95 and 0.05 < np.median(value) < 2.0


def test_upsell_pays_only_for_some(simulated):
    truth, s, column = simulated
    value = truth["net_margin"][:, column["upsell_email"]]
    standard = s.alive & (s.tier == 1) & (s.engagement > 0.5) & (s.orders_per_year >= 5)
    budget_sensitive = s.alive & (s.tier == 0) & (s.price_sens > 0.7)
    assert value[standard].mean() > 5 * max(value[s.alive & (s.tier == 2)].mean(), 0.01)
    assert (value[budget_sensitive] <= 0).all()


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lifecycle")
    write_world(generate_world(12_000, 5, START, END, world="lifecycle"), folder)
    return folder


def _campaigns(landing, action_id: str) -> pd.DataFrame:
    interactions = pd.read_csv(landing / "interactions.csv", dtype=str)
    rows = interactions[interactions["type"].isin(["campaign", "campaign_control"])
                        & (interactions["action_id"] == action_id)].copy()
    rows["day"] = pd.to_datetime(rows["interaction_ts"], errors="coerce").dt.normalize()
    return rows.dropna(subset=["day"])[["customer_id", "day", "type", "outcome"]]


def _purchases(landing) -> pd.DataFrame:
    purchases = pd.read_csv(landing / "purchases.csv", dtype=str)
    purchases["ts"] = pd.to_datetime(purchases["order_ts"], errors="coerce")
    purchases["discount"] = pd.to_numeric(purchases["discount_amount"], errors="coerce")
    purchases["amount"] = pd.to_numeric(purchases["amount"], errors="coerce")
    return purchases.dropna(subset=["ts", "amount"])[purchases["status"] == "completed"]


def _after(campaigns: pd.DataFrame, purchases: pd.DataFrame, days_from: int, days_to: int) -> pd.DataFrame:
    """Per campaign row: orders and discount in [day + days_from, day + days_to)."""
    joined = campaigns.reset_index(drop=True).reset_index().merge(purchases[["customer_id", "ts", "discount"]],
                                                                  on="customer_id", how="left")
    delta = (joined["ts"] - joined["day"]).dt.days
    inside = (delta >= days_from) & (delta < days_to)
    joined["orders"], joined["discount"] = inside.astype(int), joined["discount"].where(inside, 0.0)
    sums = joined.groupby("index")[["orders", "discount"]].sum()
    return campaigns.reset_index(drop=True).join(sums)


def test_purchases_after_a_discount_email_carry_more_discount_than_after_its_control(landing):
    rows = _after(_campaigns(landing, "discount_email"), _purchases(landing), 0, 14)
    treated, control = rows[rows["type"] == "campaign"], rows[rows["type"] == "campaign_control"]
    assert len(control) > 500
    assert treated["discount"].mean() > 2 * control["discount"].mean()
    assert (treated["outcome"] == "converted").mean() > (control["outcome"] == "converted").mean()


def test_win_back_sms_brings_lapsed_customers_back_more_often_than_its_control(landing):
    purchases = _purchases(landing)
    rows = _after(_campaigns(landing, "winback_sms"), purchases, 0, 120)
    before = _after(rows[["customer_id", "day", "type", "outcome"]].assign(day=rows["day"] - pd.Timedelta(days=365)),
                    purchases, 0, 365)
    lapsed = rows[before["orders"].to_numpy() == 0]
    treated, control = lapsed[lapsed["type"] == "campaign"], lapsed[lapsed["type"] == "campaign_control"]
    assert len(control) > 300
    assert (treated["orders"] > 0).mean() > (control["orders"] > 0).mean() + 0.01


def test_lifecycle_landing_ships_its_catalog_and_a_config_that_points_at_it(landing):
    assert (landing / CATALOG_FILE).read_bytes() == LIFECYCLE_CATALOG_PATH.read_bytes()
    config_path = str(landing / CONFIG_FILE)
    assert load_config(config_path)["decisions"]["capacity_calls_per_night"] == 300
    catalog_path = NbaHome(home_dir=".", config_path=config_path).catalog_path()
    assert catalog_path == (landing / CATALOG_FILE).resolve()
    ids = [a.id for a in load_catalog(catalog_path, set(FEATURE_COLUMNS)).actions]
    assert ids == ["discount_email", "retention_call", "upsell_email", "winback_sms", "survey_email"]
    truth = pd.read_csv(landing / "truth" / "action_truth.csv")
    assert list(truth.columns) == ["person_id", "action_id", "p_treated", "p_control", "true_net_margin_365d",
                                   "true_offer_cost_365d"]


# sha256 of a 3,000-customer conversion world (seed 7), written by the code before the lifecycle world existed.
_CONVERSION_SHA256 = {
    # customers.csv changed on purpose in issue 14 (Portuguese / British phones, the CRM language column); every
    # other file of the world is unchanged.
    "customers.csv": "61520376734d9c64475e2d4da3deef92c94a747ade6eefb92612f401f1629ad9",
    "purchases.csv": "51085b5263765e700606d60ee65e764bf666a86875cc86e77ff6cc7811a4442a",
    "interactions.csv": "669aa1a384c91570f80805825ac32fee3709eb0d0205244b93c47997363a009a",
    "truth/customers_truth.csv": "23d487464619ba4d6e44155cdccfeba63ee6bf7ee1c8168ca95a37bfeb7f2f06",
    "truth/action_truth.csv (the columns it had)": "5c8393753d1dab336246fdd186b21dc610c0f0629e59ca733fe94363cd49c99c",
}


def test_the_default_conversion_world_is_byte_identical_to_before(tmp_path):
    world = generate_world(3000, 7, START, END)
    write_world(world, tmp_path)
    old_columns = to_table(world.action_truth[["person_id", "action_id", "p_treated", "p_control",
                                               "value_if_converted"]])
    with duckdb.connect() as con:
        con.register("old_columns", old_columns)
        con.execute(f"COPY old_columns TO '{tmp_path / 'old.csv'}' (FORMAT csv, HEADER true)")
    files = {name: tmp_path / name for name in list(_CONVERSION_SHA256)[:4]}
    files["truth/action_truth.csv (the columns it had)"] = tmp_path / "old.csv"
    digests = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()}
    assert digests == _CONVERSION_SHA256
    assert not (tmp_path / CATALOG_FILE).exists()
    truth = world.action_truth
    gain = (truth["p_treated"] - truth["p_control"]).to_numpy()
    clear = np.abs(gain) > 1e-3     # the net margin moves with the conversion gain in this world
    assert (np.sign(truth["true_net_margin_365d"].to_numpy()[clear]) == np.sign(gain[clear])).mean() > 0.99
