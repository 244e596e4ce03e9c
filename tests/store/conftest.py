"""Reference databases for the store tests: a SQLite file, and a fresh database on the test
session's real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.store.refdb import RefDB


@pytest.fixture(scope="session")
def small_universe():
    """A 600-instrument universe (all five classes), generated once."""
    return generate_universe(UniverseConfig(instruments=600, seed=11))


@pytest.fixture()
def refdb(refdb_url: str) -> Iterator[RefDB]:
    """A migrated, empty reference database."""
    db = RefDB(refdb_url)
    db.migrate()
    yield db
    db.close()
