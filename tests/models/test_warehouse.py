"""The shared warehouse tables: model selection replaced per target, decisions and their summary per date."""
import datetime as dt

import duckdb
import pandas as pd

from models import warehouse


def test_a_target_has_one_selected_model_and_versions_read_by_target():
    con = duckdb.connect()
    warehouse.record_selection(con, "upsell", "nba_upsell", "3", "2026-10-01", "r1", "champion")
    warehouse.record_selection(con, "churn", "nba_churn", "1", "2026-10-01", "r2", "first")
    warehouse.record_selection(con, "churn", "nba_churn", "2", "2026-11-01", "r3", "retrained")
    assert warehouse.read_model_versions(con) == {"churn": "2", "upsell": "3"}
    assert sorted(warehouse.read_selected_models(con)) == [("churn", "nba_churn", "2"), ("upsell", "nba_upsell", "3")]
    assert warehouse.read_model_selection(con)["reason"].tolist() == ["retrained", "champion"]


def test_decisions_and_their_summary_are_written_for_one_date():
    con = duckdb.connect()
    as_of = dt.date(2026, 11, 1)
    assert warehouse.read_decision_summary(con, as_of) == {}
    nba = pd.DataFrame({"customer_id": ["b", "a"], "action_id": pd.Categorical(["x", "y"])})
    summary = {"total_expected_value": 12.5, "solver": {"method": "greedy"}, "as_of": as_of}
    warehouse.write_decisions(con, as_of, nba, nba, nba[["customer_id"]], summary)
    assert con.execute("SELECT customer_id, action_id FROM next_best_actions").fetchall() == [("b", "x"), ("a", "y")]
    assert con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'decision_audit' "
                       "AND column_name = 'action_id'").fetchall() == [("VARCHAR",)]
    assert warehouse.read_decision_summary(con, as_of) == {"total_expected_value": 12.5, "solver": {"method": "greedy"},
                                                          "as_of": "2026-11-01"}
    assert warehouse.read_decision_summary(con, dt.date(2026, 11, 2)) == {}


def test_action_response_is_stored_by_customer_and_action():
    con = duckdb.connect()
    scores = pd.DataFrame({"customer_id": ["b", "a"], "clv": [1.0, 2.0]})
    responses = pd.DataFrame({"customer_id": ["b", "a", "a"], "action_id": ["x", "y", "x"]})
    warehouse.write_scores(con, scores, responses)
    assert con.execute("SELECT customer_id FROM customer_scores").fetchall() == [("b",), ("a",)]
    assert con.execute("SELECT * FROM action_response").fetchall() == [("a", "x"), ("a", "y"), ("b", "x")]


def test_tonights_drift_warnings_are_kept_for_the_run_summary():
    import duckdb
    import pandas as pd

    from models import warehouse

    with duckdb.connect() as con:
        assert warehouse.read_drifted_columns(con) == {}
        warehouse.write_score_drift(con, None)  # a first scored night: nothing to compare with
        assert warehouse.read_drifted_columns(con) == {}
        drift = pd.DataFrame({"column": ["clv", "churn_probability"], "psi": [0.05, 0.31], "drifted": [False, True],
                              "extra": [1, 2]})
        warehouse.write_score_drift(con, drift)
        assert warehouse.read_drifted_columns(con) == {"churn_probability": 0.31}
