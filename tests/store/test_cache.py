"""The online cache: TTL honoured in memory (manual clock) and in a real Redis."""

from __future__ import annotations

import time

import numpy as np
import pytest

from riskstream.core.clock import NS_PER_S, ManualClock
from riskstream.core.errors import InputError, ServiceUnavailableError
from riskstream.store.cache import FeatureCache, MemoryCache, RedisCache, open_cache

NAMES = ["spread", "ofi", "vwap_1m"]


def test_memory_cache_expires_keys_by_the_clock() -> None:
    clock = ManualClock(1_000 * NS_PER_S)
    cache = MemoryCache(clock)
    cache.set_many({"a": b"1", "b": b"2"}, ttl_s=5)
    cache.set_many({"c": b"3"}, ttl_s=None)
    assert cache.get_many(["a", "b", "c", "z"]) == [b"1", b"2", b"3", None]
    assert cache.ttl_s("a") == pytest.approx(5.0)
    clock.advance(5 * NS_PER_S - 1)
    assert cache.get_many(["a"]) == [b"1"]
    clock.advance(1)
    assert cache.get_many(["a", "b", "c"]) == [None, None, b"3"]
    assert cache.ttl_s("a") is None and cache.ttl_s("c") is None
    cache.delete(["c"])
    assert cache.get_many(["c"]) == [None]
    with pytest.raises(InputError, match="ttl_s"):
        cache.set_many({"x": b""}, ttl_s=0)


def test_memory_cache_sweeps_expired_keys() -> None:
    clock = ManualClock(0)
    cache = MemoryCache(clock, sweep_every=10)
    cache.set_many({str(i): b"x" for i in range(9)}, ttl_s=1)
    clock.advance(2 * NS_PER_S)
    cache.set_many({"new": b"y"}, ttl_s=1)  # the 10th write sweeps the 9 dead keys
    assert len(cache) == 1


def test_feature_cache_round_trip_and_staleness() -> None:
    clock = ManualClock(100 * NS_PER_S)
    features = FeatureCache(open_cache("memory://", clock), ttl_s=10)
    values = np.arange(12, dtype=np.float64).reshape(4, 3)
    features.set(clock.now_ns(), np.array([3, 5, 7, 9]), NAMES, values)
    clock.advance(2 * NS_PER_S)
    features.set(clock.now_ns(), np.array([5]), NAMES, values[1:2] * 10)
    got = features.get(np.array([5, 3, 42]), now_ns=clock.now_ns(), max_age_ns=NS_PER_S)
    assert got.names == NAMES
    np.testing.assert_array_equal(got.values[0], values[1] * 10)
    np.testing.assert_array_equal(got.values[1], values[0])
    assert np.isnan(got.values[2]).all()
    assert got.stale.tolist() == [False, True, True]  # 3 is 2 s old > 1 s; 42 missing
    clock.advance(9 * NS_PER_S)  # 11 s after the first write: its TTL has passed
    got = features.get(np.array([5, 3]))
    assert got.stale.tolist() == [False, True]
    with pytest.raises(InputError, match="values"):
        features.set(0, np.array([1]), NAMES, np.zeros((2, 3)))


@pytest.mark.services
def test_redis_cache_honours_ttl(redis_url) -> None:
    cache = open_cache(redis_url)
    assert isinstance(cache, RedisCache)
    try:
        cache.set_many({"rs:test:a": b"\x00\x01", "rs:test:b": b"x"}, ttl_s=0.3)
        cache.set_many({"rs:test:keep": b"k"}, ttl_s=None)
        assert cache.get_many(["rs:test:a", "rs:test:b", "rs:test:none"]) == [
            b"\x00\x01",
            b"x",
            None,
        ]
        assert 0 < cache.ttl_s("rs:test:a") <= 0.3
        time.sleep(0.45)
        assert cache.get_many(["rs:test:a", "rs:test:b", "rs:test:keep"]) == [None, None, b"k"]
        assert cache.ttl_s("rs:test:a") is None
        cache.delete(["rs:test:keep"])
        assert cache.get_many(["rs:test:keep"]) == [None]
    finally:
        cache.close()


@pytest.mark.services
def test_redis_feature_cache_expires_instruments(redis_url) -> None:
    features = FeatureCache(open_cache(redis_url), ttl_s=0.3, prefix="rs:test:features")
    try:
        values = np.array([[1.5, -2.0, np.inf]])
        features.set(7 * NS_PER_S, np.array([11]), NAMES, values)
        got = features.get(np.array([11]))
        np.testing.assert_array_equal(got.values, values)
        assert got.ts_ns.tolist() == [7 * NS_PER_S] and not got.stale.any()
        time.sleep(0.45)
        assert features.get(np.array([11])).stale.all()
    finally:
        features.cache.close()


def test_unreachable_redis_is_a_clear_error() -> None:
    from tests.servers import free_port

    with pytest.raises(ServiceUnavailableError, match="Redis"):
        RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(InputError, match="cache_url"):
        open_cache("memcached://x")


def test_feature_cache_from_config() -> None:
    from riskstream.store.config import StoreConfig

    clock = ManualClock(0)
    features = FeatureCache.from_config(StoreConfig(cache_ttl_s=2.0), clock)
    features.set(0, np.array([1]), NAMES, np.ones((1, 3)))
    clock.advance(2 * NS_PER_S)
    assert features.get(np.array([1])).stale.all()
