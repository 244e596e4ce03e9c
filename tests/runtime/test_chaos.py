"""Chaos: the broker and the primary die under load, and nothing is lost or doubled.

* Typed topics: a publisher and a reader (separate connections) run while ``nats-server``
  is killed (SIGKILL) and restarted; the publisher retries what was not acknowledged (same
  ids), the reader resumes after its position. The reader gets every message once, in order.
* A primary/standby pair of stage processes (``tests/runtime/standby_worker.py``): the
  broker is killed and restarted under them, then the primary is killed; every input's
  result is stored exactly once, in order, and the final state counts every event once.

The suite runs one round of each (seconds); ``RISKSTREAM_CHAOS_SCALE=N`` (``make chaos``)
runs N times the messages and N broker kills.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from riskstream.bus import BusConfig
from riskstream.bus.nats_topics import NatsTopics
from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.messages import LimitState, MarketStateDelta
from tests.runtime.test_standby import _worker

SCALE = max(1, int(os.environ.get("RISKSTREAM_CHAOS_SCALE", "1")))


def _retry(call: Callable[[], Any], stop: threading.Event | None = None) -> Any:
    deadline = time.monotonic() + 60
    while True:
        try:
            return call()
        except ServiceUnavailableError:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise
            time.sleep(0.05)


def _restart_broker(server, down_s: float = 0.3) -> None:
    server.stop(kill=True)
    time.sleep(down_s)
    server.start()


def test_topics_lose_and_double_nothing_across_broker_kills(nats_server) -> None:
    n = 300 * SCALE
    # a request in flight when the broker dies waits out its timeout: keep it short
    writer = NatsTopics(BusConfig(url=nats_server.url, max_payload_bytes=8192), timeout_s=1.0)
    reading = NatsTopics(BusConfig(url=nats_server.url), timeout_s=1.0)
    reader = reading.subscribe("limits.state", start_after=0)
    payload = np.arange(1500.0)  # every 10th message is chunked (~12 kB)
    got: list[tuple[int, Any]] = []
    stop = threading.Event()

    def publish() -> None:
        for i in range(1, n + 1):
            state = {"i": i, "x": payload} if i % 10 == 0 else {"i": i}
            message = LimitState(i, f"L{i}", state)
            _retry(lambda m=message: writer.publish("limits.state", m, f"limits.L{m.ts_ns}"))
            time.sleep(0.002)

    def read() -> None:
        while len(got) < n and not stop.is_set():
            try:
                got.extend(reader.fetch(64, timeout_s=0.2))
            except ServiceUnavailableError:
                time.sleep(0.05)

    threads = [threading.Thread(target=publish), threading.Thread(target=read)]
    for t in threads:
        t.start()
    try:
        for k in range(SCALE):
            while len(got) < (k + 1) * n // (SCALE + 1):
                time.sleep(0.01)
            _restart_broker(nats_server)
        threads[0].join(120)
        deadline = time.monotonic() + 60
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert [seq for seq, _ in got] == list(range(1, n + 1))
    assert [m.ts_ns for _, m in got] == list(range(1, n + 1))
    assert all(np.array_equal(m.state["x"], payload) for _, m in got if m.ts_ns % 10 == 0)
    assert _retry(lambda: writer.last_seq("limits.state")) == n  # re-publishes stored once
    writer.close()
    reading.close()


def test_a_standby_pair_survives_a_broker_kill_then_a_primary_kill(nats_server) -> None:
    n = 150 * SCALE
    topics = NatsTopics(BusConfig(url=nats_server.url), timeout_s=1.0)
    a = _worker(nats_server.url, "a", n)
    assert a.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    b = _worker(nats_server.url, "b", n)
    assert b.stdout.readline().strip() == "ready"
    kills = {n * (k + 1) // (SCALE + 2) for k in range(SCALE)}
    try:
        for seq in range(1, n + 1):
            delta = MarketStateDelta(seq, seq, np.arange(1), {}, 10)
            _retry(lambda d=delta: topics.publish("md.delta", d, f"md.{d.seq}"))
            time.sleep(0.02)
            if seq in kills:
                _restart_broker(nats_server)
            if seq == n * (SCALE + 1) // (SCALE + 2):
                a.send_signal(signal.SIGKILL)
                a.wait(10)
        assert b.wait(60) == 0, b.stdout.read()
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()
    reader = _retry(lambda: topics.subscribe("limits.state", start_after=0))
    got: list = []
    # a fetch may come back empty while the client settles after the broker's restarts:
    # keep reading until every state is in or 30 s pass (the assertions are unchanged)
    deadline = time.monotonic() + 30.0
    while len(got) < n and time.monotonic() < deadline:
        got += _retry(lambda: reader.fetch(n, 2.0))
    assert [seq for seq, _ in got] == list(range(1, n + 1))  # no hole, nothing doubled
    assert [m.ts_ns for _, m in got] == list(range(1, n + 1))  # every input's result, once
    assert got[-1][1].state["events"] == 10 * n
    assert got[-1][1].state["by"] == "b"
    topics.close()
