"""Leadership by a lease: which of a primary/standby pair publishes.

A lease is one key in a compare-and-set key-value store (NATS JetStream KV, or an in-memory
store for the demo and the tests). Its value names the holder and the time to live; every
write gives the key a new *revision*.

The election (:meth:`Lease.tick`, run every ``renew_s`` by a :class:`LeaseKeeper` thread):

* **Acquire**: a process that finds no lease creates it (create-if-absent: of two that try,
  exactly one succeeds).
* **Renew**: the holder rewrites the lease *at the revision it last wrote* (compare-and-set).
  If the write fails, someone else took the lease: the holder steps down at once.
* **Take over**: a standby watches the revision. If it has not changed for ``ttl_s`` (by the
  standby's own monotonic clock: no clock synchronisation needed), the holder is presumed
  dead and the standby writes the lease at the revision it watched. Of several standbys,
  exactly one wins the compare-and-set.

Safety (never two leaders publishing)
-------------------------------------
A holder counts itself leader only until ``(1 - SAFETY) * ttl_s`` after the *start* of its
last successful renewal, while a standby waits ``ttl_s`` from the moment it first saw that
revision, which is after the renewal started. So a holder that stalls (a long GC pause, a
network partition, ``SIGSTOP``) stops publishing before anyone can take over, provided the
two clocks run at the same rate within ``SAFETY`` (10 %; real clocks agree to parts per
million). This is the lease of Gray & Cheriton (1989) as used by Chubby and Kubernetes'
leader election. Message ids derived from content make the rare overlap harmless anyway:
JetStream stores a message published twice only once (:mod:`riskstream.runtime.standby`).

Recovery time: a standby takes over between ``ttl_s`` and ``ttl_s + renew_s`` after the
holder's last renewal (about 2.5 s with the defaults), then publishes its next result.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from riskstream.core.errors import InputError, ServiceUnavailableError

log = logging.getLogger(__name__)

SAFETY = 0.1  # a holder's lease ends this fraction of ttl_s before a standby may take over


@dataclass(frozen=True, slots=True)
class Entry:
    """A key's value and revision (rises with every write)."""

    value: bytes
    revision: int


class LeaseStore(Protocol):
    """A key-value store with compare-and-set by revision."""

    def get(self, key: str) -> Entry | None:
        """The key's entry, or None if it does not exist (or was deleted)."""

    def create(self, key: str, value: bytes) -> int | None:
        """Write ``value`` if ``key`` does not exist; its revision, or None if it does."""

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Write ``value`` if the key's revision is still ``revision``; the new revision,
        or None if someone wrote it since."""

    def delete(self, key: str, revision: int) -> bool:
        """Delete the key if its revision is still ``revision``."""

    def close(self) -> None:
        """Release the connection."""


class MemoryLeaseStore:
    """A :class:`LeaseStore` in process memory (threads of one process; the demo, tests)."""

    def __init__(self) -> None:
        self._items: dict[str, Entry] = {}
        self._revision = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            return self._items.get(key)

    def _write(self, key: str, value: bytes) -> int:
        self._revision += 1
        self._items[key] = Entry(bytes(value), self._revision)
        return self._revision

    def create(self, key: str, value: bytes) -> int | None:
        with self._lock:
            return None if key in self._items else self._write(key, value)

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry.revision != revision:
                return None
            return self._write(key, value)

    def delete(self, key: str, revision: int) -> bool:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry.revision != revision:
                return False
            del self._items[key]
            return True

    def close(self) -> None:
        return None


class NatsLeaseStore:
    """A :class:`LeaseStore` in a NATS JetStream key-value bucket (file storage, one
    revision of history): the lease survives a broker restart.

    Parameters
    ----------
    url : str
        ``nats://host:port``.
    bucket : str
        The KV bucket (created if absent).
    timeout_s : float
        How long one operation may take; a renewal slower than the lease is useless, so
        keep it well under ``ttl_s``.

    Raises
    ------
    ServiceUnavailableError
        NATS does not answer (at connection, or later for one operation).
    """

    def __init__(self, url: str, bucket: str = "RISKSTREAM_LEASES", timeout_s: float = 1.0):
        from nats.js import api  # nats-py is imported only when used

        from riskstream.bus.nats import TRANSPORT_ERRORS, LoopThread, connect

        if not url.startswith("nats://"):
            raise InputError("bus.url", url, "a nats:// URL")
        self.url = url
        self.bucket = bucket
        self.timeout_s = timeout_s
        self._errors = TRANSPORT_ERRORS
        self._io = LoopThread(f"nats-lease-{bucket}")

        async def _open() -> None:
            from nats.js.errors import BucketNotFoundError, NotFoundError

            self._nc = await connect(url, timeout_s)
            js = self._nc.jetstream(timeout=timeout_s)
            try:
                self._kv = await js.key_value(bucket)
            except (BucketNotFoundError, NotFoundError):
                self._kv = await js.create_key_value(
                    api.KeyValueConfig(bucket=bucket, history=1, storage=api.StorageType.FILE)
                )

        try:
            self._io.run(_open(), timeout_s + 10)
        except TRANSPORT_ERRORS as exc:
            self._io.stop()
            raise ServiceUnavailableError(f"NATS at {url}: lease bucket {bucket}: {exc!r}") from exc

    def _run(self, coro: Any, what: str) -> Any:
        try:
            return self._io.run(coro, self.timeout_s * 2)
        except self._errors as exc:
            raise ServiceUnavailableError(f"NATS at {self.url}: {what}: {exc!r}") from exc

    def get(self, key: str) -> Entry | None:
        from nats.js.errors import KeyNotFoundError

        async def _get() -> Entry | None:
            try:
                entry = await self._kv.get(key)
            except KeyNotFoundError:
                return None
            return Entry(entry.value or b"", int(entry.revision))

        return self._run(_get(), f"get {key}")

    def create(self, key: str, value: bytes) -> int | None:
        from nats.js.errors import KeyWrongLastSequenceError

        async def _create() -> int | None:
            try:
                return int(await self._kv.create(key, value))
            except KeyWrongLastSequenceError:
                return None

        return self._run(_create(), f"create {key}")

    def update(self, key: str, value: bytes, revision: int) -> int | None:
        from nats.js.errors import KeyWrongLastSequenceError

        async def _update() -> int | None:
            try:
                return int(await self._kv.update(key, value, last=revision))
            except KeyWrongLastSequenceError:
                return None

        return self._run(_update(), f"update {key}")

    def delete(self, key: str, revision: int) -> bool:
        from nats.js.errors import APIError

        async def _delete() -> bool:
            try:
                await self._kv.delete(key, last=revision)
            except APIError:  # wrong last sequence: someone else holds it now
                return False
            return True

        return self._run(_delete(), f"delete {key}")

    def close(self) -> None:
        self._io.close(self._nc, timeout_s=5)


def default_holder() -> str:
    """A holder id unique to this process: host, pid and a random part (a restarted
    process is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """One process's view of the lease ``name`` (see the module docstring).

    Parameters
    ----------
    store : LeaseStore
        Where the lease lives (:class:`NatsLeaseStore` between processes).
    name : str
        The lease's key: one per replicated role (``risk``, ``limits``).
    holder : str, optional
        This process's id (default :func:`default_holder`).
    ttl_s : float
        How long the lease lives without renewal (the failover time's main part).
    clock : callable
        Monotonic seconds (injected so tests control time).
    """

    def __init__(
        self,
        store: LeaseStore,
        name: str,
        holder: str | None = None,
        ttl_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not ttl_s > 0:
            raise InputError("ttl_s", ttl_s, "a positive number of seconds")
        self.store = store
        self.name = name
        self.holder = holder or default_holder()
        self.ttl_s = float(ttl_s)
        self.clock = clock
        self.takeovers = 0  # times this process took the lease from an expired holder
        self.term = 0  # rises each time this process becomes leader
        # (revision we wrote last, start of that write) while we hold the lease: one
        # attribute, replaced whole, so is_leader reads it without a lock
        self._held: tuple[int, float] | None = None
        self._seen: tuple[int, float] | None = None  # (revision, when first seen) as standby
        self._lock = threading.Lock()

    def _value(self) -> bytes:
        return json.dumps(
            {"holder": self.holder, "ttl_s": self.ttl_s, "ts_ns": time.time_ns()}
        ).encode()

    @property
    def is_leader(self) -> bool:
        """True while this process holds a lease it has confirmed recently enough."""
        held = self._held
        return held is not None and self.clock() - held[1] < (1 - SAFETY) * self.ttl_s

    def holder_of(self) -> str | None:
        """Who holds the lease now, as stored (None when nobody)."""
        entry = self.store.get(self.name)
        return None if entry is None else json.loads(entry.value).get("holder")

    def tick(self) -> bool:
        """One step of the election: acquire, renew or watch. Returns :attr:`is_leader`.

        A store that does not answer (``ServiceUnavailableError``) changes nothing: a holder
        stays leader until its lease runs out, a standby keeps watching.
        """
        with self._lock:
            try:
                self._step()
            except ServiceUnavailableError as exc:
                log.warning("lease %s: store unavailable: %s", self.name, exc)
        return self.is_leader

    def _step(self) -> None:
        started = self.clock()
        if self._held is not None:
            revision = self.store.update(self.name, self._value(), self._held[0])
            if revision is not None:
                self._held = (revision, started)
                return
        entry = self.store.get(self.name)
        if entry is not None and json.loads(entry.value).get("holder") == self.holder:
            # ours: a renewal whose answer was lost did land. Renew at that revision (its
            # write time is unknown, so it does not count as a confirmation).
            revision = self.store.update(self.name, self._value(), entry.revision)
            if revision is not None:
                self._held = (revision, started)
                return
            entry = self.store.get(self.name)
        if self._held is not None:
            log.warning("lease %s: lost by %s (someone else took it)", self.name, self.holder)
            self._held = None
        if entry is None:
            revision = self.store.create(self.name, self._value())
            if revision is not None:
                self._become_leader(revision, started, "acquired")
            return
        if self._seen is None or self._seen[0] != entry.revision:
            self._seen = (entry.revision, started)  # the holder is alive: watch from now
            return
        ttl_s = float(json.loads(entry.value).get("ttl_s", self.ttl_s))
        if started - self._seen[1] >= ttl_s:
            revision = self.store.update(self.name, self._value(), entry.revision)
            if revision is not None:
                self.takeovers += 1
                self._become_leader(revision, started, "took over (holder expired)")

    def _become_leader(self, revision: int, started: float, how: str) -> None:
        self._held, self._seen = (revision, started), None
        self.term += 1
        log.info("lease %s: %s by %s", self.name, how, self.holder)

    def release(self) -> None:
        """Give the lease up (a clean shutdown): a standby takes over at its next tick
        instead of after ``ttl_s``."""
        with self._lock:
            held, self._held = self._held, None
            if held is not None:
                with contextlib.suppress(ServiceUnavailableError):
                    self.store.delete(self.name, held[0])


class LeaseKeeper:
    """Runs :meth:`Lease.tick` in a daemon thread: every ``ttl_s / 4`` while leader (so
    one lost renewal never costs the lease), every ``poll_s`` while standing by.

    ``on_change(is_leader)`` is called on every change of leadership, in this thread.
    """

    def __init__(
        self,
        lease: Lease,
        poll_s: float | None = None,
        on_change: Callable[[bool], None] | None = None,
    ):
        self.lease = lease
        self.renew_s = lease.ttl_s / 4
        self.poll_s = poll_s if poll_s is not None else lease.ttl_s / 8
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{lease.name}", daemon=True)
        self._leader = False

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            leader = self.lease.tick()
            if leader != self._leader:
                self._leader = leader
                if self.on_change is not None:
                    self.on_change(leader)
            self._stop.wait(self.renew_s if leader else self.poll_s)

    def stop(self, release: bool = True) -> None:
        """Stop ticking; give the lease up unless ``release`` is False."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if release:
            self.lease.release()
