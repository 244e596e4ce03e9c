"""The runtime's nodes in one process (memory bus, MemoryTopics): the feed on the wall clock,
md's deltas rebuilding its market state in a reader, the risk node's conflated refreshes
and per-event latencies, and the latency histograms themselves."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from riskstream.bus import BusConfig, MemoryCheckpointStore, open_bus
from riskstream.bus.topics import MemoryTopics
from riskstream.core.messages import SUBJECTS, MarketStateDelta, Quarantined
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md.config import MdConfig
from riskstream.risk.stage import RiskStage
from riskstream.runtime.config import RuntimeConfig
from riskstream.runtime.feed import FeedNode
from riskstream.runtime.latency import EDGES_S, LatencyHistogram, percentile_s
from riskstream.runtime.md import DELTA_COLUMNS, MdNode
from riskstream.runtime.readers import DeltaReader
from riskstream.runtime.risk import MarketClock, RiskNode
from tests.risk.helpers import make_engine, make_universe, market_from_ref


def test_histogram_percentiles_match_numpy_within_half_a_bucket() -> None:
    # Source: numpy's percentile of the raw values; tolerance: a bucket spans a factor
    # 10**(1/20) = 1.122, so a geometric interpolation inside it is within 6%.
    rng = np.random.default_rng(1)
    lat_ns = rng.lognormal(np.log(2e6), 0.8, 200_000)
    h = LatencyHistogram()
    for part in np.array_split(lat_ns, 7):  # filled in bulk, batch by batch
        h.add(part)
    assert h.total == pytest.approx(len(lat_ns))
    assert h.sum_s == pytest.approx(lat_ns.sum() / 1e9)
    for q in (50, 99, 99.9):
        assert percentile_s(h.counts, q) == pytest.approx(np.percentile(lat_ns, q) / 1e9, rel=0.06)
    # a sample standing for many events weighs as much as they do
    w = LatencyHistogram()
    w.add(np.array([1e6, 1e8]), weight=np.array([99.0, 1.0]))
    assert percentile_s(w.counts, 50) == pytest.approx(1e-3, rel=0.06)
    assert percentile_s(LatencyHistogram().counts, 50) is None
    assert EDGES_S[0] > 1e-6 and EDGES_S[-1] == pytest.approx(100.0)


def _md_pipeline(n: int = 50, speed: float | None = 2.0):
    universe = generate_universe(UniverseConfig(instruments=n, seed=5))
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, events_per_s=20_000, batch_events=512))
    bus = open_bus(BusConfig(partitions=2))
    topics = MemoryTopics()
    cfg = RuntimeConfig(delta_interval_ms=2.0, keyframe_s=60.0, delta_max_rows=16)
    md = MdNode(n, MdConfig(), cfg, bus, topics, MemoryCheckpointStore())
    feed = FeedNode(sim.batches(), bus, speed=speed, tick_ms=2.0)
    return universe, sim, bus, topics, md, feed


def test_md_sends_a_delta_that_falls_due_inside_a_round_of_many_messages() -> None:
    """md's deltas go every ``delta_interval_ms`` of wall time even when one fetch brings
    many messages (at 500k events/s a round of 65k events takes ~0.1 s): a delta due
    between two messages is sent then, not when the round ends."""
    universe = generate_universe(UniverseConfig(instruments=50, seed=5))
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, batch_events=512))
    bus = open_bus(BusConfig(partitions=1))
    topics = MemoryTopics()
    wall = iter(range(0, 1 << 62, 1_000_000))  # the wall clock: 1 ms passes per reading
    cfg = RuntimeConfig(delta_interval_ms=5.0, keyframe_s=60.0)
    md = MdNode(50, MdConfig(), cfg, bus, topics, MemoryCheckpointStore(), lambda: next(wall))
    for _ in range(8):
        bus.publish(sim.next_batch())
    market = topics.subscribe(SUBJECTS["market"], start_after=0)
    assert md.consumer.poll(0.01) == 8  # one round, 8 messages; md's step not involved
    deltas = [delta for _, delta in market.fetch(100)]
    assert len(deltas) >= 2  # >= 8 ms of wall time passed over the round
    assert sum(d.events for d in deltas) + md._events_pending == md.stage.events == 8 * 512
    md.consumer.close()


def test_feed_is_paced_by_the_wall_clock_and_md_deltas_rebuild_its_state() -> None:
    universe, _sim, _bus, topics, md, feed = _md_pipeline()
    reader = DeltaReader(topics, len(universe))
    while md.stage.events == 0:  # warm-up: md compiles its kernels
        feed.step()
        md.step()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:
        feed.step()
        md.step()
        reader.read(0.0)
    before = time.time_ns()
    feed.step()
    after = time.time_ns()
    # market time runs at 2x the wall clock since the feed's start: what is due at a step
    # lies between 2x the wall time elapsed before and after it ...
    due = feed.due_ns - feed._market0
    assert 2.0 * (before - feed._wall0) <= due <= 2.0 * (after - feed._wall0)
    # ... and the feed published exactly what was due: nothing ahead of the clock, nothing
    # held back (the simulator's 20,000 events/s leave ~50 us of market between events)
    assert feed.due_ns - 5_000_000 < feed.market_ns <= feed.due_ns
    # every event's lag behind the clock is counted (here: md's compile, on this thread)
    assert feed.lag.total == pytest.approx(feed.events)
    while not md.idle():
        md.step()
    md.publish_delta()
    reader.read(0.0)
    # every event got its receipt stamp from the wall clock, and md counted each one
    assert md.stage.events == feed.events
    assert md.book_latency.total == pytest.approx(feed.events)
    p50 = percentile_s(md.book_latency.counts, 50)
    assert p50 is not None and 0 < p50 < (time.time_ns() - feed._wall0) / 1e9
    # the reader's replica equals md's state on every carried column (deltas chunked to
    # 16 rows: several messages per delta)
    state = md.stage.market_state
    for name in DELTA_COLUMNS:
        np.testing.assert_array_equal(getattr(reader.state, name), getattr(state, name))
    assert reader.deltas > md.deltas / 2 and md.delta_rows > 0


def test_max_speed_feed_waits_for_a_slow_consumer() -> None:
    _universe, _sim, bus, _topics, _md, feed = _md_pipeline(speed=None)
    backlog = {"n": 10**9}  # md far behind: the feed waits until it catches up
    feed.backlog, feed.max_backlog = (lambda: backlog["n"]), 4
    threading.Timer(0.3, lambda: backlog.update(n=0)).start()
    started = time.monotonic()
    feed.step()
    assert time.monotonic() - started >= 0.29
    for _ in range(4):
        feed.step()
    # one simulator batch per step, none held back for the wall clock
    assert feed.events == 5 * 512 and feed._pending.size == 0
    assert sum(bus.last_seq(p) for p in range(bus.partitions)) == feed.messages


def test_risk_node_conflates_deltas_and_measures_tick_to_risk() -> None:
    universe = make_universe()
    state = market_from_ref(universe)  # the node's own replica, written only by deltas
    engine = make_engine(universe, n_scenarios=200, market=state)
    n = engine.n
    topics = MemoryTopics()
    clock = MarketClock(engine.clock.now_ns())
    engine.clock = clock
    node = RiskNode(RiskStage(engine), clock, topics)
    snaps = topics.subscribe(SUBJECTS["snapshot"], start_after=0)
    mid = state.mid.copy()
    now = time.time_ns()
    recv = now - np.arange(10, dtype=np.int64) * 1_000_000  # received 0..9 ms ago
    # fifty deltas arrive before the node's first step: one refresh takes them all
    for k in range(50):
        cols = {c: getattr(state, c)[:].copy() for c in DELTA_COLUMNS}
        cols["mid"] = mid * (1 + 1e-4 * k)
        cols["bid"], cols["ask"] = cols["mid"] * 0.999, cols["mid"] * 1.001
        cols["last"], cols["spread"] = cols["mid"], cols["ask"] - cols["bid"]
        cols["ts_ns"] = np.full(n, 1_719_581_400_000_000_000 + k, dtype=np.int64)
        topics.publish(
            SUBJECTS["market"],
            MarketStateDelta(k + 1, 1_719_581_400_000_000_000 + k, np.arange(n), cols,
                             events=100, recv_ns=recv, wall_ns=now),
        )  # fmt: skip
    node.step()
    got = snaps.fetch(10)
    assert len(got) == 1 and node.deltas == 50 and node.stage.snapshots == 1
    assert np.allclose(state.mid, mid * (1 + 49e-4))
    # every event of every delta counted once, at its receipt-to-publication latency
    assert node.tick_to_risk.total == pytest.approx(50 * 100)
    p50 = percentile_s(node.tick_to_risk.counts, 50)
    assert p50 is not None and 0 < p50 < 10.0
    # nothing new: no refresh; a new delta after the interval: one more snapshot
    node.step()
    assert node.stage.snapshots == 1
    topics.publish(SUBJECTS["market"], MarketStateDelta(51, 1_719_581_400_000_001_000,
                   np.arange(1), {"mid": mid[:1] * 1.01}, wall_ns=time.time_ns()))  # fmt: skip
    deadline = time.monotonic() + 5
    while node.stage.snapshots < 2 and time.monotonic() < deadline:
        node.step()
    assert node.stage.snapshots == 2 and node.idle()
    assert node.summary()["tick_to_risk_p99_ms"] is not None


def test_a_due_refresh_starts_on_mds_next_delta() -> None:
    """A refresh falling due waits (at most ``delta_wait_ns``) for md's next delta, so it
    reflects what md applied up to the due time, not up to md's previous send (one delta
    interval earlier); with no delta coming it starts once the wait is over."""
    universe = make_universe()
    state = market_from_ref(universe)
    engine = make_engine(universe, n_scenarios=200, market=state)
    topics = MemoryTopics()
    clock = MarketClock(engine.clock.now_ns())
    engine.clock = clock
    ms = 1_000_000
    wall = [0]
    node = RiskNode(RiskStage(engine), clock, topics, clock_ns=lambda: wall[0],
                    delta_wait_ns=25 * ms)  # fmt: skip
    interval = node.interval_ns
    mid = state.mid.copy()
    sent = [0]

    def md_sends(at_ms: int, events: int = 10) -> None:
        sent[0] += 1
        recv = np.full(4, at_ms * ms - ms, dtype=np.int64)
        topics.publish(SUBJECTS["market"], MarketStateDelta(
            sent[0], 1_719_581_400_000_000_000 + sent[0], np.arange(1),
            {"mid": mid[:1] * (1 + 1e-4 * sent[0])}, events=events, recv_ns=recv,
            wall_ns=at_ms * ms))  # fmt: skip

    def step_at(at_ms: int) -> int:
        wall[0] = at_ms * ms
        node.step()
        return node.stage.snapshots

    md_sends(0)
    assert step_at(0) == 1  # the first refresh: due at once, on a delta just taken
    due_ms = interval // ms
    md_sends(due_ms - 5)  # md's last send before the due time
    assert step_at(due_ms - 5) == 1  # not due yet
    assert step_at(due_ms + 1) == 1  # due, but the newest delta predates it: waits
    md_sends(due_ms + 15)  # md's next send
    assert step_at(due_ms + 16) == 2  # taken: the refresh starts on it
    assert node.tick_to_risk.total == pytest.approx(30)  # all three sends reflected
    # no delta after the due time: the refresh starts when the wait is over
    md_sends(2 * due_ms - 5)
    assert step_at(2 * due_ms - 5) == 2
    assert step_at(2 * due_ms + 24) == 2
    assert step_at(2 * due_ms + 25) == 3
    # a node without a wait refreshes as soon as a refresh is due (the earlier behaviour)
    node.delta_wait_ns = 0
    md_sends(3 * due_ms - 5)
    assert step_at(3 * due_ms - 5) == 3
    assert step_at(3 * due_ms) == 4


def test_md_sends_what_it_quarantines_downstream() -> None:
    # a bad tick is kept with its reason for the history node, never dropped
    _universe, sim, bus, topics, md, _feed = _md_pipeline()
    sub = topics.subscribe(SUBJECTS["quarantine"], start_after=0)
    events = sim.next_batch()[:10].copy()
    events["size"][3] = -1.0  # an impossible size
    bus.publish(events)
    while not md.idle():
        md.step()
    md.close()
    (_, q), *_ = sub.fetch(8)
    assert isinstance(q, Quarantined) and len(q.events) == len(q.reason) == len(q.reasons) >= 1
    assert q.events["seq"][0] == events["seq"][3] and q.reasons[0]


def test_md_advances_every_partition_together_inside_a_round() -> None:
    """A round that spans minutes of market time (a catch-up: here 40 messages of ~5 s each
    over 4 partitions) is applied in event-time order across partitions, so a delta md
    sends inside it never shows one partition minutes ahead of the others. Applied
    partition after partition, the instruments of the partitions not yet applied looked
    un-updated for minutes, and the limits' stale-feed breaker (30 s) halted the firm:
    found in the flash bench's whole sessions at 240x."""
    from riskstream.core.state import MarketState
    from riskstream.runtime.md import apply_delta

    n, partitions = 52, 4
    universe = generate_universe(UniverseConfig(instruments=n, seed=5))
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, events_per_s=50, batch_events=512))
    bus = open_bus(BusConfig(partitions=partitions))
    topics = MemoryTopics()
    wall = iter(range(0, 1 << 62, 1_000_000))  # 1 ms of wall time per reading
    cfg = RuntimeConfig(delta_interval_ms=2.0, keyframe_s=3600.0)
    md = MdNode(n, MdConfig(), cfg, bus, topics, MemoryCheckpointStore(), lambda: next(wall))
    span_ns = []
    for _ in range(10):
        batch = sim.next_batch()
        span_ns.append(int(batch["ts_event"][-1] - batch["ts_event"][0]))
        bus.publish(batch)  # one message per partition, each ~10 s of market time
    market = topics.subscribe(SUBJECTS["market"], start_after=0)
    md.consumer.max_messages = 1024
    assert md.consumer.poll(0.01) == 10 * partitions  # the whole catch-up in one round
    replica = MarketState(n)
    replica.ts_ns[:] = 0
    skews = []
    for _, delta in market.fetch(1000):
        apply_delta(replica, delta)
        newest = [replica.ts_ns[p::partitions].max() for p in range(partitions)]
        if min(newest) > 0:  # every partition has shown up
            skews.append(max(newest) - min(newest))
    assert len(skews) >= 10
    # within about a message's span of market time (partition-major: the whole round)
    assert max(skews) <= 2 * max(span_ns) < sum(span_ns) / 2
    md.consumer.close()
