"""Estimation of the optimisers' inputs: expected returns and covariance, annualised.

Every estimator takes **simple** periodic returns of shape (n_observations, n_assets)
(oldest first) and annualises at ``periods_per_year`` observations a year (252 by default):

Expected returns (:func:`expected_returns`)
-------------------------------------------
* ``compounded`` (the CLI default) — the geometric mean, annualised:
  :math:`\\mu = \\left(\\prod_t (1 + r_t)\\right)^{P/n} - 1`;
* ``arithmetic`` — :math:`\\mu = P\\,\\bar r`;
* ``capm`` — the equilibrium of the single-index CAPM (Sharpe 1964):
  :math:`\\mu_i = r_f + \\beta_i (\\mu_m - r_f)`, with :math:`\\beta_i` the regression slope on
  the market's returns (given, or the equal-weighted portfolio) and :math:`\\mu_m` the
  market's compounded return;
* ``shrunk`` — James-Stein shrinkage of the sample means towards their grand mean
  (Jorion 1986, "Bayes-Stein estimation for portfolio analysis"), skfolio's ``ShrunkMu``.

Covariance (:func:`covariance`)
-------------------------------
* ``sample`` — the unbiased sample covariance (ddof 1) × P;
* ``ledoit_wolf`` — shrinkage to a scaled identity with the optimal intensity (Ledoit &
  Wolf 2004, "A well-conditioned estimator for large-dimensional covariance matrices"),
  skfolio's ``LedoitWolf``;
* ``ewma`` — RiskMetrics (J.P. Morgan 1996) exponentially weighted covariance with decay
  :math:`\\lambda` (half-life :math:`\\ln 0.5/\\ln\\lambda` observations), skfolio's
  ``EWCovariance``;
* ``factor`` — a linear factor model :math:`\\Sigma = B\\Sigma_f B^\\top + D` with loadings
  :math:`B` from least squares of the assets' returns on the factors' and :math:`D` the
  residual variances (Connor & Korajczyk; Grinold & Kahn, *Active Portfolio Management*,
  2nd ed., ch. 3);
* ``regime`` — :func:`regime_covariance`: the mixture of the regime package's per-regime
  moments under the detected regime probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.regime.conditioning import mixture_covariance

MEAN_METHODS: tuple[str, ...] = ("compounded", "arithmetic", "capm", "shrunk")
COV_METHODS: tuple[str, ...] = ("sample", "ledoit_wolf", "ewma", "factor")
MeanMethod = Literal["compounded", "arithmetic", "capm", "shrunk"]
CovMethod = Literal["sample", "ledoit_wolf", "ewma", "factor"]


def check_returns(returns: ArrayLike, field: str = "returns", min_obs: int = 2) -> np.ndarray:
    """A float64 (n_observations, n_assets) copy; NaN/inf, returns <= -100% or too few
    rows raise :class:`InputError` naming the first bad cell."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise InputError(field, f"array of shape {x.shape}", "(n_observations, n_assets)")
    bad = np.argwhere(~np.isfinite(x) | (x <= -1.0))
    if bad.size:
        t, j = bad[0]
        raise InputError(field, float(x[t, j]), f"finite returns above -100% (row {t}, column {j})")
    if x.shape[0] < min_obs:
        raise InputError(field, f"{x.shape[0]} observation(s)", f"at least {min_obs}")
    return x


def returns_from_prices(prices: ArrayLike, field: str = "prices") -> np.ndarray:
    """Simple returns :math:`P_t/P_{t-1} - 1` of a (n_dates, n_assets) price matrix."""
    p = np.asarray(prices, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 3:
        raise InputError(field, f"shape {p.shape}", "at least 3 dates of prices per asset")
    bad = np.argwhere(~np.isfinite(p) | (p <= 0))
    if bad.size:
        t, j = bad[0]
        raise InputError(field, float(p[t, j]), f"positive prices (row {t}, column {j})")
    return p[1:] / p[:-1] - 1.0


def expected_returns(
    returns: ArrayLike,
    method: MeanMethod = "compounded",
    periods_per_year: int = 252,
    market_returns: ArrayLike | None = None,
    risk_free_rate: float = 0.0,
) -> np.ndarray:
    """Annualised expected returns, shape (n_assets,) (see the module docstring)."""
    r = check_returns(returns)
    n = r.shape[0]
    if method == "compounded":
        # log1p / expm1 keep precision: prod(1+r)^(P/n) - 1 = expm1(P/n * sum log1p r)
        return np.expm1(np.log1p(r).sum(axis=0) * periods_per_year / n)
    if method == "arithmetic":
        return r.mean(axis=0) * periods_per_year
    if method == "capm":
        m = r.mean(axis=1) if market_returns is None else check_returns(market_returns)[:, 0]
        if m.shape[0] != n:
            raise InputError("market_returns", m.shape[0], f"{n} observations, as the assets")
        mc = m - m.mean()
        beta = (r - r.mean(axis=0)).T @ mc / (mc @ mc)
        mu_m = float(np.expm1(np.log1p(m).sum() * periods_per_year / n))
        return risk_free_rate + beta * (mu_m - risk_free_rate)
    if method == "shrunk":
        from skfolio.moments import ShrunkMu

        return ShrunkMu().fit(r).mu_ * periods_per_year
    raise InputError("method", method, f"one of {', '.join(MEAN_METHODS)}")


def covariance(
    returns: ArrayLike,
    method: CovMethod = "sample",
    periods_per_year: int = 252,
    ewma_lambda: float = 0.94,
    factor_returns: ArrayLike | None = None,
) -> np.ndarray:
    """Annualised covariance, shape (n_assets, n_assets) (see the module docstring)."""
    r = check_returns(returns)
    if method == "sample":
        return np.atleast_2d(np.cov(r, rowvar=False, ddof=1)) * periods_per_year
    if method == "ledoit_wolf":
        from skfolio.moments import LedoitWolf

        return LedoitWolf().fit(r).covariance_ * periods_per_year
    if method == "ewma":
        if not 0.0 < ewma_lambda < 1.0:
            raise InputError("ewma_lambda", ewma_lambda, "a decay strictly between 0 and 1")
        from skfolio.moments import EWCovariance

        half_life = np.log(0.5) / np.log(ewma_lambda)
        return EWCovariance(half_life=half_life).fit(r).covariance_ * periods_per_year
    if method == "factor":
        if factor_returns is None:
            raise InputError("factor_returns", None, "factor returns for the factor model")
        return factor_covariance(r, factor_returns, periods_per_year).covariance
    raise InputError("method", method, f"one of {', '.join(COV_METHODS)}")


@dataclass(frozen=True)
class FactorModelFit:
    """A fitted linear factor model :math:`r = \\alpha + B f + \\varepsilon` (annualised).

    Attributes
    ----------
    loadings : ndarray of shape (n_assets, n_factors)
    factor_covariance : ndarray of shape (n_factors, n_factors)
    specific_variance : ndarray of shape (n_assets,)
    covariance : ndarray of shape (n_assets, n_assets)
        :math:`B\\Sigma_f B^\\top + \\operatorname{diag}(D)`.
    """

    loadings: np.ndarray
    factor_covariance: np.ndarray
    specific_variance: np.ndarray
    covariance: np.ndarray


def factor_covariance(
    returns: ArrayLike, factor_returns: ArrayLike, periods_per_year: int = 252
) -> FactorModelFit:
    """Least-squares factor model of the assets' returns on the factors' (time-series
    regressions with an intercept, one per asset, solved together)."""
    r = check_returns(returns)
    f = check_returns(factor_returns, "factor_returns")
    if f.shape[0] != r.shape[0]:
        raise InputError("factor_returns", f.shape[0], f"{r.shape[0]} observations")
    n, k = f.shape
    if n <= k + 1:
        raise InputError("factor_returns", f"{n} observations", f"more than {k + 1}")
    design = np.column_stack([np.ones(n), f])
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    loadings = coef[1:].T
    resid = r - design @ coef
    specific = resid.var(axis=0, ddof=k + 1) * periods_per_year
    cov_f = np.atleast_2d(np.cov(f, rowvar=False, ddof=1)) * periods_per_year
    total = loadings @ cov_f @ loadings.T + np.diag(specific)
    return FactorModelFit(loadings, cov_f, specific, total)


def regime_covariance(
    means: ArrayLike, covariances: ArrayLike, probabilities: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance conditioned on the detected regime probabilities.

    With per-regime moments :math:`(\\mu_k, \\Sigma_k)` (the regime package's fitted HMM or
    its ensemble's labelled regimes) and the filtered probabilities :math:`p_k` of being in
    regime :math:`k` now, the next return is a mixture of normals (Hamilton 1989; Ang &
    Bekaert 2002), whose moments are

    .. math::
        \\mu_p = \\sum_k p_k\\mu_k, \\qquad
        \\Sigma_p = \\sum_k p_k(\\Sigma_k + \\mu_k\\mu_k^\\top) - \\mu_p\\mu_p^\\top,

    (:func:`riskstream.regime.conditioning.mixture_covariance`): the regimes' own
    covariances plus the dispersion of their means. ``probabilities`` = the stationary
    distribution gives the unconditional moments; a one-hot vector, one regime's.

    Returns
    -------
    (mean, covariance) : ndarray of shape (n_assets,), (n_assets, n_assets)
        In the units of the inputs (annualise them first).
    """
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if cov.ndim != 3 or mu.shape != cov.shape[:2] or p.shape != (cov.shape[0],):
        raise InputError(
            "regime moments",
            f"means {mu.shape}, covariances {cov.shape}, probabilities {p.shape}",
            "(K, n), (K, n, n) and (K,)",
        )
    if not (np.isfinite(p).all() and (p >= 0).all() and abs(p.sum() - 1.0) < 1e-8):
        raise InputError("probabilities", p.tolist(), "non-negative probabilities summing to 1")
    return p @ mu, mixture_covariance(mu, cov, p)


def check_covariance(cov: ArrayLike, field: str = "covariance") -> np.ndarray:
    """A symmetric positive semi-definite float64 matrix, else :class:`InputError`."""
    s = np.asarray(cov, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 1:
        raise InputError(field, f"shape {s.shape}", "a square matrix")
    if not np.isfinite(s).all():
        raise InputError(field, "a non-finite entry", "finite numbers")
    if not np.allclose(s, s.T, rtol=1e-8, atol=1e-12):
        i, j = np.unravel_index(np.argmax(np.abs(s - s.T)), s.shape)
        raise InputError(field, f"entry ({i}, {j}) = {s[i, j]} vs {s[j, i]}", "a symmetric matrix")
    s = 0.5 * (s + s.T)
    scale = max(float(np.abs(np.diag(s)).max()), 1e-300)
    try:  # a Cholesky factorisation exists: positive definite (a third of eigvalsh's work)
        np.linalg.cholesky(s + 1e-12 * scale * np.eye(s.shape[0]))
    except np.linalg.LinAlgError:  # singular or indefinite: the eigenvalues decide
        lowest = float(np.linalg.eigvalsh(s)[0])
        if lowest < -1e-10 * scale:
            raise InputError(
                field, f"smallest eigenvalue {lowest:.3g}", "positive semi-definite"
            ) from None
    return s
