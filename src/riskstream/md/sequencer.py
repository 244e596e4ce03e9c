"""Sequencing and validation of market events, per (source, instrument), in numba.

The kernels here are compiled by :mod:`riskstream.md._jit`: nopython, no reference
counting, and the GIL released while they run.

Sequence numbers are contiguous per (``source``, ``instrument_id``), starting at 1 (see
:mod:`riskstream.core.events`). For each pair the sequencer keeps the last sequence number
applied and the last gap it saw. An instrument is fed by few sources (its venue, perhaps a
consolidated or backup feed), so the state is a dense ``(n_instruments,
sources_per_instrument)`` array of feed records: a source claims the next free slot of an
instrument when first seen, and a source beyond the instrument's slots is quarantined
(``TOO_MANY_SOURCES``). Per feed:

* ``seq == last + 1``: in order, applied;
* ``seq > last + 1``: a **gap** — the events in between are lost. The event is applied
  (the book goes on with the best information it has) but the instrument's book is marked
  **stale** in :class:`riskstream.core.state.MarketState` until it is recovered;
* ``seq <= last``: inside the recorded gap it is **out of order** (a late arrival that can
  no longer be applied in its place), otherwise a **duplicate**; both are quarantined;
* the first event of a pair sets the baseline (a feed may be joined mid-stream).

A gap is counted, marks the book stale and is reported; it never refuses the events after
it (a replay or a live feed goes on with the best book it has until the next snapshot).

**Recovery.** A ``CLEAR`` flagged ``SNAPSHOT`` or ``REPLAY`` starts a recovery group: the
book is emptied and the baseline is reset to the clear's ``seq`` (accepted while the book is
stale or when it is newer than the last applied event, else it is a duplicate). While the
group lasts, ``SNAPSHOT``-flagged events (the snapshot's orders, which may all carry the
snapshot's as-of ``seq``) are exempt from the sequence check and set the baseline. The
group's event flagged ``LAST_IN_GROUP`` ends it and clears the stale flag. A plain
``CLEAR`` (a venue reset) is sequence-checked and also leaves a known (empty) book, so the
group it starts also clears the flag at its ``LAST_IN_GROUP`` event. This is the snapshot
recovery of e.g. CME MDP 3.0 and Nasdaq ITCH/GLIMPSE, and equally a replay from the
history store that starts with a flagged clear. A recovery clear whose ``seq`` skips
numbers (a websocket client resyncing after a disconnect leaves one out on purpose) is a
gap too: the book is stale until the snapshot's ``LAST_IN_GROUP`` event, which counts the
recovery.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from riskstream.core.events import EventFlag, EventKind
from riskstream.md._jit import kernel
from riskstream.md.reasons import Reason

GAPS, DUPLICATES, OUT_OF_ORDER, RECOVERIES = 0, 1, 2, 3  # counters[...]

FEED_DTYPE = np.dtype(
    [
        ("src", np.int32),  # source id, -1 = free slot
        ("spare", np.int32),
        ("last", np.uint64),  # last applied seq, 0 = none yet
        ("gap_lo", np.uint64),  # first missing seq of the last gap
        ("gap_hi", np.uint64),  # last missing seq of the last gap
    ],
    align=True,
)
"""The sequencing state of one (source, instrument) feed."""

SeqArrays = namedtuple(
    "SeqArrays",
    [
        "feeds",  # FEED_DTYPE (n_instruments, sources_per_instrument)
        "recovering",  # bool (n_instruments,): inside a clear/snapshot recovery group
        "counters",  # int64 (4,): gaps, duplicates, out of order, recoveries
    ],
)


def new_seq_arrays(n_instruments: int, sources_per_instrument: int) -> SeqArrays:
    """Sequencer state for ``n_instruments`` instruments of up to ``sources_per_instrument``
    sources each."""
    feeds = np.zeros((n_instruments, sources_per_instrument), dtype=FEED_DTYPE)
    feeds["src"] = -1
    return SeqArrays(
        feeds=feeds,
        recovering=np.zeros(n_instruments, dtype=np.bool_),
        counters=np.zeros(4, dtype=np.int64),
    )


_ADD, _MODIFY, _CANCEL, _TRADE = 1, 2, 3, 4
_QUOTE, _CLEAR, _SNAPSHOT = int(EventKind.QUOTE), int(EventKind.CLEAR), 7
_F_LAST = int(EventFlag.LAST_IN_GROUP)
_F_SNAPSHOT = int(EventFlag.SNAPSHOT)
_F_RECOVERY = int(EventFlag.SNAPSHOT) | int(EventFlag.REPLAY)
_ZERO = np.uint64(0)
_ONE = np.uint64(1)
_R_BAD_SIDE = int(Reason.BAD_SIDE)
_R_TOO_MANY_SOURCES = int(Reason.TOO_MANY_SOURCES)
_R_DUPLICATE = int(Reason.DUPLICATE)
_R_OUT_OF_ORDER = int(Reason.OUT_OF_ORDER)
_R_PRICE_NOT_POSITIVE = int(Reason.PRICE_NOT_POSITIVE)
_R_SEQ_ZERO = int(Reason.SEQ_ZERO)
_R_SIZE_NOT_FINITE = int(Reason.SIZE_NOT_FINITE)
_R_SIZE_NOT_POSITIVE = int(Reason.SIZE_NOT_POSITIVE)
_R_TS_AHEAD = int(Reason.TS_AHEAD)
_R_TS_BEFORE_FLOOR = int(Reason.TS_BEFORE_FLOOR)
_R_UNKNOWN_KIND = int(Reason.UNKNOWN_KIND)


@kernel
def validate_fields(kind, side, price, size, ts_event, ts_recv, now_ns, p, allow_negative):
    """Reason code of the first field rule an event breaks (0 when its fields are valid).

    ``p`` holds ``ts_floor_ns`` and ``max_ahead_ns``; ``allow_negative`` says whether the
    instrument may trade at prices <= 0 (e.g. spreads, some rates and power contracts).
    """
    if kind < _ADD or kind > _SNAPSHOT:
        return _R_UNKNOWN_KIND
    if kind in (_ADD, _SNAPSHOT, _QUOTE):
        if side != 1 and side != -1:
            return _R_BAD_SIDE
    elif side < -1 or side > 1:
        return _R_BAD_SIDE
    if ts_event < p.ts_floor_ns:
        return _R_TS_BEFORE_FLOOR
    ref = ts_recv if ts_recv > 0 else now_ns
    if ref > 0 and ts_event > ref + p.max_ahead_ns:
        return _R_TS_AHEAD
    if not np.isfinite(size):
        return _R_SIZE_NOT_FINITE
    if kind in (_QUOTE, _CANCEL) and size < 0.0:  # 0: an empty side / a full cancel
        return _R_SIZE_NOT_POSITIVE
    if kind == _QUOTE:
        if size > 0.0 and price <= 0 and not allow_negative:
            return _R_PRICE_NOT_POSITIVE
    elif kind in (_ADD, _SNAPSHOT, _MODIFY):
        if size <= 0.0:
            return _R_SIZE_NOT_POSITIVE
        if price <= 0 and not allow_negative:
            return _R_PRICE_NOT_POSITIVE
    elif kind == _TRADE:
        if size <= 0.0:
            return _R_SIZE_NOT_POSITIVE
        # a trade against a resting order may carry price 0 (= the order's price)
        if price < 0 and not allow_negative:
            return _R_PRICE_NOT_POSITIVE
    return 0


@kernel
def check_sequence(feeds, recovering, counters, stale, src, inst, seq, kind, flags):
    """Sequence-check one event and update the sequencer; returns a Reason code (0 = go on).

    Marks ``stale[inst]`` on a gap. See the module docstring for the rules.
    """
    row = feeds[inst]
    k = -1
    for j in range(row.shape[0]):
        if row[j].src == src:
            k = j
            break
        if row[j].src < 0:  # a new source of this instrument claims the free slot
            row[j].src = src
            k = j
            break
    if k < 0:
        return _R_TOO_MANY_SOURCES
    if seq == _ZERO:
        return _R_SEQ_ZERO
    feed = row[k]
    last = feed.last
    if kind == _CLEAR and (flags & _F_RECOVERY) != 0:
        if last == _ZERO or stale[inst] or seq > last:
            if last != _ZERO and seq > last + _ONE and not stale[inst]:  # lost messages
                counters[GAPS] += 1
                stale[inst] = True
            feed.last = seq
            recovering[inst] = True
            return 0
        counters[DUPLICATES] += 1
        return _R_DUPLICATE
    if recovering[inst] and (flags & _F_SNAPSHOT) != 0:
        feed.last = seq
        return 0
    if last == _ZERO or seq == last + _ONE:
        feed.last = seq
        return 0
    if seq > last:
        feed.gap_lo = last + _ONE
        feed.gap_hi = seq - _ONE
        feed.last = seq
        counters[GAPS] += 1
        stale[inst] = True
        return 0
    if feed.gap_lo <= seq <= feed.gap_hi:
        counters[OUT_OF_ORDER] += 1
        return _R_OUT_OF_ORDER
    counters[DUPLICATES] += 1
    return _R_DUPLICATE


@kernel
def after_applied(recovering, counters, stale, inst, kind, flags):
    """Recovery bookkeeping once an event has been applied to the book."""
    if kind == _CLEAR:
        recovering[inst] = True
    if recovering[inst] and (flags & _F_LAST) != 0:
        recovering[inst] = False
        if stale[inst]:
            counters[RECOVERIES] += 1
        stale[inst] = False
