"""``nats://``: event batches over NATS JetStream (nats-py).

Layout
------
Partition ``p`` is the subject ``<stream>.events.<p>``, stored in its own JetStream stream
``<stream>_<p>``. One stream per partition (as Kafka has one log per partition) makes the
stream sequence of a partition contiguous, so a consumer detects a lost message (a gap) as
surely as a duplicate, instead of trusting that redelivery never reorders.

Exactly-once pieces
-------------------
* Publishing sets ``Nats-Msg-Id`` (:func:`riskstream.bus.base.message_id`); JetStream
  stores a message whose id it saw within ``duplicate_window`` only once and answers
  ``duplicate=True``.
* Each partition's consumer is a durable *pull* consumer with ``AckPolicy.ALL``:
  acknowledging message ``n`` (synchronously, a "double ack": the server confirms) covers
  every earlier one, so a commit costs one round trip per partition.
* :meth:`NatsConsumer.seek` deletes and recreates the durable consumer at
  ``DeliverPolicy.BY_START_SEQUENCE``: after a crash the consumer resumes exactly after its
  checkpoint, with nothing pending that could be redelivered out of order.

Sync over async
---------------
nats-py is asyncio. :class:`NatsBus` runs one event loop in a daemon thread and exposes a
synchronous API (the pipeline is synchronous): each call submits a coroutine to that loop
and waits for its result. Encoding happens in the caller's thread, decoding on the loop's:
a fetch sent ahead (:meth:`NatsConsumer.start_fetch`) is received and decoded there while
the caller works (md applies the previous batch in a kernel that releases the GIL).
Transport failures surface as :class:`~riskstream.core.errors.ServiceUnavailableError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import nats
import numpy as np
from nats.errors import Error as NatsError
from nats.js import api
from nats.js.errors import NotFoundError

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
from riskstream.core.errors import InputError, ServiceUnavailableError

T = TypeVar("T")

HEADER_ROOM_BYTES = 512  # NATS headers (message id) share max_payload with the data
TRANSPORT_ERRORS = (NatsError, OSError, asyncio.TimeoutError, TimeoutError)


log = logging.getLogger(__name__)


async def _log_error(exc: Exception) -> None:
    log.warning("NATS connection error: %r", exc)


async def _log_disconnect() -> None:
    log.info("NATS disconnected (closing, or reconnecting)")


async def connect(
    url: str,
    timeout_s: float,
    reconnected_cb: Callable[[], Awaitable[None]] | None = None,
) -> nats.NATS:
    """A NATS connection that fails fast when nobody answers at first, and once connected
    rides out broker restarts however long they take (reconnecting every 0.2 s).

    Nothing is buffered while it reconnects (``pending_size=0``): a publish then fails at
    once, and the caller retries it under the same message id once the broker is back, in
    its own order. A buffer flushed at the reconnection would instead store those messages
    behind the caller's back, possibly after a retry of an earlier one (out of order)."""
    options: dict[str, Any] = {}
    if reconnected_cb is not None:
        options["reconnected_cb"] = reconnected_cb
    nc = await nats.connect(
        url,
        connect_timeout=timeout_s,
        allow_reconnect=True,
        max_reconnect_attempts=3,  # a first connection fails fast: nobody is there
        reconnect_time_wait=0.2,
        pending_size=0,
        error_cb=_log_error,
        disconnected_cb=_log_disconnect,
        **options,
    )
    nc.options["max_reconnect_attempts"] = -1
    return nc


class LoopThread:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self, connection: Any, timeout_s: float = 10.0) -> None:
        """Close a NATS ``connection`` made on this loop, then stop the loop. Every publish
        was confirmed already, so the subscriptions are not drained; closing a broken
        connection must not raise."""
        with contextlib.suppress(Exception):
            self.run(connection.close(), timeout_s)
        self.stop()

    def stop(self) -> None:
        async def _cancel_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(_cancel_rest(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class NatsBus:
    """The JetStream bus (see the module docstring).

    Parameters
    ----------
    config : BusConfig
        ``url`` (``nats://host:port``), ``stream``, ``partitions``, ``dedup_window_s``,
        ``max_age_s``, ``ack_wait_s``, ``max_payload_bytes``.
    timeout_s : float
        How long one publish or admin request may take before it counts as a failure.

    Raises
    ------
    ServiceUnavailableError
        No NATS server answers at ``url``.
    """

    def __init__(self, config: BusConfig, timeout_s: float = 10.0):
        if not config.url.startswith("nats://"):
            raise InputError("bus.url", config.url, "a nats:// URL")
        self.config = config
        self.partitions = config.partitions
        self.timeout_s = timeout_s
        self._io = LoopThread(f"nats-bus-{config.stream}")
        try:
            self._io.run(self._connect(), timeout_s + 5)
        except TRANSPORT_ERRORS as exc:
            self._io.stop()
            raise ServiceUnavailableError(f"NATS at {config.url}: {exc!r}") from exc
        server_max = self._nc.max_payload
        wanted = config.max_payload_bytes or server_max
        self.rows_per_message = codec.rows_per_message(min(wanted, server_max) - HEADER_ROOM_BYTES)

    # -- naming --------------------------------------------------------------------------
    def subject(self, partition: int) -> str:
        return f"{self.config.stream}.events.{partition}"

    def stream_name(self, partition: int) -> str:
        return f"{self.config.stream}_{partition}"

    # -- connection and streams ----------------------------------------------------------
    async def _connect(self) -> None:
        self._nc = await connect(self.config.url, self.timeout_s)
        self._js = self._nc.jetstream(timeout=self.timeout_s)
        for p in range(self.partitions):
            cfg = api.StreamConfig(
                name=self.stream_name(p),
                subjects=[self.subject(p)],
                storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS,
                duplicate_window=self.config.dedup_window_s,
                max_age=self.config.max_age_s or None,
            )
            try:
                await self._js.stream_info(cfg.name)
            except NotFoundError:
                await self._js.add_stream(cfg)

    def _run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        try:
            return self._io.run(coro, self.timeout_s * 3)
        except TRANSPORT_ERRORS as exc:
            raise ServiceUnavailableError(f"NATS at {self.config.url}: {what}: {exc!r}") from exc

    # -- publishing ------------------------------------------------------------------------
    def publish(self, events: np.ndarray) -> PublishResult:
        """Publish a batch (synchronously: returns once JetStream stored every message).

        Raises
        ------
        ServiceUnavailableError
            A message was not confirmed; publishing the same batch again is safe (message
            ids make it idempotent within ``dedup_window_s``).
        """
        check_events(events)
        outgoing = []
        for p, part in split_by_partition(events, self.partitions):
            for chunk in chunks(part, self.rows_per_message):
                payload = codec.encode(chunk)
                outgoing.append((self.subject(p), payload, message_id(p, chunk, payload)))
        duplicates = self._run(self._publish(outgoing), "publish")
        return PublishResult(len(events), len(outgoing), duplicates)

    async def _publish(self, outgoing: list[tuple[str, bytes, str]]) -> int:
        futures = [
            await self._js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
            for subject, payload, msg_id in outgoing
        ]
        acks = await asyncio.wait_for(asyncio.gather(*futures), self.timeout_s)
        return sum(1 for ack in acks if ack.duplicate)

    # -- consuming -------------------------------------------------------------------------
    def consumer(
        self,
        name: str,
        partitions: Sequence[int] | None = None,
        start_after: Mapping[int, int] | None = None,
    ) -> NatsConsumer:
        parts = tuple(range(self.partitions)) if partitions is None else tuple(partitions)
        for p in parts:
            if not 0 <= p < self.partitions:
                raise InputError("partitions", p, f"a partition in 0..{self.partitions - 1}")
        consumer = NatsConsumer(self, name, parts)
        if start_after is None:
            self._run(consumer._resume_all(), "resume consumer")
        else:
            consumer.seek({p: start_after.get(p, 0) for p in parts})
        return consumer

    def last_seq(self, partition: int) -> int:
        info = self._run(self._js.stream_info(self.stream_name(partition)), "stream info")
        return int(info.state.last_seq)

    def log(self, partition: int) -> PartitionLog:
        name = self.stream_name(partition)
        info = self._run(self._js.stream_info(name), "stream info")
        last = int(info.state.last_seq)
        # an empty stream reports first_seq 0 before its first message, last + 1 after a purge
        first = max(int(info.state.first_seq), 1) if info.state.messages else last + 1
        return PartitionLog(name, str(info.created), first, last)

    def last_events(self, partition: int) -> np.ndarray | None:
        async def _last() -> Any:
            try:
                return await self._js.get_last_msg(
                    self.stream_name(partition), self.subject(partition)
                )
            except NotFoundError:
                return None

        raw = self._run(_last(), "last message")
        return None if raw is None else codec.decode(raw.data)

    def delete_streams(self) -> None:
        """Delete every partition's stream (tests and benchmarks start clean with it)."""

        async def _delete() -> None:
            for p in range(self.partitions):
                with contextlib.suppress(NotFoundError):
                    await self._js.delete_stream(self.stream_name(p))

        self._run(_delete(), "delete streams")

    def close(self) -> None:
        self._io.close(self._nc)


class NatsConsumer:
    """Durable pull consumers ``<name>-p<partition>`` of a :class:`NatsBus`."""

    def __init__(self, bus: NatsBus, name: str, partitions: tuple[int, ...]):
        self.bus = bus
        self.name = name
        self.partitions = partitions
        self._subs: dict[int, Any] = {}
        self._unacked: dict[int, list[tuple[int, Any]]] = {p: [] for p in partitions}

    def durable(self, partition: int) -> str:
        return f"{self.name}-p{partition}"

    def _config(self, partition: int, after: int) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=self.durable(partition),
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
            ack_policy=api.AckPolicy.ALL,
            ack_wait=self.bus.config.ack_wait_s,
            max_ack_pending=-1,
            max_deliver=-1,
        )

    async def _bind(self, p: int) -> None:
        old = self._subs.pop(p, None)
        if old is not None:
            with contextlib.suppress(NatsError):
                await old.unsubscribe()
        js = self.bus._js
        self._subs[p] = await js.pull_subscribe_bind(
            durable=self.durable(p), stream=self.bus.stream_name(p)
        )
        self._unacked[p] = []

    async def _resume_all(self) -> None:
        # Resume after the acknowledged floor, like memory://: messages delivered but not
        # acknowledged are delivered again now, in order, rather than after ack_wait.
        js = self.bus._js
        floors = {}
        for p in self.partitions:
            try:
                info = await js.consumer_info(self.bus.stream_name(p), self.durable(p))
                floors[p] = int(info.ack_floor.stream_seq or 0)
            except NotFoundError:
                floors[p] = 0
        await self._seek(floors)

    async def _seek(self, positions: Mapping[int, int]) -> None:
        js = self.bus._js
        for p, after in positions.items():
            stream = self.bus.stream_name(p)
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, self.durable(p))
            await js.add_consumer(stream, self._config(p, int(after)))
            await self._bind(p)

    def seek(self, positions: Mapping[int, int]) -> None:
        """Recreate the durable consumers of ``positions`` to deliver from just after them."""
        self.bus._run(self._seek(positions), "seek")

    async def _fetch_one(self, p: int, batch: int, timeout_s: float) -> list[Any]:
        try:
            return await self._subs[p].fetch(batch, timeout=timeout_s)
        except TimeoutError:
            return []

    async def _fetch(self, max_messages: int, timeout_s: float) -> list[tuple[int, Any]]:
        # All partitions are asked at once, in short rounds until one has messages or time
        # is up: a slow partition never holds back the others for the whole timeout, and
        # no fetch is ever cancelled while it holds messages (a timed-out pull leaves late
        # messages in the subscription's queue, where the next fetch finds them first).
        per_partition = max(1, max_messages // len(self.partitions))
        deadline = time.monotonic() + timeout_s
        while True:
            round_s = max(0.001, min(0.05, deadline - time.monotonic()))
            results = await asyncio.gather(
                *(self._fetch_one(p, per_partition, round_s) for p in self.partitions)
            )
            out = [
                (p, msg) for p, msgs in zip(self.partitions, results, strict=True) for msg in msgs
            ]
            if out or time.monotonic() >= deadline:
                return out

    async def _fetch_decoded(
        self, max_messages: int, timeout_s: float
    ) -> list[tuple[int, int, Any, Message]]:
        # decoded here, on the client's thread: with a read-ahead that thread does it while
        # the caller's thread applies the previous batch
        out = []
        for p, msg in await self._fetch(max_messages, timeout_s):
            meta = msg.metadata
            seq = int(meta.sequence.stream)
            msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            events = codec.decode(msg.data)
            out.append((p, seq, msg, Message(p, seq, events, msg_id, int(meta.num_delivered))))
        return out

    def _deliver(self, fetched: list[tuple[int, int, Any, Message]]) -> list[Message]:
        """Hand fetched messages out (on the caller's thread, which alone touches
        ``_unacked``): from here on a commit may acknowledge them."""
        for p, seq, msg, _ in fetched:
            self._unacked[p].append((seq, msg))
        return [message for *_, message in fetched]

    def fetch(self, max_messages: int = 64, timeout_s: float = 1.0) -> list[Message]:
        """Messages of this consumer's partitions, each partition in sequence order.

        Raises
        ------
        ServiceUnavailableError
            The connection to NATS failed (the caller should :meth:`seek` to its
            checkpoint once NATS is back).
        """
        return self._deliver(self.bus._run(self._fetch_decoded(max_messages, timeout_s), "fetch"))

    def start_fetch(self, max_messages: int = 64, timeout_s: float = 1.0) -> PendingFetch:
        """Send a fetch now and return at once; :meth:`PendingFetch.result` gives what
        :meth:`fetch` would have. The pull's round trip, the receipt and the decoding happen
        on the client's thread meanwhile. At most one fetch may be in flight: the caller
        collects or discards it before fetching, seeking or closing again."""
        coro = self._fetch_decoded(max_messages, timeout_s)
        return PendingFetch(self, asyncio.run_coroutine_threadsafe(coro, self.bus._io.loop))

    async def _commit(self, positions: Mapping[int, int]) -> None:
        for p, upto in positions.items():
            pending = self._unacked.get(p)
            if not pending:
                continue
            covered = [item for item in pending if item[0] <= upto]
            if not covered:
                continue
            # AckPolicy.ALL: acknowledging the newest covered message acknowledges all
            # earlier ones; ack_sync waits for the server's confirmation (double ack).
            await max(covered, key=lambda item: item[0])[1].ack_sync(timeout=self.bus.timeout_s)
            self._unacked[p] = [item for item in pending if item[0] > upto]

    def commit(self, positions: Mapping[int, int]) -> None:
        """Acknowledge (and have the server confirm) every message up to ``positions[p]``."""
        self.bus._run(self._commit(positions), "commit")

    def close(self) -> None:
        async def _close() -> None:
            for sub in self._subs.values():
                with contextlib.suppress(NatsError):
                    await sub.unsubscribe()
            self._subs.clear()

        with contextlib.suppress(ServiceUnavailableError):
            self.bus._run(_close(), "close consumer")


class PendingFetch:
    """A fetch in flight (:meth:`NatsConsumer.start_fetch`)."""

    def __init__(self, consumer: NatsConsumer, future: concurrent.futures.Future[Any]):
        self.consumer = consumer
        self.future = future

    def result(self) -> list[Message]:
        """The fetched messages (waits for the fetch), now delivered to the caller.

        Raises
        ------
        ServiceUnavailableError
            The connection to NATS failed (as :meth:`NatsConsumer.fetch`).
        """
        bus = self.consumer.bus
        try:
            fetched = self.future.result(bus.timeout_s * 3)
        except (*TRANSPORT_ERRORS, concurrent.futures.CancelledError) as exc:
            raise ServiceUnavailableError(f"NATS at {bus.config.url}: fetch: {exc!r}") from exc
        return self.consumer._deliver(fetched)

    def discard(self) -> None:
        """Drop the fetch: its messages are never delivered (nor acknowledged). It is
        waited for, not cancelled, so that no pull is left running on a subscription a
        following :meth:`NatsConsumer.seek` replaces (a fetch ends by its own timeout); the
        broker counts the dropped messages as delivered, so the caller repositions the
        consumer (:meth:`NatsConsumer.seek`) before fetching again, or they come back only
        after ``ack_wait``."""
        try:
            self.future.result(self.consumer.bus.timeout_s * 3)
        except concurrent.futures.TimeoutError:
            self.future.cancel()  # the loop is stuck: nothing better to do
        except Exception:  # a failed fetch has nothing to drop
            log.debug("discarded fetch had failed", exc_info=True)
