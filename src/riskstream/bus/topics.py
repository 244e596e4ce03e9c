"""Typed-message topics: how stages talk to each other (:mod:`riskstream.core.messages`).

Market events travel as partitioned event batches (:mod:`riskstream.bus.base`); everything
downstream of md (market-state deltas, risk snapshots, positions, fills, regime changes,
limit state) travels here, one ordered log per subject. Each stored message gets the
subject's next sequence number (1, 2, … with no holes), so a reader tells a duplicate from
a gap by arithmetic, as on the event bus.

* :meth:`Topics.publish` stores a message once per ``msg_id`` (a re-publish after a crash,
  or by a standby that takes over, is recognised and not stored again).
* :meth:`Topics.subscribe` opens a reader positioned after ``start_after`` (default: the
  subject's current end). :meth:`Subscription.fetch` returns messages in order;
  :meth:`Subscription.latest` skips to the newest one (conflation: a reader that only
  needs the latest state never queues behind stale ones).

Backends: :class:`MemoryTopics` (threads of one process; the demo) and
``riskstream.bus.nats_topics`` (JetStream, one stream per subject; processes).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol


class Subscription(Protocol):
    """An ordered reader of one subject."""

    subject: str

    def fetch(self, max_messages: int = 64, timeout_s: float = 0.0) -> list[tuple[int, Any]]:
        """Up to ``max_messages`` ``(seq, message)`` pairs after the last one returned,
        waiting up to ``timeout_s`` for the first; [] if none came."""

    def latest(self, timeout_s: float = 0.0) -> tuple[int, Any] | None:
        """The newest ``(seq, message)`` after the last one returned (skipping the ones
        between), or None if nothing new came within ``timeout_s``."""

    def close(self) -> None:
        """Stop reading."""


class Topics(Protocol):
    """Publish and read typed messages by subject."""

    def publish(self, subject: str, message: Any, msg_id: str | None = None) -> int:
        """Store ``message``; its sequence number, or 0 when ``msg_id`` was seen before."""

    def publish_nowait(self, subject: str, message: Any, msg_id: str | None = None) -> None:
        """Send ``message`` without waiting until it is stored (stored in call order; a
        failure is raised by a later call or :meth:`flush`)."""

    def flush(self) -> None:
        """Wait until every :meth:`publish_nowait` message is stored."""

    def subscribe(self, subject: str, start_after: int | None = None) -> Subscription:
        """A reader of ``subject`` after sequence ``start_after`` (default: the end now)."""

    def last_seq(self, subject: str) -> int:
        """The sequence number of the subject's newest message (0 when empty)."""

    def close(self) -> None:
        """Release the connection."""


class _Log:
    """One subject's messages: a bounded deque of (seq, message), and the ids seen."""

    def __init__(self, retention: int):
        self.items: deque[tuple[int, Any]] = deque(maxlen=retention)
        self.last = 0
        self.ids: dict[str, int] = {}
        self.id_order: deque[str] = deque()
        self.retention = retention


class MemoryTopics:
    """In-process topics for threads of one process (the demo's default).

    Messages are passed by reference (they are frozen); each subject keeps its newest
    ``retention`` messages. Thread-safe: any thread may publish, any may read.
    """

    def __init__(self, retention: int = 10_000):
        self.retention = retention
        self._logs: dict[str, _Log] = {}
        self._cond = threading.Condition()

    def _log(self, subject: str) -> _Log:
        log = self._logs.get(subject)
        if log is None:
            log = self._logs[subject] = _Log(self.retention)
        return log

    def publish(self, subject: str, message: Any, msg_id: str | None = None) -> int:
        with self._cond:
            log = self._log(subject)
            if msg_id is not None:
                if msg_id in log.ids:
                    return 0
                log.ids[msg_id] = log.last + 1
                log.id_order.append(msg_id)
                if len(log.id_order) > log.retention:
                    log.ids.pop(log.id_order.popleft(), None)
            log.last += 1
            log.items.append((log.last, message))
            self._cond.notify_all()
            return log.last

    def publish_nowait(self, subject: str, message: Any, msg_id: str | None = None) -> None:
        self.publish(subject, message, msg_id)  # stored at once: nothing to wait for

    def flush(self) -> None:
        """Nothing in flight."""

    def subscribe(self, subject: str, start_after: int | None = None) -> MemorySubscription:
        with self._cond:
            position = self._log(subject).last if start_after is None else start_after
        return MemorySubscription(self, subject, position)

    def last_seq(self, subject: str) -> int:
        with self._cond:
            return self._log(subject).last

    def close(self) -> None:
        return None


class MemorySubscription:
    """A reader of one :class:`MemoryTopics` subject."""

    def __init__(self, topics: MemoryTopics, subject: str, position: int):
        self.topics = topics
        self.subject = subject
        self.position = position
        self.closed = False

    def _wait(self, timeout_s: float) -> _Log:
        cond = self.topics._cond
        deadline = time.monotonic() + timeout_s
        log = self.topics._log(self.subject)
        while log.last <= self.position and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            cond.wait(left)
        return log

    def fetch(self, max_messages: int = 64, timeout_s: float = 0.0) -> list[tuple[int, Any]]:
        with self.topics._cond:
            log = self._wait(timeout_s)
            if log.last <= self.position:
                return []
            first = log.items[0][0] if log.items else log.last + 1
            start = max(self.position + 1, first)  # older ones fell out of retention
            out = [
                log.items[s - first]
                for s in range(start, min(log.last, start + max_messages - 1) + 1)
            ]
            self.position = out[-1][0]
            return out

    def latest(self, timeout_s: float = 0.0) -> tuple[int, Any] | None:
        with self.topics._cond:
            log = self._wait(timeout_s)
            if log.last <= self.position or not log.items:
                return None
            self.position = log.last
            return log.items[-1]

    def close(self) -> None:
        with self.topics._cond:
            self.closed = True
            self.topics._cond.notify_all()
