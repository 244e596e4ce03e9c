"""A simple reference order book that replays a simulated stream and checks every invariant
the market-data stage relies on (one Python object per event: test code only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskstream.core.events import EventFlag, EventKind

ADD, MODIFY, CANCEL, TRADE, QUOTE, CLEAR = (
    int(EventKind.ADD), int(EventKind.MODIFY), int(EventKind.CANCEL), int(EventKind.TRADE),
    int(EventKind.QUOTE), int(EventKind.CLEAR),
)  # fmt: skip


class StreamError(AssertionError):
    pass


@dataclass
class Book:
    orders: dict[int, list] = field(default_factory=dict)  # oid -> [side, price, size, prio]
    bid: tuple[int, float] | None = None  # OTC quote (price, size)
    ask: tuple[int, float] | None = None
    cleared: bool = False

    def best(self) -> tuple[int | None, int | None]:
        if self.bid is not None or self.ask is not None:
            return (self.bid[0] if self.bid else None, self.ask[0] if self.ask else None)
        bids = [o[1] for o in self.orders.values() if o[0] == 1]
        asks = [o[1] for o in self.orders.values() if o[0] == -1]
        return (max(bids) if bids else None, min(asks) if asks else None)

    def depth(self, levels: int = 5) -> float:
        """Resting size on the best ``levels`` price levels of both sides."""
        if self.bid is not None:
            return self.bid[1] + (self.ask[1] if self.ask else 0.0)
        total = 0.0
        for side in (1, -1):
            prices = sorted({o[1] for o in self.orders.values() if o[0] == side}, reverse=side == 1)
            keep = set(prices[:levels])
            total += sum(o[2] for o in self.orders.values() if o[0] == side and o[1] in keep)
        return total


@dataclass
class Replay:
    """Replays events, raising :class:`StreamError` at the first broken invariant."""

    tick_fixed: np.ndarray
    is_l3: np.ndarray
    books: dict[int, Book] = field(default_factory=dict)
    seq: dict[tuple[int, int], int] = field(default_factory=dict)
    last_ts: int = -(2**63)
    trades: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    clock: int = 0  # priority: order of arrival at the back of a price level

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def apply(self, events: np.ndarray) -> None:
        for e in events.tolist():
            self.apply_one(*e)

    def apply_one(self, ts, recv, seq, i, src, kind, side, price, size, oid, flags) -> None:
        where = f"event seq={seq} instrument={i} kind={kind}"
        if not flags & EventFlag.SIMULATED:
            raise StreamError(f"{where}: not flagged SIMULATED")
        if ts < self.last_ts:
            raise StreamError(f"{where}: ts_event {ts} goes back from {self.last_ts}")
        self.last_ts = ts
        if recv < ts:
            raise StreamError(f"{where}: ts_recv {recv} before ts_event {ts}")
        expected = self.seq.get((src, i), 0) + 1
        if seq != expected:
            raise StreamError(f"{where}: seq {seq}, expected {expected}")
        self.seq[(src, i)] = seq
        if price % int(self.tick_fixed[i]):
            raise StreamError(f"{where}: price {price} off the tick grid {self.tick_fixed[i]}")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        book = self.books.setdefault(i, Book())
        if not book.cleared:
            if kind != CLEAR or not flags & EventFlag.SNAPSHOT:
                raise StreamError(f"{where}: stream does not open with a snapshot CLEAR")
            book.cleared = True
            return
        snapshot = bool(flags & EventFlag.SNAPSHOT)
        if self.is_l3[i]:
            if kind == QUOTE:
                raise StreamError(f"{where}: QUOTE on an exchange-traded instrument")
            if kind == ADD:
                if oid in book.orders or oid == 0:
                    raise StreamError(f"{where}: ADD reuses order id {oid}")
                if side not in (1, -1) or size <= 0 or price <= 0:
                    raise StreamError(f"{where}: bad ADD side/size/price {side}/{size}/{price}")
                book.orders[oid] = [side, price, size, self._tick()]
            elif snapshot:
                raise StreamError(f"{where}: snapshot event that is not an ADD")
            elif kind in (MODIFY, CANCEL, TRADE):
                order = book.orders.get(oid)
                if order is None:
                    raise StreamError(f"{where}: references order {oid}, which is not live")
                if side != order[0]:
                    raise StreamError(f"{where}: side {side}, the order's side is {order[0]}")
                if kind == MODIFY:
                    if size <= 0 or price <= 0:
                        raise StreamError(f"{where}: MODIFY to size {size} price {price}")
                    if price != order[1] or size > order[2]:
                        order[3] = self._tick()  # re-priced or sized up: back of the queue
                    order[1], order[2] = price, size
                elif kind == CANCEL:
                    del book.orders[oid]
                else:
                    if price != order[1]:
                        raise StreamError(f"{where}: trade at {price}, order rests at {order[1]}")
                    if not 0 < size <= order[2] + 1e-9:
                        raise StreamError(f"{where}: trade size {size} > remaining {order[2]}")
                    first = min(
                        (o for o in book.orders.values() if o[0] == side),
                        key=lambda o: (-o[1] * side, o[3]),
                    )
                    if first is not order:
                        raise StreamError(
                            f"{where}: trade against {order}, price-time priority is {first}"
                        )
                    self.trades += 1
                    order[2] -= size
                    if order[2] <= 1e-9:
                        del book.orders[oid]
            else:
                raise StreamError(f"{where}: unexpected kind on an L3 stream")
        else:
            if kind != QUOTE:
                raise StreamError(f"{where}: OTC instrument got kind {kind}, expected QUOTE")
            if size <= 0 or price <= 0:
                raise StreamError(f"{where}: bad quote size/price {size}/{price}")
            if side == 1:
                book.bid = (price, size)
            elif side == -1:
                book.ask = (price, size)
            else:
                raise StreamError(f"{where}: quote side {side}")
        bid, ask = book.best()
        if bid is not None and ask is not None and bid >= ask:
            raise StreamError(f"{where}: book crossed or locked: bid {bid} >= ask {ask}")
