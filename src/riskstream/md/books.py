"""Order books of every instrument at once: market-by-order (L3) and market-by-price (L2).

The kernels here are compiled by :mod:`riskstream.md._jit`: nopython, no reference
counting, and the GIL released while they run.

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

**What real venues send.** A book here takes a venue's messages as the venue meant them;
only what is truly invalid is refused (by the field validation in
:mod:`riskstream.md.sequencer`), never a message that merely disagrees with what this book
has seen:

* an aggressive order that locks or crosses the book is taken by the *crossing policy*
  (``MdConfig.crossing``): ``trust`` applies it as sent and flags the book crossed until
  the venue's own fill and cancel messages uncross it (an L3 feed such as Bitstamp's
  ``live_orders`` announces the order, then the fills, within the same microsecond);
  ``match`` executes it against the resting orders of the opposite side in price-time
  priority, as the venue's matching engine does, and rests only the remainder. Each level
  then keeps its FIFO queue, a doubly linked list through the order table keyed by
  ``(source, order_id)``, maintained only in this mode. Snapshot orders and quotes are
  states, not orders, and are never matched;
* traffic for an order the book does not hold — it rested before the capture or the
  snapshot, or the matcher already filled it — is applied where it can be: a ``MODIFY``
  carries the order's side, price and size and inserts it; a ``CANCEL`` or a ``TRADE`` of
  it is a counted no-op for the book (the trade still prints at its own price). An ``ADD``
  of an order id that rests replaces it; a side that differs from the resting order's, or a
  fill larger than the order, is applied as the venue sent it. Each case is counted
  (``counters[UNKNOWN_NOOP ...]``), none invalidates the messages after it;
* a ``CANCEL`` with ``size > 0`` is a partial cancel that takes ``size`` off the order
  (Nasdaq ITCH "Order Cancel", LOBSTER type 2); ``size`` 0 deletes it;
* a ``TRADE`` with ``order_id`` 0 is a print reported apart from the book (a trade channel,
  a hidden or auction execution): it updates the trade features, never the book.

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
SIZE_EPS = 1e-12  # a remaining size at or below this is a complete fill (float residue)

_ADD, _MODIFY, _CANCEL, _TRADE = int(EventKind.ADD), int(EventKind.MODIFY), 3, 4
_QUOTE, _CLEAR, _SNAPSHOT = int(EventKind.QUOTE), int(EventKind.CLEAR), 7
_OK = int(Reason.ACCEPTED)
_LEVELS_FULL = int(Reason.LEVELS_FULL)
_QUOTE_ON_BOOK = int(Reason.QUOTE_ON_ORDER_BOOK)
_ORDER_ON_QUOTES = int(Reason.ORDER_ON_QUOTE_BOOK)

# counters[...] of BookArrays
USED, PRIORITY, LIVE = 0, 1, 2
UNKNOWN_NOOP = 3  # cancel / trade / side-less modify of an order the book does not hold
UNKNOWN_APPLIED = 4  # modify of an order the book did not hold, inserted from its fields
REPLACED = 5  # add of an order id already resting: replaced by the new one
SIDE_CHANGED = 6  # message whose side differs from the resting order's: applied as sent
OVERFILL = 7  # trade larger than the resting order: the order is filled completely
CROSSED_EVENTS = 8  # events after which the book was locked or crossed
CROSSED_AT_GROUP_END = 9  # ... of which the last of a venue group (LAST_IN_GROUP)
MATCHED = 10  # fills made by the matcher (crossing = match)
N_COUNTERS = 11
COUNTER_NAMES = (
    "used_slots", "priority_clock", "live_orders", "unknown_order_noop",
    "unknown_order_applied", "order_replaced", "side_changed", "overfill", "crossed_events",
    "crossed_at_group_end", "matched_fills",
)  # fmt: skip

_HAS_PREV, _HAS_NEXT = 1, 2  # ORDER_DTYPE.links bits

ORDER_DTYPE = np.dtype(
    [
        ("oid", np.uint64),  # venue order id
        ("price", np.int64),  # fixed-point price
        ("size", np.float64),  # remaining size
        ("prio", np.int64),  # priority stamp; lower = earlier in the queue
        ("poid", np.uint64),  # previous order in the level's queue (match mode)
        ("noid", np.uint64),  # next order in the level's queue (match mode)
        ("epoch", np.int32),  # the instrument's epoch when inserted
        ("inst", np.int32),  # instrument, EMPTY if the slot is free
        ("src", np.uint16),  # source id
        ("psrc", np.uint16),  # source of the previous order in the queue
        ("nsrc", np.uint16),  # source of the next order in the queue
        ("side", np.int8),  # BID or ASK index
        ("links", np.uint8),  # _HAS_PREV | _HAS_NEXT (match mode)
    ],
    align=True,
)
"""One slot of the order table: one order in 64 bytes, one cache line (array of structs, so
a lookup touches one line instead of one per field)."""

LEVEL_DTYPE = np.dtype(
    [
        ("px", np.int64),
        ("sz", np.float64),
        ("hoid", np.uint64),  # first order of the FIFO queue (match mode)
        ("toid", np.uint64),  # last order of the queue
        ("n", np.int32),
        ("hsrc", np.uint16),
        ("tsrc", np.uint16),
    ],
    align=True,
)
"""One price level: price (fixed point), aggregate size, orders at the level (0 = a quote),
and the ends of its queue in match mode."""

BookArrays = namedtuple(
    "BookArrays",
    [
        "orders",  # ORDER_DTYPE (capacity,): the order hash table
        "epoch",  # int64 (n_instruments,): bumped by CLEAR
        "n_orders",  # int64 (n_instruments,): live resting orders
        "lv",  # LEVEL_DTYPE (n_instruments, 2, max_levels): levels, worst -> best
        "lv_cnt",  # int32 (n_instruments, 2): used levels per side
        "crossed",  # bool (n_instruments,): best bid >= best ask after the last event
        "counters",  # int64 (N_COUNTERS,): see the constants above
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
        crossed=np.zeros(n, dtype=np.bool_),
        counters=np.zeros(N_COUNTERS, dtype=np.int64),
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
    """Slot of live order ``(inst, src, oid)``, or -1. Dead (pre-CLEAR) entries are purged.

    Finding a *live* order never moves other entries (only a dead match is deleted), so
    slot numbers held by the caller stay valid across it."""
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
    """Insert an order (not linked into any queue); returns its slot."""
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
    slot.links = 0
    counters[USED] += 1
    return i


@kernel
def _rehash(old, epoch, new, counters):
    """Copy the live orders of table ``old`` into the empty table ``new`` (dead epochs
    dropped, queue links kept: they are keys, not slots); ``counters[USED]`` must be 0."""
    cap = new.shape[0]
    for i in range(old.shape[0]):
        inst = old[i].inst
        if inst != EMPTY and old[i].epoch == epoch[inst]:
            j = _home(inst, old[i].src, old[i].oid, np.uint64(cap - 1))
            while new[j].inst != EMPTY:
                j = (j + 1) & (cap - 1)
            new[j] = old[i]
            counters[USED] += 1


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
    """Add ``size`` (and ``n_new`` orders) at price ``px``; the level's index, or -1
    (nothing changed) when the side is full."""
    i, found = _level_search(lv, lv_cnt, inst, s, px)
    if found:
        lv[inst, s, i].sz += size
        lv[inst, s, i].n += n_new
        return i
    cnt = lv_cnt[inst, s]
    if cnt == lv.shape[2]:
        return -1
    row = lv[inst, s]
    for j in range(cnt, i, -1):
        row[j] = row[j - 1]
    row[i].px = px
    row[i].sz = size
    row[i].n = n_new
    lv_cnt[inst, s] = cnt + 1
    return i


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
    # an order at or through the opposite best would execute on a matching venue
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


@kernel
def is_crossed(lv, lv_cnt, inst):
    """True when both sides hold levels and the best bid >= the best ask."""
    cb = lv_cnt[inst, BID]
    ca = lv_cnt[inst, ASK]
    if cb == 0 or ca == 0:
        return False
    return lv[inst, BID, cb - 1].px >= lv[inst, ASK, ca - 1].px


# --------------------------------------------------------------------------- FIFO queues
# Match mode only: each level's orders in priority order, a doubly linked list whose links
# are order keys (source, order_id) resolved through the hash, so entries may move in the
# table (backward-shift deletion, rebuilds) without breaking the list.


@kernel
def _q_push(o, epoch, counters, lv, inst, s, li, i):
    """Append order slot ``i`` at the back of level ``li``'s queue (its count includes it)."""
    x = o[i]
    lvl = lv[inst, s, li]
    x.links = 0
    if lvl.n > 1:
        t = find_order(o, epoch, counters, inst, lvl.tsrc, lvl.toid)
        o[t].noid = x.oid
        o[t].nsrc = x.src
        o[t].links |= _HAS_NEXT
        x.poid = lvl.toid
        x.psrc = lvl.tsrc
        x.links |= _HAS_PREV
    else:
        lvl.hoid = x.oid
        lvl.hsrc = x.src
    lvl.toid = x.oid
    lvl.tsrc = x.src


@kernel
def _q_unlink(o, epoch, counters, lv, lv_cnt, inst, s, px, i):
    """Take order slot ``i`` out of its level's queue (before the level is updated)."""
    x = o[i]
    li, _ = _level_search(lv, lv_cnt, inst, s, px)
    lvl = lv[inst, s, li]
    has_prev = (x.links & _HAS_PREV) != 0
    has_next = (x.links & _HAS_NEXT) != 0
    if has_prev:
        p = find_order(o, epoch, counters, inst, x.psrc, x.poid)
        if has_next:
            o[p].noid = x.noid
            o[p].nsrc = x.nsrc
        else:
            o[p].links &= ~_HAS_NEXT
            lvl.toid = x.poid
            lvl.tsrc = x.psrc
    elif has_next:
        lvl.hoid = x.noid
        lvl.hsrc = x.nsrc
    if has_next:
        n = find_order(o, epoch, counters, inst, x.nsrc, x.noid)
        if has_prev:
            o[n].poid = x.poid
            o[n].psrc = x.psrc
        else:
            o[n].links &= ~_HAS_PREV
    x.links = 0


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
def _rest(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s, price, size, fifo):
    """Put a new order at the back of its level's queue; False (nothing changed) when the
    side has no room for a new level."""
    li = _level_add(lv, lv_cnt, inst, s, price, size, 1)
    if li < 0:
        return False
    counters[PRIORITY] += 1
    i = _insert_order(o, counters, inst, src, oid, s, price, size, counters[PRIORITY],
                      epoch[inst])  # fmt: skip
    if fifo:
        _q_push(o, epoch, counters, lv, inst, s, li, i)
    n_orders[inst] += 1
    counters[LIVE] += 1
    return True


@kernel
def _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo):
    """Take the order in slot ``i`` out of the book."""
    os = o[i].side
    if fifo:
        _q_unlink(o, epoch, counters, lv, lv_cnt, inst, os, o[i].price, i)
    _level_remove(lv, lv_cnt, inst, os, o[i].price, o[i].size)
    _delete_slot(o, counters, i)
    n_orders[inst] -= 1
    counters[LIVE] -= 1


@kernel
def _match(o, epoch, n_orders, lv, lv_cnt, counters, inst, s, price, size):
    """Execute an aggressive order (side ``s``, limit ``price``, ``size``) against the
    opposite side's queues in price-time priority, as a matching engine does; returns the
    size left to rest (<= SIZE_EPS: none)."""
    os = 1 - s
    left = size
    while left > SIZE_EPS and _would_cross(lv, lv_cnt, inst, s, price):
        li = lv_cnt[inst, os] - 1
        lvl = lv[inst, os, li]
        h = find_order(o, epoch, counters, inst, lvl.hsrc, lvl.hoid)
        q = min(left, o[h].size)
        left -= q
        counters[MATCHED] += 1
        if o[h].size - q <= SIZE_EPS:
            _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, h, True)
        else:
            o[h].size -= q
            lvl.sz -= q
    return left


@kernel
def _enter(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s, price, size, fifo,
           aggressive):  # fmt: skip
    """A new order: matched first when ``fifo`` (match mode) and ``aggressive``, then the
    rest rests; a Reason code."""
    if fifo and aggressive and _would_cross(lv, lv_cnt, inst, s, price):
        # a remainder needs a level before anything executes (all or nothing)
        if not level_has_room(lv, lv_cnt, inst, s, price) and (
            _crossing_size(lv, lv_cnt, inst, s, price) < size - SIZE_EPS
        ):
            return _LEVELS_FULL
        size = _match(o, epoch, n_orders, lv, lv_cnt, counters, inst, s, price, size)
        if size <= SIZE_EPS:
            return _OK
    if not _rest(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s, price, size,
                 fifo):  # fmt: skip
        return _LEVELS_FULL
    return _OK


@kernel
def _crossing_size(lv, lv_cnt, inst, s, px):
    """Resting size on the opposite side at prices an order of side ``s`` at ``px`` reaches."""
    o = 1 - s
    total = 0.0
    for k in range(lv_cnt[inst, o] - 1, -1, -1):
        q = lv[inst, o, k].px
        if (s == BID and px < q) or (s == ASK and px > q):
            break
        total += lv[inst, o, k].sz
    return total


@kernel
def apply_book_event(
    o, epoch, n_orders, lv, lv_cnt, counters, inst, src, kind, side, price, size, oid, fifo,
):  # fmt: skip
    """Apply one (field-validated) event to the books.

    ``fifo`` is the crossing policy: True for ``match`` (aggressive orders execute against
    the resting ones), False for ``trust`` (applied as sent; the caller flags the book
    crossed).

    Returns
    -------
    (reason, trade_price) : (int, int64)
        ``reason`` 0 when applied, else a Reason code and the books are unchanged;
        ``trade_price`` is the execution price of an accepted TRADE (the event's price, or
        the resting order's when the event carries 0), 0 when it has none.
    """
    s = BID if side > 0 else ASK
    if kind in (_ADD, _SNAPSHOT):
        if n_orders[inst] == 0 and (lv_cnt[inst, BID] > 0 or lv_cnt[inst, ASK] > 0):
            return _ORDER_ON_QUOTES, 0  # levels without orders are quotes
        i = find_order(o, epoch, counters, inst, src, oid)
        if i >= 0:  # the venue re-announces a resting order: the new one replaces it
            if not level_has_room(lv, lv_cnt, inst, s, price):
                return _LEVELS_FULL, 0
            counters[REPLACED] += 1
            _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo)
        return _enter(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s, price,
                      size, fifo, kind == _ADD), 0  # fmt: skip
    if kind in (_MODIFY, _CANCEL, _TRADE):
        if kind == _TRADE and oid == 0:  # a print reported apart from the book
            return _OK, price
        i = find_order(o, epoch, counters, inst, src, oid)
        if i < 0:
            if kind == _MODIFY and side != 0:  # rested before the capture: insert it
                r = _enter(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s, price,
                           size, fifo, True)  # fmt: skip
                if r == _OK:
                    counters[UNKNOWN_APPLIED] += 1
                return r, 0
            counters[UNKNOWN_NOOP] += 1
            return _OK, (price if kind == _TRADE else 0)
        order = o[i]
        os = order.side
        if side != 0 and s != os:
            counters[SIDE_CHANGED] += 1
            if kind == _MODIFY:  # the venue moved it: re-enter on the new side
                if not level_has_room(lv, lv_cnt, inst, s, price):
                    return _LEVELS_FULL, 0
                _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo)
                return _enter(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, s,
                              price, size, fifo, True), 0  # fmt: skip
        opx = order.price
        osz = order.size
        if kind == _CANCEL:
            if 0.0 < size < osz - SIZE_EPS:  # partial cancel: keeps its place in the queue
                j, _ = _level_search(lv, lv_cnt, inst, os, opx)
                lv[inst, os, j].sz -= size
                order.size = osz - size
            else:
                _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo)
            return _OK, 0
        if kind == _TRADE:
            tpx = price if price != 0 else opx
            if size > osz + SIZE_EPS:
                counters[OVERFILL] += 1
            if osz - size <= SIZE_EPS:
                _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo)
            else:
                # a partial fill keeps the order's place in the queue
                j, _ = _level_search(lv, lv_cnt, inst, os, opx)
                lv[inst, os, j].sz -= size
                order.size = osz - size
            return _OK, tpx
        # MODIFY: new price and size
        if price == opx:
            j, _ = _level_search(lv, lv_cnt, inst, os, opx)
            lv[inst, os, j].sz += size - osz
            if size > osz:  # a size increase goes to the back of the queue
                counters[PRIORITY] += 1
                order.prio = counters[PRIORITY]
                if fifo:
                    _q_unlink(o, epoch, counters, lv, lv_cnt, inst, os, opx, i)
                    _q_push(o, epoch, counters, lv, inst, os, j, i)
            order.size = size
            return _OK, 0
        if not level_has_room(lv, lv_cnt, inst, os, price):
            return _LEVELS_FULL, 0
        # a price change always loses priority: out of the book, back in as a new order
        _remove(o, epoch, n_orders, lv, lv_cnt, counters, inst, i, fifo)
        return _enter(o, epoch, n_orders, lv, lv_cnt, counters, inst, src, oid, os, price,
                      size, fifo, True), 0  # fmt: skip
    if kind == _QUOTE:
        if n_orders[inst] > 0:
            return _QUOTE_ON_BOOK, 0
        if size > 0.0:
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
