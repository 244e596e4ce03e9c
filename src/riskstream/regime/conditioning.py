"""Regime-conditional second moments: how much more volatile and more correlated the market is
in each regime than on average — what the risk engine needs to condition its scenarios.

A regime-switching model holds a covariance per regime, :math:`r_t \\mid s_t = k \\sim
N(\\mu_k, \\Sigma_k)` (Hamilton 1989, "A new approach to the economic analysis of nonstationary
time series and the business cycle", *Econometrica* 57(2)); Ang & Bekaert (2002,
"International asset allocation with regime shifts", *Rev. Financial Studies* 15(4)) find
the bear regime both more volatile and more correlated, and the optimal portfolio and its
risk change with it. The risk engine's scenarios stand for the *unconditional* law: the
regimes' stationary mixture

.. math::
    \\bar\\Sigma = \\sum_k \\pi_k (\\Sigma_k + \\mu_k\\mu_k^\\top) - \\bar\\mu\\bar\\mu^\\top,
    \\qquad \\bar\\mu = \\sum_k \\pi_k \\mu_k,

with :math:`\\pi` the chain's stationary distribution. Relative to it, regime :math:`k` is
summarised by two numbers that transfer from the model's few assets to the engine's factors:

* the **volatility multiplier** :math:`s_k`, the geometric mean over assets of
  :math:`\\sigma_{k,j}/\\bar\\sigma_j`;
* the **market-variance ratio** :math:`\\theta_k` of the single-index correlation stress
  (:mod:`riskstream.models.correlation_stress`): the :math:`\\theta` whose stressed
  unconditional correlation has the regime's average pairwise correlation
  :math:`\\bar\\rho_k`.

Regime :math:`k`'s conditioning of the engine's factor covariance is then
:math:`s_k^2\\, D\\, R(\\theta_k)\\, D` (:mod:`riskstream.risk.conditioning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError, ModelError
from riskstream.models.correlation_stress import (
    average_correlation,
    index_correlations,
    market_variance_ratio,
)
from riskstream.regime.base import stationary_distribution


@dataclass(frozen=True)
class RegimeMoments:
    """Second moments of each regime relative to the unconditional (stationary) mixture.

    Attributes
    ----------
    weights : ndarray of shape (K,)
        Stationary probability of each regime (the mixture's weights).
    vol_multiplier : ndarray of shape (K,)
        :math:`s_k`: geometric mean over assets of the regime's volatility over the
        unconditional one.
    correlation : ndarray of shape (K,)
        Average pairwise correlation in each regime.
    correlation_unconditional : float
        Average pairwise correlation of the mixture.
    market_variance_ratio : ndarray of shape (K,)
        :math:`\\theta_k` of the single-index correlation stress (1: no change).
    """

    weights: np.ndarray
    vol_multiplier: np.ndarray
    correlation: np.ndarray
    correlation_unconditional: float
    market_variance_ratio: np.ndarray

    def conditioning(self, regime: int, stress_only: bool = True) -> tuple[float, float]:
        """(vol multiplier, market-variance ratio) of a regime.

        With ``stress_only`` both are floored at 1: a calm regime leaves the unconditional
        scenarios as they are instead of lowering risk below its through-the-cycle level
        (the pro-cyclicality Basel 2.5's stressed VaR was added against; BCBS 2009,
        *Revisions to the Basel II market risk framework*).
        """
        if not 0 <= regime < len(self.weights):
            raise InputError("regime", regime, f"a regime in 0..{len(self.weights) - 1}")
        s, theta = float(self.vol_multiplier[regime]), float(self.market_variance_ratio[regime])
        if stress_only:
            s, theta = max(s, 1.0), max(theta, 1.0)
        return s, theta

    def as_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights.round(4).tolist(),
            "vol_multiplier": self.vol_multiplier.round(4).tolist(),
            "correlation": self.correlation.round(4).tolist(),
            "correlation_unconditional": round(self.correlation_unconditional, 4),
            "market_variance_ratio": self.market_variance_ratio.round(4).tolist(),
        }


def mixture_covariance(means: ArrayLike, covariances: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Covariance of the regimes' mixture (the module docstring's :math:`\\bar\\Sigma`)."""
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, cov + mu[:, :, None] * mu[:, None, :])
    return second - np.outer(mean, mean)


def _correlation(cov: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d)


def regime_moments(means: ArrayLike, covariances: ArrayLike, weights: ArrayLike) -> RegimeMoments:
    """Per-regime volatility multipliers and correlation levels (see the module docstring).

    Parameters
    ----------
    means : array_like of shape (K, n_assets)
    covariances : array_like of shape (K, n_assets, n_assets)
        Regime-conditional covariances (any common units: only ratios are used).
    weights : array_like of shape (K,)
        Regime probabilities of the mixture (e.g. the chain's stationary distribution).

    Raises
    ------
    InputError
        Shapes disagree, fewer than 2 assets, weights not a probability vector, or a
        covariance with a non-positive variance.
    """
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    k = w.shape[0] if w.ndim == 1 else -1
    if cov.ndim != 3 or cov.shape[0] != k or cov.shape[1] != cov.shape[2] or cov.shape[1] < 2:
        raise InputError("covariances", f"shape {cov.shape}", "(K, n_assets, n_assets), n >= 2")
    if mu.shape != cov.shape[:2]:
        raise InputError("means", f"shape {mu.shape}", f"{cov.shape[:2]}")
    if not (np.isfinite(w).all() and (w >= 0).all() and abs(w.sum() - 1.0) < 1e-8):
        raise InputError("weights", w.tolist(), "non-negative probabilities summing to 1")
    variances = np.diagonal(cov, axis1=1, axis2=2)
    if not (np.isfinite(cov).all() and (variances > 0).all()):
        raise InputError("covariances", "a non-positive or non-finite variance", "variances > 0")
    total = mixture_covariance(mu, cov, w)
    vol_ratio = np.sqrt(variances / np.diag(total))
    corr = _correlation(total)
    c = index_correlations(corr)
    rho_k = np.array([average_correlation(_correlation(cov[j])) for j in range(k)])
    return RegimeMoments(
        weights=w,
        vol_multiplier=np.exp(np.log(vol_ratio).mean(axis=1)),
        correlation=rho_k,
        correlation_unconditional=average_correlation(corr),
        market_variance_ratio=np.array([market_variance_ratio(corr, t, c) for t in rho_k]),
    )


def model_moments(model: Any) -> RegimeMoments:
    """:func:`regime_moments` of a fitted :class:`~riskstream.regime.ensemble.RegimeEnsemble`
    measured on the rows of each of its training regimes (``regime_moments_``, with the
    regimes' sample shares as weights) when it has them; otherwise of a fitted Gaussian HMM — a
    :class:`~riskstream.regime.hmm.HMMDetector`, or the one inside a
    :class:`~riskstream.regime.ensemble.RegimeEnsemble` (which always holds one) — with its
    chain's stationary distribution as weights.

    Raises
    ------
    ModelError
        The model holds no fitted Gaussian HMM.
    """
    labelled = getattr(model, "regime_moments_", None)
    if labelled is not None:  # an ensemble's moments measured on its labelled regimes
        return regime_moments(*labelled)
    hmm = getattr(model, "detectors_", {}).get("hmm", model)
    if not hasattr(hmm, "covars_") or not hasattr(hmm, "transmat_"):
        raise ModelError(f"{type(model).__name__} holds no fitted Gaussian HMM (covars_)")
    return regime_moments(hmm.means_, hmm.covars_, stationary_distribution(hmm.transmat_))
