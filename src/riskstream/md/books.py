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

from riskstream.core.events import EventKind
from riskstream.md._jit import kernel, kernel_inline
from riskstream.md.reasons import Reason

BID, ASK = 0, 1  # side index of the level arrays (event side +1 → 0, -1 → 1)
EMPTY = -1  # ``inst`` of a free slot of the order table
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

ORDER_DTYPE = np.dtype(
    [
        ("oid", np.uint64),  # venue order id
        ("price", np.int64),  # fixed-point price
        ("size", np.float64),  # remaining size
        ("prio", np.int64),  # priority stamp; lower = earlier in the queue
        ("epoch", np.int64),  # the instrument's epoch when inserted
        ("inst", np.int32),  # instrument, EMPTY if the slot is free
        ("src", np.int32),  # source id
        ("side", np.int32),  # BID or ASK index
        ("spare", np.int32),  # explicit, so records have no padding (checkpoints are exact)
    ],
    align=True,
)
"""One slot of the order table: one order in one cache line (array of structs, so a lookup
touches one line instead of one per field)."""

LEVEL_DTYPE = np.dtype(
    [("px", np.int64), ("sz", np.float64), ("n", np.int32), ("spare", np.int32)], align=True
)
"""One price level: price (fixed point), aggregate size, orders at the level (0 = a quote)."""

BookArrays = namedtuple(
    "BookArrays",
    [
        "orders",  # ORDER_DTYPE (capacity,): the order hash table
        "epoch",  # int64 (n_instruments,): bumped by CLEAR
        "n_orders",  # int64 (n_instruments,): live resting orders
        "lv",  # LEVEL_DTYPE (n_instruments, 2, max_levels): levels, worst -> best
        "lv_cnt",  # int32 (n_instruments, 2): used levels per side
        "counters",  # int64 (3,): used slots, priority clock, live orders
    ],
)


def new_order_table(capacity: int) -> np.ndarray:
    """An empty order table of at least ``capacity`` slots (a power of two)."""
    cap = 1 << max(4, int(np.ceil(np.log2(max(capacity, 16)))))
    table = np.zeros(cap, dtype=ORDER_DTYPE)
    table["inst"] = EMPTY
    return table


def new_book_arrays(n_instruments: int, max_levels: int, order_capacity: int) -> BookArrays:
    """Empty books for ``n_instruments`` with an order table of at least ``order_capacity``."""
    n, k = n_instruments, max_levels
    return BookArrays(
        orders=new_order_table(order_capacity),
        epoch=np.zeros(n, dtype=np.int64),
        n_orders=np.zeros(n, dtype=np.int64),
        lv=np.zeros((n, 2, k), dtype=LEVEL_DTYPE),
        lv_cnt=np.zeros((n, 2), dtype=np.int32),
        counters=np.zeros(3, dtype=np.int64),
    )


# --------------------------------------------------------------------------- order table
_R_UNKNOWN_KIND = int(Reason.UNKNOWN_KIND)


@kernel_inline
def _home(inst, src, oid, mask):
    # splitmix64-style mixing of the three key parts; mask = capacity - 1 (power of two)
    h = oid * np.uint64(0x9E3779B97F4A7C15)
    h ^= (np.uint64(inst) << np.uint64(16)) | np.uint64(src)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(31)
    return np.int64(h & mask)


@kernel
def _delete_slot(o, counters, i):
    """Free slot ``i`` and shift later entries of its probe run back (no tombstones)."""
    cap = o.shape[0]
    mask = np.uint64(cap - 1)
    j = i
    while True:
        j = (j + 1) & (cap - 1)
        if o[j].inst == EMPTY:
            break
        k = _home(o[j].inst, o[j].src, o[j].oid, mask)
        # the entry at j may move to i only if its home k is not cyclically in (i, j]
        stays = i < k <= j if i <= j else k > i or k <= j
        if stays:
            continue
        o[i] = o[j]
        i = j
    o[i].inst = EMPTY
    counters[USED] -= 1


@kernel
def find_order(o, epoch, counters, inst, src, oid):
    """Slot of live order ``(inst, src, oid)``, or -1. Dead (pre-CLEAR) entries are purged."""
    cap = o.shape[0]
    i = _home(inst, src, oid, np.uint64(cap - 1))
    while True:
        slot = o[i]
        if slot.inst == EMPTY:
            return -1
        if slot.oid == oid and slot.inst == inst and slot.src == src:
            if slot.epoch != epoch[inst]:
                _delete_slot(o, counters, i)
                return -1
            return i
        i = (i + 1) & (cap - 1)


@kernel
def _insert_order(o, counters, inst, src, oid, s, price, size, prio, ep):
    cap = o.shape[0]
    i = _home(inst, src, oid, np.uint64(cap - 1))
    while o[i].inst != EMPTY:
        i = (i + 1) & (cap - 1)
    slot = o[i]
    slot.inst = inst
    slot.src = src
    slot.oid = oid
    slot.side = s
    slot.price = price
    slot.size = size
    slot.prio = prio
    slot.epoch = ep
    counters[USED] += 1


@kernel
def _rehash(old, epoch, new, counters):
    """Copy the live orders of table ``old`` into the empty table ``new`` (dead epochs
    dropped); ``counters[USED]`` must be 0 on entry."""
    for i in range(old.shape[0]):
        inst = old[i].inst
        if inst != EMPTY and old[i].epoch == epoch[inst]:
            x = old[i]
            _insert_order(new, counters, inst, x.src, x.oid, x.side, x.price, x.size, x.prio,
                          x.epoch)  # fmt: skip


# --------------------------------------------------------------------------- price levels


@kernel_inline
def _key(px, s):
    # levels are sorted by ascending key, best last: bids by price, asks by -price
    return px if s == BID else -px


@kernel
def _level_search(lv, lv_cnt, inst, s, px):
    """(index, found): the level holding ``px`` or the index where it would be inserted."""
    k = _key(px, s)
    i = lv_cnt[inst, s] - 1
    while i >= 0:
        ki = _key(lv[inst, s, i].px, s)
        if ki == k:
            return i, True
        if ki < k:
            break
        i -= 1
    return i + 1, False


@kernel
def _level_add(lv, lv_cnt, inst, s, px, size, n_new):
    """Add ``size`` (and ``n_new`` orders) at price ``px``; False (nothing changed) when full."""
    i, found = _level_search(lv, lv_cnt, inst, s, px)
    if found:
        lv[inst, s, i].sz += size
        lv[inst, s, i].n += n_new
        return True
    cnt = lv_cnt[inst, s]
    if cnt == lv.shape[2]:
        return False
    row = lv[inst, s]
    for j in range(cnt, i, -1):
        row[j] = row[j - 1]
    row[i].px = px
    row[i].sz = size
    row[i].n = n_new
    lv_cnt[inst, s] = cnt + 1
    return True


@kernel
def _level_remove(lv, lv_cnt, inst, s, px, size):
    """Take one order of ``size`` off level ``px``; the level goes when its last order does."""
    i, found = _level_search(lv, lv_cnt, inst, s, px)
    if not found:  # cannot happen while the books are consistent
        return
    lv[inst, s, i].n -= 1
    if lv[inst, s, i].n > 0:
        lv[inst, s, i].sz -= size
        return
    cnt = lv_cnt[inst, s]
    row = lv[inst, s]
    for j in range(i, cnt - 1):
        row[j] = row[j + 1]
    lv_cnt[inst, s] = cnt - 1


@kernel_inline
def _would_cross(lv, lv_cnt, inst, s, px):
    # an order at or through the opposite best would have executed on a matching venue
    o = 1 - s
    cnt = lv_cnt[inst, o]
    if cnt == 0:
        return False
    best = lv[inst, o, cnt - 1].px
    return px >= best if s == BID else px <= best


@kernel
def level_has_room(lv, lv_cnt, inst, s, px):
    """True when ``px`` already has a level or the side has a free level slot."""
    _, found = _level_search(lv, lv_cnt, inst, s, px)
    return found or lv_cnt[inst, s] < lv.shape[2]


# --------------------------------------------------------------------------- events


@kernel
def clear_book(epoch, n_orders, lv_cnt, counters, inst):
    """Empty one instrument's book: its orders die with the old epoch."""
    epoch[inst] += 1
    counters[LIVE] -= n_orders[inst]
    n_orders[inst] = 0
    lv_cnt[inst, BID] = 0
    lv_cnt[inst, ASK] = 0


@kernel
def apply_book_event(
    o, epoch, n_orders, lv, lv_cnt, counters, inst, src, kind, side, price, size, oid,
    forbid_crossed,
):  # fmt: skip
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
        if n_orders[inst] == 0 and (lv_cnt[inst, BID] > 0 or lv_cnt[inst, ASK] > 0):
            return _ORDER_ON_QUOTES, 0  # levels without orders are quotes
        if find_order(o, epoch, counters, inst, src, oid) >= 0:
            return _DUPLICATE_ORDER, 0
        if forbid_crossed and _would_cross(lv, lv_cnt, inst, s, price):
            return _CROSSED, 0
        if not _level_add(lv, lv_cnt, inst, s, price, size, 1):
            return _LEVELS_FULL, 0
        counters[PRIORITY] += 1
        _insert_order(o, counters, inst, src, oid, s, price, size, counters[PRIORITY], epoch[inst])
        n_orders[inst] += 1
        counters[LIVE] += 1
        return _OK, 0
    if kind in (_MODIFY, _CANCEL, _TRADE):
        if kind == _TRADE and oid == 0:  # an off-book trade print: no resting order
            return _OK, price
        i = find_order(o, epoch, counters, inst, src, oid)
        if i < 0:
            return _UNKNOWN_ORDER, 0
        order = o[i]
        os = order.side
        if side != 0 and s != os:
            return _SIDE_MISMATCH, 0
        opx = order.price
        osz = order.size
        if kind == _CANCEL:
            _level_remove(lv, lv_cnt, inst, os, opx, osz)
            _delete_slot(o, counters, i)
            n_orders[inst] -= 1
            counters[LIVE] -= 1
            return _OK, 0
        if kind == _TRADE:
            if size > osz:
                return _TRADE_EXCEEDS, 0
            left = osz - size
            if left <= 0.0:
                _level_remove(lv, lv_cnt, inst, os, opx, osz)
                _delete_slot(o, counters, i)
                n_orders[inst] -= 1
                counters[LIVE] -= 1
            else:
                # a partial fill keeps the order's place in the queue
                j, _ = _level_search(lv, lv_cnt, inst, os, opx)
                lv[inst, os, j].sz -= size
                order.size = left
            return _OK, (price if price != 0 else opx)
        # MODIFY: new price and size
        if price == opx:
            j, _ = _level_search(lv, lv_cnt, inst, os, opx)
            lv[inst, os, j].sz += size - osz
            if size > osz:  # a size increase goes to the back of the queue
                counters[PRIORITY] += 1
                order.prio = counters[PRIORITY]
            order.size = size
            return _OK, 0
        if forbid_crossed and _would_cross(lv, lv_cnt, inst, os, price):
            return _CROSSED, 0
        if not level_has_room(lv, lv_cnt, inst, os, price):
            return _LEVELS_FULL, 0
        _level_remove(lv, lv_cnt, inst, os, opx, osz)
        _level_add(lv, lv_cnt, inst, os, price, size, 1)
        counters[PRIORITY] += 1  # a price change always loses priority
        order.prio = counters[PRIORITY]
        order.price = price
        order.size = size
        return _OK, 0
    if kind == _QUOTE:
        if n_orders[inst] > 0:
            return _QUOTE_ON_BOOK, 0
        if size > 0.0:
            if forbid_crossed and _would_cross(lv, lv_cnt, inst, s, price):
                return _CROSSED, 0
            lv[inst, s, 0].px = price
            lv[inst, s, 0].sz = size
            lv[inst, s, 0].n = 0
            lv_cnt[inst, s] = 1
        else:
            lv_cnt[inst, s] = 0
        return _OK, 0
    if kind == _CLEAR:
        clear_book(epoch, n_orders, lv_cnt, counters, inst)
        return _OK, 0
    return _R_UNKNOWN_KIND, 0


# --------------------------------------------------------------------------- read-outs


@kernel
def top_levels(lv, lv_cnt, inst, depth, px_out, sz_out):
    """Write the top ``depth`` levels of both sides into ``px_out``/``sz_out`` (2, depth).

    Missing levels get price 0 and size NaN. Returns the (bid, ask) level counts written.
    """
    nb = min(lv_cnt[inst, BID], depth)
    na = min(lv_cnt[inst, ASK], depth)
    for s in range(2):
        cnt = lv_cnt[inst, s]
        for k in range(depth):
            if k < cnt:
                px_out[s, k] = lv[inst, s, cnt - 1 - k].px
                sz_out[s, k] = lv[inst, s, cnt - 1 - k].sz
            else:
                px_out[s, k] = 0
                sz_out[s, k] = np.nan
    return nb, na


@kernel
def side_depth(lv, lv_cnt, inst, s, depth):
    """Total size on the best ``depth`` levels of side ``s``."""
    cnt = lv_cnt[inst, s]
    total = 0.0
    for k in range(min(cnt, depth)):
        total += lv[inst, s, cnt - 1 - k].sz
    return total
