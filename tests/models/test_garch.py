"""GARCH volatility: published arch results, the numba kernels' plain-Python twins, recovery
of known parameters, forecasts and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from riskstream.core.errors import InputError, ModelError
from riskstream.models.garch import (
    SCALE,
    GarchPanel,
    GarchVolatility,
    _backcast,
    _garch11_nll,
    _garch11_variance,
    _garch_simulate,
    _panel_simulate,
)

# Published output of the arch documentation, "Univariate Volatility Modeling"
# (https://bashtage.github.io/arch/univariate/univariate_volatility_modeling.html): S&P 500
# from arch.data.sp500 (1999-01-05 .. 2018-12-31, 5,030 days), returns = 100 * pct_change.
# The page prints estimates to 4 decimals and the log-likelihood to 2, so the tolerances are
# half a unit in the last printed digit plus optimiser noise: 6e-4 on parameters, 0.02 on
# the log-likelihood.
ARCH_DOC_GARCH11_NORMAL = {"mu": 0.0564, "omega": 0.0175, "alpha[1]": 0.1022, "beta[1]": 0.8852}
ARCH_DOC_GARCH11_NORMAL_LL = -6936.72
ARCH_DOC_GJR_NORMAL = {
    "mu": 0.0175,
    "omega": 0.0196,
    "alpha[1]": 0.0,
    "gamma[1]": 0.1831,
    "beta[1]": 0.8922,
}
ARCH_DOC_GJR_NORMAL_LL = -6822.88
# GARCH(1,1) with standardised Student-t errors on the same data is not printed in the arch
# docs (its Student-t example is a TARCH with power 1, outside this model family); the
# reference is the peer library itself, arch 8.0.0: arch_model(100*pct_change, dist="t").
ARCH_PEER_GARCH11_T = {
    "mu": 0.0661,
    "omega": 0.0087,
    "alpha[1]": 0.0996,
    "beta[1]": 0.8999,
    "nu": 6.6072,
}
ARCH_PEER_GARCH11_T_LL = -6834.74
PARAM_TOL = 6e-4
LL_TOL = 0.02


def test_garch11_normal_reproduces_arch_documentation(sp500_simple: np.ndarray) -> None:
    model = GarchVolatility(dist="normal").fit(sp500_simple)
    for name, published in ARCH_DOC_GARCH11_NORMAL.items():
        assert model.params_[name] == pytest.approx(published, abs=PARAM_TOL), name
    assert model.loglikelihood_ == pytest.approx(ARCH_DOC_GARCH11_NORMAL_LL, abs=LL_TOL)
    assert model.nu_ is None
    assert model.mu_ == pytest.approx(model.params_["mu"] / SCALE)


def test_gjr_normal_reproduces_arch_documentation(sp500_simple: np.ndarray) -> None:
    model = GarchVolatility(o=1, dist="normal").fit(sp500_simple)
    for name, published in ARCH_DOC_GJR_NORMAL.items():
        assert model.params_[name] == pytest.approx(published, abs=PARAM_TOL), name
    assert model.loglikelihood_ == pytest.approx(ARCH_DOC_GJR_NORMAL_LL, abs=LL_TOL)


def test_garch11_student_t_matches_arch(sp500_simple: np.ndarray) -> None:
    model = GarchVolatility(dist="t").fit(sp500_simple)
    for name, expected in ARCH_PEER_GARCH11_T.items():
        tol = 5e-3 if name == "nu" else PARAM_TOL
        assert model.params_[name] == pytest.approx(expected, abs=tol), name
    assert model.nu_ == pytest.approx(6.6072, abs=5e-3)
    assert model.loglikelihood_ == pytest.approx(ARCH_PEER_GARCH11_T_LL, abs=LL_TOL)
    # standardised residuals have (about) unit variance, volatility in decimal units
    assert model.standardized_residuals_.std() == pytest.approx(1.0, abs=0.05)
    assert 0.005 < np.median(model.conditional_volatility_) < 0.02


@pytest.mark.parametrize(
    ("o", "dist", "reference", "reference_ll"),
    [
        (0, "normal", ARCH_DOC_GARCH11_NORMAL, ARCH_DOC_GARCH11_NORMAL_LL),
        (1, "normal", ARCH_DOC_GJR_NORMAL, ARCH_DOC_GJR_NORMAL_LL),
        (0, "t", ARCH_PEER_GARCH11_T, ARCH_PEER_GARCH11_T_LL),
    ],
)
def test_panel_fit_matches_the_same_references(
    sp500_simple: np.ndarray, o: int, dist: str, reference: dict, reference_ll: float
) -> None:
    """The fast numba/SLSQP panel estimator lands on arch's optimum (same tolerances)."""
    panel = GarchPanel(o=o, dist=dist).fit(sp500_simple[:, None])
    got = {"mu": panel.mu_[0], "omega": panel.omega_[0], "alpha[1]": panel.alpha_[0]}
    got |= {"gamma[1]": panel.gamma_[0], "beta[1]": panel.beta_[0]}
    if dist == "t":
        got["nu"] = panel.nu_[0]
    for name, expected in reference.items():
        tol = 5e-3 if name == "nu" else PARAM_TOL
        assert got[name] == pytest.approx(expected, abs=tol), name
    assert panel.loglikelihood_[0] == pytest.approx(reference_ll, abs=LL_TOL)


def test_panel_and_arch_agree_on_volatility_path_and_forecast(sp500_simple: np.ndarray) -> None:
    single = GarchVolatility(dist="normal").fit(sp500_simple)
    panel = GarchPanel(dist="normal").fit(sp500_simple[:, None])
    np.testing.assert_allclose(
        panel.conditional_volatility_[:, 0], single.conditional_volatility_, rtol=2e-3
    )
    np.testing.assert_allclose(
        panel.forecast_variance(10)[:, 0], single.forecast_variance(10), rtol=2e-3
    )
    assert panel.next_volatility_[0] == pytest.approx(single.next_volatility_, rel=2e-3)


# --- plain-Python twins of the numba kernels ------------------------------------------


def _variance_twin(y, mu, omega, alpha, gamma, beta, backcast):
    s2 = [omega + alpha * backcast + gamma * 0.5 * backcast + beta * backcast]
    for t in range(1, len(y)):
        e = y[t - 1] - mu
        s2.append(omega + alpha * e * e + gamma * e * e * (e < 0) + beta * s2[-1])
    return np.array(s2)


def _nll_twin(y, mu, omega, alpha, gamma, beta, nu, backcast):
    s2 = _variance_twin(y, mu, omega, alpha, gamma, beta, backcast)
    total = 0.0
    for t in range(len(y)):
        e = y[t] - mu
        if nu is None:
            total += -0.5 * (math.log(2 * math.pi) + math.log(s2[t]) + e * e / s2[t])
        else:
            total += (
                gammaln((nu + 1) / 2)
                - gammaln(nu / 2)
                - 0.5 * math.log(math.pi * (nu - 2))
                - 0.5 * math.log(s2[t])
                - (nu + 1) / 2 * math.log(1 + e * e / (s2[t] * (nu - 2)))
            )
    return -total


def test_variance_and_likelihood_kernels_match_python_twins() -> None:
    y = np.random.default_rng(3).standard_t(6, 400)
    bc = _backcast(y, True)
    np.testing.assert_allclose(
        _garch11_variance(y, 0.02, 0.05, 0.07, 0.06, 0.85, bc),
        _variance_twin(y, 0.02, 0.05, 0.07, 0.06, 0.85, bc),
        rtol=1e-13,
    )
    theta_t = np.array([0.02, 0.05, 0.07, 0.06, 0.85, 7.0])
    assert _garch11_nll(theta_t, y, bc, True, True, True) == pytest.approx(
        _nll_twin(y, 0.02, 0.05, 0.07, 0.06, 0.85, 7.0, bc), rel=1e-12
    )
    theta_n = np.array([0.05, 0.07, 0.85])
    assert _garch11_nll(theta_n, y, bc, False, False, False) == pytest.approx(
        _nll_twin(y, 0.0, 0.05, 0.07, 0.0, 0.85, None, bc), rel=1e-12
    )


def _simulate_twin(mu, omega, alpha, gamma, beta, eps_hist, sigma2_hist, z):
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        e, s2 = list(eps_hist), list(sigma2_hist)
        for h in range(z.shape[1]):
            v = omega
            v += sum(alpha[j] * e[-1 - j] ** 2 for j in range(len(alpha)))
            v += sum(gamma[j] * e[-1 - j] ** 2 * (e[-1 - j] < 0) for j in range(len(gamma)))
            v += sum(beta[j] * s2[-1 - j] for j in range(len(beta)))
            s2.append(v)
            e.append(math.sqrt(v) * z[i, h])
            out[i, h] = mu + e[-1]
    return out


def test_simulation_kernels_match_python_twin() -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal((7, 6))
    alpha, gamma, beta = np.array([0.05, 0.03]), np.array([0.08]), np.array([0.6, 0.2])
    eps_hist, s2_hist = np.array([0.5, -1.2]), np.array([1.1, 0.9])
    np.testing.assert_allclose(
        _garch_simulate(0.01, 0.04, alpha, gamma, beta, eps_hist, s2_hist, z),
        _simulate_twin(0.01, 0.04, alpha, gamma, beta, eps_hist, s2_hist, z),
        rtol=1e-13,
    )
    # the panel kernel is the (1,1,1) case started from sigma2_{T+1}
    z3 = rng.standard_normal((5, 4, 2))
    mu, omega = np.array([0.01, 0.0]), np.array([0.02, 0.05])
    a, g, b = np.array([0.06, 0.1]), np.array([0.1, 0.0]), np.array([0.85, 0.8])
    s2_next = np.array([1.3, 0.7])
    got = _panel_simulate(mu, omega, a, g, b, s2_next, z3)
    for k in range(2):
        # one-lag history equivalent to starting at s2_next: eps_hist=0, sigma2_hist such
        # that omega + beta * s2 = s2_next
        s2_hist = np.array([(s2_next[k] - omega[k]) / b[k]])
        want = _simulate_twin(
            mu[k], omega[k], a[k : k + 1], g[k : k + 1], b[k : k + 1], [0.0], s2_hist, z3[:, :, k]
        )
        np.testing.assert_allclose(got[:, :, k], want, rtol=1e-12)


# --- recovery, forecasts, simulation --------------------------------------------------


def test_panel_recovers_known_garch_t_parameters() -> None:
    """Simulate GARCH(1,1)-t with known parameters (percent units) and re-estimate them.

    Tolerances are about three asymptotic standard errors at n = 4,000 (Bollerslev and
    Wooldridge 1992 sandwich errors of these estimates are ≈ 0.004, 0.01, 0.012, 0.8).
    """
    rng = np.random.default_rng(2024)
    omega, alpha, beta, nu, n = 0.02, 0.08, 0.90, 6.0, 4000
    z = rng.standard_t(nu, (n + 500, 2)) * math.sqrt((nu - 2) / nu)
    y = np.empty_like(z)
    s2 = np.full(2, omega / (1 - alpha - beta))
    for t in range(z.shape[0]):
        y[t] = np.sqrt(s2) * z[t]
        s2 = omega + alpha * y[t] ** 2 + beta * s2
    fit = GarchPanel(dist="t", mean="zero").fit(y[500:] / SCALE)
    np.testing.assert_allclose(fit.omega_, omega, atol=0.012)
    np.testing.assert_allclose(fit.alpha_, alpha, atol=0.03)
    np.testing.assert_allclose(fit.beta_, beta, atol=0.035)
    np.testing.assert_allclose(fit.nu_, nu, atol=2.5)
    np.testing.assert_array_equal(fit.mu_, 0.0)


def test_simulated_variance_matches_analytic_forecast(sp500_log: np.ndarray) -> None:
    """E[r²_{T+h}] of simulated paths equals arch's analytic variance forecast (mean ~0)."""
    model = GarchVolatility(dist="t").fit(sp500_log)
    paths = model.simulate(200_000, 5, rng=11)
    assert paths.shape == (200_000, 5)
    sim_var = ((paths - model.mu_) ** 2).mean(axis=0)
    # Monte Carlo error of a variance from 200k t(6.6) draws: ~1% (kurtosis ≈ 10)
    np.testing.assert_allclose(sim_var, model.forecast_variance(5), rtol=0.03)


def test_simulate_with_given_innovations_is_exact(sp500_log: np.ndarray) -> None:
    model = GarchVolatility(dist="normal", mean="zero").fit(sp500_log)
    z = np.ones((1, 1))
    np.testing.assert_allclose(model.simulate(1, 1, innovations=z), [[model.next_volatility_]])
    with pytest.raises(InputError, match="innovations"):
        model.simulate(2, 3, innovations=np.ones((3, 2)))


def test_simulation_is_deterministic_by_seed(sp500_log: np.ndarray) -> None:
    model = GarchVolatility().fit(sp500_log[-1500:])
    np.testing.assert_array_equal(model.simulate(50, 3, 9), model.simulate(50, 3, 9))
    assert not np.array_equal(model.simulate(50, 3, 9), model.simulate(50, 3, 10))


@pytest.mark.parametrize(
    ("kwargs", "returns", "field"),
    [
        ({}, np.full(500, 0.01), "returns[:, 0]"),
        ({}, np.r_[np.random.default_rng(0).normal(0, 0.01, 300), np.nan], "returns[300, 0]"),
        ({}, np.random.default_rng(0).normal(0, 0.01, 50), "returns.n_obs"),
        ({"p": -1}, np.random.default_rng(0).normal(0, 0.01, 500), "p"),
        ({"dist": "cauchy"}, np.random.default_rng(0).normal(0, 0.01, 500), "dist"),
        ({"mean": "ar"}, np.random.default_rng(0).normal(0, 0.01, 500), "mean"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict, returns: np.ndarray, field: str) -> None:
    with pytest.raises(InputError) as info:
        GarchVolatility(**kwargs).fit(returns)
    assert info.value.field == field


def test_unfitted_models_raise_model_error() -> None:
    with pytest.raises(ModelError):
        GarchVolatility().forecast_variance(1)
    with pytest.raises(ModelError):
        GarchPanel().simulate(1, 1)
    with pytest.raises(InputError, match="'o'"):
        GarchPanel(o=2).fit(np.random.default_rng(0).normal(0, 0.01, (200, 2)))


def test_panel_update_continues_the_filter(sp500_log: np.ndarray) -> None:
    """Online updates with fixed parameters equal the recursion run over the whole sample."""
    y = np.c_[sp500_log[-800:], sp500_log[-1600:-800]]
    panel = GarchPanel(o=1).fit(y[:-5])
    for row in y[-5:]:
        panel.update(row)
    for k in range(2):
        yk = y[:, k] * SCALE
        s2 = _garch11_variance(
            yk,
            panel.mu_[k],
            panel.omega_[k],
            panel.alpha_[k],
            panel.gamma_[k],
            panel.beta_[k],
            _backcast(yk[:-5], True),
        )
        np.testing.assert_allclose(panel.conditional_volatility_[:, k], np.sqrt(s2) / SCALE)
        np.testing.assert_allclose(
            panel.standardized_residuals_[:, k], (yk - panel.mu_[k]) / np.sqrt(s2)
        )
    with pytest.raises(InputError, match=r"r_t\[1\]"):
        panel.update([0.01, np.nan])


@pytest.mark.parametrize("c", [1e-3, 0.1, 10.0, 1e4])
def test_panel_fit_is_scale_equivariant(sp500_log: np.ndarray, c: float) -> None:
    """GARCH is scale-equivariant: fitting c·r gives μ·c, ω·c², the same α, β, ν and the
    same standardised residuals — so series in any unit (P&L in currency, returns
    standardised to unit variance) are fitted as well as decimal returns."""
    r = sp500_log[-2500:]
    base = GarchPanel(dist="t").fit(r[:, None])
    scaled = GarchPanel(dist="t").fit(c * r[:, None])
    assert scaled.mu_[0] == pytest.approx(c * base.mu_[0], rel=2e-3, abs=1e-6 * c)
    assert scaled.omega_[0] == pytest.approx(c**2 * base.omega_[0], rel=1e-2)
    assert scaled.alpha_[0] == pytest.approx(base.alpha_[0], abs=1e-3)
    assert scaled.beta_[0] == pytest.approx(base.beta_[0], abs=1e-3)
    assert scaled.nu_[0] == pytest.approx(base.nu_[0], rel=1e-2)
    assert scaled.next_volatility_[0] == pytest.approx(c * base.next_volatility_[0], rel=2e-3)


@pytest.mark.parametrize("c", [1e-3, 0.1, 80.0, 1e4])
def test_arch_wrapper_is_scale_equivariant(sp500_log: np.ndarray, c: float) -> None:
    """Same property for the arch-based single-series model (extra power-of-ten scaling)."""
    r = sp500_log[-2500:]
    base = GarchVolatility(dist="t").fit(r)
    scaled = GarchVolatility(dist="t").fit(c * r)
    assert scaled.params_["omega"] == pytest.approx(c**2 * base.params_["omega"], rel=2e-2)
    for name in ("alpha[1]", "beta[1]"):
        assert scaled.params_[name] == pytest.approx(base.params_[name], abs=2e-3)
    assert scaled.nu_ == pytest.approx(base.nu_, rel=2e-2)
    assert scaled.next_volatility_ == pytest.approx(c * base.next_volatility_, rel=5e-3)
    np.testing.assert_allclose(
        scaled.forecast_variance(3), c**2 * base.forecast_variance(3), rtol=1e-2
    )
    sim = scaled.simulate(4, 2, rng=1) - scaled.mu_
    np.testing.assert_allclose(sim, c * (base.simulate(4, 2, rng=1) - base.mu_), rtol=2e-2)
