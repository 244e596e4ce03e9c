"""The online cache: key/value bytes with a time-to-live, in process or in Redis.

One interface (:class:`Cache`: ``get_many``/``set_many`` with a TTL, ``delete``,
``ttl_s``), two backends chosen by URL: ``memory://`` (:class:`MemoryCache`, the default;
expiry by an injected clock) and ``redis://host:port/db`` (:class:`RedisCache`; Redis
expires keys itself, ``PX`` per key). Values are bytes — the caller chooses the encoding
(raw numpy bytes for features, JSON for risk snapshots) — so risk, service and md share it.

:class:`FeatureCache` serves the latest feature vector of each instrument: one key per
instrument holding ``ts`` (int64 ns, when the values were known) and the float64 values
in the order of the feature names (stored once under ``<prefix>:names``). A read reports
each instrument's values, age, and whether it is *stale*: missing or expired (TTL) or
older than ``max_age_ns``.
"""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError, ServiceUnavailableError


class Cache(Protocol):
    """Key/value bytes with a TTL."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (None where missing or expired)."""

    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None) -> None:
        """Store ``items``, each expiring after ``ttl_s`` seconds (None: never)."""

    def delete(self, keys: Iterable[str]) -> None:
        """Remove ``keys``."""

    def ttl_s(self, key: str) -> float | None:
        """Seconds until ``key`` expires (None: missing or no expiry)."""

    def close(self) -> None:
        """Release connections."""


def _check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not ttl_s > 0:
        raise InputError("ttl_s", ttl_s, "a positive number of seconds, or None")


class MemoryCache:
    """In-process TTL cache (thread-safe). Expired keys are dropped when read, and in a
    sweep every ``sweep_every`` writes, so memory stays bounded by the live keys."""

    def __init__(self, clock: Clock | None = None, sweep_every: int = 10_000):
        self.clock = clock or SystemClock()
        self._data: dict[str, tuple[bytes, int | None]] = {}  # key -> (value, expiry ns)
        self._lock = threading.Lock()
        self._writes = 0
        self.sweep_every = sweep_every

    def _live(self, key: str, now: int) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expiry = item
        if expiry is not None and expiry <= now:
            del self._data[key]
            return None
        return value

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self.clock.now_ns()
        with self._lock:
            return [self._live(key, now) for key in keys]

    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None) -> None:
        _check_ttl(ttl_s)
        now = self.clock.now_ns()
        expiry = None if ttl_s is None else now + int(ttl_s * 1e9)
        with self._lock:
            for key, value in items.items():
                self._data[key] = (bytes(value), expiry)
            self._writes += len(items)
            if self._writes >= self.sweep_every:
                self._writes = 0
                dead = [k for k, (_, e) in self._data.items() if e is not None and e <= now]
                for key in dead:
                    del self._data[key]

    def delete(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def ttl_s(self, key: str) -> float | None:
        now = self.clock.now_ns()
        with self._lock:
            if self._live(key, now) is None:
                return None
            expiry = self._data[key][1]
        return None if expiry is None else (expiry - now) / 1e9

    def __len__(self) -> int:
        return len(self._data)

    def close(self) -> None:
        """Nothing to release."""


class RedisCache:
    """Redis-backed TTL cache (``redis://host:port/db``); Redis expires the keys.

    Raises
    ------
    ServiceUnavailableError
        Redis cannot be reached.
    """

    def __init__(self, url: str):
        import redis

        self.url = url
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError, OSError)
        try:
            self._redis.ping()
        except self._errors as exc:
            raise ServiceUnavailableError(f"Redis at {url}: {exc!r}") from exc

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            return list(self._redis.mget(list(keys)))
        except self._errors as exc:
            raise ServiceUnavailableError(f"Redis at {self.url}: {exc!r}") from exc

    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None) -> None:
        _check_ttl(ttl_s)
        px = None if ttl_s is None else max(1, int(ttl_s * 1000))
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, value in items.items():
                    pipe.set(key, value, px=px)
                pipe.execute()
        except self._errors as exc:
            raise ServiceUnavailableError(f"Redis at {self.url}: {exc!r}") from exc

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self._redis.delete(*keys)

    def ttl_s(self, key: str) -> float | None:
        ms = self._redis.pttl(key)
        return None if ms < 0 else ms / 1000

    def close(self) -> None:
        self._redis.close()


def open_cache(url: str = "memory://", clock: Clock | None = None) -> Cache:
    """The cache named by ``url``: ``memory://`` or ``redis://host:port/db``."""
    if url.startswith("memory://"):
        return MemoryCache(clock)
    if url.startswith(("redis://", "rediss://")):
        return RedisCache(url)
    raise InputError("cache_url", url, "a URL starting memory://, redis:// or rediss://")


_TS = struct.Struct("<q")


@dataclass(frozen=True)
class CachedFeatures:
    """Features read from the cache for some instruments.

    Attributes
    ----------
    names : list of str
        Feature names (columns of ``values``).
    values : ndarray of float64, shape (n_instruments, n_features)
        NaN where the instrument has no live entry.
    ts_ns : ndarray of int64, shape (n_instruments,)
        When each row was known (0 where missing).
    stale : ndarray of bool, shape (n_instruments,)
        Missing, expired, or older than ``max_age_ns`` at the time of the read.
    """

    names: list[str]
    values: np.ndarray
    ts_ns: np.ndarray
    stale: np.ndarray


class FeatureCache:
    """The latest feature vector per instrument, served from a :class:`Cache` with a TTL.

    Parameters
    ----------
    cache : Cache
        The backend (memory or Redis).
    ttl_s : float
        Each instrument's entry expires this long after it was written.
    prefix : str
        Key prefix (``<prefix>:<instrument_id>``, ``<prefix>:names``).
    """

    def __init__(self, cache: Cache, ttl_s: float = 60.0, prefix: str = "features"):
        _check_ttl(ttl_s)
        self.cache = cache
        self.ttl_s = ttl_s
        self.prefix = prefix

    @classmethod
    def from_config(cls, config: Any, clock: Clock | None = None) -> FeatureCache:
        """From a :class:`riskstream.store.config.StoreConfig` (``cache_url``,
        ``cache_ttl_s``)."""
        return cls(open_cache(config.cache_url, clock), ttl_s=config.cache_ttl_s)

    def key(self, instrument_id: int) -> str:
        return f"{self.prefix}:{int(instrument_id)}"

    def set(
        self,
        ts_ns: int,
        instrument_ids: np.ndarray,
        names: Sequence[str],
        values: np.ndarray,
    ) -> None:
        """Store the features of ``instrument_ids`` (``values`` of shape (n, len(names))),
        known at ``ts_ns``."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        ids = np.asarray(instrument_ids)
        if values.shape != (len(ids), len(names)):
            raise InputError("values", values.shape, f"shape ({len(ids)}, {len(names)})")
        header = _TS.pack(int(ts_ns))
        items = {self.key(k): header + values[i].tobytes() for i, k in enumerate(ids)}
        items[f"{self.prefix}:names"] = json.dumps(list(names)).encode()
        self.cache.set_many(items, self.ttl_s)

    def get(
        self, instrument_ids: np.ndarray, now_ns: int | None = None, max_age_ns: int | None = None
    ) -> CachedFeatures:
        """The live features of ``instrument_ids``; with ``now_ns`` and ``max_age_ns``,
        entries older than ``max_age_ns`` are flagged stale too (values still returned)."""
        ids = np.asarray(instrument_ids)
        raw = self.cache.get_many([f"{self.prefix}:names", *(self.key(k) for k in ids)])
        names = json.loads(raw[0]) if raw[0] is not None else []
        values = np.full((len(ids), len(names)), np.nan)
        ts = np.zeros(len(ids), dtype=np.int64)
        stale = np.ones(len(ids), dtype=bool)
        width = _TS.size + 8 * len(names)
        for i, blob in enumerate(raw[1:]):
            if blob is None or len(blob) != width:
                continue  # missing, expired, or written under other feature names
            ts[i] = _TS.unpack_from(blob)[0]
            values[i] = np.frombuffer(blob, dtype=np.float64, offset=_TS.size)
            stale[i] = False
        if now_ns is not None and max_age_ns is not None:
            stale |= (now_ns - ts) > max_age_ns
        return CachedFeatures(names, values, ts, stale)
