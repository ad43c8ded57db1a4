"""BG/NBD + Gamma-Gamma features: the published inputs (checked against lifetimes' own summary on the CDNOW sample
it ships), fitted point in time on the whole base, and predictions that behave as the model says."""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from demo.cdnow import cdnow_path, read_log
from models.features import pareto_nbd
from models.features.btyd import (BG_NBD, BTYD_COLUMNS, INPUT_COLUMNS, PARETO_NBD, REFIT_EVERY_DAYS, add_btyd_features,
                                  btyd_inputs_sql, btyd_outputs, fit_btyd, fit_btyd_at, fit_date)

AS_OF = date(1997, 10, 1)


@pytest.fixture(scope="module")
def cdnow_sample() -> duckdb.DuckDBPyConnection:
    """The CDNOW sample lifetimes ships (2,357 customers) as golden tables; a few returns and zero-value rows."""
    log = read_log(cdnow_path().with_name("CDNOW_sample.txt").resolve())
    log = log.rename(columns={"date": "order_ts"})
    log["status"] = "completed"
    log.loc[log.index % 97 == 0, "status"] = "returned"  # returns are not purchases
    con = duckdb.connect()
    con.register("log", log)
    con.execute("CREATE TABLE purchases AS SELECT customer_id, order_ts, amount, status FROM log")
    con.execute("CREATE TABLE golden_customers AS SELECT customer_id, CAST(min(order_ts) AS DATE) AS signup_date "
                "FROM log GROUP BY customer_id")
    con.unregister("log")
    return con


def test_inputs_equal_lifetimes_own_summary_of_the_purchases_before_the_date(cdnow_sample):
    from lifetimes.utils import summary_data_from_transaction_data

    ours = cdnow_sample.execute(btyd_inputs_sql(AS_OF, "golden_customers", "purchases")).df().set_index("customer_id")
    log = cdnow_sample.execute("SELECT * FROM purchases WHERE status = 'completed' AND order_ts < ?", [AS_OF]).df()
    theirs = summary_data_from_transaction_data(log, "customer_id", "order_ts", monetary_value_col="amount",
                                                observation_period_end=pd.Timestamp(AS_OF), freq="D")
    theirs = theirs.reindex(ours.index)
    bought = theirs["frequency"].notna()
    assert bought.sum() > 2000 and (~bought).sum() > 0  # customers whose only purchases were returns are kept
    for column, their_column in (("btyd_frequency", "frequency"), ("btyd_recency_days", "recency"),
                                 ("btyd_age_days", "T")):
        np.testing.assert_array_equal(ours.loc[bought, column].to_numpy(), theirs.loc[bought, their_column].to_numpy())
    np.testing.assert_allclose(ours.loc[bought, "btyd_monetary"], theirs.loc[bought, "monetary_value"], atol=1e-3)


def test_the_fit_ranks_a_frequent_recent_buyer_above_a_lapsed_one(cdnow_sample):
    fit, inputs = fit_btyd_at(cdnow_sample, AS_OF)
    assert fit is not None and fit.gamma_gamma is not None and fit.n_customers == len(inputs)
    probe = pd.DataFrame({"btyd_frequency": [8.0, 8.0, 0.0], "btyd_recency_days": [260.0, 40.0, 0.0],
                          "btyd_age_days": [265.0, 265.0, 265.0], "btyd_monetary": [30.0, 30.0, 0.0]})
    out = btyd_outputs(fit, probe)
    assert out["btyd_p_alive"][0] > 0.9 > out["btyd_p_alive"][1]  # same purchases, but stopped 225 days ago
    assert out["btyd_purchases_90d"][0] > 5 * out["btyd_purchases_90d"][1]
    assert out["btyd_purchases_365d"][0] > out["btyd_purchases_90d"][0]
    p, q, v = fit.gamma_gamma
    assert out["btyd_order_value"][2] == pytest.approx(p * v / (q - 1))  # no repeats: the population's mean
    assert fit.revenue(probe, 273)[0] == pytest.approx(fit.expected_purchases(probe, 273)[0] * out["btyd_order_value"][0])


def test_a_population_restricted_table_gets_the_values_of_the_whole_base(cdnow_sample):
    """A training sample or a shard must not fit its own model: values equal those of the full table."""
    con = cdnow_sample
    con.execute("CREATE OR REPLACE TABLE everyone AS SELECT customer_id FROM golden_customers ORDER BY customer_id")
    con.execute("CREATE OR REPLACE TABLE shard AS SELECT customer_id FROM golden_customers WHERE hash(customer_id) % 7 = 0")
    for table in ("everyone", "shard"):
        add_btyd_features(con, table, AS_OF, customers="golden_customers", purchases="purchases")
    full = con.execute("SELECT * FROM everyone").df().set_index("customer_id")
    part = con.execute("SELECT * FROM shard").df().set_index("customer_id")
    assert list(part.columns) == list(BTYD_COLUMNS) and 200 < len(part) < 500
    pd.testing.assert_frame_equal(part, full.loc[part.index])


def test_no_purchase_on_or_after_the_date_changes_the_inputs_or_the_fit(cdnow_sample):
    cut = date(1997, 4, 1)
    before = cdnow_sample.execute(btyd_inputs_sql(cut, "golden_customers", "purchases")).df()
    cdnow_sample.execute("CREATE OR REPLACE TABLE early AS SELECT * FROM purchases WHERE order_ts < ?", [cut])
    assert cdnow_sample.execute("SELECT count(*) FROM early").fetchone()[0] < \
        cdnow_sample.execute("SELECT count(*) FROM purchases").fetchone()[0]
    cut_extracts = cdnow_sample.execute(btyd_inputs_sql(cut, "golden_customers", "early")).df()
    pd.testing.assert_frame_equal(cut_extracts, before)
    assert fit_btyd(cut_extracts) == fit_btyd(before)


@pytest.mark.parametrize("model", [BG_NBD, PARETO_NBD])
def test_a_purchase_on_or_after_the_date_changes_no_fit_and_one_before_it_does(cdnow_sample, model):
    """Point in time for both purchase models: fitted only on completed purchases strictly before the date."""
    con, cut = cdnow_sample, date(1997, 4, 1)
    con.execute("CREATE OR REPLACE TABLE later AS SELECT * FROM purchases WHERE order_ts < ? UNION ALL "
                "SELECT customer_id, CAST(? AS TIMESTAMP) + INTERVAL (n) DAY, 25.0, 'completed' "
                "FROM (SELECT customer_id FROM golden_customers LIMIT 300), range(0, 3) t(n)", [cut, cut])
    con.execute("CREATE OR REPLACE TABLE earlier AS SELECT * FROM later UNION ALL "
                "SELECT customer_id, CAST(? AS TIMESTAMP) - INTERVAL 1 DAY, 25.0, 'completed' "
                "FROM (SELECT customer_id FROM golden_customers LIMIT 300)", [cut])
    fits = {table: fit_btyd_at(con, cut, purchases=table, model=model)[0]
            for table in ("purchases", "later", "earlier")}
    assert fits["purchases"] is not None and fits["purchases"].model == model
    assert fits["later"] == fits["purchases"]  # 900 purchases on and after the date: nothing moved
    assert fits["earlier"] != fits["purchases"]  # 300 the day before: the fit sees them


def test_a_pareto_nbd_fit_that_fails_or_ends_at_nan_gives_no_fit_and_bg_nbd_still_fits(cdnow_sample, monkeypatch):
    inputs = cdnow_sample.execute(btyd_inputs_sql(AS_OF, "golden_customers", "purchases")).df()
    assert fit_btyd(inputs, PARETO_NBD).name == "Pareto/NBD + Gamma-Gamma"

    def no_convergence(*args, **kwargs):
        raise pareto_nbd.ConvergenceError("Pareto/NBD did not converge: ABNORMAL")

    for broken in (no_convergence, lambda *a, **k: {"r": np.nan, "alpha": 1.0, "s": 1.0, "beta": 1.0}):
        monkeypatch.setattr(pareto_nbd, "fit", broken)
        assert fit_btyd(inputs, PARETO_NBD) is None
        assert fit_btyd(inputs, BG_NBD).model == BG_NBD


def test_fits_kept_across_dates_come_from_an_earlier_grid_date_and_read_nothing_on_or_after_the_date(cdnow_sample):
    """The response frame's many campaign dates share one fit per quarter: fitted at a grid date on or before each
    date, so a purchase on or after the date changes neither the parameters nor the customer's inputs."""
    con, day = cdnow_sample, date(1997, 6, 17)
    grid = fit_date(day)
    assert grid <= day and (day - grid).days < REFIT_EVERY_DAYS and fit_date(grid) == grid
    assert fit_date(grid + timedelta(days=REFIT_EVERY_DAYS)) == grid + timedelta(days=REFIT_EVERY_DAYS)
    con.execute("CREATE OR REPLACE TABLE early AS SELECT * FROM purchases WHERE order_ts < ?", [day])
    values = {}
    for purchases in ("purchases", "early"):
        fits: dict = {}
        con.execute("CREATE OR REPLACE TABLE pop AS SELECT customer_id FROM golden_customers ORDER BY customer_id")
        add_btyd_features(con, "pop", day, customers="golden_customers", purchases=purchases, fits=fits)
        assert list(fits) == [grid]
        values[purchases] = con.execute("SELECT * FROM pop ORDER BY customer_id").df()
    pd.testing.assert_frame_equal(values["purchases"], values["early"])
    assert values["early"]["btyd_p_alive"].notna().all()


def test_too_small_or_repeatless_bases_give_no_fit_rather_than_invented_numbers():
    tiny = pd.DataFrame({"btyd_frequency": [1.0, 0.0], "btyd_recency_days": [5.0, 0.0],
                         "btyd_age_days": [9.0, 9.0], "btyd_monetary": [3.0, 0.0]})
    assert fit_btyd(tiny) is None
    no_repeats = pd.DataFrame({"btyd_frequency": [0.0] * 50, "btyd_recency_days": [0.0] * 50,
                               "btyd_age_days": np.arange(1.0, 51.0), "btyd_monetary": [0.0] * 50})
    assert fit_btyd(no_repeats) is None
    assert btyd_outputs(None, tiny).isna().all().all()


def test_a_fit_pickled_before_pareto_nbd_still_loads_as_the_bg_nbd_fit_it_is():
    """Baseline versions logged by the version before Pareto/NBD hold a BtydFit whose parameters were named
    `bg_nbd`: an existing MLflow store must still load them (pickle state as that version wrote it)."""
    import pickle

    from models.features.btyd import BG_NBD, BtydFit

    written = object.__new__(BtydFit)  # pickled as the old class did: the class, then its fields as the state
    written.__dict__.update({"bg_nbd": (0.24, 4.4, 0.79, 2.4), "gamma_gamma": (6.2, 3.9, 15.4), "n_customers": 100})
    data = pickle.dumps(written)
    assert b"bg_nbd" in data and b"purchase_params" not in data
    new = BtydFit((0.24, 4.4, 0.79, 2.4), (6.2, 3.9, 15.4), 100)
    old = pickle.loads(data)
    assert old.purchase_params == new.purchase_params and old.model == BG_NBD
    assert old.params() == new.params()
    assert pickle.loads(pickle.dumps(new)) == new
