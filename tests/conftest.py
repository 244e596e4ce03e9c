"""Shared fixtures: real servers (started once per test session) and small universes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.servers import NatsServer, PostgresServer, RedisServer

# Property tests: no per-example deadline (a shared 2-core CI machine has noisy timings,
# and performance is measured by bench/, not by tests); a fixed seed so CI is reproducible.
settings.register_profile(
    "riskstream",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("riskstream")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server started for this test session."""
    server = PostgresServer()
    yield server.url
    server.cleanup()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server started for this test session."""
    server = RedisServer()
    yield server.url
    server.cleanup()


@pytest.fixture()
def nats_server() -> Iterator[NatsServer]:
    """A NATS JetStream server of this test's own, which the test may stop and restart."""
    server = NatsServer()
    server.start()
    yield server
    server.cleanup()
