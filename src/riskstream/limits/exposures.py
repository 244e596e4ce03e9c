"""The columnar input of limit monitoring: one row per position, one array per measure.

A risk snapshot reports Euler contributions per *instrument*; limits on desks, strategies
and traders need them per *position* (book × instrument). Euler contributions are
first-degree homogeneous in the quantities (Tasche 2000), so an instrument's contribution
splits over the books holding it in proportion to their signed quantities:
``c_(b,i) = c_i * q_(b,i) / q_i``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.limits.model import Scope

_NUMERIC = (
    "quantity",
    "market_value",
    "delta",
    "gamma",
    "vega",
    "component_var",
    "component_es",
    "component_lvar",
    "pnl",
    "liquidation_days",
)


@dataclass(frozen=True)
class ExposureFrame:
    """Per-position exposures of one risk snapshot (all arrays of shape (n_positions,)).

    Attributes
    ----------
    instrument_id : ndarray of int32
    quantity : ndarray of float64
        Signed units held.
    market_value : ndarray
        Signed value in base currency (delta-equivalent for options).
    delta, gamma, vega : ndarray
        Base currency per 100% move, per (100% move)², per 1.00 of volatility.
    component_var, component_es, component_lvar : ndarray
        Euler contributions in base currency (they sum to the portfolio figures).
    pnl : ndarray
        Mark-to-market P&L since the start of monitoring, base currency.
    liquidation_days : ndarray
        Days to liquidate at the maximum participation rate of ADV.
    labels : mapping of Scope to ndarray of str
        Each position's member of every scope (desk name, trader, asset class ...).
    ts_ns : int
        Event time of the snapshot.
    book_id : ndarray of int64, optional
        Each position's book (default all 0): with ``instrument_id`` the position's key.
    stress_pnl : ndarray of shape (n_positions, n_scenarios), optional
        Each position's P&L in every stress scenario in force (base currency, negative a
        loss; ``riskstream.stress``), for ``stress_loss`` limits; absent: no scenarios.
    """

    instrument_id: np.ndarray
    quantity: np.ndarray
    market_value: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    component_var: np.ndarray
    component_es: np.ndarray
    component_lvar: np.ndarray
    pnl: np.ndarray
    liquidation_days: np.ndarray
    labels: Mapping[Scope, np.ndarray]
    ts_ns: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    book_id: np.ndarray | None = None
    stress_pnl: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.instrument_id)
        stress = np.zeros((n, 0)) if self.stress_pnl is None else np.asarray(self.stress_pnl, float)
        if stress.ndim != 2 or stress.shape[0] != n or not np.all(np.isfinite(stress)):
            raise InputError("stress_pnl", stress.shape, f"finite P&L of shape ({n}, n_scenarios)")
        object.__setattr__(self, "stress_pnl", stress)
        book = np.zeros(n, np.int64) if self.book_id is None else np.asarray(self.book_id)
        if book.shape != (n,):
            raise InputError("book_id", book.shape, f"an array of shape ({n},)")
        object.__setattr__(self, "book_id", book.astype(np.int64))
        for name in _NUMERIC:
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != (n,):
                raise InputError(name, value.shape, f"an array of shape ({n},)")
            if not np.all(np.isfinite(value)):
                bad = int(np.flatnonzero(~np.isfinite(value))[0])
                raise InputError(name, float(value[bad]), f"finite numbers (position row {bad})")
            object.__setattr__(self, name, value)
        labels = {}
        for scope in Scope:
            if scope is Scope.FIRM:
                labels[scope] = np.full(n, "firm", dtype=object)
            elif scope is Scope.INSTRUMENT:
                labels[scope] = np.asarray(self.instrument_id).astype(str).astype(object)
            else:
                if scope not in self.labels:
                    raise InputError("labels", sorted(self.labels), f"a label array for {scope}")
                labels[scope] = np.asarray(self.labels[scope], dtype=object)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.instrument_id)


def allocate_to_positions(
    per_instrument: np.ndarray, instrument_id: np.ndarray, quantity: np.ndarray
) -> np.ndarray:
    """Split per-instrument Euler contributions over positions by signed quantity share.

    Parameters
    ----------
    per_instrument : ndarray of shape (n_instruments,)
    instrument_id, quantity : ndarray of shape (n_positions,)

    Returns
    -------
    ndarray of shape (n_positions,)
        Sums back to ``per_instrument`` over each instrument's positions (where the net
        quantity is not zero; a fully netted instrument contributes nothing).
    """
    ids = np.asarray(instrument_id, dtype=np.int64)
    q = np.asarray(quantity, dtype=np.float64)
    net = np.bincount(ids, weights=q, minlength=len(per_instrument))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(net[ids] != 0, q / net[ids], 0.0)
    return np.asarray(per_instrument, dtype=np.float64)[ids] * share


def liquidation_days(quantity: np.ndarray, adv: np.ndarray, max_participation: float) -> np.ndarray:
    """Days to sell ``|quantity|`` trading at most ``max_participation`` of ADV per day."""
    adv = np.asarray(adv, dtype=np.float64)
    if np.any(adv <= 0):
        raise InputError("adv", float(adv.min()), "positive average daily volumes")
    return np.abs(np.asarray(quantity, dtype=np.float64)) / (max_participation * adv)
