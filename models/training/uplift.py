"""Response and uplift per action from randomised campaign history (a T-learner per action, its
uplift calibrated on held-out campaign dates).

Training data: for each of the last `response_max_campaign_dates` campaign dates d (and the last
`response_max_plan_nights` nights of the plan's own decisions) whose outcomes have
settled (d + OUTCOME_SETTLE_DAYS <= T: a contact's conversion is written on its row but may happen days
after it, so a younger contact's label would read the future), the customers contacted on d
(`campaign` rows) and the randomised no-contact control (`campaign_control` rows), with features built
at d (events strictly before d: point in time). Label: `converted` in both arms. `accepted` is not
counted: a control customer cannot accept an offer they never received, so counting it would credit
every contacted arm with responses the control can never show.

The control arm is NOT pooled across actions: each campaign measures its own conversion event (an
order, a survey answer, ...), so control conversion rates differ by action (measured on the demo
world: 2 % for the survey, 12 % for the retention offer) and only the same action's control is a
valid counterfactual.

Per action with at least `response_min_contacts` rows in each arm:
- two shallow, strongly regularised XGBoost classifiers, one per arm, each calibrated on a seeded
  quarter of its rows, fitted on the older dates; tau(x) = p_treated(x) - p_control(x);
- the latest quarter of the dates (at least one) is held out: Qini / uplift@k there judge the ranking;
- the uplift the decision engine uses is `ate + slope * (tau(x) - mean_tau)`: `ate` is the randomised
  difference in means over all dates (date-stratified) among the rows whose customer met the action's
  catalog rules on that date (column `in_audience`; all rows when too few do), combined with the
  catalog's `prior_uplift` by
  precision (prior sd `training.response_prior_sd`: with little history the prior still counts, with
  a lot the experiment decides), `mean_tau` the learners' mean on the training
  rows, and `slope` says how much of the learners' spread is real. It is the regression slope of the
  transformed outcome Y* = Y (T - e) / (e (1 - e)) (E[Y* | x] = true uplift; e = the date's contacted
  share) on the centred tau over the held-out rows, clipped to [0, 1]: the least-squares calibration
  of the learners' spread. A learner whose ranking does not hold up on later dates gets a slope near
  0: every customer gets about the action's measured effect, not noise. Two separately
  calibrated arms also disagree on the level by more than the effect; the level comes from `ate`.
Actions with too little history use the documented prior: p_control = the action's control conversion
rate shrunk towards the pooled control rate of all actions (with `response_min_contacts` pseudo-rows;
0 without any control history), p_treated = p_control + the catalog's `prior_uplift`.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd

from models.decisions.catalog import DEFAULT_OUTCOME_HORIZON_DAYS
from models.decisions.policy_selection import HeldOut, recency_segment
from models.features.customer_features import OUTCOME_SETTLE_DAYS
from models.training.evaluation import qini_curve, uplift_metrics
from models.training.outcomes import contact_outcomes
from models.training.surrogate import DEFAULT_ALPHA, apply_surrogate
from models.training.train import BoostedModel, SharedMatrices, fit_calibrated_classifier
from models.training.training_sets import build_population_features, read_lexicon_once
from models.training.value_uplift import (ValueModel, dr_pseudo_outcome, fit_baseline_outcome,
                                          fit_value_model, fold_of, per_contact_divisor, precision_weights,
                                          with_propensity)
from models.warehouse import table_columns, table_exists

RESPONSE_META = ("customer_id", "campaign_date", "action_id", "treated", "label", "source", "propensity", "value",
                 "discount", "contacts_in_window")
OUTCOME_COLUMNS = ("value", "discount")  # read from purchases after the row's date: never features
DOSE = "contacts_in_window"  # a plan row's contacts in its outcome window (plan_contact_doses): never a feature
AUDIENCE = "in_audience"  # optional frame column: the row's customer met the action's rules on that date
# Effects are a few points on base rates of 2-15 %: shallow trees with large leaves, few rounds.
RESPONSE_PARAMS = {"max_depth": 2, "eta": 0.1, "min_child_weight": 50, "num_boost_round": 60}
CALIBRATION_SHARE = 0.25
HOLDOUT_SHARE = 0.25  # of the campaign dates (the latest ones, at least one) held out
PRIOR_SD = 0.01  # default `training.response_prior_sd`
RESPONSE_COLUMNS = ["customer_id", "action_id", "p_treated", "p_control", "uplift", "value_uplift", "value_se",
                    "source"]


@dataclass(frozen=True)
class ActionEffect:
    """A learned action's uplift = ate + slope * (tau(x) - mean_tau); see the module docstring."""

    ate: float
    mean_tau: float
    slope: float


@dataclass
class ResponseModels:
    """Per action either a T-learner (treated, control) with its effect calibration, or a prior."""

    feature_names: list[str]
    learners: dict[str, tuple[BoostedModel, BoostedModel]]
    priors: dict[str, tuple[float, float]]
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # qini curves per evaluated action
    notes: list[str] = field(default_factory=list)
    effects: dict[str, ActionEffect] = field(default_factory=dict)
    # Incremental net value per action (models/training/value_uplift.py) and what policy selection needs.
    values: dict[str, ValueModel] = field(default_factory=dict)
    held_out: HeldOut | None = None  # the held-out randomised rows policy selection values candidates on
    unmatched_actions: dict[str, int] = field(default_factory=dict)  # campaign action ids not in the catalog: rows

    def attention(self) -> list[str]:
        """What an analyst should know about tonight's learning (the run summary's "needs attention")."""
        items = [f"{n:,} randomised campaign rows name action id '{a}', which is not in the action catalog: they were "
                 "ignored (rename the action in the catalog or map the ids in the extract)"
                 for a, n in sorted(self.unmatched_actions.items())]
        if self.priors and not self.values:
            items.append("no action has a value model yet: every action's value comes from its catalog prior")
        return items

    @property
    def action_ids(self) -> list[str]:
        return sorted([*self.learners, *self.priors])

    def without_ranking(self, reason: str) -> "ResponseModels":
        """The same models with every learned action at its measured average effect (slope 0)."""
        effects = _without_slopes(self.effects)
        return ResponseModels(self.feature_names, self.learners, self.priors,
                              {**self.metrics, "qini_mean": 0.0, **{f"uplift_slope_{a}": 0.0 for a in effects}},
                              self.report,
                              [*self.notes, f"ranking dropped ({reason}): every learned action at its measured effect"],
                              effects, {a: replace(v, slope=0.0) for a, v in self.values.items()},
                              self.held_out, self.unmatched_actions)


def _without_slopes(effects: Mapping[str, ActionEffect]) -> dict[str, ActionEffect]:
    """The same effects with no ranking: every customer gets the action's effect."""
    return {action_id: replace(effect, slope=0.0) for action_id, effect in effects.items()}


def randomised_arms_sql(interactions: str = "interactions", decision_log: str | None = None, *,
                        explore: bool = True) -> str:
    """SQL for every randomised (customer_id, d, action_id, treated, label, source, propensity) row.

    source 'campaign': the company's campaigns (`campaign` vs `campaign_control` rows). source 'plan': the
    pipeline's own decisions from `decision_log` — its contacts (treated) and the universal holdout's
    customers with the action withheld from them (control). The holdout is a hash of the customer id, so
    within the customers the plan chose an action for, who was held out is random: a controlled
    experiment with no separate campaign. source 'explore': tonight's explored customers (a hash of seed, date
    and id) drew their option uniformly from a logged set (`exploration_set`, models/decisions/plan.py); for
    action a the ones who drew a are treated and the ones who drew nothing are controls, contacted with the known
    `propensity` c / (c + 1) (c = a's options in the set). Campaign and plan rows have no propensity (NULL: the
    contacted share of their experiment, models/training/value_uplift.with_propensity). Plan and exploration
    rows carry no conversion flag (label 0; only their value is used), and a campaign row echoing one of the
    pipeline's contacts (same customer, date and action) is not counted twice. `explore` False: a log from before
    exploration sets were logged (no exploration rows).
    """
    campaign = (f"SELECT customer_id, CAST(interaction_ts AS DATE) AS d, action_id, CAST(type = 'campaign' AS INTEGER) "
                f"AS treated, MAX(CASE WHEN outcome = 'converted' THEN 1 ELSE 0 END) AS label, 'campaign' AS source, "
                f"CAST(NULL AS DOUBLE) AS propensity FROM {interactions} WHERE type IN ('campaign', 'campaign_control') "
                f"AND customer_id IS NOT NULL AND action_id IS NOT NULL GROUP BY ALL")
    if decision_log is None:
        return campaign
    plan = (f"SELECT customer_id, as_of AS d, coalesce(withheld_action_id, action_id) AS action_id, "
            f"CAST(NOT is_holdout AS INTEGER) AS treated, 0 AS label, 'plan' AS source, CAST(NULL AS DOUBLE) AS "
            f"propensity FROM {decision_log} WHERE NOT is_exploration AND ((NOT is_holdout AND action_id <> 'no_action') "
            f"OR (is_holdout AND withheld_action_id IS NOT NULL))")
    sets = (f"SELECT customer_id, as_of, member AS action_id, count(*) AS c FROM (SELECT customer_id, as_of, "
            f"unnest(string_split(exploration_set, ',')) AS member FROM {decision_log} WHERE is_exploration "
            f"AND exploration_set IS NOT NULL AND exploration_set <> '') GROUP BY ALL")
    explore_rows = (f"SELECT l.customer_id, l.as_of AS d, s.action_id, CAST(l.action_id <> 'no_action' AS INTEGER) "
                    f"AS treated, 0 AS label, 'explore' AS source, s.c / (s.c + 1.0) AS propensity FROM {decision_log} l "
                    f"JOIN ({sets}) s ON s.customer_id = l.customer_id AND s.as_of = l.as_of "
                    f"AND (l.action_id = 'no_action' OR s.action_id = l.action_id) WHERE l.is_exploration")
    own = f"{plan} UNION ALL {explore_rows}" if explore else plan
    return (f"SELECT c.* FROM ({campaign}) c ANTI JOIN ({own}) p USING (customer_id, d, action_id) "
            f"UNION ALL {own}")


def logs_exploration(con: duckdb.DuckDBPyConnection, decision_log: str | None) -> bool:
    """Does the decision log record the exploration sets (a log written before they were has no such column)?"""
    return bool(decision_log) and "exploration_set" in table_columns(con, decision_log)


def find_campaign_dates(con: duckdb.DuckDBPyConnection, as_of: date, max_dates: int,
                        interactions: str = "interactions", decision_log: str | None = None,
                        max_plan_nights: int | None = None) -> list[date]:
    """The dates with randomised rows (oldest first) whose outcomes have settled by `as_of`: the last
    `max_dates` campaign dates and the last `max_plan_nights` (default `max_dates`) nights of the plan's own
    decisions (capped apart, so nightly runs never crowd the company's campaigns out). A date d qualifies
    when d + OUTCOME_SETTLE_DAYS <= as_of.
    """
    settled = as_of - timedelta(days=OUTCOME_SETTLE_DAYS)
    plan_nights = int(max_dates if max_plan_nights is None else max_plan_nights)
    arms = randomised_arms_sql(interactions, decision_log, explore=logs_exploration(con, decision_log))
    rows = con.execute(f"""
        SELECT d FROM (SELECT DISTINCT source = 'campaign' AS company, d FROM ({arms}) WHERE d <= ?)
        QUALIFY row_number() OVER (PARTITION BY company ORDER BY d DESC)
                <= CASE WHEN company THEN ? ELSE ? END""", [settled, int(max_dates), plan_nights]).fetchall()
    return sorted({r[0] for r in rows})


def build_response_frame(con: duckdb.DuckDBPyConnection, as_of: date, max_campaign_dates: int, *,
                         horizons: Mapping[str, int] | None = None, margin_rate: float = 0.3,
                         customers: str = "golden_customers", purchases: str = "purchases",
                         interactions: str = "interactions", decision_log: str | None = "decision_log",
                         lexicon=None, max_plan_nights: int | None = None) -> pd.DataFrame:
    """Rows (customer_id, campaign_date, action_id, treated, label, value, <features at that date>).

    `value`: net margin over the action's outcome horizon (`horizons`, default
    DEFAULT_OUTCOME_HORIZON_DAYS) after the contact (models/training/outcomes.py), `discount`: the discounts
    given in that window; NaN while the window is still open at `as_of`. `contacts_in_window`: for the plan's own
    rows, the contacts the plan listed for the customer within that window (plan_contact_doses), NaN for the others.
    """
    tables = dict(customers=customers, purchases=purchases, interactions=interactions)
    lexicon = read_lexicon_once(lexicon)
    log = decision_log if decision_log and table_exists(con, decision_log) else None
    arms = randomised_arms_sql(interactions, log, explore=logs_exploration(con, log))
    fits: dict = {}  # BTYD parameters once per quarter across the campaign dates (models/features/btyd.py)
    frames = [_response_rows_at(con, d, tables, lexicon, arms, fits)
              for d in find_campaign_dates(con, as_of, max_campaign_dates, interactions, log, max_plan_nights)]
    if not frames:
        return pd.DataFrame(columns=list(RESPONSE_META))
    frame = pd.concat(frames, ignore_index=True)
    del frames
    horizon = frame["action_id"].map(dict(horizons or {})).fillna(DEFAULT_OUTCOME_HORIZON_DAYS).astype(int)
    # the keys the outcomes read, not a copy of every feature (memory and time at 1,000,000 customers)
    keys = frame[["customer_id", "campaign_date", "treated", "source"]].assign(horizon_days=horizon)
    outcomes = contact_outcomes(con, keys, as_of, margin_rate, purchases)
    doses = plan_contact_doses(con, keys, as_of, log) if log is not None else np.full(len(frame), np.nan)
    for column in OUTCOME_COLUMNS:  # in place: the frame is this function's own
        frame[column] = outcomes[column]
    frame[DOSE] = doses
    return frame


def plan_contact_doses(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, as_of: date,
                       decision_log: str = "decision_log") -> np.ndarray:
    """Per row of `rows` (customer_id, campaign_date, source, treated, horizon_days): for the plan's own rows the
    contacts the plan listed for the customer within the row's outcome window — its own that night (treated rows)
    and every later night's (not held out, not 'no action') before the window closes and before `as_of`; NaN for
    every other row. A holdout customer is never listed, so the plan's holdout experiment compares a stream of
    contacts with none, not one contact with none (models/training/value_uplift.per_contact_divisor)."""
    plan = (rows["source"] == "plan").to_numpy() if "source" in rows.columns else np.zeros(len(rows), dtype=bool)
    doses = np.full(len(rows), np.nan)
    if not plan.any():
        return doses
    part = rows[plan]
    frame = pd.DataFrame({"k": np.arange(len(part)), "customer_id": part["customer_id"].astype(str).to_numpy(),
                          "d": pd.to_datetime(part["campaign_date"]).to_numpy(),
                          "h": part["horizon_days"].astype(int).to_numpy(),
                          "t": part["treated"].astype(int).to_numpy()})
    con.register("_plan_rows", frame)
    try:
        counted = con.execute(f"""
            SELECT r.k, r.t + count(l.customer_id) AS dose FROM _plan_rows r
            LEFT JOIN {decision_log} l ON l.customer_id = r.customer_id AND l.as_of > CAST(r.d AS DATE)
             AND l.as_of < CAST(r.d AS DATE) + to_days(CAST(r.h AS INTEGER)) AND l.as_of < CAST(? AS DATE)
             AND NOT l.is_holdout AND l.action_id <> 'no_action'
            GROUP BY r.k, r.t ORDER BY r.k""", [as_of]).df()
    finally:
        con.unregister("_plan_rows")
    doses[plan] = counted["dose"].astype(float).to_numpy()
    return doses


def _response_rows_at(con, day: date, tables: dict, lexicon, arms_sql: str, btyd_fits: dict) -> pd.DataFrame:
    arms = con.execute(f"SELECT customer_id, action_id, treated, label, source, propensity FROM ({arms_sql}) WHERE d = ? "
                       "ORDER BY customer_id, action_id, source, treated", [day]).df()
    values, columns = build_population_features(con, day, arms["customer_id"], tables, lexicon, tag="response",
                                                btyd_fits=btyd_fits)
    rows = arms.merge(values, on="customer_id", how="inner", validate="many_to_one")
    rows.insert(1, "campaign_date", day)
    return rows[[*(c for c in RESPONSE_META if c not in (*OUTCOME_COLUMNS, DOSE)), *columns]]


def fit_response_models(frame: pd.DataFrame, prior_uplift: Mapping[str, float], min_contacts: int, *,
                        params: Mapping | None = None, seed: int = 0, n_threads: int = 2,
                        prior_sd: float = PRIOR_SD, actions: Sequence = (),
                        surrogacy_alpha: float | None = DEFAULT_ALPHA) -> ResponseModels:
    """Fit a T-learner for every catalog action with enough history in both arms, a prior for the rest.

    `prior_sd`: how far (in conversion probability) a catalog `prior_uplift` may be from the true
    average effect; it sets how much the prior counts against the measured effect.
    """
    features = [c for c in frame.columns if c not in (*RESPONSE_META, AUDIENCE)]
    value_frame = frame
    if "source" in frame.columns:  # the plan's own rows carry no conversion flag: value models only
        frame = frame[frame["source"] == "campaign"]
    dates = sorted(frame["campaign_date"].unique())
    held_out = sorted(held_out_rows(frame)["campaign_date"].unique())
    train = frame[~frame["campaign_date"].isin(held_out)]
    models = ResponseModels(features, {}, {}, notes=_history_notes(dates, held_out))
    unknown = value_frame.loc[~value_frame["action_id"].isin(list(prior_uplift)), "action_id"]
    models.unmatched_actions = {str(a): int(n) for a, n in unknown.value_counts().sort_index().items()}
    models.notes.extend(models.attention())  # only the unmatched ids so far: nothing is fitted yet
    pooled = _control_rate(train)
    for action_id in sorted(prior_uplift):
        rows = train[train["action_id"] == action_id]
        n_treated, n_control = int(rows["treated"].sum()), int((rows["treated"] == 0).sum())
        if min(n_treated, n_control) >= min_contacts:
            treated, control = (
                _fit_arm(rows[rows["treated"] == arm], features, params, [seed, zlib.crc32(action_id.encode()), arm],
                         n_threads)
                for arm in (1, 0))
            models.learners[action_id] = (treated, control)
            measured, se, where = _audience_effect(frame[frame["action_id"] == action_id], min_contacts)
            ate = combine_with_prior(measured, se, prior_uplift[action_id], prior_sd)
            models.effects[action_id] = ActionEffect(
                ate, float(np.mean(treated.predict(rows) - control.predict(rows))), 1.0)
            models.metrics[f"measured_effect_{action_id}"], models.metrics[f"effect_{action_id}"] = measured, ate
            models.notes.append(f"{action_id}: measured effect {measured:+.4f} (se {se:.4f}, {where}), prior "
                                f"{prior_uplift[action_id]:+.4f} (sd {prior_sd}) -> {ate:+.4f}")
            continue
        control = rows[rows["treated"] == 0]
        p_control = (control["label"].sum() + min_contacts * pooled) / (len(control) + min_contacts)
        p_treated = min(1.0, max(0.0, p_control + prior_uplift[action_id]))
        models.priors[action_id] = (float(p_treated), float(p_control))
        models.notes.append(f"{action_id}: prior ({n_treated} contacted, {n_control} control rows; "
                            f"needs {min_contacts} in each arm)")
    if held_out:
        _evaluate_on(models, frame[frame["campaign_date"].isin(held_out)])
    else:
        models.effects = _without_slopes(models.effects)
    frame = train = rows = control = None  # copies of campaign rows the value models do not need (memory at 1M)
    if actions and "value" in value_frame.columns:
        fit_value_models(models, value_frame, actions, features, min_contacts, params=params, seed=seed,
                         n_threads=n_threads, surrogacy_alpha=surrogacy_alpha)
    return models


def value_holdout(rows: pd.DataFrame, seed: int) -> tuple[np.ndarray, str]:
    """(per row of one action's settled rows (customer_id, campaign_date) True when it is held out, how): the latest
    quarter of the action's settled contact dates when it has two or more, else a seeded quarter of its customers."""
    dates = sorted(rows["campaign_date"].unique())
    if len(dates) >= 2:
        held = dates[len(dates) - max(1, round(len(dates) * HOLDOUT_SHARE)):]
        return rows["campaign_date"].isin(held).to_numpy(), f"held out dates {held[0]}..{held[-1]}"
    return fold_of(rows["customer_id"], seed, 4) == 0, "one contact date: a quarter of its customers held out"


def policy_folds(rows: pd.DataFrame, seed: int, n_folds: int = round(1 / HOLDOUT_SHARE)) -> np.ndarray:
    """Per row a fold for cross-fitting the simple targeting rule (models/decisions/policy_selection.py): per action,
    blocks of consecutive campaign dates (the latest block about its held-out dates, value_holdout); with one date,
    a hash of the customer."""
    folds = np.zeros(len(rows), dtype=np.int64)
    for _, part in rows.groupby("action_id", sort=True):
        dates = sorted(part["campaign_date"].unique())
        where = rows.index.get_indexer(part.index)
        if len(dates) >= 2:
            k = min(n_folds, len(dates))
            rank = part["campaign_date"].map({d: i for i, d in enumerate(dates)}).to_numpy()
            folds[where] = rank * k // len(dates)
        else:
            folds[where] = fold_of(part["customer_id"], seed, n_folds)
    return folds


def fit_value_models(models: ResponseModels, frame: pd.DataFrame, actions: Sequence, features: list[str],
                     min_contacts: int, *, params: Mapping | None, seed: int, n_threads: int,
                     surrogacy_alpha: float | None = DEFAULT_ALPHA) -> None:
    """Per catalog action the value learner on its training contacts, and every settled row (with every action's
    predicted value and its cross-fitting fold) for policy selection.

    Each row's Gamma is the direct DR score of its value, or, for the actions whose surrogacy holds up, the
    score of the surrogate index of its conversion flag (models/training/surrogate.py; `surrogacy_alpha`
    None: direct only)."""
    # one copy of the settled rows of the catalog's actions, then one of its training and one of its held-out rows
    # (at 1,000,000 customers the frame is ~2.3M rows x 70 columns: each copy is ~1.4 GB)
    rows = with_propensity(frame, where=(frame["value"].notna() & frame["action_id"].isin([a.id for a in actions]))
                           .to_numpy())
    train_at, held_at, how = [], [], {}
    for action in actions:
        at = np.flatnonzero((rows["action_id"] == action.id).to_numpy())
        out, how[action.id] = value_holdout(rows[["customer_id", "campaign_date"]].take(at), seed)
        train_at.append(at[~out])
        held_at.append(at[out])
    train, held = (rows.take(np.concatenate(positions)) for positions in (train_at, held_at))
    del rows
    if train.empty:
        models.notes.append("no randomised contact has a settled outcome yet: no value model")
        return
    baseline, model_m = fit_baseline_outcome(train, features, seed=seed, n_threads=n_threads, params=params)
    # the frames are this function's own: new columns are set in place, not by copies
    train["baseline"] = baseline
    train["gamma"] = dr_pseudo_outcome(train["value"].to_numpy(float), train["treated"].to_numpy(float),
                                       train["propensity"].to_numpy(float), baseline)
    held_baseline = model_m.predict(held) if len(held) else np.zeros(0)
    held["gamma"] = dr_pseudo_outcome(held["value"].to_numpy(float), held["treated"].to_numpy(float),
                                      held["propensity"].to_numpy(float), held_baseline)
    # the plan's holdout experiment measures a stream of contacts: its rows measure one contact's effect
    # (value_uplift.per_contact_divisor, over every row of each action and night)
    divisor = per_contact_divisor(_stacked(train, held, ["source", "contacts_in_window", "treated", "action_id",
                                                         "campaign_date"]))
    train["gamma"] = train["gamma"].to_numpy(float) / divisor[:len(train)]
    held["gamma"] = held["gamma"].to_numpy(float) / divisor[len(train):]
    if surrogacy_alpha is not None and "label" in train.columns:
        train_gamma, held_gamma, check = apply_surrogate(train, held, held_baseline, [a.id for a in actions],
                                                         alpha=surrogacy_alpha)
        train["gamma_direct"], train["gamma"] = train["gamma"].to_numpy(), train_gamma
        held["gamma_direct"], held["gamma"] = held["gamma"].to_numpy(), held_gamma
        models.notes.extend(check.notes)
        for action_id in check.per_action:
            models.metrics[f"value_via_conversions_{action_id}"] = float(action_id in check.used)
    # each row weighs by its experiment's precision in every average over the rows (value_uplift.precision_weights)
    weight = precision_weights(_stacked(train, held, ["source", "action_id", "gamma"]))
    train["weight"], held["weight"] = weight[:len(train)], weight[len(train):]
    train["oof_tau"] = np.nan
    for action in actions:
        own = train[train["action_id"] == action.id]
        model, oof_tau = fit_value_model(own, features, action.id, action.outcome_horizon_days, seed=seed,
                                         n_threads=n_threads, baseline_model=model_m, min_rows=min_contacts)
        train.loc[own.index, "oof_tau"] = oof_tau
        if model is None:
            models.notes.append(f"{action.id}: no value model ({int(own['treated'].sum())} contacted, "
                                f"{int((own['treated'] == 0).sum())} control rows with a settled outcome; "
                                f"needs {min_contacts} in each arm)")
            continue
        models.values[action.id] = model
        models.notes.extend(n + f"; {how[action.id]}" for n in model.notes)
        models.metrics[f"value_effect_{action.id}"] = model.effect
        models.metrics[f"value_effect_se_{action.id}"] = model.effect_se
        models.metrics[f"value_slope_{action.id}"] = model.slope
    own = None
    # Every settled randomised row, its Gamma out of sample: training rows cross-fitted, held-out rows from m
    # fitted on the training rows. Simple policies need no model and are valued on all of them; the learned
    # targeting on the rows whose own action's value comes from a model that did not see them: a training row's from
    # its action's out-of-fold fit (the other actions' models never saw it), a held-out row's from the full fit
    # (models/decisions/policy_selection.py). The training rows, then the held-out ones, of the actions with a value
    # model and rows in both arms; each part is scored on its own and only the columns the policy selection reads are
    # stacked (no copy of every feature of every row).
    train["held_out"], held["held_out"], held["oof_tau"] = False, True, np.nan
    arms = _stacked(train, held, ["action_id", "treated"]).groupby("action_id")["treated"].nunique()
    kept = [a for a in models.values if arms.get(a, 0) == 2]
    parts = [part if part["action_id"].isin(kept).all() else part[part["action_id"].isin(kept)] for part in (train, held)]
    del train, held
    if sum(len(part) for part in parts):
        columns = ["customer_id", "action_id", "gamma", *(["gamma_direct"] if "gamma_direct" in parts[0] else []),
                   "held_out", "weight", "campaign_date"]
        scored = [_score_part(part, models, actions, n_threads) for part in parts]
        stacked = pd.concat([part[columns] for part in parts], ignore_index=True)
        del parts
        stacked["segment"] = np.concatenate([s[3] for s in scored])
        stacked["fold"] = policy_folds(stacked, seed)
        stacked["out_of_sample"] = np.concatenate([s[4] for s in scored])
        eligible, uplift, se = (np.concatenate([s[k] for s in scored]) for k in range(3))
        models.held_out = HeldOut(stacked[[*columns[:3 + ("gamma_direct" in columns)], "segment", "held_out", "fold",
                                           "out_of_sample", "weight"]], uplift, se, eligible,
                                  surrogacy_alpha=DEFAULT_ALPHA if surrogacy_alpha is None else surrogacy_alpha,
                                  min_rows=min_contacts)


def _score_part(part: pd.DataFrame, models: ResponseModels, actions: Sequence,
                n_threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(eligible, uplift, its se — each (rows, actions) —, recency segment, out of sample) of the rows of `part`
    for policy selection: every action's predicted value, a training row's own action's from its out-of-fold fit."""
    from models.decisions.policies import evaluate_eligibility

    eligible, _, _ = evaluate_eligibility(part, actions)
    uplift = np.full((len(part), len(actions)), np.nan)
    se = np.full((len(part), len(actions)), np.nan)
    matrices = SharedMatrices(part, n_threads)
    own_out_of_fold = part["oof_tau"].notna().to_numpy()  # training rows: their own action's out-of-fold value
    for a, action in enumerate(actions):
        if action.id in models.values:
            model = models.values[action.id]
            uplift[:, a], se[:, a] = model.predict(part, matrices.of(model.tau))
            mine = own_out_of_fold & (part["action_id"] == action.id).to_numpy()
            uplift[mine, a], se[mine, a] = model.value_of(part.loc[mine, "oof_tau"].to_numpy(float))
    return (eligible, uplift, se, recency_segment(part["days_since_last_purchase"]),
            own_out_of_fold | part["held_out"].to_numpy(bool))


def _stacked(train: pd.DataFrame, held: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Training rows then held-out rows, only those of `columns` the rows have: what a per-row weight reads, without
    a copy of every feature."""
    keep = [c for c in columns if c in train.columns]
    return pd.concat([train[keep], held[keep]], ignore_index=True)


def _audience_effect(rows: pd.DataFrame, min_contacts: int) -> tuple[float, float, str]:
    """(effect, se, where measured): among the rows whose customer met the action's rules on the campaign
    date when both arms have `min_contacts` of them (the decision engine only offers the action there,
    and history may have been sent more widely), else over all rows."""
    if AUDIENCE in rows.columns:
        audience = rows[rows[AUDIENCE].astype(bool)]
        if min((audience["treated"] == 1).sum(), (audience["treated"] == 0).sum()) >= min_contacts:
            return (*_stratified_ate(audience), f"{len(audience)} rows meeting the action's rules")
        return (*_stratified_ate(rows), f"all {len(rows)} rows: too few meet the action's rules")
    return (*_stratified_ate(rows), f"all {len(rows)} rows")


def audience_mask(frame: pd.DataFrame, actions: Sequence) -> np.ndarray:
    """Per response row: did the customer meet its action's eligibility and suitability rules, with the
    features of the campaign date? (Catalog actions; rows of actions not in the catalog: False.)"""
    from models.decisions.policies import evaluate_eligibility

    if frame.empty:
        return np.zeros(0, dtype=bool)
    eligible, _, _ = evaluate_eligibility(frame, actions)
    column = {a.id: i for i, a in enumerate(actions)}
    index = frame["action_id"].map(column)
    known = index.notna().to_numpy()
    mask = np.zeros(len(frame), dtype=bool)
    mask[known] = eligible[np.flatnonzero(known), index[known].astype(int).to_numpy()]
    return mask


def _stratified_ate(rows: pd.DataFrame) -> tuple[float, float]:
    """(effect, standard error): conversion contacted minus control within each date, weighted by the
    date's rows. Dates lacking an arm are skipped; the contacted share and the base rate may change
    between dates, and a pooled difference in means would then mix them. (0, inf) without data.
    """
    by_date = rows.groupby(["campaign_date", "treated"])["label"].agg(["mean", "size"]).unstack("treated")
    by_date = by_date.dropna()
    if by_date.empty:
        return 0.0, float("inf")
    p1, p0, n1, n0 = by_date[("mean", 1)], by_date[("mean", 0)], by_date[("size", 1)], by_date[("size", 0)]
    weight = (n1 + n0) / (n1 + n0).sum()
    variance = float(np.sum(weight ** 2 * (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)))
    return float(np.sum(weight * (p1 - p0))), float(np.sqrt(variance))


def combine_with_prior(effect: float, se: float, prior: float, prior_sd: float) -> float:
    """The measured effect and the catalog prior weighted by their precisions (a normal-normal posterior
    mean): with little history the prior counts, with a lot the experiment decides."""
    if not np.isfinite(se) or se <= 0:
        return float(prior) if not np.isfinite(se) else float(effect)
    w_data, w_prior = 1.0 / se ** 2, 1.0 / prior_sd ** 2
    return float((w_data * effect + w_prior * prior) / (w_data + w_prior))


def calibration_slope(y: np.ndarray, treated: np.ndarray, propensity: np.ndarray, tau: np.ndarray) -> tuple[float, float]:
    """(slope, standard error) of the transformed outcome on the centred predicted uplift.

    Y* = y (t - e) / (e (1 - e)) has E[Y* | x] = the true uplift in a randomised experiment, so the
    slope is ~1 for a learner whose spread is real and ~0 for noise. Sandwich (heteroskedastic) error.
    """
    y_star = y * (treated - propensity) / (propensity * (1 - propensity))
    centred = tau - tau.mean()
    spread = float(np.sum(centred ** 2))
    if not np.std(tau) > 1e-6:  # learners without spread (e.g. no split found): nothing to calibrate
        return 0.0, float("inf")
    slope = float(np.sum(centred * (y_star - y_star.mean())) / spread)
    residual = y_star - y_star.mean() - slope * centred
    return slope, float(np.sqrt(np.sum(centred ** 2 * residual ** 2)) / spread)


def _fit_arm(rows: pd.DataFrame, features, params, seed: list[int], n_threads: int) -> BoostedModel:
    """One arm's calibrated classifier; a seeded CALIBRATION_SHARE of its rows calibrates it."""
    rng = np.random.default_rng(seed)
    calibrate = rng.random(len(rows)) < CALIBRATION_SHARE
    return fit_calibrated_classifier(rows[~calibrate], rows[calibrate], features,
                                     {**RESPONSE_PARAMS, **(params or {})}, int(rng.integers(2**31 - 1)), n_threads)


def _control_rate(frame: pd.DataFrame) -> float:
    control = frame[frame["treated"] == 0]
    return float(control["label"].mean()) if len(control) else 0.0


def _history_notes(dates: list, held_out: list) -> list[str]:
    if not dates:
        return ["no campaign history with settled outcomes before the as-of date: every action uses its prior"]
    if not held_out:
        return [f"one campaign date ({dates[0]}): nothing held out, uplift not evaluated, no ranking used"]
    return [f"trained on campaign dates {dates[0]}..{dates[-len(held_out) - 1]}, "
            f"evaluated on {held_out[0]}..{held_out[-1]} ({len(held_out)} date(s))"]


def _evaluate_on(models: ResponseModels, held_out: pd.DataFrame) -> None:
    """Per learned action on the held-out dates: Qini and uplift@k (metrics `<metric>_<action>`), and the
    calibration slope of its uplift (`uplift_slope_<action>`, clipped to [0, 1])."""
    qinis = []
    for action_id, (treated, control) in sorted(models.learners.items()):
        rows = held_out[held_out["action_id"] == action_id]
        effect = models.effects[action_id]
        if rows["treated"].nunique() < 2:
            models.notes.append(f"{action_id}: held-out dates lack one arm, not evaluated, no ranking used")
            models.effects[action_id] = replace(effect, slope=0.0)
            continue
        uplift = treated.predict(rows) - control.predict(rows)
        y, t = rows["label"].to_numpy(), rows["treated"].to_numpy()
        for name, value in uplift_metrics(y, t, uplift).items():
            models.metrics[f"{name}_{action_id}"] = value
        propensity = rows.groupby("campaign_date")["treated"].transform("mean").to_numpy()
        slope, se = calibration_slope(y.astype(float), t.astype(float), propensity, uplift)
        models.effects[action_id] = replace(effect, slope=float(np.clip(slope, 0.0, 1.0)))
        models.metrics[f"uplift_slope_{action_id}"] = models.effects[action_id].slope
        models.notes.append(f"{action_id}: held-out slope {slope:.2f} (se {se:.2f}) -> "
                            f"{models.effects[action_id].slope:.2f}")
        models.report[action_id] = qini_curve(y, t, uplift)
        qinis.append(models.metrics[f"qini_{action_id}"])
    if qinis:
        models.metrics["qini_mean"] = float(np.mean(qinis))


def held_out_qini(models: ResponseModels, held_out: pd.DataFrame) -> float:
    """Mean Qini of the models' conversion-uplift ranking over the actions they learned, on `held_out` rows
    (the response gate scores a candidate and the champion on the same rows with this; 0 without any)."""
    qinis = []
    for action_id, (treated, control) in sorted(models.learners.items()):
        rows = held_out[held_out["action_id"] == action_id]
        if rows["treated"].nunique() < 2 or any(f not in rows.columns for f in treated.feature_names):
            continue
        uplift = treated.predict(rows) - control.predict(rows)
        qinis.append(uplift_metrics(rows["label"].to_numpy(), rows["treated"].to_numpy(), uplift)["qini"])
    return float(np.mean(qinis)) if qinis else 0.0


def held_out_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The response frame's held-out campaign dates (the latest quarter, as fit_response_models holds out)."""
    dates = sorted(frame["campaign_date"].unique())
    held = dates[len(dates) - max(1, round(len(dates) * HOLDOUT_SHARE)):] if len(dates) >= 2 else []
    return frame[frame["campaign_date"].isin(held)]


def score_responses(models: ResponseModels, features: pd.DataFrame) -> pd.DataFrame:
    """`action_response` rows: (customer_id, action_id, p_treated, p_control, uplift, source) per action."""
    parts, matrices = [], SharedMatrices(features)
    for action_id in models.action_ids:
        if action_id in models.learners:
            treated, control = models.learners[action_id]
            p_control = control.predict(matrices.of(control))
            # A model pickled before effects existed scores with its raw learners.
            effect = getattr(models, "effects", {}).get(action_id, ActionEffect(0.0, 0.0, 1.0))
            tau = treated.predict(matrices.of(treated)) - p_control
            p_treated = np.clip(p_control + effect.ate + effect.slope * (tau - effect.mean_tau), 0.0, 1.0)
            source = "model"
        else:
            p_treated, p_control = (np.full(len(features), p) for p in models.priors[action_id])
            source = "prior"
        value, value_se = np.full(len(features), np.nan), np.full(len(features), np.nan)
        value_model = getattr(models, "values", {}).get(action_id)
        if value_model is not None:
            value, value_se = value_model.predict(features, matrices.of(value_model.tau))
        parts.append(pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "action_id": action_id,
                                   "p_treated": p_treated, "p_control": p_control,
                                   "uplift": np.asarray(p_treated) - np.asarray(p_control),
                                   "value_uplift": value, "value_se": value_se, "source": source}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RESPONSE_COLUMNS)
