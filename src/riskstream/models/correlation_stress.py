"""Correlation stress through a single market index: correlations rise with the market's share
of variance.

Correlations rise in volatile and bear markets (Longin & Solnik 2001, "Extreme correlation
of international equity markets", *J. Finance* 56(2); Ang & Chen 2002, "Asymmetric
correlations of equity portfolios", *J. Financial Economics* 63(3); Ang & Bekaert 2002,
"International asset allocation with regime shifts", *Rev. Financial Studies* 15(4)). In a
single-index model (Sharpe 1963, "A simplified model for portfolio analysis", *Management
Science* 9(2)), :math:`r_j = \\beta_j m + e_j`, this is the systematic variance rising more
than the idiosyncratic: scale the market's variance by :math:`A` and every idiosyncratic
variance by :math:`B` and the correlation matrix becomes

.. math::
    R(\\theta) = N^{-1}\\,(R + (\\theta - 1)\\, c c^\\top)\\,N^{-1},\\qquad
    N = \\operatorname{diag}\\big(\\sqrt{1 + (\\theta - 1) c_j^2}\\big),\\qquad
    \\theta = A / B,

with :math:`c_j` the correlation of variable :math:`j` with the market. It is a valid
correlation matrix for every :math:`\\theta > 0` (:math:`R - cc^\\top`, the residual
correlation, is positive semi-definite, so :math:`R + (\\theta-1)cc^\\top` is; the
congruence by :math:`N^{-1}` sets the unit diagonal), equals :math:`R` at
:math:`\\theta = 1`, tends to perfect correlation signed by :math:`c` as
:math:`\\theta \\to \\infty` and to the residual correlation as :math:`\\theta \\to 0`. Its
one parameter does not depend on which assets it is measured on (in the single-index model
:math:`\\theta = A/B` exactly), so a ratio measured on a regime model's few assets can stress
the risk engine's thousands of factors (:mod:`riskstream.risk.conditioning`).

The market is proxied by the equal-weighted index of the standardised variables,
:math:`c = R\\mathbf 1 / \\sqrt{\\mathbf 1^\\top R \\mathbf 1}`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from riskstream.core.errors import InputError

RATIO_BOUNDS = (1e-3, 1e3)  # market-variance ratios searched for a target correlation


def _check_corr(corr: ArrayLike) -> np.ndarray:
    r = np.asarray(corr, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] < 2:
        raise InputError("corr", f"array of shape {r.shape}", "a square matrix, at least 2 x 2")
    if not np.isfinite(r).all():
        raise InputError("corr", "NaN or inf", "a finite correlation matrix")
    return r


def average_correlation(corr: ArrayLike) -> float:
    """Mean of the off-diagonal entries of a correlation matrix (n >= 2)."""
    r = _check_corr(corr)
    n = r.shape[0]
    return float((r.sum() - np.trace(r)) / (n * (n - 1)))


def index_correlations(corr: ArrayLike) -> np.ndarray:
    """Correlation of each variable with the equal-weighted index of the standardised
    variables, :math:`c = R\\mathbf 1/\\sqrt{\\mathbf 1^\\top R\\mathbf 1}`, shape (n,)."""
    r = _check_corr(corr)
    row = r.sum(axis=1)
    total = row.sum()
    if not total > 0:
        raise InputError("corr", f"index variance {total}", "a positive index variance")
    return row / np.sqrt(total)


def single_index_stress(corr: ArrayLike, ratio: float, c: ArrayLike | None = None) -> np.ndarray:
    """:math:`R(\\theta)` of the module docstring: the market's variance ``ratio`` times
    larger relative to the idiosyncratic variances.

    Parameters
    ----------
    corr : array_like of shape (n, n)
        Correlation matrix :math:`R`.
    ratio : float
        :math:`\\theta > 0`; 1 leaves ``corr`` unchanged.
    c : array_like of shape (n,), optional
        Correlations with the market (default :func:`index_correlations`).
    """
    r = _check_corr(corr)
    if not (np.isfinite(ratio) and ratio > 0):
        raise InputError("ratio", ratio, "a positive market-variance ratio")
    c = index_correlations(r) if c is None else np.asarray(c, dtype=np.float64)
    out = r + (ratio - 1.0) * np.outer(c, c)
    d = np.sqrt(np.diag(out))
    out = out / np.outer(d, d)
    np.fill_diagonal(out, 1.0)
    return out


def market_variance_ratio(corr: ArrayLike, target: float, c: ArrayLike | None = None) -> float:
    """The :math:`\\theta` whose :math:`R(\\theta)` has average correlation ``target``.

    Solved by Brent's method in :math:`\\log\\theta` over :data:`RATIO_BOUNDS`; a target
    beyond what the family reaches there gives the nearest bound.
    """
    r = _check_corr(corr)
    if not np.isfinite(target) or abs(target) > 1:
        raise InputError("target", target, "an average correlation in [-1, 1]")
    c = index_correlations(r) if c is None else np.asarray(c, dtype=np.float64)

    def gap(log_ratio: float) -> float:
        return average_correlation(single_index_stress(r, float(np.exp(log_ratio)), c)) - target

    grid = np.linspace(np.log(RATIO_BOUNDS[0]), np.log(RATIO_BOUNDS[1]), 121)
    values = np.array([gap(x) for x in grid])
    if abs(gap(0.0)) < 1e-12:
        return 1.0
    crossing = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
    if crossing.size == 0:  # out of reach: the bound nearest the target
        return float(np.exp(grid[np.argmin(np.abs(values))]))
    i = int(crossing[np.argmin(np.abs(grid[crossing]))])  # the crossing nearest theta = 1
    return float(np.exp(brentq(gap, grid[i], grid[i + 1], xtol=1e-12)))
