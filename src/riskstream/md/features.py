"""Microstructure features, updated event by event inside the batch kernel (numba).

The kernels here are compiled by :mod:`riskstream.md._jit`: nopython, no reference
counting, and the GIL released while they run.

Per instrument, in dense arrays (:class:`FeatureState`):

* **Spread**: quoted spread in basis points of the mid, ``s = 1e4 (a - b) / m``; its
  time-weighted EWMA; and its z-score against the instrument's **intraday profile** — an
  exponentially weighted mean and variance of the spread per time-of-day bucket (spreads
  are wide at the open and tighten through the day, so a raw level says little).
* **Order flow imbalance** (Cont, Kukanov & Stoikov 2014, "The price impact of order book
  events", J. Financial Econometrics 12(1), 47-88): for consecutive best quotes
  :math:`(P^B, q^B, P^A, q^A)`,

  .. math::
     e_n = 1\\{P^B_n \\ge P^B_{n-1}\\} q^B_n - 1\\{P^B_n \\le P^B_{n-1}\\} q^B_{n-1}
         - 1\\{P^A_n \\le P^A_{n-1}\\} q^A_n + 1\\{P^A_n \\ge P^A_{n-1}\\} q^A_{n-1}

  and OFI over an interval is :math:`\\sum e_n`. We keep the cumulative sum (``ofi``) and
  the sum over the last complete grid interval (``ofi_last``). An empty side has price
  :math:`-\\infty` (bid) / :math:`+\\infty` (ask) and size 0; the jump across a clear or a
  snapshot is not order flow and is skipped.
* **Depth imbalance** over the top-N levels, :math:`(D^B - D^A) / (D^B + D^A)`.
* **Trade intensity**: trades per second over the last complete grid interval
  (``trade_rate``) and an exponentially decaying rate
  :math:`\\lambda_t = \\lambda_{t'} e^{-(t - t')/\\tau} + 1/\\tau` at each trade (trades/s).
* **Realised volatility** of mid log returns on a time grid of ``grid_s``: the mid is
  sampled at each grid time (previous-tick), and
  :math:`RV = \\sqrt{\\sum_{k} r_k^2}` over the last ``rv_window`` grid returns (Andersen,
  Bollerslev, Diebold & Labys 2001) — a volatility over ``rv_window * grid_s`` seconds, not
  annualised.
* **Rolling VWAP**, exact over the time window :math:`(t - W, t]` where :math:`t` is the
  instrument's latest event time: :math:`\\sum p_i v_i / \\sum v_i` over the trades inside.
  Every trade of the window is kept (a per-instrument linked FIFO in one growable pool), so
  membership is exact; sums are maintained incrementally and reset to exactly 0 when the
  window empties. An evicted trade's slot goes onto a free list that the next trade of any
  instrument reuses, so the pool only grows while the number of trades inside the windows
  does, and never needs compacting (a compaction walks the whole pool in one batch: half a
  second for a million slots, a stall every time the pool filled).

Time-weighted EWMAs use the EMA operator for inhomogeneous time series with previous-point
interpolation (Zumbach & Müller 2001, "Operators on inhomogeneous time series", Int. J.
Theoretical and Applied Finance 4(1)): :math:`\\mathrm{EMA}_n = \\mu\\,\\mathrm{EMA}_{n-1} +
(1 - \\mu) z_{n-1}` with :math:`\\mu = e^{-(t_n - t_{n-1}) / \\tau}`, :math:`\\tau =
h / \\ln 2` for half-life :math:`h` — the exact EWMA of the piecewise-constant signal.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.events import PRICE_SCALE, EventFlag, EventKind
from riskstream.md._jit import kernel, kernel_inline

NO_BID = np.iinfo(np.int64).min  # price of an empty bid side for OFI (-inf)
NO_ASK = np.iinfo(np.int64).max  # price of an empty ask side for OFI (+inf)
POOL_USED, UPDATES, FREE_HEAD, FREE_N = 0, 1, 2, 3  # counters[...]
N_COUNTERS = 4
_F_SNAPSHOT = int(EventFlag.SNAPSHOT)
_TRADE, _CLEAR = int(EventKind.TRADE), int(EventKind.CLEAR)

FeatureParams = namedtuple(
    "FeatureParams",
    [
        "grid_ns",
        "bucket_ns",
        "spread_tau_ns",
        "intensity_tau_ns",
        "profile_alpha",
        "vwap_window_ns",
        "ts_floor_ns",
        "max_ahead_ns",
    ],
)

FEATURE_DTYPE = np.dtype(
    [
        # cache line 1: touched by every event
        ("grid_idx", np.int64),  # current grid interval (ts // grid_ns), -1 before any event
        ("last_ts", np.int64),  # ts_event of the last applied event
        ("prev_bpx", np.int64),  # best quotes after the last event (OFI), NO_BID if empty
        ("prev_bsz", np.float64),
        ("prev_apx", np.int64),  # NO_ASK if empty
        ("prev_asz", np.float64),
        ("ofi", np.float64),  # cumulative order flow imbalance (CKS 2014), size units
        ("ofi_cur", np.float64),  # OFI in the current grid interval
        # cache line 2
        ("mid", np.float64),  # mid after the last event (decimal), NaN if a side is empty
        ("spread_bps", np.float64),  # quoted spread, bps of mid
        ("spread_ewma", np.float64),  # time-weighted EWMA of spread_bps
        ("spread_z", np.float64),  # z-score of spread_bps vs its time-of-day profile
        ("vw_head", np.int64),  # oldest trade of the VWAP window (pool index), -1 if none
        ("last_seq", np.uint64),  # seq of the last applied event
        ("last_px", np.float64),  # last trade price (decimal)
        ("volume", np.float64),  # traded size since start
        # cache line 3: trades
        ("trades", np.int64),  # trade count since start
        ("trades_cur", np.int64),  # trades in the current grid interval
        ("intensity", np.float64),  # exponentially decaying trade rate, trades/s
        ("intensity_ts", np.int64),  # time of the last trade
        ("vw_tail", np.int64),  # newest trade of the VWAP window
        ("vw_pv", np.float64),  # sum of price * size in the window
        ("vw_v", np.float64),  # sum of size in the window
        ("vwap", np.float64),  # rolling VWAP over (t - W, t], NaN if no trade inside
        # cache line 4: once per grid interval or per batch
        ("ofi_last", np.float64),  # OFI over the last complete grid interval
        ("trade_rate", np.float64),  # trades/s over the last complete grid interval
        ("rv_ref", np.float64),  # mid at the last grid sample
        ("rv_pos", np.int64),  # next slot of the squared-return ring
        ("rv_cnt", np.int64),  # returns in the ring
        ("rv", np.float64),  # realised volatility over the ring's returns
        ("depth_imbalance", np.float64),  # (D_bid - D_ask) / (D_bid + D_ask), top-N levels
        ("spare", np.int64),
    ],
    align=True,
)
"""One instrument's features: 256 bytes, the hot fields first, so one event touches a few
cache lines (array of structs) rather than one line per feature."""

POOL_DTYPE = np.dtype(
    [("ts", np.int64), ("pv", np.float64), ("v", np.float64), ("next", np.int64),
     ("dead", np.int64)],
    align=True,
)  # fmt: skip
"""A trade of a VWAP window: time, price x size, size, next trade of the same instrument
(of a free slot: the next free slot), and whether the slot is free (``dead``)."""

PROFILE_DTYPE = np.dtype([("mean", np.float64), ("var", np.float64), ("n", np.int64)], align=True)
"""One time-of-day bucket of an instrument's spread profile: EW mean, variance, count."""

FeatureArrays = namedtuple(
    "FeatureArrays",
    [
        "s",  # FEATURE_DTYPE (n_instruments,)
        "profile",  # PROFILE_DTYPE (n_instruments, n_buckets): spread by time of day
        "rv_ring",  # float64 (n_instruments, rv_window): squared grid returns
        "pool",  # POOL_DTYPE (capacity,): trades of every instrument's VWAP window
        # int64 (N_COUNTERS,): pool slots ever used (the high-water mark), feature
        # updates, the first free slot (-1: none) and the number of free slots
        "counters",
    ],
)


def new_feature_arrays(
    n_instruments: int, n_buckets: int, rv_window: int, pool: int
) -> FeatureArrays:
    """Empty feature state (NaN = not known yet)."""
    n = n_instruments
    s = np.zeros(n, dtype=FEATURE_DTYPE)
    for name in ("mid", "spread_bps", "spread_ewma", "spread_z", "vwap", "rv_ref", "rv",
                 "depth_imbalance", "last_px"):  # fmt: skip
        s[name] = np.nan
    s["prev_bpx"] = NO_BID
    s["prev_apx"] = NO_ASK
    for name in ("grid_idx", "vw_head", "vw_tail"):
        s[name] = -1
    trades = np.zeros(pool, dtype=POOL_DTYPE)
    trades["next"] = -1
    return FeatureArrays(
        s=s,
        profile=np.zeros((n, n_buckets), dtype=PROFILE_DTYPE),
        rv_ring=np.zeros((n, rv_window)),
        pool=trades,
        counters=np.array([0, 0, -1, 0], dtype=np.int64),
    )


class FeatureState:
    """The features of every instrument as dense arrays by name: ``state.vwap[i]``.

    A view of :class:`FeatureArrays` (the per-instrument fields of :data:`FEATURE_DTYPE`
    plus the profile, ring and pool arrays); it shares memory with the engine's state.
    """

    def __init__(self, arrays: FeatureArrays):
        self._arrays = arrays

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__["_arrays"]
        if name in FEATURE_DTYPE.names:
            return arrays.s[name]
        return getattr(arrays, name)

    def names(self) -> tuple[str, ...]:
        return tuple(n for n in FEATURE_DTYPE.names if n != "spare")


def pool_room(f: FeatureArrays) -> int:
    """Trades the VWAP pool takes before it must grow: its free slots and those never used."""
    return int(f.counters[FREE_N]) + f.pool.shape[0] - int(f.counters[POOL_USED])


class SparePool:
    """The VWAP pool's next array, made ready ahead of need a slice per batch.

    Memory a process has never written costs a page fault on the first write to each
    page: copying a million trades (40 MB) into a fresh array took ~95 ms in an md process,
    into an array already written ~4 ms. So once the windows hold three quarters of the
    pool's slots (at least a quarter of the pool's size in trades before it must grow),
    the next array is allocated (four times the size: a growth from a full pool leaves it
    at most half full; untouched, so free) and :meth:`prepare` writes a slice of it
    per batch — 8 slots' worth per trade of the batch, at least 256 KB — so that the
    growth (:func:`grow_pool`) finds the pages it copies into already there. In a steady
    market the pool is at most half full after its last growth and no spare is made.
    """

    def __init__(self) -> None:
        self.array: np.ndarray | None = None
        self.touched = 0  # bytes of ``array`` written so far

    def prepare(self, f: FeatureArrays, trades: int) -> None:
        cap = f.pool.shape[0]
        live = int(f.counters[POOL_USED]) - int(f.counters[FREE_N])
        if self.array is None or self.array.shape[0] <= cap:
            if 4 * live < 3 * cap:
                return
            self.array = np.zeros(4 * cap, dtype=POOL_DTYPE)
            self.touched = 0
        end = min(cap * POOL_DTYPE.itemsize, self.touched + max(1 << 18, 8 * 40 * trades))
        if end > self.touched:
            self.array.view(np.uint8)[self.touched : end] = 0
            self.touched = end

    def take(self, cap: int) -> np.ndarray | None:
        """The spare array if it has at least ``cap`` slots (handed over: the spare is
        empty after)."""
        array, self.array = self.array, None
        return array if array is not None and array.shape[0] >= cap else None


def grow_pool(f: FeatureArrays, extra: int, spare: SparePool | None = None) -> FeatureArrays:
    """Make room in the VWAP pool for ``extra`` more trades (between batches).

    Returns a new :class:`FeatureArrays` (pool replaced; everything else shared) with at
    least twice the slots the windows and ``extra`` need (doubling: amortised O(1) per
    trade, and a pool that stops growing once the windows' trade count is steady). Slots
    keep their indices, so no link changes: the used slots are copied as one block. The
    slots never used are left zero (the kernel writes every field of a slot it takes), so
    the operating system maps their pages only when trades first reach them.
    """
    used = int(f.counters[POOL_USED])
    need = used - int(f.counters[FREE_N]) + extra  # live trades + extra
    cap = max(f.pool.shape[0], 16)  # a restored pool holds its used slots only (or none)
    while cap < 2 * need:
        cap *= 2
    if cap == f.pool.shape[0]:
        return f
    pool = spare.take(cap) if spare is not None else None
    if pool is None:
        pool = np.zeros(cap, dtype=POOL_DTYPE)
    # as bytes: numpy copies an aligned structured dtype field by field (~30x slower)
    pool[:used].view(np.uint8)[:] = f.pool[:used].view(np.uint8)
    return f._replace(pool=pool)


def legacy_counters(counters: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """The counters of a checkpoint written before the pool kept a free list (2 counters:
    slots used, updates), with the free list rebuilt from the slots marked ``dead``."""
    if counters.shape[0] == N_COUNTERS:
        return counters
    used = int(counters[POOL_USED])
    free = np.flatnonzero(pool["dead"][:used] != 0)
    if free.size:
        pool["next"][free[:-1]] = free[1:]
        pool["next"][free[-1]] = -1
    head = int(free[0]) if free.size else -1
    return np.array([used, counters[UPDATES], head, free.size], dtype=np.int64)


@kernel_inline
def _decay(dt_ns, tau_ns):
    return np.exp(-max(dt_ns, 0) / tau_ns)


@kernel
def _roll_grid(rv_ring, st, p, inst, ts):
    """Close the grid intervals that ended before ``ts`` (previous-tick sampling)."""
    g = ts // p.grid_ns
    last = st.grid_idx
    if last < 0:
        st.grid_idx = g
        st.rv_ref = st.mid
        return
    if g <= last:
        return
    elapsed = g - last
    grid_s = p.grid_ns / NS_PER_S
    st.trade_rate = st.trades_cur / grid_s if elapsed == 1 else 0.0
    st.ofi_last = st.ofi_cur if elapsed == 1 else 0.0
    st.trades_cur = 0
    st.ofi_cur = 0.0
    m = rv_ring.shape[1]
    ref = st.rv_ref
    now_mid = st.mid
    pushes = 0
    if ref > 0.0 and now_mid > 0.0:  # NaN compares False: no return without two mids
        r = np.log(now_mid / ref)
        rv_ring[inst, st.rv_pos] = r * r
        st.rv_pos = (st.rv_pos + 1) % m
        pushes = 1
        # the intervals after the first saw no event: their returns are 0
        for _ in range(min(elapsed - 1, m)):
            rv_ring[inst, st.rv_pos] = 0.0
            st.rv_pos = (st.rv_pos + 1) % m
            pushes += 1
    if pushes > 0:
        st.rv_cnt = min(st.rv_cnt + pushes, m)
        total = 0.0
        for k in range(st.rv_cnt):
            total += rv_ring[inst, k]
        st.rv = np.sqrt(total)
    st.rv_ref = now_mid
    st.grid_idx = g


@kernel
def _vwap_evict(pool, counters, st, p, ts):
    h = st.vw_head
    cutoff = ts - p.vwap_window_ns
    while h >= 0 and pool[h].ts <= cutoff:
        st.vw_pv -= pool[h].pv
        st.vw_v -= pool[h].v
        nxt = pool[h].next
        pool[h].dead = 1  # onto the free list
        pool[h].next = counters[FREE_HEAD]
        counters[FREE_HEAD] = h
        counters[FREE_N] += 1
        h = nxt
    st.vw_head = h
    if h < 0:
        st.vw_tail = -1
        st.vw_pv = 0.0
        st.vw_v = 0.0
        st.vwap = np.nan
    else:
        st.vwap = st.vw_pv / st.vw_v


@kernel
def update_features(
    fs, profile, rv_ring, pool, counters, p, inst, ts, seq, kind, flags, trade_px, size,
    bpx, bsz, apx, asz,
):  # fmt: skip
    """Update instrument ``inst``'s features after an applied event.

    ``bpx, bsz, apx, asz`` are the best quotes after the event (``NO_BID``/``NO_ASK`` and 0
    for an empty side); ``trade_px`` the execution price of a trade (fixed point).
    """
    st = fs[inst]
    _roll_grid(rv_ring, st, p, inst, ts)
    # --- order flow imbalance (CKS 2014 e_n), not across a clear or a snapshot
    if kind != _CLEAR and (flags & _F_SNAPSHOT) == 0:
        pb, qb, pa, qa = st.prev_bpx, st.prev_bsz, st.prev_apx, st.prev_asz
        e = 0.0
        if bpx >= pb:
            e += bsz
        if bpx <= pb:
            e -= qb
        if apx <= pa:
            e -= asz
        if apx >= pa:
            e += qa
        st.ofi += e
        st.ofi_cur += e
    st.prev_bpx = bpx
    st.prev_bsz = bsz
    st.prev_apx = apx
    st.prev_asz = asz
    # --- spread: time-weighted EWMA of the previous value, then the new value and its z
    last_ts = st.last_ts
    prev = st.spread_bps
    if np.isfinite(prev):
        if np.isfinite(st.spread_ewma):
            mu = _decay(ts - last_ts, p.spread_tau_ns)
            st.spread_ewma = mu * st.spread_ewma + (1.0 - mu) * prev
        else:
            st.spread_ewma = prev
    st.last_ts = ts
    if bpx != NO_BID and apx != NO_ASK:
        mid = 0.5 * (bpx + apx) / PRICE_SCALE
        x = 1e4 * (apx - bpx) / PRICE_SCALE / mid if mid != 0.0 else np.nan
        st.mid = mid
        st.spread_bps = x
        if np.isfinite(x):
            bucket = (ts % NS_PER_DAY) // p.bucket_ns
            prof = profile[inst, bucket]
            n = prof.n
            m = prof.mean
            v = prof.var
            st.spread_z = (x - m) / np.sqrt(v) if n >= 2 and v > 0.0 else np.nan
            # exponentially weighted mean and variance (Finch 2009, "Incremental
            # calculation of weighted mean and variance"), equal weights for the first
            # 1/alpha observations
            a = max(p.profile_alpha, 1.0 / (n + 1))
            d = x - m
            inc = a * d
            prof.mean = m + inc
            prof.var = (1.0 - a) * (v + d * inc)
            prof.n = n + 1
    else:
        st.mid = np.nan
        st.spread_bps = np.nan
        st.spread_z = np.nan
    # --- trades: intensity and the VWAP window
    if kind == _TRADE:
        st.trades += 1
        st.trades_cur += 1
        lam = st.intensity
        tau_s = p.intensity_tau_ns / NS_PER_S
        if st.trades > 1:
            lam *= _decay(ts - st.intensity_ts, p.intensity_tau_ns)
        st.intensity = lam + 1.0 / tau_s
        st.intensity_ts = ts
        node = counters[FREE_HEAD]
        if node >= 0:  # a slot an evicted trade freed
            counters[FREE_HEAD] = pool[node].next
            counters[FREE_N] -= 1
        else:
            node = counters[POOL_USED]
            counters[POOL_USED] = node + 1
        px = trade_px / PRICE_SCALE
        st.last_px = px
        st.volume += size
        pool[node].ts = ts
        pool[node].pv = px * size
        pool[node].v = size
        pool[node].next = -1
        pool[node].dead = 0
        tail = st.vw_tail
        if tail >= 0:
            pool[tail].next = node
        else:
            st.vw_head = node
        st.vw_tail = node
        st.vw_pv += px * size
        st.vw_v += size
    if st.vw_head >= 0:
        _vwap_evict(pool, counters, st, p, ts)
    st.last_ts = ts
    st.last_seq = seq
    counters[UPDATES] += 1
