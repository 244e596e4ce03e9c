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

Every ``checkpoint_every`` applied messages (and when the loop stops), the state and
``last`` are saved together atomically, *then* the messages are acknowledged. A crash
before the save loses only work that will be redone from the previous checkpoint (the
messages were not acknowledged, and the consumer restarts just after the saved
positions); a crash after the save but before the ack leads to redelivery, which the
``s <= last[p]`` rule skips. Hence every message changes the state exactly once, whatever
the moment of a consumer or broker crash. Publishers make the other half true by
re-publishing with the same message ids (see :mod:`riskstream.bus.base`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from riskstream.bus.base import Bus, Consumer
from riskstream.bus.checkpoint import Checkpoint, Checkpointable, CheckpointStore
from riskstream.core.errors import RiskstreamError, ServiceUnavailableError


class MessagesLostError(RiskstreamError):
    """A message the checkpoint needs is gone from the bus (dropped by retention)."""


@dataclass
class ConsumerStats:
    """Counters of a :class:`CheckpointedConsumer`."""

    applied_messages: int = 0
    applied_events: int = 0
    duplicates_skipped: int = 0
    gaps_recovered: int = 0
    checkpoints: int = 0
    transport_errors: int = 0


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
    ):
        self.bus = bus
        self.name = name
        self.state = state
        self.apply = apply
        self.store = store
        self.partitions = tuple(range(bus.partitions)) if partitions is None else tuple(partitions)
        self.checkpoint_every = checkpoint_every
        self.max_messages = max_messages
        self.stats = ConsumerStats()
        saved = store.load()
        if saved is not None:
            state.restore(saved.state)
        saved_positions = saved.positions if saved is not None else {}
        self.positions = {p: int(saved_positions.get(p, 0)) for p in self.partitions}
        self._consumer: Consumer | None = None
        self._since_checkpoint = 0
        self._uncommitted = False
        self._gap_at: dict[int, int] = {}  # partition -> position of an unresolved gap

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
        messages = self.consumer.fetch(self.max_messages, timeout_s)
        applied = 0
        behind: dict[int, int] = {}
        for message in messages:
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
            self.consumer.seek(behind)
        return applied

    def checkpoint(self) -> None:
        """Save positions and state atomically, then acknowledge up to the positions."""
        if self._since_checkpoint:
            self.store.save(Checkpoint(dict(self.positions), self.state.state()))
            self.stats.checkpoints += 1
            self._since_checkpoint = 0
        if self._uncommitted:
            self.consumer.commit(self.positions)
            self._uncommitted = False

    def recover(self) -> None:
        """After a bus failure: reposition every partition just after its applied position
        (the consumer recreated on the bus from the checkpointed positions)."""
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
        """Checkpoint what was applied and release the consumer."""
        try:
            self.checkpoint()
        finally:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None
