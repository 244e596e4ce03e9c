"""Market-abuse detectors over the L3 order stream and its audit trail, in numba, incremental.

:class:`AbuseDetector` reads event batches (:data:`~riskstream.core.events.EVENT_DTYPE`)
with their order audit trail (:data:`~riskstream.core.audit.ORDER_AUDIT_DTYPE`, aligned 1:1:
who owns each order, who took it) as they arrive, keeps its state between batches, and
raises alerts (:data:`ALERT_DTYPE`) with their evidence: the orders (ids), the times, and the
book around them (the top :data:`DEPTH` levels of both sides when the alert is raised, from
md's L3 book kernels, :mod:`riskstream.md.books`). Every threshold is an
:class:`AbuseConfig` field, fixed from the reasoning given there, never from a test set.

The detectors, and the definitions they follow:

* **Order-to-trade and cancel ratios, time-to-cancel near the touch** (ESMA, MAR
  guidelines on indicators, ESMA70-145-111, and MiFID II RTS 9's order-to-trade ratio):
  per participant — orders entered, cancelled, modified and executed, and the time to
  cancel of orders entered at or one tick from the touch (:meth:`AbuseDetector.
  participant_stats`). They describe the population; they raise no alert on their own,
  since honest market makers cancel most of what they quote.
* **Spoofing and layering** (CFTC, 7 U.S.C. 6c(a)(5)(C) and its 2013 interpretive guidance:
  "bidding or offering with the intent to cancel before execution"; MAR Annex I A(a),(c)):
  a participant cancels a *large* resting order (``large_mult`` x the instrument's running
  mean order size) that lived at most ``max_life_s``, within ``exec_window_s`` after an
  execution of its own on the *opposite* side of the same instrument while the order
  rested. Qualifying cancels of a participant within ``group_s`` of each other form one
  alert: *layering* when they sat on ``layering_levels`` or more price levels, else
  *spoofing*.
* **Wash trades** — self-match detection (SEC, Securities Exchange Act 9(a)(1): a trade
  "which involves no change in beneficial ownership"; CEA 4c(a)): a trade whose resting
  and aggressing accounts have the same beneficial owner. One accidental self-match is what
  venues' self-match prevention exists for; ``wash_min_trades`` of them in one instrument
  within ``wash_window_s`` is a pattern and raises an alert.
* **Marking the close** — end-of-day price impact (MAR Annex I A(b) and ESMA's indicator
  "orders ... executed at or near a reference time"): over the last ``close_window_s`` of
  each day, a participant whose aggressive volume is at least ``close_share`` of the
  instrument's volume (below), at least ``close_direction`` one way, while the
  closing price (the day's last trade) moved at least ``close_move_spreads`` spreads that
  way from the last trade before the window, with at least ``close_min_orders`` orders.
  The share is the participant's *participation*:
  its aggressive volume over the instrument's volume from its first order in the window to
  the close.
* **Momentum ignition** (SEC Concept Release on Equity Market Structure, 2010, III.B.3;
  ESMA's indicator of orders "to start or exacerbate a trend"): ``ignition_orders`` or more
  aggressive orders of one participant in one direction, each within ``ignition_gap_s`` of
  the last, moving the price at least ``ignition_move_spreads`` spreads, then a trade of the
  same participant on the other side within ``ignition_reverse_s``.

A *day* is ``session_s`` of market time from ``day0_ns``. State is per participant (arrays
that grow with the largest id seen) and per instrument; a participant's burst or its group of
cancels are followed in one instrument at a time (a manipulator working two instruments at
the same instant is seen in one of them at best); an owner's self-matches in up to
:data:`WASH_SLOTS` instruments at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numba import njit, types
from numba.typed import Dict

from riskstream.core.audit import ORDER_AUDIT_DTYPE, TYPOLOGY_NAMES, Typology
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, PRICE_SCALE
from riskstream.md import books as bk
from riskstream.surveillance.config import AbuseConfig

DEPTH = 5
"""Book levels per side kept as the evidence of an alert."""

MAX_EVIDENCE = 8
"""Order ids kept per alert (the first ones of the pattern)."""

WASH_SLOTS = 4
"""Instruments in which one beneficial owner's self-matches are counted at the same time."""

CLOSE_CAPACITY = 1 << 16
"""Aggressive trades of one closing window kept for the marking-the-close test."""


ALERT_DTYPE = np.dtype(
    [
        ("typology", np.uint8),
        ("participant_id", np.int32),
        ("owner_id", np.int32),
        ("instrument_id", np.int32),
        ("day", np.int32),
        ("ts_start", np.int64),  # first event of the pattern (ns)
        ("ts_alert", np.int64),  # event that completed it (ns)
        ("value", np.float64),  # the pattern's measure (see AbuseDetector.alerts)
        ("n_orders", np.int32),
        ("order_ids", np.uint64, (MAX_EVIDENCE,)),
        ("bid_px", np.float64, (DEPTH,)),
        ("bid_sz", np.float64, (DEPTH,)),
        ("ask_px", np.float64, (DEPTH,)),
        ("ask_sz", np.float64, (DEPTH,)),
    ]
)
"""One alert with its evidence; prices in the quote currency (decimal), NaN where the book
has no level."""

_SPOOF, _LAYER, _WASH = int(Typology.SPOOFING), int(Typology.LAYERING), int(Typology.WASH_TRADE)
_CLOSE, _IGNITE = int(Typology.MARKING_CLOSE), int(Typology.MOMENTUM_IGNITION)
_ADD, _MODIFY, _CANCEL, _TRADE, _SNAP = 1, 2, 3, 4, 7
N_STATS = 8
(S_ADD, S_CANCEL, S_MODIFY, S_PASSIVE, S_AGGRESSIVE, S_TOUCH_CANCEL, S_TOUCH_TTC_NS,
 S_LARGE_CANCEL) = range(N_STATS)  # fmt: skip
STAT_NAMES = (
    "orders", "cancels", "modifies", "passive_fills", "aggressive_fills", "near_touch_cancels",
    "near_touch_ttc_ns", "large_cancels",
)  # fmt: skip


# --------------------------------------------------------------------------- the kernel
@njit(cache=True)
def _emit_alert(al, a_i, a_ids, a_book, na, typ, pid, owner, inst, day, t0, t1, value, ids,
                n_ids, snap):  # fmt: skip
    """Write one alert at row ``na`` (``snap``: the book evidence, (4, DEPTH))."""
    if na >= al.shape[0]:
        return na + 1  # no room: counted, and reported as dropped by the caller
    al[na, 0] = typ
    al[na, 1] = pid
    al[na, 2] = owner
    al[na, 3] = inst
    al[na, 4] = day
    al[na, 5] = n_ids
    a_i[na, 0] = t0
    a_i[na, 1] = t1
    a_book[na, 4, 0] = value
    for k in range(MAX_EVIDENCE):
        a_ids[na, k] = ids[k] if k < n_ids else 0
    for r in range(4):
        for k in range(DEPTH):
            a_book[na, r, k] = snap[r, k]
    return na + 1


@njit(cache=True)
def _snap(lv, lv_cnt, inst, snap):
    """The top DEPTH levels of both sides now: rows bid price, bid size, ask price, ask size
    (price 0 and size NaN where the book has no level)."""
    for s in range(2):
        cnt = lv_cnt[inst, s]
        for k in range(DEPTH):
            if k < cnt:
                snap[2 * s, k] = lv[inst, s, cnt - 1 - k].px
                snap[2 * s + 1, k] = lv[inst, s, cnt - 1 - k].sz
            else:
                snap[2 * s, k] = 0.0
                snap[2 * s + 1, k] = np.nan
    return snap


@njit(cache=True)
def _best(lv, lv_cnt, inst, s):
    cnt = lv_cnt[inst, s]
    return lv[inst, s, cnt - 1].px if cnt > 0 else 0


@njit(cache=True)
def _close_day(cl, ncl, day, inst_last_px, pre_px, spread, p_owner, prm, al, a_i, a_ids,
               a_book, na, lv, lv_cnt, scratch):  # fmt: skip
    """Marking the close: test every (instrument, participant) of the closing window."""
    share_min, dir_min, move_min, min_orders = prm[0], prm[1], prm[2], int(prm[3])
    n_inst = inst_last_px.shape[0]
    done = np.zeros(ncl, dtype=np.bool_)
    ids = np.zeros(MAX_EVIDENCE, dtype=np.uint64)
    for k in range(ncl):
        if done[k]:
            continue
        inst, pid = int(cl[k, 0]), int(cl[k, 1])
        net = 0.0
        gross = 0.0
        n_ids = 0
        n_orders = 0
        t0 = np.int64(cl[k, 3])
        t1 = t0
        for j in range(k, ncl):
            if int(cl[j, 0]) == inst and int(cl[j, 1]) == pid:
                done[j] = True
                net += cl[j, 2]
                gross += abs(cl[j, 2])
                if j == k or np.int64(cl[j, 3]) != t1:
                    n_orders += 1  # fills of one order share its time
                t1 = np.int64(cl[j, 3])
                if n_ids < MAX_EVIDENCE:
                    ids[n_ids] = np.uint64(cl[j, 4])
                    n_ids += 1
        # participation: its share of the instrument's volume from its first closing order on
        # (a closer active only in the last seconds is not diluted by the window's length)
        vol = 0.0
        for j in range(ncl):
            if int(cl[j, 0]) == inst and np.int64(cl[j, 3]) >= t0:
                vol += abs(cl[j, 2])
        if inst >= n_inst or pre_px[inst] == 0 or vol <= 0.0 or spread[inst] <= 0.0:
            continue
        direction = 1.0 if net > 0 else -1.0
        move = (inst_last_px[inst] - pre_px[inst]) * direction / spread[inst]
        if (
            n_orders >= min_orders
            and gross / vol >= share_min
            and abs(net) / gross >= dir_min
            and move >= move_min
        ):
            snap = _snap(lv, lv_cnt, inst, np.zeros((4, DEPTH)))
            na = _emit_alert(al, a_i, a_ids, a_book, na, _CLOSE, pid, p_owner[pid], inst, day,
                             t0, t1, move, ids, n_ids, snap)  # fmt: skip
    return na


@njit(cache=True)
def _scan(ev, au, books, otab, oslots, free, nfree, inst_st, part, wash_st, ig_st, acc_st,
          close_st, cl, prm, p_owner, al, a_i, a_ids, a_book, clock):  # fmt: skip
    """One batch through every detector; the alerts written from ``clock[1]`` on."""
    o, epoch, n_orders, lv, lv_cnt, counters = books
    o_ts, o_pid, o_px, o_size, o_flag = oslots
    mean_sz, last_px, pre_px, spread, n_seen = inst_st
    stats, exec_ts, exec_inst = part
    w_n, w_t0, w_inst, w_net, w_ids = wash_st
    ig_inst, ig_dir, ig_n, ig_t0, ig_last, ig_px0, ig_armed, ig_ids, ig_lastord = ig_st
    ac_n, ac_t0, ac_last, ac_inst, ac_ok, ac_px, ac_ids, sp_day, sp_large, sp_qual, ac_book = acc_st
    (large_mult, alpha, exec_w, max_life, group, layer_lv, wash_min, wash_w, close_w,
     session, day0, ig_min, ig_gap, ig_move, ig_rev) = (
        prm[0], prm[1], np.int64(prm[2]), np.int64(prm[3]), np.int64(prm[4]), int(prm[5]),
        int(prm[6]), np.int64(prm[7]), np.int64(prm[8]), np.int64(prm[9]), np.int64(prm[10]),
        int(prm[11]), np.int64(prm[12]), prm[13], np.int64(prm[14]),
    )  # fmt: skip
    close_prm = prm[15:19]
    spoof_share = prm[19]
    day = clock[0]
    na = clock[1]
    ncl = close_st[0]
    scratch = np.zeros(mean_sz.shape[0])
    ids = np.zeros(MAX_EVIDENCE, dtype=np.uint64)
    snap = np.zeros((4, DEPTH))
    for k in range(ev.shape[0]):
        e = ev[k]
        a = au[k]
        ts = e.ts_event
        inst = e.instrument_id
        kind = e.kind
        d = (ts - day0) // session
        if d > day:
            # the day closed: test the closing window, then start the new day
            if day >= 0:
                na = _close_day(cl, ncl, day, last_px, pre_px, spread, p_owner, close_prm,
                                al, a_i, a_ids, a_book, na, lv, lv_cnt, scratch)  # fmt: skip
            ncl = 0
            pre_px[:] = 0
            day = d
        in_close = ts >= day0 + (day + 1) * session - close_w
        pid = a.participant_id
        s = 0 if e.side > 0 else 1
        best_same = _best(lv, lv_cnt, inst, s) if kind == _ADD else 0
        # keep md's view of the book (trust mode: applied as the venue sent it)
        bk.apply_book_event(o, epoch, n_orders, lv, lv_cnt, counters, inst, e.source, kind,
                            e.side, e.price, e.size, e.order_id, False)  # fmt: skip
        if lv_cnt[inst, 0] > 0 and lv_cnt[inst, 1] > 0:
            sp = float(_best(lv, lv_cnt, inst, 1) - _best(lv, lv_cnt, inst, 0))
            if sp > 0:
                spread[inst] = (
                    sp if spread[inst] == 0 else spread[inst] + 0.01 * (sp - spread[inst])
                )
        if pid < 0:
            continue
        key = (np.int64(inst) << 40) | np.int64(e.order_id)
        if kind == _ADD:
            n_seen[inst] += 1
            mean_sz[inst] += (e.size - mean_sz[inst]) * max(alpha, 1.0 / n_seen[inst])
            stats[pid, S_ADD] += 1
            if nfree[0] > 0:
                nfree[0] -= 1
                j = free[nfree[0]]
                otab[key] = j
                o_ts[j] = ts
                o_pid[j] = pid
                o_px[j] = e.price
                o_size[j] = e.size
                flag = 0
                if e.size >= large_mult * mean_sz[inst]:
                    flag |= 1
                if (
                    best_same == 0
                    or (s == 0 and e.price >= best_same)
                    or (s == 1 and e.price <= best_same)
                ):
                    flag |= 2  # at or better than the touch
                o_flag[j] = flag
        elif kind == _MODIFY:
            stats[pid, S_MODIFY] += 1
            if key in otab:
                j = otab[key]
                o_px[j] = e.price
                o_size[j] = e.size
        elif kind == _CANCEL:
            stats[pid, S_CANCEL] += 1
            if key in otab:
                j = otab[key]
                life = ts - o_ts[j]
                if o_flag[j] & 2:
                    stats[pid, S_TOUCH_CANCEL] += 1
                    stats[pid, S_TOUCH_TTC_NS] += life
                if o_flag[j] & 1:
                    stats[pid, S_LARGE_CANCEL] += 1
                    if sp_day[pid] != day:
                        sp_day[pid] = day
                        sp_large[pid] = 0
                        sp_qual[pid] = 0
                    sp_large[pid] += 1
                    # spoofing / layering: an opposite execution while it rested, lately
                    opp = 1 - s  # own execution direction opposite to the order's side
                    te = exec_ts[pid, opp]
                    if (life <= max_life and exec_inst[pid, opp] == inst and te >= o_ts[j]
                            and ts - te <= exec_w):  # fmt: skip
                        if ac_n[pid] > 0 and (ts - ac_last[pid] > group or ac_inst[pid] != inst):
                            na = _flush_acc(pid, acc_st, layer_lv, p_owner, day0,
                                            session, al, a_i, a_ids, a_book, na)  # fmt: skip
                        sp_qual[pid] += 1
                        c = ac_n[pid]
                        if c == 0:
                            ac_t0[pid] = o_ts[j]
                            ac_inst[pid] = inst
                        if c < MAX_EVIDENCE:
                            ac_ids[pid, c] = e.order_id
                            ac_px[pid, c] = o_px[j]
                        ac_n[pid] = c + 1
                        ac_last[pid] = ts
                        # the share as of this cancel (so the verdict is the same whatever
                        # the batches: it does not depend on when the group is flushed)
                        ac_ok[pid] = 1 if sp_qual[pid] >= spoof_share * sp_large[pid] else 0
                        _snap(lv, lv_cnt, inst, ac_book[pid])  # the book after this cancel
                otab.pop(key)
                free[nfree[0]] = j
                nfree[0] += 1
        elif kind == _TRADE:
            cp = a.contra_participant_id
            stats[pid, S_PASSIVE] += 1
            last_px[inst] = e.price
            if not in_close:
                pre_px[inst] = e.price  # the last trade before the closing window
            # the resting order's owner traded on its order's side (bought if a bid)
            exec_ts[pid, s] = ts
            exec_inst[pid, s] = inst
            if e.size > 0 and key in otab:
                j = otab[key]
                o_size[j] -= e.size
                if o_size[j] <= 1e-12:
                    otab.pop(key)
                    free[nfree[0]] = j
                    nfree[0] += 1
            if cp < 0:
                continue
            stats[cp, S_AGGRESSIVE] += 1
            adir = 1 - s  # the aggressor's own direction index (0 bought, 1 sold)
            exec_ts[cp, adir] = ts
            exec_inst[cp, adir] = inst
            signed = e.size if adir == 0 else -e.size
            if in_close and ncl < cl.shape[0]:
                cl[ncl, 0] = inst
                cl[ncl, 1] = cp
                cl[ncl, 2] = signed
                cl[ncl, 3] = ts
                cl[ncl, 4] = e.order_id
                ncl += 1
            # wash trades: the same beneficial owner on both sides; an owner's self-matches
            # are counted per instrument, in up to WASH_SLOTS instruments at once
            ow = a.owner_id
            if ow >= 0 and ow == a.contra_owner_id:
                q = -1
                for r in range(WASH_SLOTS):  # this instrument's slot, else a free or the oldest
                    if w_n[ow, r] > 0 and w_inst[ow, r] == inst:
                        q = r
                        break
                if q >= 0 and ts - w_t0[ow, q] > wash_w:
                    w_n[ow, q] = 0  # the window passed: count again from this trade
                if q < 0:
                    q = 0
                    for r in range(WASH_SLOTS):
                        if w_n[ow, r] == 0:
                            q = r
                            break
                        if w_t0[ow, r] < w_t0[ow, q]:
                            q = r
                    w_n[ow, q] = 0
                c = w_n[ow, q]
                if c == 0:
                    w_t0[ow, q] = ts
                    w_inst[ow, q] = inst
                    w_net[ow, q] = 0.0
                if c < MAX_EVIDENCE:
                    w_ids[ow, q, c] = e.order_id
                w_net[ow, q] += signed
                w_n[ow, q] = c + 1
                if c + 1 == wash_min:
                    n_ids = min(c + 1, MAX_EVIDENCE)
                    for r in range(MAX_EVIDENCE):
                        ids[r] = w_ids[ow, q, r]
                    _snap(lv, lv_cnt, inst, snap)
                    t0 = w_t0[ow, q]
                    na = _emit_alert(al, a_i, a_ids, a_book, na, _WASH, pid, ow, inst, day,
                                     t0, ts, float(c + 1), ids, n_ids, snap)  # fmt: skip
                    if cp != pid:  # two accounts of one owner: both are alerted
                        na = _emit_alert(al, a_i, a_ids, a_book, na, _WASH, cp, ow, inst, day,
                                         t0, ts, float(c + 1), ids, n_ids, snap)  # fmt: skip
            # momentum ignition: a burst of aggressive orders one way, then the other way
            if ig_armed[cp] > 0:
                if ts - ig_armed[cp] > ig_rev:
                    ig_armed[cp] = 0  # no reversal in time: the burst was just a trade
                    ig_n[cp] = 0
                elif ig_inst[cp] == inst and ig_dir[cp] != adir:
                    n_ids = min(ig_n[cp], MAX_EVIDENCE)
                    for q in range(MAX_EVIDENCE):
                        ids[q] = ig_ids[cp, q]
                    mv = abs(ig_last[cp] - ig_px0[cp]) / max(spread[inst], 1.0)
                    na = _emit_alert(al, a_i, a_ids, a_book, na, _IGNITE, cp, p_owner[cp], inst,
                                     day, ig_t0[cp], ts, mv, ids, n_ids,
                                     _snap(lv, lv_cnt, inst, snap))  # fmt: skip
                    ig_armed[cp] = 0
                    ig_n[cp] = 0
                    continue
                else:
                    continue
            same_order = ts == ig_lastord[cp] and ig_inst[cp] == inst and ig_dir[cp] == adir
            if not same_order:  # a new aggressive order of this participant
                if ig_n[cp] > 0 and (ig_inst[cp] != inst or ig_dir[cp] != adir
                                     or ts - ig_lastord[cp] > ig_gap):  # fmt: skip
                    ig_n[cp] = 0
                if ig_n[cp] == 0:
                    ig_inst[cp] = inst
                    ig_dir[cp] = adir
                    ig_t0[cp] = ts
                    ig_px0[cp] = e.price
                c = ig_n[cp]
                if c < MAX_EVIDENCE:
                    ig_ids[cp, c] = e.order_id
                ig_n[cp] = c + 1
                ig_lastord[cp] = ts
            ig_last[cp] = e.price
            if ig_n[cp] >= ig_min and spread[inst] > 0:
                mv = (e.price - ig_px0[cp]) * (1.0 if adir == 0 else -1.0)
                if mv >= ig_move * spread[inst]:
                    ig_armed[cp] = ts
    # cancels grouped into an episode are raised once the group is over
    last_ts = ev[ev.shape[0] - 1].ts_event if ev.shape[0] else 0
    for p in range(ac_n.shape[0]):
        if ac_n[p] > 0 and last_ts - ac_last[p] > group:
            na = _flush_acc(p, acc_st, layer_lv, p_owner, day0, session, al, a_i,
                            a_ids, a_book, na)  # fmt: skip
    clock[0] = day
    clock[1] = na
    close_st[0] = ncl
    return na


@njit(cache=True)
def _flush_acc(p, acc_st, layer_lv, p_owner, day0, session, al, a_i, a_ids,
               a_book, na):  # fmt: skip
    ac_n, ac_t0, ac_last, ac_inst, ac_ok, ac_px, ac_ids = acc_st[:7]
    ac_book = acc_st[10]
    c = ac_n[p]
    if ac_ok[p] == 0:
        ac_n[p] = 0  # its large cancels follow its fills no more often than by chance
        return na
    m = min(c, MAX_EVIDENCE)
    levels = 0
    for q in range(m):
        seen = False
        for r in range(q):
            if ac_px[p, r] == ac_px[p, q]:
                seen = True
        if not seen:
            levels += 1
    typ = _LAYER if levels >= layer_lv else _SPOOF
    ids = np.zeros(MAX_EVIDENCE, dtype=np.uint64)
    for q in range(m):
        ids[q] = ac_ids[p, q]
    day = (ac_t0[p] - day0) // session
    na = _emit_alert(al, a_i, a_ids, a_book, na, typ, p, p_owner[p], ac_inst[p], day,
                     ac_t0[p], ac_last[p], float(levels), ids, m, ac_book[p])  # fmt: skip
    ac_n[p] = 0
    return na


# --------------------------------------------------------------------------- the detector


@dataclass(frozen=True)
class ScanResult:
    """Alerts of a scan and the participants' statistics (see :class:`AbuseDetector`)."""

    alerts: np.ndarray
    stats: pl.DataFrame
    events: int


class AbuseDetector:
    """The market-abuse detectors (module docstring), run batch after batch.

    Parameters
    ----------
    n_instruments : int
        Instrument ids are ``0 .. n_instruments-1``.
    config : AbuseConfig, optional

    Examples
    --------
    >>> det = AbuseDetector(len(universe), AbuseConfig(session_s=300, day0_ns=sim.start_ns))
    >>> for events, _ in sim.batches(600):
    ...     alerts = det.update(events, sim.audit(events))
    >>> alerts = det.flush()
    """

    def __init__(self, n_instruments: int, config: AbuseConfig | None = None):
        self.config = c = config or AbuseConfig()
        if n_instruments < 1:
            raise InputError("n_instruments", n_instruments, "at least 1")
        self.n = n = int(n_instruments)
        self.books = bk.new_book_arrays(n, c.max_book_levels, max(1 << 16, 64 * n))
        self._cap = 0
        self.otab = Dict.empty(key_type=types.int64, value_type=types.int64)
        self._grow_orders(1 << 14)
        self.inst_st = (np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n),
                        np.zeros(n, np.int64))  # fmt: skip
        self._np = 0
        self._grow_participants(64)
        self.close_st = np.zeros(1, np.int64)
        self.cl = np.zeros((CLOSE_CAPACITY, 5))
        self.clock = np.array([-1, 0], dtype=np.int64)  # current day, alerts written
        self._alerts = self._new_alert_buffers(1024)
        self.events = 0
        self.alerts_dropped = 0  # alerts that found no room (see _count_dropped)
        self.days_seen = 0  # days the data reached (day 0 .. days_seen - 1)
        self.participants_seen = 0  # largest participant or owner id seen, plus one
        self._day0 = c.day0_ns or None
        self._owner = np.full(64, -1, np.int32)

    # ------------------------------------------------------------------ state growth
    def _grow_orders(self, cap: int) -> None:
        old = self._cap
        if cap <= old:
            return
        slots = [np.zeros(cap, np.int64), np.zeros(cap, np.int32), np.zeros(cap, np.int64),
                 np.zeros(cap), np.zeros(cap, np.uint8)]  # fmt: skip
        if old:
            for new, prev in zip(slots, self.oslots, strict=True):
                new[:old] = prev
            free = np.zeros(cap, np.int64)
            nf = int(self.nfree[0])
            free[:nf] = self.free[:nf]
            free[nf : nf + cap - old] = np.arange(old, cap)
            self.nfree = np.array([nf + cap - old], np.int64)
        else:
            free = np.arange(cap, dtype=np.int64)[::-1].copy()
            self.nfree = np.array([cap], np.int64)
        self.oslots = tuple(slots)
        self.free = free
        self._cap = cap

    def _grow_participants(self, n_p: int) -> None:
        if n_p <= self._np:
            return
        n_p = max(n_p, 2 * self._np)
        old = self._np

        def grow(a: np.ndarray, fill: float = 0) -> np.ndarray:
            out = np.full((n_p, *a.shape[1:]), fill, dtype=a.dtype)
            out[:old] = a[:old]
            return out

        z = lambda *shape, dt=np.int64: np.zeros((0, *shape), dt)  # noqa: E731
        if old == 0:
            self.part = (z(N_STATS), z(2), z(2, dt=np.int32))
            self.wash_st = (
                z(WASH_SLOTS),
                z(WASH_SLOTS),
                z(WASH_SLOTS, dt=np.int32),
                z(WASH_SLOTS, dt=np.float64),
                z(WASH_SLOTS, MAX_EVIDENCE, dt=np.uint64),
            )
            self.ig_st = (z(dt=np.int32), z(dt=np.int32), z(dt=np.int32), z(), z(dt=np.float64),
                          z(dt=np.float64), z(), z(MAX_EVIDENCE, dt=np.uint64), z())  # fmt: skip
            self.acc_st = (z(dt=np.int32), z(), z(), z(dt=np.int32), z(), z(MAX_EVIDENCE),
                           z(MAX_EVIDENCE, dt=np.uint64), z(), z(), z(),
                           z(4, DEPTH, dt=np.float64))  # fmt: skip
        self.part = (grow(self.part[0]), grow(self.part[1], -(2**62)), grow(self.part[2], -1))
        self.wash_st = tuple(grow(a) for a in self.wash_st)
        self.ig_st = tuple(grow(a) for a in self.ig_st)
        self.acc_st = tuple(grow(a) for a in self.acc_st)
        self._np = n_p

    def _new_alert_buffers(self, n: int) -> tuple[np.ndarray, ...]:
        return (np.zeros((n, 6), np.int32), np.zeros((n, 2), np.int64),
                np.zeros((n, MAX_EVIDENCE), np.uint64), np.zeros((n, 5, DEPTH)))  # fmt: skip

    # ------------------------------------------------------------------ running
    def _params(self) -> np.ndarray:
        c = self.config
        alpha = 1.0 - 0.5 ** (1.0 / c.mean_size_halflife)
        return np.array([
            c.large_mult, alpha, c.exec_window_s * 1e9, c.max_life_s * 1e9, c.group_s * 1e9,
            c.layering_levels, c.wash_min_trades, c.wash_window_s * 1e9, c.close_window_s * 1e9,
            round(c.session_s * 1e9), float(self._day0 or 0), c.ignition_orders,
            c.ignition_gap_s * 1e9, c.ignition_move_spreads, c.ignition_reverse_s * 1e9,
            c.close_share, c.close_direction, c.close_move_spreads, c.close_min_orders,
            c.spoof_share,
        ])  # fmt: skip

    def update(self, events: np.ndarray, audit: np.ndarray) -> np.ndarray:
        """Run one batch (``events`` with its aligned ``audit``); the alerts it raised
        (ALERT_DTYPE)."""
        if events.dtype != EVENT_DTYPE:
            raise InputError("events", str(events.dtype), "an EVENT_DTYPE array")
        if audit.dtype != ORDER_AUDIT_DTYPE or len(audit) != len(events):
            raise InputError(
                "audit", f"{audit.dtype} x {len(audit)}",
                f"ORDER_AUDIT_DTYPE records aligned with the {len(events)} events",
            )  # fmt: skip
        if len(events) == 0:
            return np.zeros(0, ALERT_DTYPE)
        bad = (events["instrument_id"] < 0) | (events["instrument_id"] >= self.n)
        if bad.any():
            raise InputError("instrument_id", int(events["instrument_id"][bad][0]),
                             f"an id in 0..{self.n - 1}")  # fmt: skip
        if self._day0 is None:
            self._day0 = int(events["ts_event"][0])
        top = int(max(audit["participant_id"].max(), audit["contra_participant_id"].max(),
                      audit["owner_id"].max(), audit["contra_owner_id"].max()))  # fmt: skip
        self._grow_participants(top + 1)
        self.participants_seen = max(self.participants_seen, top + 1)
        if len(self._owner) < self._np:
            self._owner = np.concatenate([self._owner, np.full(self._np - len(self._owner), -1,
                                                               np.int32)])  # fmt: skip
        for col, ocol in (("participant_id", "owner_id"),
                          ("contra_participant_id", "contra_owner_id")):  # fmt: skip
            has = audit[col] >= 0
            self._owner[audit[col][has]] = audit[ocol][has]
        adds = int(np.count_nonzero(np.isin(events["kind"], (_ADD, _SNAP))))
        if int(self.nfree[0]) < adds:
            self._grow_orders(2 * self._cap + adds)
        self._reserve_book(adds)
        start = int(self.clock[1])
        self._reserve_alerts(start + len(events) // 4 + 1024)
        al, a_i, a_ids, a_book = self._alerts
        _scan(events, audit, tuple(self.books[:6]), self.otab, self.oslots, self.free, self.nfree,
              self.inst_st, self.part, self.wash_st, self.ig_st, self.acc_st, self.close_st,
              self.cl, self._params(), self._owner, al, a_i, a_ids, a_book, self.clock)  # fmt: skip
        self._count_dropped()
        self.events += len(events)
        self.days_seen = int(self.clock[0]) + 1
        return self._collect(start)

    def _reserve_alerts(self, need: int) -> None:
        start = int(self.clock[1])
        if self._alerts[0].shape[0] < need:
            grown = self._new_alert_buffers(2 * need)
            for new, old in zip(grown, self._alerts, strict=True):
                new[:start] = old[:start]
            self._alerts = grown

    def _count_dropped(self) -> None:
        """Alerts beyond the buffer (more than a quarter of a batch's events, plus 1,024)
        are not kept: counted in :attr:`alerts_dropped`, never silently."""
        cap = self._alerts[0].shape[0]
        if self.clock[1] > cap:
            self.alerts_dropped += int(self.clock[1]) - cap
            self.clock[1] = cap

    def _reserve_book(self, adds: int) -> None:
        b = self.books
        cap = len(b.orders)
        if b.counters[bk.USED] + adds <= bk.MAX_LOAD * cap:
            return
        new = bk.new_order_table(2 * cap + 4 * adds)
        b.counters[bk.USED] = 0
        bk._rehash(b.orders, b.epoch, new, b.counters)
        self.books = b._replace(orders=new)

    def flush(self) -> np.ndarray:
        """End of the data: raise the cancel groups still open and test the last day's close
        (when the data reached the close window). The alerts raised."""
        start = int(self.clock[1])
        self._reserve_alerts(start + 1024 + self._np)
        al, a_i, a_ids, a_book = self._alerts
        if self.clock[0] >= 0:
            end = np.zeros(1, EVENT_DTYPE)
            c = self.config
            end["ts_event"] = (self._day0 or 0) + (int(self.clock[0]) + 1) * round(
                c.session_s * 1e9
            )
            end["ts_event"] += 1 + round(c.group_s * 1e9)
            end["kind"] = 0
            aud = np.zeros(1, ORDER_AUDIT_DTYPE)
            aud["participant_id"] = -1
            _scan(end, aud, tuple(self.books[:6]), self.otab, self.oslots, self.free,
                  self.nfree, self.inst_st, self.part, self.wash_st, self.ig_st, self.acc_st,
                  self.close_st, self.cl, self._params(), self._owner, al, a_i, a_ids, a_book,
                  self.clock)  # fmt: skip
            self._count_dropped()
        return self._collect(start)

    def _collect(self, start: int) -> np.ndarray:
        al, a_i, a_ids, a_book = self._alerts
        end = min(int(self.clock[1]), al.shape[0])
        out = np.zeros(end - start, ALERT_DTYPE)
        sl = slice(start, end)
        for k, name in enumerate(("typology", "participant_id", "owner_id", "instrument_id",
                                  "day", "n_orders")):  # fmt: skip
            out[name] = al[sl, k]
        out["ts_start"], out["ts_alert"] = a_i[sl, 0], a_i[sl, 1]
        out["value"] = a_book[sl, 4, 0]
        out["order_ids"] = a_ids[sl]
        for k, name in enumerate(("bid_px", "bid_sz", "ask_px", "ask_sz")):
            out[name] = a_book[sl, k]
        for name in ("bid_px", "ask_px"):
            px = out[name]
            out[name] = np.where(px == 0, np.nan, px / PRICE_SCALE)
        return out

    def alerts(self) -> np.ndarray:
        """Every alert raised so far (ALERT_DTYPE). ``value`` is: the distinct price levels
        of the cancelled orders (spoofing, layering); the self-matches (wash trades); the
        closing move in spreads (marking the close); the burst's move in spreads (momentum
        ignition)."""
        return self._collect(0)

    def participant_stats(self) -> pl.DataFrame:
        """Per participant: orders, cancels, modifies, fills, ``order_to_trade`` (orders per
        fill), ``cancel_ratio`` (cancels per order), and the mean time to cancel of the
        orders entered at or better than the touch (``near_touch_ttc_ms``)."""
        s = self.part[0]
        active = np.flatnonzero(s.sum(axis=1) > 0)
        frame = pl.DataFrame({"participant_id": active.astype(np.int32)} | {
            name: s[active, k] for k, name in enumerate(STAT_NAMES)
        })  # fmt: skip
        fills = pl.col("passive_fills") + pl.col("aggressive_fills")
        return frame.with_columns(
            order_to_trade=pl.col("orders") / pl.max_horizontal(fills, 1),
            cancel_ratio=pl.col("cancels") / pl.max_horizontal(pl.col("orders"), 1),
            near_touch_ttc_ms=pl.col("near_touch_ttc_ns")
            / pl.max_horizontal(pl.col("near_touch_cancels"), 1)
            / 1e6,
        ).drop("near_touch_ttc_ns")


def alerts_frame(alerts: np.ndarray) -> pl.DataFrame:
    """Alerts as a flat table (the CLI's CSV and the API's rows): one row per alert, the
    typology by name, the order ids joined by spaces, the book levels as columns."""
    cols: dict[str, Any] = {
        "typology": [TYPOLOGY_NAMES.get(int(t), "none") for t in alerts["typology"]],
    }
    for name in ("participant_id", "owner_id", "instrument_id", "day", "ts_start", "ts_alert",
                 "value", "n_orders"):  # fmt: skip
        cols[name] = alerts[name]
    cols["order_ids"] = [
        " ".join(str(int(x)) for x in row[: int(n)])
        for row, n in zip(alerts["order_ids"], alerts["n_orders"], strict=True)
    ]
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        for k in range(DEPTH):
            cols[f"{name}_{k + 1}"] = alerts[name][:, k] if len(alerts) else np.zeros(0)
    return pl.DataFrame(cols)
