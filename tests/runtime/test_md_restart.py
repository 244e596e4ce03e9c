"""md restarting from its checkpoint: books exactly once, the readers' view of the
numbering, and the refusal of a checkpoint that belongs to another stream.

A restarted md restores its books from the checkpoint (older than what it had applied and
published), replays the bus from there and numbers its deltas from 1 again under a larger
epoch. Readers (``DeltaReader`` of regime, history and service; the risk node) must take
that as a restart — reset to the new md's first keyframe — not as duplicates or a gap.
Over the memory bus and MemoryTopics, and over a real NATS server (``nats_server``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from riskstream.bus import BusConfig, FileCheckpointStore, open_bus, open_topics
from riskstream.bus.consumer import CheckpointMismatchError
from riskstream.core.messages import SUBJECTS, MarketStateDelta
from riskstream.runtime.config import RuntimeConfig
from riskstream.runtime.md import DELTA_COLUMNS, DeltaSequence, MdNode
from riskstream.runtime.readers import DeltaReader
from tests.bus import books
from tests.bus.books import comparable_state, new_stage, simulated_stream

CONFIG = RuntimeConfig(delta_interval_ms=1.0, keyframe_s=3600.0, delta_max_rows=64)


def delta(epoch: int, seq: int, full: bool = False) -> MarketStateDelta:
    return MarketStateDelta(seq, seq, np.arange(1), {}, full=full, epoch=epoch)


def test_delta_sequence_tells_restarts_from_duplicates_and_gaps() -> None:
    seq = DeltaSequence()
    verdicts = [
        (delta(10, 3), True),  # a reader that starts late takes what comes
        (delta(10, 4), True),
        (delta(10, 4), False),  # delivered twice
        (delta(10, 7), True),  # 5 and 6 lost: applied (absolute values), counted
        (delta(20, 1), False),  # md restarted: its deltas wait for its keyframe ...
        (delta(20, 2, full=True), True),  # ... which resets the reader
        (delta(10, 8), False),  # the replaced md, late: stale
        (delta(20, 3), True),  # numbering from the new md's, not a duplicate of 10/3
    ]
    got = []
    for d, _ in verdicts:
        got.append(seq.accept(d))
        if d.epoch == 20 and d.seq == 2:
            assert seq.reset
    assert got == [v for _, v in verdicts]
    assert (seq.restarts, seq.duplicates, seq.gaps, seq.stale) == (1, 1, 1, 1)
    assert not seq.reset and not seq.awaiting_keyframe


def wall_clock(start_ns: int):
    counter = itertools.count()
    return lambda: start_ns + next(counter) * 1_000_000  # 1 ms a reading


def run_md(md: MdNode, reader: DeltaReader, until_events: int) -> None:
    while md.stage.events < until_events:
        md.step()
        md.publish_delta()
        md.topics.flush()  # deltas go out without waiting: stored by now
        reader.read(0.0)


def md_restart(bus_config: BusConfig, tmp_path) -> None:
    stream = simulated_stream(n_batches=24, batch=500)
    n = books.N_INSTRUMENTS
    bus, topics = open_bus(bus_config), open_topics(bus_config)
    store = FileCheckpointStore(tmp_path / "md.npz", fsync=False)
    try:
        for batch in stream[:16]:
            bus.publish(batch)
        reader = DeltaReader(topics, n)
        first = MdNode(n, books.MD_CONFIG, CONFIG, bus, topics, store, wall_clock(10**18))
        run_md(first, reader, 4_000)
        first.consumer.checkpoint(wait=True)
        checkpointed = first.stage.events
        run_md(first, reader, 8_000)  # applied and published, never checkpointed
        assert reader.sequence.epoch == first.epoch and reader.deltas > 0
        # md dies (no close): what it did after the checkpoint is redone by its successor
        for batch in stream[16:]:
            bus.publish(batch)
        second = MdNode(n, books.MD_CONFIG, CONFIG, bus, topics, store, wall_clock(2 * 10**18))
        assert second.stage.events == checkpointed and second.epoch > first.epoch
        second.publish_delta()  # its first delta: a keyframe of the restored state
        topics.flush()
        reader.read(0.0)
        assert reader.sequence.restarts == 1 and reader.sequence.duplicates == 0
        assert reader.sequence.gaps == 0
        np.testing.assert_array_equal(reader.state.mid, second.stage.market_state.mid)
        total = sum(len(b) for b in stream)
        run_md(second, reader, total)
        second.publish_delta()
        topics.flush()
        reader.read(0.0)
        # exactly once into books across the restart: as one undisturbed md
        undisturbed = new_stage()
        for batch in stream:
            books.apply_md(undisturbed, batch)
        expected = comparable_state(undisturbed)
        got = comparable_state(second.stage)
        del expected["market.updated"]  # rows changed since the last delta: md's, not books'
        for name, array in expected.items():
            np.testing.assert_array_equal(got[name], array, err_msg=name)
        # the reader followed the new md: its replica is md's state, its time md's
        for name in DELTA_COLUMNS:
            np.testing.assert_array_equal(
                getattr(reader.state, name), getattr(second.stage.market_state, name)
            )
        assert reader.ts_ns == second._ts_ns
        assert (reader.sequence.restarts, reader.sequence.duplicates) == (1, 0)
        second.close()
    finally:
        topics.close()
        bus.close()


def test_md_restart_over_the_memory_bus(tmp_path) -> None:
    md_restart(BusConfig(partitions=3), tmp_path)


@pytest.mark.services
def test_md_restart_over_nats(nats_server, tmp_path) -> None:
    md_restart(BusConfig(url=nats_server.url, partitions=3, stream="MDRESTART"), tmp_path)


@pytest.mark.services
def test_md_refuses_a_checkpoint_of_a_deleted_stream(nats_server, tmp_path) -> None:
    config = BusConfig(url=nats_server.url, partitions=2, stream="MDFRESH")
    stream = simulated_stream(n_batches=4, batch=500)
    store = FileCheckpointStore(tmp_path / "md.npz", fsync=False)
    bus, topics = open_bus(config), open_topics(config)
    try:
        for batch in stream:
            bus.publish(batch)
        md = MdNode(books.N_INSTRUMENTS, books.MD_CONFIG, CONFIG, bus, topics, store)
        while not md.idle():
            md.step()
        md.close()
        bus.delete_streams()  # NATS reset: md's old checkpoint, a fresh (empty) stream
    finally:
        bus.close()
    bus = open_bus(config)
    try:
        with pytest.raises(CheckpointMismatchError, match="created again"):
            MdNode(books.N_INSTRUMENTS, books.MD_CONFIG, CONFIG, bus, topics, store)
        assert topics.last_seq(SUBJECTS["market"]) > 0
    finally:
        topics.close()
        bus.close()
