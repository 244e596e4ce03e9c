"""The order-flow kernels: agreement with the plain-Python twin, and the stream invariants
(replayed through an independent reference book) under random markets (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.core.events import empty_events
from riskstream.feeds.config import FlashCrashConfig, SimulatorConfig
from riskstream.feeds.orderflow import (
    ASK,
    BID,
    MAX_EVENTS_PER_ARRIVAL,
    SLOTS,
    _insert,
    _remove,
    generate_events,
    snapshot_events,
    snapshot_size,
)
from riskstream.feeds.simulator import MarketSimulator
from tests.feeds.conftest import collect
from tests.feeds.reference_book import Replay
from tests.feeds.twin_orderflow import Inputs, Twin, TwinState


def _fresh_state(n: int):
    book = (
        np.zeros((n, 2, SLOTS), dtype=np.uint64),
        np.zeros((n, 2, SLOTS), dtype=np.int64),
        np.zeros((n, 2, SLOTS), dtype=np.int64),
        np.zeros((n, 2, SLOTS), dtype=np.int64),
        np.zeros((n, 2), dtype=np.int64),
        np.ones(n, dtype=np.uint64),
        np.zeros(1, dtype=np.int64),
    )
    quotes = (np.zeros((n, 2), dtype=np.int64), np.zeros((n, 2), dtype=np.int64))
    return book, quotes


def test_kernel_agrees_with_python_twin(universe):
    """Snapshot and several market steps (with fair-value jumps that force sweeps and a
    spread widening that forces re-quotes): the numba kernel and the Python twin emit the
    same events from the same uniforms, bit for bit."""
    sim = MarketSimulator(universe, SimulatorConfig(seed=11, events_per_s=4000))
    n = len(universe)
    fair, half, order_lots, trade_lots, n_target = (p.copy() for p in sim._params)
    seq = np.zeros(n, dtype=np.uint64)
    _, source, tick_fixed, lot, latency, jitter = sim._sim
    consts = (seq, source, tick_fixed, lot, latency, jitter)
    params = (fair, half, order_lots, trade_lots, n_target)
    is_l3 = sim._is_l3
    book, quotes = _fresh_state(n)
    rng = np.random.default_rng(5)
    u = rng.random(400_000)

    def inputs() -> Inputs:
        return Inputs(
            fair.tolist(), half.tolist(), order_lots.tolist(), trade_lots.tolist(),
            n_target.tolist(), is_l3.tolist(), tick_fixed.tolist(), lot.tolist(),
            source.tolist(), latency.tolist(), jitter.tolist(),
        )  # fmt: skip

    twin = Twin(TwinState(n), inputs(), u)
    out = empty_events(snapshot_size(n_target))
    t0 = sim.start_ns
    count, pos = snapshot_events(out, t0, u, is_l3, book, quotes, params, consts)
    twin.snapshot(t0)
    np.testing.assert_array_equal(out[:count], twin.array())
    assert pos == twin.pos

    t = t0
    buffer = empty_events(3000 + MAX_EVENTS_PER_ARRIVAL)
    rate = 4000 / 1e9
    total = 0
    for step in range(12):
        # Move the market: small moves, every third step a jump of several spreads, and a
        # widening of spreads with thinner books in the middle steps.
        move = rng.normal(0.0, 2.0, n) + (6.0 * rng.choice([-1, 1], n) if step % 3 == 2 else 0)
        fair[:] = np.maximum(fair + move * half, 0.3)
        half[:] = half * (3.0 if step == 5 else 1.0 / 3.0 if step == 8 else 1.0)
        n_target[:] = np.where(step in (5, 6, 7), 2, 5)
        twin.p = inputs()
        twin.events.clear()
        twin.pos = pos
        count, t_kernel, pos = generate_events(
            buffer, 0, 3000, t, t + 2 * 10**8, rate, u, pos, sim._cum_weight, is_l3, book,
            quotes, params, consts,
        )  # fmt: skip
        t = twin.generate(3000, t, t + 2 * 10**8, rate, sim._cum_weight)
        np.testing.assert_array_equal(buffer[:count], twin.array(), err_msg=f"step {step}")
        assert (t_kernel, pos) == (t, twin.pos)
        total += count
    assert total > 5000
    # The final books agree too.
    for i in np.flatnonzero(is_l3):
        kernel_orders = {
            int(book[0][i, s, k]): (1 - 2 * s, int(book[1][i, s, k]), int(book[2][i, s, k]))
            for s in (0, 1)
            for k in range(book[4][i, s])
        }
        twin_orders = {oid: (o.side, o.price, o.lots) for oid, o in twin.s.orders[i].items()}
        assert kernel_orders == twin_orders


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    events_per_s=st.sampled_from([300.0, 3000.0, 30000.0]),
    step_ms=st.sampled_from([10.0, 100.0, 1000.0]),
    crash=st.booleans(),
)
def test_stream_invariants_hold_for_any_market(universe, seed, events_per_s, step_ms, crash):
    """Replayed through an independent reference book, every simulated stream keeps the
    invariants: SIMULATED flag, tick grid, seq contiguous per (source, instrument) from 1,
    ts_event non-decreasing, ts_recv >= ts_event, opening CLEAR + snapshot, adds with new
    ids, modifies/cancels/trades only on live orders with their side, trades at most the
    remaining size and in price-time priority, books and quotes never crossed or locked."""
    config = SimulatorConfig(
        seed=seed, events_per_s=events_per_s, step_ms=step_ms, batch_events=1000,
        flash_crash=FlashCrashConfig(at_s=1.0, fall_s=4.0, trough_s=2.0, recovery_s=4.0),
    )  # fmt: skip
    sim = MarketSimulator(universe, config, scenario="flash-crash" if crash else None)
    events = collect(sim, 15_000 / events_per_s + 2.0)
    replay = Replay(sim._sim[2], sim._is_l3)
    replay.apply(events)
    assert replay.trades > 0
    assert len(replay.books) == len(universe)


@settings(max_examples=60, deadline=None)
@given(
    resting=st.lists(st.tuples(st.integers(1, 500), st.integers(1, 50)), max_size=SLOTS - 1),
    px=st.integers(1, 500),
    lots=st.integers(1, 50),
)
def test_insert_rests_at_the_back_and_remove_undoes_it(resting, px, lots):
    # _insert (the one way an order comes to rest: honest arrivals and manipulators alike)
    # appends at the back of the queue with the instrument's next order id and the next
    # priority; removing that slot gives back the book as it was, array for array.
    ob_id = np.zeros((1, 2, SLOTS), np.uint64)
    ob_px = np.zeros((1, 2, SLOTS), np.int64)
    ob_lots = np.zeros((1, 2, SLOTS), np.int64)
    ob_prio = np.zeros((1, 2, SLOTS), np.int64)
    ob_n = np.zeros((1, 2), np.int64)
    next_oid = np.ones(1, np.uint64)
    prio = np.zeros(1, np.int64)
    for p, q in resting:
        _insert(ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio, 0, BID, p, q)
    before = [a.copy() for a in (ob_id, ob_px, ob_lots, ob_prio, ob_n)]
    oid = _insert(ob_id, ob_px, ob_lots, ob_prio, ob_n, next_oid, prio, 0, BID, px, lots)
    k = len(resting)
    assert oid == k + 1 == next_oid[0] - 1
    assert (ob_n[0, BID], ob_px[0, BID, k], ob_lots[0, BID, k]) == (k + 1, px, lots)
    assert ob_prio[0, BID, k] == prio[0] - 1 > (ob_prio[0, BID, :k].max() if k else -1)
    _remove(ob_id, ob_px, ob_lots, ob_prio, ob_n, 0, BID, k)
    assert ob_n[0, BID] == k and ob_n[0, ASK] == 0
    for got, want in zip((ob_id, ob_px, ob_lots, ob_prio, ob_n), before, strict=True):
        np.testing.assert_array_equal(got[..., :k] if got.ndim == 3 else got,
                                      want[..., :k] if want.ndim == 3 else want)  # fmt: skip
