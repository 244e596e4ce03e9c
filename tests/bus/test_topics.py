"""The in-process topics: ordered, gap-free sequence numbers, de-duplication by message id,
conflation, and readers on other threads (``riskstream.bus.topics``)."""

from __future__ import annotations

import threading

from riskstream.bus.topics import MemoryTopics


def test_messages_are_numbered_in_order_and_read_once() -> None:
    topics = MemoryTopics()
    reader = topics.subscribe("s", start_after=0)
    seqs = [topics.publish("s", {"n": i}) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    got = reader.fetch(3) + reader.fetch(10)
    assert [seq for seq, _ in got] == [1, 2, 3, 4, 5]
    assert [m["n"] for _, m in got] == [0, 1, 2, 3, 4]
    assert reader.fetch(10) == []


def test_a_message_id_seen_before_is_not_stored_again() -> None:
    topics = MemoryTopics()
    assert topics.publish("s", "a", msg_id="snap-1") == 1
    assert topics.publish("s", "a again", msg_id="snap-1") == 0
    assert topics.publish("s", "b", msg_id="snap-2") == 2
    assert topics.last_seq("s") == 2


def test_latest_skips_to_the_newest_message() -> None:
    topics = MemoryTopics()
    reader = topics.subscribe("s")
    for i in range(4):
        topics.publish("s", i)
    assert reader.latest() == (4, 3)
    assert reader.latest() is None
    topics.publish("s", 9)
    assert reader.fetch() == [(5, 9)]


def test_a_reader_starts_after_the_end_by_default_and_after_retention_drops() -> None:
    topics = MemoryTopics(retention=3)
    for i in range(5):
        topics.publish("s", i)
    late = topics.subscribe("s")
    assert late.fetch() == []
    early = topics.subscribe("s", start_after=0)
    assert [seq for seq, _ in early.fetch()] == [3, 4, 5]  # 1 and 2 fell out of retention


def test_a_reader_on_another_thread_waits_for_a_publication() -> None:
    topics = MemoryTopics()
    reader = topics.subscribe("s")
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(reader.fetch(timeout_s=5.0)))
    thread.start()
    topics.publish("s", "hello")
    thread.join(5.0)
    assert got == [(1, "hello")]
