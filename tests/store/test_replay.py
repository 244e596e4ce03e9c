"""Replay: stored events come back bit for bit, in original order and sequence, flagged
REPLAY, paced by event time; downstream state is identical."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from riskstream.bus import BusConfig, CheckpointedConsumer, MemoryBus, MemoryCheckpointStore
from riskstream.cli import app
from riskstream.cli.replay import parse_time_ns
from riskstream.core.clock import NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.events import EventFlag
from riskstream.feeds.replay import replay, replay_to_bus
from riskstream.store.history import HistoryStore
from tests.bus.ledger import Ledger
from tests.store.data import N_INSTRUMENTS, START, make_events


@pytest.fixture()
def stored(tmp_path):
    store = HistoryStore(tmp_path / "history", flush_rows=1000)
    events = make_events(5000, seed=21)
    # a live stream arrives with some events out of ts order: replay keeps arrival order
    events[100], events[101] = events[101].copy(), events[100].copy()
    for chunk in np.array_split(events, 8):
        store.append_events(chunk)
    store.flush()
    return store, events


def drain(bus: MemoryBus) -> np.ndarray:
    consumer = bus.consumer("check")
    out = []
    while batch := consumer.fetch(1024, 0.01):
        out.extend(m.events for m in batch)
    return np.concatenate(out)


def test_replay_reproduces_the_stream_bit_for_bit(stored) -> None:
    store, events = stored
    lo, hi = START + 30 * NS_PER_S, START + 150 * NS_PER_S  # crosses midnight
    bus = MemoryBus(BusConfig(partitions=1))
    stats = replay_to_bus(bus, store.iter_events(lo, hi, batch_rows=333))
    span = events[(events["ts_event"] >= lo) & (events["ts_event"] < hi)]
    got = drain(bus)
    assert stats.events == len(span) == len(got)
    assert np.all(got["flags"] & EventFlag.REPLAY)
    restored = got.copy()
    restored["flags"] &= ~np.uint8(EventFlag.REPLAY)
    np.testing.assert_array_equal(restored, span)  # original order, seq, every field


def test_replayed_state_equals_the_original_state(stored) -> None:
    """Downstream state built from the replay (through a partitioned bus and the
    exactly-once consumer) equals the state built from the original stream."""
    store, events = stored
    original = Ledger(N_INSTRUMENTS)
    original.apply(events)
    bus = MemoryBus(BusConfig(partitions=4))
    replay_to_bus(bus, store.iter_events(START, START + 10**15))
    replayed = Ledger(N_INSTRUMENTS)
    CheckpointedConsumer(bus, "md", replayed, replayed.apply, MemoryCheckpointStore()).run(
        idle_timeout_s=0.05, fetch_timeout_s=0.01
    )
    for name, array in original.state().items():
        np.testing.assert_array_equal(replayed.state()[name], array, err_msg=name)
    assert replayed.breaks.sum() == 0


def test_replay_paces_by_event_time() -> None:
    events = make_events(400, seed=3)
    span_ns = int(events["ts_event"][-1] - events["ts_event"][0])
    wall = [0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall[0] += int(seconds * 1e9)

    out = list(replay([events], speed=20.0, monotonic_ns=lambda: wall[0], sleep=sleep))
    assert sum(len(e) for e, _ in out) == 400
    # the last slice is released span/20 after the first (within one slice, 10 ms)
    assert wall[0] == pytest.approx(span_ns / 20, abs=10_000_000 / 20)
    assert all(now >= prev for (_, prev), (_, now) in itertools.pairwise(out))
    fast = list(replay([events], speed=None, sleep=lambda s: pytest.fail("slept")))
    assert len(fast) == 1
    with pytest.raises(InputError, match="speed"):
        list(replay([events], speed=0))


def test_cli_replay_json(stored, monkeypatch) -> None:
    store, events = stored
    monkeypatch.setenv("RISKSTREAM_STORE__HISTORY_URI", store.root)
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    result = CliRunner().invoke(
        app, ["replay", "--from", str(START), "--to", "2030-01-01T00:00:00Z", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["events"] == len(events) and summary["bus"] == "memory://"
    bad = CliRunner().invoke(app, ["replay", "--from", "yesterday", "--to", "1"])
    assert bad.exit_code != 0


def test_parse_time() -> None:
    assert parse_time_ns("1970-01-01T00:00:01Z", "--from") == NS_PER_S
    assert parse_time_ns("1970-01-01T01:00:00+01:00", "--from") == 0
    assert parse_time_ns("123", "--to") == 123


@pytest.mark.services
def test_replay_through_nats_is_bit_for_bit(stored, nats_server) -> None:
    from riskstream.bus import open_bus

    store, events = stored
    bus = open_bus(BusConfig(url=nats_server.url, partitions=1))
    try:
        stats = replay_to_bus(bus, store.iter_events(START, START + 10**15, batch_rows=2048))
        assert stats.duplicates == 0
        consumer = bus.consumer("check", start_after={})
        got = []
        while batch := consumer.fetch(64, 0.3):
            got.extend(m.events for m in batch)
        replayed = np.concatenate(got)
        replayed["flags"] &= ~np.uint8(EventFlag.REPLAY)
        np.testing.assert_array_equal(replayed, events)
        again = replay_to_bus(bus, store.iter_events(START, START + 10**15, batch_rows=2048))
        assert again.duplicates == again.messages  # a repeated replay is de-duplicated
    finally:
        bus.close()
