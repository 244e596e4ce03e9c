"""Regime-conditional second moments (regime.conditioning): the mixture covariance, volatility
multipliers and market-variance ratios, against the single-index model's known values."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError, ModelError
from riskstream.regime import HMMDetector
from riskstream.regime.base import stationary_distribution
from riskstream.regime.conditioning import mixture_covariance, model_moments, regime_moments
from riskstream.regime.features import regime_covariances
from riskstream.regime.simulate import DEFAULT_TRANSITION, simulate_regime_returns

# The market simulator's regime multipliers (feeds.config.RegimeConfig; also
# regime.simulate's defaults): systematic and idiosyncratic volatility per regime.
FACTOR_MULT = np.array([1.0, 1.7, 2.8])
IDIO_MULT = np.array([1.0, 1.3, 1.6])


def _population(n: int, weights: np.ndarray, seed: int = 0):
    """Regime covariances of the single-index model r = f_k beta m + i_k sigma e."""
    rng = np.random.default_rng(seed)
    beta, sigma = rng.uniform(0.6, 1.2, n), rng.uniform(0.5, 1.0, n)
    cov = np.array(
        [
            f**2 * np.outer(beta, beta) + i**2 * np.diag(sigma**2)
            for f, i in zip(FACTOR_MULT, IDIO_MULT, strict=True)
        ]
    )
    # The mixture is single-index too: market variance sum(w f^2), idiosyncratic sum(w i^2),
    # so regime k's theta is (f_k^2 / sum w f^2) / (i_k^2 / sum w i^2).
    theta = (FACTOR_MULT**2 / (weights @ FACTOR_MULT**2)) / (
        IDIO_MULT**2 / (weights @ IDIO_MULT**2)
    )
    return cov, theta


def test_mixture_covariance_is_the_law_of_total_covariance() -> None:
    # Pooled sample covariance = sum_k w_k (Sigma_k + mu_k mu_k') - mu mu' with each
    # regime's own (biased) moments and its share of rows: exact.
    x, s = simulate_regime_returns(3000, n_assets=4, seed=5)
    x = x + np.array([0.0, 1e-3, -2e-3])[s][:, None]  # regime means differ
    onehot = np.eye(3)[s]
    means = np.array([x[s == k].mean(axis=0) for k in range(3)])
    pooled = np.cov(x, rowvar=False, bias=True)
    mixed = mixture_covariance(means, regime_covariances(x, onehot), onehot.mean(axis=0))
    np.testing.assert_allclose(mixed, pooled, rtol=1e-10, atol=1e-18)


@pytest.mark.parametrize(("n", "rel"), [(8, 0.1), (400, 0.002)])
def test_single_index_population_values(n: int, rel: float) -> None:
    w = np.array([0.7, 0.2, 0.1])
    cov, theta = _population(n, w)
    m = regime_moments(np.zeros((3, n)), cov, w)
    total = mixture_covariance(np.zeros((3, n)), cov, w)
    ratio = np.sqrt(np.diagonal(cov, axis1=1, axis2=2) / np.diag(total))
    np.testing.assert_allclose(m.vol_multiplier, np.exp(np.log(ratio).mean(axis=1)), rtol=1e-12)
    # the equal-weighted index proxies the market: theta within 10% on 8 assets, 0.2% on 400
    np.testing.assert_allclose(m.market_variance_ratio, theta, rtol=rel)
    assert m.correlation[0] < m.correlation_unconditional < m.correlation[2]
    assert list(m.vol_multiplier) == sorted(m.vol_multiplier)


def test_fitted_hmm_recovers_the_simulated_regimes_moments(regime_data) -> None:
    x, s, _, _ = regime_data
    hmm = HMMDetector(3).fit(x, s)  # known regimes: complete-data maximum likelihood
    m = model_moments(hmm)
    w = stationary_distribution(np.asarray(DEFAULT_TRANSITION))
    _, theta = _population(6, w)
    np.testing.assert_allclose(m.weights, w, atol=0.05)
    assert list(m.vol_multiplier) == sorted(m.vol_multiplier)  # ordered by volatility
    assert list(m.market_variance_ratio) == sorted(m.market_variance_ratio)
    # sampling error of 4000 rows and the 6-asset index proxy: within 25%
    np.testing.assert_allclose(m.market_variance_ratio, theta, rtol=0.25)
    assert m.conditioning(0) == (1.0, 1.0)  # calm floored at the unconditional law
    s2, t2 = m.conditioning(2)
    assert s2 > 1.3 and t2 > 1.3
    assert m.conditioning(0, stress_only=False)[0] < 1.0


def test_bad_input() -> None:
    w = np.array([0.5, 0.5])
    with pytest.raises(InputError, match="weights"):
        regime_moments(np.zeros((2, 2)), np.stack([np.eye(2)] * 2), np.array([0.5, 0.6]))
    with pytest.raises(InputError, match="covariances"):
        regime_moments(np.zeros((2, 2)), np.stack([np.eye(2), -np.eye(2)]), w)
    with pytest.raises(InputError, match="means"):
        regime_moments(np.zeros((2, 3)), np.stack([np.eye(2)] * 2), w)
    with pytest.raises(ModelError, match="HMM"):
        model_moments(object())
    m = regime_moments(np.zeros((2, 2)), np.stack([np.eye(2)] * 2), w)
    with pytest.raises(InputError, match="regime"):
        m.conditioning(2)


def test_moments_measured_on_labelled_regimes(regime_data) -> None:
    """An ensemble fitted with known regimes keeps each regime's sample moments; model_moments
    reads those first (with the regimes' sample shares as weights) and recovers the
    simulator's ordering and market-variance ratios as the complete-data HMM does."""
    from types import SimpleNamespace

    from riskstream.regime.ensemble import _labelled_moments

    x, s, _, _ = regime_data
    labelled = _labelled_moments(x, s, 3)
    assert labelled is not None
    means, covs, shares = labelled
    np.testing.assert_allclose(shares, np.bincount(s, minlength=3) / len(s))
    np.testing.assert_allclose(means[2], x[s == 2].mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(covs[2], np.cov(x[s == 2], rowvar=False, bias=True), rtol=1e-10)
    m = model_moments(SimpleNamespace(regime_moments_=labelled))
    _, theta = _population(6, shares)
    assert list(m.vol_multiplier) == sorted(m.vol_multiplier)
    np.testing.assert_allclose(m.market_variance_ratio, theta, rtol=0.25)
    assert m.conditioning(2)[0] > 1.3
    # a regime with fewer rows than a covariance needs: no labelled moments (the HMM's used)
    assert _labelled_moments(x[:50], np.r_[np.zeros(48, int), 1, 2], 3) is None
