"""Manipulative participants of the market simulator, and the order audit trail naming everyone.

With a :class:`ManipulationConfig`, :class:`~riskstream.feeds.simulator.MarketSimulator`
gets a population of named trading accounts. The public feed stays anonymous; who sent each
order event is recorded in the **order audit trail** (:data:`riskstream.core.audit.
ORDER_AUDIT_DTYPE`, :meth:`MarketSimulator.audit`), as a venue's member-level record (CAT,
MiFIR RTS 24). The ground truth of the manipulations is recorded apart (:meth:`Manipulators.
order_labels`, :meth:`Manipulators.day_labels`).

**The honest population.** Every order of the ordinary simulated flow belongs to one of
``market_makers`` liquidity providers (a share ``market_maker_share`` of the resting orders)
or ``noise_traders`` (the rest, and the aggressors of ordinary trades); orders taken as stale
by the sweep go to one ``arbitrageur``. The split is a deterministic hash of the order id (of
the trade's sequence number for aggressors), so the stream itself is not changed by naming
its owners. Market makers therefore own most of the flow's re-quotes and cancels — the
honest high cancel ratios a spoofing detector must not flag — and trade on both sides. The
first ``shared_owner_pairs`` noise traders share a beneficial owner with a market maker (two
desks of one firm), so honest accidental self-matches happen as they do on real venues.
*Limitation:* the honest accounts differ by their share of the flow, not by their style (the
simulated flow does not choose its orders by owner).

**The manipulators** act on the simulator's own book (their orders rest in it, ordinary flow
trades with them and cancels them at random like any order), one episode at a time on a
random exchange-traded instrument, on a random share ``active_day_share`` of days:

* *spoofing* (CFTC, 7 U.S.C. 6c(a)(5)(C), "bidding or offering with the intent to cancel the
  bid or offer before execution"; MAR Annex I A(c) and ESMA's indicators): one order of
  ``spoof_size_mult`` × the instrument's mean order size, ``spoof_ticks_behind`` ticks
  behind the touch on one side; after ``spoof_hold_ms`` a marketable order of the *other*
  side (the genuine interest) executes at the touch; the spoof is cancelled
  ``cancel_delay_ms`` later;
* *layering*: the same with ``layering_levels`` orders on consecutive levels behind the
  touch, each ``layer_size_mult`` × the mean size;
* *wash trades* (SEC: no change in beneficial ownership; CEA 4c(a)): ``wash_trades``
  resting orders each taken at once by an account of the same beneficial owner (the same
  account, or a second account of the owner with ``wash_two_accounts``), alternating sides
  so the owner's position does not change, ``wash_gap_ms`` apart. The resting order is
  priced one tick inside the spread when the spread allows, else at the touch, and matched
  at once (a shortcut: at the touch it jumps the queue);
* *marking the close* (MAR Annex I A(b), ESMA indicator "orders at or near the close"):
  ``close_orders`` marketable orders of one direction spread over the last
  ``close_window_s`` of the day, together ``close_volume_share`` of the volume the
  instrument traded in as long a time earlier in the day (a dominant closing taker);
* *momentum ignition* (SEC Concept Release on Equity Market Structure, 2010, III.B.3):
  ``ignition_orders`` marketable orders of one direction ``ignition_gap_ms`` apart, then,
  ``ignition_reverse_ms`` after the burst, a marketable order of the other side of their
  total size.

A manipulator's marketable orders walk the book (:func:`~riskstream.feeds.orderflow.
market_order`) and the fair value follows to the last price taken (the traders who follow
the move), so the manipulations move prices. A simulated *day* is ``config.session_s`` of
simulated time from the start.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numba import njit

from riskstream.core.audit import (
    DAY_LABEL_DTYPE,
    NO_PARTICIPANT,
    ORDER_LABEL_DTYPE,
    Typology,
    audit_from_events,
)
from riskstream.core.events import EventFlag, EventKind, empty_events
from riskstream.feeds.config import ManipulationConfig
from riskstream.feeds.orderflow import ASK, BID, SLOTS, _emit, _insert, _remove, market_order

MAX_ACTION_EVENTS = 2 * SLOTS + 2 + 16
"""Most events one manipulator action writes (a walk of a whole side, or a few orders)."""


# --------------------------------------------------------------------------- kernels
_ADD = np.uint8(EventKind.ADD)
_CANCEL = np.uint8(EventKind.CANCEL)
_TRADE = np.uint8(EventKind.TRADE)
_SIM = np.uint8(EventFlag.SIMULATED)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def _mix(x):
    """splitmix64's finaliser (Steele, Lea & Flood, OOPSLA 2014): a well-spread 64-bit hash."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _honest_owners(inst, kind, oid, seq, seed, n_mm, n_noise, mm_share, arb_share, arb, pid, cpid):
    """Owner (``pid``) of each event's order and, for a trade, its aggressor (``cpid``), by a
    hash of (seed, instrument, order id) and (seed, instrument, seq)."""
    salt = _mix(np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15))
    for k in range(inst.shape[0]):
        if oid[k] == 0 or (kind[k] > 4 and kind[k] != 7) or kind[k] < 1:
            continue
        key = (np.uint64(inst[k]) << np.uint64(40)) ^ oid[k]
        h = _mix(key ^ salt)
        u = (h >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        if u < mm_share:
            pid[k] = np.int32(h % np.uint64(n_mm))
        else:
            pid[k] = np.int32(n_mm + (h >> np.uint64(7)) % np.uint64(n_noise))
        if kind[k] == 4:
            h2 = _mix(((np.uint64(inst[k]) << np.uint64(40)) ^ seq[k]) ^ _mix(salt))
            u2 = (h2 >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            if u2 < arb_share:
                cpid[k] = arb
            else:
                cpid[k] = np.int32(n_mm + (h2 >> np.uint64(7)) % np.uint64(n_noise))


@njit(cache=True)
def _place(out, n, ts, u, i, s, ticks, lots, book, sim):
    """Rest a new order in the simulator's book and emit its ADD; (n, order id or 0)."""
    ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter = book
    if ob_n[i, s] >= SLOTS or ticks < 1 or lots < 1:
        return n, np.uint64(0)
    oid = _insert(ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter, i, s, ticks, lots)
    sign = 1 if s == BID else -1
    n = _emit(out, n, ts, u, i, _ADD, sign, ticks, lots, oid, _SIM, sim)
    return n, oid


@njit(cache=True)
def _pull(out, n, ts, u, i, oid, book, sim):
    """Cancel resting order ``oid`` of instrument ``i`` if it still rests; the new n."""
    ob_id, ob_px, ob_lots, ob_prio, ob_n = book[0], book[1], book[2], book[3], book[4]
    for s in (BID, ASK):
        for k in range(ob_n[i, s]):
            if ob_id[i, s, k] == oid:
                sign = 1 if s == BID else -1
                n = _emit(out, n, ts, u, i, _CANCEL, sign, ob_px[i, s, k], ob_lots[i, s, k],
                          oid, _SIM, sim)  # fmt: skip
                _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
                return n
    return n


@njit(cache=True)
def _cross(out, n, ts, u, i, s, ticks, lots, book, sim):
    """An order of side ``s`` that is added and at once taken whole (a wash trade's resting
    half and its fill); it never stays in the book. (n, order id)."""
    next_oid = book[5]
    oid = next_oid[i]
    next_oid[i] += 1
    sign = 1 if s == BID else -1
    n = _emit(out, n, ts, u, i, _ADD, sign, ticks, lots, oid, _SIM, sim)
    n = _emit(out, n, ts, u, i, _TRADE, sign, ticks, lots, oid, _SIM, sim)
    return n, oid


# --------------------------------------------------------------------------- the actors


class Manipulators:
    """The accounts of a simulated market and the manipulators' episodes.

    Built by :class:`~riskstream.feeds.simulator.MarketSimulator` from a
    :class:`ManipulationConfig`; the simulator calls :meth:`act` when :attr:`due_ns` is
    reached and :meth:`audit` for each batch it hands out.

    Participant ids: ``0 .. market_makers-1`` market makers, then the noise traders, then
    the arbitrageur, the outside participant (orders of :meth:`MarketSimulator.
    execute_order`), then the manipulators (and their second accounts).
    """

    def __init__(self, config: ManipulationConfig, sim: Any):
        self.config = c = config
        self.sim = sim
        self.rng = np.random.default_rng([c.seed, 0xAB05E])
        self.n_mm, self.n_noise = c.market_makers, c.noise_traders
        self.arbitrageur = self.n_mm + self.n_noise
        self.outside = self.arbitrageur + 1
        roles: list[tuple[str, Typology]] = [("market_maker", Typology.NONE)] * self.n_mm
        roles += [("noise_trader", Typology.NONE)] * self.n_noise
        roles += [("arbitrageur", Typology.NONE), ("outside", Typology.NONE)]
        kinds = (
            (Typology.SPOOFING, c.spoofers), (Typology.LAYERING, c.layerers),
            (Typology.WASH_TRADE, c.wash_traders), (Typology.MARKING_CLOSE, c.closers),
            (Typology.MOMENTUM_IGNITION, c.igniters),
        )  # fmt: skip
        self.manipulators: list[tuple[int, Typology, int]] = []  # (pid, typology, 2nd pid)
        for typology, count in kinds:
            for _ in range(count):
                pid = len(roles)
                roles.append(("manipulator", typology))
                second = pid
                if typology == Typology.WASH_TRADE and c.wash_two_accounts:
                    second = len(roles)
                    roles.append(("manipulator", typology))
                self.manipulators.append((pid, typology, second))
        self.roles = roles
        owner = np.arange(len(roles), dtype=np.int32)
        for j in range(min(c.shared_owner_pairs, self.n_mm, self.n_noise)):
            owner[self.n_mm + j] = j  # a noise-trading desk of market maker j's firm
        for pid, _, second in self.manipulators:
            owner[second] = pid
        self.owner = owner
        self._order_owner: dict[tuple[int, int], int] = {}
        self._trade_aggressor: dict[tuple[int, int], int] = {}
        self._keys_dirty = True
        self._labels: list[tuple[int, int, int, int, int]] = []  # inst, oid, pid, day, typ
        self._episodes: dict[tuple[int, int, int], int] = {}
        self._heap: list[tuple[int, int, Any]] = []
        self._counter = 0
        self._u = self.rng.random(4 * MAX_ACTION_EVENTS)
        self._session_ns = round(sim.config.session_s * 1e9)
        # manipulators act on exchange-traded (L3) books: without any, nobody manipulates
        self._l3 = np.flatnonzero(sim._is_l3)
        self._traded = np.zeros(len(sim._is_l3))  # lots traded per instrument (observed)
        self._traded_at_open = np.zeros(len(sim._is_l3))
        self._day = 0
        self._plan()

    # ------------------------------------------------------------------ schedule
    def _day_start(self, day: int) -> int:
        return self.sim.start_ns + day * self._session_ns

    def _plan(self) -> None:
        """Draw every manipulator's active days and episode start times up front (seeded)."""
        c = self.config
        session = self._session_ns
        close_ns = int(c.close_window_s * 1e9)
        for pid, typology, second in self.manipulators if len(self._l3) else ():
            for day in range(c.max_days):
                if self.rng.random() >= c.active_day_share:
                    continue
                d0 = self._day_start(day)
                if typology == Typology.MARKING_CLOSE:
                    starts = [d0 + session - close_ns]
                else:
                    # leave the opening minute and the closing window alone, and room to finish
                    lo, hi = d0 + session // 20, d0 + session - close_ns - 10 * 10**9
                    if hi <= lo:
                        hi = lo + 1
                    starts = sorted(
                        int(x) for x in self.rng.integers(lo, hi, size=c.episodes_per_day)
                    )
                for t0 in starts:
                    i = int(self.rng.choice(self._l3))
                    direction = BID if self.rng.random() < 0.5 else ASK
                    self._push(t0, self._episode(typology, pid, second, i, direction, day))

    def _push(self, due: int, episode: Iterator[int]) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (due, self._counter, episode))

    @property
    def due_ns(self) -> int:
        """Market time of the next manipulator action (int64 max when none is left)."""
        return self._heap[0][0] if self._heap else np.iinfo(np.int64).max

    def act(self, t_ns: int) -> np.ndarray:
        """Run the action due at ``t_ns``; the events it emitted (EVENT_DTYPE)."""
        due, _, episode = heapq.heappop(self._heap)
        self._out = empty_events(MAX_ACTION_EVENTS)
        self._n = 0
        self._ts = max(due, t_ns)
        try:
            wait = next(episode)
            self._push(self._ts + max(int(wait), 1), episode)
        except StopIteration:
            pass
        out = self._out[: self._n]
        if self._n:
            out[-1]["flags"] |= np.uint8(EventFlag.LAST_IN_GROUP)
        return out

    def observe(self, events: np.ndarray) -> None:
        """Count the lots traded per instrument in ``events`` (what a closer sizes on)."""
        trades = events[events["kind"] == EventKind.TRADE]
        if len(trades) == 0:
            return
        day = int((int(trades["ts_event"][-1]) - self.sim.start_ns) // self._session_ns)
        if day != self._day:
            self._day = day
            self._traded_at_open[:] = self._traded
        inst = trades["instrument_id"]
        np.add.at(self._traded, inst, trades["size"] / self.sim._lot[inst])

    # ------------------------------------------------------------------ actions
    def _touch_ticks(self, i: int) -> tuple[int, int]:
        _, ob_px, _, _, ob_n, _, _ = self.sim._book
        bid = int(ob_px[i, BID, : ob_n[i, BID]].max()) if ob_n[i, BID] else 0
        ask = int(ob_px[i, ASK, : ob_n[i, ASK]].min()) if ob_n[i, ASK] else 0
        fair = float(self.sim._fair_ticks[i])
        return (bid or max(math.floor(fair), 1)), (ask or math.ceil(fair) + 1)

    def _label(
        self, i: int, oid: int, pid: int, day: int, typology: Typology, seq: int = 0
    ) -> None:
        self._labels.append((i, oid, seq, pid, day, int(typology)))

    def _place(self, pid: int, i: int, s: int, ticks: int, lots: int) -> int:
        sim = self.sim
        self._n, oid = _place(self._out, self._n, self._ts, self._u[self._n], i, s,
                              np.int64(ticks), np.int64(lots), sim._book, sim._sim)  # fmt: skip
        oid = int(oid)
        if oid:
            self._order_owner[(i, oid)] = pid
            self._keys_dirty = True
        return oid

    def _pull(self, i: int, oid: int) -> None:
        self._n = _pull(self._out, self._n, self._ts, self._u[self._n], i, np.uint64(oid),
                        self.sim._book, self.sim._sim)  # fmt: skip

    def _take(
        self, pid: int, i: int, buy: bool, lots: int, limit_ticks: int, follow: bool,
        label: tuple[int, Typology] | None = None,
    ) -> int:  # fmt: skip
        """A marketable order of ``pid`` (a buy takes the asks); the fair value follows to
        the last price taken when ``follow``. Lots filled."""
        side = ASK if buy else BID
        buf = empty_events(2 * SLOTS + 2)
        count, filled, _, last = market_order(
            buf, self._ts, self._u, i, side, np.int64(lots), np.int64(limit_ticks),
            self.sim._book, self.sim._sim,
        )  # fmt: skip
        buf["flags"][:count] &= np.uint8(~EventFlag.LAST_IN_GROUP & 0xFF)
        self._out[self._n : self._n + count] = buf[:count]
        self._n += count
        for ev in buf[:count]:
            self._trade_aggressor[(i, int(ev["seq"]))] = pid
            if label is not None:
                self._label(i, int(ev["order_id"]), pid, label[0], label[1], int(ev["seq"]))
        self._keys_dirty = True
        if follow and filled:
            fair = float(self.sim.model.fair[i])
            last_px = float(last) * float(self.sim._tick[i])
            move = math.log(last_px / fair) if fair > 0 and last_px > 0 else 0.0
            if (move > 0) == buy and move != 0.0:
                self.sim.model.add_impact(i, move)
                self.sim._update_params()
        return int(filled)

    def _mean_lots(self, i: int) -> float:
        return max(float(self.sim._order_lots[i]), 1.0)

    def _trade_lots(self, i: int) -> float:
        return float(self.sim._trade_lots[i]) + 1.0

    def _episode(
        self, typology: Typology, pid: int, second: int, i: int, s: int, day: int
    ) -> Iterator[int]:
        # a generator: the episode counts from its first action, not from its planning
        for who in {pid, second}:
            key = (who, day, int(typology))
            self._episodes[key] = self._episodes.get(key, 0) + 1
        make: dict[Typology, Callable[..., Iterator[int]]] = {
            Typology.SPOOFING: self._spoof,
            Typology.LAYERING: self._spoof,
            Typology.WASH_TRADE: self._wash,
            Typology.MARKING_CLOSE: self._mark_close,
            Typology.MOMENTUM_IGNITION: self._ignite,
        }
        yield from make[typology](typology, pid, second, i, s, day)

    def _spoof(self, typology: Typology, pid: int, _s2: int, i: int, s: int, day: int):
        c = self.config
        layers = 1 if typology == Typology.SPOOFING else c.layering_levels
        mult = c.spoof_size_mult if typology == Typology.SPOOFING else c.layer_size_mult
        bid, ask = self._touch_ticks(i)
        lots = max(round(mult * self._mean_lots(i)), 1)
        oids = []
        for level in range(layers):
            behind = c.spoof_ticks_behind + level
            ticks = bid - behind if s == BID else ask + behind
            oid = self._place(pid, i, s, ticks, lots)
            if oid:
                oids.append(oid)
                self._label(i, oid, pid, day, typology)
        yield int(c.spoof_hold_ms * 1e6)
        # the genuine interest: a marketable order of the other side, at the touch only
        bid, ask = self._touch_ticks(i)
        buy = s == ASK  # spoof offers (ask) to buy cheaper; spoof bids to sell higher
        lots = max(round(self._trade_lots(i)), 1)
        self._take(pid, i, buy, lots, ask if buy else bid, False, (day, typology))
        yield max(int(c.cancel_delay_ms * 1e6), 1)
        for oid in oids:
            self._pull(i, oid)

    def _wash(self, typology: Typology, pid: int, second: int, i: int, s: int, day: int):
        c = self.config
        lots = max(round(self._trade_lots(i)), 1)
        for k in range(c.wash_trades):
            bid, ask = self._touch_ticks(i)
            side = s if k % 2 == 0 else 1 - s
            if ask - bid >= 2:
                ticks = bid + 1 if side == BID else ask - 1
            else:
                ticks = bid if side == BID else ask
            resting, taker = (pid, second) if k % 2 == 0 else (second, pid)
            sim = self.sim
            self._n, oid = _cross(self._out, self._n, self._ts, self._u[self._n], i, side,
                                  np.int64(ticks), np.int64(lots), sim._book, sim._sim)  # fmt: skip
            oid = int(oid)
            self._order_owner[(i, oid)] = resting
            self._trade_aggressor[(i, int(self._out["seq"][self._n - 1]))] = taker
            self._keys_dirty = True
            self._label(i, oid, resting, day, typology)
            if k < c.wash_trades - 1:
                yield int(c.wash_gap_ms * 1e6)

    def _mark_close(self, typology: Typology, pid: int, _s2: int, i: int, s: int, day: int):
        c = self.config
        buy = s == BID
        end = self._day_start(day + 1)
        gap = int(c.close_window_s * 1e9) // c.close_orders
        # the ordinary volume expected in the window: the instrument's traded lots per
        # second so far today (observed), times the window
        day_s = max((self._ts - self._day_start(day)) / 1e9, 1.0)
        window_lots = (self._traded[i] - self._traded_at_open[i]) / day_s * c.close_window_s
        lots = max(round(c.close_volume_share * window_lots / c.close_orders), 1)
        yield gap // 2
        for k in range(c.close_orders):
            self._take(pid, i, buy, lots, 2**62 if buy else 1, True, (day, typology))
            if k < c.close_orders - 1:
                yield min(gap, max(end - self._ts - 10**8, 1))

    def _ignite(self, typology: Typology, pid: int, _s2: int, i: int, s: int, day: int):
        c = self.config
        buy = s == BID
        lots = max(round(self._trade_lots(i)), 1)
        total = 0
        for k in range(c.ignition_orders):
            total += self._take(pid, i, buy, lots, 2**62 if buy else 1, True, (day, typology))
            if k < c.ignition_orders - 1:
                yield int(c.ignition_gap_ms * 1e6)
        yield int(c.ignition_reverse_ms * 1e6)
        self._take(pid, i, not buy, max(total, 1), 1 if buy else 2**62, False, (day, typology))

    # ------------------------------------------------------------------ audit and labels
    def audit(self, events: np.ndarray) -> np.ndarray:
        """The audit records of ``events`` (ORDER_AUDIT_DTYPE, aligned 1:1)."""
        out = audit_from_events(events)
        pid, cpid = out["participant_id"], out["contra_participant_id"]
        c = self.config
        _honest_owners(
            events["instrument_id"], events["kind"], events["order_id"], events["seq"],
            c.seed, self.n_mm, self.n_noise, c.market_maker_share, c.arbitrageur_share,
            np.int32(self.arbitrageur), pid, cpid,
        )  # fmt: skip
        if self._order_owner or self._trade_aggressor:
            self._override(events, pid, cpid)
        has = pid != NO_PARTICIPANT
        out["owner_id"][has] = self.owner[pid[has]]
        has = cpid != NO_PARTICIPANT
        out["contra_owner_id"][has] = self.owner[cpid[has]]
        return out

    def outside_trades(self, events: np.ndarray) -> None:
        """Record ``events`` (trades of an outside order) as the outside participant's."""
        for ev in events:
            self._trade_aggressor[(int(ev["instrument_id"]), int(ev["seq"]))] = self.outside
        self._keys_dirty = True

    def _override(self, events: np.ndarray, pid: np.ndarray, cpid: np.ndarray) -> None:
        if self._keys_dirty:
            self._okeys, self._oval = _keyed(self._order_owner)
            self._tkeys, self._tval = _keyed(self._trade_aggressor)
            self._keys_dirty = False
        inst = events["instrument_id"].astype(np.uint64) << np.uint64(40)
        for keys, val, target, col in (
            (self._okeys, self._oval, pid, events["order_id"]),
            (self._tkeys, self._tval, cpid, events["seq"]),
        ):
            if len(keys) == 0:
                continue
            k = inst | col.astype(np.uint64)
            j = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
            hit = (keys[j] == k) & (events["order_id"] != 0)
            if target is cpid:
                hit &= events["kind"] == EventKind.TRADE
            target[hit] = val[j[hit]]

    def order_labels(self) -> np.ndarray:
        """Ground truth per manipulative order (ORDER_LABEL_DTYPE)."""
        out = np.zeros(len(self._labels), dtype=ORDER_LABEL_DTYPE)
        if self._labels:
            cols = np.array(self._labels, dtype=np.int64)
            for k, name in enumerate(ORDER_LABEL_DTYPE.names):
                out[name] = cols[:, k]
        return out

    def day_labels(self, until_ns: int) -> np.ndarray:
        """Ground truth per (participant, day, typology) for the days begun before
        ``until_ns`` whose episodes have started (DAY_LABEL_DTYPE)."""
        last_day = (until_ns - self.sim.start_ns) // self._session_ns
        rows = sorted((p, d, t, n) for (p, d, t), n in self._episodes.items() if d <= last_day)
        out = np.zeros(len(rows), dtype=DAY_LABEL_DTYPE)
        if rows:
            cols = np.array(rows, dtype=np.int64)
            for k, name in enumerate(DAY_LABEL_DTYPE.names):
                out[name] = cols[:, k]
        return out

    def participants(self) -> list[dict[str, Any]]:
        """Every account: ``participant_id``, ``owner_id``, ``role`` and, for a
        manipulator, its ``typology`` (ground truth, not known to a detector)."""
        return [
            {"participant_id": p, "owner_id": int(self.owner[p]), "role": role,
             "typology": t.name.lower() if t is not Typology.NONE else ""}
            for p, (role, t) in enumerate(self.roles)
        ]  # fmt: skip


def _keyed(mapping: dict[tuple[int, int], int]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted uint64 keys ``instrument << 40 | id`` and their values."""
    if not mapping:
        return np.empty(0, np.uint64), np.empty(0, np.int32)
    items = np.array([(i, x, v) for (i, x), v in mapping.items()], dtype=np.uint64)
    keys = (items[:, 0] << np.uint64(40)) | items[:, 1]
    order = np.argsort(keys)
    return keys[order], items[order, 2].astype(np.int32)
