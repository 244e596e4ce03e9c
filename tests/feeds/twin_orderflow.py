"""Plain-Python twin of :mod:`riskstream.feeds.orderflow` (the numba kernels).

Written independently from the kernel's slot arrays: books are dicts ``order_id -> order``
(insertion order = ``order_id`` order), the best order is a ``min`` over a sort key. It must
consume the same uniforms in the same order and so produce the same events, bit for bit.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from riskstream.core.events import EVENT_DTYPE, EventFlag, EventKind
from riskstream.feeds import orderflow as k

SIM = int(EventFlag.SIMULATED)
SNAP = int(EventFlag.SIMULATED | EventFlag.SNAPSHOT)
LAST = int(EventFlag.LAST_IN_GROUP)


@dataclass
class Order:
    side: int  # +1 bid, -1 ask
    price: int  # ticks
    lots: int
    prio: int


@dataclass
class TwinState:
    n: int
    orders: list[dict[int, Order]] = field(default_factory=list)
    next_oid: list[int] = field(default_factory=list)
    prio: int = 0
    quote_bid: list[int] = field(default_factory=list)
    quote_ask: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)

    def __post_init__(self):
        self.orders = self.orders or [{} for _ in range(self.n)]
        self.next_oid = self.next_oid or [1] * self.n
        self.quote_bid = self.quote_bid or [0] * self.n
        self.quote_ask = self.quote_ask or [0] * self.n
        self.seq = self.seq or [0] * self.n


@dataclass
class Inputs:
    """Per-instrument parameters and constants (plain lists)."""

    fair: list[float]
    half_spread: list[float]
    order_lots: list[float]
    trade_lots: list[float]
    n_target: list[int]
    is_l3: list[bool]
    tick_fixed: list[int]
    lot: list[float]
    source: list[int]
    latency: list[int]
    jitter: list[float]


class Twin:
    def __init__(self, state: TwinState, inputs: Inputs, u: np.ndarray, pos: int = 0):
        self.s = state
        self.p = inputs
        self.u = [float(x) for x in u]
        self.pos = pos
        self.events: list[tuple] = []

    def draw(self) -> float:
        x = self.u[self.pos]
        self.pos += 1
        return x

    @staticmethod
    def expo(r: float) -> float:
        return -math.log(1.0 - r)

    @staticmethod
    def level(r: float) -> int:
        return min(int(math.log(1.0 - r) / math.log(1.0 - k.P_LEVEL)), k.MAX_LEVELS - 1)

    def emit(self, ts, i, kind, side, ticks, lots, oid, flags):
        p = self.p
        self.s.seq[i] += 1
        recv = ts + p.latency[i] + int(self.expo(self.draw()) * p.jitter[i])
        self.events.append(
            (
                ts,
                recv,
                self.s.seq[i],
                i,
                p.source[i],
                int(kind),
                side,
                ticks * p.tick_fixed[i],
                lots * p.lot[i],
                oid,
                flags,
            )
        )

    def touch(self, i):
        m, hs = self.p.fair[i], self.p.half_spread[i]
        return math.floor(m - hs), math.ceil(m + hs)

    def side_orders(self, i, side):
        return [(oid, o) for oid, o in self.s.orders[i].items() if o.side == side]

    def best(self, i, side):
        live = self.side_orders(i, side)
        if side == 1:
            return min(live, key=lambda item: (-item[1].price, item[1].prio))
        return min(live, key=lambda item: (item[1].price, item[1].prio))

    def next_prio(self):
        self.s.prio += 1
        return self.s.prio - 1

    # --------------------------------------------------------------- arrivals

    def l3(self, ts, i):
        p = self.p
        m = p.fair[i]
        tb, ta = self.touch(i)
        books = self.s.orders[i]
        swept = False
        for side in (-1, 1):
            while self.side_orders(i, side):
                oid, o = self.best(i, side)
                if (side == -1 and o.price > m) or (side == 1 and o.price < m):
                    break
                kind = EventKind.TRADE if self.draw() < k.P_STALE_TRADE else EventKind.CANCEL
                self.emit(ts, i, kind, side, o.price, o.lots, oid, SIM)
                del books[oid]
                swept = True
        if swept:
            return
        if self.draw() < k.P_REQUOTE:
            for side in (1, -1):
                if not self.side_orders(i, side):
                    continue
                oid, o = self.best(i, side)
                target = tb if side == 1 else ta
                inside = o.price > tb if side == 1 else o.price < ta
                if not inside:
                    continue
                if self.draw() < 0.5 and target >= 1:
                    o.price = target
                    o.prio = self.next_prio()
                    self.emit(ts, i, EventKind.MODIFY, side, o.price, o.lots, oid, SIM)
                else:
                    self.emit(ts, i, EventKind.CANCEL, side, o.price, o.lots, oid, SIM)
                    del books[oid]
                return
        side = 1 if self.draw() < 0.5 else -1
        if side == 1 and tb < 1:
            side = -1
        live = self.side_orders(i, side)
        count = len(live)
        if count == 0:
            action = "add"
        elif count >= k.SLOTS:
            action = "cancel"
        else:
            fill = count / p.n_target[i]
            wa, wc = k.W_ADD / fill, k.W_CANCEL * fill
            x = self.draw() * (wa + wc + k.W_MODIFY + k.W_TRADE)
            if x < wa:
                action = "add"
            elif x < wa + wc:
                action = "cancel"
            elif x < wa + wc + k.W_MODIFY:
                action = "modify"
            else:
                action = "trade"
        if action == "add":
            d = self.level(self.draw())
            px = max(tb - d if side == 1 else ta + d, 1)
            lots = 1 + int(self.expo(self.draw()) * p.order_lots[i])
            oid = self.s.next_oid[i]
            self.s.next_oid[i] += 1
            books[oid] = Order(side, px, lots, self.next_prio())
            self.emit(ts, i, EventKind.ADD, side, px, lots, oid, SIM)
        elif action == "cancel":
            oid, o = live[min(int(self.draw() * count), count - 1)]
            self.emit(ts, i, EventKind.CANCEL, side, o.price, o.lots, oid, SIM)
            del books[oid]
        elif action == "modify":
            oid, o = live[min(int(self.draw() * count), count - 1)]
            if self.draw() < 0.5 and o.lots > 1:
                o.lots = 1 + int(self.draw() * (o.lots - 1))
            else:
                d = self.level(self.draw())
                px = max(tb - d if side == 1 else ta + d, 1)
                if px == o.price:
                    o.lots = o.lots + 1 + int(self.expo(self.draw()) * p.order_lots[i] * 0.5)
                o.price = px
                o.prio = self.next_prio()
            self.emit(ts, i, EventKind.MODIFY, side, o.price, o.lots, oid, SIM)
        else:
            oid, o = self.best(i, side)
            executed = min(1 + int(self.expo(self.draw()) * p.trade_lots[i]), o.lots)
            self.emit(ts, i, EventKind.TRADE, side, o.price, executed, oid, SIM)
            o.lots -= executed
            if o.lots == 0:
                del books[oid]

    def otc(self, ts, i, flags):
        tb, ta = self.touch(i)
        tb = max(tb, 1)
        ta = max(ta, tb + 1)
        lb = 1 + int(self.expo(self.draw()) * self.p.order_lots[i])
        la = 1 + int(self.expo(self.draw()) * self.p.order_lots[i])
        order = (1, -1) if tb < self.s.quote_ask[i] else (-1, 1)
        for side in order:
            if side == 1:
                self.s.quote_bid[i] = tb
                self.emit(ts, i, EventKind.QUOTE, 1, tb, lb, 0, flags)
            else:
                self.s.quote_ask[i] = ta
                self.emit(ts, i, EventKind.QUOTE, -1, ta, la, 0, flags)

    def mark_last(self):
        e = self.events[-1]
        self.events[-1] = (*e[:-1], e[-1] | LAST)

    # --------------------------------------------------------------- drivers

    def generate(self, n_stop, t, t_stop, rate, cum_weight, n_start=0):
        cum = [float(x) for x in cum_weight]
        limit = len(self.u) - k.RESERVE_UNIFORMS
        while n_start + len(self.events) < n_stop and self.pos < limit:
            wait = self.expo(self.draw()) / rate
            if wait >= t_stop - t:
                return t_stop
            t = t + int(wait)
            i = min(bisect.bisect_right(cum, self.draw()), len(cum) - 1)
            before = len(self.events)
            if self.p.is_l3[i]:
                self.l3(t, i)
            else:
                self.otc(t, i, SIM)
            if len(self.events) > before:
                self.mark_last()
        return t

    def snapshot(self, t):
        p = self.p
        for i in range(self.s.n):
            self.s.orders[i].clear()
            self.emit(t, i, EventKind.CLEAR, 0, 0, 0, 0, SNAP)
            if p.is_l3[i]:
                tb, ta = self.touch(i)
                for _ in range(p.n_target[i]):
                    for side in (1, -1):
                        if side == 1 and tb < 1:
                            continue
                        d = self.level(self.draw())
                        px = max(tb - d if side == 1 else ta + d, 1)
                        lots = 1 + int(self.expo(self.draw()) * p.order_lots[i])
                        oid = self.s.next_oid[i]
                        self.s.next_oid[i] += 1
                        self.s.orders[i][oid] = Order(side, px, lots, self.next_prio())
                        self.emit(t, i, EventKind.ADD, side, px, lots, oid, SNAP)
            else:
                self.s.quote_ask[i] = 2**63 - 1
                self.otc(t, i, SNAP)
            self.mark_last()

    def array(self) -> np.ndarray:
        return np.array(self.events, dtype=EVENT_DTYPE)
