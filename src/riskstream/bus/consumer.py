"""Exactly-once delivery into state: apply, checkpoint, then acknowledge.

The loop of :class:`CheckpointedConsumer`, for each fetched message of partition ``p``
with sequence ``s`` while ``last[p]`` is the last applied sequence:

* ``s <= last[p]``: a duplicate (redelivered after a crash or a lost ack) — skipped;
* ``s == last[p] + 1``: applied to the state, ``last[p] = s``;
* ``s >  last[p] + 1``: a gap (a message lost in transit, or redelivered out of order) —
  nothing more of ``p`` is applied this round, and the consumer is repositioned to
  ``last[p]`` (:meth:`~riskstream.bus.base.Consumer.seek`). If the same gap is seen again
  right after the seek, the message no longer exists (retention dropped it) and
  :class:`MessagesLostError` is raised rather than skipping it.

A fetch's messages are taken in event-time order across partitions, each partition's in
its own order (:func:`in_event_time_order`), so the state advances in every partition
together even when one round spans minutes of market time.

Every ``checkpoint_every`` applied messages (and when the loop stops), the state and
``last`` are saved together atomically, *then* the messages are acknowledged. A crash
before the save loses only work that will be redone from the previous checkpoint (the
messages were not acknowledged, and the consumer restarts just after the saved
positions); a crash after the save but before the ack leads to redelivery, which the
``s <= last[p]`` rule skips. Hence every message changes the state exactly once, whatever
the moment of a consumer or broker crash. Publishers make the other half true by
re-publishing with the same message ids (see :mod:`riskstream.bus.base`).

With ``background=True`` a checkpoint is a snapshot taken on the consuming thread and
written while the loop goes on applying (:meth:`FileCheckpointStore.begin_save
<riskstream.bus.checkpoint.FileCheckpointStore.begin_save>`); the bus is acknowledged up
to the snapshot's positions only once the file is in place, never further. A crash
between snapshot and save therefore restarts from the previous checkpoint, as above. One
save is in flight at a time: a checkpoint due while one is being written waits for the
next call.

With ``read_ahead=True`` (and a bus whose consumer has ``start_fetch``: ``nats://``), the
next fetch is sent before the current batch is applied, so its round trip through the
broker and its decoding (on the bus client's thread) overlap the apply. Messages read ahead
are handled like any fetched message: applied only when ``s == last[p] + 1``, checkpointed
and acknowledged only once applied (an acknowledgement covers the saved positions, never
what was merely fetched). Whenever the consumer is repositioned — a gap, or
:meth:`CheckpointedConsumer.recover` after a bus failure — a batch read ahead and not yet
applied is dropped first (waited for, never applied) and every partition is sought to just
after its applied position: its messages come again from the broker, in order, and no
fetch from before the seek can be applied after it.

Restart guards: a checkpoint's positions count messages of particular logs. On start the
consumer compares the checkpoint with the bus (:meth:`Bus.log
<riskstream.bus.base.Bus.log>`) and raises :class:`CheckpointMismatchError` — it does not
consume — when

* a partition's log is another one than the checkpoint's (the stream was deleted and
  created again, or the consumer points at another server or stream name);
* the bus has another partition count than when the checkpoint was taken (instruments
  are spread ``instrument_id % partitions``: the positions would mean other events);
* a position is beyond the log's last message (a fresh or truncated stream);
* messages just after a position are gone (purged, or dropped by retention).

Each of these would otherwise build a state that no run ever had (messages applied twice,
or never). Refusing is the safe choice: the state cannot be rebuilt without the messages it
came from, and only an operator knows whether the stream's start is the right place to
rebuild from. The error names the checkpoint to delete to do that.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from riskstream.bus.base import Bus, Consumer, Message, PartitionLog, PendingFetch
from riskstream.bus.checkpoint import (
    Checkpoint,
    Checkpointable,
    CheckpointSaveError,
    CheckpointStore,
    PendingSave,
    begin_save,
)
from riskstream.core.errors import RiskstreamError, ServiceUnavailableError

log = logging.getLogger(__name__)


class MessagesLostError(RiskstreamError):
    """A message the checkpoint needs is gone from the bus (dropped by retention)."""


class CheckpointMismatchError(RiskstreamError):
    """The checkpoint does not belong to the bus's logs (see the module docstring)."""


def in_event_time_order(messages: Iterable[Message]) -> list[Message]:
    """A fetch's messages merged across partitions by their first event's time, each
    partition's in its own order.

    A fetch hands over each partition's messages in a block, partition after partition;
    applied so, the state would show one partition minutes of market time ahead of the
    others whenever a round spans much market time (a replay at speed, a catch-up after a
    restart or an outage: 65k events of a 500 events/s market are two minutes). Whoever
    reads the state between two messages of the round — md sends a delta as soon as one
    is due — would then see the instruments of the partitions not yet applied as not
    updated for that long (the limits' stale-feed breaker halted the firm so). Merged by
    event time, every partition's state advances together, within one message's span, as
    a single market would. Exactly-once is unaffected: it is per partition, and each
    partition keeps its order (the merge never reorders one input).
    """
    messages = list(messages)
    by_partition: dict[int, list[Message]] = {}
    for message in messages:
        by_partition.setdefault(message.partition, []).append(message)
    if len(by_partition) <= 1:
        return messages

    def first_ts(message: Message) -> int:
        events = message.events
        return int(events["ts_event"][0]) if len(events) else -(1 << 63)

    return list(heapq.merge(*by_partition.values(), key=first_ts))


@dataclass
class ConsumerStats:
    """Counters of a :class:`CheckpointedConsumer`."""

    applied_messages: int = 0
    applied_events: int = 0
    duplicates_skipped: int = 0
    gaps_recovered: int = 0
    checkpoints: int = 0
    transport_errors: int = 0
    checkpoint_stall_s: float = 0.0  # consuming thread's time in the last checkpoint
    checkpoint_stall_max_s: float = 0.0
    checkpoint_save_s: float = 0.0  # the last save, start to completion seen (background)


class CheckpointedConsumer:
    """Apply a bus's messages to a :class:`Checkpointable` state exactly once.

    Parameters
    ----------
    bus : Bus
        Where the messages come from.
    name : str
        The durable consumer's name (one per consumer group; each process of the group
        takes other ``partitions``).
    state : Checkpointable
        The state the messages build (books, features, counters); restored from the
        checkpoint on start.
    apply : callable
        ``apply(events)`` applies one message's events (EVENT_DTYPE) to ``state``.
    store : CheckpointStore
        Where positions and state are saved.
    partitions : sequence of int, optional
        The partitions this process consumes (default all).
    checkpoint_every : int
        Applied messages between checkpoints (acknowledgements wait for the checkpoint).
    max_messages : int
        Messages asked for per fetch.
    background : bool
        Write checkpoints off the consuming thread (see the module docstring).
    read_ahead : bool
        Send the next fetch before applying the current batch (see the module docstring;
        a bus consumer without ``start_fetch`` fetches in turn).

    Raises
    ------
    CheckpointMismatchError
        The saved checkpoint does not belong to the bus's logs.
    """

    def __init__(
        self,
        bus: Bus,
        name: str,
        state: Checkpointable,
        apply: Callable[[np.ndarray], object],
        store: CheckpointStore,
        partitions: Sequence[int] | None = None,
        checkpoint_every: int = 1,
        max_messages: int = 64,
        background: bool = False,
        read_ahead: bool = False,
    ):
        self.bus = bus
        self.name = name
        self.state = state
        self.apply = apply
        self.store = store
        self.partitions = tuple(range(bus.partitions)) if partitions is None else tuple(partitions)
        self.checkpoint_every = checkpoint_every
        self.max_messages = max_messages
        self.background = background
        self.read_ahead = read_ahead
        self.stats = ConsumerStats()
        logs = {p: bus.log(p) for p in self.partitions}
        self.logs = {p: part_log.identity for p, part_log in logs.items()}
        saved = store.load()
        if saved is not None:
            self._check_against_bus(saved, logs)
            state.restore(saved.state)
        reserve = getattr(store, "reserve", None)
        if background and reserve is not None:
            reserve(state)  # the background save's buffers, before the loop needs them
        saved_positions = saved.positions if saved is not None else {}
        self.positions = {p: int(saved_positions.get(p, 0)) for p in self.partitions}
        self.saved_positions = dict(self.positions)  # what the store holds: acks stop here
        self._consumer: Consumer | None = None
        self._since_checkpoint = 0
        self._uncommitted = False
        self._gap_at: dict[int, int] = {}  # partition -> position of an unresolved gap
        self._pending: PendingSave | None = None
        self._pending_since = 0.0
        self._ahead: PendingFetch | None = None  # the fetch sent before the current apply

    def _check_against_bus(self, saved: Checkpoint, logs: dict[int, PartitionLog]) -> None:
        """Refuse a checkpoint whose positions do not count messages of the bus's logs."""
        remedy = (
            f"; delete the checkpoint ({self.store}) to rebuild {self.name!r} from the "
            "stream's first message, if the stream still holds every message since it began"
        )
        if saved.bus_partitions and saved.bus_partitions != self.bus.partitions:
            raise CheckpointMismatchError(
                f"consumer {self.name!r}: the checkpoint was taken with "
                f"{saved.bus_partitions} partitions, the bus has {self.bus.partitions}{remedy}"
            )
        outside = sorted(p for p in saved.positions if not 0 <= p < self.bus.partitions)
        if outside:
            raise CheckpointMismatchError(
                f"consumer {self.name!r}: the checkpoint has positions in partitions "
                f"{outside}, the bus has partitions 0..{self.bus.partitions - 1}{remedy}"
            )
        for p, part_log in logs.items():
            position = int(saved.positions.get(p, 0))
            recorded = saved.logs.get(p)
            if recorded and recorded != part_log.identity:
                raise CheckpointMismatchError(
                    f"consumer {self.name!r}, partition {p}: the checkpoint counts messages "
                    f"of log {recorded}, the bus's is {part_log.identity} (the stream was "
                    f"created again, or this is another server or stream){remedy}"
                )
            if position > part_log.last_seq:
                raise CheckpointMismatchError(
                    f"consumer {self.name!r}, partition {p}: the checkpoint has applied "
                    f"messages through {position}, the log {part_log.name} ends at "
                    f"{part_log.last_seq} (a fresh or another stream){remedy}"
                )
            if position + 1 < part_log.first_seq:
                raise CheckpointMismatchError(
                    f"consumer {self.name!r}, partition {p}: the checkpoint needs messages "
                    f"from {position + 1}, the log {part_log.name} starts at {part_log.first_seq} "
                    f"(purged, or dropped by retention){remedy}"
                )

    @property
    def saving(self) -> bool:
        """A background checkpoint is being written."""
        return self._pending is not None

    @property
    def reading_ahead(self) -> bool:
        """A fetch sent ahead is in flight or waiting to be applied."""
        return self._ahead is not None

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = self.bus.consumer(self.name, self.partitions, self.positions)
        return self._consumer

    def poll(self, timeout_s: float = 1.0) -> int:
        """One fetch-apply round; returns the number of messages applied.

        Raises
        ------
        ServiceUnavailableError
            The bus failed; call :meth:`recover` (or use :meth:`run`, which does).
        """
        if self._pending is not None:
            self._collect()
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            messages = ahead.result()
        else:
            messages = self.consumer.fetch(self.max_messages, timeout_s)
        if messages and self.read_ahead:
            # the next batch travels (and is decoded on the bus client's thread) while this
            # one is applied; none is sent after an empty fetch (nothing is flowing)
            start_fetch = getattr(self.consumer, "start_fetch", None)
            if start_fetch is not None:
                self._ahead = start_fetch(self.max_messages, timeout_s)
        applied = 0
        behind: dict[int, int] = {}
        for message in in_event_time_order(messages):
            p = message.partition
            if p in behind:
                continue
            last = self.positions[p]
            if message.seq <= last:
                self.stats.duplicates_skipped += 1
                self._uncommitted = True  # acknowledged with the next commit
                continue
            if message.seq != last + 1:
                if self._gap_at.get(p) == last:  # the same gap right after a seek
                    raise MessagesLostError(
                        f"consumer {self.name!r}, partition {p}: the bus has no message "
                        f"{last + 1} (next is {message.seq}); retention dropped messages "
                        "this checkpoint needs"
                    )
                self._gap_at[p] = last
                behind[p] = last
                self.stats.gaps_recovered += 1
                continue
            self._gap_at.pop(p, None)
            self.apply(message.events)
            self.positions[p] = message.seq
            applied += 1
            self.stats.applied_messages += 1
            self.stats.applied_events += len(message.events)
            self._since_checkpoint += 1
            self._uncommitted = True
            if self._since_checkpoint >= self.checkpoint_every:
                self.checkpoint()
        if behind:
            if self._drop_read_ahead():
                # the batch read ahead holds messages past the gap (a seek must not be
                # followed by them) and of other partitions, which the broker counts as
                # delivered: every partition starts again just after what was applied
                self.consumer.seek(dict(self.positions))
            else:
                self.consumer.seek(behind)
        return applied

    def _drop_read_ahead(self) -> bool:
        """Drop the batch read ahead, if any (never applied); True if there was one."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return False
        ahead.discard()
        return True

    def checkpoint(self, wait: bool = False) -> None:
        """Save positions and state atomically, then acknowledge up to the positions.

        With ``background``, start a save instead (unless one is still being written) and
        return; the acknowledgement follows when it completes (:meth:`poll` looks).
        ``wait``: finish any save in flight, then save on this thread (on close).
        """
        started = time.perf_counter()
        if self._pending is not None:
            try:
                self._collect(wait)
            except CheckpointSaveError as exc:
                if not wait:
                    raise
                log.warning("consumer %r: %s; saving on this thread instead", self.name, exc)
            if self._pending is not None:
                return  # still writing the previous one: this checkpoint waits its turn
        if self._since_checkpoint:
            positions = dict(self.positions)
            if self.background and not wait:
                self._pending = begin_save(
                    self.store, positions, self.state, self.logs, self.bus.partitions
                )
                self._pending_since = started
                self._since_checkpoint = 0
                self._note_stall(time.perf_counter() - started)
                self._collect()  # a store that saves at once is done already
                return
            self.store.save(
                Checkpoint(positions, self.state.state(), self.logs, self.bus.partitions)
            )
            self._saved(positions)
            self._since_checkpoint = 0
            self._note_stall(time.perf_counter() - started)
        self._commit()

    def _note_stall(self, seconds: float) -> None:
        self.stats.checkpoint_stall_s = seconds
        self.stats.checkpoint_stall_max_s = max(self.stats.checkpoint_stall_max_s, seconds)

    def _saved(self, positions: dict[int, int]) -> None:
        self.saved_positions = positions
        self.stats.checkpoints += 1

    def _collect(self, wait: bool = False) -> None:
        """If the save in flight has completed, acknowledge what it holds (raises
        :class:`~riskstream.bus.checkpoint.CheckpointSaveError` if it failed)."""
        pending = self._pending
        if pending is None:
            return
        try:
            if wait:
                pending.wait()
            elif not pending.done():
                return
        except BaseException:
            self._pending = None
            self._since_checkpoint += 1  # what it held is still to be saved
            raise
        self._pending = None
        self.stats.checkpoint_save_s = time.perf_counter() - self._pending_since
        self._saved(pending.positions)
        self._commit()

    def _commit(self) -> None:
        """Acknowledge every delivered message up to the saved positions (never further:
        what is acknowledged must be in a checkpoint)."""
        if self._uncommitted:
            self.consumer.commit(self.saved_positions)
            self._uncommitted = self.saved_positions != self.positions

    def recover(self) -> None:
        """After a bus failure: reposition every partition just after its applied position
        (the consumer recreated on the bus from the checkpointed positions). A batch read
        ahead and not yet applied is dropped first: it came from before the failure."""
        self._drop_read_ahead()
        self.consumer.seek(self.positions)

    def run(
        self,
        until: Callable[[], bool] | None = None,
        idle_timeout_s: float | None = 5.0,
        fetch_timeout_s: float = 0.5,
        retry_for_s: float = 60.0,
    ) -> ConsumerStats:
        """Poll until ``until()`` is true or nothing arrives for ``idle_timeout_s``.

        Transport failures are retried (with :meth:`recover`) for up to ``retry_for_s``
        seconds of continuous failure, so a broker restart is ridden out.
        """
        idle_since = time.monotonic()
        failing_since: float | None = None
        while until is None or not until():
            try:
                if failing_since is not None:
                    self.recover()
                    failing_since = None
                got = self.poll(fetch_timeout_s)
            except ServiceUnavailableError:
                self.stats.transport_errors += 1
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > retry_for_s:
                    raise
                time.sleep(0.2)
                continue
            now = time.monotonic()
            if got:
                idle_since = now
            elif idle_timeout_s is not None and now - idle_since > idle_timeout_s:
                break
        self.close()
        return self.stats

    def close(self) -> None:
        """Checkpoint what was applied (waiting for a save in flight) and release the
        consumer. A batch read ahead is dropped, unapplied and unacknowledged (the next
        consumer of the group gets it again)."""
        self._drop_read_ahead()
        try:
            self.checkpoint(wait=True)
        finally:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
