"""Checkpoints written off the consuming thread, and the restart guards on a checkpoint.

Background saves: the bus is acknowledged only up to what a completed save holds, a crash
between the snapshot and the save replays from the previous checkpoint, and every message
still changes the state exactly once (the Ledger's order-sensitive checksums, as in
``test_memory_bus.py``). Guards: a checkpoint of another log, another partition count, a
position past the log's end or before its start is refused on the memory bus and on a real
NATS server (started by the ``nats_server`` fixture).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from riskstream.bus import (
    BusConfig,
    Checkpoint,
    CheckpointedConsumer,
    FileCheckpointStore,
    MemoryBus,
    MemoryCheckpointStore,
    open_bus,
)
from riskstream.bus.checkpoint import CheckpointSaveError
from riskstream.bus.consumer import CheckpointMismatchError
from tests.bus.ledger import Ledger, event_stream

N_INSTRUMENTS = 23


@pytest.fixture(scope="module")
def stream() -> list[np.ndarray]:
    return event_stream(n_batches=12, batch=400, n_instruments=N_INSTRUMENTS, seed=21)


def reference(batches: list[np.ndarray]) -> Ledger:
    ledger = Ledger(N_INSTRUMENTS)
    for batch in batches:
        ledger.apply(batch)
    return ledger


def same_ledger(got: Ledger, expected: Ledger) -> None:
    for name, array in expected.state().items():
        np.testing.assert_array_equal(got.state()[name], array, err_msg=name)


def published(stream: list[np.ndarray], partitions: int = 3) -> MemoryBus:
    bus = MemoryBus(BusConfig(partitions=partitions))
    for batch in stream:
        bus.publish(batch)
    return bus


class HeldStore(FileCheckpointStore):
    """A file store whose writer thread waits for ``release`` before writing: the test
    decides when a background save completes."""

    def __init__(self, path):
        super().__init__(path, fsync=False, snapshot="copy")
        self.release = threading.Event()

    def save(self, checkpoint: Checkpoint) -> None:
        if threading.current_thread() is not threading.main_thread():
            assert self.release.wait(10), "the test never released the save"
        super().save(checkpoint)


def test_ack_waits_for_the_background_save(stream, tmp_path) -> None:
    bus = published(stream)
    ledger = Ledger(N_INSTRUMENTS)
    store = HeldStore(tmp_path / "c.npz")
    consumer = CheckpointedConsumer(
        bus,
        "g",
        ledger,
        ledger.apply,
        store,
        checkpoint_every=10**9,
        background=True,
        max_messages=6,
    )
    consumer.poll(0.01)
    snapshot = dict(consumer.positions)
    consumer.checkpoint()  # snapshot taken (copied on this thread), the write held
    assert consumer._pending is not None and store.load() is None
    consumer.poll(0.01)  # the loop goes on applying meanwhile ...
    assert consumer.positions != snapshot
    assert bus._committed["g"] == {}  # ... and nothing is acknowledged before the save
    consumer.checkpoint()  # a checkpoint due while one is in flight waits its turn
    store.release.set()
    deadline = time.monotonic() + 10
    while consumer._pending is not None and time.monotonic() < deadline:
        consumer.poll(0.01)
    # acknowledged up to the snapshot, not to what was applied since
    assert store.load().positions == snapshot
    assert bus._committed["g"] == snapshot != consumer.positions
    consumer.run(idle_timeout_s=0.05, fetch_timeout_s=0.01)  # close: a final save, waited for
    same_ledger(ledger, reference(stream))
    assert store.load().positions == bus._committed["g"] == {p: bus.last_seq(p) for p in range(3)}


@pytest.mark.parametrize("snapshot", ["fork", "copy"])
def test_background_checkpoints_keep_exactly_once(stream, tmp_path, snapshot) -> None:
    """Checkpoints after every message, written in the background while the loop applies
    more; a crash (the consumer dropped without closing) at a random point, then a
    successor from the store: the undisturbed state."""
    bus = published(stream)
    store = FileCheckpointStore(tmp_path / "c.npz", fsync=False, snapshot=snapshot)
    crashed = Ledger(N_INSTRUMENTS)
    first = CheckpointedConsumer(
        bus, "g", crashed, crashed.apply, store, checkpoint_every=1, background=True
    )
    for _ in range(6):
        first.poll(0.01)
    assert first.stats.checkpoints >= 1 or first._pending is not None
    first._pending and first._pending.wait()  # no writer left behind to race the successor
    successor = Ledger(N_INSTRUMENTS)
    CheckpointedConsumer(bus, "g", successor, successor.apply, store, background=True).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    same_ledger(successor, reference(stream))
    assert store.load().positions == {p: bus.last_seq(p) for p in range(3)}


class HangingWriter(FileCheckpointStore):
    """A store whose forked writer starts its temporary file, then hangs until killed."""

    def __init__(self, path):
        super().__init__(path, fsync=False, snapshot="fork")
        self.parent = os.getpid()

    def save(self, checkpoint: Checkpoint) -> None:
        if os.getpid() != self.parent:
            (self.path.parent / f"{self.path.name}half.tmp").write_bytes(b"PK half a file")
            time.sleep(60)
        super().save(checkpoint)


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(stream, tmp_path) -> None:
    """The crash between snapshot and save: the forked writer dies mid-file; the previous
    checkpoint stays, nothing past it is acknowledged, and a successor replays from it."""
    bus = published(stream)
    store = HangingWriter(tmp_path / "c.npz")
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(
        bus,
        "g",
        ledger,
        ledger.apply,
        store,
        checkpoint_every=10**9,
        max_messages=6,
        background=True,
    )
    consumer.poll(0.01)
    consumer.checkpoint(wait=True)  # the previous checkpoint, on the thread
    before = dict(consumer.positions)
    consumer.poll(0.01)
    consumer.checkpoint()
    pending = consumer._pending
    assert pending is not None
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pending._pid, signal.SIGKILL)
    with pytest.raises(CheckpointSaveError, match="exited with -9"):
        while time.monotonic() < deadline:  # the loop learns of it at a next round
            consumer.poll(0.01)
    assert store.load().positions == before == bus._committed["g"]
    assert not list(tmp_path.glob("*.tmp"))  # the dead writer's half file is removed
    successor = Ledger(N_INSTRUMENTS)
    CheckpointedConsumer(bus, "g", successor, successor.apply, store).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    same_ledger(successor, reference(stream))


def test_a_failed_save_stops_the_consumer_loudly(stream) -> None:
    class Failing(MemoryCheckpointStore):
        def save(self, checkpoint):
            raise OSError("disk full")

    bus = published(stream)
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(
        bus, "g", ledger, ledger.apply, Failing(), checkpoint_every=1, background=True
    )
    with pytest.raises(OSError, match="disk full"):
        consumer.poll(0.01)
    assert bus._committed["g"] == {}


# -- restart guards: memory bus ----------------------------------------------------------


def checkpointed(bus, store) -> dict[int, int]:
    ledger = Ledger(N_INSTRUMENTS)
    CheckpointedConsumer(bus, "g", ledger, ledger.apply, store).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    return store.load().positions


def test_checkpoint_of_another_bus_is_refused(stream, tmp_path) -> None:
    store = FileCheckpointStore(tmp_path / "c.npz", fsync=False)
    checkpointed(published(stream), store)
    fresh = published(stream)  # the same events in a new log (a re-created stream)
    with pytest.raises(CheckpointMismatchError, match=r"partition 0: .* of log memory:") as err:
        CheckpointedConsumer(fresh, "g", Ledger(N_INSTRUMENTS), print, store)
    assert str(tmp_path / "c.npz") in str(err.value)  # what to delete to rebuild


def test_checkpoint_with_another_partition_count_is_refused(stream) -> None:
    store = MemoryCheckpointStore()
    bus = published(stream, partitions=3)
    positions = checkpointed(bus, store)
    assert store.load().bus_partitions == 3
    store.save(Checkpoint(positions, store.load().state))  # an older one: no layout recorded
    with pytest.raises(CheckpointMismatchError, match=r"partitions \[2\], the bus has"):
        CheckpointedConsumer(published(stream, 2), "g", Ledger(N_INSTRUMENTS), print, store)
    store.save(Checkpoint(positions, store.load().state, {}, 3))
    with pytest.raises(CheckpointMismatchError, match="taken with 3 partitions, the bus has 4"):
        CheckpointedConsumer(published(stream, 4), "g", Ledger(N_INSTRUMENTS), print, store)


def test_positions_past_the_end_or_before_the_start_are_refused(stream) -> None:
    bus = published(stream)
    store = MemoryCheckpointStore()
    positions = checkpointed(bus, store)
    state = store.load().state
    beyond = {**positions, 1: positions[1] + 5}
    store.save(Checkpoint(beyond, state))  # written before logs were recorded
    with pytest.raises(CheckpointMismatchError, match=r"partition 1: .* ends at"):
        CheckpointedConsumer(bus, "g", Ledger(N_INSTRUMENTS), print, store)
    # retention dropped messages the checkpoint still needs
    small = MemoryBus(BusConfig(partitions=3, memory_retain_messages=4))
    for batch in stream:
        small.publish(batch)
    store.save(Checkpoint({0: 2, 1: 0, 2: 0}, state))
    with pytest.raises(CheckpointMismatchError, match=r"needs messages from 3, .* starts at 9"):
        CheckpointedConsumer(small, "g", Ledger(N_INSTRUMENTS), print, store)


# -- restart guards: NATS JetStream --------------------------------------------------------


@pytest.mark.services
def test_nats_recreated_or_purged_stream_is_refused(nats_server, stream, tmp_path) -> None:
    config = BusConfig(url=nats_server.url, partitions=2, stream="GUARD")
    store = FileCheckpointStore(tmp_path / "c.npz", fsync=False)
    bus = open_bus(config)
    try:
        for batch in stream[:6]:
            bus.publish(batch)
        positions = checkpointed(bus, store)
        assert store.load().logs == {p: bus.log(p).identity for p in range(2)}
        # restart on the same streams, more published: accepted, goes on from the checkpoint
        for batch in stream[6:]:
            bus.publish(batch)
        ledger = Ledger(N_INSTRUMENTS)
        ledger.restore(store.load().state)
        CheckpointedConsumer(bus, "g", ledger, ledger.apply, store).run(
            idle_timeout_s=0.3, fetch_timeout_s=0.1
        )
        same_ledger(ledger, reference(stream))
        positions = store.load().positions

        # purged: the messages after an older checkpoint are gone
        old = Checkpoint({0: positions[0] - 2, 1: positions[1]}, store.load().state,
                         store.load().logs, 2)  # fmt: skip
        bus._run(bus._js.purge_stream(bus.stream_name(0)), "purge")
        assert bus.log(0).first_seq == positions[0] + 1
        store.save(old)
        with pytest.raises(
            CheckpointMismatchError, match=r"partition 0: .* starts at \d+ \(purged"
        ):
            CheckpointedConsumer(bus, "g", Ledger(N_INSTRUMENTS), print, store)

        # a fresh stream under the same name (deleted, created again, republished)
        bus.delete_streams()
    finally:
        bus.close()
    bus = open_bus(config)
    try:
        for batch in stream:
            bus.publish(batch)
        assert bus.last_seq(0) >= positions[0]  # the numbers alone would look fine
        store.save(Checkpoint(positions, old.state, old.logs, 2))
        with pytest.raises(CheckpointMismatchError, match="created again"):
            CheckpointedConsumer(bus, "g", Ledger(N_INSTRUMENTS), print, store)
    finally:
        bus.delete_streams()
        bus.close()


def test_close_saves_on_the_thread_when_the_background_writer_died(stream, tmp_path) -> None:
    """A writer killed at shutdown (a signal to the whole process group, say): close()
    still leaves a checkpoint of everything applied, written on the consuming thread."""
    bus = published(stream)
    store = HangingWriter(tmp_path / "c.npz")
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(
        bus, "g", ledger, ledger.apply, store, checkpoint_every=10**9, background=True
    )
    while consumer.poll(0.01):
        pass
    consumer.checkpoint()
    os.kill(consumer._pending._pid, signal.SIGKILL)
    consumer.close()
    assert store.load().positions == bus._committed["g"] == {p: bus.last_seq(p) for p in range(3)}
    restored = Ledger(N_INSTRUMENTS)
    restored.restore(store.load().state)
    same_ledger(restored, reference(stream))


def test_copy_snapshots_reuse_the_written_arrays_and_never_the_ones_being_written(
    tmp_path,
) -> None:
    """``snapshot="copy"`` copies into the previous save's arrays once that save is
    written (memory already faulted in), never into arrays a save still writes; each file
    holds the state as it was when its save began."""

    class State:
        def __init__(self) -> None:
            self.values = np.arange(10_000, dtype=np.float64)

        def state(self) -> dict[str, np.ndarray]:
            return {"values": self.values}

        def restore(self, state) -> None:
            self.values = np.array(state["values"])

    store = FileCheckpointStore(tmp_path / "c.npz", fsync=False, snapshot="copy")
    state = State()
    first = store.begin_save({0: 1}, state)
    state.values += 1  # after the snapshot: not in the first file
    first.wait()
    written = store._buffers["values"]
    # hold the second save in flight while it is checked (a 80 KB write can finish before
    # the next line runs, and did once under load)
    in_flight = threading.Event()
    write = store.save
    store.save = lambda checkpoint: (in_flight.wait(10.0), write(checkpoint))[1]
    second = store.begin_save({0: 2}, state)
    assert store._buffers == {}  # handed to the save in flight: no third save shares them
    in_flight.set()
    second.wait()
    assert store._buffers["values"] is written  # the same memory, copied into again
    np.testing.assert_array_equal(store.load().state["values"], np.arange(10_000) + 1.0)


def test_copy_snapshots_copy_into_reserved_buffers_and_grow_them_with_room(tmp_path) -> None:
    """``reserve`` takes the copy buffers before the loop needs them (a consumer saving in
    the background calls it on construction); an array that keeps its row shape fits in
    the first rows of its buffer; one that outgrows it gets a quarter more, and once the
    save is written the writer gives an array that grew a buffer with room for two more
    such growths, so the loop's next copies go into memory already there; structured
    records are copied as bytes and come back from the file equal, field by field."""
    record = np.dtype([("oid", "<u8"), ("px", "<i8"), ("sz", "<f8"), ("side", "i1")], align=True)

    class State:
        def __init__(self) -> None:
            self.orders = np.zeros(200, dtype=record)
            self.orders["oid"] = np.arange(200)
            self.orders["sz"] = 0.5
            self.used = 40  # a pool written up to its high-water mark

        def state(self) -> dict[str, np.ndarray]:
            return {"orders": self.orders[:64], "pool": self.orders["px"][: self.used].copy()}

        def restore(self, state) -> None:
            raise AssertionError("not restored here")

    store = FileCheckpointStore(tmp_path / "c.npz", fsync=False, snapshot="copy")
    state = State()
    CheckpointedConsumer(MemoryBus(BusConfig()), "c", state, lambda _: None, store,
                         background=True)  # fmt: skip
    reserved = dict(store._buffers)
    assert set(reserved) == {"orders", "pool"}
    state.orders["px"] = np.arange(200) * 7
    state.used = 30  # fewer rows: the first 30 of the reserved buffer
    store.begin_save({0: 1}, state).wait()
    assert store._buffers["pool"] is reserved["pool"]
    assert store._buffers["orders"] is reserved["orders"]
    saved = store.load().state
    np.testing.assert_array_equal(saved["orders"], state.orders[:64])
    np.testing.assert_array_equal(saved["pool"], np.arange(30) * 7)
    state.used = 60  # outgrows its buffer: the copy takes a new one, a quarter more
    store.begin_save({0: 2}, state).wait()
    np.testing.assert_array_equal(store.load().state["pool"], np.arange(60) * 7)
    # it grew by 30 rows: the writer made room for 60 + 2 x 30, the orders kept theirs
    assert store._buffers["pool"].shape == (120,)
    assert store._buffers["orders"] is reserved["orders"]
    written = []  # what each save writes: copied into which buffer
    write = store.save
    store.save = lambda checkpoint: (written.append(checkpoint.state["pool"]), write(checkpoint))[1]
    for used in (90, 120, 120):  # growing on, then steady
        before = store._buffers["pool"]
        state.used = used
        store.begin_save({0: used}, state).wait()
        assert np.shares_memory(written[-1], before)  # the loop's copy: no new memory
        np.testing.assert_array_equal(store.load().state["pool"], np.arange(used) * 7)
    assert store._buffers["pool"] is before  # steady: the buffer stays


@pytest.mark.parametrize("snapshot", ["copy", "fork"])
def test_the_background_writer_runs_at_a_lower_priority(tmp_path, snapshot) -> None:
    """The writer (a thread or a forked child) takes nice ``WRITER_NICE`` for itself; the
    consuming thread keeps its own priority. The nice value is read inside the save and
    written into the checkpoint (the forked child has no other way to report it)."""
    from riskstream.bus.checkpoint import WRITER_NICE

    class State:
        def state(self) -> dict[str, np.ndarray]:
            return {"nice": np.zeros(1, dtype=np.int64)}

        def restore(self, state) -> None:
            raise AssertionError("not restored here")

    class Store(FileCheckpointStore):
        def save(self, checkpoint: Checkpoint) -> None:  # the writer's nice, as it writes
            nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            super().save(Checkpoint(checkpoint.positions, {"nice": np.array([nice])}))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    store = Store(tmp_path / "c.npz", fsync=False, snapshot=snapshot)
    store.begin_save({0: 1}, State()).wait()
    assert int(store.load().state["nice"][0]) == max(before, WRITER_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
