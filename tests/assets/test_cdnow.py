"""The real-data test bed: the CDNOW purchase log (shipped inside lifetimes, nothing downloaded), every 20th
customer, run as a new user would at its own dates. The full log's figures come from `python -m demo.cdnow`
(models/cards/clv.md): this test keeps the suite fast and checks what must hold on any sample."""
import datetime as dt
import json

import pandas as pd
import pytest

from demo import cdnow
from tests.conftest import query


@pytest.fixture(scope="module")
def cdnow_home(tmp_path_factory):
    from pipelines.runner import run_nightly

    root = tmp_path_factory.mktemp("cdnow")
    landing = cdnow.write_landing(root / "landing", every=20)
    config = root / "config.yaml"
    config.write_text(cdnow.CONFIG + "  max_training_rows_per_cutoff: 3000\n  xgboost_params: {num_boost_round: 40}\n",
                      encoding="utf-8")
    outcome = run_nightly(root / "home", landing, cdnow.AS_OF, config)
    assert outcome.success, outcome.message
    return root / "home"


def test_the_first_night_on_a_1997_purchase_only_log_publishes_lists(cdnow_home):
    exports = cdnow_home / "exports" / cdnow.AS_OF.isoformat()
    manifest = json.loads((exports / "manifest.json").read_text())
    email = pd.read_csv(exports / "email.csv")
    assert len(email) > 50  # everyone has e-mail consent in the test bed: a first night contacts many
    scores = pd.read_parquet(exports / "customer_scores.parquet")
    assert len(scores) == 1179 and set(scores["clv_horizon_days"]) == {cdnow.HORIZON_DAYS}
    assert manifest["baseline_models"] == sorted(
        t for t, rule in query(cdnow_home, "SELECT target, coalesce(baseline_rule, '') FROM model_selection") if rule)


def test_bg_nbd_is_fitted_on_the_real_log_and_gates_churn_and_clv(cdnow_home):
    fitted = query(cdnow_home, "SELECT count(*), count(btyd_p_alive), min(btyd_age_days), max(btyd_age_days) "
                               "FROM customer_features")[0]
    # every customer first bought in Q1 1997: 183 .. 273 days before the night, and the fit succeeded for all
    assert fitted[:2] == (1179, 1179) and 183.0 <= fitted[2] < fitted[3] == 273.0
    reasons = dict(query(cdnow_home, "SELECT target, reason FROM model_selection"))
    rules = dict(query(cdnow_home, "SELECT target, coalesce(baseline_rule, '') FROM model_selection"))
    for target in ("churn", "clv"):  # a baseline that scores says which won and by what
        if rules[target]:
            assert "BG/NBD + Gamma-Gamma" in reasons[target] and "held-out" in reasons[target]


def test_measured_figures_compare_the_night_and_bg_nbd_on_the_real_next_39_weeks(cdnow_home):
    figures = cdnow.measure(cdnow_home)
    log = cdnow.read_log()
    ids = {r[0] for r in query(cdnow_home, "SELECT customer_id FROM customer_scores")}
    window = log[(log["date"] >= "1997-10-01") & (log["date"] <= "1998-06-30") & log["customer_id"].isin(ids)]
    assert figures["realised_total"]["revenue"] == pytest.approx(window["amount"].sum(), abs=0.01)
    for name in ("night_clv", "bg_nbd_gamma_gamma"):
        assert figures[name]["n_eval"] == 1179
        assert figures[name]["spearman"] > 0.25  # a real ranking on real purchases, not noise
    assert abs(figures["bg_nbd_gamma_gamma"]["total_percent_error"]) < 30
