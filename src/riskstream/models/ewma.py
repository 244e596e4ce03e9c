"""Exponentially weighted moving average (EWMA) volatility and correlation — RiskMetrics.

RiskMetrics (J.P. Morgan/Reuters, *RiskMetrics — Technical Document*, 4th ed., 1996, §5.2)
estimates tomorrow's covariance of daily log returns as an exponentially weighted average of
past outer products, with zero mean and decay factor :math:`\\lambda = 0.94` for daily data:

.. math::
    \\Sigma_{t+1} = \\lambda\\, \\Sigma_t + (1-\\lambda)\\, r_t r_t^\\top ,

equivalently :math:`\\Sigma_{T+1} = (1-\\lambda)\\sum_{i=0}^{T-1} \\lambda^i r_{T-i} r_{T-i}^\\top
+ \\lambda^T \\Sigma_1`. It is an IGARCH(1,1) with no constant: volatility does not mean-revert,
so the h-day forecast is :math:`h\\,\\Sigma_{T+1}` (the "square-root-of-time" rule).

Start value :math:`\\Sigma_1` (the "backcast"): the weighted average of the first
:math:`\\min(75, T)` outer products with weights :math:`\\propto 0.94^i` — the convention of
``arch`` (K. Sheppard) for ``EWMAVariance``, so a one-asset fit reproduces ``arch`` exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import ModelError
from riskstream.models._validation import (
    as_return_row,
    as_returns_matrix,
    check_positive_int,
    check_unit_interval,
)
from riskstream.models.base import Estimator

BACKCAST_OBS = 75
BACKCAST_DECAY = 0.94


def backcast_covariance(returns: np.ndarray) -> np.ndarray:
    """Start value of a variance recursion, as ``arch`` computes it.

    Parameters
    ----------
    returns : ndarray of shape (n_obs, n_assets)
        Residuals (returns less mean) in any unit.

    Returns
    -------
    ndarray of shape (n_assets, n_assets)
        :math:`\\sum_{i<\\tau} w_i r_i r_i^\\top` with :math:`w_i \\propto 0.94^i`,
        :math:`\\tau = \\min(75, n_{obs})`.
    """
    tau = min(BACKCAST_OBS, returns.shape[0])
    w = BACKCAST_DECAY ** np.arange(tau)
    w /= w.sum()
    head = returns[:tau]
    return (head * w[:, None]).T @ head


class EWMACovariance(Estimator):
    """RiskMetrics EWMA covariance, volatility and correlation of daily log returns.

    Parameters
    ----------
    lam : float, default 0.94
        Decay factor :math:`\\lambda` in (0, 1); 0.94 is RiskMetrics' daily value (0.97 monthly).

    Attributes
    ----------
    covariance_ : ndarray of shape (n_assets, n_assets)
        Forecast covariance for the day after the last observation (decimal² per day).
    volatility_ : ndarray of shape (n_assets,)
        Its square-root diagonal: tomorrow's daily volatility (decimal).
    correlation_ : ndarray of shape (n_assets, n_assets)
        :math:`D^{-1}\\Sigma D^{-1}` with :math:`D = \\mathrm{diag}(\\sigma)`.
    volatility_path_ : ndarray of shape (n_obs, n_assets)
        Conditional volatility of each observed day given the days before it
        (row ``t`` is :math:`\\sqrt{\\mathrm{diag}\\,\\Sigma_t}`).
    n_obs_ : int
        Observations absorbed so far (``fit`` plus every ``update``).
    warnings_ : list of str
        Always empty (no optimiser); kept for the common estimator shape.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).normal(0, 0.01, size=(500, 3))
    >>> model = EWMACovariance().fit(r)
    >>> model.covariance_.shape
    (3, 3)
    """

    def __init__(self, lam: float = 0.94) -> None:
        self.lam = lam

    def fit(self, returns: ArrayLike) -> EWMACovariance:
        """Run the recursion over ``returns`` (n_obs, n_assets) or (n_obs,) for one asset.

        Raises
        ------
        InputError
            ``lam`` outside (0, 1); NaN/inf or constant returns; fewer than 2 observations.
        """
        lam = check_unit_interval(self.lam, "lam")
        r = as_returns_matrix(returns, min_obs=2)
        self._start_warnings()  # a closed-form recursion: nothing to converge
        n_obs, n_assets = r.shape
        sigma = backcast_covariance(r)
        vol_path = np.empty((n_obs, n_assets))
        for t in range(n_obs):
            vol_path[t] = np.sqrt(np.diag(sigma))
            sigma = lam * sigma + (1.0 - lam) * np.outer(r[t], r[t])
        self.covariance_ = sigma
        self.volatility_path_ = vol_path
        self.n_obs_ = n_obs
        self._refresh()
        return self

    def update(self, r_t: ArrayLike) -> EWMACovariance:
        """Absorb one day's returns ``r_t`` (n_assets,): :math:`\\Sigma \\leftarrow \\lambda
        \\Sigma + (1-\\lambda) r_t r_t^\\top`. Online, O(n_assets²); returns ``self``.

        ``volatility_path_`` is not extended (it describes the fitted sample).
        """
        if not hasattr(self, "covariance_"):
            raise ModelError("EWMACovariance.update called before fit")
        r = as_return_row(r_t, self.covariance_.shape[0])
        self.covariance_ = self.lam * self.covariance_ + (1.0 - self.lam) * np.outer(r, r)
        self.n_obs_ += 1
        self._refresh()
        return self

    def forecast_covariance(self, horizon_days: int = 1) -> np.ndarray:
        """Covariance of the ``horizon_days``-day log return: :math:`h\\,\\Sigma_{T+1}`.

        EWMA is an integrated process (no mean reversion), so variances add over days.
        """
        return check_positive_int(horizon_days, "horizon_days") * self.covariance_

    def _refresh(self) -> None:
        vol = np.sqrt(np.diag(self.covariance_))
        self.volatility_ = vol
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = self.covariance_ / np.outer(vol, vol)
        np.fill_diagonal(corr, 1.0)
        self.correlation_ = corr
