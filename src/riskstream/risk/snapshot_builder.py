"""The snapshot builder: from one refresh's figures to the immutable :class:`RiskSnapshot`.

It reads the frozen :class:`~riskstream.risk.valuation.Valuation` of the refresh (prices,
per-unit values and Greeks, uint8 reason codes) and the positions view, and builds the
parts of a snapshot that summarise them: the top contributors by component ES, the Greeks
per asset class, the Euler components aggregated by label (Euler parts are additive, so an
aggregate is a ``bincount``) and the excluded positions with their reason texts
(:data:`~riskstream.risk.valuation.REASONS`).
"""

from __future__ import annotations

import numpy as np

from riskstream.core.instruments import ASSET_CLASSES
from riskstream.risk import euler
from riskstream.risk.positions_view import AGGREGATE_BY, PositionsView
from riskstream.risk.reference import InstrumentTable
from riskstream.risk.snapshot import Contributor, Exclusion
from riskstream.risk.valuation import REASONS, VALUED, Valuation


class SnapshotBuilder:
    """Summaries of a refresh for its snapshot (see the module doc).

    Parameters
    ----------
    ref : InstrumentTable
    top_n : int
        How many top contributors to list.
    """

    def __init__(self, ref: InstrumentTable, top_n: int) -> None:
        self.ref = ref
        self.top_n = top_n
        self._class_rows = [np.flatnonzero(ref.asset_class == c) for c in range(len(ASSET_CLASSES))]

    def top(
        self, comp_var: np.ndarray, comp_es: np.ndarray, qty: np.ndarray
    ) -> tuple[Contributor, ...]:
        """The ``top_n`` largest component ES (ties by id: deterministic)."""
        ref, n = self.ref, self.ref.n
        n_top = min(self.top_n, n)
        cand = np.argpartition(-comp_es, n_top - 1)[:n_top] if n_top < n else np.arange(n)
        order = cand[np.lexsort((cand, -comp_es[cand]))]
        marginal = euler.marginal_var(comp_var, qty)
        return tuple(
            Contributor(
                int(i),
                str(ref.symbol[i]),
                ASSET_CLASSES[ref.asset_class[i]],
                float(qty[i]),
                float(comp_var[i]),
                float(comp_es[i]),
                float(marginal[i]) if np.isfinite(marginal[i]) else 0.0,
            )
            for i in order
        )

    def greeks(
        self, valuation: Valuation, qty: np.ndarray, unit_dv01: np.ndarray
    ) -> dict[str, dict[str, float]]:
        """Delta, gamma, vega and DV01 of the valued holdings per asset class."""
        q = qty * valuation.valued.astype(np.float64)
        out = {}
        for name, sel in zip(ASSET_CLASSES, self._class_rows, strict=True):
            out[name] = {
                "delta": float(q[sel] @ valuation.unit_delta[sel]),
                "gamma": float(q[sel] @ valuation.unit_gamma[sel]),
                "vega": float(q[sel] @ valuation.unit_vega[sel]),
                "dv01": float(q[sel] @ unit_dv01[sel]),
            }
        return out

    @staticmethod
    def aggregates(
        positions: PositionsView, u_var: np.ndarray, u_es: np.ndarray
    ) -> dict[str, dict[str, dict[str, float]]]:
        """Component VaR/ES summed by label (Euler parts are additive)."""
        cv = positions.pos_qty * u_var[positions.pos_inst]
        ce = positions.pos_qty * u_es[positions.pos_inst]
        out = {}
        for by in AGGREGATE_BY:
            names, codes = positions.label_codes[by]
            v = np.bincount(codes, weights=cv, minlength=names.size)
            e = np.bincount(codes, weights=ce, minlength=names.size)
            out[by] = {
                str(k): {"component_var": float(a), "component_es": float(b)}
                for k, a, b in zip(names, v, e, strict=True)
            }
        return out

    @staticmethod
    def exclusions(positions: PositionsView, valuation: Valuation) -> tuple[Exclusion, ...]:
        """Positions left out (unknown instruments, then instruments not valued)."""
        code = valuation.reason[positions.pos_inst]
        bad = code != VALUED
        listed = [
            Exclusion(int(b), int(i), REASONS[c])
            for b, i, c in zip(
                positions.pos_book[bad].tolist(),
                positions.pos_inst[bad].tolist(),
                code[bad].tolist(),
                strict=True,
            )
        ]
        return tuple(positions.unknown) + tuple(listed)
