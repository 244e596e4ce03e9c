"""Microstructure features, updated event by event inside the batch kernel (numba).

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
  window empties.

Time-weighted EWMAs use the EMA operator for inhomogeneous time series with previous-point
interpolation (Zumbach & Müller 2001, "Operators on inhomogeneous time series", Int. J.
Theoretical and Applied Finance 4(1)): :math:`\\mathrm{EMA}_n = \\mu\\,\\mathrm{EMA}_{n-1} +
(1 - \\mu) z_{n-1}` with :math:`\\mu = e^{-(t_n - t_{n-1}) / \\tau}`, :math:`\\tau =
h / \\ln 2` for half-life :math:`h` — the exact EWMA of the piecewise-constant signal.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.events import PRICE_SCALE, EventFlag, EventKind

NO_BID = np.iinfo(np.int64).min  # price of an empty bid side for OFI (-inf)
NO_ASK = np.iinfo(np.int64).max  # price of an empty ask side for OFI (+inf)
POOL_USED, UPDATES = 0, 1  # counters[...]
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

FeatureArrays = namedtuple(
    "FeatureArrays",
    [
        # order flow imbalance: previous best quotes and sums
        "prev_bpx", "prev_bsz", "prev_apx", "prev_asz", "ofi", "ofi_cur", "ofi_last",
        # spread level, EWMA and intraday profile z-score
        "mid", "spread_bps", "spread_ewma", "spread_z", "spread_ts",
        "prof_mean", "prof_var", "prof_n",
        # trades
        "trades", "trades_cur", "trade_rate", "intensity", "intensity_ts",
        # realised volatility on the grid
        "grid_idx", "rv_ref", "rv_ring", "rv_pos", "rv_cnt", "rv",
        # rolling VWAP: per-instrument FIFO (head oldest) in a pool of trades
        "vwap", "vw_pv", "vw_v", "vw_head", "vw_tail",
        "vp_ts", "vp_pv", "vp_v", "vp_next", "vp_dead",
        # depth
        "depth_imbalance",
        "counters",
    ],
)  # fmt: skip


def new_feature_arrays(
    n_instruments: int, n_buckets: int, rv_window: int, pool: int
) -> FeatureArrays:
    """Empty feature state (NaN = not known yet)."""
    n = n_instruments

    def nan(*shape: int) -> np.ndarray:
        return np.full(shape, np.nan)

    def zeros(dtype: type = np.float64, *shape: int) -> np.ndarray:
        return np.zeros(shape or (n,), dtype=dtype)

    return FeatureArrays(
        prev_bpx=np.full(n, NO_BID, dtype=np.int64),
        prev_bsz=zeros(),
        prev_apx=np.full(n, NO_ASK, dtype=np.int64),
        prev_asz=zeros(),
        ofi=zeros(),
        ofi_cur=zeros(),
        ofi_last=zeros(),
        mid=nan(n),
        spread_bps=nan(n),
        spread_ewma=nan(n),
        spread_z=nan(n),
        spread_ts=zeros(np.int64),
        prof_mean=zeros(np.float64, n, n_buckets),
        prof_var=zeros(np.float64, n, n_buckets),
        prof_n=zeros(np.int64, n, n_buckets),
        trades=zeros(np.int64),
        trades_cur=zeros(np.int64),
        trade_rate=zeros(),
        intensity=zeros(),
        intensity_ts=zeros(np.int64),
        grid_idx=np.full(n, -1, dtype=np.int64),
        rv_ref=nan(n),
        rv_ring=zeros(np.float64, n, rv_window),
        rv_pos=zeros(np.int64),
        rv_cnt=zeros(np.int64),
        rv=nan(n),
        vwap=nan(n),
        vw_pv=zeros(),
        vw_v=zeros(),
        vw_head=np.full(n, -1, dtype=np.int64),
        vw_tail=np.full(n, -1, dtype=np.int64),
        vp_ts=zeros(np.int64, pool),
        vp_pv=zeros(np.float64, pool),
        vp_v=zeros(np.float64, pool),
        vp_next=np.full(pool, -1, dtype=np.int64),
        vp_dead=np.zeros(pool, dtype=np.bool_),
        depth_imbalance=nan(n),
        counters=np.zeros(2, dtype=np.int64),
    )


def compact_pool(f: FeatureArrays, extra: int) -> FeatureArrays:
    """Drop evicted trades from the VWAP pool and make room for ``extra`` more.

    Returns a new :class:`FeatureArrays` (pool arrays replaced; everything else shared) whose
    pool holds the live trades first, in their original order, links remapped.
    """
    used = int(f.counters[POOL_USED])
    keep = ~f.vp_dead[:used]
    live = int(keep.sum())
    cap = f.vp_ts.shape[0]
    while cap < 2 * (live + extra):  # at most half full after compaction: amortised O(1)
        cap *= 2
    new_index = np.cumsum(keep) - 1
    nxt = f.vp_next[:used][keep]
    vp_next = np.full(cap, -1, dtype=np.int64)
    vp_next[:live] = np.where(nxt >= 0, new_index[np.maximum(nxt, 0)], -1)
    for name in ("vw_head", "vw_tail"):
        arr = getattr(f, name)
        has = arr >= 0
        arr[has] = new_index[arr[has]]
    out = {}
    for name, dtype in (("vp_ts", np.int64), ("vp_pv", np.float64), ("vp_v", np.float64)):
        a = np.zeros(cap, dtype=dtype)
        a[:live] = getattr(f, name)[:used][keep]
        out[name] = a
    f.counters[POOL_USED] = live
    return f._replace(vp_next=vp_next, vp_dead=np.zeros(cap, dtype=np.bool_), **out)


@njit(cache=True, inline="always")
def _decay(dt_ns, tau_ns):
    return np.exp(-max(dt_ns, 0) / tau_ns)


@njit(cache=True)
def _roll_grid(f, p, inst, ts):
    """Close the grid intervals that ended before ``ts`` (previous-tick sampling)."""
    g = ts // p.grid_ns
    last = f.grid_idx[inst]
    if last < 0:
        f.grid_idx[inst] = g
        f.rv_ref[inst] = f.mid[inst]
        return
    if g <= last:
        return
    elapsed = g - last
    grid_s = p.grid_ns / NS_PER_S
    f.trade_rate[inst] = f.trades_cur[inst] / grid_s if elapsed == 1 else 0.0
    f.ofi_last[inst] = f.ofi_cur[inst] if elapsed == 1 else 0.0
    f.trades_cur[inst] = 0
    f.ofi_cur[inst] = 0.0
    m = f.rv_ring.shape[1]
    ref = f.rv_ref[inst]
    now_mid = f.mid[inst]
    pushes = 0
    if ref > 0.0 and now_mid > 0.0:  # NaN compares False: no return without two mids
        r = np.log(now_mid / ref)
        f.rv_ring[inst, f.rv_pos[inst]] = r * r
        f.rv_pos[inst] = (f.rv_pos[inst] + 1) % m
        pushes = 1
        # the intervals after the first saw no event: their returns are 0
        for _ in range(min(elapsed - 1, m)):
            f.rv_ring[inst, f.rv_pos[inst]] = 0.0
            f.rv_pos[inst] = (f.rv_pos[inst] + 1) % m
            pushes += 1
    if pushes > 0:
        f.rv_cnt[inst] = min(f.rv_cnt[inst] + pushes, m)
        total = 0.0
        for k in range(f.rv_cnt[inst]):
            total += f.rv_ring[inst, k]
        f.rv[inst] = np.sqrt(total)
    f.rv_ref[inst] = now_mid
    f.grid_idx[inst] = g


@njit(cache=True)
def _vwap_evict(f, p, inst, ts):
    h = f.vw_head[inst]
    cutoff = ts - p.vwap_window_ns
    while h >= 0 and f.vp_ts[h] <= cutoff:
        f.vw_pv[inst] -= f.vp_pv[h]
        f.vw_v[inst] -= f.vp_v[h]
        f.vp_dead[h] = True
        h = f.vp_next[h]
    f.vw_head[inst] = h
    if h < 0:
        f.vw_tail[inst] = -1
        f.vw_pv[inst] = 0.0
        f.vw_v[inst] = 0.0
        f.vwap[inst] = np.nan
    else:
        f.vwap[inst] = f.vw_pv[inst] / f.vw_v[inst]


@njit(cache=True)
def update_features(f, p, inst, ts, kind, flags, trade_px, size, bpx, bsz, apx, asz):
    """Update instrument ``inst``'s features after an applied event.

    ``bpx, bsz, apx, asz`` are the best quotes after the event (``NO_BID``/``NO_ASK`` and 0
    for an empty side); ``trade_px`` the execution price of a trade (fixed point).
    """
    _roll_grid(f, p, inst, ts)
    # --- order flow imbalance (CKS 2014 e_n), not across a clear or a snapshot
    if kind != _CLEAR and (flags & _F_SNAPSHOT) == 0:
        pb, qb, pa, qa = f.prev_bpx[inst], f.prev_bsz[inst], f.prev_apx[inst], f.prev_asz[inst]
        e = 0.0
        if bpx >= pb:
            e += bsz
        if bpx <= pb:
            e -= qb
        if apx <= pa:
            e -= asz
        if apx >= pa:
            e += qa
        f.ofi[inst] += e
        f.ofi_cur[inst] += e
    f.prev_bpx[inst] = bpx
    f.prev_bsz[inst] = bsz
    f.prev_apx[inst] = apx
    f.prev_asz[inst] = asz
    # --- spread: time-weighted EWMA of the previous value, then the new value and its z
    last_ts = f.spread_ts[inst]
    prev = f.spread_bps[inst]
    if np.isfinite(prev):
        if np.isfinite(f.spread_ewma[inst]):
            mu = _decay(ts - last_ts, p.spread_tau_ns)
            f.spread_ewma[inst] = mu * f.spread_ewma[inst] + (1.0 - mu) * prev
        else:
            f.spread_ewma[inst] = prev
    f.spread_ts[inst] = ts
    if bpx != NO_BID and apx != NO_ASK:
        mid = 0.5 * (bpx + apx) / PRICE_SCALE
        x = 1e4 * (apx - bpx) / PRICE_SCALE / mid if mid != 0.0 else np.nan
        f.mid[inst] = mid
        f.spread_bps[inst] = x
        if np.isfinite(x):
            bucket = (ts % NS_PER_DAY) // p.bucket_ns
            n = f.prof_n[inst, bucket]
            m = f.prof_mean[inst, bucket]
            v = f.prof_var[inst, bucket]
            f.spread_z[inst] = (x - m) / np.sqrt(v) if n >= 2 and v > 0.0 else np.nan
            # exponentially weighted mean and variance (Finch 2009, "Incremental
            # calculation of weighted mean and variance"), equal weights for the first
            # 1/alpha observations
            a = max(p.profile_alpha, 1.0 / (n + 1))
            d = x - m
            inc = a * d
            f.prof_mean[inst, bucket] = m + inc
            f.prof_var[inst, bucket] = (1.0 - a) * (v + d * inc)
            f.prof_n[inst, bucket] = n + 1
    else:
        f.mid[inst] = np.nan
        f.spread_bps[inst] = np.nan
        f.spread_z[inst] = np.nan
    # --- trades: intensity and the VWAP window
    if kind == _TRADE:
        f.trades[inst] += 1
        f.trades_cur[inst] += 1
        lam = f.intensity[inst]
        tau_s = p.intensity_tau_ns / NS_PER_S
        if f.trades[inst] > 1:
            lam *= _decay(ts - f.intensity_ts[inst], p.intensity_tau_ns)
        f.intensity[inst] = lam + 1.0 / tau_s
        f.intensity_ts[inst] = ts
        node = f.counters[POOL_USED]
        f.counters[POOL_USED] = node + 1
        px = trade_px / PRICE_SCALE
        f.vp_ts[node] = ts
        f.vp_pv[node] = px * size
        f.vp_v[node] = size
        f.vp_next[node] = -1
        f.vp_dead[node] = False
        tail = f.vw_tail[inst]
        if tail >= 0:
            f.vp_next[tail] = node
        else:
            f.vw_head[inst] = node
        f.vw_tail[inst] = node
        f.vw_pv[inst] += px * size
        f.vw_v[inst] += size
    if f.vw_head[inst] >= 0:
        _vwap_evict(f, p, inst, ts)
    f.counters[UPDATES] += 1
