"""The in-process bus: partitioning, de-duplication, durable consumers, exactly-once."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from riskstream.bus import (
    BusConfig,
    CheckpointedConsumer,
    FileCheckpointStore,
    MemoryBus,
    MemoryCheckpointStore,
    codec,
    open_bus,
    split_by_partition,
)
from riskstream.bus.base import message_id
from riskstream.bus.memory import MessagesExpiredError
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, empty_events
from tests.bus.ledger import Ledger, event_stream

N_INSTRUMENTS = 37


@pytest.fixture(scope="module")
def stream() -> list[np.ndarray]:
    return event_stream(n_batches=20, batch=500, n_instruments=N_INSTRUMENTS, seed=11)


def reference(stream: list[np.ndarray]) -> Ledger:
    ledger = Ledger(N_INSTRUMENTS)
    for batch in stream:
        ledger.apply(batch)
    return ledger


def drain(consumer, timeout_s: float = 0.01) -> list:
    out = []
    while batch := consumer.fetch(64, timeout_s):
        out.extend(batch)
    return out


def test_open_bus_defaults_to_memory() -> None:
    assert isinstance(open_bus(), MemoryBus)
    assert isinstance(open_bus("memory://"), MemoryBus)


def test_split_by_partition_keeps_order_and_covers_every_event(stream) -> None:
    batch = stream[0]
    parts = split_by_partition(batch, 4)
    assert sum(len(p) for _, p in parts) == len(batch)
    for p, part in parts:
        assert np.all(part["instrument_id"] % 4 == p)
        # per-instrument order (seq increasing) survives the split
        for k in np.unique(part["instrument_id"]):
            assert np.all(np.diff(part["seq"][part["instrument_id"] == k].astype(np.int64)) == 1)
    assert split_by_partition(batch, 1)[0][1] is batch  # one partition: no copy


def test_codec_round_trip_and_schema_check(stream) -> None:
    batch = stream[1]
    payload = codec.encode(batch)
    assert len(payload) == codec.HEADER_BYTES + 64 * len(batch)
    back = codec.decode(payload)
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, batch)
    bad = bytearray(payload)
    bad[4] = 9  # version
    with pytest.raises(InputError, match="version"):
        codec.decode(bytes(bad))
    with pytest.raises(InputError, match="length"):
        codec.decode(payload[:-1])


def test_message_id_is_deterministic_despite_padding_garbage(stream) -> None:
    batch = stream[2]
    garbage = np.empty(len(batch), dtype=EVENT_DTYPE)
    garbage.view(np.uint8)[:] = 0xAB  # padding bytes hold garbage
    for name in EVENT_DTYPE.names:
        garbage[name] = batch[name]
    assert message_id(0, garbage) == message_id(0, batch)
    other = batch.copy()
    other["size"][0] += 1
    assert message_id(0, other) != message_id(0, batch)


def test_publish_partitions_dedups_and_consumes_in_order(stream) -> None:
    bus = MemoryBus(BusConfig(partitions=3))
    first = bus.publish(stream[0])
    assert first.duplicates == 0 and first.messages == 3
    again = bus.publish(stream[0])  # a re-publish after a crash: stored once
    assert again.duplicates == 3 and again.messages == 0
    for batch in stream[1:]:
        bus.publish(batch)
    assert [bus.last_seq(p) for p in range(3)] == [20, 20, 20]
    messages = drain(bus.consumer("c"))
    for p in range(3):
        seqs = [m.seq for m in messages if m.partition == p]
        assert seqs == list(range(1, 21))
    assert sum(len(m.events) for m in messages) == 20 * 500
    with pytest.raises(ValueError):
        messages[0].events["size"][0] = 1.0  # consumers get read-only views


def test_durable_consumer_resumes_from_commit_and_seek(stream) -> None:
    bus = MemoryBus(BusConfig(partitions=2))
    for batch in stream[:5]:
        bus.publish(batch)
    consumer = bus.consumer("c", partitions=[1])
    got = consumer.fetch(3, 0.01)
    assert [m.seq for m in got] == [1, 2, 3] and {m.partition for m in got} == {1}
    consumer.commit({1: 2})
    again = bus.consumer("c", partitions=[1])  # a new process: resumes after the commit
    assert [m.seq for m in again.fetch(10, 0.01)] == [3, 4, 5]
    again.seek({1: 0})
    assert [m.seq for m in again.fetch(10, 0.01)] == [1, 2, 3, 4, 5]


def test_fetch_waits_for_a_publisher_thread(stream) -> None:
    bus = MemoryBus()
    consumer = bus.consumer("c")
    timer = threading.Timer(0.05, bus.publish, args=(stream[0],))
    timer.start()
    assert consumer.fetch(64, timeout_s=5.0)
    timer.join()


def test_retention_drop_is_an_error_not_silent_loss(stream) -> None:
    bus = MemoryBus(BusConfig(partitions=1, memory_retain_messages=3))
    for batch in stream[:5]:
        bus.publish(batch)
    with pytest.raises(MessagesExpiredError, match="dropped by retention"):
        bus.consumer("late").fetch(10, 0.01)


def test_max_payload_chunks_messages(stream) -> None:
    bus = MemoryBus(BusConfig(partitions=1, max_payload_bytes=64 * 100 + 16))
    result = bus.publish(stream[0])
    assert result.messages == 5  # 500 events, 100 per message
    assert all(len(m.events) == 100 for m in drain(bus.consumer("c")))


def test_bad_batch_is_rejected_with_the_field() -> None:
    with pytest.raises(InputError, match="events"):
        MemoryBus().publish(np.zeros(3))


def test_checkpointed_consumer_equals_direct_application(stream, tmp_path) -> None:
    bus = MemoryBus(BusConfig(partitions=4))
    for batch in stream:
        bus.publish(batch)
    ledger = Ledger(N_INSTRUMENTS)
    store = FileCheckpointStore(tmp_path / "ckpt.npz")
    stats = CheckpointedConsumer(bus, "g", ledger, ledger.apply, store, checkpoint_every=3).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    expected = reference(stream)
    assert stats.applied_events == 20 * 500
    for name, array in expected.state().items():
        np.testing.assert_array_equal(ledger.state()[name], array)
    assert ledger.breaks.sum() == 0
    saved = store.load()
    assert saved.positions == {p: bus.last_seq(p) for p in range(4)}
    np.testing.assert_array_equal(saved.state["checksum"], expected.checksum)


def test_consumer_crash_between_checkpoint_and_replay_applies_each_message_once(stream) -> None:
    """A consumer that dies mid-way (state lost, never checkpointed past some point) and a
    successor that restarts from the checkpoint reach the undisturbed state."""
    bus = MemoryBus(BusConfig(partitions=4))
    for batch in stream:
        bus.publish(batch)
    store = MemoryCheckpointStore()
    crashed = Ledger(N_INSTRUMENTS)
    first = CheckpointedConsumer(bus, "g", crashed, crashed.apply, store, checkpoint_every=5)
    for _ in range(3):
        first.poll(0.01)
    # crash: whatever was applied after the last checkpoint is lost with the process
    successor = Ledger(N_INSTRUMENTS)
    CheckpointedConsumer(bus, "g", successor, successor.apply, store).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    expected = reference(stream)
    for name, array in expected.state().items():
        np.testing.assert_array_equal(successor.state()[name], array)


def test_redelivered_and_out_of_order_messages_are_skipped_or_resynced(stream) -> None:
    """Duplicates (seq <= last) are skipped; a gap (seq > last + 1) triggers a seek."""
    bus = MemoryBus(BusConfig(partitions=1))
    for batch in stream[:6]:
        bus.publish(batch)
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(bus, "g", ledger, ledger.apply, MemoryCheckpointStore())
    inner = consumer.consumer
    inner.fetch(2, 0.01)  # messages 1, 2 lost in transit: the next delivery starts at 3
    assert consumer.poll(0.01) == 0 and consumer.stats.gaps_recovered == 1
    consumer.poll(0.01)  # after the seek, 1..6 in order
    inner.seek({0: 2})  # the bus redelivers 3..6
    consumer.poll(0.01)
    assert consumer.stats.duplicates_skipped == 4
    np.testing.assert_array_equal(ledger.checksum, reference(stream[:6]).checksum)


class _Ahead:
    """A fetch "sent ahead" on the memory bus: taken from the bus when sent (as a NATS pull
    would be delivered while the caller applies), handed out by :meth:`result`."""

    def __init__(self, messages: list) -> None:
        self.messages = messages

    def result(self) -> list:
        return self.messages

    def discard(self) -> None:
        self.messages = []


class _ReadAheadBus:
    """The memory bus whose consumers can read ahead (``start_fetch``, as ``nats://``)."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.sent_ahead = 0

    def __getattr__(self, name: str):
        return getattr(self.bus, name)

    def consumer(self, *args, **kwargs):
        inner = self.bus.consumer(*args, **kwargs)
        outer = self

        class Consumer:
            def __getattr__(self, name: str):
                return getattr(inner, name)

            def start_fetch(self, max_messages: int, timeout_s: float) -> _Ahead:
                outer.sent_ahead += 1
                return _Ahead(inner.fetch(max_messages, timeout_s))

        return Consumer()


def test_read_ahead_is_dropped_on_recover_never_applied_twice(stream) -> None:
    """A batch read ahead and not yet applied when the consumer is repositioned after a bus
    failure is dropped: the broker delivers its messages again after the seek, and each is
    applied once. Kept, it would be applied and its messages then skipped as duplicates
    when redelivered (or, had it been read before messages still unapplied, seen as a
    gap)."""
    bus = _ReadAheadBus(MemoryBus(BusConfig(partitions=2)))
    for batch in stream:
        bus.publish(batch)
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(
        bus, "g", ledger, ledger.apply, MemoryCheckpointStore(), max_messages=4, read_ahead=True
    )
    assert consumer.poll(0.01) == 4 and bus.sent_ahead == 1  # 4 applied, 4 more read ahead
    assert consumer.reading_ahead
    consumer.recover()  # as after a broker restart
    assert not consumer.reading_ahead
    for _ in range(100):  # to the end (polls that only skip duplicates apply nothing)
        consumer.poll(0.01)
        if consumer.positions == {0: 20, 1: 20}:
            break
    assert consumer.positions == {0: 20, 1: 20}
    assert consumer.stats.duplicates_skipped == 0 and consumer.stats.gaps_recovered == 0
    assert consumer.stats.applied_messages == 40
    np.testing.assert_array_equal(ledger.state()["breaks"], 0)
    for name, array in reference(stream).state().items():
        np.testing.assert_array_equal(ledger.state()[name], array, err_msg=name)


def test_read_ahead_past_a_gap_is_dropped_not_taken_for_lost_messages(stream) -> None:
    """A gap repositions the consumer; the batch already read ahead (messages past the gap)
    is dropped with it. Kept, it would show the same gap right after the seek, which means
    messages gone from the bus (MessagesLostError), though they are still there."""
    bus = _ReadAheadBus(MemoryBus(BusConfig(partitions=1)))
    for batch in stream[:10]:
        bus.publish(batch)
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(
        bus, "g", ledger, ledger.apply, MemoryCheckpointStore(), max_messages=2, read_ahead=True
    )
    consumer.consumer.fetch(1, 0.01)  # message 1 lost in transit: delivery goes on at 2
    assert consumer.poll(0.01) == 0 and consumer.stats.gaps_recovered == 1
    assert not consumer.reading_ahead  # 4, 5 were read ahead, and dropped
    for _ in range(100):
        consumer.poll(0.01)
        if consumer.positions == {0: 10}:
            break
    assert consumer.positions == {0: 10} and consumer.stats.gaps_recovered == 1
    assert consumer.stats.duplicates_skipped == 0 and bus.sent_ahead > 1
    np.testing.assert_array_equal(ledger.checksum, reference(stream[:10]).checksum)


def test_checkpoint_store_is_atomic_and_round_trips(tmp_path) -> None:
    from riskstream.bus import Checkpoint

    store = FileCheckpointStore(tmp_path / "sub" / "c.npz")
    assert store.load() is None
    store.save(Checkpoint({0: 5, 3: 9}, {"a": np.arange(4)}))
    store.save(Checkpoint({0: 6, 3: 9}, {"a": np.arange(5)}))
    loaded = store.load()
    assert loaded.positions == {0: 6, 3: 9}
    np.testing.assert_array_equal(loaded.state["a"], np.arange(5))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["c.npz"]  # no temp left
    with pytest.raises(InputError):
        store.save(Checkpoint({}, {"__positions__": np.zeros(1)}))


def test_empty_batch_publishes_nothing() -> None:
    assert MemoryBus().publish(empty_events(0)).messages == 0


def test_through_bus_yields_every_event_once(stream) -> None:
    from riskstream.bus import through_bus

    bus = MemoryBus(BusConfig(partitions=3))
    bus.publish(stream[0])  # earlier traffic is not replayed to the new run
    source = ((batch, i) for i, batch in enumerate(stream[1:]))
    out = list(through_bus(source, bus))
    got = np.concatenate([events for events, _ in out])
    assert len(got) == 19 * 500
    ledger = Ledger(N_INSTRUMENTS)
    ledger.apply(got)
    expected = Ledger(N_INSTRUMENTS)
    for batch in stream[1:]:
        expected.apply(batch)
    np.testing.assert_array_equal(ledger.count, expected.count)
    np.testing.assert_array_equal(ledger.checksum, expected.checksum)  # per-instrument order


def _events_strategy():
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    def build(ids, sizes, seqs):
        ev = empty_events(len(ids))
        ev["instrument_id"] = ids
        ev["size"] = sizes[: len(ids)]
        ev["seq"] = seqs[: len(ids)]
        return ev

    n = st.integers(0, 200)
    return n.flatmap(
        lambda k: st.builds(
            build,
            arrays(np.int32, k, elements=st.integers(0, 10_000)),
            arrays(np.float64, k, elements=st.floats(allow_nan=True)),
            arrays(np.uint64, k, elements=st.integers(0, 2**64 - 1)),
        )
    )


def test_split_and_codec_properties() -> None:
    """Property: splitting loses, adds and reorders nothing within a partition; the wire
    format round-trips every bit (NaN payloads and uint64 extremes included)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(_events_strategy(), st.integers(1, 7))
    def check(events, partitions):
        parts = split_by_partition(events, partitions)
        assert sum(len(p) for _, p in parts) == len(events)
        for p, part in parts:
            mine = events[events["instrument_id"] % partitions == p]
            assert codec.encode(part) == codec.encode(mine)  # same rows, same order
        back = codec.decode(codec.encode(events))
        assert back.tobytes() == codec.encode(events)[codec.HEADER_BYTES :]

    check()


def test_a_gap_that_persists_after_seek_is_an_error(stream) -> None:
    """Retention dropped a message the checkpoint needs: fail loudly, never skip it."""
    from riskstream.bus import Checkpoint
    from riskstream.bus.consumer import MessagesLostError

    bus = MemoryBus(BusConfig(partitions=1))
    for batch in stream[:4]:
        bus.publish(batch)
    bus._parts[0].messages.pop(1)  # message 2 vanishes without renumbering the rest
    for later in bus._parts[0].messages[1:]:
        object.__setattr__(later, "seq", later.seq + 1)
    bus._parts[0].first_seq = 1
    store = MemoryCheckpointStore()
    store.save(Checkpoint({0: 1}, Ledger(N_INSTRUMENTS).state()))
    ledger = Ledger(N_INSTRUMENTS)
    consumer = CheckpointedConsumer(bus, "g", ledger, ledger.apply, store)
    with pytest.raises(MessagesLostError, match="retention"):
        for _ in range(3):
            consumer.poll(0.01)


def test_a_rounds_messages_merge_by_event_time_keeping_each_partitions_order() -> None:
    """Property: the consumer's merge of a fetch (:func:`in_event_time_order`) is a
    permutation that keeps every partition's messages in their order (exactly-once needs
    nothing more) and, where each partition's messages come in time order, puts the round
    in time order across partitions."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from riskstream.bus.base import Message
    from riskstream.bus.consumer import in_event_time_order

    def message(partition: int, seq: int, ts: int, n: int) -> Message:
        events = empty_events(n)
        events["ts_event"] = ts + np.arange(n)
        return Message(partition, seq, events, f"{partition}:{seq}")

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3)), max_size=12),
                 max_size=5),
        st.booleans(),
    )  # fmt: skip
    def check(partitions: list[list[tuple[int, int]]], sorted_in_time: bool) -> None:
        fetched = []
        for p, stamps in enumerate(partitions):
            if sorted_in_time:
                stamps = sorted(stamps)
            fetched += [message(p, s + 1, ts, n) for s, (ts, n) in enumerate(stamps)]
        merged = in_event_time_order(fetched)
        assert sorted(m.msg_id for m in merged) == sorted(m.msg_id for m in fetched)
        for p in range(len(partitions)):
            assert [m.seq for m in merged if m.partition == p] == list(
                range(1, len(partitions[p]) + 1)
            )
        if sorted_in_time:
            firsts = [int(m.events["ts_event"][0]) for m in merged if len(m.events)]
            nonempty = all(n > 0 for stamps in partitions for _, n in stamps)
            assert not nonempty or firsts == sorted(firsts)

    check()
