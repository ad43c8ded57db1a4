"""Point-in-time training sets: which cut-offs to train on, and the (features, label) frame at each.

For a run at as-of date T, cut-off c_k = T - h - k * spacing, so every label window [c_k, c_k + h)
closes on or before T and features are built from events strictly before c_k: training for T never
reads anything dated on or after T.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from models.features.customer_features import MODEL_FEATURE_COLUMNS, build_features
from models.training.labels import build_labels, validate_target
from models.features.text_signals import Lexicon, load_lexicon

META_COLUMNS = ("customer_id", "cutoff", "label")
MIN_HORIZON_DAYS = 7  # below this a fallback horizon says nothing useful about the configured one


@dataclass(frozen=True)
class CutoffPlan:
    """The cut-offs (oldest first) and the label horizon actually used, with notes on any fallback."""

    as_of: date
    cutoffs: tuple[date, ...]
    horizon_days: int
    requested_horizon_days: int
    notes: tuple[str, ...] = ()

    @property
    def label_scale(self) -> float:
        """Factor putting a sum over the used horizon on the requested horizon (1.0 without fallback)."""
        return self.requested_horizon_days / self.horizon_days


def plan_cutoffs(as_of: date, history_start: date, horizon_days: int, n_cutoffs: int, spacing_days: int,
                 min_history_days: int, fallback: bool, *, min_cutoffs: int = 1) -> CutoffPlan:
    """Plan cut-offs c_k = as_of - h - k * spacing with c_k + h <= as_of and c_k - min_history >= history_start.

    When the history is too short for `n_cutoffs`, keep the ones that fit (at least `min_cutoffs`); when
    not even that many fit, shrink the horizon to the longest one that fits if `fallback`, else raise.
    """
    for key, value, low in (("horizon_days", horizon_days, 1), ("n_cutoffs", n_cutoffs, 1),
                            ("cutoff_spacing_days", spacing_days, 1), ("min_history_days", min_history_days, 0)):
        if value < low:
            raise ValueError(f"training.{key} must be >= {low}, got {value}")
    min_cutoffs = min(max(min_cutoffs, 1), n_cutoffs)
    available = (as_of - history_start).days
    fitting = _fitting_cutoffs(as_of, history_start, horizon_days, n_cutoffs, spacing_days, min_history_days)
    notes: list[str] = []
    if len(fitting) >= min_cutoffs:
        if len(fitting) < n_cutoffs:
            notes.append(f"history from {history_start} supports only {len(fitting)} of {n_cutoffs} cut-offs "
                         f"for a {horizon_days}-day horizon; training on {len(fitting)}")
        return CutoffPlan(as_of, tuple(sorted(fitting)), horizon_days, horizon_days, tuple(notes))
    longest = available - min_history_days - (min_cutoffs - 1) * spacing_days
    needed = horizon_days + min_history_days + (min_cutoffs - 1) * spacing_days
    if not fallback:
        raise ValueError(f"history from {history_start} to {as_of} is {available} days, too short for a "
                         f"{horizon_days}-day horizon with {min_history_days} days of history before the cut-off "
                         f"(needs {needed}); set training.horizon_fallback: true to shorten the horizon")
    if longest < MIN_HORIZON_DAYS:
        raise ValueError(f"history from {history_start} to {as_of} is {available} days, too short to train even "
                         f"with a {MIN_HORIZON_DAYS}-day horizon (needs {needed - horizon_days + MIN_HORIZON_DAYS})")
    fitting = _fitting_cutoffs(as_of, history_start, longest, n_cutoffs, spacing_days, min_history_days)
    notes.append(f"history from {history_start} is {available} days, too short for a {horizon_days}-day horizon; "
                 f"fell back to a {longest}-day horizon with {len(fitting)} cut-off(s); sums over the horizon "
                 f"are scaled by {horizon_days / longest:.4f}")
    return CutoffPlan(as_of, tuple(sorted(fitting)), longest, horizon_days, tuple(notes))


def seasonal_cutoff(plan: CutoffPlan, history_start: date, min_history_days: int) -> date | None:
    """The cut-off a year before the as-of date, if the history supports it and it is not planned already.

    Its label window [T - 365, T - 365 + h) covers the calendar weeks tonight's scores are for, so a
    classifier calibrated there gets the level of the season right (purchase rates differ by season).
    """
    cutoff = plan.as_of - timedelta(days=365)
    if plan.horizon_days > 365 or cutoff in plan.cutoffs or cutoff - timedelta(days=min_history_days) < history_start:
        return None
    return cutoff


def _fitting_cutoffs(as_of, history_start, horizon_days, n_cutoffs, spacing_days, min_history_days) -> list[date]:
    cutoffs = [as_of - timedelta(days=horizon_days + k * spacing_days) for k in range(n_cutoffs)]
    return [c for c in cutoffs if c - timedelta(days=min_history_days) >= history_start]


def find_history_start(con: duckdb.DuckDBPyConnection, as_of: date, purchases: str = "purchases") -> date:
    """Date of the first purchase row before `as_of` (later rows are ignored: they may not exist yet at T)."""
    first = con.execute(f"SELECT CAST(MIN(order_ts) AS DATE) FROM {purchases} WHERE order_ts < ?",
                        [as_of]).fetchone()[0]
    if first is None:
        raise ValueError(f"table {purchases} has no purchases before the as-of date {as_of}: nothing to train on")
    return first


def sample_stratified(labels: pd.DataFrame, strata: pd.Series, max_rows: int, seed: int) -> pd.DataFrame:
    """At most `max_rows` rows keeping each stratum's share (largest remainder), in the input order."""
    if len(labels) <= max_rows:
        return labels
    rng = np.random.default_rng(seed)
    _, codes = np.unique(strata.to_numpy(), return_inverse=True)
    sizes = np.bincount(codes)
    quotas = sizes / len(labels) * max_rows
    counts = np.floor(quotas).astype(int)
    counts[np.argsort(-(quotas - counts), kind="stable")[: max_rows - counts.sum()]] += 1
    keep = np.zeros(len(labels), dtype=bool)
    for code, count in enumerate(counts):
        keep[rng.choice(np.flatnonzero(codes == code), size=int(count), replace=False)] = True
    return labels[keep]


# Targets whose population is the active customers at a cut-off: with the same horizon they share one
# stratified sample per cut-off (stratified on both labels), so its features are built once for both.
SHARED_SAMPLE_TARGETS = ("churn", "upsell")
SNAPSHOT_PREFIX = "_train_snapshot_"


def build_training_frame(con: duckdb.DuckDBPyConnection, cutoffs: Sequence[date], horizon_days: int, target: str,
                         max_rows_per_cutoff: int, seed: int, *, label_scale: float = 1.0,
                         customers: str = "golden_customers", purchases: str = "purchases",
                         interactions: str = "interactions", lexicon=None,
                         snapshot_key: str | None = None) -> pd.DataFrame:
    """Rows (customer_id, cutoff, <features>, label) for every cut-off, sampled to `max_rows_per_cutoff`.

    Labels are computed first, the population is sampled (stratified on the label; on label > 0 for CLV;
    on the churn and upsell labels together for those two) and features are built only for the sampled
    customers, so a 1M-customer night stays fast. With `snapshot_key` (e.g. the Dagster run id) the
    churn / upsell sample with its features and both labels is kept per cut-off in a warehouse table
    `_train_snapshot_<cutoff>_<horizon>` tagged with the key: the second of the two targets trained
    under the same key reads it instead of building the same features again. Tables under another key
    are dropped, never read.
    """
    validate_target(target)
    lexicon = read_lexicon_once(lexicon)
    tables = dict(customers=customers, purchases=purchases, interactions=interactions)
    if snapshot_key is not None and target in SHARED_SAMPLE_TARGETS:
        _drop_other_snapshots(con, snapshot_key)
    frames = []
    for cutoff in sorted(cutoffs):
        if target in SHARED_SAMPLE_TARGETS:
            frame = _shared_frame_at_cutoff(con, cutoff, horizon_days, max_rows_per_cutoff, seed, tables, lexicon,
                                            snapshot_key)
            frame = frame.drop(columns=[f"label_{t}" for t in SHARED_SAMPLE_TARGETS if t != target])
            frame = frame.rename(columns={f"label_{target}": "label"})
        else:
            frame = _frame_at_cutoff(con, cutoff, horizon_days, target, max_rows_per_cutoff, seed, label_scale,
                                     tables, lexicon)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(META_COLUMNS))


def _frame_at_cutoff(con, cutoff, horizon_days, target, max_rows, seed, label_scale, tables, lexicon):
    labels = build_labels(con, target, cutoff, horizon_days, purchases=tables["purchases"],
                          customers=tables["customers"], scale=label_scale)
    strata = labels["label"] > 0 if target == "clv" else labels["label"]
    sample = sample_stratified(labels, strata, max_rows, _cutoff_seed(seed, cutoff))
    return _with_features(con, cutoff, sample, tables, lexicon, target)


def _shared_frame_at_cutoff(con, cutoff, horizon_days, max_rows, seed, tables, lexicon, snapshot_key):
    """(customer_id, cutoff, <features>, label_churn, label_upsell) of the shared sample at `cutoff`."""
    table = f"{SNAPSHOT_PREFIX}{cutoff:%Y%m%d}_{int(horizon_days)}"
    if snapshot_key is not None:
        if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchall()[0][0]:
            frame = con.execute(f"SELECT * EXCLUDE (snapshot_key) FROM {table} ORDER BY customer_id").df()
            frame["cutoff"] = cutoff  # a python date, as in a freshly built frame
            return frame
    labels = None
    for target in SHARED_SAMPLE_TARGETS:
        part = build_labels(con, target, cutoff, horizon_days, purchases=tables["purchases"],
                            customers=tables["customers"]).rename(columns={"label": f"label_{target}"})
        labels = part if labels is None else labels.merge(part, on="customer_id", how="inner", validate="one_to_one")
    strata = labels[[f"label_{t}" for t in SHARED_SAMPLE_TARGETS]].astype(str).agg("/".join, axis=1)
    sample = sample_stratified(labels, strata, max_rows, _cutoff_seed(seed, cutoff))
    frame = _with_features(con, cutoff, sample, tables, lexicon, "shared")
    if snapshot_key is not None:
        con.register("_snapshot_df", frame)
        try:
            con.execute(f"CREATE TABLE {table} AS SELECT *, CAST(? AS VARCHAR) AS snapshot_key FROM _snapshot_df",
                        [snapshot_key])
        finally:
            con.unregister("_snapshot_df")
    return frame


def _drop_other_snapshots(con: duckdb.DuckDBPyConnection, snapshot_key: str) -> None:
    """Drop snapshot tables written under another key (an earlier run): they are never reused."""
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, ?)",
                               [SNAPSHOT_PREFIX]).fetchall():
        keys = con.execute(f"SELECT DISTINCT snapshot_key FROM {name}").fetchall()
        if keys != [(snapshot_key,)]:
            con.execute(f"DROP TABLE {name}")


def _with_features(con, cutoff, sample: pd.DataFrame, tables: dict, lexicon, tag: str) -> pd.DataFrame:
    """`sample` (customer_id, label column(s)) with the features at `cutoff`, as training rows."""
    frame, columns = build_population_features(con, cutoff, sample["customer_id"], tables, lexicon, tag=tag)
    frame = frame.merge(sample, on="customer_id", how="inner", validate="one_to_one")
    frame.insert(1, "cutoff", cutoff)
    return frame[["customer_id", "cutoff", *columns, *[c for c in sample.columns if c != "customer_id"]]]


def build_population_features(con: duckdb.DuckDBPyConnection, as_of: date, customer_ids: pd.Series, tables: dict,
                              lexicon, tag: str, btyd_fits: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Model features as of `as_of` for just `customer_ids` (sorted by customer_id), and the feature names.

    Only MODEL_FEATURE_COLUMNS: consent / contact eligibility columns are tonight's state, unknown at a past
    cut-off. Scratch tables are named after `tag` and the date, and dropped afterwards.
    """
    population, features = f"_pf_population_{tag}_{as_of:%Y%m%d}", f"_pf_features_{tag}_{as_of:%Y%m%d}"
    con.register(f"{population}_df", pd.DataFrame({"customer_id": customer_ids.drop_duplicates()}))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {population} AS SELECT customer_id FROM {population}_df")
        columns = [c for c in build_features(con, as_of, features, population=population, lexicon=lexicon,
                                             btyd_fits=btyd_fits, **tables)
                   if c in MODEL_FEATURE_COLUMNS]
        frame = con.execute(f"SELECT customer_id, {', '.join(_quoted(columns))} FROM {features} "
                            "ORDER BY customer_id").df()
    finally:
        con.unregister(f"{population}_df")
        con.execute(f"DROP TABLE IF EXISTS {population}")
        con.execute(f"DROP TABLE IF EXISTS {features}")
    return frame, columns


def read_lexicon_once(lexicon: Lexicon | str | None) -> Lexicon:
    """The lexicon object (read from its file once, not once per cut-off's feature build)."""
    return lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon)


def feature_columns_of(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a training frame (everything but customer_id, cutoff and label)."""
    return [c for c in frame.columns if c not in META_COLUMNS]


def _cutoff_seed(seed: int, cutoff: date) -> list[int]:
    """A seed per cut-off, so one cut-off's sample does not depend on which other cut-offs are planned."""
    return [int(seed), cutoff.toordinal()]


def _quoted(columns: Sequence[str]) -> list[str]:
    return ['"' + c.replace('"', '""') + '"' for c in columns]

