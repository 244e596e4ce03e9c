"""Market state: dense per-instrument arrays, written in place by ``md``, read by ``risk``.

One array per quantity, indexed by the dense ``instrument_id``, so the risk engine reads a
whole universe's prices in one vectorised gather and never walks Python objects. ``md``
writes it; nobody else does. Prices are float64 decimals of the instrument's currency
(the fixed-point event price divided by ``PRICE_SCALE``); NaN means "not known yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


@dataclass
class MarketState:
    """Latest market picture of every instrument (arrays of length ``n_instruments``)."""

    n_instruments: int
    bid: np.ndarray = field(init=False)  # best bid price
    ask: np.ndarray = field(init=False)  # best ask price
    bid_size: np.ndarray = field(init=False)  # size at the best bid
    ask_size: np.ndarray = field(init=False)  # size at the best ask
    mid: np.ndarray = field(init=False)  # (bid + ask) / 2
    microprice: np.ndarray = field(init=False)  # size-weighted mid (Stoikov 2018)
    last: np.ndarray = field(init=False)  # last trade price
    spread: np.ndarray = field(init=False)  # ask - bid
    bid_depth: np.ndarray = field(init=False)  # total size on the top-N bid levels
    ask_depth: np.ndarray = field(init=False)  # total size on the top-N ask levels
    volume: np.ndarray = field(init=False)  # traded size since start of day
    ts_ns: np.ndarray = field(init=False)  # ts_event of the last applied event
    seq: np.ndarray = field(init=False)  # last applied sequence number
    stale: np.ndarray = field(init=False)  # True while a gap is being recovered
    updated: np.ndarray = field(init=False)  # dirty flag: set by md, cleared by the reader

    def __post_init__(self) -> None:
        n = self.n_instruments
        for name in ("bid", "ask", "bid_size", "ask_size", "mid", "microprice", "last"):
            setattr(self, name, _nan(n))
        for name in ("spread", "bid_depth", "ask_depth"):
            setattr(self, name, _nan(n))
        self.volume = np.zeros(n)
        self.ts_ns = np.zeros(n, dtype=np.int64)
        self.seq = np.zeros(n, dtype=np.uint64)
        self.stale = np.zeros(n, dtype=bool)
        self.updated = np.zeros(n, dtype=bool)

    def take_updated(self) -> np.ndarray:
        """Indices of instruments updated since the last call, clearing their dirty flags."""
        changed = np.flatnonzero(self.updated)
        self.updated[changed] = False
        return changed

    def arrays(self) -> dict[str, np.ndarray]:
        """Every per-instrument array by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "n_instruments"}
