"""A simulated execution venue: market orders fill against the reconstructed order books.

A sell walks the bids from the best level down (a buy walks the asks up), so a fill pays
the half spread and the book's own depth is its impact. Our fills do not appear in the
market-data feed, so the venue remembers the liquidity it has taken from each side of each
book and skips it on the next order; that depletion decays with the book's *resilience*
time constant (Obizhaeva & Wang 2013: the book refills exponentially after a trade).
Beyond the visible depth, the remainder fills at the last visible price worsened in
proportion to how far past the visible size it reaches (a linear extrapolation of the
book's slope) — a large emergency order never gets a free fill.

The depth comes from any object with ``levels(instrument_id) -> {"bid_px", "bid_sz",
"ask_px", "ask_sz"}`` (best first): :class:`riskstream.md.engine.MarketDataEngine` does,
and so does :class:`SyntheticDepth` (a book built from mid, spread and ADV, for runs
without L2 data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numba import njit

from riskstream.core.errors import InputError


class DepthSource(Protocol):
    def levels(self, instrument_id: int) -> Mapping[str, np.ndarray]: ...


@njit(cache=True)
def walk_book(px, sz, quantity, skip):  # pragma: no cover - numba
    """Fill ``quantity`` (> 0) against levels ``px``/``sz`` (best first), after skipping
    ``skip`` units already taken. Returns (filled notional, units filled within the
    visible book, last price touched)."""
    notional = 0.0
    left = quantity
    last = px[0]
    for k in range(px.shape[0]):
        size = sz[k]
        if not (size > 0.0) or px[k] <= 0.0:
            continue
        if skip >= size:
            skip -= size
            continue
        avail = size - skip
        skip = 0.0
        take = avail if avail < left else left
        notional += take * px[k]
        left -= take
        last = px[k]
        if left <= 0.0:
            break
    return notional, quantity - left, last


@dataclass(frozen=True)
class Fill:
    """One executed order."""

    instrument_id: int
    quantity: float  # signed, as sent
    avg_price: float
    mid: float
    cost: float  # (fill - mid) against us, x quantity x multiplier x fx: base currency
    visible_share: float  # share filled within the visible book
    ts_ns: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class SimulatedVenue:
    """Fill market orders against a depth source, with depletion and resilience.

    Parameters
    ----------
    depth : DepthSource
    value_per_price : ndarray of shape (n_instruments,)
        Multiplier x FX to base: converts a price difference per unit into base currency.
    resilience_s : float
        Time constant of the book's refill after our trades.
    """

    def __init__(self, depth: DepthSource, value_per_price: np.ndarray, resilience_s: float):
        self.depth = depth
        self.value_per_price = np.asarray(value_per_price, dtype=np.float64)
        self.resilience_ns = resilience_s * 1e9
        n = len(self.value_per_price)
        self._taken = np.zeros((n, 2))  # units taken from bids (0) and asks (1)
        self._taken_ns = np.zeros(n, dtype=np.int64)
        self.fills: list[Fill] = []

    def quote(self, instrument_id: int, quantity: float) -> float:
        """Cost per unit (base currency, against mid) of a market order of ``quantity`` on
        the book as it stands, without trading (the reduction planner's liquidation cost)."""
        if not np.isfinite(quantity) or quantity == 0:
            return 0.0
        _, avg, mid, _ = self._walk(int(instrument_id), float(quantity), update=False, ts_ns=0)
        side_sign = -1.0 if quantity < 0 else 1.0
        return side_sign * (avg - mid) * self.value_per_price[int(instrument_id)]

    def execute(self, instrument_id: int, quantity: float, ts_ns: int) -> Fill:
        """Fill a market order of signed ``quantity`` (sell < 0) at time ``ts_ns``."""
        if not np.isfinite(quantity) or quantity == 0:
            raise InputError("quantity", quantity, "a non-zero finite order quantity")
        i = int(instrument_id)
        want, avg, mid, visible_share = self._walk(i, float(quantity), update=True, ts_ns=ts_ns)
        side = 0 if quantity < 0 else 1
        cost = (mid - avg if side == 0 else avg - mid) * want * self.value_per_price[i]
        fill = Fill(i, float(quantity), avg, mid, float(cost), visible_share, int(ts_ns))
        self.fills.append(fill)
        return fill

    def _walk(
        self, i: int, quantity: float, update: bool, ts_ns: int
    ) -> tuple[float, float, float, float]:
        """(units, average price, mid, share filled within the visible book)."""
        book = self.depth.levels(i)
        bid_px, bid_sz = np.asarray(book["bid_px"], float), np.asarray(book["bid_sz"], float)
        ask_px, ask_sz = np.asarray(book["ask_px"], float), np.asarray(book["ask_sz"], float)
        if len(bid_px) == 0 or len(ask_px) == 0:
            raise InputError("instrument_id", i, "an instrument with a two-sided book")
        mid = 0.5 * (bid_px[0] + ask_px[0])
        taken = self._taken[i].copy()
        if update:
            taken *= np.exp(-(ts_ns - self._taken_ns[i]) / self.resilience_ns)
            self._taken_ns[i] = ts_ns
        side = 0 if quantity < 0 else 1
        px, sz = (bid_px, bid_sz) if side == 0 else (ask_px, ask_sz)
        want = abs(quantity)
        notional, filled, last = walk_book(px, sz, want, taken[side])
        visible = float(np.nansum(sz[sz > 0]))
        if filled < want:
            # past the visible book: extrapolate its slope from the touch to the last level
            rest = want - filled
            slope = abs(last - px[0]) / max(visible, 1e-12) if len(px) > 1 else 0.0
            slope = max(slope, abs(ask_px[0] - bid_px[0]) / max(visible, 1e-12))
            beyond = taken[side] + filled - visible
            start = max(beyond, 0.0)
            # average price over units start..start+rest past the visible depth
            worsen = slope * (start + 0.5 * rest)
            price_rest = last - worsen if side == 0 else last + worsen
            notional += rest * max(price_rest, 0.0)
        if update:
            taken[side] += want
            self._taken[i] = taken
        return want, notional / want, mid, filled / want


class SyntheticDepth:
    """A depth ladder around the current mids from each instrument's spread and ADV.

    Level *k* (0-based) sits ``spread/2 + k * tick`` from the mid, with size
    ``adv * level_share`` — the shape of a typical limit order book's first levels (flat
    depth near the touch). Used when no L2 books are reconstructed.

    Parameters
    ----------
    mid : ndarray of shape (n_instruments,)
        Current mids, updated in place by the caller.
    spread_rel : ndarray
        Quoted spread as a fraction of mid.
    adv : ndarray
        Average daily volume, units.
    levels : int
    level_share : float
        Size of each level as a share of ADV.
    """

    def __init__(
        self,
        mid: np.ndarray,
        spread_rel: np.ndarray,
        adv: np.ndarray,
        levels: int = 10,
        level_share: float = 0.002,
    ):
        self.mid = mid
        self.spread_rel = np.asarray(spread_rel, dtype=np.float64)
        self.adv = np.asarray(adv, dtype=np.float64)
        self.k = np.arange(levels, dtype=np.float64)
        self.level_share = level_share

    def levels(self, instrument_id: int) -> dict[str, np.ndarray]:
        m = float(self.mid[instrument_id])
        half = 0.5 * self.spread_rel[instrument_id] * m
        step = max(half, 1e-9 * m)
        size = np.full(len(self.k), self.adv[instrument_id] * self.level_share)
        return {
            "bid_px": m - half - self.k * step,
            "bid_sz": size,
            "ask_px": m + half + self.k * step,
            "ask_sz": size.copy(),
        }


class FallbackDepth:
    """The reconstructed book where it has both sides, else a synthetic ladder (e.g. an
    instrument whose book has not been seen yet)."""

    def __init__(self, primary: DepthSource, fallback: DepthSource):
        self.primary = primary
        self.fallback = fallback
        self.fallbacks = 0

    def levels(self, instrument_id: int) -> Mapping[str, np.ndarray]:
        book = self.primary.levels(instrument_id)
        if len(book["bid_px"]) and len(book["ask_px"]):
            return book
        self.fallbacks += 1
        return self.fallback.levels(instrument_id)


class OrderGateway(Protocol):
    """A venue that takes real orders: ``execute_order(instrument_id, quantity)`` returns an
    object with ``filled`` (signed units, 0 if nothing traded), ``avg_price``, ``mid_before``
    and ``ts_ns`` (e.g. :meth:`riskstream.feeds.simulator.MarketSimulator.execute_order`)."""

    def execute_order(self, instrument_id: int, quantity: float) -> Any: ...


class GatewayVenue:
    """Reduction orders sent to a venue that takes them for real (the simulator's books):
    they consume its depth, move its prices, and its participants react; the market data
    that comes back shows it. Fills may be partial (the venue's price collar): the fill
    carries the quantity executed.

    ``quote`` (the planner's cost estimate before trading) still walks the depth we see,
    ``estimate`` (a :class:`SimulatedVenue` over md's books or a synthetic ladder).
    """

    def __init__(self, gateway: OrderGateway, estimate: SimulatedVenue):
        self.gateway = gateway
        self.estimate = estimate
        self.depth = estimate.depth
        self.fills: list[Fill] = []

    @property
    def value_per_price(self) -> np.ndarray:
        return self.estimate.value_per_price

    @value_per_price.setter
    def value_per_price(self, value: np.ndarray) -> None:
        self.estimate.value_per_price = np.asarray(value, dtype=np.float64)

    def quote(self, instrument_id: int, quantity: float) -> float:
        return self.estimate.quote(instrument_id, quantity)

    def execute(self, instrument_id: int, quantity: float, ts_ns: int) -> Fill:
        """Send a marketable order of signed ``quantity``; ``ts_ns`` is when we decided (the
        fill is stamped with the venue's own time of execution)."""
        if not np.isfinite(quantity) or quantity == 0:
            raise InputError("quantity", quantity, "a non-zero finite order quantity")
        i = int(instrument_id)
        done = self.gateway.execute_order(i, float(quantity))
        filled = float(done.filled)
        mid = float(done.mid_before)
        avg = float(done.avg_price) if filled else mid
        against = (mid - avg) if quantity < 0 else (avg - mid)
        cost = against * abs(filled) * self.value_per_price[i]
        share = abs(filled / quantity)
        fill = Fill(i, filled, avg, mid, float(cost), share, int(done.ts_ns))
        self.fills.append(fill)
        return fill
