"""The service's view of the portfolio: instruments, books and positions as one table, and
the drill-down of Euler contributions from the portfolio to a single position.

**Drill-down.** The risk engine reports each instrument's component VaR and ES (Euler
allocation, Tasche 2000: ``C_i = q_i * dVaR/dq_i``, summing to the portfolio figure).
Because a component is linear in the quantity held, an instrument held in several books
splits exactly by quantity share: book ``b``'s part is ``C_i * q_{b,i} / sum_b q_{b,i}``.
Every position thus carries its own contribution, and any grouping (asset class, desk,
strategy, trader, instrument) is a sum of positions — so the parts at each level add up
to the level above, down to one instrument's contribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from riskstream.core.instruments import BOOK_SCHEMA, POSITION_SCHEMA, Universe
from riskstream.core.messages import PositionsChanged

LEVELS: tuple[str, ...] = ("asset_class", "desk", "strategy", "trader", "instrument")


class PortfolioView:
    """Positions joined with their instrument and book (one row per position).

    Parameters
    ----------
    universe : Universe
        Instruments, books and positions; :meth:`with_positions` gives the view of a newer
        positions version (the service follows the position keeper's).
    """

    def __init__(self, universe: Universe):
        self.universe = universe
        self.version = 0  # the position keeper's version shown (0: as loaded)
        inst = universe.instruments
        fx = universe.fx_to_base
        self.n_instruments = inst.height
        self.ref_price = inst["ref_price"].to_numpy().astype(np.float64)
        self.multiplier = inst["multiplier"].to_numpy().astype(np.float64)
        self.currency_names, self.currency_codes = np.unique(
            np.asarray(inst["currency"].to_list(), dtype=str), return_inverse=True
        )
        self.value_per_unit = (
            self.multiplier * np.array([fx.get(c, np.nan) for c in inst["currency"].to_list()])
        ).astype(np.float64)
        self.positions = (
            universe.positions.join(universe.books, on="book_id", how="left")
            .join(
                inst.select("instrument_id", "symbol", "asset_class", "currency"),
                on="instrument_id",
                how="left",
            )
            .with_columns(pl.col("symbol").alias("instrument"))
        )

    def with_positions(self, message: PositionsChanged) -> PortfolioView:
        """The same instruments with the position keeper's version ``message`` (its
        positions and books)."""
        u = self.universe
        positions = pl.DataFrame(
            {
                "book_id": message.book_id,
                "instrument_id": message.instrument_id,
                "quantity": message.quantity,
            }
        ).cast(POSITION_SCHEMA)  # type: ignore[arg-type]
        books = (
            pl.DataFrame({c: np.asarray(message.books[c]) for c in BOOK_SCHEMA}).cast(BOOK_SCHEMA)  # type: ignore[arg-type]
            if set(BOOK_SCHEMA) <= set(message.books)
            else u.books
        )
        view = PortfolioView(
            Universe(u.instruments, books, positions, u.base_currency, u.fx_to_base, u.as_of)
        )
        view.version = message.version
        return view

    def pnl(self, prices: np.ndarray, fx_to_base: dict[str, float] | None = None) -> float:
        """Mark-to-market P&L against the reference prices and rates, base currency.

        ``fx_to_base``: the live rates (a risk snapshot's), so the P&L carries the currency
        translation: ``q m (p fx_now - p_ref fx_ref)``; without, the reference rates.
        """
        ids = self.positions["instrument_id"].to_numpy()
        q = self.positions["quantity"].to_numpy()
        if fx_to_base is None:
            value_now = self.value_per_unit
        else:
            ref = self.universe.fx_to_base  # a currency the snapshot lacks: reference rate
            rates = np.array([fx_to_base.get(c, ref.get(c, np.nan)) for c in self.currency_names])
            value_now = self.multiplier * rates[self.currency_codes]
        now = prices[ids] * value_now[ids]
        ref = self.ref_price[ids] * self.value_per_unit[ids]
        return float(np.sum(q * np.nan_to_num(now - ref)))

    def contributions(
        self,
        component_var: list[float] | np.ndarray,
        component_es: list[float] | np.ndarray,
        by: str,
        filters: dict[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Component VaR and ES grouped by ``by`` over the positions matching ``filters``.

        Parameters
        ----------
        component_var, component_es : array of shape (n_instruments,)
            The snapshot's per-instrument Euler contributions.
        by : {"asset_class", "desk", "strategy", "trader", "instrument"}
        filters : dict, optional
            Level → value, e.g. ``{"desk": "macro"}``.

        Returns
        -------
        list of dict
            ``{by, component_var, component_es, positions}`` sorted by component ES,
            largest first (with ``instrument_id`` when grouping by instrument).
        """
        cvar = np.asarray(component_var, dtype=np.float64)
        ces = np.asarray(component_es, dtype=np.float64)
        pos = self.positions
        ids = pos["instrument_id"].to_numpy()
        qty = pos["quantity"].to_numpy()
        total_q = np.zeros(self.n_instruments)
        np.add.at(total_q, ids, qty)
        share = np.divide(qty, total_q[ids], out=np.zeros_like(qty), where=total_q[ids] != 0)
        frame = pos.with_columns(
            pl.Series("component_var", cvar[ids] * share),
            pl.Series("component_es", ces[ids] * share),
        )
        for level, value in (filters or {}).items():
            frame = frame.filter(pl.col(level) == value)
        keys = [by, "instrument_id"] if by == "instrument" else [by]
        out = (
            frame.group_by(keys)
            .agg(
                pl.col("component_var").sum(),
                pl.col("component_es").sum(),
                pl.len().alias("positions"),
            )
            .sort("component_es", descending=True)
        )
        return out.to_dicts()
