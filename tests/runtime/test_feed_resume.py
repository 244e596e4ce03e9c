"""The feed resumes where it stopped: nothing published twice, nothing skipped.

A feed killed between two checkpoints is rebuilt from its checkpoint (a pickled simulator)
and regenerates, without publishing, what each partition's stream already holds; a
publication the bus did not confirm (the broker went away mid-publish) is settled against
what the streams hold. The streams must then hold, partition by partition, exactly the
events of one undisturbed run of the same simulator, in order — over the memory bus here
(fast, in process), over a real NATS server in ``test_resilience.py`` with processes.
"""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import numpy as np
import pytest

from riskstream.bus import BusConfig, FileCheckpointStore, MemoryBus, open_bus
from riskstream.bus.base import split_by_partition
from riskstream.bus.consumer import CheckpointMismatchError
from riskstream.core.errors import ServiceUnavailableError
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.runtime.feed import FeedNode, SimulatorSource

SECONDS = 1.5  # of market time: ~15,000 events
CONFIG = SimulatorConfig(seed=5, batch_events=700, events_per_s=10_000.0)
IDENTITY = ("source", "instrument_id", "seq", "ts_event", "kind", "price", "size", "order_id")
"""Every field but ``ts_recv`` (the wall-clock receipt, stamped by the feed)."""


def universe() -> Any:
    return generate_universe(UniverseConfig(instruments=50, seed=5))


def source() -> SimulatorSource:
    return SimulatorSource(MarketSimulator(universe(), CONFIG), SECONDS)


def reference(partitions: int) -> dict[int, np.ndarray]:
    """Each partition's events in one undisturbed run."""
    events = np.concatenate([b for b, _ in source()])
    return {p: part[list(IDENTITY)] for p, part in split_by_partition(events, partitions)}


def stored(bus: Any) -> dict[int, np.ndarray]:
    consumer = bus.consumer("check", start_after=dict.fromkeys(range(bus.partitions), 0))
    got: dict[int, list[np.ndarray]] = {p: [] for p in range(bus.partitions)}
    while messages := consumer.fetch(1024, 0.2):
        for m in messages:
            got[m.partition].append(m.events)
    consumer.close()
    return {p: np.concatenate(v)[list(IDENTITY)] for p, v in got.items() if v}


def ticking_clock() -> Any:
    counter = itertools.count()
    return lambda: 10**18 + next(counter) * 50_000_000  # 50 ms a reading


def feed(bus: Any, store: Any) -> FeedNode:
    # max speed (no wall-clock pacing: the test is about positions, not time); a checkpoint
    # every 0.5 s of the ticking clock: several readings a step, so every few steps
    return FeedNode(
        source(), bus, speed=None, clock_ns=ticking_clock(), store=store, checkpoint_s=0.5
    )


def test_simulator_pickled_goes_on_bit_for_bit() -> None:
    a = source()
    for _ in range(3):
        next(a)
    b = pickle.loads(pickle.dumps(a))
    for (x, tx), (y, ty) in zip(a, b, strict=True):
        assert tx == ty
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("kill_after", [1, 7, 12])
def test_a_killed_feed_resumes_without_doubling_or_skipping(tmp_path, kill_after) -> None:
    bus = MemoryBus(BusConfig(partitions=3, max_payload_bytes=8192))  # several messages a step
    store = FileCheckpointStore(tmp_path / "feed.npz", fsync=False, snapshot="copy")
    first = feed(bus, store)
    for _ in range(kill_after):
        first.step()
    assert first.checkpoints >= 1
    # killed: no close, the steps since its last checkpoint are in the streams only
    del first
    second = feed(bus, store)
    while not second.exhausted or len(second._pending):
        second.step()
    second.close()
    if kill_after > 1:
        assert second.resume_skipped > 0  # it did regenerate what the streams held
    want, got = reference(3), stored(bus)
    assert set(got) == set(want)
    for p in want:
        np.testing.assert_array_equal(got[p], want[p], err_msg=f"partition {p}")


class FlakyBus:
    """A bus whose one publication stores only the first partitions' messages and then
    fails, as a broker that dies mid-publish."""

    def __init__(self, bus: MemoryBus, fail_at: int):
        self.bus, self.fail_at, self.calls = bus, fail_at, 0
        self.partitions = bus.partitions

    def publish(self, events: np.ndarray) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            part = events["instrument_id"] % self.partitions
            self.bus.publish(events[part < 2])  # partitions 0 and 1 stored ...
            raise ServiceUnavailableError("the broker died mid-publish")  # ... 2 not
        return self.bus.publish(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)


def test_an_unconfirmed_publication_is_settled_exactly() -> None:
    bus = MemoryBus(BusConfig(partitions=3))
    flaky = FlakyBus(bus, fail_at=4)
    node = FeedNode(source(), flaky, speed=None)
    failures = 0
    while not node.exhausted or len(node._pending) or node._unconfirmed is not None:
        try:
            node.step()
        except ServiceUnavailableError:
            failures += 1
    assert failures == 1 and node.already_stored > 0 and node.resent > 0
    want, got = reference(3), stored(bus)
    for p in want:
        np.testing.assert_array_equal(got[p], want[p], err_msg=f"partition {p}")


def test_a_checkpoint_of_another_source_or_stream_is_refused(tmp_path) -> None:
    bus = open_bus(BusConfig(partitions=2))
    store = FileCheckpointStore(tmp_path / "feed.npz", fsync=False, snapshot="copy")
    node = FeedNode(source(), bus, speed=None, store=store, fingerprint="seed=5")
    node.step()
    node.close()
    with pytest.raises(CheckpointMismatchError, match="seed=6"):
        FeedNode(source(), bus, speed=None, store=store, fingerprint="seed=6")
    with pytest.raises(CheckpointMismatchError, match="created again"):
        FeedNode(source(), open_bus(BusConfig(partitions=2)), speed=None, store=store,
                 fingerprint="seed=5")  # fmt: skip
