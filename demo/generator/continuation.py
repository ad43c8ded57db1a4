"""Run a simulated world on past its period, night after night: the extracts each night would deliver.

A `RunningWorld` starts from demo.generator.world.simulate_world (its first extracts are the ones `nba
generate` writes) and then, per night: executes the pipeline's exported lists on the as-of day
(demo.generator.execution), simulates the days until the next night week by week with the world's own
mechanics (the company's random campaigns stop unless `company_campaigns`), and appends what happened to
the extracts. New rows get ids prefixed by the day they were simulated from (`D1102-O000000001`), so the
ids of earlier rows never change; a return booked after the next as-of date waits until a night it is due.
The truth of any night (world_truth) is read by the simulator's evaluator only.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from demo.generator.dynamics import STEP_DAYS, season_table
from demo.generator.execution import CONTACT_COLUMNS, Execution, execute_contacts, person_consent
from demo.generator.lifecycle import lifecycle_week
from demo.generator.simulation import Collector, campaign_days, simulate_week
from demo.generator.world import WorldState, _rng, build_extracts, first_extracts

RETURN_WINDOW_DAYS = 31        # build_purchases books a return up to 30 days after its order


@dataclass
class RunningWorld:
    """A world and the extracts it has delivered so far; `day` is the next as-of day (days since start)."""

    state: WorldState
    company_campaigns: bool
    day: int
    customers: pa.Table
    purchases: list[pa.Table]
    interactions: list[pa.Table]
    pending_purchases: pa.Table | None = None      # rows dated on/after `day` (returns of recent orders)
    feedback: list[pd.DataFrame] = field(default_factory=list)
    person_of: dict[str, int] = field(default_factory=dict)
    consent: dict[str, np.ndarray] = field(default_factory=dict)


def start_running(state: WorldState, company_campaigns: bool = False) -> RunningWorld:
    """The world as `nba generate` delivers it (same rows), ready to run on."""
    customers, purchases, interactions = first_extracts(state)
    ids = state.records.customer_ids(state.records.number_a).to_pylist()
    return RunningWorld(state=state, company_campaigns=company_campaigns, day=state.n_days,
                        customers=_plain(customers), purchases=[_plain(purchases)],
                        interactions=[_plain(interactions)], person_of={c: i for i, c in enumerate(ids)},
                        consent=person_consent(state))


def run_night(world: RunningWorld, listed: pd.DataFrame, days: int) -> Execution:
    """Execute tonight's `listed` contacts on `world.day`, simulate `days` days and deliver what happened."""
    if days < 1:
        raise ValueError(f"run_night: days must be at least 1, got {days}")
    state, s0, s1 = world.state, world.day, world.day + days
    out = Collector()
    rng = np.random.default_rng([state.seed, zlib.crc32(b"execute"), s0])
    execution = execute_contacts(state, listed, s0, rng, out, world.person_of, world.consent)
    seasons = season_table(state.start, s1)
    # the company's schedule (every 4, 4, 5 weeks from day 14) continued: campaign_days leaves out the last week
    campaigns = campaign_days(s1 + 2 * STEP_DAYS) if world.company_campaigns else []
    actions = list(state.catalog.actions)
    bounds = list(range(s0, s1, STEP_DAYS)) + [s1]
    for w0, w1 in zip(bounds[:-1], bounds[1:]):
        week_rng = np.random.default_rng([state.seed, zlib.crc32(b"continuation-week"), w0])
        # nights need not fall on the generator's week grid: a campaign day inside the week goes out on its first day
        campaign = actions if any(w0 <= d < w1 for d in campaigns) else None
        if state.lifecycle:
            lifecycle_week(state.people, state.modifiers, w0, w1, seasons, campaign, [a.type for a in actions],
                           state.receptiveness, week_rng, out)
        else:
            simulate_week(state.people, w0, w1, seasons, campaign, week_rng, out, execution.converted_day)
    _deliver(world, out, s0, s1)
    world.feedback.append(execution.feedback)
    world.day = s1
    return execution


def _deliver(world: RunningWorld, out: Collector, s0: int, s1: int) -> None:
    """Append the extract rows of the simulated days; rows dated on/after day s1 wait for a later night."""
    state = world.state
    purchases, interactions = build_extracts(state, out.history(), _rng(state.seed, f"purchases-{s0}"),
                                             _rng(state.seed, f"interactions-{s0}"), s1 + RETURN_WINDOW_DAYS)
    prefix = f"D{s0}-"
    purchases = _prefixed(_plain(purchases), "order_id", prefix)
    interactions = _prefixed(_plain(interactions), "interaction_id", prefix)
    if world.pending_purchases is not None:
        purchases = pa.concat_tables([world.pending_purchases, purchases])
    cutoff = (pd.Timestamp(state.start) + pd.Timedelta(days=s1)).strftime("%Y-%m-%d")
    due = pc.fill_null(pc.less(purchases["order_ts"], cutoff), True)
    world.purchases.append(purchases.filter(due))
    world.pending_purchases = purchases.filter(pc.invert(due))
    world.interactions.append(interactions)


def landing_tables(world: RunningWorld) -> dict[str, pa.Table]:
    """The extracts of the next night: customers, every purchase and interaction so far, and the contacts
    feedback of every executed night (absent before the first)."""
    tables = {"customers.csv": world.customers, "purchases.csv": pa.concat_tables(world.purchases),
              "interactions.csv": pa.concat_tables(world.interactions)}
    if world.feedback:
        feedback = pd.concat(world.feedback, ignore_index=True)[CONTACT_COLUMNS]
        tables["contacts.csv"] = pa.Table.from_pandas(feedback, preserve_index=False)
    return tables


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded to their values, so tables of different nights concatenate."""
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


def _prefixed(table: pa.Table, column: str, prefix: str) -> pa.Table:
    ids = pc.binary_join_element_wise(pa.scalar(prefix), table[column], "")
    return table.set_column(table.column_names.index(column), column, ids)
