"""Training: reproducibility, calibration against known probabilities, the out-of-time split, no leakage."""
import math
import pickle
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.training.calibration import choose_method, fit_calibrator
from models.training.train import (fit_target_model, primary_score, split_out_of_time, train_classifier, train_regressor,
                          train_target_model, to_dmatrix)
from tests.models.training.test_training_sets import T, make_warehouse, shake_future

FAST = {"num_boost_round": 15, "max_depth": 3}
THREADS = 1  # one thread keeps tiny fits fast on a busy machine; the reproducibility test also runs 2
TRAINING = {"churn_horizon_days": 90, "upsell_horizon_days": 90, "clv_horizon_days": 365, "n_cutoffs": 4,
            "cutoff_spacing_days": 30, "min_history_days": 90, "horizon_fallback": True,
            "max_training_rows_per_cutoff": 150}


def _known_probability_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, the true probability p(x) and outcomes drawn from it."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x0": rng.uniform(-2, 2, n), "x1": rng.uniform(-2, 2, n), "noise": rng.normal(size=n)})
    p = 1 / (1 + np.exp(-(1.5 * X["x0"] - 1.0 + 0.8 * (X["x1"] > 0))))
    return X, p.to_numpy(), (rng.uniform(size=n) < p.to_numpy()).astype(int)


def _frame(n_per_cutoff=400, cutoffs=(date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1))):
    parts = []
    for i, cutoff in enumerate(cutoffs):
        X, _, y = _known_probability_data(n_per_cutoff, seed=i)
        X["days_since_last_purchase"] = (X["x0"] * 50 + 100).round()
        X["purchases_365d"], X["spend_365d"] = 3, 100.0
        parts.append(pd.concat([pd.DataFrame({"customer_id": [f"C{j:04d}" for j in range(n_per_cutoff)],
                                              "cutoff": cutoff}), X, pd.Series(y, name="label")], axis=1))
    return pd.concat(parts, ignore_index=True)


# ---- reproducibility ---------------------------------------------------------------------------------
def test_same_inputs_and_seed_give_identical_predictions():
    X, _, y = _known_probability_data(2000, seed=1)
    params = {**FAST, "subsample": 0.7, "colsample_bytree": 0.7}
    first, second = (train_classifier(X, y, params, seed=11, n_threads=2) for _ in range(2))
    assert bytes(first.save_raw("ubj")) == bytes(second.save_raw("ubj"))
    dm = to_dmatrix(X, list(X.columns))
    assert np.array_equal(first.predict(dm), second.predict(dm))
    other = train_classifier(X, y, params, seed=12, n_threads=2)
    assert not np.array_equal(first.predict(dm), other.predict(dm))  # the seed is really used


def test_fitted_model_round_trips_through_pickle_with_identical_predictions():
    model, evaluation = fit_target_model(_frame(), "churn", horizon_days=90, params=FAST, seed=3, n_threads=THREADS)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(evaluation), model.predict(evaluation))


def test_a_shared_feature_matrix_predicts_exactly_like_the_frame_and_refuses_other_columns():
    from models.training.train import SharedMatrices
    model, evaluation = fit_target_model(_frame(), "churn", horizon_days=90, params=FAST, seed=3, n_threads=THREADS)
    matrices = SharedMatrices(evaluation)
    assert matrices.of(model) is matrices.of(model)  # built once
    assert np.array_equal(model.predict(matrices.of(model)), model.predict(evaluation))
    with pytest.raises(ValueError, match="other feature columns"):
        model.predict(to_dmatrix(evaluation, model.feature_names[::-1]))


# ---- calibration ---------------------------------------------------------------------------------------
def test_calibrated_model_matches_observed_rates_per_bin_on_data_with_a_known_probability():
    X, p_true, y = _known_probability_data(16000, seed=2)
    booster = train_classifier(X[:4000], y[:4000], {"num_boost_round": 60, "max_depth": 3, "eta": 0.3}, seed=1,
                               n_threads=THREADS)
    raw = lambda rows: booster.predict(to_dmatrix(X[rows], list(X.columns)))  # noqa: E731
    calibrator = fit_calibrator(raw(slice(4000, 8000)), y[4000:8000])
    assert calibrator.method == "isotonic"
    p = calibrator.apply(raw(slice(8000, None)))
    truth, observed = p_true[8000:], y[8000:]
    bins = np.array_split(np.argsort(p, kind="stable"), 10)
    for idx in bins:
        assert abs(p[idx].mean() - observed[idx].mean()) < 0.05
        assert abs(p[idx].mean() - truth[idx].mean()) < 0.05


def test_platt_is_chosen_on_small_data_and_undoes_overconfidence():
    rng = np.random.default_rng(4)
    p_true = rng.uniform(0.05, 0.95, 600)
    y = (rng.uniform(size=600) < p_true).astype(int)
    logit = np.log(p_true / (1 - p_true))
    overconfident = 1 / (1 + np.exp(-(2.5 * logit + 0.7)))
    assert choose_method(y) == "platt"
    calibrator = fit_calibrator(overconfident, y)
    assert calibrator.method == "platt"
    assert np.abs(calibrator.apply(overconfident) - p_true).mean() < 0.04
    assert np.abs(overconfident - p_true).mean() > 0.1


def test_isotonic_corrects_a_non_sigmoid_distortion_on_large_data():
    rng = np.random.default_rng(5)
    p_true = rng.uniform(0, 1, 20000)
    y = (rng.uniform(size=20000) < p_true).astype(int)
    calibrator = fit_calibrator(p_true ** 3, y)
    assert calibrator.method == "isotonic"
    assert np.abs(calibrator.apply(p_true ** 3) - p_true).mean() < 0.03


def test_single_class_calibration_set_gives_its_rate_and_bad_method_is_named():
    assert fit_calibrator(np.array([0.2, 0.4]), np.array([0, 0])).apply(np.array([0.9])).tolist() == [0.0]
    with pytest.raises(ValueError, match="calibration method 'sigmoid'"):
        fit_calibrator(np.array([0.2, 0.4]), np.array([0, 1]), method="sigmoid")


# ---- out-of-time split and model object ---------------------------------------------------------------------
def test_out_of_time_split_trains_on_earlier_cutoffs_calibrates_on_the_next_and_evaluates_on_the_latest():
    frame = _frame(50)
    train, calibration, evaluation, notes = split_out_of_time(frame, seed=0)
    assert sorted(train["cutoff"].unique()) == [date(2026, 1, 1), date(2026, 2, 1)]
    assert set(calibration["cutoff"]) == {date(2026, 3, 1)} and set(evaluation["cutoff"]) == {date(2026, 4, 1)}
    assert notes == []


def test_a_seasonal_cutoff_calibrates_the_rest_train_and_the_latest_still_evaluates():
    seasonal = date(2025, 4, 1)
    frame = pd.concat([_frame(50), _frame(50, cutoffs=(seasonal,))], ignore_index=True)
    train, calibration, evaluation, notes = split_out_of_time(frame, seed=0, calibration_cutoff=seasonal)
    assert sorted(train["cutoff"].unique()) == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert set(calibration["cutoff"]) == {seasonal} and set(evaluation["cutoff"]) == {date(2026, 4, 1)}
    assert "a year earlier" in notes[0]
    # with a single other cut-off the seasonal one is just another cut-off
    few = pd.concat([_frame(50, cutoffs=(date(2026, 1, 1),)), _frame(50, cutoffs=(seasonal,))], ignore_index=True)
    assert split_out_of_time(few, seed=0, calibration_cutoff=seasonal)[1]["cutoff"].nunique() == 1


@pytest.mark.parametrize("history_days, expected", [(600, T - timedelta(days=365)), (400, None)])
def test_classifiers_calibrate_on_the_same_season_a_year_back_when_the_history_allows(history_days, expected):
    con = duckdb.connect()
    make_warehouse(con, n_customers=150, history_days=history_days)
    run = train_target_model(con, T, "churn", TRAINING, seed=9, n_threads=THREADS, params=FAST)
    assert run.calibration_cutoff == expected
    assert (expected in run.cutoffs) == (expected is not None) and expected not in run.plan.cutoffs
    off = train_target_model(con, T, "churn", {**TRAINING, "seasonal_calibration": False}, seed=9, n_threads=THREADS,
                             params=FAST)
    assert off.calibration_cutoff is None and off.cutoffs == list(off.plan.cutoffs)
    assert train_target_model(con, T, "clv", TRAINING, seed=9, n_threads=THREADS, params=FAST).calibration_cutoff is None


def test_a_single_cutoff_is_split_by_customer_and_noted():
    frame = _frame(200, cutoffs=(date(2026, 1, 1),))
    train, calibration, evaluation, notes = split_out_of_time(frame, seed=0)
    ids = [set(part["customer_id"]) for part in (train, calibration, evaluation)]
    assert sum(map(len, ids)) == 200 and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert "not out of time" in notes[0]


def test_fitted_classifier_reports_metrics_next_to_its_baseline_and_checks_its_inputs():
    model, evaluation = fit_target_model(_frame(), "churn", horizon_days=90, params=FAST, seed=3, n_threads=THREADS)
    assert set(evaluation["cutoff"]) == {date(2026, 4, 1)}
    assert model.feature_names == ["x0", "x1", "noise", "days_since_last_purchase", "purchases_365d", "spend_365d"]
    assert model.metrics["auc"] > 0.7 and {"brier", "pr_auc", "ece", "baseline_auc"} <= set(model.metrics)
    assert model.metrics["auc"] == pytest.approx(primary_score(model, evaluation, "churn"))
    assert model.report["calibration_curve"] and len(model.report["lift"]) == 10
    p = model.predict(evaluation)
    assert ((p >= 0) & (p <= 1)).all()
    with pytest.raises(ValueError, match="missing feature column\\(s\\): noise"):
        model.predict(evaluation.drop(columns="noise"))


def test_regressor_refuses_negative_targets():
    X, _, _ = _known_probability_data(20, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        train_regressor(X, -np.ones(20), n_threads=THREADS)


# ---- point in time: nothing dated on/after T changes the training result --------------------------------------
def _metrics_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


@pytest.mark.parametrize("target", ["churn", "upsell", "clv"])
def test_training_for_T_is_unchanged_by_every_event_dated_on_or_after_T(target):
    con = duckdb.connect()
    make_warehouse(con, n_customers=250)
    before = train_target_model(con, T, target, TRAINING, seed=9, n_threads=THREADS, params=FAST)
    probe = before.evaluation_frame
    shake_future(con)
    after = train_target_model(con, T, target, TRAINING, seed=9, n_threads=THREADS, params=FAST)
    assert after.plan == before.plan and len(before.plan.cutoffs) == 4
    pd.testing.assert_frame_equal(after.evaluation_frame, probe)
    assert after.n_training_rows == before.n_training_rows
    assert np.array_equal(after.model.predict(probe), before.model.predict(probe))
    assert _metrics_equal(after.model.metrics, before.model.metrics)
    assert all(c + timedelta(days=before.plan.horizon_days) <= T for c in before.plan.cutoffs)


def test_short_history_clv_falls_back_and_scales_labels_to_the_configured_horizon():
    con = duckdb.connect()
    make_warehouse(con, n_customers=150, history_days=300)
    run = train_target_model(con, T, "clv", TRAINING, seed=9, n_threads=THREADS, params=FAST)
    assert run.plan.horizon_days < 365 and run.model.horizon_days == 365
    assert any("fell back" in note for note in run.model.notes)
    cutoff = run.plan.cutoffs[-1]
    raw = con.execute("SELECT sum(CASE WHEN status = 'completed' THEN amount ELSE -abs(amount) END) FROM purchases "
                      "WHERE customer_id = ? AND order_ts >= ? AND order_ts < ?",
                      [run.evaluation_frame["customer_id"].iloc[0], cutoff,
                       cutoff + timedelta(days=run.plan.horizon_days)]).fetchone()[0] or 0.0
    assert run.evaluation_frame["label"].iloc[0] == pytest.approx(max(raw, 0) * 365 / run.plan.horizon_days)
