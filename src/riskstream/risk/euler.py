"""Euler allocation of VaR and ES to positions, marginal and incremental VaR, aggregation.

VaR and ES are positively homogeneous of degree one in the position sizes, so by Euler's
theorem the total is the sum of the position sizes times the partial derivatives
(Tasche 1999, "Risk contributions and performance measurement"):

.. math:: \\rho(P) = \\sum_i w_i \\frac{\\partial \\rho}{\\partial w_i}.

For scenario P&L the derivatives are conditional expectations (Tasche 1999; Gourieroux,
Laurent & Scaillet 2000; Hallerbach 2003), with :math:`L = -\\sum_i pnl_i` the loss:

* **Component ES**: :math:`ES_i = -E[pnl_i \\mid L \\ge VaR]`, estimated as the average of
  the position's P&L over the ES tail scenarios (the same scenarios the total ES averages,
  :func:`riskstream.risk.measures.tail_indices`). The parts sum to ES **exactly**.
* **Component VaR**: :math:`VaR_i = -E[pnl_i \\mid L = VaR]`. A single scenario is a very
  noisy estimate of that conditional mean, so we use a kernel (neighbourhood) estimator
  (Gourieroux et al. 2000; Epperlein & Smillie 2006, "Cracking VaR with kernels"): a
  triangular-weighted average over the ``2m+1`` scenarios ranked nearest the VaR
  scenario. The weighted average of the *portfolio* loss over that neighbourhood is close
  to, but not exactly, VaR; the components are rescaled by ``VaR / weighted mean loss`` so
  that they sum to VaR **by construction** (the scale factor is reported; it is 1 up to the
  local slope of the loss distribution).
* **Marginal VaR** of a position is its component divided by its size (per unit of
  quantity): :math:`\\partial VaR / \\partial q_i`.
* **Incremental VaR** of a trade is the exact change in VaR when the trade's scenario P&L
  is added to the portfolio's, :math:`VaR(P + T) - VaR(P)`, with its first-order
  approximation :math:`\\sum_i \\Delta q_i\\,\\partial VaR/\\partial q_i` (Jorion, *Value at
  Risk*, 3rd ed., ch. 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.risk.measures import check_confidence, var_es_from_pnl, var_rank


def default_neighbours(n_scenarios: int) -> int:
    """Default half-width ``m`` of the VaR neighbourhood: ``max(2, n // 400)`` ranks."""
    return max(2, n_scenarios // 400)


@dataclass(frozen=True)
class TailRows:
    """The scenarios an Euler allocation needs, and their weights.

    Attributes
    ----------
    var, es : float
        Portfolio VaR and ES (positive losses).
    es_rows : ndarray of int
        The ES tail scenarios (weights ``1/len``).
    var_rows : ndarray of int
        The neighbourhood of the VaR scenario.
    var_weights : ndarray of float
        Kernel weights over ``var_rows``, summing to 1, already multiplied by the rescaling
        ``VaR / weighted mean loss`` so that components sum to VaR.
    var_scale : float
        That rescaling factor (1 means the neighbourhood mean loss equals VaR).
    """

    var: float
    es: float
    es_rows: np.ndarray
    var_rows: np.ndarray
    var_weights: np.ndarray
    var_scale: float

    @property
    def rows(self) -> np.ndarray:
        """Every scenario either allocation needs (sorted, unique)."""
        return np.union1d(self.es_rows, self.var_rows)


def tail_rows(pnl: ArrayLike, confidence: float, neighbours: int = 0) -> TailRows:
    """Find the ES tail and the VaR neighbourhood of portfolio scenario P&L.

    Parameters
    ----------
    pnl : ndarray of shape (n_scenarios,)
        Portfolio P&L per scenario.
    confidence : float
        Confidence level.
    neighbours : int
        Half-width ``m`` of the VaR neighbourhood in ranks; 0 picks
        :func:`default_neighbours`.
    """
    pnl = np.asarray(pnl, dtype=np.float64)
    c = check_confidence(confidence)
    n = pnl.shape[0]
    losses = -pnl
    k = var_rank(n, c)
    m = neighbours or default_neighbours(n)
    lo, hi = max(k - m, 0), min(k + m, n - 1)
    order = np.argpartition(losses, sorted({lo, k, hi}))
    var = float(losses[order[k]])
    es_rows = order[k:]
    es = float(losses[es_rows].mean())
    # Ranks lo..hi, sorted by loss so each gets its rank distance to the VaR rank.
    window = order[lo : hi + 1]
    window = window[np.argsort(losses[window], kind="stable")]
    ranks = np.arange(lo, hi + 1)
    w = 1.0 - np.abs(ranks - k) / (m + 1.0)  # triangular kernel in rank distance
    w /= w.sum()
    mean_loss = float(w @ losses[window])
    scale = var / mean_loss if mean_loss != 0 else 1.0
    return TailRows(var, es, es_rows, window, w * scale, scale)


def component_es(pnl_parts_tail: ArrayLike) -> np.ndarray:
    """Component ES from the parts' P&L over the ES tail rows.

    Parameters
    ----------
    pnl_parts_tail : ndarray of shape (n_tail, n_parts)
        P&L of each part in each ES tail scenario (``TailRows.es_rows``).

    Returns
    -------
    ndarray of shape (n_parts,)
        Contributions (positive = adds to the loss); they sum to ES exactly.
    """
    return -np.asarray(pnl_parts_tail, dtype=np.float64).mean(axis=0)


def component_var(pnl_parts_window: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """Component VaR from the parts' P&L over the VaR neighbourhood rows.

    Parameters
    ----------
    pnl_parts_window : ndarray of shape (n_window, n_parts)
        P&L of each part in ``TailRows.var_rows``.
    weights : ndarray of shape (n_window,)
        ``TailRows.var_weights``.
    """
    return -np.asarray(weights, dtype=np.float64) @ np.asarray(pnl_parts_window, np.float64)


def euler_allocation(
    pnl_parts: ArrayLike, confidence: float, neighbours: int = 0
) -> tuple[TailRows, np.ndarray, np.ndarray]:
    """Component VaR and ES of every part from its full scenario P&L.

    Parameters
    ----------
    pnl_parts : ndarray of shape (n_scenarios, n_parts)
        Scenario P&L of each part (position, book, desk...); the portfolio is their sum.

    Returns
    -------
    (tail, component_var, component_es)
    """
    parts = np.asarray(pnl_parts, dtype=np.float64)
    if parts.ndim != 2:
        raise InputError("pnl_parts", f"shape {parts.shape}", "(n_scenarios, n_parts)")
    tail = tail_rows(parts.sum(axis=1), confidence, neighbours)
    return (
        tail,
        component_var(parts[tail.var_rows], tail.var_weights),
        component_es(parts[tail.es_rows]),
    )


def marginal_var(component: ArrayLike, quantity: ArrayLike) -> np.ndarray:
    """Marginal VaR per unit of quantity, :math:`\\partial VaR/\\partial q_i = VaR_i/q_i`
    (NaN where the quantity is 0)."""
    comp = np.asarray(component, dtype=np.float64)
    q = np.asarray(quantity, dtype=np.float64)
    out = np.full_like(comp, np.nan)
    np.divide(comp, q, out=out, where=q != 0)
    return out


def incremental_var(
    portfolio_pnl: ArrayLike, trade_pnl: ArrayLike, confidence: float
) -> tuple[float, float]:
    """Exact incremental VaR and ES of a trade: ``(VaR(P+T) - VaR(P), ES(P+T) - ES(P))``.

    Parameters
    ----------
    portfolio_pnl, trade_pnl : ndarray of shape (n_scenarios,)
        Scenario P&L of the portfolio and of the trade, on the same scenarios.
    """
    p = np.asarray(portfolio_pnl, dtype=np.float64)
    t = np.asarray(trade_pnl, dtype=np.float64)
    if p.shape != t.shape:
        raise InputError("trade_pnl", f"shape {t.shape}", f"the portfolio's shape {p.shape}")
    v0, e0 = var_es_from_pnl(p, confidence)
    v1, e1 = var_es_from_pnl(p + t, confidence)
    return v1 - v0, e1 - e0


def aggregate(contributions: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """Sum per-position contributions by a label (asset class, desk, strategy, trader).

    Euler components are additive, so a group's component is the sum of its positions'.
    Returns ``{label: total}`` with labels sorted.
    """
    values = np.asarray(contributions, dtype=np.float64)
    names = np.asarray(labels).astype(str)
    uniq, inverse = np.unique(names, return_inverse=True)
    totals = np.bincount(inverse, weights=values, minlength=uniq.size)
    return {str(u): float(t) for u, t in zip(uniq, totals, strict=True)}
