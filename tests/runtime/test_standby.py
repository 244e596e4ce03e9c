"""Hot standby (``riskstream.runtime.standby``): only the leader publishes; across a
takeover consumers see no skipped or doubled message — in process with a controlled clock,
and with two processes over a real NATS server where the primary is killed (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from riskstream.bus import BusConfig, MemoryTopics, open_topics
from riskstream.bus.lease import Lease, MemoryLeaseStore
from riskstream.bus.nats_topics import NatsTopics
from riskstream.core.messages import Fill, LimitState, MarketStateDelta
from riskstream.runtime.standby import LeaderTopics, content_id, order_key

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def state(seq: int, by: str) -> LimitState:
    return LimitState(seq, f"d{seq}", {"by": by})


def test_ids_and_order_come_from_the_message_identity() -> None:
    fill = Fill("L42.3.17", 3, 17, -5.0, 10.0, 1)
    assert content_id(fill) == "fill.L42.3.17" and order_key(fill) is None
    delta = MarketStateDelta(9, 1, np.arange(2), {})
    assert content_id(delta) == "md.0.9" and order_key(delta) == (0, 9)
    restarted = MarketStateDelta(1, 1, np.arange(2), {}, epoch=5)  # md numbering from 1 again
    assert content_id(restarted) == "md.5.1" and order_key(restarted) > order_key(delta)
    assert content_id(state(4, "a")) == content_id(state(4, "b")) == "limits.d4"
    assert content_id({"x": 1}) is None


def test_only_the_leader_publishes_and_the_takeover_skips_and_doubles_nothing() -> None:
    topics, store, clock = MemoryTopics(), MemoryLeaseStore(), Clock()
    a = LeaderTopics(topics, Lease(store, "limits", "a", ttl_s=2.0, clock=clock))
    b = LeaderTopics(topics, Lease(store, "limits", "b", ttl_s=2.0, clock=clock))
    a.lease.tick()
    b.lease.tick()
    # both compute every result; only a's are stored
    for seq in range(1, 4):
        clock.now += 0.5
        a.lease.tick()
        b.lease.tick()
        assert a.publish("limits.state", state(seq, "a")) == seq
        assert b.publish("limits.state", state(seq, "b")) == 0
    # a is killed after computing 4 and 5 but storing only 4; b computes 4..6 meanwhile
    a.publish("limits.state", state(4, "a"))
    for seq in (4, 5, 6):
        b.publish("limits.state", state(seq, "b"))
    assert b.suppressed == 6
    clock.now += 0.1
    b.lease.tick()  # b sees a's last revision
    clock.now += 2.0
    assert b.lease.tick()  # expired: b takes over
    b.on_leadership(True)
    deadline = time.monotonic() + 5
    while b.took_over_at is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # the backlog newer than what a stored went out first: 5 and 6 (4 was a's: the same id)
    assert b.publish("limits.state", state(7, "b")) == 7
    assert b.publish("limits.state", state(3, "b")) == 0 and b.stale >= 1  # older: dropped
    got = topics.subscribe("limits.state", start_after=0).fetch(100)
    assert [seq for seq, _ in got] == list(range(1, 8))
    assert [m.ts_ns for _, m in got] == list(range(1, 8))
    assert [m.state["by"] for _, m in got] == ["a"] * 4 + ["b"] * 3
    # a comes back: it is no longer leader, and what it computes is not stored
    assert not a.lease.tick()
    assert a.publish("limits.state", state(8, "a")) == 0


def _worker(url: str, name: str, until: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.standby_worker", url, name, "--until", str(until)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kill_9_of_the_primary_process_over_nats(nats_server) -> None:
    """The primary (SIGKILL) dies mid-stream; the standby process takes over in under 5 s
    and every delta's result is stored exactly once, in order, with no hole."""
    n = 120
    topics = open_topics(BusConfig(url=nats_server.url))
    a = _worker(nats_server.url, "a", n)
    assert a.stdout.readline().strip() == "ready"
    time.sleep(0.3)  # a acquires the lease
    b = _worker(nats_server.url, "b", n)
    assert b.stdout.readline().strip() == "ready"
    try:
        reader = topics.subscribe("limits.state", start_after=0)
        got: list = []
        killed_at = None
        recovered_at = None
        for seq in range(1, n + 1):
            topics.publish(
                "md.delta", MarketStateDelta(seq, seq, np.arange(1), {}, 10), f"md.{seq}"
            )
            time.sleep(0.03)
            got += reader.fetch(64)
            if seq == 40:
                a.send_signal(signal.SIGKILL)
                a.wait(10)
                killed_at = time.monotonic()
            if killed_at and recovered_at is None and any(m.state["by"] == "b" for _, m in got):
                recovered_at = time.monotonic()
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            got += reader.fetch(64, timeout_s=0.5)
            if recovered_at is None and any(m.state["by"] == "b" for _, m in got):
                recovered_at = time.monotonic()
        assert b.wait(20) == 0, b.stdout.read()
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [seq for seq, _ in got] == list(range(1, n + 1))  # no hole, nothing doubled
    assert [m.ts_ns for _, m in got] == list(range(1, n + 1))  # every delta's result, once
    assert got[-1][1].state["events"] == 10 * n  # the standby's state missed nothing
    assert {m.state["by"] for _, m in got[:30]} == {"a"} and got[-1][1].state["by"] == "b"
    assert recovered_at is not None and recovered_at - killed_at < 5.0, recovered_at - killed_at
    topics.close()


def test_a_reduction_order_is_never_doubled_across_a_takeover() -> None:
    """Fills have no order, only identity: the new leader sends its whole backlog, and the
    orders the dead primary already stored (same ``order_id``, same message id) are not
    stored again."""
    topics, store, clock = MemoryTopics(), MemoryLeaseStore(), Clock()
    a = LeaderTopics(topics, Lease(store, "limits", "a", clock=clock))
    b = LeaderTopics(topics, Lease(store, "limits", "b", clock=clock))
    a.lease.tick()
    b.lease.tick()

    def fill(lineage: str) -> Fill:  # the order id is a function of its cause
        return Fill(f"{lineage}.3.17", 3, 17, -100.0, 10.0, 1, reason="limit breach")

    for lineage in ("L1", "L2"):
        assert a.publish("fills", fill(lineage)) > 0
        assert b.publish("fills", fill(lineage)) == 0
    b.publish("fills", fill("L3"))  # a died before deciding L3
    clock.now += 2.5
    b.lease.tick()
    clock.now += 2.5
    assert b.lease.tick()
    assert b.publish("fills", fill("L4")) > 0
    got = [m.order_id for _, m in topics.subscribe("fills", start_after=0).fetch(100)]
    assert got == ["L1.3.17", "L2.3.17", "L3.3.17", "L4.3.17"]


def test_a_replaced_leaders_delayed_write_never_lands_after_its_successors(nats_server) -> None:
    """The race a lease alone cannot close: the primary checked it was leader, then its
    write was delayed (a GC pause, a slow network) past the end of its lease; meanwhile the
    standby took over and published newer results. The write is fenced on the subject's
    last sequence number, so it is refused, and the primary, no longer leader, stops."""
    topics = NatsTopics(BusConfig(url=nats_server.url))
    store, clock = MemoryLeaseStore(), Clock()
    a = LeaderTopics(topics, Lease(store, "limits", "a", ttl_s=2.0, clock=clock))
    b = LeaderTopics(topics, Lease(store, "limits", "b", ttl_s=2.0, clock=clock))
    a.lease.tick()
    b.lease.tick()
    assert a.publish("limits.state", state(10, "a")) == 1
    clock.now += 2.5  # a stalls; b takes over and publishes 20 and 30
    assert b.lease.tick()
    assert b.publish("limits.state", state(20, "b")) == 2
    assert b.publish("limits.state", state(30, "b")) == 3
    # a's write of 15 was already past its leadership check when it stalled
    assert a._store("limits.state", state(15, "a"), None) == 0  # refused, then a stands by
    assert a.conflicts == 1 and a.suppressed == 1
    got = topics.subscribe("limits.state", start_after=0).fetch(10, 1.0)
    assert [(m.ts_ns, m.state["by"]) for _, m in got] == [(10, "a"), (20, "b"), (30, "b")]
    topics.close()
