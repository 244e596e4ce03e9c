"""Order books of every instrument at once: market-by-order (L3) and market-by-price (L2).

State lives in preallocated numpy arrays, updated by numba kernels over whole event batches:

* an **order table** — an open-addressing hash (linear probing, backward-shift deletion)
  keyed by ``(instrument_id, source, order_id)`` holding each resting order's side, price,
  size and queue priority. A ``CLEAR`` empties a book in O(levels) by bumping the
  instrument's *epoch*: orders of an older epoch are dead and are deleted lazily when met,
  or purged when the table is rebuilt;
* **price levels** per instrument and side: sorted arrays of ``max_levels`` slots holding
  (price, aggregate size, order count), ordered worst → best so the best level is the last
  used slot and the frequent updates near the touch shift few entries.

Queue priority follows price-time priority as on most lit venues (e.g. the rules of Nasdaq
TotalView-ITCH and Euronext Optiq): an order keeps its place in the queue when its size is
reduced, and loses it (goes to the back) when its price changes or its size is increased.

A ``QUOTE`` drives an L1 (top-of-book only) instrument, typically OTC (FX, bonds): it
replaces one side's levels with a single level (size 0 empties the side). An instrument is
either order-driven or quote-driven: a quote for a book with resting orders, or an order for
a book holding quotes, is rejected (a ``CLEAR`` switches).

The kernels return a :class:`riskstream.md.reasons.Reason` code per event; an event that
is rejected leaves the book exactly as it was.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from riskstream.core.events import EventKind
from riskstream.md.reasons import Reason

BID, ASK = 0, 1  # side index of the level arrays (event side +1 → 0, -1 → 1)
EMPTY = -1  # o_inst of a free slot of the order table
MAX_LOAD = 0.5  # the order table is rebuilt larger before it passes this load factor

_ADD, _MODIFY, _CANCEL, _TRADE = int(EventKind.ADD), int(EventKind.MODIFY), 3, 4
_QUOTE, _CLEAR, _SNAPSHOT = int(EventKind.QUOTE), int(EventKind.CLEAR), 7
_OK = int(Reason.ACCEPTED)
_CROSSED = int(Reason.CROSSED)
_UNKNOWN_ORDER = int(Reason.UNKNOWN_ORDER)
_DUPLICATE_ORDER = int(Reason.DUPLICATE_ORDER)
_SIDE_MISMATCH = int(Reason.SIDE_MISMATCH)
_TRADE_EXCEEDS = int(Reason.TRADE_EXCEEDS_ORDER)
_LEVELS_FULL = int(Reason.LEVELS_FULL)
_QUOTE_ON_BOOK = int(Reason.QUOTE_ON_ORDER_BOOK)
_ORDER_ON_QUOTES = int(Reason.ORDER_ON_QUOTE_BOOK)

# counters[...] of BookArrays
USED, PRIORITY, LIVE = 0, 1, 2

BookArrays = namedtuple(
    "BookArrays",
    [
        "o_inst",  # int32 (capacity,): instrument of the order in the slot, EMPTY if free
        "o_src",  # int32 (capacity,): source id
        "o_id",  # uint64 (capacity,): venue order id
        "o_side",  # int8 (capacity,): BID or ASK index
        "o_price",  # int64 (capacity,): fixed-point price
        "o_size",  # float64 (capacity,): remaining size
        "o_prio",  # int64 (capacity,): priority stamp; lower = earlier in the queue
        "o_epoch",  # int64 (capacity,): instrument epoch when inserted
        "epoch",  # int64 (n_instruments,): bumped by CLEAR
        "n_orders",  # int64 (n_instruments,): live resting orders
        "lv_px",  # int64 (n_instruments, 2, max_levels): level prices, worst → best
        "lv_sz",  # float64 (n_instruments, 2, max_levels): aggregate size at the level
        "lv_n",  # int32 (n_instruments, 2, max_levels): orders at the level (0 for quotes)
        "lv_cnt",  # int32 (n_instruments, 2): used levels per side
        "counters",  # int64 (3,): used slots, priority clock, live orders
    ],
)


def new_book_arrays(n_instruments: int, max_levels: int, order_capacity: int) -> BookArrays:
    """Empty books for ``n_instruments`` with an order table of at least ``order_capacity``."""
    cap = 1 << max(4, int(np.ceil(np.log2(max(order_capacity, 16)))))
    n, k = n_instruments, max_levels
    return BookArrays(
        o_inst=np.full(cap, EMPTY, dtype=np.int32),
        o_src=np.zeros(cap, dtype=np.int32),
        o_id=np.zeros(cap, dtype=np.uint64),
        o_side=np.zeros(cap, dtype=np.int8),
        o_price=np.zeros(cap, dtype=np.int64),
        o_size=np.zeros(cap, dtype=np.float64),
        o_prio=np.zeros(cap, dtype=np.int64),
        o_epoch=np.zeros(cap, dtype=np.int64),
        epoch=np.zeros(n, dtype=np.int64),
        n_orders=np.zeros(n, dtype=np.int64),
        lv_px=np.zeros((n, 2, k), dtype=np.int64),
        lv_sz=np.zeros((n, 2, k), dtype=np.float64),
        lv_n=np.zeros((n, 2, k), dtype=np.int32),
        lv_cnt=np.zeros((n, 2), dtype=np.int32),
        counters=np.zeros(3, dtype=np.int64),
    )


# --------------------------------------------------------------------------- order table
_R_UNKNOWN_KIND = int(Reason.UNKNOWN_KIND)


@njit(cache=True, inline="always")
def _home(inst, src, oid, mask):
    # splitmix64-style mixing of the three key parts; mask = capacity - 1 (power of two)
    h = oid * np.uint64(0x9E3779B97F4A7C15)
    h ^= (np.uint64(inst) << np.uint64(16)) | np.uint64(src)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(31)
    return np.int64(h & mask)


@njit(cache=True)
def _delete_slot(b, i):
    """Free slot ``i`` and shift later entries of its probe run back (no tombstones)."""
    cap = b.o_inst.shape[0]
    mask = np.uint64(cap - 1)
    j = i
    while True:
        j = (j + 1) & (cap - 1)
        if b.o_inst[j] == EMPTY:
            break
        k = _home(b.o_inst[j], b.o_src[j], b.o_id[j], mask)
        # the entry at j may move to i only if its home k is not cyclically in (i, j]
        stays = i < k <= j if i <= j else k > i or k <= j
        if stays:
            continue
        b.o_inst[i] = b.o_inst[j]
        b.o_src[i] = b.o_src[j]
        b.o_id[i] = b.o_id[j]
        b.o_side[i] = b.o_side[j]
        b.o_price[i] = b.o_price[j]
        b.o_size[i] = b.o_size[j]
        b.o_prio[i] = b.o_prio[j]
        b.o_epoch[i] = b.o_epoch[j]
        i = j
    b.o_inst[i] = EMPTY
    b.counters[USED] -= 1


@njit(cache=True)
def find_order(b, inst, src, oid):
    """Slot of live order ``(inst, src, oid)``, or -1. Dead (pre-CLEAR) entries are purged."""
    cap = b.o_inst.shape[0]
    i = _home(inst, src, oid, np.uint64(cap - 1))
    while True:
        o = b.o_inst[i]
        if o == EMPTY:
            return -1
        if b.o_id[i] == oid and o == inst and b.o_src[i] == src:
            if b.o_epoch[i] != b.epoch[inst]:
                _delete_slot(b, i)
                return -1
            return i
        i = (i + 1) & (cap - 1)


@njit(cache=True)
def _insert_order(b, inst, src, oid, s, price, size, prio, epoch):
    cap = b.o_inst.shape[0]
    i = _home(inst, src, oid, np.uint64(cap - 1))
    while b.o_inst[i] != EMPTY:
        i = (i + 1) & (cap - 1)
    b.o_inst[i] = inst
    b.o_src[i] = src
    b.o_id[i] = oid
    b.o_side[i] = s
    b.o_price[i] = price
    b.o_size[i] = size
    b.o_prio[i] = prio
    b.o_epoch[i] = epoch
    b.counters[USED] += 1


@njit(cache=True)
def _rehash(old, new):
    """Copy the live orders of ``old`` into the empty table ``new`` (dead epochs dropped)."""
    for i in range(old.o_inst.shape[0]):
        inst = old.o_inst[i]
        if inst != EMPTY and old.o_epoch[i] == old.epoch[inst]:
            _insert_order(
                new,
                inst,
                old.o_src[i],
                old.o_id[i],
                old.o_side[i],
                old.o_price[i],
                old.o_size[i],
                old.o_prio[i],
                old.o_epoch[i],
            )


# --------------------------------------------------------------------------- price levels


@njit(cache=True, inline="always")
def _key(px, s):
    # levels are sorted by ascending key, best last: bids by price, asks by -price
    return px if s == BID else -px


@njit(cache=True)
def _level_search(b, inst, s, px):
    """(index, found): the level holding ``px`` or the index where it would be inserted."""
    k = _key(px, s)
    i = b.lv_cnt[inst, s] - 1
    while i >= 0:
        ki = _key(b.lv_px[inst, s, i], s)
        if ki == k:
            return i, True
        if ki < k:
            break
        i -= 1
    return i + 1, False


@njit(cache=True)
def _level_add(b, inst, s, px, size, n_orders):
    """Add ``size`` (and ``n_orders``) at price ``px``; False (nothing changed) when full."""
    i, found = _level_search(b, inst, s, px)
    if found:
        b.lv_sz[inst, s, i] += size
        b.lv_n[inst, s, i] += n_orders
        return True
    cnt = b.lv_cnt[inst, s]
    if cnt == b.lv_px.shape[2]:
        return False
    for j in range(cnt, i, -1):
        b.lv_px[inst, s, j] = b.lv_px[inst, s, j - 1]
        b.lv_sz[inst, s, j] = b.lv_sz[inst, s, j - 1]
        b.lv_n[inst, s, j] = b.lv_n[inst, s, j - 1]
    b.lv_px[inst, s, i] = px
    b.lv_sz[inst, s, i] = size
    b.lv_n[inst, s, i] = n_orders
    b.lv_cnt[inst, s] = cnt + 1
    return True


@njit(cache=True)
def _level_remove(b, inst, s, px, size):
    """Take one order of ``size`` off level ``px``; the level goes when its last order does."""
    i, found = _level_search(b, inst, s, px)
    if not found:  # cannot happen while the books are consistent
        return
    b.lv_n[inst, s, i] -= 1
    if b.lv_n[inst, s, i] > 0:
        b.lv_sz[inst, s, i] -= size
        return
    cnt = b.lv_cnt[inst, s]
    for j in range(i, cnt - 1):
        b.lv_px[inst, s, j] = b.lv_px[inst, s, j + 1]
        b.lv_sz[inst, s, j] = b.lv_sz[inst, s, j + 1]
        b.lv_n[inst, s, j] = b.lv_n[inst, s, j + 1]
    b.lv_cnt[inst, s] = cnt - 1


@njit(cache=True, inline="always")
def _would_cross(b, inst, s, px):
    # an order at or through the opposite best would have executed on a matching venue
    o = 1 - s
    cnt = b.lv_cnt[inst, o]
    if cnt == 0:
        return False
    best = b.lv_px[inst, o, cnt - 1]
    return px >= best if s == BID else px <= best


@njit(cache=True)
def level_has_room(b, inst, s, px):
    """True when ``px`` already has a level or the side has a free level slot."""
    _, found = _level_search(b, inst, s, px)
    return found or b.lv_cnt[inst, s] < b.lv_px.shape[2]


# --------------------------------------------------------------------------- events


@njit(cache=True)
def clear_book(b, inst):
    """Empty one instrument's book: its orders die with the old epoch."""
    b.epoch[inst] += 1
    b.counters[LIVE] -= b.n_orders[inst]
    b.n_orders[inst] = 0
    b.lv_cnt[inst, BID] = 0
    b.lv_cnt[inst, ASK] = 0


@njit(cache=True)
def apply_book_event(b, inst, src, kind, side, price, size, oid, forbid_crossed):
    """Apply one (field-validated) event to the books.

    Returns
    -------
    (reason, trade_price) : (int, int64)
        ``reason`` 0 when applied, else a Reason code and the books are unchanged;
        ``trade_price`` is the execution price of an accepted TRADE (the event's price, or
        the resting order's when the event carries 0), else 0.
    """
    s = BID if side > 0 else ASK
    if kind in (_ADD, _SNAPSHOT):
        if b.n_orders[inst] == 0 and (b.lv_cnt[inst, BID] > 0 or b.lv_cnt[inst, ASK] > 0):
            return _ORDER_ON_QUOTES, 0  # levels without orders are quotes
        if find_order(b, inst, src, oid) >= 0:
            return _DUPLICATE_ORDER, 0
        if forbid_crossed and _would_cross(b, inst, s, price):
            return _CROSSED, 0
        if not _level_add(b, inst, s, price, size, 1):
            return _LEVELS_FULL, 0
        b.counters[PRIORITY] += 1
        _insert_order(b, inst, src, oid, s, price, size, b.counters[PRIORITY], b.epoch[inst])
        b.n_orders[inst] += 1
        b.counters[LIVE] += 1
        return _OK, 0
    if kind in (_MODIFY, _CANCEL, _TRADE):
        if kind == _TRADE and oid == 0:  # an off-book trade print: no resting order
            return _OK, price
        i = find_order(b, inst, src, oid)
        if i < 0:
            return _UNKNOWN_ORDER, 0
        os = b.o_side[i]
        if side != 0 and s != os:
            return _SIDE_MISMATCH, 0
        opx = b.o_price[i]
        osz = b.o_size[i]
        if kind == _CANCEL:
            _level_remove(b, inst, os, opx, osz)
            _delete_slot(b, i)
            b.n_orders[inst] -= 1
            b.counters[LIVE] -= 1
            return _OK, 0
        if kind == _TRADE:
            if size > osz:
                return _TRADE_EXCEEDS, 0
            left = osz - size
            if left <= 0.0:
                _level_remove(b, inst, os, opx, osz)
                _delete_slot(b, i)
                b.n_orders[inst] -= 1
                b.counters[LIVE] -= 1
            else:
                # a partial fill keeps the order's place in the queue
                j, _ = _level_search(b, inst, os, opx)
                b.lv_sz[inst, os, j] -= size
                b.o_size[i] = left
            return _OK, (price if price != 0 else opx)
        # MODIFY: new price and size
        if price == opx:
            j, _ = _level_search(b, inst, os, opx)
            b.lv_sz[inst, os, j] += size - osz
            if size > osz:  # a size increase goes to the back of the queue
                b.counters[PRIORITY] += 1
                b.o_prio[i] = b.counters[PRIORITY]
            b.o_size[i] = size
            return _OK, 0
        if forbid_crossed and _would_cross(b, inst, os, price):
            return _CROSSED, 0
        if not level_has_room(b, inst, os, price):
            return _LEVELS_FULL, 0
        _level_remove(b, inst, os, opx, osz)
        _level_add(b, inst, os, price, size, 1)
        b.counters[PRIORITY] += 1  # a price change always loses priority
        b.o_prio[i] = b.counters[PRIORITY]
        b.o_price[i] = price
        b.o_size[i] = size
        return _OK, 0
    if kind == _QUOTE:
        if b.n_orders[inst] > 0:
            return _QUOTE_ON_BOOK, 0
        if size > 0.0:
            if forbid_crossed and _would_cross(b, inst, s, price):
                return _CROSSED, 0
            b.lv_px[inst, s, 0] = price
            b.lv_sz[inst, s, 0] = size
            b.lv_n[inst, s, 0] = 0
            b.lv_cnt[inst, s] = 1
        else:
            b.lv_cnt[inst, s] = 0
        return _OK, 0
    if kind == _CLEAR:
        clear_book(b, inst)
        return _OK, 0
    return _R_UNKNOWN_KIND, 0


# --------------------------------------------------------------------------- read-outs


@njit(cache=True)
def top_levels(b, inst, depth, px_out, sz_out):
    """Write the top ``depth`` levels of both sides into ``px_out``/``sz_out`` (2, depth).

    Missing levels get price 0 and size NaN. Returns the (bid, ask) level counts written.
    """
    nb = min(b.lv_cnt[inst, BID], depth)
    na = min(b.lv_cnt[inst, ASK], depth)
    for s in range(2):
        cnt = b.lv_cnt[inst, s]
        for k in range(depth):
            if k < cnt:
                px_out[s, k] = b.lv_px[inst, s, cnt - 1 - k]
                sz_out[s, k] = b.lv_sz[inst, s, cnt - 1 - k]
            else:
                px_out[s, k] = 0
                sz_out[s, k] = np.nan
    return nb, na


@njit(cache=True)
def side_depth(b, inst, s, depth):
    """Total size on the best ``depth`` levels of side ``s``."""
    cnt = b.lv_cnt[inst, s]
    total = 0.0
    for k in range(min(cnt, depth)):
        total += b.lv_sz[inst, s, cnt - 1 - k]
    return total
