"""The VaR methods behind one interface: scenario-based (historical, filtered historical,
Monte Carlo) and parametric (delta-gamma, Cornish-Fisher).

A method maps the book, a horizon and the confidence levels to, per level, VaR, ES and
each instrument's *per-unit* Euler sensitivities of both (component = quantity x
sensitivity; losses positive). :func:`var_method` picks the method of ``config.method``;
the engine calls only :meth:`VaRMethod.levels`.

* :class:`ScenarioVaR`: the order statistics of the portfolio's scenario P&L, Euler
  contributions from the tail only (the ES tail mean and a kernel over the VaR rank's
  neighbourhood, :func:`riskstream.risk.euler.tail_rows`), read as weighted sums of the
  per-unit P&L over those few hundred scenarios.
* :class:`ParametricVaR`: delta-gamma moments under the scenarios' sample covariance and a
  Cornish-Fisher quantile (:func:`riskstream.risk.measures.cornish_fisher_var_es`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import ndtri

from riskstream.risk import euler
from riskstream.risk.factors import FactorSpace
from riskstream.risk.kernels import scenario_dot, scenario_tdot
from riskstream.risk.linear_book import LinearBook
from riskstream.risk.marks import LiveMarks
from riskstream.risk.measures import cornish_fisher_var_es, delta_gamma_moments, normal_var_es
from riskstream.risk.option_grids import OptionGrids
from riskstream.risk.reference import InstrumentTable
from riskstream.risk.scenarios import ScenarioSet
from riskstream.risk.valuation import VALUED


@dataclass(frozen=True, eq=False)
class LevelFigures:
    """One confidence level's figures at one horizon.

    ``unit_var``/``unit_es`` (n,): per-unit Euler sensitivities (component VaR of
    instrument ``i`` is ``qty[i] * unit_var[i]``); ``var_kernel_scale``: the VaR kernel's
    rescaling to the VaR (1 for the parametric method).
    """

    confidence: float
    var: float
    es: float
    unit_var: np.ndarray
    unit_es: np.ndarray
    var_kernel_scale: float


class RiskBook(Protocol):
    """What a VaR method reads of the engine (all read-only)."""

    n: int
    qty: np.ndarray
    ref: InstrumentTable
    space: FactorSpace
    scenarios: ScenarioSet
    live_marks: LiveMarks
    linear: LinearBook
    options: OptionGrids

    def exposures(self) -> np.ndarray: ...

    def portfolio_pnl(self, horizon_days: int) -> np.ndarray: ...

    def unit_pnl_weighted(
        self, horizon_days: int, rows: np.ndarray, weights: np.ndarray, inst: np.ndarray
    ) -> np.ndarray: ...


class VaRMethod(Protocol):
    """VaR, ES and per-unit Euler sensitivities per confidence level."""

    name: str

    def levels(
        self, book: RiskBook, horizon_days: int, levels: tuple[float, ...]
    ) -> list[LevelFigures]: ...


class ScenarioVaR:
    """Scenario VaR/ES with Euler contributions from the tail (see the module doc).

    ``var_neighbours``: half-width of the VaR neighbourhood in ranks (0: the default of
    :func:`riskstream.risk.euler.default_neighbours`).
    """

    def __init__(self, name: str, var_neighbours: int = 0) -> None:
        self.name = name
        self.var_neighbours = var_neighbours

    def levels(
        self, book: RiskBook, horizon_days: int, levels: tuple[float, ...]
    ) -> list[LevelFigures]:
        pnl = book.portfolio_pnl(horizon_days)
        tails = [euler.tail_rows(pnl, c, self.var_neighbours) for c in levels]
        rows = np.unique(np.concatenate([t.rows for t in tails]))
        # Contributions are quantity x per-unit tail P&L: only held instruments.
        held = np.flatnonzero(book.qty)
        # Each level's ES-tail mean and VaR kernel as weights over ``rows``.
        weights = np.zeros((2 * len(levels), rows.size))
        for j, t in enumerate(tails):
            weights[2 * j, np.searchsorted(rows, t.es_rows)] = 1.0 / t.es_rows.size
            weights[2 * j + 1, np.searchsorted(rows, t.var_rows)] = t.var_weights
        unit = book.unit_pnl_weighted(horizon_days, rows, weights, held)
        out = []
        for j, (c, t) in enumerate(zip(levels, tails, strict=True)):
            u_es = np.zeros(book.n)
            u_var = np.zeros(book.n)
            u_es[held] = -unit[2 * j]
            u_var[held] = -unit[2 * j + 1]
            out.append(LevelFigures(c, t.var, t.es, u_var, u_es, t.var_scale))
        return out


class ParametricVaR:
    """Delta-gamma Cornish-Fisher VaR/ES and per-unit delta-normal Euler sensitivities.

    Factor covariance is the sample covariance of the horizon's scenario moves. The delta
    vector holds linear exposures, option dollar deltas on spot factors and ``sigma *
    vega`` on vol factors; gamma is diagonal on spot factors (dollar gamma); cross-gammas
    (vanna) and volga are neglected. Euler components are the exact delta-normal ones,
    :math:`VaR_i = z\\,(\\ell_i'\\Sigma\\delta)/\\sigma`, rescaled to the Cornish-Fisher
    total (an approximation, documented as such); ES components are the VaR ones scaled by
    ES/VaR.
    """

    name = "parametric"

    def levels(
        self, book: RiskBook, horizon_days: int, levels: tuple[float, ...]
    ) -> list[LevelFigures]:
        out = []
        for c in levels:
            var, es, u = self._one(book, horizon_days, c)
            out.append(LevelFigures(c, var, es, u, u * (es / var if var else 1.0), 1.0))
        return out

    @staticmethod
    def _one(book: RiskBook, h: int, c: float) -> tuple[float, float, np.ndarray]:
        S = book.scenarios.shocks[h]  # float32 column-major, never copied to float64 whole
        n_s = S.shape[0]
        ref, space, marks, qty = book.ref, book.space, book.live_marks, book.qty
        iv = book.options.implied_vol
        mean_f = S.mean(axis=0, dtype=np.float64)
        delta = book.exposures()
        spot_f, vol_f = space.spot_factor, space.vol_factor
        opt = ref.opt_ids[marks.reason[ref.opt_ids] == VALUED]
        np.add.at(delta, spot_f[opt], qty[opt] * marks.unit_delta[opt])
        np.add.at(delta, vol_f[opt], qty[opt] * marks.unit_vega[opt] * iv[opt])
        gdiag = np.zeros(space.n_factors)
        np.add.at(gdiag, spot_f[opt], qty[opt] * marks.unit_gamma[opt])
        s_delta = np.empty(n_s)
        scenario_dot(S, delta, np.flatnonzero(delta), s_delta)
        s_delta -= mean_f @ delta  # centred scenario P&L
        Sd = np.empty(space.n_factors)
        scenario_tdot(S, s_delta, Sd)
        Sd = (Sd - mean_f * s_delta.sum()) / (n_s - 1)  # Sigma @ delta
        sigma_dn = float(np.sqrt(max(delta @ Sd, 0.0)))
        gi = np.flatnonzero(gdiag)
        if gi.size:
            Sg = S[:, gi].astype(np.float64) - mean_f[gi]
            cov_g = Sg.T @ Sg / (n_s - 1)
            # Moments need Sigma only through Sigma*delta and the gamma block.
            G = np.diag(gdiag[gi])
            mean, std, sk, ku = delta_gamma_moments(np.zeros(gi.size), G, cov_g)
            k2 = sigma_dn**2 + std**2
            k3 = 3.0 * Sd[gi] @ G @ Sd[gi] + sk * std**3
            k4 = 12.0 * Sd[gi] @ G @ cov_g @ G @ Sd[gi] + ku * std**4
            std_all = float(np.sqrt(k2))
            var, es = cornish_fisher_var_es(mean, std_all, k3 / std_all**3, k4 / std_all**4, c)
        else:
            var, es = normal_var_es(0.0, sigma_dn, c)
        # Per-unit Euler sensitivities (delta-normal), rescaled to the total.
        z = ndtri(c)
        loadings_sd = np.zeros(book.n)
        lin_f, lin_s = book.linear.lin_f, book.linear.lin_s
        for j in range(3):
            f = lin_f[:, j]
            ok = f >= 0
            loadings_sd[ok] += lin_s[ok, j] * Sd[f[ok]]
        loadings_sd[opt] += marks.unit_delta[opt] * Sd[spot_f[opt]]
        loadings_sd[opt] += marks.unit_vega[opt] * iv[opt] * Sd[vol_f[opt]]
        unit_comp = z * loadings_sd / sigma_dn if sigma_dn > 0 else loadings_sd * 0
        total = float(qty @ unit_comp)
        if total != 0:
            unit_comp = unit_comp * (var / total)
        return float(var), float(es), unit_comp


def var_method(method: str, var_neighbours: int = 0) -> VaRMethod:
    """The VaR method of ``config.method``: ``parametric``, else scenario-based
    (``historical``, ``fhs``, ``mc``: they differ only in how the scenarios were drawn)."""
    if method == "parametric":
        return ParametricVaR()
    return ScenarioVaR(method, var_neighbours)
