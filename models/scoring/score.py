"""Scoring: every customer scored with the model versions selected tonight (churn, upsell, CLV, response)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.training import registry
from models.training.train import BoostedModel, SharedMatrices
from models.training.uplift import score_responses

TARGET_COLUMNS = (("churn", "churn_probability"), ("upsell", "upsell_probability"), ("clv", "clv"))


def load_selected(selected: list[tuple[str, str, str]]) -> dict[str, tuple[str, object]]:
    """target -> (version, fitted model) for (target, registered model name, version) rows of
    `model_selection`; MLflow must point at the home's store."""
    return {target: (version, registry.load_version(name, version)) for target, name, version in selected}


def score_customers(selected: dict, features: pd.DataFrame, as_of) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`customer_scores` rows (scores and model versions) and `action_response` rows for these customers."""
    scores, matrices = pd.DataFrame({"customer_id": features["customer_id"]}), SharedMatrices(features)
    for target, column in TARGET_COLUMNS:
        version, model = selected[target]
        inputs = matrices.of(model) if isinstance(model, BoostedModel) else features  # a rule baseline reads the frame
        scores[column] = np.clip(np.asarray(model.predict(inputs), dtype=float), 0, None)
        scores[f"{target}_model_version"] = version
    scores["response_model_version"] = selected["response"][0]
    # what the clv column is a sum over: the configured horizon (a shrunk training horizon is scaled back to it)
    scores["clv_horizon_days"] = int(selected["clv"][1].horizon_days)
    scores["as_of"] = as_of
    return scores, score_responses(selected["response"][1], features)
