"""Dynamic conditional correlation (DCC-GARCH), Engle (2002).

Each return series is first filtered by its own GARCH, giving standardised residuals
:math:`z_t` (unit conditional variance). Their correlation then follows

.. math::
    Q_t = (1 - a - b)\\,\\bar Q + a\\, z_{t-1} z_{t-1}^\\top + b\\, Q_{t-1}, \\qquad
    R_t = \\mathrm{diag}(Q_t)^{-1/2}\\, Q_t\\, \\mathrm{diag}(Q_t)^{-1/2},

with :math:`a, b \\ge 0`, :math:`a + b < 1` and :math:`\\bar Q` the sample second moment of
:math:`z` ("correlation targeting"). Estimation is Engle's two-step quasi-maximum
likelihood: step 1 fits the univariate GARCHes (:class:`~riskstream.models.garch.GarchPanel`);
step 2 maximises the correlation part of the Gaussian log-likelihood over :math:`(a, b)`,

.. math::
    \\ell_C(a, b) = -\\tfrac12 \\sum_t \\left(\\ln|R_t| + z_t^\\top R_t^{-1} z_t
    - z_t^\\top z_t\\right).

Cost is :math:`O(T d^3)` per likelihood evaluation, so DCC is for tens of risk factors, not
thousands of instruments. Forecasts use Engle and Sheppard's (2001) approximation
:math:`R_{T+h} \\approx (1-\\phi^{h-1})\\bar R + \\phi^{h-1} R_{T+1}`, :math:`\\phi = a + b`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from riskstream.core.errors import InputError, ModelError
from riskstream.core.warnings import ConvergenceWarning
from riskstream.models._validation import check_positive_int
from riskstream.models.base import Estimator, clone
from riskstream.models.garch import GarchPanel

MAX_PERSISTENCE = 0.9999


@njit(cache=True)
def _dcc_nll(a, b, z, qbar):  # pragma: no cover - numba
    """Negative DCC correlation log-likelihood (twin in tests/models/test_dcc.py)."""
    n_obs, d = z.shape
    q = qbar.copy()
    c = 1.0 - a - b
    total = 0.0
    r = np.empty((d, d))
    for t in range(n_obs):
        if t > 0:
            zt = z[t - 1]
            for i in range(d):
                for j in range(d):
                    q[i, j] = c * qbar[i, j] + a * zt[i] * zt[j] + b * q[i, j]
        for i in range(d):
            for j in range(d):
                r[i, j] = q[i, j] / math.sqrt(q[i, i] * q[j, j])
        chol = np.linalg.cholesky(r)
        y = np.linalg.solve(chol, z[t])
        logdet = 0.0
        zz = 0.0
        for i in range(d):
            logdet += 2.0 * math.log(chol[i, i])
            zz += z[t, i] * z[t, i]
        total += logdet + np.dot(y, y) - zz
    return 0.5 * total


@njit(cache=True)
def _dcc_filter(a, b, z, qbar):  # pragma: no cover - numba
    """Correlations R_t (n_obs, d, d) and the next pseudo-correlation Q_{T+1}."""
    n_obs, d = z.shape
    q = qbar.copy()
    c = 1.0 - a - b
    out = np.empty((n_obs, d, d))
    for t in range(n_obs + 1):
        if t > 0:
            zt = z[t - 1]
            for i in range(d):
                for j in range(d):
                    q[i, j] = c * qbar[i, j] + a * zt[i] * zt[j] + b * q[i, j]
        if t < n_obs:
            for i in range(d):
                for j in range(d):
                    out[t, i, j] = q[i, j] / math.sqrt(q[i, i] * q[j, j])
    return out, q


def _normalize(q: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(q))
    r = q / np.outer(d, d)
    np.fill_diagonal(r, 1.0)
    return r


class DCCGarch(Estimator):
    """DCC(1,1)-GARCH conditional correlation by Engle's two-step QML.

    Parameters
    ----------
    volatility : GarchPanel, optional
        The univariate step (default ``GarchPanel()``: GARCH(1,1)-t, constant mean); cloned
        before fitting. Its ``dist`` is the univariate likelihood only — the correlation step
        is Gaussian quasi-likelihood, consistent whatever the true distribution.
    max_iter : int, default 300
        SLSQP iteration cap of the correlation step.

    Attributes
    ----------
    a_, b_ : float
        DCC news and decay parameters.
    garch_ : GarchPanel
        Step-1 univariate fits (volatilities, standardised residuals).
    qbar_ : ndarray of shape (n_assets, n_assets)
        :math:`\\bar Q = \\frac1T\\sum_t z_t z_t^\\top`.
    correlation_ : ndarray of shape (n_obs, n_assets, n_assets)
        :math:`R_t` for each observed day given the days before it (memory
        :math:`8\\,T d^2` bytes).
    next_correlation_ : ndarray of shape (n_assets, n_assets)
        One-step-ahead :math:`R_{T+1}`.
    loglikelihood_ : float
        Maximised correlation log-likelihood :math:`\\ell_C`.
    converged_ : bool
        Whether the correlation step met SLSQP's tolerance.
    warnings_ : list of str
        The univariate step's warnings and the correlation step's.
    """

    def __init__(self, volatility: GarchPanel | None = None, max_iter: int = 300) -> None:
        self.volatility = volatility
        self.max_iter = max_iter

    def fit(self, returns: ArrayLike) -> DCCGarch:
        """Two-step estimation on ``returns`` (n_obs, n_assets ≥ 2), daily log returns.

        Raises
        ------
        InputError
            Fewer than two assets, too few observations, NaN/inf or constant columns.
        ModelError
            The correlation likelihood could not be maximised.
        """
        arr = np.asarray(returns, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise InputError(
                "returns", f"array of shape {arr.shape}", "(n_obs, n_assets) with n_assets ≥ 2"
            )
        max_iter = check_positive_int(self.max_iter, "max_iter")
        log = self._start_warnings()
        vol = GarchPanel() if self.volatility is None else clone(self.volatility)
        self.garch_ = vol.fit(arr)
        log.extend(self.garch_.warnings_)
        z = np.ascontiguousarray(self.garch_.standardized_residuals_)
        qbar = z.T @ z / z.shape[0]

        def objective(theta: np.ndarray) -> float:
            return _dcc_nll(float(theta[0]), float(theta[1]), z, qbar)

        grid = [(a, b) for a in (0.01, 0.03, 0.05, 0.1) for b in (0.5, 0.8, 0.9, 0.95)]
        grid = [g for g in grid if g[0] + g[1] < MAX_PERSISTENCE]
        start = np.array(min(grid, key=lambda g: objective(np.array(g))))
        res = minimize(
            objective,
            start,
            method="SLSQP",
            bounds=[(0.0, 1.0), (0.0, 1.0)],
            constraints=[{"type": "ineq", "fun": lambda th: MAX_PERSISTENCE - th[0] - th[1]}],
            options={"maxiter": max_iter, "ftol": 1e-10},
        )
        if not np.isfinite(res.fun):
            raise ModelError(f"DCC correlation likelihood did not converge: {res.message}")
        self.converged_ = bool(res.success)
        if not res.success:
            self._warn(
                ConvergenceWarning,
                f"the correlation step did not converge (status {res.status}: "
                f"{res.message}); the best (a, b) reached is kept",
            )
        a, b = (float(v) for v in np.clip(res.x, 0.0, 1.0))
        self.a_, self.b_ = a, b
        self.qbar_ = qbar
        self.loglikelihood_ = -float(res.fun)
        self.correlation_, q_next = _dcc_filter(a, b, z, qbar)
        self.next_correlation_ = _normalize(q_next)
        return self

    def forecast_correlation(self, horizon_days: int = 1) -> np.ndarray:
        """Correlation forecast :math:`R_{T+h}` (n_assets, n_assets) for day h ≥ 1 ahead:
        :math:`(1-\\phi^{h-1})\\bar R + \\phi^{h-1} R_{T+1}` (Engle and Sheppard 2001)."""
        if not hasattr(self, "a_"):
            raise ModelError("DCCGarch is not fitted: call fit(returns) first")
        h = check_positive_int(horizon_days, "horizon_days")
        w = (self.a_ + self.b_) ** (h - 1)
        return (1.0 - w) * _normalize(self.qbar_) + w * self.next_correlation_
