"""Dynamic factor model of cross-asset returns: a shift in the common factor's volatility,
in the idiosyncratic volatility or in the loadings signals a regime change.

The model (Stock & Watson 2016, "Dynamic factor models, factor-augmented vector
autoregressions, and structural vector autoregressions in macroeconomics", *Handbook of
Macroeconomics* 2, ch. 8), with one AR(1) factor on standardised returns :math:`z_t`:

.. math::
    z_t = \\lambda f_t + e_t,\\ e_t \\sim N(0, D),\\ D = \\mathrm{diag}(\\sigma^2_i);\\qquad
    f_t = \\phi f_{t-1} + \\eta_t,\\ \\eta_t \\sim N(0, 1).

It is estimated by maximum likelihood with ``statsmodels``' ``DynamicFactor`` (the
well-kept library). Online, a Kalman filter with the fitted matrices gives the factor
:math:`f_{t|t}`; with one factor the gain needs no matrix inverse (Woodbury):
:math:`S_t^{-1}\\lambda = D^{-1}\\lambda / (1 + P_{t|t-1} \\lambda^\\top D^{-1} \\lambda)`.
From it three signals are tracked by EWMA (half-life ``halflife`` rows):

* factor volatility: log EWMA of the squared factor innovation :math:`f_{t|t} - \\phi
  f_{t-1|t-1}` relative to its model variance;
* idiosyncratic volatility: log EWMA of :math:`\\overline{e_{t,i}^2 / \\sigma^2_i}`;
* loading strength: EWMA regression slope of :math:`z_{t,i}` on :math:`f_{t|t}`, averaged
  against :math:`\\lambda` (rises when correlations rise).

A Gaussian mixture (scikit-learn) over the signals maps them to :math:`K` regimes, ordered by
the factor-volatility signal.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from sklearn.mixture import GaussianMixture

from riskstream.core.errors import ModelError
from riskstream.core.warnings import ConvergenceWarning, third_party_warnings
from riskstream.models.base import Estimator
from riskstream.regime.base import (
    align_states,
    check_labels,
    check_returns,
    check_row,
    require_fitted,
    single_threaded,
    volatility_order,
)

MAX_FIT_OBS = 2000  # the likelihood fit uses at most the latest rows (statsmodels is O(n))


@njit(cache=True)
def factor_filter(z, lam, phi, sig2, state, halflife):  # pragma: no cover - numba
    """Kalman filter of the one-factor model plus the EWMA regime signals.

    ``state`` = [f_prev, P_prev, ewma_u2, ewma_idio, ewma_zf (n), ewma_f2] is updated in
    place. Returns the filtered factor (n_obs,) and the signals (n_obs, 3).
    """
    n_obs, n = z.shape
    decay = 0.5 ** (1.0 / halflife)
    f_prev, p_prev = state[0], state[1]
    lam_dinv = lam / sig2
    q = (lam * lam_dinv).sum()  # lambda' D^-1 lambda
    factor = np.empty(n_obs)
    signals = np.empty((n_obs, 3))
    for t in range(n_obs):
        f_pred = phi * f_prev
        p_pred = phi * phi * p_prev + 1.0
        innov = 0.0
        for i in range(n):
            innov += lam_dinv[i] * (z[t, i] - lam[i] * f_pred)
        f = f_pred + p_pred * innov / (1.0 + p_pred * q)
        p = p_pred / (1.0 + p_pred * q)
        u = f - phi * f_prev
        idio = 0.0
        for i in range(n):
            e = z[t, i] - lam[i] * f
            idio += e * e / sig2[i]
            state[4 + i] = decay * state[4 + i] + (1.0 - decay) * z[t, i] * f
        state[2] = decay * state[2] + (1.0 - decay) * u * u
        state[3] = decay * state[3] + (1.0 - decay) * idio / n
        state[4 + n] = decay * state[4 + n] + (1.0 - decay) * f * f
        slope = 0.0
        for i in range(n):
            slope += lam[i] * state[4 + i] / state[4 + n]
        factor[t] = f
        signals[t, 0] = np.log(state[2] + 1e-12)
        signals[t, 1] = np.log(state[3] + 1e-12)
        signals[t, 2] = slope / (lam * lam).sum()
        f_prev, p_prev = f, p
    state[0], state[1] = f_prev, p_prev
    return factor, signals


class DynamicFactorDetector(Estimator):
    """Regime detector on the volatility and loadings of a one-factor dynamic factor model.

    Parameters
    ----------
    n_regimes : int, default 3
    halflife : float, default 8.0
        Half-life of the signal EWMAs, in rows.
    seed : int, default 7
        Seed of the Gaussian mixture.
    max_iter : int, default 100
        Iteration cap of the factor model's likelihood maximisation (statsmodels).

    Attributes
    ----------
    scale_ : ndarray of shape (n_assets,)
        Training standard deviation of each asset.
    loadings_ : ndarray of shape (n_assets,)
        :math:`\\lambda` (sign fixed so that the loadings sum positive).
    phi_ : float
        Factor autoregression.
    idio_var_ : ndarray of shape (n_assets,)
        :math:`\\sigma^2_i`.
    mixture_ : GaussianMixture
        Map from signals to regimes (components ordered by factor volatility).
    converged_ : bool
        Whether the factor model's likelihood maximisation converged (statsmodels'
        ``mle_retvals``).
    warnings_ : list of str
        Convergence warnings of the fit (statsmodels' re-raised as Riskstream's).
    """

    name = "dfm"

    def __init__(
        self, n_regimes: int = 3, halflife: float = 8.0, seed: int = 7, max_iter: int = 100
    ):
        self.n_regimes = n_regimes
        self.halflife = halflife
        self.seed = seed
        self.max_iter = max_iter

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Fit the factor model, then the mixture over the filtered signals.

        ``labels`` (n_obs,), when given, start the mixture at each regime's mean signal.
        """
        with single_threaded():
            import statsmodels.api as sm

            r = check_returns(returns, min_obs=200)
            if r.shape[1] < 2:
                from riskstream.core.errors import InputError

                raise InputError("returns columns", r.shape[1], "at least 2 assets for a factor")
            self.scale_ = r.std(axis=0)
            z = r / self.scale_
            tail = z[-MAX_FIT_OBS:]
            log = self._start_warnings()
            # statsmodels' ConvergenceWarning is re-raised as ours and logged; its
            # mle_retvals flag is the authority (checked below)
            with third_party_warnings(log, "DynamicFactorDetector: statsmodels"):
                model = sm.tsa.DynamicFactor(tail, k_factors=1, factor_order=1)
                res = model.fit(disp=False, maxiter=self.max_iter)
            retvals = getattr(res, "mle_retvals", None) or {}
            self.converged_ = bool(retvals.get("converged", True))
            if not self.converged_ and not any("ConvergenceWarning" in w for w in log):
                self._warn(
                    ConvergenceWarning,
                    f"the factor model's likelihood did not converge in {self.max_iter} "
                    "iterations; the best point reached is kept",
                )
            n = r.shape[1]
            params = np.asarray(res.params)
            lam = params[:n]
            sign = 1.0 if lam.sum() >= 0 else -1.0
            self.loadings_ = sign * lam
            self.idio_var_ = np.maximum(params[n : 2 * n], 1e-6)
            self.phi_ = float(np.clip(params[2 * n], -0.99, 0.99))
            self.result_ = res
            signals = self._signals(z, self._initial_state())[1]
            means_init = None
            if labels is not None:
                lab = check_labels(labels, len(r), self.n_regimes)
                means_init = np.array(
                    [
                        signals[lab == k].mean(axis=0) if (lab == k).any() else signals.mean(axis=0)
                        for k in range(self.n_regimes)
                    ]
                )
            gm = GaussianMixture(
                self.n_regimes,
                covariance_type="full",
                random_state=self.seed,
                means_init=means_init,
                n_init=1 if means_init is not None else 3,
                reg_covar=1e-4,
            ).fit(signals[int(4 * self.halflife) :])
            if not gm.converged_:
                raise ModelError("dynamic factor detector: the signal mixture did not converge")
            self.mixture_ = gm
            self._order = volatility_order(gm.means_[:, 0])
            if labels is not None:  # components named after the known regimes they match
                self._order = align_states(gm.predict_proba(signals), lab)
            self.reset()
            return self

    def _initial_state(self) -> np.ndarray:
        n = len(self.loadings_)
        state = np.zeros(5 + n)
        state[1] = 1.0 / (1.0 - self.phi_**2)  # stationary variance of the factor
        state[2] = 1.0
        state[3] = 1.0
        state[4 : 4 + n] = self.loadings_ * state[1]
        state[4 + n] = state[1]
        return state

    def _signals(self, z: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return factor_filter(
            np.ascontiguousarray(z),
            self.loadings_,
            self.phi_,
            self.idio_var_,
            state,
            float(self.halflife),
        )

    def _proba(self, signals: np.ndarray) -> np.ndarray:
        return self.mixture_.predict_proba(signals)[:, self._order]

    def reset(self) -> None:
        """Start the Kalman filter at the factor's stationary law."""
        require_fitted(self, "mixture_")
        self._state = self._initial_state()

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); regime probabilities now, shape (K,)."""
        require_fitted(self, "mixture_")
        row = check_row(r_t, len(self.scale_)) / self.scale_
        _, signals = self._signals(row[None, :], self._state)
        return self._proba(signals)[0]

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Probabilities of every row (n_obs, K), from :meth:`reset`'s state."""
        require_fitted(self, "mixture_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        _, signals = self._signals(r / self.scale_, self._initial_state())
        return self._proba(signals)

    def filtered_factor(self, returns: ArrayLike) -> np.ndarray:
        """Filtered factor :math:`f_{t|t}` of every row (n_obs,)."""
        require_fitted(self, "mixture_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        factor, _ = self._signals(r / self.scale_, self._initial_state())
        return factor
