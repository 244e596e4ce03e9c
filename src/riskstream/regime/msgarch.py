"""Markov-switching GARCH of Haas, Mittnik & Paolella (2004), written here: no maintained
Python library estimates it.

Haas, M., Mittnik, S. & Paolella, M. S. (2004), "A new approach to Markov-switching GARCH
models", *Journal of Financial Econometrics* 2(4), 493–530. A hidden Markov chain
:math:`\\Delta_t \\in \\{1..K\\}` with transition matrix :math:`P` selects which of :math:`K`
GARCH(1,1) variance processes drives the return; unlike Gray (1996) each regime's variance
follows its *own* recursion on the observed shock, so the likelihood has no path dependence
and the Hamilton filter applies exactly:

.. math::
    \\varepsilon_t = \\sigma_{\\Delta_t, t}\\, z_t,\\quad z_t \\sim N(0,1),\\qquad
    \\sigma^2_{k,t} = \\omega_k + \\alpha_k \\varepsilon^2_{t-1} + \\beta_k \\sigma^2_{k,t-1},
    \\quad k = 1..K.

Parameters are estimated by maximum likelihood (scipy L-BFGS-B over unconstrained
transforms: :math:`\\omega_k = e^{u}`, :math:`\\alpha_k + \\beta_k < 1` by a logistic,
transition rows by a softmax); the recursion plus filter is one numba kernel, so an update
costs :math:`O(K^2)`. Regimes are ordered by unconditional variance
:math:`\\omega_k / (1-\\alpha_k-\\beta_k)` (label 0 the calmest).

For cross-asset returns the model is fitted to the equal-weighted average of the
standardised returns — the market factor, where volatility regimes show most clearly.
"""

from __future__ import annotations

from typing import Self

import numpy as np
from numba import njit
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from riskstream.core.errors import ModelError
from riskstream.core.warnings import ConvergenceWarning
from riskstream.models.base import Estimator
from riskstream.regime.base import (
    align_states,
    check_labels,
    check_returns,
    check_row,
    require_fitted,
    single_threaded,
    stationary_distribution,
    volatility_order,
)

MAX_PERSISTENCE = 0.999
LOG_2PI = float(np.log(2.0 * np.pi))


@njit(cache=True)
def msgarch_filter(eps, omega, alpha, beta, transition, predicted, h, eps2_prev):
    """Run the K parallel GARCH recursions and the Hamilton filter over ``eps`` (n_obs,).

    ``predicted`` is the law of the first row's regime, ``h`` (K,) the variances of the row
    before the first and ``eps2_prev`` its squared shock. Returns filtered probabilities
    (n_obs, K), the log-likelihood, and the state to continue from: the next prediction,
    the last variances and the last squared shock.
    """
    n_obs = eps.shape[0]
    k = omega.shape[0]
    out = np.empty((n_obs, k))
    pred = predicted.copy()
    var = h.copy()
    xi = np.empty(k)
    loglik = 0.0
    e2 = eps2_prev
    for t in range(n_obs):
        total = 0.0
        for j in range(k):
            var[j] = omega[j] + alpha[j] * e2 + beta[j] * var[j]
            dens = np.exp(-0.5 * (LOG_2PI + np.log(var[j]) + eps[t] * eps[t] / var[j]))
            xi[j] = pred[j] * dens
            total += xi[j]
        if total <= 1e-300 or not np.isfinite(total):
            loglik += -1e6  # numerically impossible row: heavy penalty, restart flat
            xi[:] = 1.0 / k
        else:
            loglik += np.log(total)
            xi /= total
        out[t] = xi
        pred = transition.T @ xi
        e2 = eps[t] * eps[t]
    return out, loglik, pred, var, e2


def simulate_msgarch(
    n_obs: int,
    omega: ArrayLike,
    alpha: ArrayLike,
    beta: ArrayLike,
    transition: ArrayLike,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the HMP (2004) MS-GARCH(1,1) with normal shocks.

    Returns the shocks (n_obs,) and the regime path (n_obs,), started from the stationary
    law of the chain and each regime's unconditional variance.
    """
    om, al, be = (np.asarray(v, dtype=np.float64) for v in (omega, alpha, beta))
    p = np.asarray(transition, dtype=np.float64)
    rng = np.random.default_rng(seed)
    k = len(om)
    state = rng.choice(k, p=stationary_distribution(p))
    var = om / (1.0 - al - be)
    e2 = float(var[state])
    eps = np.empty(n_obs)
    states = np.empty(n_obs, dtype=np.int64)
    z = rng.standard_normal(n_obs)
    u = rng.random(n_obs)
    for t in range(n_obs):
        if t:
            state = int(np.searchsorted(np.cumsum(p[state]), u[t] * p[state].sum()))
            state = min(state, k - 1)
        var = om + al * e2 + be * var
        eps[t] = np.sqrt(var[state]) * z[t]
        states[t] = state
        e2 = eps[t] ** 2
    return eps, states


def _unpack(theta: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    omega = np.exp(theta[:k])
    persistence = MAX_PERSISTENCE / (1.0 + np.exp(-theta[k : 2 * k]))
    share = 1.0 / (1.0 + np.exp(-theta[2 * k : 3 * k]))
    alpha, beta = persistence * share, persistence * (1.0 - share)
    logits = np.zeros((k, k))
    off = ~np.eye(k, dtype=bool)
    logits[off] = theta[3 * k :]
    transition = np.exp(logits - logits.max(axis=1, keepdims=True))
    transition /= transition.sum(axis=1, keepdims=True)
    return omega, alpha, beta, transition


def _pack(omega, alpha, beta, transition) -> np.ndarray:
    k = len(omega)
    persistence = (alpha + beta) / MAX_PERSISTENCE
    share = alpha / (alpha + beta)
    logit = lambda p: np.log(p / (1.0 - p))  # noqa: E731
    off = ~np.eye(k, dtype=bool)
    logits = np.log(transition) - np.log(np.diag(transition))[:, None]
    return np.concatenate([np.log(omega), logit(persistence), logit(share), logits[off]])


class MSGarchDetector(Estimator):
    """Markov-switching GARCH(1,1) regime detector (Haas, Mittnik & Paolella 2004).

    Parameters
    ----------
    n_regimes : int, default 3
        Number of regimes :math:`K`.
    n_starts : int, default 2
        Starting points of the likelihood maximisation; the best wins.
    seed : int, default 7
        Seed of the perturbed starting points.

    Attributes
    ----------
    scale_ : ndarray of shape (n_assets,)
        Training standard deviation of each asset.
    factor_scale_ : float
        Standard deviation of the training market factor (the model's input is in its units).
    omega_, alpha_, beta_ : ndarray of shape (K,)
        GARCH parameters per regime, ordered by unconditional variance.
    transmat_ : ndarray of shape (K, K)
        Regime transition matrix.
    loglik_ : float
        Maximised log-likelihood.
    converged_ : bool
        Whether L-BFGS-B met its tolerance from the best start.
    warnings_ : list of str
        Convergence warnings of the fit.
    """

    name = "msgarch"

    def __init__(self, n_regimes: int = 3, n_starts: int = 2, seed: int = 7):
        self.n_regimes = n_regimes
        self.n_starts = n_starts
        self.seed = seed

    def factor(self, r: np.ndarray) -> np.ndarray:
        """The modelled series: mean standardised return across assets, in factor units."""
        return (r / self.scale_).mean(axis=1) / self.factor_scale_

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Maximise the likelihood on ``returns`` (n_obs, n_assets); with ``labels`` the
        regimes are relabelled to agree best with them, else ordered by unconditional
        variance."""
        k = self.n_regimes
        r = check_returns(returns, min_obs=max(200, 60 * k * k))
        self.scale_ = r.std(axis=0)
        self.factor_scale_ = 1.0
        self.factor_scale_ = float(self.factor(r).std())
        self.fit_series(self.factor(r))
        if labels is not None:  # relabel the regimes to agree best with known ones
            lab = check_labels(labels, len(r), k)
            order = align_states(self.predict_proba(r), lab)
            self.omega_, self.alpha_, self.beta_ = (
                self.omega_[order],
                self.alpha_[order],
                self.beta_[order],
            )
            self.transmat_ = self.transmat_[np.ix_(order, order)]
            self.reset()
        return self

    def fit_series(self, eps: ArrayLike) -> Self:
        """Maximise the likelihood of a univariate series of shocks ``eps`` (n_obs,)."""
        with single_threaded():
            k = self.n_regimes
            e = check_returns(eps, min_obs=max(200, 60 * k * k), field="eps")[:, 0]
            self._start_warnings()
            if not hasattr(self, "scale_"):
                self.scale_ = np.ones(1)
                self.factor_scale_ = 1.0
            var = float(e.var())
            h0 = np.full(k, var)
            prior = np.full(k, 1.0 / k)

            def nll(theta: np.ndarray) -> float:
                om, al, be, p = _unpack(theta, k)
                _, loglik, _, _, _ = msgarch_filter(e, om, al, be, p, prior, h0, var)
                return -loglik if np.isfinite(loglik) else 1e12

            levels = np.geomspace(0.3, 3.0, k) if k > 1 else np.ones(1)
            rng = np.random.default_rng(self.seed)
            best = None
            for i in range(self.n_starts):
                jitter = np.exp(rng.normal(0, 0.3, k)) if i else np.ones(k)
                om0 = var * levels * jitter * 0.1
                al0, be0 = np.full(k, 0.05), np.full(k, 0.85)
                p0 = np.full((k, k), 0.03 / max(k - 1, 1))
                np.fill_diagonal(p0, 0.97)
                res = minimize(nll, _pack(om0, al0, be0, p0), method="L-BFGS-B")
                if best is None or res.fun < best.fun:
                    best = res
            if best is None or not np.isfinite(best.fun):
                raise ModelError("MS-GARCH: likelihood maximisation failed from every start")
            self.converged_ = bool(best.success)
            if not best.success:
                self._warn(
                    ConvergenceWarning,
                    f"L-BFGS-B did not converge from the best start ({best.message}); the "
                    "best point reached is kept",
                )
            om, al, be, p = _unpack(best.x, k)
            order = volatility_order(om / (1.0 - al - be))
            self.omega_, self.alpha_, self.beta_ = om[order], al[order], be[order]
            self.transmat_ = p[np.ix_(order, order)]
            self.loglik_ = -float(best.fun)
            self._h0, self._e0 = h0, var
            self.reset()
            return self

    def reset(self) -> None:
        """Start the online filter: stationary regime law, variances at the sample variance."""
        require_fitted(self, "transmat_")
        self._pred = stationary_distribution(self.transmat_)
        self._h = self._h0.copy()
        self._e2 = self._e0

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); filtered probabilities now, shape (K,)."""
        require_fitted(self, "transmat_")
        row = check_row(r_t, len(self.scale_))
        eps = self.factor(row[None, :])
        probs, _, self._pred, self._h, self._e2 = msgarch_filter(
            eps,
            self.omega_,
            self.alpha_,
            self.beta_,
            self.transmat_,
            self._pred,
            self._h,
            self._e2,
        )
        return probs[0]

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Filtered probabilities of every row (n_obs, K), from :meth:`reset`'s state."""
        require_fitted(self, "transmat_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        probs, _, _, _, _ = msgarch_filter(
            self.factor(r),
            self.omega_,
            self.alpha_,
            self.beta_,
            self.transmat_,
            stationary_distribution(self.transmat_),
            self._h0.copy(),
            self._e0,
        )
        return probs
