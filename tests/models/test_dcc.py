"""DCC-GARCH: the likelihood kernel's Python twin, recovery of known (a, b) from simulated
DCC data, forecasts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.models.dcc import DCCGarch, _dcc_nll
from riskstream.models.garch import GarchPanel

QBAR = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])


def _dcc_nll_twin(a, b, z, qbar):
    q = qbar.copy()
    total = 0.0
    for t in range(z.shape[0]):
        if t > 0:
            q = (1 - a - b) * qbar + a * np.outer(z[t - 1], z[t - 1]) + b * q
        d = np.sqrt(np.diag(q))
        r = q / np.outer(d, d)
        total += np.log(np.linalg.det(r)) + z[t] @ np.linalg.solve(r, z[t]) - z[t] @ z[t]
    return 0.5 * total


def test_likelihood_kernel_matches_python_twin() -> None:
    z = np.random.default_rng(0).standard_normal((300, 3))
    assert _dcc_nll(0.05, 0.9, z, QBAR) == pytest.approx(_dcc_nll_twin(0.05, 0.9, z, QBAR))


def simulate_dcc(a: float, b: float, n: int, seed: int) -> np.ndarray:
    """DCC(1,1) with GARCH(1,1) margins (ω=0.02, α=0.08, β=0.9 in percent units)."""
    rng = np.random.default_rng(seed)
    d = QBAR.shape[0]
    q = QBAR.copy()
    s2 = np.full(d, 1.0)
    y = np.empty((n, d))
    z_prev = np.zeros(d)
    for t in range(n):
        if t > 0:
            q = (1 - a - b) * QBAR + a * np.outer(z_prev, z_prev) + b * q
        dq = np.sqrt(np.diag(q))
        r = q / np.outer(dq, dq)
        z = np.linalg.cholesky(r) @ rng.standard_normal(d)
        y[t] = np.sqrt(s2) * z
        s2 = 0.02 + 0.08 * y[t] ** 2 + 0.9 * s2
        z_prev = z
    return y / 100.0


def test_recovers_known_dcc_parameters() -> None:
    """Engle (2002) two-step QML on simulated DCC(1,1), a = 0.05, b = 0.90, T = 3,000, d = 3.

    Engle's Monte Carlo (2002, Table 1 ff.) shows such estimates within a few hundredths;
    asymptotic standard errors here are ≈ 0.008 (a) and 0.02 (b). Tolerance: 0.025 / 0.06.
    """
    y = simulate_dcc(0.05, 0.90, 3000, seed=11)
    fit = DCCGarch(volatility=GarchPanel(dist="normal", mean="zero")).fit(y)
    assert fit.a_ == pytest.approx(0.05, abs=0.025)
    assert fit.b_ == pytest.approx(0.90, abs=0.06)
    assert fit.correlation_.shape == (3000, 3, 3)
    np.testing.assert_allclose(np.diagonal(fit.correlation_, axis1=1, axis2=2), 1.0)
    np.testing.assert_allclose(fit.correlation_, np.swapaxes(fit.correlation_, 1, 2))
    np.testing.assert_allclose(fit.forecast_correlation(1), fit.next_correlation_)
    far = fit.forecast_correlation(5000)
    d = np.sqrt(np.diag(fit.qbar_))
    np.testing.assert_allclose(far, fit.qbar_ / np.outer(d, d), atol=1e-6)
    # the long-run correlation is the simulated one
    np.testing.assert_allclose(far, QBAR, atol=0.08)


def test_constant_correlation_data_gives_small_a() -> None:
    """With a = 0 (constant correlation) the estimate of a is near zero."""
    y = simulate_dcc(0.0, 0.0, 2000, seed=5)
    fit = DCCGarch(volatility=GarchPanel(dist="normal", mean="zero")).fit(y)
    assert fit.a_ < 0.02
    assert math.isfinite(fit.loglikelihood_)


def test_needs_two_assets() -> None:
    with pytest.raises(InputError, match="n_assets"):
        DCCGarch().fit(np.random.default_rng(0).normal(0, 0.01, (500, 1)))
