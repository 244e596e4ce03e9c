"""The market-data engine: validate → sequence → books → features → market state.

The kernels here are compiled by :mod:`riskstream.md._jit`: nopython, no reference
counting, and the GIL released while they run.

One numba kernel walks each event batch once: structural checks (instrument, source), the
sequence check (:mod:`riskstream.md.sequencer`), field validation, the book update
(:mod:`riskstream.md.books`, which rejects what a book cannot take: unknown orders,
crossing orders, ...) and the feature update (:mod:`riskstream.md.features`). A second
kernel then publishes the touched instruments' top of book, depth and microprice into the
shared :class:`~riskstream.core.state.MarketState`.

Every event ends either applied or quarantined with a :class:`~riskstream.md.reasons.Reason`
— ``accepted + quarantined == events`` always holds; quarantined events are kept (with
their reason) until :meth:`MarketDataEngine.drain_quarantine` hands them to the store.

All state is numpy arrays, so :meth:`MarketDataEngine.state` /
:meth:`MarketDataEngine.restore` checkpoint and restore it bit for bit (exactly-once
recovery: restore the checkpoint, then re-apply the batches after it).
"""

from __future__ import annotations

import time
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.events import (
    EVENT_DTYPE,
    PRICE_SCALE,
    EventFlag,
    EventKind,
    events_to_arrow,
)
from riskstream.core.state import MarketState
from riskstream.md import books as bk
from riskstream.md import features as ft
from riskstream.md import sequencer as sq
from riskstream.md._jit import kernel
from riskstream.md.config import MdConfig
from riskstream.md.reasons import N_REASONS, Reason, reason_text

_MS_FIELDS = [f for f in MarketState(0).arrays()]
MarketArrays = namedtuple("MarketArrays", _MS_FIELDS)

_TRADE = int(EventKind.TRADE)
_F_LAST = int(EventFlag.LAST_IN_GROUP)
_MODIFY = int(EventKind.MODIFY)
_R_UNKNOWN_INSTRUMENT = int(Reason.UNKNOWN_INSTRUMENT)


@kernel
def _publish(b, f, ms, touched, n_touched, seen, depth):
    """Write the touched instruments' top of book, depth and microprice into market state."""
    lv, lv_cnt = b.lv, b.lv_cnt
    fs = f.s
    m_bid, m_ask, m_bsz, m_asz = ms.bid, ms.ask, ms.bid_size, ms.ask_size
    m_mid, m_spread, m_micro = ms.mid, ms.spread, ms.microprice
    m_bdep, m_adep, m_last, m_vol = ms.bid_depth, ms.ask_depth, ms.last, ms.volume
    m_ts, m_seq, m_upd = ms.ts_ns, ms.seq, ms.updated
    for k in range(n_touched):
        inst = touched[k]
        seen[inst] = False
        cb = lv_cnt[inst, bk.BID]
        ca = lv_cnt[inst, bk.ASK]
        bid = lv[inst, bk.BID, cb - 1].px / PRICE_SCALE if cb > 0 else np.nan
        ask = lv[inst, bk.ASK, ca - 1].px / PRICE_SCALE if ca > 0 else np.nan
        qb = lv[inst, bk.BID, cb - 1].sz if cb > 0 else np.nan
        qa = lv[inst, bk.ASK, ca - 1].sz if ca > 0 else np.nan
        m_bid[inst] = bid
        m_ask[inst] = ask
        m_bsz[inst] = qb
        m_asz[inst] = qa
        m_mid[inst] = 0.5 * (bid + ask)
        m_spread[inst] = ask - bid
        # imbalance-weighted mid, I*ask + (1-I)*bid with I = qb/(qb+qa): the "weighted
        # mid-price" of Stoikov (2018, "The micro-price", Quantitative Finance 18(12)),
        # the first-order approximation of his micro-price
        m_micro[inst] = (bid * qa + ask * qb) / (qa + qb)
        db = bk.side_depth(lv, lv_cnt, inst, bk.BID, depth)
        da = bk.side_depth(lv, lv_cnt, inst, bk.ASK, depth)
        m_bdep[inst] = db
        m_adep[inst] = da
        st = fs[inst]
        st.depth_imbalance = (db - da) / (db + da) if db + da > 0.0 else np.nan
        m_last[inst] = st.last_px
        m_vol[inst] = st.volume
        m_ts[inst] = st.last_ts
        m_seq[inst] = st.last_seq
        m_upd[inst] = True


@kernel
def _process(ev, now_ns, b, q, f, ms, p, allow_negative, fifo, reason,
             seen, touched, rec_px, rec_sz, depth):  # fmt: skip
    """Apply one batch and publish it to market state; returns the number of instruments
    touched (listed in ``touched``).

    The state tuples are unpacked once here and their arrays passed one by one: handing a
    tuple of arrays to a numba function costs reference counting on every member per call.
    """
    o, epoch, n_orders, lv, lv_cnt, crossed, bcount = b
    feeds, recovering, qcount = q
    fs, profile, rv_ring, pool, fcount = f
    stale = ms.stale
    n_inst = stale.shape[0]
    n_touched = 0
    record = rec_px.shape[0] > 0
    for i in range(ev.shape[0]):
        e = ev[i]
        inst = np.int64(e.instrument_id)
        src = np.int64(e.source)
        kind = np.int64(e.kind)
        r = 0
        if inst < 0 or inst >= n_inst:
            r = _R_UNKNOWN_INSTRUMENT
        else:
            r = sq.check_sequence(feeds, recovering, qcount, stale, src, inst,
                                  e.seq, kind, e.flags)  # fmt: skip
            if r == 0:
                r = sq.validate_fields(kind, e.side, e.price, e.size, e.ts_event, e.ts_recv,
                                       now_ns, p, allow_negative[inst])  # fmt: skip
            tpx = np.int64(0)
            if r == 0:
                r, tpx = bk.apply_book_event(o, epoch, n_orders, lv, lv_cnt, bcount, inst, src,
                                             kind, e.side, e.price, e.size, e.order_id,
                                             fifo)  # fmt: skip
            if r == 0:
                sq.after_applied(recovering, qcount, stale, inst, kind,
                                 e.flags)  # fmt: skip
                cb = lv_cnt[inst, bk.BID]
                ca = lv_cnt[inst, bk.ASK]
                bpx = lv[inst, bk.BID, cb - 1].px if cb > 0 else ft.NO_BID
                bsz = lv[inst, bk.BID, cb - 1].sz if cb > 0 else 0.0
                apx = lv[inst, bk.ASK, ca - 1].px if ca > 0 else ft.NO_ASK
                asz = lv[inst, bk.ASK, ca - 1].sz if ca > 0 else 0.0
                # locked or crossed: flagged (and counted) until the venue uncrosses it
                x = bpx >= apx
                crossed[inst] = x
                if x:
                    bcount[bk.CROSSED_EVENTS] += 1
                    if (e.flags & _F_LAST) != 0:
                        bcount[bk.CROSSED_AT_GROUP_END] += 1
                fkind = kind
                if kind == _TRADE and tpx == 0 and e.price == 0:
                    fkind = 0  # a fill of an unknown order without a price: no print
                ft.update_features(fs, profile, rv_ring, pool, fcount, p, inst, e.ts_event, e.seq,
                                   fkind, e.flags, tpx, e.size, bpx, bsz, apx, asz)  # fmt: skip
                if not seen[inst]:
                    seen[inst] = True
                    touched[n_touched] = inst
                    n_touched += 1
        reason[i] = r
        if record and 0 <= inst < n_inst:
            bk.top_levels(lv, lv_cnt, inst, rec_px.shape[2], rec_px[i], rec_sz[i])
    _publish(b, f, ms, touched, n_touched, seen, depth)
    return n_touched


@dataclass(frozen=True)
class Quarantine:
    """Quarantined events and why: the rows of the quarantine table.

    Attributes
    ----------
    events : ndarray of EVENT_DTYPE, shape (n,)
    reason : ndarray of uint8, shape (n,)
        :class:`~riskstream.md.reasons.Reason` codes.
    """

    events: np.ndarray
    reason: np.ndarray

    def __len__(self) -> int:
        return len(self.reason)

    def to_arrow(self) -> pa.Table:
        """The events' columns plus ``reason`` (uint8 code) and ``reason_text``."""
        table = pa.Table.from_batches([events_to_arrow(self.events)])
        table = table.append_column("reason", pa.array(self.reason, type=pa.uint8()))
        return table.append_column("reason_text", pa.array(reason_text(self.reason)))


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: per-event reason codes and the instruments it touched."""

    reason: np.ndarray  # uint8 (n_events,): 0 = applied
    touched: np.ndarray  # int64: instruments updated by the batch
    depth_px: np.ndarray | None = None  # int64 (n_events, 2, depth) when recording
    depth_sz: np.ndarray | None = None  # float64 (n_events, 2, depth) when recording

    @property
    def accepted(self) -> int:
        return int(np.count_nonzero(self.reason == 0))

    @property
    def features(self) -> ft.FeatureState:
        """Every instrument's features as dense arrays by name (``features.vwap[i]``)."""
        return ft.FeatureState(self._features)

    @property
    def quarantined(self) -> int:
        return len(self.reason) - self.accepted


class MarketDataEngine:
    """Sequencing, validation, L3/L2 books and features for a whole universe.

    Parameters
    ----------
    n_instruments : int
        Size of the dense ``instrument_id`` range.
    config : MdConfig, optional
    market_state : MarketState, optional
        The shared state to write in place (a new one by default).
    allow_negative_price : ndarray of bool, shape (n_instruments,), optional
        Instruments that may trade at prices <= 0 (spreads, some rates). Default: none.

    The crossing policy is ``config.crossing`` (see :mod:`riskstream.md.books`).
    """

    def __init__(
        self,
        n_instruments: int,
        config: MdConfig | None = None,
        market_state: MarketState | None = None,
        allow_negative_price: np.ndarray | None = None,
    ):
        self.config = config or MdConfig()
        c = self.config
        n = int(n_instruments)
        self.n_instruments = n
        self.market_state = market_state if market_state is not None else MarketState(n)
        if self.market_state.n_instruments != n:
            raise ValueError(
                f"market_state has {self.market_state.n_instruments} instruments; expected {n}"
            )
        self.allow_negative = _flags(allow_negative_price, n, False, "allow_negative_price")
        self.fifo = c.crossing == "match"  # match mode keeps each level's FIFO queue
        n_buckets = -(-NS_PER_DAY // (c.profile_bucket_s * NS_PER_S))
        self.params = ft.FeatureParams(
            grid_ns=np.int64(round(c.grid_s * NS_PER_S)),
            bucket_ns=np.int64(c.profile_bucket_s * NS_PER_S),
            spread_tau_ns=c.spread_halflife_s * NS_PER_S / np.log(2.0),
            intensity_tau_ns=c.intensity_halflife_s * NS_PER_S / np.log(2.0),
            profile_alpha=float(c.profile_alpha),
            vwap_window_ns=np.int64(round(c.vwap_window_s * NS_PER_S)),
            ts_floor_ns=np.int64(c.ts_floor_ns),
            max_ahead_ns=np.int64(c.max_ahead_ns),
        )
        self.books = bk.new_book_arrays(n, c.max_levels, c.order_capacity)
        self.seq = sq.new_seq_arrays(n, c.sources_per_instrument)
        self._features = ft.new_feature_arrays(n, int(n_buckets), c.rv_window, c.vwap_capacity)
        self.quarantine_counts = np.zeros(N_REASONS, dtype=np.int64)
        self.events_seen = np.zeros(1, dtype=np.int64)
        self._seen = np.zeros(n, dtype=np.bool_)
        self._touched = np.zeros(n, dtype=np.int64)
        self._pending: list[Quarantine] = []
        self._pending_n = 0
        self.quarantine_overflow = 0  # quarantined records let go undrained (still counted)
        # growing the order table and the VWAP pool between batches: wall time, and by
        # what grew, (times, longest in ms)
        self.grow_ns = 0
        self._spare_pool = ft.SparePool()  # the VWAP pool's next array, made ready ahead
        self.grows: dict[str, tuple[int, float]] = {}
        self._market_arrays = MarketArrays(**self.market_state.arrays())  # written in place
        self._no_rec_px = np.zeros((0, 2, 1), dtype=np.int64)
        self._no_rec_sz = np.zeros((0, 2, 1), dtype=np.float64)

    # ------------------------------------------------------------------ processing

    def process(self, events: np.ndarray, now_ns: int = 0, record_depth: int = 0) -> BatchResult:
        """Apply one batch of events (EVENT_DTYPE) in order.

        Parameters
        ----------
        events : ndarray of EVENT_DTYPE, shape (n,)
        now_ns : int
            The clock at receipt, bounding ``ts_event`` of events without ``ts_recv``.
        record_depth : int
            When > 0, also return the top ``record_depth`` levels of the event's book after
            every event (for ``riskstream book replay``).
        """
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"events have dtype {events.dtype}; expected EVENT_DTYPE")
        n = len(events)
        self._reserve(events)
        reason = np.zeros(n, dtype=np.uint8)
        if record_depth > 0:
            rec_px = np.zeros((n, 2, record_depth), dtype=np.int64)
            rec_sz = np.full((n, 2, record_depth), np.nan)
        else:
            rec_px, rec_sz = self._no_rec_px, self._no_rec_sz
        n_touched = _process(
            events, np.int64(now_ns), self.books, self.seq, self._features,
            self._market_arrays, self.params, self.allow_negative, self.fifo, reason,
            self._seen, self._touched, rec_px, rec_sz, self.config.depth_levels,
        )  # fmt: skip
        self.events_seen[0] += n
        bad = reason != 0
        if bad.any():
            self.quarantine_counts += np.bincount(reason[bad], minlength=N_REASONS)
            self._pending.append(Quarantine(events[bad].copy(), reason[bad]))
            self._pending_n += int(bad.sum())
            while self._pending_n > self.config.quarantine_buffer and len(self._pending) > 1:
                # nobody drains: keep the newest records, and count what was let go
                gone = self._pending.pop(0)
                self._pending_n -= len(gone)
                self.quarantine_overflow += len(gone)
        return BatchResult(
            reason,
            self._touched[:n_touched].copy(),
            rec_px if record_depth > 0 else None,
            rec_sz if record_depth > 0 else None,
        )

    def _reserve(self, events: np.ndarray) -> None:
        """Grow the order table and the VWAP pool so that this batch cannot overflow them."""
        kinds = np.bincount(events["kind"], minlength=8)
        # a modify of an order the book does not hold inserts it: count modifies as adds
        adds = int(kinds[int(EventKind.ADD)] + kinds[int(EventKind.SNAPSHOT)] + kinds[_MODIFY])
        b = self.books
        cap = b.orders.shape[0]
        if b.counters[bk.USED] + adds > bk.MAX_LOAD * cap:
            need = int(b.counters[bk.LIVE]) + adds
            while need > bk.MAX_LOAD * cap / 2:
                cap *= 2
            started = time.perf_counter_ns()
            self.books = _rebuilt(b, cap)
            self._grown("orders", time.perf_counter_ns() - started)
        trades = int(kinds[_TRADE])
        f = self._features
        if trades > ft.pool_room(f):
            started = time.perf_counter_ns()
            self._features = ft.grow_pool(f, trades, self._spare_pool)
            self._grown("vwap_pool", time.perf_counter_ns() - started)
        elif trades:
            self._spare_pool.prepare(f, trades)

    def _grown(self, what: str, took_ns: int) -> None:
        self.grow_ns += took_ns
        count, max_ms = self.grows.get(what, (0, 0.0))
        self.grows[what] = (count + 1, max(max_ms, round(took_ns / 1e6, 3)))

    def drain_quarantine(self) -> Quarantine:
        """Hand over (and forget) the events quarantined since the last call."""
        pending, self._pending = self._pending, []
        self._pending_n = 0
        if not pending:
            return Quarantine(np.zeros(0, dtype=EVENT_DTYPE), np.zeros(0, dtype=np.uint8))
        return Quarantine(
            np.concatenate([p.events for p in pending]),
            np.concatenate([p.reason for p in pending]),
        )

    # ------------------------------------------------------------------ read-outs

    @property
    def features(self) -> ft.FeatureState:
        """Every instrument's features as dense arrays by name (``features.vwap[i]``)."""
        return ft.FeatureState(self._features)

    @property
    def quarantined(self) -> int:
        return int(self.quarantine_counts.sum())

    def quarantine_by_reason(self) -> dict[str, int]:
        """Counts of quarantined events per reason name (reasons seen only)."""
        return {Reason(i).name: int(c) for i, c in enumerate(self.quarantine_counts) if c}

    def sequence_counts(self) -> dict[str, int]:
        c = self.seq.counters
        return {
            "gaps": int(c[sq.GAPS]),
            "duplicates": int(c[sq.DUPLICATES]),
            "out_of_order": int(c[sq.OUT_OF_ORDER]),
            "recoveries": int(c[sq.RECOVERIES]),
        }

    def book_counts(self) -> dict[str, int]:
        """What the books took from the venues without refusing it (see
        :mod:`riskstream.md.books`): unknown-order no-ops and inserts, replaced orders, side
        changes, overfills, events that left a book locked or crossed (and those at the end
        of a venue group), the matcher's fills, and the books crossed now."""
        c = self.books.counters
        out = {name: int(c[i]) for i, name in enumerate(bk.COUNTER_NAMES) if i > bk.LIVE}
        out["books_crossed"] = int(self.books.crossed.sum())
        return out

    def n_books(self) -> int:
        """Instruments whose book has at least one level."""
        return int(np.count_nonzero(self.books.lv_cnt.sum(axis=1)))

    def live_orders(self) -> int:
        return int(self.books.counters[bk.LIVE])

    def levels(self, instrument_id: int) -> dict[str, np.ndarray]:
        """The full L2 book of one instrument, best first: bid/ask prices (decimal) and sizes."""
        b = self.books
        out = {}
        for s, name in ((bk.BID, "bid"), (bk.ASK, "ask")):
            cnt = b.lv_cnt[instrument_id, s]
            lv = b.lv[instrument_id, s, :cnt][::-1]
            out[f"{name}_px"] = lv["px"] / PRICE_SCALE
            out[f"{name}_sz"] = lv["sz"].copy()
            out[f"{name}_orders"] = lv["n"].copy()
        return out

    def orders(self, instrument_id: int | None = None) -> np.ndarray:
        """Live resting orders (L3), sorted by instrument, side, price priority, then time.

        A structured array with ``instrument_id, source, order_id, side (+1/-1), price
        (fixed point), size, priority`` (lower priority = earlier in the queue).
        """
        b = self.books
        o = b.orders
        live = o["inst"] != bk.EMPTY
        live &= o["epoch"] == b.epoch[np.maximum(o["inst"], 0)]
        if instrument_id is not None:
            live &= o["inst"] == instrument_id
        o = o[live]
        out = np.zeros(
            len(o),
            dtype=[
                ("instrument_id", np.int32),
                ("source", np.int32),
                ("order_id", np.uint64),
                ("side", np.int8),
                ("price", np.int64),
                ("size", np.float64),
                ("priority", np.int64),
            ],
        )
        out["instrument_id"] = o["inst"]
        out["source"] = o["src"]
        out["order_id"] = o["oid"]
        out["side"] = np.where(o["side"] == bk.BID, 1, -1)
        out["price"] = o["price"]
        out["size"] = o["size"]
        out["priority"] = o["prio"]
        # best price first on each side: bids by descending, asks by ascending price
        key_px = np.where(out["side"] == 1, -out["price"], out["price"])
        order = np.lexsort((out["priority"], key_px, -out["side"], out["instrument_id"]))
        return out[order]

    def check_integrity(self) -> list[str]:
        """Problems found in the books (empty when sound).

        Checks that each book's crossed flag tells whether it is locked or crossed (bid >=
        ask; whether that is allowed at a given moment is the caller's question), that no
        level or order size is <= 0, that levels are strictly sorted, that every L2 level
        equals the aggregation of the L3 orders at its price (sizes to 1e-9 relative, counts
        exactly) and, in match mode, that each level's FIFO queue holds its orders in
        priority order.
        """
        b = self.books
        problems: list[str] = []
        cnt = b.lv_cnt
        for i in range(self.n_instruments):
            if bool(b.crossed[i]) != bool(bk.is_crossed(b.lv, b.lv_cnt, i)):
                problems.append(f"instrument {i}: crossed flag {b.crossed[i]} is wrong")
        orders = self.orders()
        if (orders["size"] <= 0).any():
            problems.append("an order has size <= 0")
        agg: dict[tuple[int, int, int], list[float]] = {}
        for o in orders:
            s = bk.BID if o["side"] == 1 else bk.ASK
            key = (int(o["instrument_id"]), s, int(o["price"]))
            entry = agg.setdefault(key, [0.0, 0])
            entry[0] += float(o["size"])
            entry[1] += 1
        for i in np.flatnonzero(cnt.sum(axis=1)):
            for s in (bk.BID, bk.ASK):
                px = b.lv[i, s, : cnt[i, s]]["px"]
                keys = px if s == bk.BID else -px
                if (np.diff(keys) <= 0).any():
                    problems.append(f"instrument {i} side {s}: levels not strictly sorted")
                for k in range(cnt[i, s]):
                    size, n = b.lv[i, s, k]["sz"], int(b.lv[i, s, k]["n"])
                    if size <= 0:
                        problems.append(f"instrument {i} side {s} px {px[k]}: size {size}")
                    if n == 0 and b.n_orders[i] == 0:  # a quote-driven level
                        continue
                    want = agg.pop((int(i), s, int(px[k])), [0.0, 0])
                    if n != want[1] or not np.isclose(size, want[0], rtol=1e-9, atol=1e-12):
                        problems.append(
                            f"instrument {i} side {s} px {px[k]}: L2 ({size}, {n} orders) "
                            f"!= L3 ({want[0]}, {want[1]} orders)"
                        )
        for key in agg:
            problems.append(f"orders at {key} have no L2 level")
        if self.fifo:
            problems += self._queue_problems(orders)
        return problems

    def _queue_problems(self, orders: np.ndarray) -> list[str]:
        """Match mode: walk every level's queue from its head; it must list the level's
        orders by ascending priority."""
        b = self.books
        by_key = {
            (int(o["instrument_id"]), int(o["source"]), int(o["order_id"])): o for o in orders
        }
        table = {
            (int(r["inst"]), int(r["src"]), int(r["oid"])): r
            for r in b.orders[b.orders["inst"] >= 0]
        }
        problems = []
        for i in np.flatnonzero(b.lv_cnt.sum(axis=1)):
            for s in (bk.BID, bk.ASK):
                for lvl in b.lv[i, s, : b.lv_cnt[i, s]]:
                    want = sorted(
                        (int(o["priority"]), int(o["source"]), int(o["order_id"]))
                        for o in by_key.values()
                        if o["instrument_id"] == i
                        and o["price"] == lvl["px"]
                        and (o["side"] == 1) == (s == bk.BID)
                    )
                    got, key = [], (int(i), int(lvl["hsrc"]), int(lvl["hoid"]))
                    while len(got) <= len(want) and key in table:
                        r = table[key]
                        got.append((int(r["prio"]), key[1], key[2]))
                        if not r["links"] & 2:
                            break
                        key = (int(i), int(r["nsrc"]), int(r["noid"]))
                    if got != want:
                        problems.append(f"instrument {i} side {s} px {lvl['px']}: queue {got}")
        return problems

    # ------------------------------------------------------------------ checkpoints

    def state(self, copy: bool = True) -> dict[str, np.ndarray]:
        """Every state array, keyed ``part.name``: a checkpoint of the engine. Copies, or
        with ``copy=False`` the live arrays themselves (for a writer that holds a frozen
        image of them, such as a forked checkpoint writer)."""
        out: dict[str, np.ndarray] = {}
        for part, arrays in self._parts().items():
            for name, arr in arrays.items():
                if part == "features" and name == "pool":
                    # the slots ever used: the rest are zeros (and, after a growth, most of
                    # the array), a restored pool grows again when trades need it
                    arr = arr[: int(self._features.counters[ft.POOL_USED])]
                out[f"{part}.{name}"] = np.array(arr, copy=True) if copy else arr
        return out

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`state` checkpoint bit for bit (market state written in place)."""
        expected = {f"{part}.{name}" for part, arrs in self._parts().items() for name in arrs}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(f"checkpoint keys differ: missing {missing}, unexpected {extra}")

        def part(prefix: str, cls: Any) -> Any:
            return cls(**{k: np.array(state[f"{prefix}.{k}"], copy=True) for k in cls._fields})

        for name, arr in self.market_state.arrays().items():
            src = state[f"market.{name}"]
            if src.shape != arr.shape or src.dtype != arr.dtype:
                raise ValueError(f"checkpoint market.{name} has shape {src.shape}; expected")
            np.copyto(arr, src)
        self.books = part("books", bk.BookArrays)
        self.seq = part("seq", sq.SeqArrays)
        features = part("features", ft.FeatureArrays)
        self._spare_pool = ft.SparePool()
        self._features = features._replace(
            counters=ft.legacy_counters(features.counters, features.pool)
        )
        self.quarantine_counts = np.array(state["engine.quarantine_counts"], copy=True)
        self.events_seen = np.array(state["engine.events_seen"], copy=True)

    def _parts(self) -> dict[str, dict[str, np.ndarray]]:
        return {
            "books": self.books._asdict(),
            "seq": self.seq._asdict(),
            "features": self._features._asdict(),
            "market": self.market_state.arrays(),
            "engine": {
                "quarantine_counts": self.quarantine_counts,
                "events_seen": self.events_seen,
            },
        }


def _flags(values: np.ndarray | None, n: int, default: bool, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.bool_)
    out = np.asarray(values, dtype=np.bool_)
    if out.shape != (n,):
        raise ValueError(f"{name} has shape {out.shape}; expected ({n},)")
    return out.copy()


def _rebuilt(b: bk.BookArrays, capacity: int) -> bk.BookArrays:
    """The books with a fresh order table of ``capacity`` slots (dead orders dropped)."""
    new = b._replace(orders=bk.new_order_table(capacity))
    new.counters[bk.USED] = 0
    bk._rehash(b.orders, b.epoch, new.orders, new.counters)
    return new
