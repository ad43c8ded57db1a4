"""Buy-till-you-die features: a BG/NBD + Gamma-Gamma model fitted point in time on the whole base.

Why: on short, purchase-only histories (a 9-month log with no interactions) a probabilistic model of each
customer's purchase rate, dropout and order value ranks future revenue better than trees on window counts
(measured on CDNOW, models/cards/clv.md). It is fitted at every as-of date / training cut-off on every customer
known then (only purchases strictly before the date), and its outputs become model features, so XGBoost can use
it, and the CLV / churn baselines (models/training/baselines.py) can score with it.

Inputs per customer, in days (Fader, Hardie & Lee 2005; lifetimes' `summary_data_from_transaction_data`):
`btyd_frequency` = days with a completed purchase after the first one (x), `btyd_recency_days` = first to last
purchase day (t_x), `btyd_age_days` = first purchase day to the date (T), `btyd_monetary` = mean revenue of the
repeat purchase days (m; 0 without repeats). A customer without a purchase has x = t_x = 0 and T = days since
signup: the model then reads signing up as the first purchase. Fitting uses lifetimes 0.11.3 (BetaGeoFitter,
GammaGammaFitter), unpenalised unless that fails; at most MAX_FIT_CUSTOMERS, chosen by a hash of the id (deterministic, no seed needed).

Pareto/NBD (models/features/pareto_nbd.py) is the second purchase model, fitted on the same inputs and sample only
where a baseline needs it (the evaluation cut-off, tonight), never for the features; the night's held-out metrics
choose between them (models/training/baselines.py).
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from models.features import pareto_nbd

INPUT_COLUMNS: tuple[str, ...] = ("btyd_frequency", "btyd_recency_days", "btyd_age_days", "btyd_monetary")
OUTPUT_COLUMNS: tuple[str, ...] = ("btyd_p_alive", "btyd_purchases_90d", "btyd_purchases_365d", "btyd_order_value")
BTYD_COLUMNS: tuple[str, ...] = INPUT_COLUMNS + OUTPUT_COLUMNS
# Fitting is the cost (it runs at every as-of date, training cut-off and response campaign date): a 25,000-customer
# hashed sample estimates the 7 parameters well and kept CDNOW (23,570 customers) whole. The 100k bench night took
# 172.5 s with 100,000 and 130.2 s with 25,000 (response model 76.5 s -> 47.2 s).
MAX_FIT_CUSTOMERS = 25_000
REFIT_EVERY_DAYS = 91  # training frames over many past dates: parameters refitted once a quarter (add_btyd_features)
# The published maximum likelihood first; when it fails, a small L2 penalty (lifetimes' advice for small bases).
# On CDNOW (1997-10-01, next 39 weeks) 0.0 gave Spearman 0.420 / total -18.6 %, 0.001 gave 0.406 / -10.1 %.
PENALIZERS = (0.0, 0.001)
BG_NBD, PARETO_NBD = "bg_nbd", "pareto_nbd"  # the purchase models a BtydFit may hold
PURCHASE_PARAMETERS = {BG_NBD: ("r", "alpha", "a", "b"), PARETO_NBD: ("r", "alpha", "s", "beta")}
MODEL_NAMES = {BG_NBD: "BG/NBD + Gamma-Gamma", PARETO_NBD: "Pareto/NBD + Gamma-Gamma"}


@dataclass(frozen=True)
class BtydFit:
    """Fitted purchase model (`model`: BG/NBD (r, alpha, a, b) or Pareto/NBD (r, alpha, s, beta)) and Gamma-Gamma
    (p, q, v) parameters; gamma_gamma is None when fewer than two customers had a repeat purchase (order value then
    falls back to the customer's own mean)."""

    purchase_params: tuple[float, float, float, float]
    gamma_gamma: tuple[float, float, float] | None
    n_customers: int
    model: str = BG_NBD

    def __setstate__(self, state: dict) -> None:
        """A fit pickled before Pareto/NBD (a baseline version in an existing MLflow store) named its parameters
        `bg_nbd`: it still loads, as the BG/NBD fit it is."""
        if "bg_nbd" in state:
            state = {"model": BG_NBD, **{k: v for k, v in state.items() if k != "bg_nbd"},
                     "purchase_params": state["bg_nbd"]}
        self.__dict__.update(state)

    @property
    def name(self) -> str:
        """'BG/NBD + Gamma-Gamma' or 'Pareto/NBD + Gamma-Gamma' (a baseline's rule, in reasons and the card)."""
        return MODEL_NAMES[self.model]

    def expected_purchases(self, X: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """E[purchase days in the next `horizon_days` | history] per row of X (INPUT_COLUMNS)."""
        x, t_x, T = _inputs(X)
        if self.model == PARETO_NBD:
            expected = pareto_nbd.expected_purchases(self.purchase_params, float(horizon_days), x, t_x, T)
        else:
            expected = _bg_nbd(self).conditional_expected_number_of_purchases_up_to_time(float(horizon_days), x, t_x, T)
        return np.nan_to_num(expected, nan=0.0, posinf=0.0)

    def churn_score(self, X: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """A churn score in [0, 1]: exp(-E[purchase days over the horizon]), the chance of none if they came as a
        Poisson count. It ranks like fewer expected purchases; a calibrator makes it a probability."""
        return np.exp(-self.expected_purchases(X, horizon_days))

    def p_alive(self, X: pd.DataFrame) -> np.ndarray:
        """P(the customer has not dropped out | history)."""
        x, t_x, T = _inputs(X)
        alive = (pareto_nbd.p_alive(self.purchase_params, x, t_x, T) if self.model == PARETO_NBD
                 else _bg_nbd(self).conditional_probability_alive(x, t_x, T))
        return np.clip(np.nan_to_num(alive, nan=0.0), 0.0, 1.0)

    def order_value(self, X: pd.DataFrame) -> np.ndarray:
        """E[revenue of a purchase day]: the Gamma-Gamma posterior mean, shrinking a customer's own mean
        (of x repeat days) towards the population's; without repeats, the population mean."""
        x, m = X["btyd_frequency"].to_numpy(float), X["btyd_monetary"].to_numpy(float)
        if self.gamma_gamma is None:
            return np.where(x > 0, m, 0.0)
        p, q, v = self.gamma_gamma
        population = p * v / (q - 1) if q > 1 else float(np.mean(m[x > 0])) if (x > 0).any() else 0.0
        weight = p * x / (p * x + q - 1) if q > 1 else np.where(x > 0, 1.0, 0.0)
        return np.where(x > 0, (1 - weight) * population + weight * m, population)

    def revenue(self, X: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """Expected revenue over the next `horizon_days`: expected purchase days x expected order value."""
        return self.expected_purchases(X, horizon_days) * self.order_value(X)

    def params(self) -> dict[str, float]:
        """The parameters by their published names (for MLflow and the model card)."""
        names = dict(zip(PURCHASE_PARAMETERS[self.model], self.purchase_params))
        return {**names, **(dict(zip(("p", "q", "v"), self.gamma_gamma)) if self.gamma_gamma else {})}


def btyd_inputs_sql(as_of: date, customers: str, purchases: str, only: str | None = None) -> str:
    """(customer_id, INPUT_COLUMNS) for every customer who signed up before `as_of`, from completed purchases
    strictly before it, one row per customer ordered by id. Revenue per day is summed exactly (DECIMAL).
    `only`: a table whose customer_id column restricts the rows (each row depends on its own customer's records
    only, so a restricted row equals the whole base's)."""
    cutoff = f"DATE '{as_of.isoformat()}'"
    among = f" AND customer_id IN (SELECT customer_id FROM {only})" if only else ""
    return f"""
WITH days AS (
  -- exact decimal sums: a parallel float sum's last bits vary between runs and flip a rounding at 1e-4
  SELECT customer_id, CAST(order_ts AS DATE) AS day, sum(CAST(amount AS DECIMAL(18, 4))) AS revenue
  FROM {purchases}
  WHERE order_ts < {cutoff} AND coalesce(status, 'completed') = 'completed' AND customer_id IS NOT NULL{among}
  GROUP BY customer_id, CAST(order_ts AS DATE)),
per AS (
  SELECT customer_id, count(*) - 1 AS x, min(day) AS first_day, max(day) AS last_day,
         round(CAST(sum(revenue) - arg_min(revenue, day) AS DOUBLE) / greatest(count(*) - 1, 1), 4) AS m
  FROM days GROUP BY customer_id)
SELECT c.customer_id,
  CAST(coalesce(p.x, 0) AS DOUBLE) AS btyd_frequency,
  CAST(coalesce(date_diff('day', p.first_day, p.last_day), 0) AS DOUBLE) AS btyd_recency_days,
  CAST(greatest(date_diff('day', coalesce(p.first_day, CAST(c.signup_date AS DATE)), {cutoff}), 1) AS DOUBLE)
    AS btyd_age_days,
  CAST(CASE WHEN coalesce(p.x, 0) > 0 THEN greatest(p.m, 0) ELSE 0 END AS DOUBLE) AS btyd_monetary
FROM {customers} c LEFT JOIN per p USING (customer_id)
WHERE (c.signup_date < {cutoff} OR p.customer_id IS NOT NULL){among.replace("customer_id", "c.customer_id", 1)}
ORDER BY c.customer_id"""


def fit_btyd(inputs: pd.DataFrame, model: str = BG_NBD) -> BtydFit | None:
    """Fit `model` (BG/NBD or Pareto/NBD) on every row of `inputs` (INPUT_COLUMNS; at most MAX_FIT_CUSTOMERS, picked
    by the caller) and Gamma-Gamma on the rows with repeat purchases of positive value. None when the base is too
    small or the optimiser fails (or ends at a non-finite likelihood): the features are then missing (XGBoost handles
    NaN) and the baselines fall back (from Pareto/NBD to the next best baseline, from BG/NBD to the rules)."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter  # imported here: ~0.3 s, needed only when fitting

    if len(inputs) < 10 or not (inputs["btyd_frequency"] > 0).any():
        return None
    x, t_x, T = _inputs(inputs)
    m = inputs["btyd_monetary"].to_numpy(float)
    repeat = (x > 0) & (m > 0)
    if model == PARETO_NBD:
        purchases = _quietly(lambda penalizer: pareto_nbd.fit(x, t_x, T, penalizer), PURCHASE_PARAMETERS[model])
    else:
        purchases = _quietly(lambda penalizer: BetaGeoFitter(penalizer_coef=penalizer).fit(x, t_x, T).params_,
                             PURCHASE_PARAMETERS[BG_NBD])
    if purchases is None:
        return None
    gg = None
    if repeat.sum() >= 2:
        gg = _quietly(lambda penalizer: GammaGammaFitter(penalizer_coef=penalizer).fit(x[repeat], m[repeat]).params_,
                      ("p", "q", "v"))
    return BtydFit(purchases, gg, len(inputs), model)


def _quietly(fit, names: tuple[str, ...]) -> tuple[float, ...] | None:
    """The parameters `names` (of the mapping `fit(penalizer)` returns) of the first of PENALIZERS whose fit
    converges to finite positive values, else None. lifetimes prints the optimiser's state before raising
    ConvergenceError: kept off the night's output."""
    for penalizer in PENALIZERS:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                params = fit(penalizer)
        except Exception:  # ConvergenceError, or scipy / autograd errors on a degenerate base
            continue
        values = tuple(float(params[k]) for k in names)
        if all(math.isfinite(v) and v > 0 for v in values):
            return values
    return None


def btyd_outputs(fit: BtydFit | None, inputs: pd.DataFrame) -> pd.DataFrame:
    """OUTPUT_COLUMNS for each row of `inputs` (NaN when no model could be fitted)."""
    if fit is None:
        return pd.DataFrame({c: np.full(len(inputs), np.nan) for c in OUTPUT_COLUMNS}, index=inputs.index)
    return pd.DataFrame({"btyd_p_alive": fit.p_alive(inputs),
                         "btyd_purchases_90d": fit.expected_purchases(inputs, 90),
                         "btyd_purchases_365d": fit.expected_purchases(inputs, 365),
                         "btyd_order_value": fit.order_value(inputs)}, index=inputs.index)


def fit_btyd_at(con: duckdb.DuckDBPyConnection, as_of: date, *, customers: str = "golden_customers",
                purchases: str = "purchases", model: str = BG_NBD) -> tuple[BtydFit | None, pd.DataFrame]:
    """(fit of `model`, inputs of every customer known at `as_of`): the model fitted on the whole base, never a
    sample of labelled rows, so features at a training cut-off and tonight come from the same procedure."""
    inputs = con.execute(btyd_inputs_sql(as_of, customers, purchases)).df()
    return fit_btyd(fit_sample(inputs), model), inputs


def fit_sample(inputs: pd.DataFrame) -> pd.DataFrame:
    """The customers a model is fitted on: all of `inputs`, or MAX_FIT_CUSTOMERS of them chosen by a hash of the id
    (deterministic; the same for every purchase model fitted on the same inputs)."""
    if len(inputs) <= MAX_FIT_CUSTOMERS:
        return inputs
    order = pd.util.hash_pandas_object(inputs["customer_id"].astype(str), index=False).to_numpy()
    return inputs.iloc[np.sort(np.argsort(order, kind="stable")[:MAX_FIT_CUSTOMERS])]


def fit_date(as_of: date, every_days: int = REFIT_EVERY_DAYS) -> date:
    """The latest date not after `as_of` on a fixed grid (every `every_days` days from 1970-01-01)."""
    return as_of - timedelta(days=(as_of - date(1970, 1, 1)).days % every_days)


def add_btyd_features(con: duckdb.DuckDBPyConnection, table: str, as_of: date, *, customers: str,
                      purchases: str, fits: dict | None = None) -> None:
    """Add BTYD_COLUMNS to `table` (customer_id, …): fitted on every customer known at `as_of`, so a table
    restricted to a population (a training sample, a shard) gets the same values as the whole base.

    `fits` (a dict the caller keeps across dates, e.g. the response frame's ~36 campaign dates): the parameters
    are fitted at fit_date(as_of) — at most REFIT_EVERY_DAYS earlier, so on data from before `as_of` only — once
    per grid date, and each customer's own purchases up to `as_of` go through them, read for the customers of
    `table` only. The fits were 23 of the 31 s a 20,000-customer response frame took; reading every customer's
    inputs at each of its ~36 dates, 60 of the 265 s a 1,000,000-customer one took."""
    if fits is None:
        fit, inputs = fit_btyd_at(con, as_of, customers=customers, purchases=purchases)
    else:
        grid = fit_date(as_of)
        if grid not in fits:
            fits[grid] = fit_btyd_at(con, grid, customers=customers, purchases=purchases)[0]
        fit, inputs = fits[grid], con.execute(btyd_inputs_sql(as_of, customers, purchases, only=table)).df()
    frame = pd.concat([inputs, btyd_outputs(fit, inputs)], axis=1)
    con.register("_btyd_df", frame)
    try:
        columns = ", ".join(f"b.{c}" for c in BTYD_COLUMNS)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT t.*, {columns} FROM {table} t "
                    "LEFT JOIN _btyd_df b USING (customer_id) ORDER BY t.customer_id")
    finally:
        con.unregister("_btyd_df")


def _inputs(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = X["btyd_frequency"].to_numpy(float)
    T = np.maximum(X["btyd_age_days"].to_numpy(float), 1.0)
    return x, np.minimum(X["btyd_recency_days"].to_numpy(float), T), T


def _bg_nbd(fit: BtydFit):
    from lifetimes import BetaGeoFitter

    model = BetaGeoFitter()
    model.params_ = pd.Series(dict(zip(PURCHASE_PARAMETERS[BG_NBD], fit.purchase_params)))
    return model
