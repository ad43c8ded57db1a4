"""A company with only a customer list and purchases (no interactions, no optional columns) gets a night too."""

import pandas as pd

from tests.conftest import AS_OF, query


def test_night_runs_on_required_columns_and_no_interactions(tmp_path, small_world, fast_config):
    from pipelines.runner import run_nightly

    landing = tmp_path / "landing"
    landing.mkdir()
    customers = pd.read_csv(small_world / "customers.csv", dtype=str)
    customers[["customer_id", "signup_date", "email", "consent_email"]].to_csv(landing / "customers.csv", index=False)
    purchases = pd.read_csv(small_world / "purchases.csv", dtype=str)
    purchases[["order_id", "customer_id", "order_ts", "amount"]].to_csv(landing / "purchases.csv", index=False)

    outcome = run_nightly(tmp_path / "home", landing, AS_OF, fast_config)
    assert outcome.success, outcome.message
    home = tmp_path / "home"
    assert query(home, "SELECT count(*) FROM stg_interactions")[0][0] == 0
    sources = {r[0] for r in query(home, "SELECT DISTINCT source FROM action_response")}
    assert sources == {"prior"}  # no campaign history: every action falls back to its documented prior
    channels = {r[0] for r in query(home, "SELECT DISTINCT channel FROM next_best_actions WHERE chosen AND action_id <> 'no_action'")}
    assert channels <= {"email"}  # only email consent was delivered; missing consent means no consent
    assert (home / "exports" / AS_OF.isoformat() / "manifest.json").exists()
