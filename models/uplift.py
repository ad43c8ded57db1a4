"""Response and uplift per action from randomised campaign history (a T-learner per action).

Training data: for each of the last `response_max_campaign_dates` campaign dates d before T, the
customers contacted on d (`campaign` rows) and the randomised no-contact control (`campaign_control`
rows), with features built at d (events strictly before d: point in time). Label: `converted` in both
arms. `accepted` is not counted: a control customer cannot accept an offer they never received, so
counting it would credit every contacted arm with responses the control can never show.

The control arm is NOT pooled across actions: each campaign measures its own conversion event (an
order, a survey answer, ...), so control conversion rates differ by action (measured on the demo
world: 2 % for the survey, 12 % for the retention offer) and only the same action's control is a
valid counterfactual.

Per action with at least `response_min_contacts` rows in each arm: two shallow XGBoost classifiers,
one per arm, each calibrated on a seeded quarter of its rows; uplift = p_treated - p_control.
Otherwise the documented prior: p_control = the action's control conversion rate shrunk towards the
pooled control rate of all actions (with `response_min_contacts` pseudo-rows; 0 without any control
history), p_treated = p_control + the catalog's `prior_uplift`.
The latest campaign date is held out to measure Qini / uplift@k when there are at least two dates.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping

import duckdb
import numpy as np
import pandas as pd

from models.evaluation import qini_curve, uplift_metrics
from models.train import BoostedModel, fit_calibrated_classifier
from models.training_sets import build_population_features, read_lexicon_once

RESPONSE_META = ("customer_id", "campaign_date", "action_id", "treated", "label")
RESPONSE_PARAMS = {"max_depth": 3, "eta": 0.1, "min_child_weight": 10, "num_boost_round": 100}
CALIBRATION_SHARE = 0.25
RESPONSE_COLUMNS = ["customer_id", "action_id", "p_treated", "p_control", "uplift", "source"]


@dataclass
class ResponseModels:
    """Per action either a T-learner (treated, control) or a prior (p_treated, p_control)."""

    feature_names: list[str]
    learners: dict[str, tuple[BoostedModel, BoostedModel]]
    priors: dict[str, tuple[float, float]]
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # qini curves per evaluated action
    notes: list[str] = field(default_factory=list)
    # Per learned action: randomised ATE minus the learners' mean predicted uplift on the same rows.
    level_shift: dict[str, float] = field(default_factory=dict)

    @property
    def action_ids(self) -> list[str]:
        return sorted([*self.learners, *self.priors])


def find_campaign_dates(con: duckdb.DuckDBPyConnection, as_of: date, max_dates: int,
                        interactions: str = "interactions") -> list[date]:
    """The last `max_dates` dates (oldest first) with campaign or control rows before `as_of`."""
    rows = con.execute(f"""
        SELECT DISTINCT CAST(interaction_ts AS DATE) AS d FROM {interactions}
        WHERE type IN ('campaign', 'campaign_control') AND interaction_ts < ? ORDER BY d DESC LIMIT ?""",
                       [as_of, int(max_dates)]).fetchall()
    return sorted(r[0] for r in rows)


def build_response_frame(con: duckdb.DuckDBPyConnection, as_of: date, max_campaign_dates: int, *,
                         customers: str = "golden_customers", purchases: str = "purchases",
                         interactions: str = "interactions", lexicon=None) -> pd.DataFrame:
    """Rows (customer_id, campaign_date, action_id, treated, label, <features at that date>)."""
    tables = dict(customers=customers, purchases=purchases, interactions=interactions)
    lexicon = read_lexicon_once(lexicon)
    frames = [_response_rows_at(con, d, tables, lexicon)
              for d in find_campaign_dates(con, as_of, max_campaign_dates, interactions)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(RESPONSE_META))


def _response_rows_at(con, day: date, tables: dict, lexicon) -> pd.DataFrame:
    arms = con.execute(f"""
        SELECT customer_id, action_id, CAST(type = 'campaign' AS INTEGER) AS treated,
               MAX(CASE WHEN outcome = 'converted' THEN 1 ELSE 0 END) AS label
        FROM {tables['interactions']}
        WHERE type IN ('campaign', 'campaign_control') AND CAST(interaction_ts AS DATE) = ?
          AND customer_id IS NOT NULL AND action_id IS NOT NULL
        GROUP BY ALL ORDER BY customer_id, action_id, treated""", [day]).df()
    values, columns = build_population_features(con, day, arms["customer_id"], tables, lexicon, tag="response")
    rows = arms.merge(values, on="customer_id", how="inner", validate="many_to_one")
    rows.insert(1, "campaign_date", day)
    return rows[[*RESPONSE_META, *columns]]


def fit_response_models(frame: pd.DataFrame, prior_uplift: Mapping[str, float], min_contacts: int, *,
                        params: Mapping | None = None, seed: int = 0, n_threads: int = 2) -> ResponseModels:
    """Fit a T-learner for every catalog action with enough history in both arms, a prior for the rest."""
    features = [c for c in frame.columns if c not in RESPONSE_META]
    dates = sorted(frame["campaign_date"].unique())
    held_out = dates[-1] if len(dates) >= 2 else None
    train = frame[frame["campaign_date"] != held_out] if held_out is not None else frame
    models = ResponseModels(features, {}, {}, notes=_history_notes(dates, held_out))
    pooled = _control_rate(train)
    for action_id in sorted(prior_uplift):
        rows = train[train["action_id"] == action_id]
        n_treated, n_control = int(rows["treated"].sum()), int((rows["treated"] == 0).sum())
        if min(n_treated, n_control) >= min_contacts:
            models.learners[action_id] = tuple(
                _fit_arm(rows[rows["treated"] == arm], features, params, [seed, zlib.crc32(action_id.encode()), arm],
                         n_threads)
                for arm in (1, 0))
            models.level_shift[action_id] = _level_shift(rows, *models.learners[action_id])
            continue
        control = rows[rows["treated"] == 0]
        p_control = (control["label"].sum() + min_contacts * pooled) / (len(control) + min_contacts)
        p_treated = min(1.0, max(0.0, p_control + prior_uplift[action_id]))
        models.priors[action_id] = (float(p_treated), float(p_control))
        models.notes.append(f"{action_id}: prior ({n_treated} contacted, {n_control} control rows; "
                            f"needs {min_contacts} in each arm)")
    if held_out is not None:
        _evaluate_on(models, frame[frame["campaign_date"] == held_out])
    return models


def _level_shift(rows: pd.DataFrame, treated: BoostedModel, control: BoostedModel) -> float:
    """How far the learners' mean uplift on the action's randomised rows is from the randomised ATE.

    Two separately fitted (and calibrated) arms can disagree on the level of the uplift by more than
    the uplift itself; the difference in means of a randomised experiment cannot. Scoring keeps the
    learners' ranking within the action and takes its level from the experiment, so actions compare
    with each other on unbiased effects.
    """
    ate = rows.loc[rows["treated"] == 1, "label"].mean() - rows.loc[rows["treated"] == 0, "label"].mean()
    predicted = float(np.mean(treated.predict(rows) - control.predict(rows)))
    return float(ate - predicted)


def _fit_arm(rows: pd.DataFrame, features, params, seed: list[int], n_threads: int) -> BoostedModel:
    """One arm's calibrated classifier; a seeded CALIBRATION_SHARE of its rows calibrates it."""
    rng = np.random.default_rng(seed)
    calibrate = rng.random(len(rows)) < CALIBRATION_SHARE
    return fit_calibrated_classifier(rows[~calibrate], rows[calibrate], features,
                                     {**RESPONSE_PARAMS, **(params or {})}, int(rng.integers(2**31 - 1)), n_threads)


def _control_rate(frame: pd.DataFrame) -> float:
    control = frame[frame["treated"] == 0]
    return float(control["label"].mean()) if len(control) else 0.0


def _history_notes(dates: list, held_out) -> list[str]:
    if not dates:
        return ["no campaign history before the as-of date: every action uses its prior"]
    if held_out is None:
        return [f"one campaign date ({dates[0]}): nothing held out, uplift not evaluated"]
    return [f"trained on campaign dates {dates[0]}..{dates[-2]}, evaluated on {held_out}"]


def _evaluate_on(models: ResponseModels, held_out: pd.DataFrame) -> None:
    """Qini and uplift@k of each learned action on the held-out date (metrics named `<metric>_<action>`)."""
    qinis = []
    for action_id, (treated, control) in sorted(models.learners.items()):
        rows = held_out[held_out["action_id"] == action_id]
        if rows["treated"].nunique() < 2:
            models.notes.append(f"{action_id}: held-out date lacks one arm, not evaluated")
            continue
        uplift = treated.predict(rows) - control.predict(rows)
        y, t = rows["label"].to_numpy(), rows["treated"].to_numpy()
        for name, value in uplift_metrics(y, t, uplift).items():
            models.metrics[f"{name}_{action_id}"] = value
        models.report[action_id] = qini_curve(y, t, uplift)
        qinis.append(models.metrics[f"qini_{action_id}"])
    if qinis:
        models.metrics["qini_mean"] = float(np.mean(qinis))


def score_responses(models: ResponseModels, features: pd.DataFrame) -> pd.DataFrame:
    """`action_response` rows: (customer_id, action_id, p_treated, p_control, uplift, source) per action."""
    parts = []
    for action_id in models.action_ids:
        if action_id in models.learners:
            treated, control = models.learners[action_id]
            p_control = control.predict(features)
            shift = getattr(models, "level_shift", {}).get(action_id, 0.0)
            p_treated = np.clip(treated.predict(features) + shift, 0.0, 1.0)
            source = "model"
        else:
            p_treated, p_control = (np.full(len(features), p) for p in models.priors[action_id])
            source = "prior"
        parts.append(pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "action_id": action_id,
                                   "p_treated": p_treated, "p_control": p_control,
                                   "uplift": np.asarray(p_treated) - np.asarray(p_control), "source": source}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RESPONSE_COLUMNS)
