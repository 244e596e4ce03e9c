"""The feed node: a source of market events paced by the wall clock, published to the bus.

Live mode: market time runs at ``speed`` × wall time from the node's start. Every
``feed_tick_ms`` the node publishes the events whose market time has fallen due since the
previous tick (generating more from the simulator, or reading the replay, as needed), and
stamps each event's ``ts_recv`` with the wall-clock time of its receipt — the moment the
node takes it — so every downstream latency counts from there. Events are never held back
for the pipeline: if a stage falls behind, the events still go out on time and the stage's
latency grows (measured). If the source itself cannot keep up (generating the events takes
longer than they last), the *feed lag* grows: ``published wall time - due wall time`` of
each slice's oldest event, counted per event in the ``feed_lag`` histogram.

``speed=None`` publishes as fast as the source goes (``demo --max-speed``), optionally held
back by ``backlog`` (a callable the host provides: how many messages are published but not
yet consumed) so an in-memory bus never drops what a slow consumer has not read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from riskstream.bus.base import Bus
from riskstream.core.events import EVENT_DTYPE
from riskstream.core.messages import SUBJECTS, OrderAudit
from riskstream.runtime.latency import LatencyHistogram

Source = Iterator[tuple[np.ndarray, int]]
"""Event batches (EVENT_DTYPE, ``ts_event`` ascending) and the market time after each."""


class FeedNode:
    """Publish a source's events to ``bus`` on the wall clock.

    Parameters
    ----------
    source : iterator of (events, now_ns)
        E.g. ``MarketSimulator.batches()`` or a replay's batches.
    bus : Bus
    speed : float or None
        Market seconds per wall second; None: as fast as possible.
    tick_ms : float
        Wall time between publications.
    backlog : callable, optional
        Messages published and not yet consumed; with ``speed=None`` the feed waits while
        it exceeds ``max_backlog``.
    max_backlog : int
    clock_ns : callable
        The wall clock (ns since the epoch).
    audit : callable, optional
        The order audit trail of a batch the source handed out (e.g.
        ``MarketSimulator.audit`` when the simulator names its accounts): published with
        each batch on ``SUBJECTS["order_audit"]`` of ``topics`` for the surveillance stage.
    topics : Topics, optional
    """

    name = "feed"

    def __init__(
        self,
        source: Source,
        bus: Bus,
        speed: float | None = 1.0,
        tick_ms: float = 5.0,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 64,
        clock_ns: Callable[[], int] = time.time_ns,
        audit: Callable[[np.ndarray], np.ndarray] | None = None,
        topics: Any = None,
    ):
        self.source = source
        self.bus = bus
        self.speed = speed
        self.tick_ns = round(tick_ms * 1e6)
        self.backlog = backlog
        self.max_backlog = max_backlog
        self.clock_ns = clock_ns
        if audit is not None and topics is None:
            raise ValueError("an audit trail needs the topics to publish it on")
        self.audit = audit
        self.topics = topics
        self.events = 0
        self.messages = 0
        self.market_ns = 0  # market time of the newest event published
        self.due_ns = 0  # market time due at the latest step (wall clock x speed)
        self.lag = LatencyHistogram()
        self.lag_max_ns = 0
        self.exhausted = False
        self._pending = np.empty(0, dtype=EVENT_DTYPE)
        self._source_ns = 0  # market time the source has reached
        self._wall0: int | None = None
        self._market0 = 0
        self._next_tick = 0
        self._started = time.perf_counter()

    def _fill(self, until_ns: int, max_batches: int = 16) -> None:
        """Generate until the pending events cover market time ``until_ns`` (or the source
        ends), at most ``max_batches`` batches: a source slower than the wall clock then
        publishes what it has every tick, and its lag shows, instead of going quiet."""
        parts = [self._pending]
        while (self._source_ns < until_ns or (len(parts) == 1 and len(parts[0]) == 0)) and len(
            parts
        ) <= max_batches:
            try:
                batch, now_ns = next(self.source)
            except StopIteration:
                self.exhausted = True
                break
            parts.append(batch)
            self._source_ns = now_ns
        if len(parts) > 1:
            self._pending = np.concatenate(parts)

    def step(self) -> bool:
        if self.exhausted and len(self._pending) == 0:
            time.sleep(self.tick_ns / 1e9)
            return False
        if self.speed is None:
            return self._step_max_speed()
        now = self.clock_ns()
        if self._wall0 is None:
            self._fill(0)  # the first batch tells where market time starts
            self._wall0 = now = self.clock_ns()
            self._market0 = (
                int(self._pending["ts_event"][0]) if len(self._pending) else self._source_ns
            )
            self._next_tick = now
        wait = self._next_tick - now
        if wait > 0:
            time.sleep(wait / 1e9)
            now = self.clock_ns()
        self._next_tick = max(self._next_tick + self.tick_ns, now)
        due_ns = self.due_ns = self._market0 + round((now - self._wall0) * self.speed)
        self._fill(due_ns)
        cut = int(np.searchsorted(self._pending["ts_event"], due_ns, side="right"))
        if cut == 0:
            return False
        out, self._pending = self._pending[:cut], self._pending[cut:]
        received = self.clock_ns()
        out["ts_recv"] = received
        due_wall = self._wall0 + (out["ts_event"][0] - self._market0) / self.speed
        lag = max(received - int(due_wall), 0)
        self.lag.add(np.array([lag]), weight=len(out))
        self.lag_max_ns = max(self.lag_max_ns, lag)
        self._publish(out)
        return True

    def _step_max_speed(self) -> bool:
        while self.backlog is not None and self.backlog() > self.max_backlog:
            time.sleep(0.001)
        try:
            out, now_ns = next(self.source)
        except StopIteration:
            self.exhausted = True
            return False
        out = out.copy()
        out["ts_recv"] = self.clock_ns()
        self._source_ns = now_ns
        self._publish(out)
        return True

    def _publish(self, out: np.ndarray) -> None:
        result = self.bus.publish(out)
        if self.audit is not None:
            self.topics.publish(
                SUBJECTS["order_audit"], OrderAudit(events=out, audit=self.audit(out))
            )
        self.events += len(out)
        self.messages += result.messages
        self.market_ns = max(self.market_ns, int(out["ts_event"][-1]))

    def idle(self) -> bool:
        return True  # the feed consumes nothing

    @property
    def events_per_s(self) -> float:
        elapsed = time.perf_counter() - self._started
        return self.events / elapsed if elapsed > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        from riskstream.runtime.latency import percentile_s

        p99 = percentile_s(self.lag.counts, 99)
        return {
            "feed_events": self.events,
            "feed_messages": self.messages,
            "feed_events_per_s": round(self.events_per_s, 1),
            "feed_market_ns": self.market_ns,
            "feed_lag_p99_ms": None if p99 is None else round(p99 * 1e3, 3),
            "feed_lag_max_ms": round(self.lag_max_ns / 1e6, 3),
            "feed_lag_sum_s": self.lag.sum_s,
            "feed_speed": self.speed,
            "feed_done": self.exhausted and len(self._pending) == 0,  # a finite source ended
        }

    def histograms(self) -> dict[str, np.ndarray]:
        return {"feed_lag": self.lag.counts}

    def view(self) -> list[tuple[str, str]]:
        return [
            ("feed events/s", f"{self.events_per_s:,.0f}"),
            ("feed lag max", f"{self.lag_max_ns / 1e6:,.1f} ms"),
        ]

    def close(self) -> None:
        return None
