"""The demo world run on past its period: executed lists change the world as its mechanics say, the next
night's extracts carry what happened (the contacts feedback and the purchases that follow), earlier rows never
change, consent and delivery hold, and the same seed gives the same nights."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from demo.generator.continuation import landing_tables, run_night, start_running
from demo.generator.execution import CONTACT_COLUMNS
from demo.generator.lifecycle import PROMO_DISCOUNT_SHARE
from demo.generator.world import DEFAULT_START, generate_world, simulate_world, write_tables, write_world

N, SEED = 1_500, 5


def _listed(world, action_id: str, channel: str, customers: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"campaign_id": "nba-test", "customer_id": customers, "action_id": action_id,
                         "channel": channel})


def _consenting(world, channel: str, k: int) -> list[str]:
    ids = list(world.person_of)
    return [c for c in ids if world.consent[channel][world.person_of[c]]][:k]


@pytest.fixture(scope="module")
def lifecycle_night():
    """The lifecycle world's first night: 400 consenting customers get the discount e-mail, one week passes."""
    world = start_running(simulate_world(N, SEED, world="lifecycle"))
    first = {name: table.to_pandas() for name, table in landing_tables(world).items()}
    customers = _consenting(world, "email", 400)
    execution = run_night(world, _listed(world, "discount_email", "email", customers), 7)
    return world, first, {name: t.to_pandas() for name, t in landing_tables(world).items()}, execution


def test_first_night_delivers_what_nba_generate_writes(tmp_path):
    world = start_running(simulate_world(300, SEED, world="conversion"))
    tables = landing_tables(world)
    assert set(tables) == {"customers.csv", "purchases.csv", "interactions.csv"}   # no feedback before a night
    write_tables(tables, tmp_path)
    write_world(generate_world(300, SEED, world="conversion"), tmp_path / "generated")
    for name in tables:
        assert (tmp_path / name).read_bytes() == (tmp_path / "generated" / name).read_bytes()


def test_next_extracts_keep_earlier_rows_and_add_the_week(lifecycle_night):
    _, first, second, _ = lifecycle_night
    for name, key in (("purchases.csv", "order_id"), ("interactions.csv", "interaction_id")):
        pd.testing.assert_frame_equal(second[name].iloc[:len(first[name])].astype(str), first[name].astype(str))
        new = second[name].iloc[len(first[name]):]
        assert len(new) > 0 and new[key].str.startswith("D1096-").all()
        dated = pd.to_datetime(new.iloc[:, 2], errors="coerce").dropna()
        assert dated.max() < pd.Timestamp("2026-11-08")        # nothing the next night could not know yet


def test_feedback_reports_every_executed_contact_before_the_next_night(lifecycle_night):
    _, _, second, execution = lifecycle_night
    feedback = second["contacts.csv"]
    assert list(feedback.columns) == CONTACT_COLUMNS
    sent = set(feedback.loc[feedback["status"] == "sent", "customer_id"])
    assert sent == set(execution.contacts["customer_id"])          # every listed customer has consent here
    final = feedback[feedback["status"].isin(["delivered", "bounced"])]
    assert len(final) == len(execution.contacts) and final["customer_id"].is_unique
    assert (final["status"] == "bounced").mean() < 0.1
    assert pd.to_datetime(feedback["status_at"]).max() < pd.Timestamp("2026-11-08")
    assert pd.to_datetime(feedback["status_at"]).min() >= pd.Timestamp("2026-11-01")
    declined = set(feedback.loc[feedback["status"] == "declined", "customer_id"])
    assert declined == set(execution.contacts.loc[execution.contacts["declined"], "customer_id"])


def test_reached_customers_order_under_the_promotion_in_the_next_extract(lifecycle_night):
    """The executed discount e-mail's true effect shows in the purchases: 15 % off every order that week."""
    _, first, second, execution = lifecycle_night
    new = second["purchases.csv"].iloc[len(first["purchases.csv"]):]
    new = new[(new["status"] == "completed") & new["order_id"].str.startswith("D")]
    amount, discount = pd.to_numeric(new["amount"], errors="coerce"), pd.to_numeric(new["discount_amount"])
    share = discount / (amount + discount)
    reached = set(execution.contacts.loc[execution.contacts["reached"], "customer_id"])
    mine = new["customer_id"].isin(reached) & amount.gt(0)
    assert mine.sum() >= 20
    assert np.allclose(share[mine], PROMO_DISCOUNT_SHARE, atol=0.01)
    others = new["customer_id"].isin(set(first["customers.csv"]["customer_id"]) - reached) & amount.gt(0)
    assert (np.abs(share[others] - PROMO_DISCOUNT_SHARE) < 0.01).mean() < 0.2


def test_no_consent_no_contact_and_unknown_action_is_refused():
    world = start_running(simulate_world(600, SEED, world="conversion"))
    refused = [c for c in world.person_of if not world.consent["sms"][world.person_of[c]]][:30]
    execution = run_night(world, _listed(world, "winback", "sms", refused), 7)
    assert not execution.contacts["permitted"].any() and not execution.contacts["reached"].any()
    assert execution.feedback.empty
    with pytest.raises(ValueError, match="no_such_action"):
        run_night(world, _listed(world, "no_such_action", "email", refused[:1]), 7)


def test_conversion_world_converted_contacts_buy_in_the_week():
    world = start_running(simulate_world(N, SEED, world="conversion"))
    before = world.state.people.boost_until.copy()
    customers = _consenting(world, "email", 500)
    execution = run_night(world, _listed(world, "retention_offer", "email", customers), 7)
    converted = np.flatnonzero(execution.converted_day >= 0)
    assert len(converted) > 0
    assert np.all(world.state.people.boost_until[converted] > before[converted])    # the boost is in force
    buyers = set(world.state.records.customer_ids(world.state.records.number_a).take(converted).to_pylist())
    new = pc.starts_with(landing_tables(world)["purchases.csv"]["order_id"], "D").to_numpy(zero_copy_only=False)
    week = landing_tables(world)["purchases.csv"].to_pandas()[new]
    golden_buyers = set(week["customer_id"]) & buyers
    assert len(golden_buyers) >= 0.8 * len(buyers)       # converted orders booked (under either CRM record)


def test_same_seed_same_nights():
    frames = []
    for _ in range(2):
        world = start_running(simulate_world(400, SEED, world="lifecycle"))
        run_night(world, _listed(world, "upsell_email", "email", _consenting(world, "email", 100)), 7)
        frames.append({k: v.to_pandas() for k, v in landing_tables(world).items()})
    for name in frames[0]:
        pd.testing.assert_frame_equal(frames[0][name], frames[1][name])


def test_days_between_nights_must_be_positive():
    world = start_running(simulate_world(300, SEED, world="conversion"))
    with pytest.raises(ValueError, match="at least 1"):
        run_night(world, _listed(world, "winback", "email", []), 0)
    assert DEFAULT_START + dt.timedelta(days=world.day) == dt.date(2026, 11, 1)


@pytest.mark.parametrize("company_campaigns", [False, True])
def test_company_campaigns_stop_once_the_product_runs_unless_kept(company_campaigns):
    """Five weeks from the first night hold a day of the company's schedule (day 1106)."""
    world = start_running(simulate_world(800, SEED, world="lifecycle"), company_campaigns=company_campaigns)
    run_night(world, _listed(world, "survey_email", "email", []), 35)
    new = landing_tables(world)["interactions.csv"].to_pandas()
    new = new[new["interaction_id"].str.startswith("D")]
    campaign_rows = new[new["type"].isin(["campaign", "campaign_control"])]
    if company_campaigns:
        assert len(campaign_rows) > 20 and (campaign_rows["type"] == "campaign_control").any()
        assert pd.to_datetime(campaign_rows["interaction_ts"]).dt.date.nunique() == 1
    else:
        assert campaign_rows.empty


def test_conversion_world_contacts_convert_by_what_the_contact_adds():
    """Nobody the lists leave out is ever drawn p_control's conversion, so a reached person converts with
    p_treated - p_control: the purchases a list causes are what the truth credits it with."""
    from demo.generator.response import response_probabilities

    world = start_running(simulate_world(N, SEED, world="conversion"))
    customers = _consenting(world, "email", 1000)
    actions = list(world.state.catalog.actions)
    j = [a.id for a in actions].index("retention_offer")
    persons = np.array([world.person_of[c] for c in customers])
    p_control, p_treated = response_probabilities(world.state.people, persons, world.day, actions)
    alive = np.isinf(world.state.people.death_day[persons])
    execution = run_night(world, _listed(world, "retention_offer", "email", customers), 7)
    reached = execution.contacts["reached"].to_numpy() & alive
    expected = np.clip(p_treated[reached, j] - p_control[reached, j], 0, None).sum()
    treated_share = p_treated[reached, j].sum()
    converted = int((execution.converted_day[persons[reached]] >= 0).sum())
    assert abs(converted - expected) <= 4 * np.sqrt(expected) + 1
    assert expected + 4 * np.sqrt(expected) + 1 < treated_share   # the old draw would be told apart
