"""The call list's reasons: only called customers, the churn model's two reasons, then the policy reason."""
from pathlib import Path

import numpy as np
import pandas as pd

from models.decisions.catalog import load_catalog
from models.decisions.explain import call_list_reasons, policy_reason
from models.features.customer_features import FEATURE_COLUMNS
from models.training.train import BoostedModel, train_classifier

CATALOG = load_catalog(Path(__file__).resolve().parents[3] / "pipelines" / "config" / "action_catalog.yaml",
                       set(FEATURE_COLUMNS))


def churn_model() -> BoostedModel:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"days_since_last_purchase": rng.integers(1, 400, 2000).astype(float),
                      "complaints_30d": rng.poisson(0.5, 2000).astype(float)})
    logit = -3 + X["days_since_last_purchase"] / 80 + 1.2 * X["complaints_30d"]
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-logit))).astype(int)
    return BoostedModel(train_classifier(X, y, {"num_boost_round": 30, "max_depth": 3}, seed=1, n_threads=1),
                        list(X.columns), None, 1)


FEATURES = pd.DataFrame({"customer_id": ["a", "b", "c"], "days_since_last_purchase": [300.0, 250.0, 10.0],
                         "complaints_30d": [3.0, 2.0, 0.0]})


def plan(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "action_id", "channel", "expected_value", "chosen", "is_exploration"])


def test_only_called_customers_get_model_reasons_and_the_policy_reason():
    nba = plan([("a", "service_recovery_call", "phone", 12.5, True, False),
                ("b", "retention_offer", "phone", 3.0, True, True),
                ("b", "retention_offer", "email", 2.0, False, False),
                ("c", "retention_offer", "email", 8.0, True, False)])
    reasons = call_list_reasons(nba, FEATURES, churn_model, CATALOG, "es")
    assert reasons["customer_id"].tolist() == ["a", "b"]
    first, second = reasons["reasons"]
    assert len(first) == 3 and "sin compras desde hace 300 días" in first[:2]
    assert first[2] == policy_reason("service_recovery_call", 12.5, CATALOG, "es")
    assert second[2] == policy_reason("retention_offer", 3.0, CATALOG, "es", is_exploration=True)


def test_no_calls_give_an_empty_table_without_loading_the_model():
    def never():
        raise AssertionError("the churn model must not be loaded when nobody is called")

    reasons = call_list_reasons(plan([("c", "retention_offer", "email", 8.0, True, False)]), FEATURES, never, CATALOG, "en")
    assert reasons.empty and list(reasons.columns) == ["customer_id", "reasons"]
