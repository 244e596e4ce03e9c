"""Regime features against direct computations and published conventions."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.models import EWMACovariance
from riskstream.regime.features import (
    curve_factors,
    ewma_correlation,
    futures_basis,
    iv_skew,
    iv_term_slope,
    microstructure_features,
    rolling_betas,
    rolling_correlation,
    stream_features,
    stream_state,
)


def _correlated(n: int, rho: float, n_assets: int = 5, seed: int = 0) -> np.ndarray:
    cov = (1 - rho) * np.eye(n_assets) + rho
    return np.random.default_rng(seed).multivariate_normal(np.zeros(n_assets), cov, n)


def test_stream_average_correlation_estimates_rho() -> None:
    # E[(sum z)^2] = N + N(N-1) rho for unit-variance z: the EWMA ratio estimates rho.
    z = _correlated(20000, 0.6)
    feats = stream_features(z, stream_state(), 4.0, 32.0)
    assert feats[1000:, 3].mean() == pytest.approx(0.6, abs=0.03)
    assert feats[1000:, 2].mean() == pytest.approx(0.0, abs=0.1)  # log EWMA variance ~ 0


def test_stream_features_online_equals_batch() -> None:
    z = _correlated(300, 0.3)
    batch = stream_features(z, stream_state(), 4.0, 32.0)
    state = stream_state()
    online = np.vstack([stream_features(z[i : i + 1], state, 4.0, 32.0) for i in range(300)])
    np.testing.assert_array_equal(online, batch)


def test_rolling_and_ewma_correlation() -> None:
    r = _correlated(400, 0.4, n_assets=3)
    roll = rolling_correlation(r, 50)
    c = np.corrcoef(r[350:400], rowvar=False)
    assert roll[-1] == pytest.approx((c.sum() - 3) / 6, rel=1e-12)
    assert np.isnan(roll[:49]).all()
    ewma = ewma_correlation(r)
    model = EWMACovariance().fit(r[:2])  # riskstream.models: RiskMetrics recursion
    for row in r[2:]:
        model.update(row)
    assert ewma[-1] == pytest.approx((model.correlation_.sum() - 3) / 6, rel=1e-12)
    assert ewma[200:].mean() == pytest.approx(0.4, abs=0.1)


def test_curve_factors_diebold_li() -> None:
    # Diebold & Li (2006): level (y3m + y2y + y10y)/3, slope y10y - y3m, curvature
    # 2 y2y - y3m - y10y. An upward curve 4%, 4.5%, 5%: slope 1%, curvature 0.
    y = np.array([[0.04, 0.045, 0.05], [0.05, 0.045, 0.04]])
    out = curve_factors(y, [0.25, 2.0, 10.0])
    np.testing.assert_allclose(out[0], [0.045, 0.01, 0.0], atol=1e-15)
    np.testing.assert_allclose(out[1], [0.045, -0.01, 0.0], atol=1e-15)
    with pytest.raises(InputError, match="maturities"):
        curve_factors(y, [2.0, 0.25, 10.0])


def test_basis_skew_term() -> None:
    # cost of carry: F = S exp((r - q) tau) gives ln(F/S)/tau = r - q
    assert futures_basis(100 * np.exp(0.03 * 0.5), 100.0, 0.5) == pytest.approx(0.03)
    with pytest.raises(InputError, match="years_to_expiry"):
        futures_basis(100.0, 100.0, 0.0)
    assert iv_skew(0.25, 0.18, 0.2) == pytest.approx(0.35)
    assert iv_term_slope(0.3, 0.22) == pytest.approx(-0.08)


def test_rolling_betas_recover_known_betas() -> None:
    rng = np.random.default_rng(1)
    f = rng.normal(size=(300, 2))
    r = f @ np.array([[1.2, -0.5], [0.3, 0.8]]).T + 0.01 * rng.normal(size=(300, 2))
    betas = rolling_betas(r, f, 60)
    np.testing.assert_allclose(betas[-1], [[1.2, -0.5], [0.3, 0.8]], atol=0.01)
    assert np.isnan(betas[:59]).all()


def test_microstructure_features() -> None:
    out = microstructure_features([99.0, np.nan], [101.0, 10.0], [300.0, 1.0], [100.0, 1.0])
    np.testing.assert_allclose(out[0], [200.0, 0.5])
    assert np.isnan(out[1, 0])


def test_regime_covariances_with_known_states() -> None:
    # One-hot probabilities: each regime's covariance is the plain (biased) covariance of
    # its rows (numpy's np.cov with bias=True).
    from riskstream.regime import simulate_regime_returns
    from riskstream.regime.features import regime_covariances

    x, s = simulate_regime_returns(3000, n_assets=3, seed=6)
    onehot = np.eye(3)[s]
    cov = regime_covariances(x, onehot)
    for k in range(3):
        np.testing.assert_allclose(cov[k], np.cov(x[s == k], rowvar=False, bias=True), rtol=1e-10)
    assert np.trace(cov[2]) > np.trace(cov[1]) > np.trace(cov[0])  # ordered by volatility
