"""Typed-message topics over NATS JetStream: :class:`riskstream.bus.topics.Topics` between
processes.

Layout
------
Subject ``s`` (``risk.snapshot``, ``fills`` …) is the NATS subject ``<stream>.topics.s``,
stored in its own JetStream stream ``<stream>_T_<s with dots as dashes>`` with file storage.
One stream per subject makes its stream sequence the subject's sequence: 1, 2, 3, … with no
holes, so a reader tells a duplicate from a gap by arithmetic (as on the event bus,
:mod:`riskstream.bus.nats`), and the messages survive a broker restart.

* :meth:`NatsTopics.publish` encodes with :mod:`riskstream.core.wire` and sets
  ``Nats-Msg-Id``: JetStream stores a message whose id it saw within ``dedup_window_s``
  once and answers ``duplicate`` (returned as sequence 0). A re-publish after a crash, or
  by a standby that took over, is therefore harmless when ids come from the message's
  identity (see :mod:`riskstream.runtime.standby`).
* With ``retry_s`` (a stage process: ``runtime.reconnect_s``), a publish the broker did
  not confirm is retried under the same message id until it is (a call without an id gets
  one of its own, the same for every attempt), for up to ``retry_s``: the stage pauses
  while the broker is away, and nothing it publishes is lost or stored twice. Messages
  sent without waiting (:meth:`NatsTopics.publish_nowait`) are kept until confirmed and
  the unconfirmed ones sent again, in their order.
* :meth:`NatsTopics.subscribe` reads with an ephemeral pull consumer that starts at
  ``start_after + 1``; the reader keeps its own position, so after a broker restart or a
  reconnection it recreates the consumer just after the last message it returned: nothing
  is skipped or read twice.
* :meth:`Subscription.latest` reads the stream's last message directly (JetStream *direct
  get*), skipping the ones between, then waits for the next one if there is none newer.

Messages larger than the server's ``max_payload``
-------------------------------------------------
A RiskSnapshot of 10,000 instruments is about 1 MB, and NATS refuses a message larger than
the server's ``max_payload`` (1 MB by default; NATS advises against raising it far). Rather
than require a server setting, a large payload is cut into chunks stored in one shared
stream ``<stream>_BLOBS`` (subject ``<stream>.blobs.<s>``), and the subject's stream gets a
small *head* message whose headers list the chunks' stream sequences, the total length and a
BLAKE2b digest. The head is published after every chunk is stored, so a reader that sees a
head always finds its chunks; the subject keeps one sequence number per logical message.
Chunks carry ids derived from the head's (``<id>:<i>``), so a re-publish after a crash stores
nothing twice; chunks orphaned by a publisher that died before its head age out with the
streams' ``max_age_s``. This is the pattern of the NATS object store, reduced to what a
message needs (no names, no metadata bucket, one round trip per chunk on read).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

from nats.errors import Error as NatsError
from nats.js import api
from nats.js.errors import APIError, NotFoundError

from riskstream.bus.config import BusConfig
from riskstream.bus.nats import HEADER_ROOM_BYTES, TRANSPORT_ERRORS, LoopThread, connect
from riskstream.core import wire
from riskstream.core.errors import FencedError, InputError, ServiceUnavailableError

T = TypeVar("T")
log = logging.getLogger(__name__)

SUBJECT_PATTERN = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
BLOB_SEQS = "Rs-Blob-Seqs"  # space-separated stream sequences of the chunks, in order
BLOB_BYTES = "Rs-Blob-Bytes"
BLOB_DIGEST = "Rs-Blob-Digest"
MSG_ID = "Nats-Msg-Id"
MIN_WAIT_S = 0.01  # a "don't wait" fetch still needs one round trip to the server
WRONG_LAST_SEQUENCE = 10071  # JetStream's error code for a failed expected-last-sequence


def _digest(payload: bytes) -> str:
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


class NatsTopics:
    """The JetStream topics (see the module docstring).

    Parameters
    ----------
    config : BusConfig
        ``url`` (``nats://host:port``), ``stream`` (prefix of the subjects and streams),
        ``dedup_window_s``, ``max_age_s``, ``max_payload_bytes`` (chunk above this; default
        and ceiling: the server's ``max_payload``).
    timeout_s : float
        How long one publish or admin request may take before it counts as a failure.
    retry_s : float
        How long a publish is retried in place (under the same message id) before its
        failure is raised; 0: at once (the caller retries).

    Raises
    ------
    ServiceUnavailableError
        No NATS server answers at ``url``; later, a publish or read the server did not
        answer (the caller retries: publishing with the same ``msg_id`` is idempotent, and a
        reader resumes after its position).
    """

    RETRY_WAIT_S = 0.1
    """Wait between two attempts of a publish while the broker is away."""

    def __init__(self, config: BusConfig, timeout_s: float = 10.0, retry_s: float = 0.0):
        if not config.url.startswith("nats://"):
            raise InputError("bus.url", config.url, "a nats:// URL")
        self.config = config
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.retries = 0  # publish attempts repeated after a failure
        self.generation = 0  # rises on every reconnection: readers recreate their consumers
        self._streams: set[str] = set()
        self._io = LoopThread(f"nats-topics-{config.stream}")
        try:
            self._io.run(self._connect(), timeout_s + 5)
        except TRANSPORT_ERRORS as exc:
            self._io.stop()
            raise ServiceUnavailableError(f"NATS at {config.url}: {exc!r}") from exc
        server_max = int(self._nc.max_payload)
        wanted = min(config.max_payload_bytes or server_max, server_max)
        self.max_body_bytes = wanted - HEADER_ROOM_BYTES
        # publish_nowait: each message's confirmation, kept with what to send again
        self._in_flight: deque[tuple[concurrent.futures.Future[int], str, bytes, str | None]]
        self._in_flight = deque()
        self._send_order = asyncio.Lock()

    async def _reconnected(self) -> None:
        self.generation += 1
        self._streams.clear()  # a broker that lost its store must get the streams again

    async def _connect(self) -> None:
        self._nc = await connect(self.config.url, self.timeout_s, self._reconnected)
        self._js = self._nc.jetstream(timeout=self.timeout_s)

    def _run(self, coro: Coroutine[Any, Any, T], what: str, wait_s: float = 0.0) -> T:
        try:
            return self._io.run(coro, self.timeout_s * 3 + wait_s)
        except TRANSPORT_ERRORS as exc:
            raise ServiceUnavailableError(f"NATS at {self.config.url}: {what}: {exc!r}") from exc

    # -- naming --------------------------------------------------------------------------
    def nats_subject(self, subject: str) -> str:
        if not isinstance(subject, str) or not SUBJECT_PATTERN.match(subject):
            raise InputError("subject", subject, "dot-separated words of A-Z a-z 0-9 _")
        return f"{self.config.stream}.topics.{subject}"

    def stream_name(self, subject: str) -> str:
        self.nats_subject(subject)  # validates
        return f"{self.config.stream}_T_{subject.replace('.', '-')}"

    @property
    def blob_stream(self) -> str:
        return f"{self.config.stream}_BLOBS"

    def _stream_config(self, name: str, subjects: list[str]) -> api.StreamConfig:
        return api.StreamConfig(
            name=name,
            subjects=subjects,
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=self.config.dedup_window_s,
            max_age=self.config.max_age_s or None,
            allow_direct=True,
        )

    async def _ensure(self, name: str, subjects: list[str]) -> None:
        if name in self._streams:
            return
        try:
            await self._js.stream_info(name)
        except NotFoundError:
            await self._js.add_stream(self._stream_config(name, subjects))
        self._streams.add(name)

    async def _ensure_subject(self, subject: str) -> str:
        name = self.stream_name(subject)
        await self._ensure(name, [self.nats_subject(subject)])
        return name

    # -- publishing ------------------------------------------------------------------------
    supports_fencing = True  # publish(..., expected_last_seq=) (runtime.standby uses it)

    def publish(
        self,
        subject: str,
        message: Any,
        msg_id: str | None = None,
        *,
        expected_last_seq: int | None = None,
    ) -> int:
        """Store ``message`` on ``subject``; its sequence number, or 0 when JetStream saw
        ``msg_id`` within ``dedup_window_s`` (a duplicate, not stored again).

        Returns once JetStream has stored it (and every chunk of it).

        ``expected_last_seq`` fences the write (JetStream's ``Nats-Expected-Last-Sequence``):
        it is stored only if the subject's newest message is still that one, else
        :class:`FencedError`. A leader that may have been replaced uses it so that a write
        delayed past the end of its lease can never land after its successor's.
        """
        self.nats_subject(subject)
        payload = wire.encode(message)
        if msg_id is None and self.retry_s > 0:
            msg_id = f"once.{uuid.uuid4().hex}"  # every attempt of this call: one message
        deadline: float | None = None
        while True:
            try:
                return self._run(
                    self._publish(
                        subject, payload, msg_id, expected_last_seq, deadline is not None
                    ),
                    f"publish {subject}",
                )
            except ServiceUnavailableError as exc:
                deadline = self._wait_to_retry(deadline, exc)

    def _wait_to_retry(self, deadline: float | None, exc: ServiceUnavailableError) -> float:
        """After a failed attempt: wait and return the deadline of the retries, or raise
        ``exc`` once it has passed (at once without ``retry_s``)."""
        now = time.monotonic()
        deadline = now + self.retry_s if deadline is None else deadline
        if now >= deadline:
            raise exc
        self.retries += 1
        time.sleep(self.RETRY_WAIT_S)
        return deadline

    async def _publish(
        self,
        subject: str,
        payload: bytes,
        msg_id: str | None,
        expected: int | None = None,
        retried: bool = False,
    ) -> int:
        await self._ensure_subject(subject)
        headers: dict[str, str] = {}
        if msg_id is not None:
            headers[MSG_ID] = msg_id
        if expected is not None:
            headers[api.Header.EXPECTED_LAST_SEQUENCE] = str(int(expected))
        body = payload
        if len(payload) > self.max_body_bytes:
            seqs = await self._publish_chunks(subject, payload, msg_id)
            headers[BLOB_SEQS] = " ".join(map(str, seqs))
            headers[BLOB_BYTES] = str(len(payload))
            headers[BLOB_DIGEST] = _digest(payload)
            body = b""
        try:
            ack = await self._js.publish(self.nats_subject(subject), body, headers=headers or None)
        except APIError as exc:
            if expected is not None and exc.err_code == WRONG_LAST_SEQUENCE:
                raise FencedError(subject, expected, str(exc.description or "")) from None
            raise
        if ack.duplicate and not retried:
            return 0
        # a retry's duplicate is this call's own first attempt, stored: its sequence
        return int(ack.seq)

    MAX_IN_FLIGHT = 256
    """:meth:`publish_nowait` messages not yet confirmed before a further one waits."""

    def publish_nowait(self, subject: str, message: Any, msg_id: str | None = None) -> None:
        """Send ``message`` on ``subject`` without waiting for JetStream to store it.

        For a stage whose loop must not stall on a round trip per message (md's deltas,
        50 a second): messages leave in the order of the calls, so they are stored in that
        order, and their confirmations are collected later — by the next call, or by
        :meth:`flush`. Beyond :attr:`MAX_IN_FLIGHT` unconfirmed messages a call waits for
        the oldest (a broker that falls behind slows the publisher, never grows memory).

        Raises
        ------
        ServiceUnavailableError
            An earlier message was not confirmed (it may or may not be stored).
        """
        self.nats_subject(subject)
        self._collect(wait_for=len(self._in_flight) - self.MAX_IN_FLIGHT + 1)
        payload = wire.encode(message)
        if msg_id is None and self.retry_s > 0:
            msg_id = f"once.{uuid.uuid4().hex}"  # a re-send is recognised
        self._send_nowait(subject, payload, msg_id)

    def _send_nowait(self, subject: str, payload: bytes, msg_id: str | None) -> None:
        future = asyncio.run_coroutine_threadsafe(
            self._publish_in_order(subject, payload, msg_id), self._io.loop
        )
        self._in_flight.append((future, subject, payload, msg_id))

    def flush(self) -> None:
        """Wait until every :meth:`publish_nowait` message is confirmed (raises
        ServiceUnavailableError for one that was not)."""
        self._collect(wait_for=len(self._in_flight))

    def _collect(self, wait_for: int = 0) -> None:
        """Take the confirmations that came, waiting for the oldest ``wait_for``."""
        while self._in_flight and (wait_for > 0 or self._in_flight[0][0].done()):
            future = self._in_flight[0][0]
            try:
                future.result(self.timeout_s * 3)
            except (*TRANSPORT_ERRORS, concurrent.futures.TimeoutError) as exc:
                if self.retry_s <= 0:
                    self._in_flight.clear()
                    raise ServiceUnavailableError(
                        f"NATS at {self.config.url}: publish not confirmed: {exc!r}"
                    ) from exc
                self._send_again()
                return
            self._in_flight.popleft()
            wait_for -= 1

    def _send_again(self) -> None:
        """A message was not confirmed: wait for every one in flight, then send the
        unconfirmed ones again, in order, under their ids, until all are confirmed (the
        broker stored, per subject, a prefix of what was sent: the rest keeps its order),
        for up to ``retry_s``."""
        deadline: float | None = None
        while self._in_flight:
            failed = []
            for future, subject, payload, msg_id in self._in_flight:
                try:
                    future.result(self.timeout_s * 3)
                except (*TRANSPORT_ERRORS, concurrent.futures.TimeoutError):
                    failed.append((subject, payload, msg_id))
            self._in_flight.clear()
            if not failed:
                return
            deadline = self._wait_to_retry(
                deadline,
                ServiceUnavailableError(
                    f"NATS at {self.config.url}: {len(failed)} messages not confirmed"
                ),
            )
            log.warning("sending %d unconfirmed messages again", len(failed))
            for subject, payload, msg_id in failed:
                self._send_nowait(subject, payload, msg_id)

    async def _publish_in_order(self, subject: str, payload: bytes, msg_id: str | None) -> int:
        # the send is serialised (a lock is fair: first come, first sent); the wait for the
        # confirmation is not, so many messages are in flight at once
        async with self._send_order:
            await self._ensure_subject(subject)
            if len(payload) > self.max_body_bytes:
                return await self._publish(subject, payload, msg_id)  # rare: chunks, in turn
            headers = {MSG_ID: msg_id} if msg_id is not None else None
            confirmed = await self._js.publish_async(
                self.nats_subject(subject), payload, headers=headers
            )
        ack = await asyncio.wait_for(confirmed, self.timeout_s)
        return 0 if ack.duplicate else int(ack.seq)

    async def _publish_chunks(self, subject: str, payload: bytes, msg_id: str | None) -> list[int]:
        await self._ensure(self.blob_stream, [f"{self.config.stream}.blobs.>"])
        view = memoryview(payload)
        step = self.max_body_bytes
        futures = []
        for i, start in enumerate(range(0, len(payload), step)):
            headers = {MSG_ID: f"{msg_id}:{i}"} if msg_id is not None else None
            futures.append(
                await self._js.publish_async(
                    f"{self.config.stream}.blobs.{subject}",
                    bytes(view[start : start + step]),
                    headers=headers,
                )
            )
        # a duplicate chunk's acknowledgement carries the sequence it was first stored at
        acks = await asyncio.wait_for(asyncio.gather(*futures), self.timeout_s)
        return [int(ack.seq) for ack in acks]

    # -- reading ---------------------------------------------------------------------------
    def subscribe(self, subject: str, start_after: int | None = None) -> NatsSubscription:
        position = self.last_seq(subject) if start_after is None else int(start_after)
        if position < 0:
            raise InputError("start_after", start_after, "a sequence number >= 0")
        return NatsSubscription(self, subject, position)

    def last_seq(self, subject: str) -> int:
        async def _last() -> int:
            name = await self._ensure_subject(subject)
            info = await self._js.stream_info(name)
            return int(info.state.last_seq)

        return self._run(_last(), f"last_seq {subject}")

    async def _assemble(self, headers: dict[str, str] | None, data: bytes | None) -> bytes:
        """The payload of a stored message: its data, or its chunks put back together."""
        if not headers or BLOB_SEQS not in headers:
            return data or b""
        parts = []
        for seq in headers[BLOB_SEQS].split():
            raw = await self._js.get_msg(self.blob_stream, seq=int(seq), direct=True)
            parts.append(raw.data or b"")
        payload = b"".join(parts)
        if len(payload) != int(headers[BLOB_BYTES]) or _digest(payload) != headers[BLOB_DIGEST]:
            raise InputError(
                "message chunks",
                f"{len(payload)} bytes, digest {_digest(payload)}",
                f"{headers[BLOB_BYTES]} bytes with digest {headers[BLOB_DIGEST]}",
            )
        return payload

    def delete_streams(self) -> None:
        """Delete every stream of these topics (tests and benchmarks start clean with it)."""

        async def _delete() -> None:
            prefix = f"{self.config.stream}_T_"
            names = [info.config.name for info in await self._js.streams_info()]
            for name in names:
                if name.startswith(prefix) or name == self.blob_stream:
                    with contextlib.suppress(NotFoundError):
                        await self._js.delete_stream(name)
            self._streams.clear()

        self._run(_delete(), "delete streams")

    def close(self) -> None:
        with contextlib.suppress(ServiceUnavailableError):
            self.flush()  # what was sent without waiting is stored before the connection goes
        self._io.close(self._nc)


class NatsSubscription:
    """An ordered reader of one :class:`NatsTopics` subject, positioned after ``position``.

    Reading is done through an ephemeral pull consumer (deleted by the server when it has
    been idle for ``IDLE_S``); the position is the reader's own, so a consumer lost to a
    broker restart is recreated just after it.
    """

    IDLE_S = 60.0

    def __init__(self, topics: NatsTopics, subject: str, position: int):
        self.topics = topics
        self.subject = subject
        self.position = position
        self.closed = False
        self._sub: Any = None
        self._generation = -1
        self._stream = topics.stream_name(subject)

    async def _drop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.topics._js.delete_consumer(self._stream, sub._consumer)

    async def _open(self) -> Any:
        if self._sub is not None and self._generation == self.topics.generation:
            return self._sub
        await self._drop()
        await self.topics._ensure_subject(self.subject)
        self._generation = self.topics.generation
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.position + 1,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=self.IDLE_S,
            mem_storage=True,
        )
        self._sub = await self.topics._js.pull_subscribe(
            self.topics.nats_subject(self.subject), stream=self._stream, config=config
        )
        return self._sub

    async def _fetch(self, max_messages: int, timeout_s: float) -> list[Any]:
        sub = await self._open()
        try:
            return await sub.fetch(max_messages, timeout=max(timeout_s, MIN_WAIT_S))
        except TimeoutError:
            return []
        except NatsError:
            await self._drop()  # a consumer the server lost: recreated after the position
            raise

    async def _pull(self, max_messages: int, timeout_s: float) -> list[tuple[int, bytes]]:
        if timeout_s <= 0:
            # A poll. A pull that finds nothing is held open by the server for its whole
            # expiry (MIN_WAIT_S), so a node polling three quiet subjects before each
            # refresh waited 36 ms for nothing; the stream's last sequence (one API round
            # trip, 0.7 ms) says first whether anything follows the position.
            await self.topics._ensure_subject(self.subject)
            info = await self.topics._js.stream_info(self._stream)
            if int(info.state.last_seq) <= self.position:
                return []
        msgs = await self._fetch(max_messages, timeout_s)
        if not msgs and self.topics._nc.is_connected:
            # Nothing came. A consumer the server dropped (idle past IDLE_S, or lost in a
            # restart) answers nothing rather than an error: if the stream holds messages
            # after the position, the consumer is gone; recreate it and read again.
            info = await self.topics._js.stream_info(self._stream)
            if int(info.state.last_seq) > self.position:
                await self._drop()
                msgs = await self._fetch(max_messages, MIN_WAIT_S)
        out = []
        position = self.position
        try:
            for msg in msgs:
                seq = int(msg.metadata.sequence.stream)
                if seq <= position:
                    continue
                out.append((seq, await self.topics._assemble(msg.headers, msg.data)))
                position = seq
        except BaseException:
            # the consumer delivered these already: read them again from the position
            await self._drop()
            raise
        self.position = position
        if not out and not self.topics._nc.is_connected:
            raise ServiceUnavailableError(f"NATS at {self.topics.config.url}: not connected")
        return out

    def fetch(self, max_messages: int = 64, timeout_s: float = 0.0) -> list[tuple[int, Any]]:
        """Up to ``max_messages`` ``(seq, message)`` after the last one returned, waiting up
        to ``timeout_s`` for the first; [] if none came."""
        if self.closed:
            return []
        raw = self.topics._run(
            self._pull(max_messages, timeout_s), f"fetch {self.subject}", timeout_s
        )
        return [(seq, wire.decode(payload)) for seq, payload in raw]

    async def _latest(self, timeout_s: float) -> tuple[int, bytes] | None:
        js = self.topics._js
        await self.topics._ensure_subject(self.subject)
        subject = self.topics.nats_subject(self.subject)
        try:
            raw = await js.get_last_msg(self._stream, subject, direct=True)
        except NotFoundError:
            raw = None
        if raw is not None and int(raw.seq) > self.position:
            self.position = int(raw.seq)
            await self._drop()  # the consumer behind the new position is recreated lazily
            return self.position, await self.topics._assemble(raw.headers, raw.data)
        got = await self._pull(1, timeout_s)
        if not got:
            return None
        # something came while waiting: skip to whatever is newest now
        raw = await js.get_last_msg(self._stream, subject, direct=True)
        if int(raw.seq) > self.position:
            self.position = int(raw.seq)
            await self._drop()
            return self.position, await self.topics._assemble(raw.headers, raw.data)
        return got[-1]

    def latest(self, timeout_s: float = 0.0) -> tuple[int, Any] | None:
        """The newest ``(seq, message)`` after the last one returned (skipping the ones
        between), or None if nothing new came within ``timeout_s``."""
        if self.closed:
            return None
        got = self.topics._run(self._latest(timeout_s), f"latest {self.subject}", timeout_s)
        return None if got is None else (got[0], wire.decode(got[1]))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ServiceUnavailableError, RuntimeError):
            self.topics._run(self._drop(), f"close {self.subject}")
