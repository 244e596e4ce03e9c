"""Shared fixtures: real servers (started once per test session) and small universes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.servers import NatsServer, PostgresServer, RedisServer, postgres_database

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def refdb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty reference database: a SQLite file in the test's temporary folder, or a new
    database on the session's PostgreSQL server named after the requesting test's package
    (``rs_limits_3`` for a test in ``tests/limits``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ref' / 'refdata.db'}"
        return
    package = request.module.__name__.split(".")[-2]  # tests.limits.test_x -> limits
    yield from postgres_database(request.getfixturevalue("postgres_url"), f"rs_{package}")


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
