"""The linear book: factor loadings, exposures and the linear scenario P&L.

Every non-option instrument (and an option's currency translation) loads linearly on at
most three risk factors: ``lin_f[i, j]`` is a factor column (-1: none) and ``lin_s[i, j]``
the base-currency P&L per unit of instrument per unit relative move of that factor. The
portfolio's exposure to factor ``f`` is :math:`e_f = \\sum_{i,j: f_{ij}=f} q_i s_{ij}`
and its linear P&L in scenario ``s`` is :math:`\\sum_f x_{sf} e_f`: one scenario-matrix
sweep (:func:`riskstream.risk.kernels.scenario_dot`), updated incrementally by
:func:`~riskstream.risk.kernels.scenario_axpy` over the factors whose exposure changed.
"""

from __future__ import annotations

import numpy as np

from riskstream.risk.kernels import (
    linear_unit_rows,
    linear_unit_weighted,
    scenario_axpy,
    scenario_dot,
)
from riskstream.risk.scenarios import ScenarioSet


def scenario_pnl(
    scenarios: ScenarioSet, exposure: np.ndarray, horizons: tuple[int, ...]
) -> dict[int, np.ndarray]:
    """Linear P&L of factor exposures ``exposure`` (n_factors,) in every scenario of each
    horizon, from scratch (a pure function: the background worker runs it for a new
    scenario set)."""
    nz = np.flatnonzero(exposure)
    out = {}
    for h in horizons:
        out[h] = np.empty(scenarios.n_scenarios)
        scenario_dot(scenarios.shocks[h], exposure, nz, out[h])
    return out


class LinearBook:
    """Loadings of ``n`` instruments on ``n_factors`` factors and the linear scenario P&L.

    Attributes
    ----------
    lin_f : ndarray of shape (n, 3) int64 — factor columns, -1 for none.
    lin_s : ndarray of shape (n, 3) — base-currency sensitivities per unit.
    lin_pnl : dict of int to ndarray of shape (n_scenarios,) — linear P&L per horizon.
    """

    def __init__(self, n: int, n_factors: int, horizons: tuple[int, ...], n_scen: int) -> None:
        self.n_factors = n_factors
        self.horizons = horizons
        self.lin_f = np.full((n, 3), -1, dtype=np.int64)
        self.lin_s = np.zeros((n, 3))
        self.lin_pnl = {h: np.zeros(n_scen) for h in horizons}
        self._exposure = np.zeros(n_factors)  # the exposures lin_pnl is the P&L of

    def set_loadings(self, ids: np.ndarray, lin_f: np.ndarray, lin_s: np.ndarray) -> None:
        """Replace the loadings of instruments ``ids`` (rows of shape (len(ids), 3))."""
        self.lin_f[ids] = lin_f
        self.lin_s[ids] = lin_s

    def rescale(self, ids: np.ndarray, ratio: np.ndarray) -> None:
        """Multiply the sensitivities of ``ids`` by ``ratio`` (an FX rate moved)."""
        self.lin_s[ids] *= ratio[:, None]

    def exposures(self, qty: np.ndarray) -> np.ndarray:
        """Linear factor exposures of holdings ``qty`` (n,), shape (n_factors,), base ccy."""
        w = self.lin_s * qty[:, None]
        f = self.lin_f.ravel()
        keep = f >= 0
        return np.bincount(f[keep], weights=w.ravel()[keep], minlength=self.n_factors)

    def sync(self, scenarios: ScenarioSet, qty: np.ndarray, full: bool = False) -> None:
        """Bring the linear scenario P&L up to date with the exposures.

        Only factors whose exposure changed are swept (``pnl += moves[:, f] * change``),
        unless more factors changed than have exposure (a sweep costs one column read per
        factor either way); ``full`` recomputes from scratch over the factors with exposure
        (a new scenario set, and periodically against drift of the running sums).
        """
        new = self.exposures(qty)
        delta = new - self._exposure
        changed = np.flatnonzero(delta)
        if not full and changed.size == 0:
            return
        nz = np.flatnonzero(new)
        if full or changed.size >= nz.size:
            for h in self.horizons:
                scenario_dot(scenarios.shocks[h], new, nz, self.lin_pnl[h])
        else:
            for h in self.horizons:
                scenario_axpy(scenarios.shocks[h], delta, changed, self.lin_pnl[h])
        self._exposure = new

    @property
    def exposure(self) -> np.ndarray:
        """The exposures ``lin_pnl`` is the P&L of (a copy)."""
        return self._exposure.copy()

    def install(self, lin_pnl: dict[int, np.ndarray], exposure: np.ndarray) -> None:
        """Adopt linear P&L computed elsewhere (:func:`scenario_pnl` of ``exposure``);
        the next :meth:`sync` sweeps only the factors whose exposure changed since."""
        for h in self.horizons:
            self.lin_pnl[h] = lin_pnl[h]
        self._exposure = exposure

    def unit_rows(self, rows_t: np.ndarray, inst: np.ndarray, out: np.ndarray) -> None:
        """Per-unit linear P&L of ``inst`` in scenarios whose moves are ``rows_t``
        (n_factors, n_rows); ``out`` (n_rows, len(inst)) is written."""
        linear_unit_rows(rows_t, inst, self.lin_f, self.lin_s, out)

    def unit_weighted(self, moves: np.ndarray, inst: np.ndarray, out: np.ndarray) -> None:
        """Per-unit linear P&L of ``inst`` under weighted-average factor moves ``moves``
        (n_sets, n_factors); ``out`` (n_sets, len(inst)) is written."""
        linear_unit_weighted(moves, inst, self.lin_f, self.lin_s, out)

    def trade_pnl(self, shocks: np.ndarray, instrument_id: int) -> np.ndarray:
        """Scenario P&L per unit of one instrument's linear loadings, (n_scenarios,)."""
        pnl = np.zeros(shocks.shape[0])
        for f, s in zip(self.lin_f[instrument_id], self.lin_s[instrument_id], strict=True):
            if f >= 0:
                pnl += s * shocks[:, f].astype(np.float64)
        return pnl
