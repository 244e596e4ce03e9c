"""Dynamic factor detector: statsmodels recovers a known one-factor model; the online
Kalman filter reproduces statsmodels' filtered factor; factor volatility signals regimes."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.regime import DynamicFactorDetector

LOADINGS = np.array([0.9, 0.7, 0.5, 0.8])
PHI = 0.5
IDIO_VAR = np.array([0.3, 0.5, 0.6, 0.4])


@pytest.fixture(scope="module")
def fitted() -> tuple[DynamicFactorDetector, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 1500
    f = np.zeros(n)
    for t in range(1, n):
        f[t] = PHI * f[t - 1] + rng.normal()
    y = f[:, None] * LOADINGS + rng.normal(size=(n, 4)) * np.sqrt(IDIO_VAR)
    return DynamicFactorDetector(n_regimes=2).fit(y), y


def test_recovers_known_factor_model(fitted) -> None:
    # One AR(1) factor (Stock & Watson 2016, eq. 1-2) simulated with known loadings, AR
    # coefficient and idiosyncratic variances; MLE on 1500 rows recovers them within the
    # sampling error: loadings ±0.06, phi ±0.06, idiosyncratic variances ±15%.
    model, _ = fitted
    np.testing.assert_allclose(model.loadings_ * model.scale_, LOADINGS, atol=0.06)
    assert model.phi_ == pytest.approx(PHI, abs=0.06)
    np.testing.assert_allclose(model.idio_var_ * model.scale_**2, IDIO_VAR, rtol=0.15)


def test_online_kalman_filter_equals_statsmodels(fitted) -> None:
    # The numba one-factor Kalman filter (Woodbury form) against statsmodels' filtered
    # state of the same fitted model (peer library), to 1e-8.
    model, y = fitted
    sign = np.sign(model.result_.params[:4].sum())
    want = model.result_.filtered_state[0] * sign
    np.testing.assert_allclose(model.filtered_factor(y), want, atol=1e-8)


def test_factor_volatility_signals_regimes(regime_data) -> None:
    x, _, xt, st = regime_data
    model = DynamicFactorDetector(n_regimes=3).fit(x)
    probs = model.predict_proba(xt)
    assert (probs.argmax(axis=1) == st).mean() > 0.8
    model.reset()
    online = np.array([model.filter(row) for row in xt[:200]])
    np.testing.assert_allclose(online, probs[:200], atol=1e-10)
