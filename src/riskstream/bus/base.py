"""The bus interface: publish event batches, consume them per partition, acknowledge.

One small interface for every backend (``memory://``, ``nats://``):

* :meth:`Bus.publish` splits a batch by partition (``instrument_id % partitions``), cuts
  each part into messages no larger than the backend's payload limit, and gives every
  message a deterministic id (:func:`message_id`) so a re-publish after a crash is
  recognised as a duplicate and stored once.
* Each partition is an ordered log whose messages are numbered ``1, 2, 3, …`` with no
  holes (the *partition sequence*; in NATS the stream sequence of the partition's stream).
  A consumer can therefore tell a duplicate (``seq <= last applied``) from a gap
  (``seq > last applied + 1``) by arithmetic alone.
* :meth:`Bus.consumer` opens a durable, named consumer over some partitions, positioned
  just after the sequence numbers it is given (the consumer's checkpoint). :meth:`fetch`
  returns messages in partition order, :meth:`commit` acknowledges through a sequence
  number, :meth:`seek` repositions.

Exactly-once *into state* is built on top of this in :mod:`riskstream.bus.consumer`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from riskstream.bus import codec
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message: an event batch of one partition.

    Attributes
    ----------
    partition : int
        The partition (``instrument_id % partitions`` of every event in it).
    seq : int
        The message's sequence number in its partition (1, 2, … with no holes).
    events : ndarray of EVENT_DTYPE, shape (n,)
        The events, read-only.
    msg_id : str
        The publisher's message id (see :func:`message_id`).
    deliveries : int
        How many times the bus has delivered this message (1 the first time).
    """

    partition: int
    seq: int
    events: np.ndarray
    msg_id: str
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class PartitionLog:
    """Where a partition's log stands, and which log it is.

    Attributes
    ----------
    name : str
        The log's name (``<stream>_<p>`` on NATS, ``memory:<stream>/<p>`` in memory).
    incarnation : str
        Which creation of that log this is: JetStream's stream creation time (a stream
        deleted and created again under the same name gets a new one), the memory bus's
        own random id. A checkpoint's positions mean something only in the incarnation
        they were taken in.
    first_seq : int
        The oldest message still held (``last_seq + 1`` when empty or purged).
    last_seq : int
        The newest message (0 when nothing was ever published).
    """

    name: str
    incarnation: str
    first_seq: int
    last_seq: int

    @property
    def identity(self) -> str:
        """``name@incarnation``: what a checkpoint records for the partition."""
        return f"{self.name}@{self.incarnation}"


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a :meth:`Bus.publish` call did."""

    events: int  # events handed to the bus
    messages: int  # messages sent
    duplicates: int  # messages the bus recognised as already stored (not stored again)


class PendingFetch(Protocol):
    """A fetch sent ahead (a consumer's optional ``start_fetch(max_messages, timeout_s)``):
    it travels while the caller works."""

    def result(self) -> list[Message]:
        """Wait for the fetch; its messages, delivered as :meth:`Consumer.fetch` would."""

    def discard(self) -> None:
        """Drop it unread (waits for it to end); the caller repositions the consumer
        (:meth:`Consumer.seek`) before fetching again."""


class Consumer(Protocol):
    """A durable consumer of some partitions (see the module docstring)."""

    name: str
    partitions: tuple[int, ...]

    def fetch(self, max_messages: int = 64, timeout_s: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages in partition order; [] if none came in time."""

    def commit(self, positions: Mapping[int, int]) -> None:
        """Acknowledge every delivered message of partition ``p`` up to ``positions[p]``."""

    def seek(self, positions: Mapping[int, int]) -> None:
        """Restart delivery of partition ``p`` just after sequence ``positions[p]``."""

    def close(self) -> None:
        """Release the consumer (its durable position stays with the bus)."""


class Bus(Protocol):
    """Publish/subscribe of event batches (EVENT_DTYPE arrays), partitioned by instrument."""

    partitions: int

    def publish(self, events: np.ndarray) -> PublishResult:
        """Publish a batch: split by partition, chunked, de-duplicated by message id."""

    def consumer(
        self,
        name: str,
        partitions: Sequence[int] | None = None,
        start_after: Mapping[int, int] | None = None,
    ) -> Consumer:
        """A durable consumer ``name`` of ``partitions`` (default all), delivering from just
        after ``start_after[p]`` (default: where the durable consumer left off)."""

    def last_seq(self, partition: int) -> int:
        """The sequence number of the partition's newest message (0 when empty)."""

    def log(self, partition: int) -> PartitionLog:
        """The partition's log: its identity and the range of sequences it holds."""

    def last_events(self, partition: int) -> np.ndarray | None:
        """The events of the partition's newest message (None when it holds none): where
        a publisher that restarts, or that lost the confirmation of a publish, finds what
        it stored last (:mod:`riskstream.runtime.feed`)."""

    def close(self) -> None:
        """Flush and disconnect."""


def check_events(events: np.ndarray) -> np.ndarray:
    """``events`` as a 1-d EVENT_DTYPE array, or a clear error."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        got = getattr(events, "dtype", type(events).__name__)
        raise InputError("events", str(got), "a numpy array of EVENT_DTYPE")
    if events.ndim != 1:
        raise InputError("events.ndim", events.ndim, "a 1-d batch")
    return events


def split_by_partition(events: np.ndarray, partitions: int) -> list[tuple[int, np.ndarray]]:
    """Split a batch into ``(partition, events)`` parts, ``partition = instrument_id % n``.

    The order of events within a partition is kept (a stable sort), so per-instrument
    sequence order survives. With one partition the batch is returned as is (no copy).
    """
    if len(events) == 0:
        return []
    if partitions == 1:
        return [(0, events)]
    part = events["instrument_id"] % partitions
    order = np.argsort(part, kind="stable")  # a radix sort for small integers: O(n)
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    # gather whole 64-byte records as rows of 8 words (much faster than a structured take)
    words = np.ascontiguousarray(events).view(np.uint64).reshape(len(events), -1)
    sorted_events = np.take(words, order, axis=0).view(EVENT_DTYPE).reshape(-1)
    return [
        (p, sorted_events[bounds[p] : bounds[p + 1]])
        for p in range(partitions)
        if bounds[p + 1] > bounds[p]
    ]


def chunks(events: np.ndarray, rows: int) -> list[np.ndarray]:
    """Consecutive slices of at most ``rows`` events (views, no copy)."""
    return [events[i : i + rows] for i in range(0, len(events), rows)]


def event_key(event: np.void | np.ndarray) -> tuple[int, int, int]:
    """An event's identity: ``(source, instrument_id, seq)`` — ``seq`` counts per source and
    instrument, so no two events of a feed share it."""
    return int(event["source"]), int(event["instrument_id"]), int(event["seq"])


def find_event(events: np.ndarray, key: tuple[int, int, int]) -> int | None:
    """The index of the event with identity ``key`` (:func:`event_key`) in ``events``, or
    None."""
    source, instrument, seq = key
    hit = np.flatnonzero(
        (events["seq"] == seq)
        & (events["instrument_id"] == instrument)
        & (events["source"] == source)
    )
    return int(hit[-1]) if hit.size else None


def message_id(partition: int, events: np.ndarray, payload: bytes | None = None) -> str:
    """A deterministic id of one message: the same events always get the same id.

    Built from the source, partition, first instrument and first sequence number (readable
    in logs), the count, and a CRC-32 of the events' wire bytes (``payload`` when the
    caller already encoded them), so that another batch with the same first event and
    count — another run of a source under the same source id, within the bus's
    de-duplication window — is not taken for this one (and dropped) unless its bytes also
    share the checksum (a 2^-32 chance). A publisher that crashes and re-publishes the same
    batches produces the same ids, and the bus stores each message once. The checksum, not
    a cryptographic digest, because nothing here is adversarial and the feed computes one
    per message on its hot path: CRC-32 reads 3.7 GB/s here, BLAKE2b 0.8 (which took 0.04
    of a core, 7% of the feed process, at 500,000 events/s).
    """
    first = events[0]
    data = payload if payload is not None else codec.encode(events)
    digest = f"{zlib.crc32(data):08x}"
    return (
        f"{int(first['source'])}.{partition}.{int(first['instrument_id'])}."
        f"{int(first['seq'])}.{len(events)}.{digest}"
    )
