"""Typed-message topics over a real NATS JetStream server (``riskstream.bus.nats_topics``):
the behaviour of ``tests/bus/test_topics.py`` (ordered, gap-free sequence numbers,
de-duplication by message id, conflation, readers on other threads), plus what only a
server brings: messages larger than its ``max_payload``, and a broker restart that loses
nothing and doubles nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from riskstream.bus import BusConfig, MemoryTopics, open_topics
from riskstream.bus.nats_topics import NatsTopics
from riskstream.core.errors import FencedError, InputError, ServiceUnavailableError
from riskstream.core.messages import Fill, MarketStateDelta
from tests.servers import free_port


def _topics(url: str, **kw: Any) -> NatsTopics:
    topics = open_topics(BusConfig(url=url, **kw))
    assert isinstance(topics, NatsTopics)
    return topics


def _retry(call: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    """Call until the broker answers (it is restarting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except ServiceUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_open_topics_picks_the_backend_from_the_url(nats_server) -> None:
    assert isinstance(open_topics("memory://"), MemoryTopics)
    topics = _topics(nats_server.url)
    topics.close()
    with pytest.raises(ServiceUnavailableError):
        open_topics(f"nats://127.0.0.1:{free_port()}")


def test_messages_are_numbered_in_order_and_read_once(nats_server) -> None:
    topics = _topics(nats_server.url)
    reader = topics.subscribe("s", start_after=0)
    seqs = [topics.publish("s", {"n": i}) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    got = reader.fetch(3, timeout_s=1.0)
    got += reader.fetch(10, timeout_s=1.0)
    assert [seq for seq, _ in got] == [1, 2, 3, 4, 5]
    assert [m["n"] for _, m in got] == [0, 1, 2, 3, 4]
    assert reader.fetch(10) == []
    topics.close()


def test_a_message_id_seen_before_is_not_stored_again(nats_server) -> None:
    topics = _topics(nats_server.url)
    fill = Fill("ord-1", 1, 7, -100.0, 99.5, 1)
    assert topics.publish("fills", fill, msg_id="fill.ord-1") == 1
    assert topics.publish("fills", fill, msg_id="fill.ord-1") == 0
    assert topics.publish("fills", "b", msg_id="fill.ord-2") == 2
    assert topics.last_seq("fills") == 2
    assert topics.subscribe("fills", start_after=0).fetch(10, 1.0)[0] == (1, fill)
    topics.close()


def test_latest_skips_to_the_newest_message(nats_server) -> None:
    topics = _topics(nats_server.url)
    reader = topics.subscribe("s")
    for i in range(4):
        topics.publish("s", i)
    assert reader.latest() == (4, 3)
    assert reader.latest() is None
    topics.publish("s", 9)
    assert reader.fetch(timeout_s=1.0) == [(5, 9)]
    topics.publish("s", 10)
    assert reader.latest(timeout_s=1.0) == (6, 10)
    topics.close()


def test_a_reader_starts_after_the_end_by_default(nats_server) -> None:
    topics = _topics(nats_server.url)
    for i in range(5):
        topics.publish("s", i)
    late = topics.subscribe("s")
    assert late.fetch(timeout_s=0.2) == []
    assert [seq for seq, _ in topics.subscribe("s", start_after=3).fetch(timeout_s=1)] == [4, 5]
    topics.close()


def test_a_reader_on_another_connection_waits_for_a_publication(nats_server) -> None:
    writer, reading = _topics(nats_server.url), _topics(nats_server.url)
    reader = reading.subscribe("s")
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(reader.fetch(timeout_s=5.0)))
    thread.start()
    time.sleep(0.2)
    writer.publish("s", "hello")
    thread.join(5.0)
    assert got == [(1, "hello")]
    writer.close()
    reading.close()


def test_a_message_larger_than_max_payload_is_chunked_and_reassembled(nats_server) -> None:
    topics = _topics(nats_server.url, max_payload_bytes=16_384)
    reader = topics.subscribe("md.delta", start_after=0)
    n = 10_000  # ~240 kB of arrays: 15 chunks
    delta = MarketStateDelta(
        1, 5, np.arange(n), {"bid": np.linspace(0, 1, n), "ask": np.full(n, np.nan)}, n
    )
    assert topics.publish("md.delta", delta, msg_id="md.1") == 1
    assert topics.publish("md.delta", delta, msg_id="md.1") == 0  # chunks de-duplicated too
    assert topics.publish("md.delta", "small", msg_id="md.2") == 2  # one sequence per message
    (seq, back), (seq2, small) = reader.fetch(10, timeout_s=2.0)
    assert (seq, seq2, small) == (1, 2, "small")
    assert np.array_equal(back.columns["bid"], delta.columns["bid"])
    assert np.isnan(back.columns["ask"]).all() and back.events == n
    assert topics.subscribe("md.delta", start_after=0).latest()[0] == 2
    one = topics.subscribe("md.delta", start_after=0)
    topics.publish("md.delta", delta)  # no id: chunked all the same
    assert one.latest()[1].seq == 1
    topics.close()


def test_bad_subjects_are_refused(nats_server) -> None:
    topics = _topics(nats_server.url)
    with pytest.raises(InputError, match="subject"):
        topics.publish("risk.>", 1)
    with pytest.raises(InputError, match="subject"):
        topics.subscribe("a b")
    topics.close()


def test_messages_survive_a_broker_restart_and_the_reader_resumes(nats_server) -> None:
    topics = _topics(nats_server.url, max_payload_bytes=8192)
    reader = topics.subscribe("risk.snapshot", start_after=0)
    big = np.arange(4000.0)  # chunked: the blob stream must survive too
    for i in range(3):
        assert topics.publish("risk.snapshot", {"i": i, "x": big}, msg_id=f"snap-{i}") == i + 1
    assert [seq for seq, _ in reader.fetch(2, timeout_s=1.0)] == [1, 2]

    nats_server.stop(kill=True)  # kill -9: no clean shutdown of the store
    with pytest.raises(ServiceUnavailableError):
        reader.fetch(10, timeout_s=0.3)
    nats_server.start()

    # a re-publish of snap-2 (the publisher did not see its acknowledgement) is recognised
    assert _retry(lambda: topics.publish("risk.snapshot", {"i": 2}, msg_id="snap-2")) == 0
    assert _retry(lambda: topics.publish("risk.snapshot", {"i": 3, "x": big}, "snap-3")) == 4
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        got += _retry(lambda: reader.fetch(10, timeout_s=0.5))
    assert [(seq, m["i"]) for seq, m in got] == [(3, 2), (4, 3)]
    assert np.array_equal(got[-1][1]["x"], big)
    fresh = _topics(nats_server.url)
    assert fresh.last_seq("risk.snapshot") == 4
    assert [m["i"] for _, m in fresh.subscribe("risk.snapshot", 0).fetch(10, 1.0)] == [0, 1, 2, 3]
    fresh.close()
    topics.close()


def test_a_reader_whose_consumer_the_server_dropped_recreates_it(nats_server) -> None:
    """An ephemeral consumer idle past its threshold (or lost in a restart) is deleted by
    the server, which then answers a fetch with nothing at all: the reader notices the
    stream holds newer messages and recreates it after its position."""
    topics = _topics(nats_server.url)
    reader = topics.subscribe("s", start_after=0)
    topics.publish("s", 1)
    assert reader.fetch(10, 1.0) == [(1, 1)]
    topics._run(topics._js.delete_consumer(reader._stream, reader._sub._consumer), "delete")
    topics.publish("s", 2)
    assert reader.fetch(10, 1.0) == [(2, 2)]
    topics.close()


def test_a_poll_of_a_quiet_subject_sends_no_pull(nats_server, monkeypatch) -> None:
    """A fetch that does not wait (a node polling positions, regime and FX before every
    refresh) asks the stream's last sequence first: with nothing after the position it
    returns at once, without a pull, which the server would hold open for MIN_WAIT_S; with
    something there it reads it, the consumer lost or not."""
    topics = _topics(nats_server.url)
    reader = topics.subscribe("s", start_after=0)
    pulls = []
    pull = reader._fetch

    async def counted(max_messages: int, timeout_s: float) -> Any:
        pulls.append(timeout_s)
        return await pull(max_messages, timeout_s)

    monkeypatch.setattr(reader, "_fetch", counted)
    assert reader.fetch(10) == []
    assert pulls == []
    topics.publish("s", 1)
    assert reader.fetch(10) == [(1, 1)]
    assert reader.fetch(10) == []
    topics._run(topics._js.delete_consumer(reader._stream, reader._sub._consumer), "delete")
    topics.publish("s", 2)
    assert reader.fetch(10) == [(2, 2)]
    assert len(pulls) >= 2
    topics.close()


def test_a_fenced_publish_lands_only_on_the_expected_last_message(nats_server) -> None:
    topics = _topics(nats_server.url)
    assert topics.publish("s", "a", "id-a") == 1
    assert topics.publish("s", "b", "id-b", expected_last_seq=1) == 2
    with pytest.raises(FencedError, match="no longer 1"):
        topics.publish("s", "late", "id-late", expected_last_seq=1)
    assert topics.publish("s", "a", "id-a", expected_last_seq=1) == 0  # a duplicate is no conflict
    assert topics.last_seq("s") == 2
    topics.close()


def test_publish_nowait_stores_in_call_order_and_reports_a_failure(nats_server) -> None:
    """md's deltas go out without a round trip each: many in flight at once (a large one,
    chunked, among them), stored in the order sent; a broker that is gone is reported by a
    later call, not lost silently."""
    topics = NatsTopics(BusConfig(url=nats_server.url, max_payload_bytes=4096), timeout_s=1.0)
    try:
        reader = topics.subscribe("md.delta", start_after=0)
        for k in range(1, 301):
            rows = 400 if k == 150 else 2  # ~16 kB: chunked, with its neighbours in flight
            topics.publish_nowait(
                "md.delta", MarketStateDelta(k, k, np.arange(rows), {"mid": np.full(rows, k)})
            )
        topics.flush()
        got = reader.fetch(1000, 5.0)
        while len(got) < 300 and (more := reader.fetch(1000, 2.0)):
            got.extend(more)
        assert [seq for seq, _ in got] == list(range(1, 301))
        assert [m.seq for _, m in got] == list(range(1, 301))
        assert got[149][1].instrument_id.size == 400
        nats_server.stop(kill=True)
        with pytest.raises(ServiceUnavailableError, match="not confirmed"):
            for k in range(301, 400):
                topics.publish_nowait("md.delta", MarketStateDelta(k, k, np.arange(1), {}))
            topics.flush()
    finally:
        topics.close()
