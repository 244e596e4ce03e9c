"""Microstructure features against hand computations from their published definitions and
against brute force."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.clock import NS_PER_S
from riskstream.md import Reason
from tests.md.helpers import ADD, CANCEL, QUOTE, T0, TRADE, engine, make_events


def test_ofi_matches_hand_computation_from_cks_2014():
    """Order flow imbalance e_n of Cont, Kukanov & Stoikov (2014), "The price impact of order
    book events", J. Financial Econometrics 12(1), Section 2 (arXiv:1011.6402):
    e_n = 1{Pb_n >= Pb_n-1} qb_n - 1{Pb_n <= Pb_n-1} qb_n-1
        - 1{Pa_n <= Pa_n-1} qa_n + 1{Pa_n >= Pa_n-1} qa_n-1, an empty side at -inf/+inf, size 0.
    Each step's e_n below is worked by hand (exact; tolerance 0)."""
    rows = [
        dict(kind=ADD, side=1, price=100.0, size=10, oid=1),  # bid appears: +10
        dict(kind=ADD, side=-1, price=101.0, size=8, oid=2),  # ask appears: -8
        dict(kind=ADD, side=1, price=100.0, size=5, oid=3),  # bid queue 10 -> 15: +15 - 10
        dict(kind=ADD, side=1, price=100.5, size=3, oid=4),  # bid improves: +3
        dict(kind=TRADE, side=-1, size=2, oid=2),  # ask queue 8 -> 6: -6 + 8
        dict(kind=CANCEL, oid=4),  # bid falls back to 100 x 15: -3
        dict(kind=ADD, side=-1, price=100.75, size=4, oid=5),  # ask improves: -4
    ]
    hand = [10, -8, 5, 3, 2, -3, -4]
    eng = engine()
    eng.process(make_events(rows, step_ns=1_000))  # all inside one 1 s grid interval
    assert eng.features.ofi[0] == sum(hand) == 5
    # the next grid interval closes the first one: ofi_last is its sum
    eng.process(
        make_events(
            [dict(kind=ADD, side=-1, price=102.0, size=1, oid=6, seq=8, ts=T0 + 2 * NS_PER_S)]
        )
    )
    assert eng.features.ofi_last[0] == 0.0  # the interval just closed (1 s .. 2 s) was empty
    assert eng.features.ofi[0] == 5  # a level behind the best changes no best quote: e = 0


def test_ofi_last_is_the_sum_over_the_last_interval():
    eng = engine()
    eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=100.0, size=10, oid=1, ts=T0 + 100),
                dict(kind=ADD, side=-1, price=101.0, size=4, oid=2, ts=T0 + 200),
                dict(kind=ADD, side=1, price=100.0, size=1, oid=3, ts=T0 + NS_PER_S + 1),
            ]
        )
    )
    assert eng.features.ofi_last[0] == 10 - 4
    assert eng.features.ofi[0] == 10 - 4 + 1


def _brute_vwap(trades, t, window_ns):
    inside = [(p, v) for ts, p, v in trades if t - window_ns < ts <= t]
    if not inside:
        return math.nan
    return sum(p * v for p, v in inside) / sum(v for _, v in inside)


def test_vwap_window_boundary_by_hand():
    s = NS_PER_S
    eng = engine()
    eng.process(
        make_events(
            [
                dict(kind=TRADE, side=1, price=10.0, size=1, ts=T0),
                dict(kind=TRADE, side=1, price=20.0, size=3, ts=T0 + 30 * s),
                dict(kind=TRADE, side=1, price=30.0, size=1, ts=T0 + 60 * s),
            ]
        )
    )
    # window (t - 60 s, t]: the trade at exactly t - 60 s is out; (20*3 + 30*1) / 4
    assert eng.features.vwap[0] == 22.5
    eng.process(make_events([dict(kind=QUOTE, side=1, price=1.0, size=1, ts=T0 + 91 * s,
                                  seq=4)]))  # fmt: skip
    assert eng.features.vwap[0] == 30.0
    eng.process(make_events([dict(kind=QUOTE, side=1, price=1.0, size=1, ts=T0 + 121 * s,
                                  seq=5)]))  # fmt: skip
    assert np.isnan(eng.features.vwap[0])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),  # instrument
            st.integers(0, 40 * NS_PER_S),  # time step
            st.integers(1, 5000),  # price in cents
            st.integers(1, 1000),  # size
            st.booleans(),  # a trade, or a quote that only moves time
        ),
        min_size=1,
        max_size=150,
    ),
    st.integers(1, 40),
)
def test_vwap_is_exact_against_brute_force(steps, batch):
    """Exact time-window VWAP vs brute force over every trade (relative tolerance 1e-12 for
    the running-sum rounding; window membership must be exact)."""
    eng = engine(n=3, vwap_capacity=16)  # a tiny pool: compaction and growth are exercised
    rows, trades, t = [], {0: [], 1: [], 2: []}, T0
    for inst, dt, cents, size, is_trade in steps:
        t += dt
        if is_trade:
            rows.append(dict(kind=TRADE, side=1, price=cents / 100, size=size, inst=inst, ts=t))
            trades[inst].append((t, cents / 100, float(size)))
        else:
            rows.append(dict(kind=QUOTE, side=1, price=1.0, size=1, inst=inst, ts=t))
    events = make_events(rows)
    last_t = {}
    for a in range(0, len(events), batch):
        chunk = events[a : a + batch]
        assert eng.process(chunk).quarantined == 0
        for e in chunk:
            last_t[int(e["instrument_id"])] = int(e["ts_event"])
        for inst, ts in last_t.items():
            want = _brute_vwap(trades[inst], ts, 60 * NS_PER_S)
            got = eng.features.vwap[inst]
            assert (np.isnan(want) and np.isnan(got)) or math.isclose(got, want, rel_tol=1e-12)


def test_spread_ewma_and_intraday_zscore():
    """Time-weighted EWMA with previous-point interpolation (Zumbach & Müller 2001):
    EMA_n = mu EMA_n-1 + (1 - mu) z_n-1, mu = 2^(-dt / half-life); profile z-score against
    the bucket's running mean and population variance (equal weights for the first 1/alpha
    observations). Expected values computed here by hand (tolerance 1e-12)."""
    s = NS_PER_S
    eng = engine(spread_halflife_s=30.0)
    asks = [100.10, 100.12, 100.14, 100.16]
    rows = [dict(kind=QUOTE, side=1, price=100.0, size=1, ts=T0)]
    rows += [
        dict(kind=QUOTE, side=-1, price=a, size=1, ts=T0 + (1 + 30 * k) * s)
        for k, a in enumerate(asks)
    ]
    eng.process(make_events(rows))
    x = [1e4 * (a - 100.0) / ((a + 100.0) / 2) for a in asks]
    f = eng.features
    assert math.isclose(f.spread_bps[0], x[-1], rel_tol=1e-12)
    ema = x[0]  # seeded by the first value once it has been held
    for k in range(1, 3):
        ema = 0.5 * ema + 0.5 * x[k]  # 30 s = one half-life
    assert math.isclose(f.spread_ewma[0], ema, rel_tol=1e-12)
    prior = np.array(x[:3])
    z = (x[3] - prior.mean()) / prior.std()
    assert math.isclose(f.spread_z[0], z, rel_tol=1e-9)


def test_realised_volatility_on_the_grid():
    """RV = sqrt(sum r_k^2) of previous-tick grid returns (Andersen, Bollerslev, Diebold &
    Labys 2001); mids 100 -> 101 -> 99 sampled on a 1 s grid, by hand (tolerance 1e-12)."""
    s = NS_PER_S

    def quotes(mid, t, seq, down=False):
        # move the side that goes away from the other first, so the book never crosses
        sides = [(1, mid - 0.5), (-1, mid + 0.5)]
        if not down:
            sides.reverse()
        return [
            dict(kind=QUOTE, side=side, price=px, size=1, ts=t + k, seq=seq + k)
            for k, (side, px) in enumerate(sides)
        ]

    eng = engine(rv_window=60)
    rows = quotes(100.0, T0 + s // 10, 1) + quotes(101.0, T0 + 12 * s // 10, 3)
    rows += quotes(99.0, T0 + 25 * s // 10, 5, down=True)
    rows.append(dict(kind=QUOTE, side=1, price=98.0, size=1, ts=T0 + 41 * s // 10, seq=7))
    assert eng.process(make_events(rows)).quarantined == 0
    want = math.sqrt(math.log(101 / 100) ** 2 + math.log(99 / 101) ** 2)
    assert math.isclose(eng.features.rv[0], want, rel_tol=1e-12)  # the empty seconds add 0
    eng2 = engine(rv_window=2)
    eng2.process(make_events(rows))
    # the window keeps the last two grid returns: log(99/101) and the empty 3 s .. 4 s
    assert math.isclose(eng2.features.rv[0], abs(math.log(99 / 101)), rel_tol=1e-12)


def test_trade_intensity_and_rate():
    s = NS_PER_S
    eng = engine(intensity_halflife_s=10.0)
    rows = [dict(kind=TRADE, side=1, price=10.0, size=1, ts=T0 + k * s // 4) for k in range(3)]
    rows.append(dict(kind=QUOTE, side=1, price=9.0, size=1, ts=T0 + s + 1))
    eng.process(make_events(rows))
    tau = 10.0 / math.log(2)
    # lambda = sum over trades of exp(-(t_last - t_k)/tau) / tau, trades 0.25 s apart
    want = (1 + math.exp(-0.25 / tau) + math.exp(-0.5 / tau)) / tau
    assert math.isclose(eng.features.intensity[0], want, rel_tol=1e-12)
    assert eng.features.trade_rate[0] == 3.0  # 3 trades in the last complete second
    assert eng.features.trades[0] == 3


def test_depth_imbalance():
    eng = engine()
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=100.0, size=10, oid=1),
                dict(kind=ADD, side=1, price=99.0, size=12, oid=2),
                dict(kind=ADD, side=-1, price=101.0, size=6, oid=3),
            ]
        )
    )
    assert r.reason.tolist() == [Reason.ACCEPTED] * 3
    assert eng.features.depth_imbalance[0] == (22 - 6) / 28


def _running_sums(trades_by_inst, window_ns):
    """The rolling-VWAP arithmetic as md has always done it, in plain Python: per
    instrument a FIFO of (ts, price*size, size); ``pv``/``v`` add a trade when it arrives
    and subtract the oldest ones, in order, once they leave (t - W, t]; both reset to
    exactly 0 when the window empties. Independent of any pool layout."""
    from collections import deque

    state = {}
    for inst, events in trades_by_inst.items():
        fifo, pv, v = deque(), 0.0, 0.0
        for ts, is_trade, px, size in events:
            if is_trade:
                fifo.append((ts, px * size, size))
                pv += px * size
                v += size
            if fifo:
                while fifo and fifo[0][0] <= ts - window_ns:
                    _, p, s = fifo.popleft()
                    pv -= p
                    v -= s
                if not fifo:
                    pv = v = 0.0
        state[inst] = (pv, v, pv / v if fifo else math.nan, len(fifo))
    return state


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # instrument
            st.integers(0, 20 * NS_PER_S),  # time step
            st.integers(1, 5000),  # price in cents
            st.integers(1, 1000),  # size
            st.integers(0, 3),  # 0: a quote that only moves time; else a trade
        ),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 60),
)
def test_vwap_pool_reuse_keeps_the_running_sums_bit_for_bit(steps, batch):
    """The trade pool's free list (evicted slots reused, the pool grown by doubling only
    when the windows' trades outgrow it) changes where trades are stored, never the sums:
    ``vw_pv``, ``vw_v`` and ``vwap`` equal the same additions and subtractions done in
    plain Python exactly (tolerance 0: the same floating-point operations in the same
    order). The pool stays at most twice the largest number of trades the windows and one
    batch held (rounded up to a power of two), and its free list holds exactly the
    slots not in any window."""
    window = 60 * NS_PER_S
    eng = engine(n=4, vwap_capacity=16)  # a tiny pool: growth and reuse on every stream
    rows, by_inst, t = [], {i: [] for i in range(4)}, T0
    for inst, dt, cents, size, trade in steps:
        t += dt
        kind = TRADE if trade else QUOTE
        rows.append(dict(kind=kind, side=1, price=cents / 100, size=size, inst=inst, ts=t))
    events = make_events(rows)
    most = 0
    for a in range(0, len(events), batch):
        chunk = events[a : a + batch]
        assert eng.process(chunk).quarantined == 0
        for e in chunk:
            inst = int(e["instrument_id"])
            px = int(e["price"]) / 1e9  # the kernel's decimal price (fixed point 1e-9)
            by_inst[inst].append((int(e["ts_event"]), e["kind"] == TRADE, px, float(e["size"])))
        want = _running_sums(by_inst, window)
        f = eng.features
        live = 0
        for inst, (pv, v, vwap, n) in want.items():
            assert f.vw_pv[inst] == pv and f.vw_v[inst] == v
            assert (np.isnan(vwap) and np.isnan(f.vwap[inst])) or f.vwap[inst] == vwap
            live += n
        most = max(most, live + int(np.sum(chunk["kind"] == TRADE)))
        counters = eng._features.counters
        used, free = int(counters[0]), int(counters[3])
        assert used - free == live  # every slot is in one window or on the free list
        assert int(np.sum(eng._features.pool["dead"][:used])) == free
        bound = 1 << max(4, int(np.ceil(np.log2(max(2 * most, 1)))))
        assert eng._features.pool.shape[0] <= bound


def test_a_checkpoint_from_before_the_free_list_restores_and_continues_exactly():
    """A checkpoint written when the pool had two counters (slots used, updates) and
    compacted instead of reusing slots: restored, its evicted slots form the free list and
    the features go on exactly as in a run that was never checkpointed."""
    s = NS_PER_S
    rows = [
        dict(kind=TRADE, side=1, price=10.0 + i % 7, size=1 + i % 3, inst=i % 2, ts=T0 + i * 7 * s)
        for i in range(60)
    ]
    events = make_events(rows)
    straight = engine(n=2, vwap_capacity=16)
    straight.process(events)
    first = engine(n=2, vwap_capacity=16)
    first.process(events[:30])
    saved = first.state()
    saved["features.counters"] = saved["features.counters"][:2]  # the old layout
    saved["features.pool"]["next"][saved["features.pool"]["dead"] == 1] = -1
    resumed = engine(n=2, vwap_capacity=16)
    resumed.restore(saved)
    assert int(resumed._features.counters[3]) == int(np.sum(saved["features.pool"]["dead"]))
    resumed.process(events[30:])
    for name in ("vw_pv", "vw_v", "vwap", "volume", "last_px"):
        np.testing.assert_array_equal(
            getattr(resumed.features, name), getattr(straight.features, name)
        )


def test_the_pool_grows_into_the_spare_made_ready_ahead_and_keeps_its_trades():
    """Past three quarters full, the next pool (four times the size) is allocated and
    written ahead of need; the growth then copies the used slots into it, indices
    unchanged."""
    from riskstream.md import features as ft

    f = ft.new_feature_arrays(2, 48, 4, 16)
    f.pool["ts"][:13] = np.arange(13)
    f.pool["next"][:12] = np.arange(1, 13)
    f.counters[ft.POOL_USED] = 13  # 13 of 16 slots live: past three quarters
    spare = ft.SparePool()
    spare.prepare(f, trades=1)
    assert spare.array is not None and spare.array.shape[0] == 64
    assert spare.touched == 16 * ft.POOL_DTYPE.itemsize  # the part the copy writes
    ready = spare.array
    grown = ft.grow_pool(f, extra=4, spare=spare)
    assert grown.pool is ready and spare.array is None
    np.testing.assert_array_equal(grown.pool[:13], f.pool[:13])
    assert ft.pool_room(grown) >= 4
