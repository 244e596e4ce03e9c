"""Order-flow kernels of the market simulator: L3 order books and L1 dealer quotes.

The latent market model (:mod:`riskstream.feeds.market_model`) says where each instrument's
fair value is, how wide its spread should be and how deep its book; the kernels here turn that
into a stream of venue events, one arrival at a time, in numba over preallocated arrays.

Exchange-traded instruments (equities, futures, options) carry a book of simulated resting
orders, ``SLOTS`` per side, kept in arrival (``order_id``) order. At each arrival of an
instrument the kernel, in this order:

1. **Sweeps stale orders.** Asks at or below the fair value and bids at or above it are
   mispriced: arbitrageurs take them (a ``TRADE`` of the whole order against the best order,
   price-time priority) or their owners pull them (``CANCEL``), best first, until none is
   left. Afterwards every bid is strictly below the fair value and every ask strictly above
   it, so **the book is never crossed nor locked** — every later add or modify quotes on its
   own side of the fair value.
2. **Re-quotes orders inside the target spread** (with probability ``P_REQUOTE``): when the
   target spread has widened (stress, the open) or the fair value moved towards a side, the
   best order inside the target is moved back to it (``MODIFY``, losing priority) or pulled.
3. Otherwise does one **normal action** on a random side: ``ADD`` at a geometric distance
   from the target touch, ``CANCEL`` or ``MODIFY`` (size down keeping priority, or re-price
   losing it) of a random order, or a **marketable order** — a ``TRADE`` against the best
   resting order of that side for at most its remaining size. The action weights depend on
   how the side's order count compares with its target, which keeps the book's depth near
   the target (and thins it when the target drops under stress).

OTC instruments (FX, bonds) carry one dealer quote: each arrival re-quotes both sides as two
``QUOTE`` events, ordered so that the book is not crossed even between the two (if the new
bid would reach the old ask, the ask moves first).

Randomness comes in as an array of uniforms (drawn by numpy's PCG64 from the simulator's seed),
consumed in a fixed order, so a run is reproducible bit for bit and the plain-Python twin in
``tests/feeds/twin_orderflow.py`` can replay the same draws and must produce the same events.

Units: prices inside the kernels are integer ticks (the event price is ``ticks *
tick_fixed``, always on the instrument's tick grid); sizes are integer lots (the event size is
``lots * lot_size``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from riskstream.core.events import EventFlag, EventKind

SLOTS = 16
"""Most resting orders the simulator keeps per instrument and side."""

MAX_LEVELS = 20
"""Orders are placed at most this many ticks behind the target touch."""

P_LEVEL = 0.35
"""Parameter of the geometric distance (in ticks) of a new order from the target touch: most
orders join the touch, few sit deep (the hump-free depth profile of Bouchaud, Mézard & Potters
2002 is approximated by a geometric decay)."""

W_ADD, W_CANCEL, W_MODIFY, W_TRADE = 0.42, 0.30, 0.12, 0.16
"""Base weights of the normal actions; add and cancel are scaled by the side's fill ratio."""

P_STALE_TRADE = 0.6
"""Probability that a stale order is traded through rather than pulled by its owner."""

P_REQUOTE = 0.35
"""Probability that an arrival re-quotes an order sitting inside the target spread."""

RESERVE_UNIFORMS = 4 * SLOTS + 32
"""Most uniforms one arrival can consume (a full two-sided sweep plus a normal action)."""

MAX_EVENTS_PER_ARRIVAL = 2 * SLOTS + 2
"""Most events one arrival can emit (a sweep of every order of both sides)."""

BID, ASK = 0, 1  # side index into the (N, 2, SLOTS) book arrays

_ADD = np.uint8(EventKind.ADD)
_MODIFY = np.uint8(EventKind.MODIFY)
_CANCEL = np.uint8(EventKind.CANCEL)
_TRADE = np.uint8(EventKind.TRADE)
_QUOTE = np.uint8(EventKind.QUOTE)
_CLEAR = np.uint8(EventKind.CLEAR)
_SIM = np.uint8(EventFlag.SIMULATED)
_SIM_SNAP = np.uint8(EventFlag.SIMULATED | EventFlag.SNAPSHOT)
_LAST = np.uint8(EventFlag.LAST_IN_GROUP)
_NO_ASK = np.int64(2**63 - 1)


@njit(cache=True)
def _exp(r: float) -> float:
    """A unit exponential variate from a uniform in [0, 1)."""
    return -math.log(1.0 - r)


@njit(cache=True)
def _level(r: float) -> int:
    """Geometric distance in ticks (0, 1, 2, ...) behind the target touch."""
    k = int(math.log(1.0 - r) / math.log(1.0 - P_LEVEL))
    return k if k < MAX_LEVELS else MAX_LEVELS - 1


@njit(cache=True)
def _emit(out, n, ts, jitter_u, i, kind, side, ticks, lots, oid, flags, sim):
    """Write one event at ``out[n]`` and bump the instrument's sequence number."""
    (seq, source, tick_fixed, lot_size, latency_ns, jitter_ns) = sim
    seq[i] += 1
    out[n]["ts_event"] = ts
    out[n]["ts_recv"] = ts + latency_ns[i] + np.int64(_exp(jitter_u) * jitter_ns[i])
    out[n]["seq"] = seq[i]
    out[n]["instrument_id"] = i
    out[n]["source"] = source[i]
    out[n]["kind"] = kind
    out[n]["side"] = side
    out[n]["price"] = ticks * tick_fixed[i]
    out[n]["size"] = lots * lot_size[i]
    out[n]["order_id"] = oid
    out[n]["flags"] = flags
    return n + 1


@njit(cache=True)
def _best(ob_px, ob_prio, ob_n, i, s):
    """Slot of the best order of side ``s``: highest bid / lowest ask, then earliest priority."""
    best = 0
    for k in range(1, ob_n[i, s]):
        px, bpx = ob_px[i, s, k], ob_px[i, s, best]
        better = px > bpx if s == BID else px < bpx
        if better or (px == bpx and ob_prio[i, s, k] < ob_prio[i, s, best]):
            best = k
    return best


@njit(cache=True)
def _insert(ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter, i, s, px, lots):
    """Rest a new order of ``lots`` at ``px`` ticks on side ``s`` of instrument ``i``: the
    next order id of the instrument, the back of the queue (time priority); the order id.
    The caller checks there is a free slot (``ob_n[i, s] < SLOTS``)."""
    k = ob_n[i, s]
    oid = next_oid[i]
    next_oid[i] += 1
    ob_id[i, s, k] = oid
    ob_px[i, s, k] = px
    ob_lots[i, s, k] = lots
    ob_prio[i, s, k] = prio_counter[0]
    prio_counter[0] += 1
    ob_n[i, s] = k + 1
    return oid


@njit(cache=True)
def _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k):
    """Remove slot ``k`` of side ``s``, keeping the remaining orders in ``order_id`` order."""
    last = ob_n[i, s] - 1
    for j in range(k, last):
        ob_id[i, s, j] = ob_id[i, s, j + 1]
        ob_px[i, s, j] = ob_px[i, s, j + 1]
        ob_lots[i, s, j] = ob_lots[i, s, j + 1]
        ob_prio[i, s, j] = ob_prio[i, s, j + 1]
    ob_n[i, s] = last


@njit(cache=True)
def _target_touch(fair_ticks, half_spread_ticks, i):
    """Target best bid and ask (ticks): the fair value minus / plus the target half-spread,
    rounded away from it, so ``tb < fair < ta``."""
    m = fair_ticks[i]
    hs = half_spread_ticks[i]
    return np.int64(math.floor(m - hs)), np.int64(math.ceil(m + hs))


@njit(cache=True)
def _l3_arrival(out, n, ts, u, pos, i, book, params, sim):
    (ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter) = book
    (fair_ticks, half_spread_ticks, order_lots, trade_lots, n_target) = params
    m = fair_ticks[i]
    tb, ta = _target_touch(fair_ticks, half_spread_ticks, i)
    first = n

    # 1. Sweep stale orders: asks at or below fair value, then bids at or above it.
    for s in (ASK, BID):
        sign = 1 if s == BID else -1
        while ob_n[i, s] > 0:
            k = _best(ob_px, ob_prio, ob_n, i, s)
            px = ob_px[i, s, k]
            if (s == ASK and px > m) or (s == BID and px < m):
                break
            kind = _TRADE if u[pos] < P_STALE_TRADE else _CANCEL
            pos += 1
            n = _emit(
                out, n, ts, u[pos], i, kind, sign, px, ob_lots[i, s, k], ob_id[i, s, k], _SIM, sim
            )
            pos += 1
            _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
    if n > first:
        return n, pos

    # 2. Re-quote the best order sitting inside the target spread, if any.
    r = u[pos]
    pos += 1
    if r < P_REQUOTE:
        for s in (BID, ASK):
            if ob_n[i, s] == 0:
                continue
            k = _best(ob_px, ob_prio, ob_n, i, s)
            px = ob_px[i, s, k]
            if (s == BID and px <= tb) or (s == ASK and px >= ta):
                continue
            sign = 1 if s == BID else -1
            target = tb if s == BID else ta
            r = u[pos]
            pos += 1
            if r < 0.5 and target >= 1:
                ob_px[i, s, k] = target
                ob_prio[i, s, k] = prio_counter[0]
                prio_counter[0] += 1
                kind = _MODIFY
            else:
                target = px
                kind = _CANCEL
            n = _emit(
                out, n, ts, u[pos], i, kind, sign, target, ob_lots[i, s, k], ob_id[i, s, k],
                _SIM, sim,
            )  # fmt: skip
            pos += 1
            if kind == _CANCEL:
                _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
            return n, pos

    # 3. One normal action on a random side.
    r = u[pos]
    pos += 1
    s = BID if r < 0.5 else ASK
    if s == BID and tb < 1:
        s = ASK  # the fair value is under one tick: nobody can bid below it
    sign = 1 if s == BID else -1
    count = ob_n[i, s]
    if count == 0:
        action = _ADD
    elif count >= SLOTS:
        action = _CANCEL
    else:
        fill = count / n_target[i]
        wa = W_ADD / fill
        wc = W_CANCEL * fill
        x = u[pos] * (wa + wc + W_MODIFY + W_TRADE)
        pos += 1
        if x < wa:
            action = _ADD
        elif x < wa + wc:
            action = _CANCEL
        elif x < wa + wc + W_MODIFY:
            action = _MODIFY
        else:
            action = _TRADE

    if action == _ADD:
        d = _level(u[pos])
        pos += 1
        px = tb - d if s == BID else ta + d
        if px < 1:
            px = np.int64(1)
        lots = 1 + np.int64(_exp(u[pos]) * order_lots[i])
        pos += 1
        oid = _insert(ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter, i, s, px, lots)
        n = _emit(out, n, ts, u[pos], i, _ADD, sign, px, lots, oid, _SIM, sim)
        pos += 1
    elif action == _CANCEL:
        k = min(np.int64(u[pos] * count), count - 1)
        pos += 1
        n = _emit(
            out, n, ts, u[pos], i, _CANCEL, sign, ob_px[i, s, k], ob_lots[i, s, k],
            ob_id[i, s, k], _SIM, sim,
        )  # fmt: skip
        pos += 1
        _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
    elif action == _MODIFY:
        k = min(np.int64(u[pos] * count), count - 1)
        pos += 1
        lots = ob_lots[i, s, k]
        r = u[pos]
        pos += 1
        if r < 0.5 and lots > 1:
            # size down: keeps its place in the queue
            ob_lots[i, s, k] = 1 + np.int64(u[pos] * (lots - 1))
            pos += 1
        else:
            d = _level(u[pos])
            pos += 1
            px = tb - d if s == BID else ta + d
            if px < 1:
                px = np.int64(1)
            if px == ob_px[i, s, k]:
                ob_lots[i, s, k] = lots + 1 + np.int64(_exp(u[pos]) * order_lots[i] * 0.5)
                pos += 1
            ob_px[i, s, k] = px
            ob_prio[i, s, k] = prio_counter[0]  # re-priced or sized up: back of the queue
            prio_counter[0] += 1
        n = _emit(
            out, n, ts, u[pos], i, _MODIFY, sign, ob_px[i, s, k], ob_lots[i, s, k],
            ob_id[i, s, k], _SIM, sim,
        )  # fmt: skip
        pos += 1
    else:
        # a marketable order of the other side executes against the best resting order
        k = _best(ob_px, ob_prio, ob_n, i, s)
        lots = ob_lots[i, s, k]
        executed = 1 + np.int64(_exp(u[pos]) * trade_lots[i])
        pos += 1
        if executed > lots:
            executed = lots
        n = _emit(
            out, n, ts, u[pos], i, _TRADE, sign, ob_px[i, s, k], executed, ob_id[i, s, k],
            _SIM, sim,
        )  # fmt: skip
        pos += 1
        if executed == lots:
            _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
        else:
            ob_lots[i, s, k] = lots - executed
    return n, pos


@njit(cache=True)
def _otc_arrival(out, n, ts, u, pos, i, q_px, q_lots, params, sim, flags):
    fair_ticks, half_spread_ticks, order_lots = params[0], params[1], params[2]
    tb, ta = _target_touch(fair_ticks, half_spread_ticks, i)
    if tb < 1:
        tb = np.int64(1)
    if ta <= tb:
        ta = tb + 1
    lb = 1 + np.int64(_exp(u[pos]) * order_lots[i])
    la = 1 + np.int64(_exp(u[pos + 1]) * order_lots[i])
    pos += 2
    bid_first = tb < q_px[i, ASK]  # else the new bid would cross the old ask: move the ask first
    for step in range(2):
        s = BID if (step == 0) == bid_first else ASK
        sign = 1 if s == BID else -1
        px = tb if s == BID else ta
        lots = lb if s == BID else la
        q_px[i, s] = px
        q_lots[i, s] = lots
        n = _emit(out, n, ts, u[pos], i, _QUOTE, sign, px, lots, np.uint64(0), flags, sim)
        pos += 1
    return n, pos


@njit(cache=True)
def generate_events(out, n, n_stop, t_ns, t_stop_ns, rate_per_ns, u, pos, cum_weight, is_l3,
                    book, quotes, params, sim):  # fmt: skip
    """Fill ``out[n:]`` with events until ``n >= n_stop``, the next arrival would fall at or
    after ``t_stop_ns``, or fewer than ``RESERVE_UNIFORMS`` uniforms are left.

    Arrivals form a Poisson process of intensity ``rate_per_ns`` (constant until
    ``t_stop_ns``, when the caller updates the market); each picks instrument ``i`` with
    probability ``cum_weight[i] - cum_weight[i - 1]``.

    Parameters
    ----------
    out : ndarray of EVENT_DTYPE
        Output buffer, with room for ``n_stop + MAX_EVENTS_PER_ARRIVAL`` events.
    t_ns : int
        Simulated time now (ns since the epoch).
    u : ndarray of float64
        Uniforms in [0, 1), consumed from ``pos``.
    book, quotes, params, sim : tuples of arrays
        Order-book state, dealer quotes, per-instrument parameters and event constants (see
        :class:`riskstream.feeds.simulator.MarketSimulator`).

    Returns
    -------
    n, t_ns, pos : int
        Events now in ``out``, simulated time reached and uniforms consumed. ``t_ns`` equals
        ``t_stop_ns`` when the kernel stopped for the market update (arrivals are memoryless,
        so the interrupted waiting time is simply redrawn).
    """
    (q_px, q_lots) = quotes
    limit = u.shape[0] - RESERVE_UNIFORMS
    while n < n_stop and pos < limit:
        wait = _exp(u[pos]) / rate_per_ns
        pos += 1
        if wait >= t_stop_ns - t_ns:
            return n, t_stop_ns, pos
        t_ns = t_ns + np.int64(wait)
        i = np.searchsorted(cum_weight, u[pos], side="right")
        pos += 1
        if i >= cum_weight.shape[0]:
            i = cum_weight.shape[0] - 1
        first = n
        if is_l3[i]:
            n, pos = _l3_arrival(out, n, t_ns, u, pos, i, book, params, sim)
        else:
            n, pos = _otc_arrival(out, n, t_ns, u, pos, i, q_px, q_lots, params, sim, _SIM)
        if n > first:
            out[n - 1]["flags"] |= _LAST
    return n, t_ns, pos


@njit(cache=True)
def snapshot_events(out, t_ns, u, is_l3, book, quotes, params, sim):
    """The opening of every instrument's stream: a ``CLEAR``, then the initial book as
    SNAPSHOT-flagged ``ADD`` orders (``n_target`` a side, at geometric distances from the
    target touch) or, for OTC instruments, the first two-sided quote. All at ``t_ns``.

    Returns the number of events written and uniforms consumed.
    """
    (ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter) = book
    (q_px, q_lots) = quotes
    fair_ticks, half_spread_ticks, order_lots, n_target = params[0], params[1], params[2], params[4]
    n = 0
    pos = 0
    for i in range(is_l3.shape[0]):
        ob_n[i, BID] = 0
        ob_n[i, ASK] = 0
        n = _emit(out, n, t_ns, u[pos], i, _CLEAR, 0, np.int64(0), np.int64(0), np.uint64(0),
                  _SIM_SNAP, sim)  # fmt: skip
        pos += 1
        if is_l3[i]:
            tb, ta = _target_touch(fair_ticks, half_spread_ticks, i)
            for _ in range(n_target[i]):
                for s in (BID, ASK):
                    if s == BID and tb < 1:
                        continue
                    d = _level(u[pos])
                    px = tb - d if s == BID else ta + d
                    if px < 1:
                        px = np.int64(1)
                    lots = 1 + np.int64(_exp(u[pos + 1]) * order_lots[i])
                    pos += 2
                    oid = _insert(
                        ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio_counter, i, s, px, lots
                    )
                    sign = 1 if s == BID else -1
                    n = _emit(out, n, t_ns, u[pos], i, _ADD, sign, px, lots, oid, _SIM_SNAP, sim)
                    pos += 1
        else:
            q_px[i, ASK] = _NO_ASK
            n, pos = _otc_arrival(out, n, t_ns, u, pos, i, q_px, q_lots, params, sim, _SIM_SNAP)
        out[n - 1]["flags"] |= _LAST
    return n, pos


def snapshot_uniforms(n_target: np.ndarray) -> int:
    """Uniforms :func:`snapshot_events` may consume for these per-instrument book targets."""
    return int(np.sum(3 * 2 * n_target.astype(np.int64) + 5))


def snapshot_size(n_target: np.ndarray) -> int:
    """Most events :func:`snapshot_events` may write for these per-instrument targets."""
    return int(np.sum(1 + 2 * np.maximum(n_target.astype(np.int64), 1)))


@njit(cache=True)
def market_order(out, ts, u, i, s, want_lots, limit_ticks, book, sim):  # fmt: skip
    """An outside participant's marketable order (ours: the limits' reduction) against the
    resting orders of side ``s`` of instrument ``i`` (``BID`` for a sell), at ``ts``.

    It takes the best order first (price, then time priority), each taken order emitting a
    ``TRADE`` of the resting order's side and id, exactly as the simulated participants'
    own marketable orders do, so md's books see the depth go. It stops when ``want_lots``
    are filled, when the side is empty, or at ``limit_ticks``: orders priced worse than it
    (below it for a sell) are not taken — the order is a marketable limit order with a price
    collar, the remainder is cancelled (a venue's price band, e.g. the limit-up/limit-down
    band of US equities, does the same to a market order).

    Returns
    -------
    n, filled_lots, notional_ticks_lots, last_ticks : int
        Events written to ``out[0:n]``, lots filled, sum of ticks x lots filled, and the
        price of the last order taken (0 when nothing was filled).
    """
    ob_id, ob_px, ob_lots, ob_prio, ob_n = book[0], book[1], book[2], book[3], book[4]
    sign = 1 if s == BID else -1
    n = 0
    filled = np.int64(0)
    notional = np.int64(0)
    last = np.int64(0)
    while filled < want_lots and ob_n[i, s] > 0:
        k = _best(ob_px, ob_prio, ob_n, i, s)
        px = ob_px[i, s, k]
        if (s == BID and px < limit_ticks) or (s == ASK and px > limit_ticks):
            break
        lots = ob_lots[i, s, k]
        take = want_lots - filled
        if take > lots:
            take = lots
        n = _emit(out, n, ts, u[n], i, _TRADE, sign, px, take, ob_id[i, s, k], _SIM, sim)
        filled += take
        notional += take * px
        last = px
        if take == lots:
            _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, i, s, k)
        else:
            ob_lots[i, s, k] = lots - take
    if n > 0:
        out[n - 1]["flags"] |= _LAST
    return n, filled, notional, last
