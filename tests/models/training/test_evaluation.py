"""Evaluation metrics, baselines and plots on data whose answer is known."""
import numpy as np
import pandas as pd
import pytest

from models.training.evaluation import (calibration_curve, classifier_metrics, lift_by_decile, past_spend_baseline,
                               plot_calibration, plot_lift, plot_qini, plot_target_report, qini_coefficient, qini_curve,
                               regressor_metrics, rfm_score, uplift_at_k, uplift_metrics)

PNG = b"\x89PNG\r\n\x1a\n"


def test_classifier_metrics_on_a_perfect_and_a_useless_score():
    y = np.array([0] * 80 + [1] * 20)
    perfect = classifier_metrics(y, y * 0.9 + 0.05)
    assert perfect["auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["brier"] == pytest.approx(0.05 ** 2)
    assert perfect["base_rate"] == 0.2
    assert perfect["lift_top_decile"] == pytest.approx(5.0)
    useless = classifier_metrics(y, np.full(100, 0.2))
    assert useless["auc"] == 0.5
    assert useless["ece"] == pytest.approx(0.0, abs=1e-12)


def test_calibration_curve_uses_equal_count_bins_and_tracks_known_probabilities():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 20000)
    y = (rng.uniform(0, 1, 20000) < p).astype(int)
    curve = calibration_curve(y, p, n_bins=10)
    assert len(curve) == 10 and all(abs(b["count"] - 2000) <= 1 for b in curve)
    assert all(abs(b["observed_rate"] - b["mean_predicted"]) < 0.04 for b in curve)
    assert curve[0]["mean_predicted"] < curve[-1]["mean_predicted"]


def test_lift_by_decile_puts_all_positives_in_the_first_decile_of_a_perfect_score():
    y = np.array([1] * 10 + [0] * 90)
    table = lift_by_decile(y, -np.arange(100))
    assert table[0]["rate"] == 1.0 and table[0]["lift"] == pytest.approx(10.0)
    assert table[0]["cumulative_capture"] == 1.0
    assert all(row["rate"] == 0.0 for row in table[1:])


def test_regressor_metrics():
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 10, 90], dtype=float)
    pred = np.array([1, 1, 1, 1, 1, 1, 1, 1, 20, 80], dtype=float)
    metrics = regressor_metrics(y, pred)
    assert metrics["spearman"] > 0.7
    assert metrics["top_decile_revenue_capture"] == pytest.approx(0.9)
    assert metrics["mae"] == pytest.approx((8 + 10 + 10) / 10)
    assert metrics["total_percent_error"] == pytest.approx(8.0)


def _randomised_uplift_data(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    treated = rng.integers(0, 2, n)
    y = (rng.uniform(0, 1, n) < 0.1 + 0.3 * x * treated).astype(int)  # uplift grows with x
    return x, treated, y


def test_qini_and_uplift_at_k_reward_a_score_aligned_with_the_true_uplift():
    x, treated, y = _randomised_uplift_data()
    good, bad = uplift_metrics(y, treated, x), uplift_metrics(y, treated, -x)
    assert good["qini"] > 0.02 > -0.02 > bad["qini"]
    assert good["uplift_at_10"] == pytest.approx(0.3 * 0.95, abs=0.05)
    assert bad["uplift_at_10"] == pytest.approx(0.3 * 0.05, abs=0.05)
    curve = qini_curve(y, treated, x)
    assert curve[0] == {"share": 0.0, "qini": 0.0} and curve[-1]["share"] == 1.0
    assert qini_coefficient(curve) == pytest.approx(good["qini"])


def test_uplift_at_k_is_nan_without_both_arms():
    assert np.isnan(uplift_at_k(np.array([1, 0]), np.array([1, 1]), np.array([0.2, 0.1]), 0.5))


def test_rfm_baseline_ranks_lapsed_low_spenders_as_churn_risk_and_the_reverse_for_upsell():
    X = pd.DataFrame({"days_since_last_purchase": [5, 300, np.nan], "purchases_365d": [12, 1, 0],
                      "spend_365d": [900.0, 20.0, 0.0]})
    churn = rfm_score(X, "churn")
    assert churn[0] < churn[1] <= churn[2]
    assert np.allclose(rfm_score(X, "upsell"), 1 - churn)
    with pytest.raises(ValueError, match="spend_365d"):
        rfm_score(X.drop(columns="spend_365d"), "churn")


def test_past_spend_baseline_scales_to_the_horizon():
    X = pd.DataFrame({"spend_365d": [365.0, np.nan, -5.0]})
    assert past_spend_baseline(X, 90).tolist() == [90.0, 0.0, 0.0]


def test_plots_are_reproducible_png_bytes():
    x, treated, y = _randomised_uplift_data(2000)
    curve = calibration_curve(y, x)
    first = plot_calibration(curve)
    assert first.startswith(PNG) and first == plot_calibration(curve)
    assert plot_lift(lift_by_decile(y, x)).startswith(PNG)
    assert plot_qini({"retention_offer": qini_curve(y, treated, x)}).startswith(PNG)


def test_target_report_plots_are_named_per_model():
    x, _, y = _randomised_uplift_data(500)
    report = {"lift": lift_by_decile(y, x), "calibration_curve": calibration_curve(y, x)}
    assert sorted(plot_target_report(report, "churn")) == ["churn_calibration.png", "churn_lift.png"]
    assert sorted(plot_target_report({"lift": report["lift"]}, "clv")) == ["clv_lift.png"]


def test_metrics_are_rounded_and_each_sits_next_to_its_baseline():
    from models.training.evaluation import metrics_beside_baselines

    shown = metrics_beside_baselines({"auc": 0.7312345678901234, "brier": 0.1, "baseline_auc": 0.61234567,
                                      "lift_top_decile": 2.345678, "baseline_only": 1.0})
    assert list(shown) == ["auc", "baseline_auc", "brier", "lift_top_decile", "baseline_only"]
    assert shown["auc"] == 0.7312 and shown["baseline_auc"] == 0.6123 and shown["lift_top_decile"] == 2.3457
