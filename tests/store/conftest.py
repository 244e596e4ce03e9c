"""Reference databases for the store tests: a SQLite file, and a fresh database on the test
session's real PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.store.refdb import RefDB

_counter = itertools.count()


@pytest.fixture(scope="session")
def small_universe():
    """A 600-instrument universe (all five classes), generated once."""
    return generate_universe(UniverseConfig(instruments=600, seed=11))


def _postgres_database(server_url: str) -> Iterator[str]:
    name = f"rs_refdb_{next(_counter)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def refdb_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty reference database: SQLite in a temporary folder, or a new PostgreSQL one."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ref' / 'refdata.db'}"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def refdb(refdb_url: str) -> Iterator[RefDB]:
    """A migrated, empty reference database."""
    db = RefDB(refdb_url)
    db.migrate()
    yield db
    db.close()
