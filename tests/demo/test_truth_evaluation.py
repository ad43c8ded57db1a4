"""Model quality against the generator's truth, on synthetic frames whose answers are known."""
import math

import numpy as np
import pandas as pd
import pytest

from demo.truth_evaluation import TRUTH_COLUMNS, evaluate_models_against_truth

N = 4000
ACTIONS = ("retention_offer", "winback")


def make_world(seed: int = 1) -> dict:
    """Truth for N people, scores / responses / features equal to (or derived from) that truth."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:05d}" for i in range(N)]
    churn = rng.uniform(0.02, 0.9, N)
    revenue = rng.gamma(1.2, 300.0, N) * (rng.random(N) > 0.3)
    customers_truth = pd.DataFrame({"person_id": ids, "true_churn_90d_probability": churn,
                                    "expected_revenue_365d": revenue})
    p_control = rng.uniform(0.01, 0.2, (N, len(ACTIONS)))
    p_treated = p_control + rng.normal(0.02, 0.03, (N, len(ACTIONS)))
    action_truth = pd.DataFrame({"person_id": np.repeat(ids, len(ACTIONS)), "action_id": np.tile(ACTIONS, N),
                                 "p_treated": p_treated.ravel(), "p_control": p_control.ravel()})
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": churn, "clv": revenue,
                           "upsell_probability": 0.1})
    responses = action_truth.rename(columns={"person_id": "customer_id"}).assign(
        uplift=lambda f: f["p_treated"] - f["p_control"], source="model")
    features = pd.DataFrame({"customer_id": ids, "days_since_last_purchase": np.round(churn * 1000),
                             "purchases_365d": np.where(np.arange(N) % 4 == 0, 0, 3), "spend_365d": revenue * 0.9})
    return dict(scores=scores, responses=responses, customers_truth=customers_truth, action_truth=action_truth,
                features=features)


def value(table: pd.DataFrame, model: str, metric: str, column: str = "value", population: str = "scored") -> float:
    row = table[(table["model"] == model) & (table["metric"] == metric) & (table["population"] == population)]
    assert len(row) == 1, (model, metric, population)
    return float(row[column].iloc[0])


def shuffled(frame: pd.DataFrame, column: str, seed: int) -> pd.DataFrame:
    out = frame.copy()
    out[column] = np.random.default_rng(seed).permutation(out[column].to_numpy())
    return out


def test_a_perfect_score_matches_the_truth_on_every_metric():
    table = evaluate_models_against_truth(**make_world())
    assert list(table.columns) == TRUTH_COLUMNS
    for population in ("scored", "active"):
        assert value(table, "churn", "spearman_true_probability", population=population) == pytest.approx(1.0)
        assert value(table, "churn", "auc_true_probability_above_median", population=population) == pytest.approx(1.0)
        assert value(table, "churn", "mae_true_probability", population=population) == pytest.approx(0.0)
        assert value(table, "clv", "spearman", population=population) == pytest.approx(1.0)
        assert value(table, "clv", "total_percent_error", population=population) == pytest.approx(0.0)
    ceiling = value(table, "churn", "auc_simulated_outcome", "truth_value")
    assert value(table, "churn", "auc_simulated_outcome") == ceiling
    assert 0.6 < ceiling < 0.9  # a Bernoulli draw of the truth: even the truth cannot rank it perfectly
    capture = value(table, "clv", "top_decile_revenue_capture")
    assert capture == value(table, "clv", "top_decile_revenue_capture", "truth_value")
    for action in ACTIONS:
        model = f"response/{action}"
        assert value(table, model, "spearman_true_uplift") == pytest.approx(1.0)
        assert value(table, model, "true_uplift_top_decile") == value(table, model, "true_uplift_top_decile",
                                                                      "truth_value")
        assert value(table, model, "true_uplift_top_decile") > value(table, model, "true_uplift_top_decile",
                                                                     "baseline_value") + 0.03
    assert value(table, "join", "share_of_scored_in_truth") == 1.0


def test_a_shuffled_score_ranks_no_better_than_chance():
    world = make_world()
    world["scores"] = shuffled(shuffled(world["scores"], "churn_probability", 2), "clv", 3)
    world["responses"] = shuffled(world["responses"], "uplift", 4)
    table = evaluate_models_against_truth(**world)
    assert abs(value(table, "churn", "spearman_true_probability")) < 0.05
    assert value(table, "churn", "auc_true_probability_above_median") == pytest.approx(0.5, abs=0.03)
    assert value(table, "churn", "auc_simulated_outcome") == pytest.approx(0.5, abs=0.03)
    assert abs(value(table, "clv", "spearman")) < 0.05
    top = value(table, "response/winback", "true_uplift_top_decile")
    assert abs(value(table, "response/winback", "spearman_true_uplift")) < 0.05
    assert top == pytest.approx(value(table, "response/winback", "true_uplift_top_decile", "baseline_value"), abs=0.005)
    assert top < value(table, "response/winback", "true_uplift_top_decile", "truth_value") - 0.03


def test_baselines_are_scored_from_the_features_and_active_restricts_to_recent_buyers():
    world = make_world()
    table = evaluate_models_against_truth(**world)
    # recency was built from the true probability, spend is independent of it: the rule ranks it partly
    assert 0.3 < value(table, "churn", "spearman_true_probability", "baseline_value", "active") < 0.95
    flat_spend = evaluate_models_against_truth(**{**world, "features": world["features"].assign(spend_365d=1.0)})
    flat_rule = value(flat_spend, "churn", "spearman_true_probability", "baseline_value", "active")
    assert flat_rule == pytest.approx(1.0, abs=1e-4)  # recency is rounded: a few ties
    names = table.set_index(["model", "metric", "population"])["baseline"]
    assert names[("churn", "auc_simulated_outcome", "active")] == "rfm rule"
    assert names[("clv", "spearman", "scored")] == "past spend 365d"
    assert value(table, "clv", "spearman", "baseline_value") == pytest.approx(1.0)
    assert value(table, "clv", "total_percent_error", "baseline_value") == pytest.approx(-10.0)
    assert value(table, "churn", "mean_probability", "n", "active") == N - N // 4
    assert value(table, "response/winback", "spearman_true_uplift", "baseline_value") == 0.0
    without = evaluate_models_against_truth(**{k: v for k, v in world.items() if k != "features"})
    assert set(without["population"]) == {"scored"}
    assert without["baseline_value"][without["model"].isin(["churn", "clv"])].isna().sum() >= 7


def test_levels_report_bias_against_the_truth():
    world = make_world()
    world["scores"]["churn_probability"] *= 0.5
    world["scores"]["clv"] *= 1.2
    table = evaluate_models_against_truth(**world)
    true_mean = world["customers_truth"]["true_churn_90d_probability"].mean()
    assert value(table, "churn", "mean_probability") == pytest.approx(true_mean / 2)
    assert value(table, "churn", "mean_probability", "truth_value") == pytest.approx(true_mean)
    assert value(table, "churn", "mae_true_probability") == pytest.approx(true_mean / 2)
    assert value(table, "churn", "spearman_true_probability") == pytest.approx(1.0)  # ranking is untouched
    assert value(table, "clv", "total_percent_error") == pytest.approx(20.0)


def test_a_prior_action_is_labelled_and_does_not_rank():
    world = make_world()
    prior = world["responses"]["action_id"] == "winback"
    world["responses"].loc[prior, ["uplift", "source"]] = [0.01, "prior"]
    table = evaluate_models_against_truth(**world)
    assert math.isnan(value(table, "response/winback (prior)", "spearman_true_uplift"))
    assert math.isnan(value(table, "response/winback (prior)", "true_uplift_top_decile"))
    assert value(table, "response/winback (prior)", "mean_uplift") == pytest.approx(0.01)


def test_eligible_pairs_add_an_eligible_population_per_action():
    world = make_world()
    responses = world["responses"]
    eligible = responses[(responses["action_id"] == "winback") & (responses["customer_id"] < "C01000")]
    table = evaluate_models_against_truth(**world, eligible=eligible[["customer_id", "action_id"]])
    assert value(table, "response/winback", "mean_uplift", "n", "eligible") == 1000
    assert value(table, "response/winback", "mean_uplift", "truth_value", "eligible") == pytest.approx(
        eligible["uplift"].mean())
    assert value(table, "response/retention_offer", "mean_uplift", "n", "eligible") == 0
    assert math.isnan(value(table, "response/retention_offer", "spearman_true_uplift", population="eligible"))
    assert value(table, "response/winback", "spearman_true_uplift", "n") == N


def test_customers_missing_from_the_truth_are_counted_and_left_out():
    world = make_world()
    world["customers_truth"] = world["customers_truth"].iloc[: N // 2]
    table = evaluate_models_against_truth(**world)
    assert value(table, "join", "share_of_scored_in_truth") == 0.5
    assert value(table, "churn", "spearman_true_probability", "n") == N // 2
    assert value(table, "response/retention_offer", "spearman_true_uplift", "n") == N // 2


def test_same_seed_same_table_and_the_seed_only_moves_the_simulated_outcome():
    world = make_world()
    first, again = evaluate_models_against_truth(**world, seed=5), evaluate_models_against_truth(**world, seed=5)
    pd.testing.assert_frame_equal(first, again)
    other = evaluate_models_against_truth(**world, seed=6)
    changed = first.index[~np.isclose(first["value"], other["value"], equal_nan=True)]
    assert set(first.loc[changed, "metric"]) == {"auc_simulated_outcome"}


@pytest.mark.parametrize("frame, column, message", [
    ("scores", "clv", "scores is missing column(s) clv"),
    ("action_truth", "p_control", "action_truth is missing column(s) p_control"),
    ("features", "spend_365d", "features is missing column(s) spend_365d"),
])
def test_missing_columns_are_named(frame, column, message):
    world = make_world()
    world[frame] = world[frame].drop(columns=[column])
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate_models_against_truth(**world)


def test_duplicate_truth_rows_are_rejected_with_the_key():
    world = make_world()
    world["customers_truth"] = pd.concat([world["customers_truth"], world["customers_truth"].iloc[[7]]])
    with pytest.raises(ValueError, match="customers_truth has more than one row for person_id = C00007"):
        evaluate_models_against_truth(**world)
