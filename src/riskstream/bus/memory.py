"""``memory://``: the in-process bus (the default).

Each partition is a list of messages guarded by one lock; publishing appends the batch's
partition slices themselves (no serialisation, no copy with one partition), and consumers
read them back as read-only views. Semantics match ``nats://``: message-id de-duplication
within ``dedup_window_s``, contiguous partition sequences, durable named consumers whose
committed position survives the consumer (not the process), retention of the newest
``memory_retain_messages`` messages per partition.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from riskstream.bus import codec
from riskstream.bus.base import (
    Message,
    PartitionLog,
    PublishResult,
    check_events,
    chunks,
    message_id,
    split_by_partition,
)
from riskstream.bus.config import BusConfig
from riskstream.core.errors import InputError, RiskstreamError


class MessagesExpiredError(RiskstreamError):
    """A consumer asked for messages that retention already dropped."""


class _Partition:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.first_seq = 1  # sequence of messages[0]

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.messages) - 1


class MemoryBus:
    """The in-process bus. Thread-safe; consumers may wait in :meth:`MemoryConsumer.fetch`
    while another thread publishes.

    Parameters
    ----------
    config : BusConfig, optional
        ``partitions``, ``dedup_window_s``, ``memory_retain_messages`` and
        ``max_payload_bytes`` (the largest message; default unlimited) apply.
    """

    def __init__(self, config: BusConfig | None = None):
        self.config = config or BusConfig()
        self.partitions = self.config.partitions
        self._parts = [_Partition() for _ in range(self.partitions)]
        self._seen: OrderedDict[str, float] = OrderedDict()  # msg id -> publish time
        self._committed: dict[str, dict[int, int]] = {}
        self._lock = threading.Condition()
        self.incarnation = uuid.uuid4().hex  # a new bus is a new log, as a re-created stream
        self._rows = (
            codec.rows_per_message(self.config.max_payload_bytes)
            if self.config.max_payload_bytes
            else None
        )

    def publish(self, events: np.ndarray) -> PublishResult:
        check_events(events)
        messages = duplicates = 0
        now = time.monotonic()
        with self._lock:
            horizon = now - self.config.dedup_window_s
            while self._seen and next(iter(self._seen.values())) < horizon:
                self._seen.popitem(last=False)
            for p, part in split_by_partition(events, self.partitions):
                for chunk in chunks(part, self._rows or len(part)):
                    msg_id = message_id(p, chunk)
                    if msg_id in self._seen:
                        duplicates += 1
                        continue
                    self._seen[msg_id] = now
                    log = self._parts[p]
                    view = chunk.view()
                    view.flags.writeable = False
                    log.messages.append(Message(p, log.last_seq + 1, view, msg_id))
                    excess = len(log.messages) - self.config.memory_retain_messages
                    if excess > 0:
                        del log.messages[:excess]
                        log.first_seq += excess
                    messages += 1
            self._lock.notify_all()
        return PublishResult(len(events), messages, duplicates)

    def consumer(
        self,
        name: str,
        partitions: Sequence[int] | None = None,
        start_after: Mapping[int, int] | None = None,
    ) -> MemoryConsumer:
        parts = tuple(range(self.partitions)) if partitions is None else tuple(partitions)
        for p in parts:
            if not 0 <= p < self.partitions:
                raise InputError("partitions", p, f"a partition in 0..{self.partitions - 1}")
        with self._lock:
            committed = self._committed.setdefault(name, {})
            cursor = {p: committed.get(p, 0) for p in parts}
            if start_after is not None:
                cursor.update({p: int(s) for p, s in start_after.items() if p in cursor})
        return MemoryConsumer(self, name, parts, cursor)

    def last_seq(self, partition: int) -> int:
        with self._lock:
            return self._parts[partition].last_seq

    def log(self, partition: int) -> PartitionLog:
        with self._lock:
            part = self._parts[partition]
            return PartitionLog(
                f"memory:{self.config.stream}/{partition}",
                self.incarnation,
                part.first_seq,
                part.last_seq,
            )

    def last_events(self, partition: int) -> np.ndarray | None:
        with self._lock:
            messages = self._parts[partition].messages
            return messages[-1].events if messages else None

    def close(self) -> None:
        """Nothing to flush: messages live as long as this object."""


class MemoryConsumer:
    """A durable consumer of a :class:`MemoryBus` (see :class:`riskstream.bus.base.Consumer`)."""

    def __init__(self, bus: MemoryBus, name: str, partitions: tuple[int, ...], cursor: dict):
        self.bus = bus
        self.name = name
        self.partitions = partitions
        self._cursor = cursor  # partition -> last delivered sequence

    def _available(self) -> bool:
        return any(self.bus._parts[p].last_seq > self._cursor[p] for p in self.partitions)

    def fetch(self, max_messages: int = 64, timeout_s: float = 1.0) -> list[Message]:
        out: list[Message] = []
        with self.bus._lock:
            if not self._available():
                self.bus._lock.wait_for(self._available, timeout=timeout_s)
            per_partition = max(1, max_messages // len(self.partitions))
            for p in self.partitions:
                log = self.bus._parts[p]
                start = self._cursor[p] + 1
                if start < log.first_seq:
                    raise MessagesExpiredError(
                        f"consumer {self.name!r}, partition {p}: messages {start}.."
                        f"{log.first_seq - 1} were dropped by retention "
                        f"(memory_retain_messages={self.bus.config.memory_retain_messages})"
                    )
                i = start - log.first_seq
                taken = log.messages[i : i + per_partition]
                out.extend(taken)
                if taken:
                    self._cursor[p] = taken[-1].seq
        return out

    def commit(self, positions: Mapping[int, int]) -> None:
        with self.bus._lock:
            committed = self.bus._committed[self.name]
            for p, seq in positions.items():
                committed[p] = max(committed.get(p, 0), int(seq))

    def seek(self, positions: Mapping[int, int]) -> None:
        with self.bus._lock:
            for p, seq in positions.items():
                self._cursor[p] = int(seq)

    def close(self) -> None:
        """Nothing to release."""
