"""The single-index correlation stress: a valid correlation matrix for every ratio, the
identity at 1, and the exact single-index algebra (Sharpe 1963)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.models.correlation_stress import (
    average_correlation,
    index_correlations,
    market_variance_ratio,
    single_index_stress,
)


def _single_index(n: int, seed: int, market: float = 1.0, idio: float = 1.0) -> np.ndarray:
    """Covariance of r_j = beta_j m + e_j with var(m) = market, var(e_j) = idio sigma_j^2."""
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.6, 1.2, n)
    sigma = rng.uniform(0.5, 1.0, n)
    return market * np.outer(beta, beta) + idio * np.diag(sigma**2)


def _corr(cov: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d)


def test_single_index_algebra_is_exact_with_the_true_market() -> None:
    # Market variance x4 and idiosyncratic x2: theta = A/B = 2 exactly, with c the
    # correlation of each asset with the market, c_j = beta_j / sigma_j(total).
    rng = np.random.default_rng(3)
    beta, sigma = rng.uniform(0.6, 1.2, 7), rng.uniform(0.5, 1.0, 7)
    cov = np.outer(beta, beta) + np.diag(sigma**2)
    stressed = 4.0 * np.outer(beta, beta) + 2.0 * np.diag(sigma**2)
    c = beta / np.sqrt(np.diag(cov))
    np.testing.assert_allclose(single_index_stress(_corr(cov), 2.0, c), _corr(stressed), atol=1e-14)
    assert market_variance_ratio(_corr(cov), average_correlation(_corr(stressed)), c) == (
        pytest.approx(2.0, rel=1e-9)
    )


def test_equal_weighted_index_approaches_the_market_with_many_assets() -> None:
    # The index proxy's error shrinks like 1/n: theta within 1% on 400 assets.
    cov = _single_index(400, 1)
    stressed = _single_index(400, 1, market=4.0, idio=2.0)
    theta = market_variance_ratio(_corr(cov), average_correlation(_corr(stressed)))
    assert theta == pytest.approx(2.0, rel=0.01)


def test_ratio_round_trip_and_identity() -> None:
    r = _corr(_single_index(8, 2))
    np.testing.assert_allclose(single_index_stress(r, 1.0), r, atol=1e-15)
    for theta in (0.3, 1.0, 2.5, 9.0):
        target = average_correlation(single_index_stress(r, theta))
        assert market_variance_ratio(r, target) == pytest.approx(theta, rel=1e-8)


def test_index_correlations_match_a_sample() -> None:
    x = np.random.default_rng(4).multivariate_normal(np.zeros(5), _single_index(5, 4), 200_000)
    z = (x - x.mean(0)) / x.std(0)
    g = z.mean(axis=1)
    sample = [np.corrcoef(z[:, j], g)[0, 1] for j in range(5)]
    np.testing.assert_allclose(index_correlations(np.corrcoef(x, rowvar=False)), sample, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 12),
    theta=st.floats(1e-3, 1e3),
)
def test_stress_is_a_correlation_matrix_and_monotone(seed: int, n: int, theta: float) -> None:
    a = np.random.default_rng(seed).standard_normal((n + 3, n))
    r = _corr(a.T @ a)
    out = single_index_stress(r, theta)
    np.testing.assert_allclose(np.diag(out), 1.0)
    np.testing.assert_allclose(out, out.T, atol=1e-15)
    assert np.linalg.eigvalsh(out).min() > -1e-10  # positive semi-definite
    assert np.abs(out).max() <= 1 + 1e-12
    # correlations with the index rise with theta
    c0, c1 = index_correlations(r), index_correlations(out)
    if theta > 1:
        assert np.abs(c1).mean() >= np.abs(c0).mean() - 1e-12


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InputError, match="ratio"):
        single_index_stress(np.eye(3), 0.0)
    with pytest.raises(InputError, match="corr"):
        average_correlation(np.ones(3))
    with pytest.raises(InputError, match="target"):
        market_variance_ratio(np.eye(3) * 0.5 + 0.5, 1.5)
