"""A plain-Python twin of the numba books and sequencer, for property tests.

Deliberately naive (dicts, one event at a time), written from the rules in the module
docstrings of riskstream.md.books / riskstream.md.sequencer, not from the kernels.
"""

from __future__ import annotations

import math

from riskstream.core.events import EventFlag, EventKind
from riskstream.md.reasons import Reason

EPS = 1e-12  # riskstream.md.books.SIZE_EPS, restated: a residue this small is a full fill


class ReferenceBooks:
    def __init__(
        self,
        n_instruments: int,
        max_levels: int,
        sources_per_instrument: int = 4,
        crossing: str = "trust",
    ):
        self.match = crossing == "match"
        self.counts = dict.fromkeys(
            ["unknown_order_noop", "unknown_order_applied", "order_replaced", "side_changed",
             "overfill", "crossed_events", "crossed_at_group_end", "matched_fills"], 0
        )  # fmt: skip
        self.n = n_instruments
        self.k = max_levels
        self.k_sources = sources_per_instrument
        self.sources: dict[int, list[int]] = {}
        self.orders: dict[tuple[int, int, int], list] = {}  # (inst, src, oid) -> [s, px, sz, prio]
        self.quotes: dict[tuple[int, int], tuple[int, float]] = {}  # (inst, s) -> (px, sz)
        self.clock = 0
        self.last_seq: dict[tuple[int, int], int] = {}
        self.gap: dict[tuple[int, int], tuple[int, int]] = {}
        self.stale = [False] * n_instruments
        self.recovering = [False] * n_instruments

    # --- L2 -------------------------------------------------------------------------
    def levels(self, inst: int, s: int) -> list[tuple[int, float, int]]:
        """(price, size, n_orders) best first; s = 0 bid, 1 ask."""
        if (inst, s) in self.quotes:
            px, sz = self.quotes[inst, s]
            return [(px, sz, 0)]
        agg: dict[int, list] = {}
        for (i, _, _), (side, px, sz, _) in self.orders.items():
            if i == inst and side == s:
                a = agg.setdefault(px, [0.0, 0])
                a[0] += sz
                a[1] += 1
        prices = sorted(agg, reverse=(s == 0))
        return [(p, agg[p][0], agg[p][1]) for p in prices]

    def n_orders(self, inst: int) -> int:
        return sum(1 for key in self.orders if key[0] == inst)

    def _crosses(self, inst: int, s: int, px: int) -> bool:
        other = self.levels(inst, 1 - s)
        if not other:
            return False
        best = other[0][0]
        return px >= best if s == 0 else px <= best

    def _room(self, inst: int, s: int, px: int) -> bool:
        lv = self.levels(inst, s)
        return any(p == px for p, _, _ in lv) or len(lv) < self.k

    # --- one event ---------------------------------------------------------------------
    def apply(self, e) -> int:
        inst, src, kind = int(e["instrument_id"]), int(e["source"]), int(e["kind"])
        if not 0 <= inst < self.n:
            return Reason.UNKNOWN_INSTRUMENT
        feeds = self.sources.setdefault(inst, [])
        if src not in feeds:
            if len(feeds) == self.k_sources:
                return Reason.TOO_MANY_SOURCES
            feeds.append(src)
        r = self._sequence(inst, src, int(e["seq"]), kind, int(e["flags"]))
        if r:
            return r
        side, px, sz, oid = int(e["side"]), int(e["price"]), float(e["size"]), int(e["order_id"])
        if kind not in range(1, 8):
            return Reason.UNKNOWN_KIND
        if kind in (1, 5, 7) and side not in (1, -1):
            return Reason.BAD_SIDE
        if not math.isfinite(sz):
            return Reason.SIZE_NOT_FINITE
        if (kind in (1, 2, 4, 7) and sz <= 0) or (kind in (3, 5) and sz < 0):
            return Reason.SIZE_NOT_POSITIVE
        if kind in (1, 2, 7) and px <= 0:
            return Reason.PRICE_NOT_POSITIVE
        r = self._book(inst, src, kind, side, px, sz, oid)
        if r:
            return r
        if self.crossed(inst):
            self.counts["crossed_events"] += 1
            if int(e["flags"]) & EventFlag.LAST_IN_GROUP:
                self.counts["crossed_at_group_end"] += 1
        if kind == EventKind.CLEAR:
            self.recovering[inst] = True
        if self.recovering[inst] and int(e["flags"]) & EventFlag.LAST_IN_GROUP:
            self.recovering[inst] = False
            self.stale[inst] = False
        return Reason.ACCEPTED

    def _sequence(self, inst: int, src: int, seq: int, kind: int, flags: int) -> int:
        if seq == 0:
            return Reason.SEQ_ZERO
        key = (src, inst)
        last = self.last_seq.get(key, 0)
        if kind == EventKind.CLEAR and flags & (EventFlag.SNAPSHOT | EventFlag.REPLAY):
            if last == 0 or self.stale[inst] or seq > last:
                if last != 0 and seq > last + 1:
                    self.stale[inst] = True
                self.last_seq[key] = seq
                self.recovering[inst] = True
                return 0
            return Reason.DUPLICATE
        if self.recovering[inst] and flags & EventFlag.SNAPSHOT:
            self.last_seq[key] = seq
            return 0
        if last == 0 or seq == last + 1:
            self.last_seq[key] = seq
            return 0
        if seq > last:
            self.gap[key] = (last + 1, seq - 1)
            self.last_seq[key] = seq
            self.stale[inst] = True
            return 0
        lo, hi = self.gap.get(key, (1, 0))
        return Reason.OUT_OF_ORDER if lo <= seq <= hi else Reason.DUPLICATE

    # --- the book rules of riskstream.md.books, one dict operation at a time ---------------
    def _rest(self, inst, src, oid, s, px, sz) -> int:
        if not self._room(inst, s, px):
            return Reason.LEVELS_FULL
        self.clock += 1
        self.orders[inst, src, oid] = [s, px, sz, self.clock]
        return 0

    def _enter(self, inst, src, oid, s, px, sz, aggressive) -> int:
        """A new order: in match mode an aggressive one first executes against the
        opposite side, best price first, then by priority; the remainder rests."""
        if self.match and aggressive and self._crosses(inst, s, px):
            if not self._room(inst, s, px):
                reach = sum(z for p, z, _ in self.levels(inst, 1 - s)
                            if (px >= p if s == 0 else px <= p))  # fmt: skip
                if reach < sz - EPS:
                    return Reason.LEVELS_FULL
            while sz > EPS and self._crosses(inst, s, px):
                best = self.levels(inst, 1 - s)[0][0]
                key = min(
                    (k for k, o in self.orders.items()
                     if k[0] == inst and o[0] == 1 - s and o[1] == best),
                    key=lambda k: self.orders[k][3],
                )  # fmt: skip
                resting = self.orders[key]
                q = min(sz, resting[2])
                sz -= q
                self.counts["matched_fills"] += 1
                if resting[2] - q <= EPS:
                    del self.orders[key]
                else:
                    resting[2] -= q
            if sz <= EPS:
                return 0
        return self._rest(inst, src, oid, s, px, sz)

    def _book(self, inst, src, kind, side, px, sz, oid) -> int:
        s = 0 if side > 0 else 1
        key = (inst, src, oid)
        if kind in (EventKind.ADD, EventKind.SNAPSHOT):
            if (inst, 0) in self.quotes or (inst, 1) in self.quotes:
                return Reason.ORDER_ON_QUOTE_BOOK
            if key in self.orders:
                if not self._room(inst, s, px):
                    return Reason.LEVELS_FULL
                self.counts["order_replaced"] += 1
                del self.orders[key]
            return self._enter(inst, src, oid, s, px, sz, kind == EventKind.ADD)
        if kind in (EventKind.MODIFY, EventKind.CANCEL, EventKind.TRADE):
            if kind == EventKind.TRADE and oid == 0:
                return 0
            if key not in self.orders:
                if kind == EventKind.MODIFY and side != 0:
                    r = self._enter(inst, src, oid, s, px, sz, True)
                    if r == 0:
                        self.counts["unknown_order_applied"] += 1
                    return r
                self.counts["unknown_order_noop"] += 1
                return 0
            o = self.orders[key]
            if side != 0 and s != o[0]:
                self.counts["side_changed"] += 1
                if kind == EventKind.MODIFY:
                    if not self._room(inst, s, px):
                        return Reason.LEVELS_FULL
                    del self.orders[key]
                    return self._enter(inst, src, oid, s, px, sz, True)
            if kind == EventKind.CANCEL:
                if 0 < sz < o[2] - EPS:
                    o[2] -= sz
                else:
                    del self.orders[key]
                return 0
            if kind == EventKind.TRADE:
                if sz > o[2] + EPS:
                    self.counts["overfill"] += 1
                if o[2] - sz <= EPS:
                    del self.orders[key]
                else:
                    o[2] -= sz
                return 0
            if px != o[1]:
                if not self._room(inst, o[0], px):
                    return Reason.LEVELS_FULL
                del self.orders[key]
                return self._enter(inst, src, oid, o[0], px, sz, True)
            if sz > o[2]:
                self.clock += 1
                o[3] = self.clock
            o[2] = sz
            return 0
        if kind == EventKind.QUOTE:
            if self.n_orders(inst):
                return Reason.QUOTE_ON_ORDER_BOOK
            if sz > 0:
                self.quotes[inst, s] = (px, sz)
            else:
                self.quotes.pop((inst, s), None)
            return 0
        if kind == EventKind.CLEAR:
            for k in [k for k in self.orders if k[0] == inst]:
                del self.orders[k]
            self.quotes.pop((inst, 0), None)
            self.quotes.pop((inst, 1), None)
            return 0
        return Reason.UNKNOWN_KIND

    def crossed(self, inst: int) -> bool:
        bids, asks = self.levels(inst, 0), self.levels(inst, 1)
        return bool(bids and asks and bids[0][0] >= asks[0][0])

    def sorted_orders(self) -> list[tuple]:
        """(inst, side ±1, price, size, priority) sorted like MarketDataEngine.orders()."""
        rows = [
            (i, 1 if o[0] == 0 else -1, o[1], o[2], o[3]) for (i, _, _), o in self.orders.items()
        ]
        return sorted(rows, key=lambda r: (r[0], -r[1], -r[2] if r[1] == 1 else r[2], r[4]))
