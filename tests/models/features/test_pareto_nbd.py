"""Pareto/NBD: the likelihood and predictions equal lifetimes' closed form where that one is sound, stay exact and
finite where it is not, and the fit recovers a known process, the same way whatever the order of the rows."""
import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from models.features import pareto_nbd

TRUE = (0.55, 10.0, 0.6, 12.0)  # r, alpha, s, beta in days: a purchase every ~18 days, a lifetime of ~20 days


def _simulate(n: int, params=TRUE, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of `n` customers drawn from the Pareto/NBD process, observed for 10 to 40 days."""
    r, alpha, s, beta = params
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    T = rng.uniform(10.0, 40.0, n)
    observed = np.minimum(rng.exponential(1 / dropout), T)
    x = rng.poisson(rate * observed).astype(float)
    t_x = np.where(x > 0, observed * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)  # the last of x uniform times
    return x, t_x, T


def test_likelihood_and_predictions_equal_lifetimes_closed_form_where_it_is_sound():
    from lifetimes import ParetoNBDFitter

    x, t_x, T = _simulate(3000)
    theirs = ParetoNBDFitter()
    theirs.params_ = pd.Series(dict(zip(pareto_nbd.PARAMETERS, TRUE)))
    np.testing.assert_allclose(pareto_nbd.log_likelihood(TRUE, x, t_x, T),
                               ParetoNBDFitter._conditional_log_likelihood(TRUE, x.astype(int), t_x, T), rtol=1e-9)
    np.testing.assert_allclose(pareto_nbd.p_alive(TRUE, x, t_x, T),
                               theirs.conditional_probability_alive(x, t_x, T), rtol=1e-9)
    np.testing.assert_allclose(pareto_nbd.expected_purchases(TRUE, 30.0, x, t_x, T),
                               theirs.conditional_expected_number_of_purchases_up_to_time(30.0, x, t_x, T), rtol=1e-9)


def test_the_dropout_integral_is_exact_on_the_ridge_where_the_closed_form_fails():
    """CDNOW at 1997-04-01 (ages up to 90 days, scaled to 10) led lifetimes' optimiser to s = 178, beta = 219, where
    its closed form gave NaN for 559 customers; the integral stays equal to adaptive quadrature, extreme rows too."""
    r, alpha, s, beta = 0.5233, 0.6688, 177.7, 219.1
    x = np.array([0.0, 1.0, 5.0, 21.0, 21.0, 3.0])
    t_x = np.array([0.0, 0.2, 9.0, 2.4, 9.9, 9.99])
    T = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    _, dropout = pareto_nbd.log_terms((r, alpha, s, beta), x, t_x, T)
    for i in range(len(x)):
        log_f = lambda tau: -(r + x[i]) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)  # noqa: E731
        value, _ = quad(lambda tau: np.exp(log_f(tau) - log_f(t_x[i])), t_x[i], T[i], epsabs=0, epsrel=1e-12,
                        limit=200)  # relative to the integrand's largest value, which underflows (~1e-400)
        assert dropout[i] == pytest.approx(np.log(s) + np.log(value) + log_f(t_x[i]), abs=1e-9)
    alive = pareto_nbd.p_alive((r, alpha, s, beta), x, t_x, T)
    assert np.isfinite(alive).all() and ((alive > 0) & (alive < 1)).all()
    assert alive[4] > alive[3]  # 21 repeat purchases: the one who bought last at 9.9 is likelier alive than at 2.4


def test_the_fit_recovers_a_known_process_and_ignores_the_order_of_the_rows():
    x, t_x, T = _simulate(20_000)
    fitted = pareto_nbd.fit(x, t_x, T)
    params = tuple(fitted[k] for k in pareto_nbd.PARAMETERS)
    assert pareto_nbd.log_likelihood(params, x, t_x, T).sum() >= pareto_nbd.log_likelihood(TRUE, x, t_x, T).sum()
    assert fitted["r"] == pytest.approx(TRUE[0], rel=0.1) and fitted["alpha"] == pytest.approx(TRUE[1], rel=0.1)
    assert fitted["s"] / fitted["beta"] == pytest.approx(TRUE[2] / TRUE[3], rel=0.15)  # mean dropout rate
    order = np.random.default_rng(5).permutation(len(x))
    assert pareto_nbd.fit(x[order], t_x[order], T[order]) == fitted  # same inputs, byte-identical parameters


def test_expected_purchases_grow_with_the_horizon_and_hold_at_s_equal_to_one():
    x, t_x, T = np.array([4.0, 4.0, 0.0]), np.array([30.0, 5.0, 0.0]), np.array([31.0, 31.0, 31.0])
    short, long = (pareto_nbd.expected_purchases(TRUE, t, x, t_x, T) for t in (30.0, 365.0))
    assert (long > short).all() and short[0] > short[1] > 0 and short[2] > 0
    at_one = pareto_nbd.expected_purchases((0.55, 10.0, 1.0, 12.0), 90.0, x, t_x, T)
    near_one = pareto_nbd.expected_purchases((0.55, 10.0, 1.0 + 1e-7, 12.0), 90.0, x, t_x, T)
    np.testing.assert_allclose(at_one, near_one, rtol=1e-5)  # the s = 1 limit, not 0 / 0
