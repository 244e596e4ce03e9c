"""Reference databases for the position keeper's tests: SQLite and a real PostgreSQL, each
holding the risk tests' small multi-asset universe."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from riskstream.core.instruments import Universe
from riskstream.store.refdb import RefDB
from tests.risk.helpers import make_universe

_counter = itertools.count()


@pytest.fixture(scope="session")
def universe() -> Universe:
    return make_universe()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def refdb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty reference database: SQLite file, or a new database on the session's
    PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ref' / 'refdata.db'}"
        return
    server_url = request.getfixturevalue("postgres_url")
    name = f"rs_positions_{next(_counter)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def db(refdb_url: str, universe: Universe) -> Iterator[RefDB]:
    """A migrated reference DB holding the universe (positions version 1)."""
    refdb = RefDB(refdb_url)
    refdb.migrate()
    refdb.save_universe(universe)
    yield refdb
    refdb.close()
