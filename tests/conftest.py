"""Shared fixtures: real servers (started once per test session) and small universes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import NatsServer, PostgresServer, RedisServer


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
