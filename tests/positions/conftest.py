"""Reference databases for the position keeper's tests: SQLite and a real PostgreSQL, each
holding the risk tests' small multi-asset universe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from riskstream.core.instruments import Universe
from riskstream.store.refdb import RefDB
from tests.risk.helpers import make_universe


@pytest.fixture(scope="session")
def universe() -> Universe:
    return make_universe()


@pytest.fixture()
def db(refdb_url: str, universe: Universe) -> Iterator[RefDB]:
    """A migrated reference DB holding the universe (positions version 1)."""
    refdb = RefDB(refdb_url)
    refdb.migrate()
    refdb.save_universe(universe)
    yield refdb
    refdb.close()
