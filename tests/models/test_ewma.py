"""EWMA (RiskMetrics 1996) covariance: the recursion by hand, arch's EWMAVariance, the
closed form, online updates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskstream.core.errors import InputError, ModelError
from riskstream.models.ewma import EWMACovariance, backcast_covariance


def test_recursion_by_hand_three_days() -> None:
    """RiskMetrics Technical Document (1996) eq. 5.3: σ²_{t+1} = λσ²_t + (1-λ) r_t², λ=0.94.

    Three returns, computed by hand. Start value (arch's backcast over three days, weights
    1, 0.94, 0.8836 normalised by 2.8236):
      σ²_1 = (0.0001·1 + 0.0004·0.94 + 0.000025·0.8836)/2.8236 = 0.00017999...
    then σ²_2 = 0.94σ²_1 + 0.06·0.0001, σ²_3 = 0.94σ²_2 + 0.06·0.0004,
    σ²_4 = 0.94σ²_3 + 0.06·0.000025.
    """
    r = np.array([0.01, -0.02, 0.005])
    s1 = (0.0001 * 1 + 0.0004 * 0.94 + 0.000025 * 0.8836) / 2.8236
    s2 = 0.94 * s1 + 0.06 * 0.0001
    s3 = 0.94 * s2 + 0.06 * 0.0004
    s4 = 0.94 * s3 + 0.06 * 0.000025
    model = EWMACovariance(lam=0.94).fit(r)
    assert model.covariance_[0, 0] == pytest.approx(s4, rel=1e-14)
    np.testing.assert_allclose(model.volatility_path_[:, 0], np.sqrt([s1, s2, s3]), rtol=1e-14)
    assert model.volatility_[0] == pytest.approx(np.sqrt(s4), rel=1e-14)


def test_matches_arch_ewma_variance_on_sp500(sp500_log: np.ndarray) -> None:
    """Peer library: arch's ZeroMean + EWMAVariance(lam=0.94) (RiskMetrics) conditional
    volatility on the S&P 500, agreement to 1e-10 relative (same recursion and backcast)."""
    from arch.univariate import EWMAVariance, ZeroMean

    res = ZeroMean(100 * sp500_log, volatility=EWMAVariance(0.94), rescale=False).fit(disp="off")
    model = EWMACovariance().fit(sp500_log)
    np.testing.assert_allclose(
        100 * model.volatility_path_[:, 0], res.conditional_volatility, rtol=1e-10
    )
    forecast = res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    assert 100 * model.volatility_[0] == pytest.approx(np.sqrt(forecast), rel=1e-10)


def test_multivariate_diagonal_equals_univariate_fits() -> None:
    r = np.random.default_rng(1).normal(0, 0.01, (300, 3))
    joint = EWMACovariance().fit(r)
    for k in range(3):
        single = EWMACovariance().fit(r[:, k])
        assert joint.volatility_[k] == pytest.approx(single.volatility_[0], rel=1e-13)
    assert np.allclose(np.diag(joint.correlation_), 1.0)
    assert np.linalg.eigvalsh(joint.covariance_).min() > 0


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (30, 2), elements=st.floats(-0.1, 0.1)),
    st.floats(0.5, 0.99),
)
def test_recursion_equals_closed_form(r: np.ndarray, lam: float) -> None:
    """Σ_{T+1} = (1-λ) Σ_i λ^i r_{T-i} r_{T-i}ᵀ + λ^T Σ_1 (RiskMetrics TD eq. 5.1 form)."""
    r = r + np.array([[0.001, -0.002]]) * np.arange(30)[:, None]  # never constant
    model = EWMACovariance(lam=lam).fit(r)
    w = (1 - lam) * lam ** np.arange(30)[::-1]
    closed = (r * w[:, None]).T @ r + lam**30 * backcast_covariance(r)
    np.testing.assert_allclose(model.covariance_, closed, rtol=1e-9, atol=1e-18)


def test_update_equals_refit_with_one_more_day() -> None:
    r = np.random.default_rng(2).normal(0, 0.01, (200, 2))
    online = EWMACovariance().fit(r[:150])
    for row in r[150:]:
        online.update(row)
    # the backcast uses the first 75 rows only, so both see the same start value
    batch = EWMACovariance().fit(r)
    np.testing.assert_allclose(online.covariance_, batch.covariance_, rtol=1e-12)
    assert online.n_obs_ == 200
    np.testing.assert_allclose(online.forecast_covariance(10), 10 * batch.covariance_)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="'lam'"):
        EWMACovariance(lam=1.2).fit(np.random.default_rng(0).normal(size=50))
    with pytest.raises(InputError, match=r"returns\[3, 1\]"):
        bad = np.random.default_rng(0).normal(size=(10, 2))
        bad[3, 1] = np.inf
        EWMACovariance().fit(bad)
    model = EWMACovariance().fit(np.random.default_rng(0).normal(size=(10, 2)))
    with pytest.raises(InputError, match="r_t"):
        model.update([0.1, np.nan])
    with pytest.raises(InputError, match="r_t"):
        model.update([0.1])
    with pytest.raises(ModelError):
        EWMACovariance().update([0.1])
