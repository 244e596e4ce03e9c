"""Black-Litterman: market equilibrium returns blended with views, and regime views.

**Prior** (reverse optimisation; Black & Litterman 1992): the excess returns under which the
market portfolio :math:`w_m` is optimal for a mean-variance investor of risk aversion
:math:`\\delta`, :math:`\\Pi = \\delta\\Sigma w_m`.

**Views**: :math:`k` linear views :math:`P\\mu = Q + \\varepsilon`,
:math:`\\varepsilon \\sim N(0, \\Omega)`; an absolute view has one 1 in its row of
:math:`P`, a relative view weights that sum to 0 (He & Litterman's Germany-vs-Europe view
splits the -1 by market capitalisation).

**Posterior** (He & Litterman 1999, "The intuition behind Black-Litterman model portfolios",
Goldman Sachs, eqs. 8-9 and appendix):

.. math::
    \\mu_{BL} = \\Pi + \\tau\\Sigma P^\\top (P\\tau\\Sigma P^\\top + \\Omega)^{-1} (Q - P\\Pi),
    \\qquad M = \\tau\\Sigma - \\tau\\Sigma P^\\top (P\\tau\\Sigma P^\\top + \\Omega)^{-1}
    P\\tau\\Sigma,

the posterior covariance of returns :math:`\\Sigma_{BL} = \\Sigma + M`, and the unconstrained
optimal weights :math:`w^* = (\\delta\\Sigma_{BL})^{-1}\\mu_{BL}`.

**Ω** (the views' uncertainty):

* ``he_litterman`` (default): :math:`\\Omega = \\operatorname{diag}(P\\tau\\Sigma P^\\top)` —
  each view as uncertain as the prior of the portfolio it describes;
* ``idzorek``: a confidence :math:`c_k \\in (0, 1]` per view (Idzorek 2005, "A step-by-step
  guide to the Black-Litterman model"), in the closed form of Walters (2014, "The
  Black-Litterman model in detail", §"Idzorek's method"):
  :math:`\\Omega_{kk} = \\frac{1 - c_k}{c_k}\\, p_k\\tau\\Sigma p_k^\\top`, under which a
  single view moves :math:`\\mu_{BL}` a share :math:`c_k` of the way a certain view would.

**Regime views** (:func:`regime_views`): a view per regime, :math:`Q_k` (e.g. "equities beat
bonds by 4% in the calm regime, lose 6% in the stressed one"), blended under the detected
regime probabilities :math:`p`:

.. math::
    Q = \\sum_k p_k Q_k, \\qquad
    \\Omega_{regime} = \\Omega + \\operatorname{diag}\\Big(\\sum_k p_k (Q_k - Q)^2\\Big),

the law of total variance: not knowing which regime holds adds the spread of the regimes'
views to each view's uncertainty, so a view the regimes disagree on counts for less, and a
confident regime probability makes the views sharp again. The covariance is the regime
mixture :func:`riskstream.portfolio.estimation.regime_covariance` under the same
:math:`p`, and :math:`\\Pi` follows from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.portfolio.estimation import check_covariance

OmegaMethod = Literal["he_litterman", "idzorek"]


@dataclass(frozen=True)
class BlackLittermanResult:
    """Prior, posterior and the unconstrained optimal weights (arrays of shape (n_assets,)).

    ``omega``: (k, k); ``posterior_covariance``: :math:`\\Sigma + M`, (n_assets, n_assets).
    """

    prior_returns: np.ndarray
    posterior_returns: np.ndarray
    posterior_covariance: np.ndarray
    weights: np.ndarray
    omega: np.ndarray

    def as_dict(self, names: list[str]) -> dict[str, Any]:
        def named(values: np.ndarray) -> dict[str, float]:
            return dict(zip(names, values.tolist(), strict=True))

        return {
            "prior_returns": named(self.prior_returns),
            "posterior_returns": named(self.posterior_returns),
            "weights": named(self.weights),
            "omega": np.diag(self.omega).tolist(),
        }


def equilibrium_returns(cov: ArrayLike, market_weights: ArrayLike, delta: float) -> np.ndarray:
    """:math:`\\Pi = \\delta\\Sigma w_m` (excess returns implied by the market portfolio)."""
    sigma = check_covariance(cov)
    w = np.asarray(market_weights, dtype=np.float64)
    if w.shape != (sigma.shape[0],) or not np.isfinite(w).all():
        raise InputError("market_weights", w.tolist(), f"{sigma.shape[0]} finite weights")
    if not (np.isfinite(delta) and delta > 0):
        raise InputError("delta", delta, "a positive risk aversion, e.g. 2.5")
    return delta * sigma @ w


def _check_views(picks: ArrayLike, q: ArrayLike, n_assets: int) -> tuple[np.ndarray, np.ndarray]:
    p = np.atleast_2d(np.asarray(picks, dtype=np.float64))
    qv = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if p.shape[1] != n_assets or p.shape[0] != qv.shape[0] or p.shape[0] < 1:
        raise InputError(
            "views", f"P {p.shape}, q {qv.shape}", f"(k, {n_assets}) picks and k returns, k >= 1"
        )
    if not (np.isfinite(p).all() and np.isfinite(qv).all()):
        raise InputError("views", "a non-finite pick or view return", "finite numbers")
    empty = np.flatnonzero(~p.any(axis=1))
    if empty.size:
        raise InputError(f"views[{empty[0]}]", "all zeros", "a view on at least one asset")
    return p, qv


def view_uncertainty(
    cov: np.ndarray,
    picks: np.ndarray,
    tau: float,
    method: OmegaMethod = "he_litterman",
    confidences: ArrayLike | None = None,
) -> np.ndarray:
    """:math:`\\Omega` by He-Litterman or Idzorek (see the module docstring); (k, k)."""
    prior = np.einsum("ki,ij,kj->k", picks, tau * cov, picks)  # diag(P tau Sigma P^T)
    if method == "he_litterman":
        return np.diag(prior)
    if method == "idzorek":
        if confidences is None:
            raise InputError("confidence", None, "a confidence in (0, 1] for every view")
        c = np.asarray(confidences, dtype=np.float64)
        if c.shape != prior.shape or not np.all((c > 0) & (c <= 1)):
            raise InputError("confidence", c.tolist(), f"{prior.size} numbers in (0, 1]")
        return np.diag((1.0 - c) / c * prior)
    raise InputError("omega", method, "he_litterman or idzorek")


def black_litterman(
    cov: ArrayLike,
    market_weights: ArrayLike,
    picks: ArrayLike,
    view_returns: ArrayLike,
    delta: float = 2.5,
    tau: float = 0.05,
    omega: OmegaMethod | np.ndarray = "he_litterman",
    confidences: ArrayLike | None = None,
) -> BlackLittermanResult:
    """The Black-Litterman posterior and weights (see the module docstring).

    Parameters
    ----------
    cov : ndarray of shape (n_assets, n_assets)
        Covariance of (annual) returns.
    market_weights : ndarray of shape (n_assets,)
    picks : ndarray of shape (k, n_assets)
        :math:`P`, one row per view.
    view_returns : ndarray of shape (k,)
        :math:`Q`, decimal.
    delta, tau : float
        Risk aversion and the prior's scale (He & Litterman use 2.5 and 0.05).
    omega : str or ndarray of shape (k, k)
        ``he_litterman``, ``idzorek`` (with ``confidences``) or the matrix itself.
    """
    sigma = check_covariance(cov)
    n = sigma.shape[0]
    if not (np.isfinite(tau) and tau > 0):
        raise InputError("tau", tau, "a positive scale, e.g. 0.05")
    prior = equilibrium_returns(sigma, market_weights, delta)
    p, q = _check_views(picks, view_returns, n)
    if isinstance(omega, str):
        om = view_uncertainty(sigma, p, tau, omega, confidences)  # type: ignore[arg-type]
    else:
        om = np.asarray(omega, dtype=np.float64)
        if om.shape != (p.shape[0], p.shape[0]):
            raise InputError("omega", f"shape {om.shape}", f"({p.shape[0]}, {p.shape[0]})")
    ts = tau * sigma
    # A = P tau Sigma P^T + Omega; solve instead of inverting (a 100%-confident view has
    # Omega_kk = 0, which the sum keeps invertible as long as the views are independent)
    a = p @ ts @ p.T + om
    gain = np.linalg.solve(a, p @ ts).T  # tau Sigma P^T A^-1, (n, k)
    posterior = prior + gain @ (q - p @ prior)
    m = ts - gain @ p @ ts
    post_cov = sigma + 0.5 * (m + m.T)
    weights = np.linalg.solve(delta * post_cov, posterior)
    return BlackLittermanResult(prior, posterior, post_cov, weights, om)


def regime_views(
    view_returns_by_regime: ArrayLike,
    probabilities: ArrayLike,
    omega: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Views blended over regimes: :math:`Q = \\sum_k p_k Q_k` and
    :math:`\\Omega + \\operatorname{diag}(\\sum_k p_k (Q_k - Q)^2)` (module docstring).

    Parameters
    ----------
    view_returns_by_regime : ndarray of shape (K, k)
        Each regime's return for each view.
    probabilities : ndarray of shape (K,)
        The detected regime probabilities now.
    omega : ndarray of shape (k, k)
        The views' uncertainty within a regime (e.g. He-Litterman's).
    """
    qk = np.atleast_2d(np.asarray(view_returns_by_regime, dtype=np.float64))
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape != (qk.shape[0],) or not np.isfinite(qk).all():
        raise InputError("view_returns_by_regime", f"shape {qk.shape}", f"({p.size}, k) finite")
    if not ((p >= 0).all() and abs(p.sum() - 1.0) < 1e-8):
        raise InputError("probabilities", p.tolist(), "non-negative probabilities summing to 1")
    q = p @ qk
    spread = p @ (qk - q) ** 2
    return q, np.asarray(omega, dtype=np.float64) + np.diag(spread)
