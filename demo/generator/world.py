"""Demo world generator: synthetic CRM, purchase and interaction extracts with a known ground truth.

A latent state per person (engagement, satisfaction, price sensitivity, category affinities, price
tier) drives churn, purchases, visits, support contacts, complaints with multilingual notes, surveys
and the response to randomised campaigns. Two worlds share people, records, dirty rows and the
extract contract and differ in how campaigns work:
- `conversion` (the default): a contact changes the probability of one converted order, which also
  lowers the churn hazard for a while (demo.generator.simulation / response);
- `lifecycle`: a contact acts on the churn hazard, purchase rate, basket size, discounts of every order
  in a promotion window or brings a churned customer back, some for the worse (demo.generator.lifecycle);
  it ships its own action catalog and a config pointing at it (`catalog.yaml`, `nba_config.yaml`).
The truth (`truth/customers_truth.csv`, `truth/action_truth.csv`) states churn risk, value and per-action
incremental net margin as of the day after `end`, for the evaluation of the pipeline only.

    world = generate_world(100_000, seed=7, start=DEFAULT_START, end=DEFAULT_END, world="lifecycle")
    write_world(world, Path("demo_landing/2026-11-01"))

Same (n_customers, seed, start, end, catalog, world) -> byte-identical files.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.decisions.catalog import Catalog, load_catalog
from models.features.customer_features import FEATURE_COLUMNS
from demo.generator.dynamics import People, PriceModel
from demo.generator.format import to_frame, to_table
from demo.generator.lifecycle import Modifiers, draw_receptiveness, simulate_lifecycle
from demo.generator.lifecycle_truth import build_lifecycle_truth
from demo.generator.population import Records, draw_people, draw_records
from demo.generator.response import build_truth
from demo.generator.simulation import History, simulate_history
from demo.generator.tables import build_interactions, build_purchases

DEFAULT_START = dt.date(2023, 11, 1)
DEFAULT_END = dt.date(2026, 10, 31)
DEFAULT_CATALOG_PATH = Path(__file__).resolve().parents[2] / "pipelines" / "config" / "action_catalog.yaml"
LIFECYCLE_CATALOG_PATH = Path(__file__).resolve().parent / "lifecycle_catalog.yaml"
WORLDS = ("conversion", "lifecycle")
TRUTH_DIR = "truth"
READY_MARKER = "_READY"
FORMATS = ("csv", "parquet")
# The extracts a generated history holds; the contacts feedback exists only once the pipeline's lists were executed.
WORLD_EXTRACTS = ("customers", "purchases", "interactions")
CATALOG_FILE = "catalog.yaml"
CONFIG_FILE = "nba_config.yaml"
LIFECYCLE_CALLS_PER_NIGHT = 300


@dataclass
class World:
    """The generated extracts (as written: text / numbers) and the ground truth, as pandas DataFrames."""

    customers: pd.DataFrame
    purchases: pd.DataFrame
    interactions: pd.DataFrame
    customers_truth: pd.DataFrame
    action_truth: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)   # further text files to write: {name: content}


@dataclass
class WorldState:
    """The simulated world at the end of its period, kept to run it on (demo.generator.continuation):
    persons' latent state, CRM records, prices, the effects in force (lifecycle) and the history so far."""

    world: str
    seed: int
    start: dt.date
    n_days: int                                 # days simulated: day n_days is the first as-of date
    catalog: Catalog
    people: People
    records: Records
    prices: PriceModel
    history: History | None                    # dropped once turned into extracts (first_extracts)
    receptiveness: np.ndarray | None = None     # lifecycle only
    modifiers: Modifiers | None = None          # lifecycle only

    @property
    def lifecycle(self) -> bool:
        return self.world == "lifecycle"


def simulate_world(n_customers: int, seed: int, start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END,
                   *, catalog: Catalog | None = None, world: str = "conversion") -> WorldState:
    """Simulate `n_customers` persons from `start` to `end` (inclusive) with the catalog's actions in `world`.

    `catalog` defaults to the world's own: pipelines/config/action_catalog.yaml for `conversion`,
    lifecycle_catalog.yaml for `lifecycle`.
    """
    _check_arguments(n_customers, seed, start, end)
    if world not in WORLDS:
        raise ValueError(f"generate_world: unknown world '{world}'; expected one of {', '.join(WORLDS)}.")
    lifecycle = world == "lifecycle"
    if catalog is None:
        catalog = load_catalog(LIFECYCLE_CATALOG_PATH, set(FEATURE_COLUMNS)) if lifecycle else load_default_catalog()
    actions = list(catalog.actions)
    n_days = (end - start).days + 1
    prices = PriceModel.draw(_rng(seed, "prices"))
    people = draw_people(_rng(seed, "people"), n_customers, n_days)
    records = draw_records(_rng(seed, "records"), people, start, n_days)
    receptiveness = modifiers = None
    if lifecycle:
        receptiveness = draw_receptiveness(_rng(seed, "receptiveness"), n_customers)
        history, modifiers = simulate_lifecycle(people, actions, start, n_days, seed, receptiveness)
    else:
        history = simulate_history(people, actions, start, n_days, seed)
    return WorldState(world=world, seed=seed, start=start, n_days=n_days, catalog=catalog, people=people,
                      records=records, prices=prices, history=history, receptiveness=receptiveness,
                      modifiers=modifiers)


def world_truth(state: WorldState, day: int) -> tuple[pa.Table, pa.Table]:
    """customers_truth and action_truth of the world's persons as of `day` (their state now)."""
    actions, golden = list(state.catalog.actions), state.records.number_a
    ids = state.records.customer_ids(golden)
    if state.lifecycle:
        return build_lifecycle_truth(state.people, state.modifiers, state.receptiveness, actions, state.prices,
                                     state.start, day, ids, golden)
    return build_truth(state.people, actions, state.prices, state.start, day, ids, golden)


def generate_world(n_customers: int, seed: int, start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END,
                   *, catalog: Catalog | None = None, world: str = "conversion") -> World:
    """Simulate `n_customers` persons from `start` to `end` (inclusive) with the catalog's actions in `world`
    (simulate_world) and return the extracts and the truth as of the day after `end`."""
    state = simulate_world(n_customers, seed, start, end, catalog=catalog, world=world)
    customers, purchases, interactions = first_extracts(state)
    customers_truth, action_truth = world_truth(state, state.n_days)
    files = {}
    shipped = LIFECYCLE_CATALOG_PATH.read_bytes()
    if state.lifecycle and state.catalog.sha256 == hashlib.sha256(shipped).hexdigest():  # a test's catalog: no
        files = {CATALOG_FILE: shipped.decode("utf-8"), CONFIG_FILE: lifecycle_config()}
    return World(customers=to_frame(customers), purchases=to_frame(purchases), interactions=to_frame(interactions),
                 customers_truth=to_frame(customers_truth), action_truth=to_frame(action_truth), files=files)


def first_extracts(state: WorldState) -> tuple[pa.Table, pa.Table, pa.Table]:
    """customers, purchases and interactions of the simulated period as of its next day (what `nba generate`
    writes); the history is dropped from `state` once turned into rows."""
    purchases, interactions = build_extracts(state, state.history, _rng(state.seed, "purchases"),
                                             _rng(state.seed, "interactions"), state.n_days)
    state.history = None
    customers = state.records.customers
    customers = customers.take(_with_duplicate_rows(_rng(state.seed, "customers"), customers.num_rows))
    return customers, purchases, interactions


def build_extracts(state: WorldState, history: History, purchases_rng: np.random.Generator,
                   interactions_rng: np.random.Generator, n_days: int) -> tuple[pa.Table, pa.Table]:
    """The purchases and interactions extracts (dirty rows included) of `history`; returns booked up to day
    `n_days` (excluded)."""
    actions = list(state.catalog.actions)
    purchases = build_purchases(purchases_rng, history, state.people, state.records, actions, state.prices,
                                state.start, n_days)
    interactions = build_interactions(interactions_rng, history, state.people, state.records, actions, state.start)
    return purchases, interactions


def lifecycle_config() -> str:
    """nba_config.yaml of the lifecycle world: its own catalog and call-centre capacity."""
    return ("# Run this world's night with: nba run --landing LANDING --as-of DATE --home HOME --config LANDING/"
            f"{CONFIG_FILE}\n# (paths are relative to this file)\npaths:\n  action_catalog: {CATALOG_FILE}\n"
            f"decisions:\n  capacity_calls_per_night: {LIFECYCLE_CALLS_PER_NIGHT}\n")


def write_world(world: World, out_dir: Path, fmt: str = "csv") -> dict[str, int]:
    """Write the extracts (csv or parquet), the truth (csv, under truth/) and last an empty _READY marker.

    Returns {file name relative to out_dir: data rows}. A stale _READY is removed first, so a landing
    sensor never sees a half-written folder as ready.
    """
    if fmt not in FORMATS:
        raise ValueError(f"write_world: unknown format '{fmt}'; expected one of {', '.join(FORMATS)}.")
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    (out_dir / READY_MARKER).unlink(missing_ok=True)
    frames = {f"{name}.{fmt}": getattr(world, name) for name in WORLD_EXTRACTS}
    frames |= {f"{TRUTH_DIR}/{name}.csv": getattr(world, name) for name in ("customers_truth", "action_truth")}
    written = {}
    for name, frame in frames.items():     # one at a time: a table's Arrow copy lives only while written
        written |= write_tables({name: to_table(frame)}, out_dir)
    for name, text in world.files.items():
        (out_dir / name).write_text(text, encoding="utf-8")
        written[name] = text.count("\n")
    (out_dir / READY_MARKER).touch()
    return written


def write_tables(tables: dict[str, pa.Table], out_dir: Path) -> dict[str, int]:
    """Write each table to out_dir/<name> as CSV (DuckDB, header) or Parquet (zstd) by the name's suffix;
    returns {name: rows}."""
    written = {}
    with duckdb.connect() as con:
        con.execute("SET threads = 2")
        con.execute("SET preserve_insertion_order = true")
        for name, table in tables.items():
            path = Path(out_dir) / name
            if name.endswith(".parquet"):
                pq.write_table(table, path, compression="zstd", store_schema=False)
            else:
                con.register("_world_table", table)
                con.execute(f"COPY _world_table TO '{_sql_path(path)}' (FORMAT csv, HEADER true)")
                con.unregister("_world_table")
            written[name] = table.num_rows
    return written


def load_default_catalog() -> Catalog:
    """The shipped action catalog, validated by models.decisions.catalog."""
    return load_catalog(DEFAULT_CATALOG_PATH, set(FEATURE_COLUMNS))


def _check_arguments(n_customers: int, seed: int, start: dt.date, end: dt.date) -> None:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int) or n_customers < 1:
        raise ValueError(f"generate_world: n_customers must be a positive integer, got {n_customers!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"generate_world: seed must be a non-negative integer, got {seed!r}.")
    if (end - start).days < 28:
        raise ValueError(f"generate_world: end {end} must be at least 28 days after start {start}.")


def _rng(seed: int, component: str) -> np.random.Generator:
    """An independent random stream per component, so changing one part does not reshuffle the others."""
    return np.random.default_rng([seed, zlib.crc32(component.encode())])


def _with_duplicate_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Row order of the customers extract: ~0.2 % of rows repeated verbatim right after themselves."""
    repeat = np.where(rng.random(n) < 0.002, 2, 1)
    return np.repeat(np.arange(n), repeat)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
