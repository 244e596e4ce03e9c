"""The NATS JetStream bus against a real nats-server: delivery, de-duplication,
partitioning, and exactly-once into state across consumer and broker crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from riskstream.bus import BusConfig, FileCheckpointStore, open_bus
from riskstream.bus.base import split_by_partition
from riskstream.core.errors import ServiceUnavailableError
from riskstream.md import features as ft
from tests.bus import books
from tests.bus.books import LedgerAndBooks, apply_md, comparable_state, new_stage, simulated_stream
from tests.bus.ledger import Ledger, event_stream

pytestmark = pytest.mark.services

N_INSTRUMENTS = 50
ROOT = Path(__file__).resolve().parents[2]


def drain(consumer) -> list:
    out = []
    while batch := consumer.fetch(64, 0.3):
        out.extend(batch)
    return out


def test_publish_consume_partitioned_and_deduplicated(nats_server) -> None:
    stream = event_stream(n_batches=6, batch=800, n_instruments=N_INSTRUMENTS, seed=5)
    bus = open_bus(BusConfig(url=nats_server.url, partitions=3))
    try:
        for batch in stream:
            assert bus.publish(batch).duplicates == 0
        redo = bus.publish(stream[2])  # a publisher re-sending after a crash
        assert redo.duplicates == redo.messages == 3
        assert [bus.last_seq(p) for p in range(3)] == [6, 6, 6]

        consumer = bus.consumer("t", start_after={})
        messages = drain(consumer)
        for p in range(3):
            mine = [m for m in messages if m.partition == p]
            assert [m.seq for m in mine] == list(range(1, 7))
            assert all(np.all(m.events["instrument_id"] % 3 == p) for m in mine)
        got = np.concatenate([m.events for m in messages])
        assert len(got) == 6 * 800
        everything = np.concatenate(stream)
        order = np.lexsort((got["seq"], got["instrument_id"]))
        expected_order = np.lexsort((everything["seq"], everything["instrument_id"]))
        np.testing.assert_array_equal(got[order], everything[expected_order])

        consumer.commit({0: 6, 1: 3, 2: 6})
        consumer.close()
        resumed = bus.consumer("t")  # durable: resumes after the acknowledged messages
        assert [(m.partition, m.seq) for m in drain(resumed)] == [(1, 4), (1, 5), (1, 6)]
        resumed.seek({2: 4})
        assert [(m.partition, m.seq) for m in drain(resumed)] == [(2, 5), (2, 6)]
        resumed.close()
    finally:
        bus.close()


def test_large_batches_are_chunked_under_max_payload(nats_server) -> None:
    bus = open_bus(BusConfig(url=nats_server.url, partitions=1, max_payload_bytes=64_000))
    try:
        batch = np.concatenate(event_stream(1, 5000, N_INSTRUMENTS, seed=2))
        result = bus.publish(batch)
        assert result.messages == -(-5000 // bus.rows_per_message) > 1
        got = np.concatenate([m.events for m in drain(bus.consumer("c", start_after={}))])
        np.testing.assert_array_equal(got, batch)
    finally:
        bus.close()


def test_unreachable_server_is_a_clear_error() -> None:
    from tests.servers import free_port

    with pytest.raises(ServiceUnavailableError, match="NATS"):
        open_bus(BusConfig(url=f"nats://127.0.0.1:{free_port()}"))


def _publish(url: str, batches: list[np.ndarray]) -> None:
    """Publish, riding out a broker restart: a failed publish is retried with the same
    message ids, so it is stored once whatever happened to the first attempt."""
    bus = None
    for batch in batches:
        deadline = time.monotonic() + 60
        while True:
            try:
                bus = bus or open_bus(BusConfig(url=url, partitions=4))
                bus.publish(batch)
                break
            except ServiceUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    if bus is not None:
        bus.close()


def _worker(
    url: str,
    checkpoint: Path,
    expected: int,
    final: Path,
    background: bool = False,
    read_ahead: bool = False,
) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bus.consumer_worker",
            url,
            str(checkpoint),
            str(expected),
            "--final",
            str(final),
            "--sleep-ms",
            "10",
            *(["--background"] if background else []),
            *(["--read-ahead"] if read_ahead else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _applied(store: FileCheckpointStore) -> int:
    """Events in the last checkpoint (reads only the ledger's counts of the npz)."""
    if not store.path.exists():
        return 0
    with np.load(store.path) as saved:
        return int(saved["ledger.count"].sum())


def _wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("background", "read_ahead"),
    [(False, False), (True, False), (True, True)],
    ids=["sync-save", "background-save", "background-save-read-ahead"],
)
def test_exactly_once_across_consumer_and_broker_crashes(
    nats_server, tmp_path, background, read_ahead
) -> None:
    """Kill the broker and the consumer (SIGKILL) mid-stream, restart both, re-publish what
    the publisher is unsure of; then kill the broker alone under a running consumer. The
    final state equals an undisturbed run: no event lost, doubled or reordered. Both with
    checkpoints saved on the consuming thread and written by a forked child in the
    background (acknowledged once written; the kill then also lands between snapshot and
    save), and with each fetch sent while the previous batch is applied (md's read-ahead:
    the kills then also find a batch read ahead and not applied).

    The stream is the market simulator's (L3 order flow and L1 quotes, 200 instruments),
    and the consumer builds real order books (an md stage) beside the Ledger, both in one
    checkpoint. Why a lost or doubled event cannot go unnoticed: a doubled event (an ADD
    delivered twice, say) is quarantined by the sequencer as a duplicate seq, so the
    quarantine and duplicate counts are no longer 0 and ``events_seen`` exceeds the
    published count; a lost one leaves a gap (the gap counter, the ``stale`` flag and the
    feed's ``gap_lo/gap_hi`` change) and a book without that order, level size or trade
    (volume, VWAP, last price differ). Either also changes the Ledger's counts and
    checksums. ``tests/bus/test_books_comparison.py`` checks that the comparison below
    fails in both cases.
    """
    stream = simulated_stream(n_batches=60, batch=1000)
    total = sum(len(b) for b in stream)
    undisturbed = Ledger(books.N_INSTRUMENTS)
    # undisturbed books: the simulator's own order, batch by batch (the bus interleaves
    # partitions differently; comparable_state holds only what does not depend on that)
    undisturbed_md = new_stage()
    for batch in stream:
        undisturbed.apply(batch)
        apply_md(undisturbed_md, batch)
    expected_books = comparable_state(undisturbed_md)

    store = FileCheckpointStore(tmp_path / "state.npz")
    final_md = tmp_path / "final_md.npz"
    _publish(nats_server.url, stream[:30])
    worker = _worker(nats_server.url, store.path, total, final_md, background, read_ahead)
    try:
        _wait_for(lambda: _applied(store) >= 5_000, 60, "the consumer to make progress")
        # crash 1: broker and consumer die together, mid-stream
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        nats_server.stop(kill=True)
        applied_at_crash = _applied(store)
        assert 0 < applied_at_crash < 30_000
        nats_server.start()
        # the publisher, unsure what was stored, sends batches 20..39 again and goes on
        _publish(nats_server.url, stream[20:40])
        worker = _worker(nats_server.url, store.path, total, final_md, background, read_ahead)
        _wait_for(lambda: _applied(store) >= applied_at_crash + 5_000, 60, "progress")
        # crash 2: the broker alone dies under a running consumer and comes back
        nats_server.stop(kill=True)
        time.sleep(0.5)
        nats_server.start()
        _publish(nats_server.url, stream[35:])
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    final = store.load()
    assert final is not None
    restored = LedgerAndBooks()
    restored.restore(final.state)
    for name, array in undisturbed.state().items():
        np.testing.assert_array_equal(restored.ledger.state()[name], array, err_msg=name)
    assert final.state["ledger.breaks"].sum() == 0
    assert final.state["ledger.count"].sum() == total

    # the books, array by array (NaN equal to NaN): as the worker left them, and as its
    # last checkpoint restores them
    with np.load(final_md) as saved:
        worker_books = {name: saved[name] for name in saved.files}
    for got in (worker_books, comparable_state(restored.md)):
        assert got.keys() == expected_books.keys()
        for name, array in expected_books.items():
            np.testing.assert_array_equal(got[name], array, err_msg=name)
    summary = restored.md.summary()
    assert summary["quarantined"] == 0, summary["quarantine_by_reason"]
    accepted = int(restored.md.engine.features.counters[ft.UPDATES])  # events applied
    assert accepted + summary["quarantined"] == summary["md_events"] == total
    assert summary["gaps"] == summary["duplicates"] == summary["books_stale"] == 0
    assert summary["books"] == books.N_INSTRUMENTS and restored.md.engine.check_integrity() == []

    bus = open_bus(BusConfig(url=nats_server.url, partitions=4))
    try:  # every message stored once despite the re-publishes, and applied once
        messages = sum(len(split_by_partition(batch, 4)) for batch in stream)
        assert sum(bus.last_seq(p) for p in range(4)) == messages
        assert final.positions == {p: bus.last_seq(p) for p in range(4)}
        assert restored.md.batches == messages
    finally:
        bus.close()


def test_read_ahead_is_dropped_on_recover_over_nats(nats_server) -> None:
    """A batch read ahead (fetched on the client's thread while the previous one was
    applied) and not yet applied when the consumer recovers is dropped: after the seek the
    broker delivers its messages again and each is applied once, in order. Kept, it would
    be applied and its messages skipped as duplicates when delivered again."""
    from riskstream.bus import CheckpointedConsumer, MemoryCheckpointStore

    stream = event_stream(n_batches=12, batch=300, n_instruments=N_INSTRUMENTS, seed=9)
    bus = open_bus(BusConfig(url=nats_server.url, partitions=2))
    try:
        for batch in stream:
            bus.publish(batch)
        ledger = Ledger(N_INSTRUMENTS)
        consumer = CheckpointedConsumer(
            bus, "ra", ledger, ledger.apply, MemoryCheckpointStore(), checkpoint_every=3,
            max_messages=4, read_ahead=True,
        )  # fmt: skip
        assert consumer.poll(1.0) > 0 and consumer.reading_ahead
        ahead = consumer._ahead.future.result(10)  # the read-ahead arrived: it holds messages
        assert len(ahead) > 0
        consumer.recover()  # as after a broker restart
        assert not consumer.reading_ahead
        last = {p: bus.last_seq(p) for p in range(2)}
        deadline = time.monotonic() + 30
        while consumer.positions != last and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert consumer.positions == last
        assert consumer.stats.duplicates_skipped == 0 and consumer.stats.gaps_recovered == 0
        assert consumer.stats.applied_messages == sum(last.values())
        expected = Ledger(N_INSTRUMENTS)
        for batch in stream:
            expected.apply(batch)
        for name, array in expected.state().items():
            np.testing.assert_array_equal(ledger.state()[name], array, err_msg=name)
        consumer.close()
    finally:
        bus.close()


def test_redelivered_messages_are_skipped_over_nats(nats_server) -> None:
    from riskstream.bus import CheckpointedConsumer, MemoryCheckpointStore

    stream = event_stream(n_batches=6, batch=300, n_instruments=N_INSTRUMENTS, seed=8)
    bus = open_bus(BusConfig(url=nats_server.url, partitions=2))
    try:
        for batch in stream:
            bus.publish(batch)
        ledger = Ledger(N_INSTRUMENTS)
        consumer = CheckpointedConsumer(
            bus, "g", ledger, ledger.apply, MemoryCheckpointStore(), checkpoint_every=2
        )
        consumer.run(idle_timeout_s=0.3, fetch_timeout_s=0.1)
        before = {k: v.copy() for k, v in ledger.state().items()}
        consumer.consumer.seek({0: 0, 1: 0})  # the broker delivers everything again
        while consumer.poll(0.2) or consumer.stats.duplicates_skipped < 12:
            pass
        assert consumer.stats.duplicates_skipped == 12
        for name, array in before.items():
            np.testing.assert_array_equal(ledger.state()[name], array)
        consumer.close()
    finally:
        bus.close()


def test_two_consumer_processes_share_the_partitions(nats_server, tmp_path) -> None:
    """A consumer group split over partitions: each member sees only its instruments,
    and together they apply every event once."""
    from riskstream.bus import CheckpointedConsumer

    stream = event_stream(n_batches=8, batch=500, n_instruments=N_INSTRUMENTS, seed=9)
    bus = open_bus(BusConfig(url=nats_server.url, partitions=4))
    try:
        for batch in stream:
            bus.publish(batch)
        members = []
        for k, parts in enumerate(([0, 1], [2, 3])):
            ledger = Ledger(N_INSTRUMENTS)
            CheckpointedConsumer(
                bus,
                "group",
                ledger,
                ledger.apply,
                FileCheckpointStore(tmp_path / f"member{k}.npz"),
                partitions=parts,
                checkpoint_every=4,
            ).run(idle_timeout_s=0.3, fetch_timeout_s=0.1)
            seen = np.flatnonzero(ledger.count)
            assert set(seen % 4) <= set(parts)
            members.append(ledger)
        expected = Ledger(N_INSTRUMENTS)
        for batch in stream:
            expected.apply(batch)
        np.testing.assert_array_equal(members[0].count + members[1].count, expected.count)
        combined = np.where(members[0].count > 0, members[0].checksum, members[1].checksum)
        np.testing.assert_array_equal(
            combined[expected.count > 0], expected.checksum[expected.count > 0]
        )
    finally:
        bus.close()
