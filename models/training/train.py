"""Train the churn / upsell / CLV models out of time: fit on earlier cut-offs, calibrate on the next,
evaluate on the latest (whose labels close on or before the as-of date).

XGBoost `hist` with a fixed thread count and seed is deterministic: same frame + seed -> same booster.
Churn and upsell are binary:logistic classifiers with a calibrator (models/training/calibration.py); CLV is a
reg:tweedie regressor (many zeros, long right tail) without a calibrator, so its calibration cut-off
joins the training cut-offs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
import xgboost as xgb

from models.features.btyd import BG_NBD, MODEL_NAMES, PARETO_NBD, BtydFit, fit_btyd, fit_btyd_at, fit_sample
from models.training.calibration import Calibrator, fit_calibrator
from models.training.evaluation import (PRIMARY_METRIC, calibration_curve, classifier_metrics, lift_by_decile,
                               past_spend_baseline, ranking_metrics, regressor_metrics, rfm_score)
from models.training.labels import validate_target
from models.training.training_sets import (CutoffPlan, build_training_frame, feature_columns_of, find_history_start,
                                  plan_cutoffs, seasonal_cutoff)

KIND = {"churn": "classifier", "upsell": "classifier", "clv": "regressor"}
HORIZON_KEY = {"churn": "churn_horizon_days", "upsell": "upsell_horizon_days", "clv": "clv_horizon_days"}
CLASSIFIER_PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 4, "eta": 0.1,
                     "min_child_weight": 5, "lambda": 1.0, "num_boost_round": 200}
REGRESSOR_PARAMS = {"objective": "reg:tweedie", "tweedie_variance_power": 1.5, "max_depth": 4, "eta": 0.1,
                    "min_child_weight": 5, "lambda": 1.0, "num_boost_round": 200}
BTYD_TARGETS = ("churn", "clv")  # targets BG/NBD + Gamma-Gamma predicts (upsell is about what is bought)
# the metric prefix of each buy-till-you-die baseline (`btyd_spearman`, `pnbd_auc`, ...)
BTYD_PREFIXES = {BG_NBD: "btyd", PARETO_NBD: "pnbd"}
IN_TIME_SHARES = {1: (0.6, 0.2), 2: (0.75, 0.25)}  # (train, calibration) shares when cut-offs are few


@dataclass
class BoostedModel:
    """A booster with its feature list and optional calibrator; `predict` takes a DataFrame."""

    booster: xgb.Booster
    feature_names: list[str]
    calibrator: Calibrator | None
    n_threads: int

    def predict_raw(self, X: pd.DataFrame | xgb.DMatrix) -> np.ndarray:
        """Uncalibrated booster output (probability or expected revenue).

        `X` may be a DMatrix from `to_dmatrix(frame, model.feature_names)`, so that several models with
        the same features score a million rows without converting the frame once per model.
        """
        if isinstance(X, xgb.DMatrix):
            if list(X.feature_names or []) != list(self.feature_names):
                raise ValueError("the DMatrix was built for other feature columns than this model's")
            return self.booster.predict(X)
        return self.booster.predict(to_dmatrix(X, self.feature_names, n_threads=self.n_threads))

    def predict(self, X: pd.DataFrame | xgb.DMatrix) -> np.ndarray:
        """Calibrated probability (classifiers) or the booster's prediction (regressors)."""
        raw = self.predict_raw(X)
        return self.calibrator.apply(raw) if self.calibrator is not None else raw.astype(float)


@dataclass
class TargetModel(BoostedModel):
    """The churn / upsell / CLV model: predictions over `horizon_days`, with held-out metrics and notes."""

    target: str = ""
    horizon_days: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # curves (calibration, lift) for plots
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return KIND[self.target]

    @property
    def primary_metric(self) -> str:
        return PRIMARY_METRIC[self.kind]


@dataclass
class TrainingRun:
    """What one training produced: the model, its plan and the held-out frame (to re-score a champion)."""

    model: TargetModel
    plan: CutoffPlan
    evaluation_frame: pd.DataFrame
    n_training_rows: int
    calibration_cutoff: date | None = None  # the seasonal cut-off, when used
    btyd: BtydFit | None = None  # BG/NBD + Gamma-Gamma fitted on the whole base at the evaluation cut-off
    pnbd: BtydFit | None = None  # Pareto/NBD + Gamma-Gamma, the same way

    def evaluation_fit(self, model: str) -> BtydFit | None:
        """The fit of `model` (BG_NBD or PARETO_NBD) at the evaluation cut-off, the one its metrics came from."""
        return self.pnbd if model == PARETO_NBD else self.btyd

    @property
    def cutoffs(self) -> list[date]:
        """Every cut-off the frame was built at (the plan's and the seasonal one)."""
        return sorted([*self.plan.cutoffs, *([self.calibration_cutoff] if self.calibration_cutoff else [])])


def to_dmatrix(X: pd.DataFrame, feature_names: Sequence[str], label=None, n_threads: int = 2) -> xgb.DMatrix:
    """A DMatrix of exactly `feature_names` (in that order) as float32; missing columns are an error."""
    missing = [c for c in feature_names if c not in X.columns]
    if missing:
        raise ValueError(f"model input is missing feature column(s): {', '.join(missing)}")
    values = np.empty((len(X), len(feature_names)), dtype=np.float32)
    for i, column in enumerate(feature_names):
        try:
            values[:, i] = pd.to_numeric(X[column]).astype("float32").to_numpy(na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"feature column '{column}' is not numeric ({X[column].dtype})") from exc
    return xgb.DMatrix(values, label=label, feature_names=list(feature_names), nthread=n_threads)


class SharedMatrices:
    """One DMatrix per feature list over a frame, built on first use and shared by every model that
    scores the frame (converting 1M rows x 52 columns costs ~1.3 s; the nightly scoring runs 17 models)."""

    def __init__(self, frame: pd.DataFrame, n_threads: int = 2):
        self.frame, self.n_threads, self._built = frame, n_threads, {}

    def of(self, model: BoostedModel) -> xgb.DMatrix:
        key = tuple(model.feature_names)
        if key not in self._built:
            self._built[key] = to_dmatrix(self.frame, list(key), n_threads=self.n_threads)
        return self._built[key]


def train_classifier(X: pd.DataFrame, y: Sequence[int], params: Mapping | None = None, seed: int = 0,
                     n_threads: int = 2) -> xgb.Booster:
    """Binary XGBoost (hist) on X, y with CLASSIFIER_PARAMS overridden by `params`."""
    return _train(X, y, {**CLASSIFIER_PARAMS, **(params or {})}, seed, n_threads)


def train_regressor(X: pd.DataFrame, y: Sequence[float], params: Mapping | None = None, seed: int = 0,
                    n_threads: int = 2) -> xgb.Booster:
    """Tweedie XGBoost (hist) on X, y (non-negative) with REGRESSOR_PARAMS overridden by `params`."""
    if np.min(np.asarray(y, dtype=float), initial=0.0) < 0:
        raise ValueError("reg:tweedie needs non-negative targets; got a negative CLV label")
    return _train(X, y, {**REGRESSOR_PARAMS, **(params or {})}, seed, n_threads)


def train_booster(X: pd.DataFrame, y: Sequence[float], params: Mapping, seed: int = 0, n_threads: int = 2) -> xgb.Booster:
    """XGBoost (hist) with exactly `params` (objective included; `num_boost_round` required)."""
    return _train(X, y, dict(params), seed, n_threads)


def _train(X, y, params: dict, seed: int, n_threads: int) -> xgb.Booster:
    rounds = int(params.pop("num_boost_round"))
    params.update(tree_method="hist", seed=int(seed), nthread=int(n_threads), verbosity=0)
    dtrain = to_dmatrix(X, list(X.columns), label=np.asarray(y, dtype=float), n_threads=n_threads)
    return xgb.train(params, dtrain, num_boost_round=rounds)


def fit_calibrated_classifier(train: pd.DataFrame, calibration: pd.DataFrame, features: list[str],
                              params: Mapping | None, seed: int, n_threads: int) -> BoostedModel:
    """A classifier fitted on `train` rows and calibrated on `calibration` rows (both with a `label`)."""
    booster = train_classifier(train[features], train["label"].astype(int), params, seed, n_threads)
    raw = booster.predict(to_dmatrix(calibration[features], features, n_threads=n_threads))
    return BoostedModel(booster, features, fit_calibrator(raw, calibration["label"].astype(int)), n_threads)


def split_out_of_time(frame: pd.DataFrame, seed: int, calibration_cutoff: date | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """(train, calibration, evaluation, notes): earlier cut-offs / the next one / the latest one.

    With a `calibration_cutoff` in the frame (the same season a year back) and at least two other
    cut-offs, that cut-off calibrates, the latest other one evaluates and the rest train. With fewer
    than three cut-offs the calibration (and with one, the training) rows come from a seeded customer
    split of the older cut-off, noted as in-time.
    """
    cutoffs = sorted(frame["cutoff"].unique())
    others = [c for c in cutoffs if c != calibration_cutoff]
    if calibration_cutoff in cutoffs and len(others) >= 2:
        return (frame[frame["cutoff"].isin(others[:-1])], frame[frame["cutoff"] == calibration_cutoff],
                frame[frame["cutoff"] == others[-1]],
                [f"calibrated on cut-off {calibration_cutoff}: the season of tonight's horizon, a year earlier"])
    latest = frame[frame["cutoff"] == cutoffs[-1]]
    if len(cutoffs) >= 3:
        return (frame[frame["cutoff"] < cutoffs[-2]], frame[frame["cutoff"] == cutoffs[-2]], latest, [])
    older = frame[frame["cutoff"] == cutoffs[0]]
    train_share, calibration_share = IN_TIME_SHARES[len(cutoffs)]
    ids = np.sort(older["customer_id"].unique())
    draw = pd.Series(np.random.default_rng(seed).random(len(ids)), index=ids)[older["customer_id"]].to_numpy()
    calibration_end = train_share + calibration_share
    train, calibration = older[draw < train_share], older[(draw >= train_share) & (draw < calibration_end)]
    if len(cutoffs) == 1:
        latest = older[draw >= calibration_end]
        return train, calibration, latest, [f"one cut-off ({cutoffs[0]}): train/calibration/evaluation is a "
                                            "seeded customer split, not out of time"]
    return train, calibration, latest, [f"two cut-offs: calibration is a seeded customer split of {cutoffs[0]}"]


def fit_target_model(frame: pd.DataFrame, target: str, *, horizon_days: int, params: Mapping | None = None,
                     seed: int = 0, n_threads: int = 2, notes: Sequence[str] = (),
                     calibration_cutoff: date | None = None, btyd_fits: Sequence[BtydFit] = (),
                     label_horizon_days: int | None = None) -> tuple[TargetModel, pd.DataFrame]:
    """Fit, calibrate and evaluate a model for `target` on a training frame; returns (model, evaluation rows).

    `calibration_cutoff`: see split_out_of_time (a regressor trains on it like on any other cut-off). `btyd_fits`:
    BG/NBD and / or Pareto/NBD + Gamma-Gamma fitted at the evaluation cut-off, reported as baselines (`btyd_*`,
    `pnbd_*` metrics);
    `label_horizon_days`: the horizon the labels were counted over (shorter than `horizon_days` after a fallback).
    """
    validate_target(target)
    if frame.empty:
        raise ValueError(f"no training rows for target '{target}': the population is empty at every cut-off")
    features = feature_columns_of(frame)
    train, calibration, evaluation, split_notes = split_out_of_time(frame, seed, calibration_cutoff)
    if KIND[target] == "regressor":
        train = pd.concat([train, calibration])
        booster = train_regressor(train[features], train["label"], params, seed, n_threads)
        fitted = BoostedModel(booster, features, None, n_threads)
    else:
        fitted = fit_calibrated_classifier(train, calibration, features, params, seed, n_threads)
    model = TargetModel(fitted.booster, features, fitted.calibrator, n_threads, target=target,
                        horizon_days=horizon_days, notes=[*notes, *split_notes, f"trained on {len(train)} rows"])
    model.metrics, model.report = evaluate_target_model(model, evaluation, btyd_fits, label_horizon_days or horizon_days)
    # one cut-off: the held-out rows are a customer split of it (in time), which cannot show how the model carries
    # over to customers at tonight's later ages (models/training/selection.py holds such a candidate back)
    model.metrics["out_of_time"] = float(frame["cutoff"].nunique() > 1)
    if model.calibrator is not None:
        model.notes.append(f"calibration: {model.calibrator.method} on {model.calibrator.n_rows} rows")
    return model, evaluation


def evaluate_target_model(model: TargetModel, evaluation: pd.DataFrame, btyd_fits: Sequence[BtydFit] = (),
                          label_horizon_days: int | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Held-out metrics of `model` next to its rule baseline (prefixed `baseline_`) and, for churn and CLV, to each
    buy-till-you-die model fitted at the evaluation cut-off (`btyd_` BG/NBD, `pnbd_` Pareto/NBD, + Gamma-Gamma),
    plus curves for plots. For CLV, `total_percent_error` is the money calibration: predicted total against realised
    total out of time."""
    y, pred = evaluation["label"].to_numpy(), model.predict(evaluation)
    fits = btyd_fits if model.target in BTYD_TARGETS else ()
    label_days = label_horizon_days or model.horizon_days
    if model.kind == "regressor":
        baseline = regressor_metrics(y, past_spend_baseline(evaluation, model.horizon_days))
        metrics = {**regressor_metrics(y, pred), **{f"baseline_{k}": v for k, v in baseline.items() if k != "n_eval"}}
        for fit in fits:  # counted over the labels' horizon and scaled like them (see labels.py)
            revenue = fit.revenue(evaluation, label_days) * model.horizon_days / label_days
            metrics |= {f"{BTYD_PREFIXES[fit.model]}_{k}": v for k, v in regressor_metrics(y, revenue).items()
                        if k != "n_eval"}
        return metrics, {"lift": lift_by_decile(y, pred)}
    baseline_score = rfm_score(evaluation, model.target)
    metrics = {**classifier_metrics(y, pred),
               **{f"baseline_{k}": v for k, v in ranking_metrics(y, baseline_score).items()}}
    for fit in fits:
        score = fit.churn_score(evaluation, label_days)
        metrics |= {f"{BTYD_PREFIXES[fit.model]}_{k}": v for k, v in ranking_metrics(y, score).items()}
    return metrics, {"calibration_curve": calibration_curve(y, pred), "lift": lift_by_decile(y, pred),
                     "baseline_lift": lift_by_decile(y, baseline_score)}


def primary_score(model: Any, evaluation: pd.DataFrame, target: str) -> float:
    """The promotion metric (AUC, or Spearman for CLV) of any fitted model on an evaluation frame.

    A model needing features the frame no longer has (a champion trained on tonight's consent features,
    which are no longer model features) cannot be compared and scores -inf, so the candidate replaces it."""
    kind = KIND[validate_target(target)]
    if not set(getattr(model, "feature_names", ())) <= set(evaluation.columns):
        return float("-inf")
    metrics = (regressor_metrics if kind == "regressor" else ranking_metrics)(
        evaluation["label"].to_numpy(), np.asarray(model.predict(evaluation), dtype=float))
    return metrics[PRIMARY_METRIC[kind]]


def train_target_model(con: duckdb.DuckDBPyConnection, as_of: date, target: str, training: Mapping, *, seed: int,
                       n_threads: int, params: Mapping | None = None, customers: str = "golden_customers",
                       purchases: str = "purchases", interactions: str = "interactions", lexicon=None,
                       snapshot_key: str | None = None) -> TrainingRun:
    """Plan cut-offs for `as_of`, build the point-in-time frame and fit the model (config: `training:`).

    `snapshot_key` lets churn and upsell share their training sample (see build_training_frame).
    """
    horizon = int(training[HORIZON_KEY[validate_target(target)]])
    history_start = find_history_start(con, as_of, purchases)
    plan = plan_cutoffs(as_of, history_start, horizon, int(training["n_cutoffs"]),
                        int(training["cutoff_spacing_days"]), int(training["min_history_days"]),
                        bool(training["horizon_fallback"]))
    seasonal = None
    if KIND[target] == "classifier" and bool(training.get("seasonal_calibration", True)):
        seasonal = seasonal_cutoff(plan, history_start, int(training["min_history_days"]))
    frame = build_training_frame(con, [*plan.cutoffs, *([seasonal] if seasonal else [])], plan.horizon_days, target,
                                 int(training["max_training_rows_per_cutoff"]), seed,
                                 label_scale=plan.label_scale if target == "clv" else 1.0, customers=customers,
                                 purchases=purchases, interactions=interactions, lexicon=lexicon,
                                 snapshot_key=snapshot_key)
    horizon_days = plan.requested_horizon_days if target == "clv" else plan.horizon_days  # CLV labels are scaled
    btyd = pnbd = None
    notes = list(plan.notes)
    if target in BTYD_TARGETS:  # the evaluation cut-off is the latest planned one (split_out_of_time)
        cutoff = max(plan.cutoffs)
        btyd, inputs = fit_btyd_at(con, cutoff, customers=customers, purchases=purchases)
        pnbd = fit_btyd(fit_sample(inputs), PARETO_NBD)  # the same inputs and sample, read once
        notes += [f"{MODEL_NAMES[m]} could not be fitted at the evaluation cut-off {cutoff}: no such baseline"
                  for m, fit in ((BG_NBD, btyd), (PARETO_NBD, pnbd)) if fit is None]
    model, evaluation = fit_target_model(frame, target, horizon_days=horizon_days, params=params, seed=seed,
                                         n_threads=n_threads, notes=notes, calibration_cutoff=seasonal,
                                         btyd_fits=[f for f in (btyd, pnbd) if f is not None],
                                         label_horizon_days=plan.horizon_days)
    return TrainingRun(model, plan, evaluation.reset_index(drop=True), len(frame), seasonal, btyd, pnbd)
