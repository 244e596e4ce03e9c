"""Copulas: recovery of the correlation and t degrees of freedom from simulated samples,
the likelihoods against SciPy's densities, sampling, projections."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from riskstream.core.errors import InputError, ModelError
from riskstream.models.copulas import (
    GaussianCopula,
    StudentTCopula,
    gaussian_copula_loglik,
    kendall_tau_matrix,
    nearest_correlation,
    pseudo_observations,
    t_copula_loglik,
)

R_TRUE = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, -0.2], [0.3, -0.2, 1.0]])


def _t_sample(n: int, nu: float, seed: int) -> np.ndarray:
    return stats.multivariate_t(shape=R_TRUE, df=nu).rvs(size=n, random_state=seed)


def test_gaussian_copula_recovers_correlation() -> None:
    """n = 3,000: standard error of a correlation ≈ (1-ρ²)/√n ≤ 0.018 (somewhat more for
    Kendall inversion); tolerance 0.07 ≈ 3.5 standard errors."""
    x = stats.multivariate_normal(cov=R_TRUE).rvs(size=3000, random_state=1)
    # margins do not matter to a copula: distort them monotonically
    x = np.c_[np.exp(x[:, 0]), x[:, 1] ** 3, x[:, 2]]
    for method in ("normal_scores", "kendall"):
        fit = GaussianCopula(method=method).fit(pseudo_observations(x))
        np.testing.assert_allclose(fit.correlation_, R_TRUE, atol=0.07)
        assert fit.nu_ == np.inf


def test_t_copula_recovers_correlation_and_dof() -> None:
    """ν = 5, n = 3,000: the profile-likelihood ν has a standard error ≈ 0.6 here
    (McNeil, Frey, Embrechts 2005, §5.5.3 report similar precision); tolerance ±1.8. The
    tau-inverted correlation: tolerance 0.07 as above (seeds 2-5 give errors 0.015-0.062)."""
    u = pseudo_observations(_t_sample(3000, 5.0, 2))
    fit = StudentTCopula().fit(u)
    np.testing.assert_allclose(fit.correlation_, R_TRUE, atol=0.07)
    assert fit.nu_ == pytest.approx(5.0, abs=1.8)
    gauss = GaussianCopula().fit(u)
    assert fit.loglikelihood_ > gauss.loglikelihood_  # tail dependence is detected


def test_t_copula_on_gaussian_data_finds_large_dof() -> None:
    x = stats.multivariate_normal(cov=R_TRUE).rvs(size=3000, random_state=3)
    fit = StudentTCopula().fit(pseudo_observations(x))
    assert fit.nu_ > 25


def test_loglikelihoods_match_scipy_densities() -> None:
    """log c(u) = log f_joint(x) - Σ log f_i(x_i): checked against SciPy's multivariate
    normal and t densities (peer implementation)."""
    u = np.random.default_rng(4).uniform(0.01, 0.99, (50, 3))
    x = stats.t.ppf(u, 4.0)
    want_t = stats.multivariate_t(shape=R_TRUE, df=4.0).logpdf(x) - stats.t.logpdf(x, 4.0).sum(1)
    assert t_copula_loglik(u, R_TRUE, 4.0) == pytest.approx(want_t.sum(), rel=1e-10)
    xn = stats.norm.ppf(u)
    want_n = stats.multivariate_normal(cov=R_TRUE).logpdf(xn) - stats.norm.logpdf(xn).sum(1)
    assert gaussian_copula_loglik(u, R_TRUE) == pytest.approx(want_n.sum(), rel=1e-10)


def test_kendall_inversion_is_the_elliptical_identity() -> None:
    """For elliptical copulas τ = (2/π) arcsin ρ (Lindskog, McNeil, Schmock 2003)."""
    x = _t_sample(4000, 4.0, 5)
    tau = stats.kendalltau(x[:, 0], x[:, 1]).statistic
    assert tau == pytest.approx(2 / np.pi * np.arcsin(0.6), abs=0.03)


@pytest.mark.parametrize("copula", [GaussianCopula(), StudentTCopula(nu=6.0)])
def test_sample_is_uniform_deterministic_and_dependent(copula) -> None:
    copula.fit(pseudo_observations(_t_sample(1500, 6.0, 6)))
    u = copula.sample(20_000, rng=7)
    assert u.shape == (20_000, 3)
    assert ((u > 0) & (u < 1)).all()
    np.testing.assert_array_equal(u, copula.sample(20_000, rng=7))
    # uniform margins: KS distance small; dependence: Spearman ρ_S = (6/π) arcsin(ρ/2)
    assert stats.kstest(u[:, 0], "uniform").statistic < 0.015
    rho_s = stats.spearmanr(u[:, 0], u[:, 1]).statistic
    assert rho_s == pytest.approx(6 / np.pi * np.arcsin(copula.correlation_[0, 1] / 2), abs=0.03)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000))
def test_nearest_correlation_is_a_correlation(d: int, seed: int) -> None:
    a = np.random.default_rng(seed).uniform(-1, 1, (d, d))
    c = nearest_correlation(0.5 * (a + a.T))
    assert np.allclose(np.diag(c), 1.0)
    assert np.allclose(c, c.T)
    assert np.linalg.eigvalsh(c).min() > 0
    np.linalg.cholesky(c)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="strictly inside"):
        GaussianCopula().fit(np.c_[np.linspace(0, 1, 20), np.linspace(0.1, 0.9, 20)])
    with pytest.raises(InputError, match="n_obs"):
        StudentTCopula().fit(np.full((5, 2), 0.5))
    with pytest.raises(InputError, match="'nu'"):
        StudentTCopula(nu=-3).fit(np.random.default_rng(0).uniform(0.1, 0.9, (50, 2)))
    with pytest.raises(InputError, match="'method'"):
        GaussianCopula(method="spearman").fit(np.random.default_rng(0).uniform(0.1, 0.9, (50, 2)))
    with pytest.raises(ModelError):
        GaussianCopula().sample(3)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 200), st.integers(1, 6), st.integers(0, 10_000))
def test_kendall_kernel_matches_scipy_with_ties(n: int, levels: int, seed: int) -> None:
    """The numba Knight algorithm equals SciPy's kendalltau (tau-b), ties included."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(n, 3)), levels - 1)  # coarse rounding makes ties
    x[:, 1] += 0.5 * x[:, 0]
    tau = kendall_tau_matrix(x)
    for i in range(3):
        for j in range(i + 1, 3):
            want = stats.kendalltau(x[:, i], x[:, j]).statistic
            if np.isnan(want):
                assert np.isnan(tau[i, j])
            else:
                assert tau[i, j] == pytest.approx(want, abs=1e-12)


def test_fast_profile_likelihood_equals_exact() -> None:
    """The spline-quantile likelihood used in the ν search equals the stdtrit one."""
    from scipy.special import ndtri

    u = pseudo_observations(_t_sample(2000, 4.0, 8))
    for nu in (2.5, 4.0, 30.0, 150.0):
        exact = t_copula_loglik(u, R_TRUE, nu)
        assert t_copula_loglik(u, R_TRUE, nu, ndtri(u)) == pytest.approx(exact, rel=1e-9)
