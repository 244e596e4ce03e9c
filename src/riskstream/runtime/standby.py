"""Hot standby of a publishing stage: a primary and a standby both compute, only the holder
of the lease publishes (:mod:`riskstream.bus.lease`).

Why both compute: a standby that is already consuming the same inputs and holding the same
state publishes its next result as soon as it takes over; there is nothing to load or
replay, so the recovery time is the lease's (``ttl_s``, 2 s by default) plus one refresh.

What a consumer sees across a takeover
--------------------------------------
The stage publishes through :class:`LeaderTopics`, which wraps the bus's topics:

* While this process is not the leader, ``publish`` stores nothing (returns 0) and counts
  the message in ``suppressed``.
* Every message gets an id built from its *identity* (:func:`content_id`: the snapshot's
  lineage id, the fill's order id, the delta's sequence number …), never from the process
  that sent it. A message that both the dying primary and the new leader publish (the
  primary was killed after storing it, before it knew) has one id, and JetStream stores it
  once (``Nats-Msg-Id`` de-duplication): no doubled snapshot, no doubled reduction order.
* On taking over, the new leader reads the last message stored on each subject it
  publishes and drops its own results that are older (:func:`order_key`: a snapshot's
  as-of time and largest market sequence read, a delta's sequence number, a positions
  version). A stage whose numbering restarts (md after a crash) states a new, larger
  epoch in its messages (``md.<epoch>.<seq>``), or its new messages look old. A
  standby that lags a little behind never publishes a snapshot older than the one
  consumers already have.
* What the standby computed while the primary was dead but its lease not yet expired is
  kept (a short backlog) and published first on taking over, in order, filtered as
  above: a result is late by the recovery time, not lost.
* Writes are fenced on the subject's last sequence number where the topics support it
  (NATS): a leader that was replaced while its write was in flight (a pause after its
  leadership check) has the write refused, and stops; its successor, meeting a write it
  did not expect, re-reads what is stored and decides again. A lease alone cannot close
  that window; the fence does.
* Sequence numbers are the subject stream's (:mod:`riskstream.bus.nats_topics`): one per
  stored message, with no holes, whoever stored it.

For the limits stage the same holds for reduction orders: the order id must be a function
of what caused the order (the snapshot's lineage id, the book and instrument), so the new
leader re-deciding a reduction after a takeover publishes a ``Fill`` with the same
``order_id``, which JetStream stores once and the position keeper applies once.

Each of the pair consumes its inputs under its own durable name (``risk-a``, ``risk-b``):
they are two consumers, not one shared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from riskstream.bus.config import BusConfig
from riskstream.bus.lease import Lease, LeaseKeeper, LeaseStore, MemoryLeaseStore
from riskstream.bus.topics import Subscription, Topics
from riskstream.core.errors import FencedError, ServiceUnavailableError
from riskstream.core.messages import SUBJECTS

log = logging.getLogger(__name__)

SHARED_SUBJECTS = frozenset({SUBJECTS["stats"]})
"""Subjects every stage writes (each node's StageStats): a pair's leader publishes there
plainly — a fence on the subject's last sequence number would meet the other stages'
writes at every turn — and a standby's messages are dropped, not kept for the takeover
(they are reports of itself, superseded by the next)."""

# identity and order of each message kind, by class name (the risk package's RiskSnapshot
# included, without importing it): (prefix, identity attribute, ordering attributes)
_IDENTITY: dict[str, tuple[str, str | tuple[str, ...], tuple[str, ...]]] = {
    # as-of time, then the largest market sequence number read: two refreshes can share an
    # as-of time (several deltas carry the same newest event time), never go back in both
    "RiskSnapshot": ("snapshot", "lineage_id", ("ts_ns", "market_seq_max")),
    # md numbers its deltas from 1 again after a restart, under a larger epoch
    "MarketStateDelta": ("md", ("epoch", "seq"), ("epoch", "seq")),
    "Fill": ("fill", "order_id", ()),
    "PositionChangeRequest": ("request", "request_id", ()),
    "PositionsChanged": ("positions", "version", ("version",)),
    "RegimeChanged": ("regime", "ts_ns", ("ts_ns",)),
    "LimitState": ("limits", "lineage_id", ("ts_ns",)),
}


def content_id(message: Any) -> str | None:
    """A message id derived from what the message *is*, the same in every process that
    computes it (``snapshot.<lineage_id>``, ``fill.<order_id>`` …); None for a type
    without a known identity (then publishing is not de-duplicated)."""
    known = _IDENTITY.get(type(message).__name__)
    if known is None:
        return None
    prefix, attributes, _ = known
    names = (attributes,) if isinstance(attributes, str) else attributes
    return ".".join([prefix, *(str(getattr(message, name)) for name in names)])


def order_key(message: Any) -> tuple[int, ...] | None:
    """Where ``message`` stands in its subject's order (a snapshot's as-of time and largest
    market sequence number, a delta's sequence number, a positions version), compared as a
    tuple; None for unordered kinds (fills, requests)."""
    known = _IDENTITY.get(type(message).__name__)
    if known is None or not known[2]:
        return None
    return tuple(int(getattr(message, name)) for name in known[2])


class LeaderTopics:
    """:class:`~riskstream.bus.topics.Topics` that publish only while ``lease`` is held
    (see the module docstring); reading is passed through.

    While standing by, the messages the stage would have published are kept for
    ``backlog_s`` seconds. On taking over, those newer than what is stored are published
    first, in order (:meth:`on_leadership`): the results computed between the primary's
    death and the takeover are not lost, only late, and the ones the primary did publish
    are recognised (older order key, or the same id). ``backlog_max`` bounds it in count
    too: large, because the limits stage can send thousands of reduction orders within
    ``backlog_s`` (the bench's 2,000-instrument book: about 100 a second) and one dropped
    from the backlog is an order nobody sends.

    Attributes
    ----------
    suppressed : int
        Messages not published on the spot because this process was standing by.
    stale : int
        Messages not published because a newer one was already stored (after a takeover).
    published : int
        Messages stored by this process (backlog included).
    took_over_at : float or None
        ``time.monotonic()`` of the last takeover (benchmarks measure recovery with it).
    """

    MAX_CONFLICTS = 20

    def __init__(
        self,
        topics: Topics,
        lease: Lease,
        backlog_s: float | None = None,
        backlog_max: int = 65_536,
        wait_s: float = 5.0,
    ):
        self.topics = topics
        self.lease = lease
        self.backlog_s = backlog_s if backlog_s is not None else 2.5 * lease.ttl_s
        self.wait_s = wait_s
        self.suppressed = 0
        self.stale = 0
        self.published = 0
        self.took_over_at: float | None = None
        self._backlog: deque[tuple[float, str, Any, str | None]] = deque(maxlen=backlog_max)
        self.conflicts = 0  # fenced writes refused because someone else wrote first
        self._fenced = bool(getattr(topics, "supports_fencing", False))
        self._floors: dict[str, tuple[int, ...] | None] = {}
        self._last: dict[str, int] = {}
        self._term = -1
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self.lease.is_leader

    def _floor(self, subject: str) -> tuple[int, ...] | None:
        """The order key of the newest message stored on ``subject`` (None if none or
        unordered); remembers that message's sequence number in ``_last``."""
        if subject not in self._floors:
            last = self.topics.last_seq(subject)
            floor = None
            if last > 0:
                reader = self.topics.subscribe(subject, start_after=last - 1)
                try:
                    got = reader.fetch(1, timeout_s=self.wait_s)
                finally:
                    reader.close()
                floor = order_key(got[0][1]) if got else None
            self._floors[subject], self._last[subject] = floor, last
        return self._floors[subject]

    def _store(self, subject: str, message: Any, msg_id: str | None) -> int:
        """Publish unless a newer message is stored; fenced on the subject's last sequence
        number where the topics support it (:meth:`NatsTopics.publish`): a write of a
        replaced leader, delayed past the end of its lease, can then never land after its
        successor's, and a successor that meets one re-reads what is stored and decides
        again."""
        key = order_key(message)
        msg_id = msg_id or content_id(message)
        for attempt in range(self.MAX_CONFLICTS):
            if attempt and not self.lease.is_leader:
                self.suppressed += 1  # replaced while publishing: the successor decides
                return 0
            floor = self._floor(subject)
            if key is not None and floor is not None and key < floor:
                self.stale += 1
                return 0
            try:
                if self._fenced:
                    expected = self._last[subject]
                    seq = self.topics.publish(subject, message, msg_id, expected_last_seq=expected)
                else:
                    seq = self.topics.publish(subject, message, msg_id)
            except FencedError:
                self.conflicts += 1
                self._floors.pop(subject, None)  # someone else wrote: read it again
                continue
            if seq:
                self.published += 1
                self._last[subject] = seq
                if key is not None:
                    self._floors[subject] = key
            return seq
        raise FencedError(subject, self._last.get(subject, 0), "(others keep writing)")

    def _take_over(self) -> None:
        """Re-read what is stored, then publish the backlog newer than it."""
        self._floors.clear()
        self._last.clear()
        self._term = self.lease.term
        self.took_over_at = time.monotonic()
        horizon = self.took_over_at - self.backlog_s
        backlog = list(self._backlog)  # kept until sent: a retry re-sends the same ids
        sent = 0
        for at, subject, message, msg_id in backlog:
            if not self.lease.is_leader:
                break  # lost again while publishing the backlog
            if at >= horizon:
                sent += self._store(subject, message, msg_id) > 0
        self._backlog.clear()
        log.warning("took over: %d of %d messages of the backlog published", sent, len(backlog))

    def on_leadership(self, leader: bool) -> None:
        """Called by the lease keeper when leadership changes: take over at once (in a
        thread of its own, so the keeper goes on renewing while the backlog is sent)."""
        if leader:
            threading.Thread(target=self._take_over_now, name="takeover", daemon=True).start()

    def _take_over_now(self) -> None:
        with self._lock:
            if self._behind() and self.lease.is_leader:
                try:
                    self._take_over()
                except ServiceUnavailableError as exc:  # the next publish tries again
                    self._term = -1
                    log.warning("takeover: the bus did not answer: %s", exc)

    def publish(self, subject: str, message: Any, msg_id: str | None = None) -> int:
        """Publish ``message`` if this process leads; its sequence number, or 0 when it was
        not stored (standing by, older than the newest stored, or a duplicate id)."""
        if subject in SHARED_SUBJECTS:  # many writers: never fenced, a standby's not kept
            return self.topics.publish(subject, message, msg_id) if self.is_leader else 0
        with self._lock:
            if not self.lease.is_leader:
                self.suppressed += 1
                now = time.monotonic()
                while self._backlog and self._backlog[0][0] < now - self.backlog_s:
                    self._backlog.popleft()
                self._backlog.append((now, subject, message, msg_id))
                return 0
            if self._behind():
                self._take_over()
            return self._store(subject, message, msg_id)

    def _behind(self) -> bool:
        """A new term, or the same one resumed after the lease lapsed (a broker outage
        stopped the renewals): what is stored may be newer, and the backlog is unsent."""
        return self._term != self.lease.term or bool(self._backlog)

    def subscribe(self, subject: str, start_after: int | None = None) -> Subscription:
        return self.topics.subscribe(subject, start_after)

    def last_seq(self, subject: str) -> int:
        return self.topics.last_seq(subject)

    def close(self) -> None:
        self.topics.close()


@dataclass
class Standby:
    """One member of a primary/standby pair: its lease, the thread keeping it, and the
    topics to publish through. ``close()`` gives the lease up (a clean handover)."""

    lease: Lease
    keeper: LeaseKeeper
    topics: LeaderTopics
    store: LeaseStore
    owns_store: bool = field(default=True)

    def close(self, release: bool = True) -> None:
        self.keeper.stop(release=release)
        if self.owns_store:
            self.store.close()

    def __enter__(self) -> Standby:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lease_store(bus: BusConfig) -> LeaseStore:
    """The lease store of a bus: a NATS KV bucket ``<stream>_LEASES`` for ``nats://``, a
    fresh in-memory store for ``memory://`` (pass one store to both members of an
    in-process pair)."""
    if bus.url.startswith("nats://"):
        from riskstream.bus.lease import NatsLeaseStore

        return NatsLeaseStore(bus.url, bucket=f"{bus.stream}_LEASES")
    return MemoryLeaseStore()


def open_standby(
    topics: Topics,
    bus: BusConfig,
    role: str,
    *,
    ttl_s: float = 2.0,
    holder: str | None = None,
    store: LeaseStore | None = None,
) -> Standby:
    """Join the pair of ``role`` (``risk``, ``limits``): start competing for its lease and
    return the :class:`Standby` whose ``topics`` the stage publishes through.

    Parameters
    ----------
    topics : Topics
        The bus's topics (:func:`riskstream.bus.open_topics`).
    bus : BusConfig
        Where the lease lives (:func:`lease_store`) unless ``store`` is given.
    role : str
        The lease's name: one lease per replicated stage.
    ttl_s : float
        Lease time to live: a standby takes over within ``ttl_s`` + ``ttl_s / 8`` of the
        primary's last renewal.
    """
    owns = store is None
    store = store or lease_store(bus)
    lease = Lease(store, role, holder=holder, ttl_s=ttl_s)
    leader_topics = LeaderTopics(topics, lease)

    def _on_change(leader: bool) -> None:
        log.warning("%s: %s %s", role, lease.holder, "leads" if leader else "stands by")
        leader_topics.on_leadership(leader)

    keeper = LeaseKeeper(lease, on_change=_on_change).start()
    return Standby(lease, keeper, leader_topics, store, owns)
