"""Drift against the last scored as-of date: none on the first date, PSI per score and feature after."""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from models import warehouse
from models.scoring.drift import DRIFT_FEATURES, SCORE_COLUMNS, drift_against_history, history_rows


def night(as_of: dt.date, shift: float, n: int = 2000):
    rng = np.random.default_rng(3)
    ids = [f"C{i:05d}" for i in range(n)]
    scores = pd.DataFrame({"customer_id": ids, "churn_probability": rng.uniform(size=n) * (1 - shift) + shift,
                           "upsell_probability": rng.uniform(size=n), "clv": rng.gamma(2.0, 50.0, n), "as_of": as_of,
                           "churn_model_version": "1"})
    features = pd.DataFrame({"customer_id": ids, **{f: rng.poisson(5, n).astype(float) for f in DRIFT_FEATURES},
                             "other_feature": 1.0})
    return scores, features


def test_the_first_date_has_no_reference_and_a_shifted_score_drifts():
    con = duckdb.connect()
    first, later = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    scores, features = night(first, 0.0)
    assert warehouse.read_score_history(con, first) is None
    assert drift_against_history(warehouse.read_score_history(con, first), scores, features) is None
    warehouse.replace_score_history(con, history_rows(scores, features))
    stored = con.execute("SELECT * FROM score_history").df()
    assert list(stored.columns) == ["customer_id", *SCORE_COLUMNS, "as_of", *DRIFT_FEATURES] and len(stored) == 2000
    assert warehouse.read_score_history(con, first) is None  # only earlier dates are a reference
    shifted, features = night(later, 0.6)
    drift = drift_against_history(warehouse.read_score_history(con, later), shifted, features)
    assert set(drift["column"]) == {*SCORE_COLUMNS, *DRIFT_FEATURES}
    assert drift.set_index("column")["drifted"].to_dict() == {c: c == "churn_probability" for c in drift["column"]}
