"""Reasons from the model's own contributions, rendered in en / es / pt."""
import numpy as np
import pandas as pd
import pytest

from models.scoring.reasons import LANGUAGES, compute_contributions, explain_customers, load_reason_phrases, render_reason
from models.features.customer_features import FEATURE_COLUMNS
from models.training.train import BoostedModel, to_dmatrix, train_classifier

PHRASES = load_reason_phrases()


def test_every_feature_has_a_phrase_entry_and_every_template_renders():
    assert set(PHRASES) == set(FEATURE_COLUMNS)
    for feature, entry in PHRASES.items():
        if entry is None:
            continue
        for language in LANGUAGES:
            for value in (0, 1, 12):
                text = render_reason(feature, value, language, PHRASES)
                assert text and "{" not in text, (feature, language, value)


@pytest.mark.parametrize("language, expected", [
    ("en", ["no purchase in 94 days", "2 complaints in the last 30 days", "1 complaint in the last 30 days",
            "spent 1,235 in the last 365 days", "40% of orders returned in the last year"]),
    ("es", ["sin compras desde hace 94 días", "2 quejas en los últimos 30 días", "1 queja en los últimos 30 días",
            "gastó 1.235 en los últimos 365 días", "40% de los pedidos devueltos en el último año"]),
    ("pt", ["sem compras há 94 dias", "2 reclamações nos últimos 30 dias", "1 reclamação nos últimos 30 dias",
            "gastou 1.235 nos últimos 365 dias", "40% dos pedidos devolvidos no último ano"]),
])
def test_reason_phrases_in_each_language(language, expected):
    values = [("days_since_last_purchase", 94), ("complaints_30d", 2), ("complaints_30d", 1.0),
              ("spend_365d", 1234.5), ("return_rate_365d", 0.4)]
    assert [render_reason(f, v, language, PHRASES) for f, v in values] == expected


def test_sentinels_missing_values_and_suppressed_features_give_no_phrase():
    assert render_reason("days_since_last_purchase", 9999, "en", PHRASES) is None
    assert render_reason("last_nps", -1, "es", PHRASES) is None
    assert render_reason("complaints_30d", float("nan"), "pt", PHRASES) is None
    assert render_reason("reachable_email", True, "en", PHRASES) is None
    with pytest.raises(ValueError, match="reason language 'fr'"):
        render_reason("complaints_30d", 1, "fr", PHRASES)


@pytest.fixture(scope="module")
def churn_model():
    """Churn risk rises with days since the last purchase and with complaints; `noise` does nothing."""
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"days_since_last_purchase": rng.integers(1, 400, n).astype(float),
                      "complaints_30d": rng.poisson(0.5, n).astype(float), "noise": rng.normal(size=n)})
    logit = -3 + X["days_since_last_purchase"] / 80 + 1.2 * X["complaints_30d"]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = train_classifier(X, y, {"num_boost_round": 40, "max_depth": 3}, seed=1, n_threads=1)
    return BoostedModel(booster, list(X.columns), None, 1)


def _customers():
    return pd.DataFrame({"customer_id": ["risky", "loyal"], "days_since_last_purchase": [300.0, 5.0],
                         "complaints_30d": [3.0, 0.0], "noise": [0.1, -0.1]})


def test_exact_contributions_add_up_to_the_model_margin(churn_model):
    X = _customers()
    contributions = compute_contributions(churn_model, X)
    margin = churn_model.booster.predict(to_dmatrix(X, churn_model.feature_names), output_margin=True)
    bias = churn_model.booster.predict(to_dmatrix(X, churn_model.feature_names), pred_contribs=True)[:, -1]
    assert list(contributions.columns) == churn_model.feature_names
    assert np.allclose(contributions.sum(axis=1) + bias, margin, atol=1e-4)


@pytest.mark.parametrize("language, first, second", [
    ("en", "no purchase in 300 days", "3 complaints in the last 30 days"),
    ("es", "sin compras desde hace 300 días", "3 quejas en los últimos 30 días"),
    ("pt", "sem compras há 300 dias", "3 reclamações nos últimos 30 dias"),
])
def test_reasons_name_only_the_features_that_push_the_score_up(churn_model, language, first, second):
    reasons = explain_customers(churn_model, _customers(), language, phrases=PHRASES)
    assert reasons["customer_id"].tolist() == ["risky", "loyal"]
    risky, loyal = reasons["reasons"]
    assert set(risky[:2]) == {first, second}
    assert first not in loyal and second not in loyal


def test_approximate_contributions_are_used_for_large_requests_and_agree_on_direction(churn_model):
    exact = explain_customers(churn_model, _customers(), "en", phrases=PHRASES)
    approx = explain_customers(churn_model, _customers(), "en", phrases=PHRASES, exact_max_rows=1)
    assert set(approx["reasons"][0][:2]) == set(exact["reasons"][0][:2])
    assert len(explain_customers(churn_model, _customers(), "en", phrases=PHRASES, max_reasons=1)["reasons"][0]) == 1
