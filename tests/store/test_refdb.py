"""The reference database on SQLite and on a real PostgreSQL: migrations, round trips,
atomic replacement, position upserts."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from riskstream.core.errors import ConfigError, InputError, ServiceUnavailableError
from riskstream.core.instruments import POSITION_SCHEMA, Universe
from riskstream.store.refdb import METADATA, RefDB


def test_migrations_create_the_schema_and_are_idempotent(refdb_url: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from riskstream.store.refdb import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    db = RefDB(refdb_url)
    assert db.revision() is None
    assert db.migrate() == head
    assert db.migrate() == head  # running again changes nothing
    assert RefDB(refdb_url).migrate() == head  # nor does another process's run
    inspector = sa.inspect(db.engine)
    assert {"instruments", "books", "positions", "fx_rates", "universe_meta"} <= set(
        inspector.get_table_names()
    )
    db.close()


def test_migrated_schema_matches_the_table_definitions(refdb: RefDB) -> None:
    # Alembic's autogenerate comparison finds nothing to change: the migration and
    # RefDB's tables describe the same schema.
    with refdb.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert diff == []


def test_universe_round_trip_is_exact(refdb: RefDB, small_universe: Universe) -> None:
    assert not refdb.has_universe()
    refdb.save_universe(small_universe, {"generator": '{"seed":11}'})
    assert refdb.has_universe()
    back = refdb.load_universe()
    assert back.instruments.equals(small_universe.instruments)
    assert back.books.equals(small_universe.books)
    assert back.positions.equals(small_universe.positions)
    assert back.fx_to_base == small_universe.fx_to_base
    assert back.base_currency == "USD"
    assert back.as_of == dt.date(2024, 6, 28)
    assert refdb.meta()["generator"] == '{"seed":11}'


def test_load_without_a_universe_says_what_to_do(refdb: RefDB) -> None:
    with pytest.raises(LookupError, match="universe generate"):
        refdb.load_universe()


def test_save_replaces_atomically(refdb: RefDB, small_universe: Universe) -> None:
    refdb.save_universe(small_universe)
    u = small_universe
    # A universe whose position names a book that does not exist: the foreign key fails
    # on the last insert, and the old universe must still be there, whole.
    bad_positions = pl.concat(
        [
            u.positions.head(5),
            pl.DataFrame(
                {"book_id": [999], "instrument_id": [0], "quantity": [1.0]}, schema=POSITION_SCHEMA
            ),
        ]
    )
    bad = Universe(u.instruments.head(100), u.books, bad_positions, "EUR", u.fx_to_base, u.as_of)
    with pytest.raises(IntegrityError):
        refdb.save_universe(bad)
    back = refdb.load_universe()
    assert back.instruments.height == u.instruments.height
    assert back.positions.equals(u.positions)
    assert back.base_currency == "USD"
    # A good replacement takes over entirely.
    smaller = Universe(
        u.instruments,
        u.books.head(3),
        u.positions.filter(pl.col("book_id") < 3),
        "USD",
        u.fx_to_base,
        u.as_of,
    )
    refdb.save_universe(smaller)
    assert refdb.books().height == 3
    assert refdb.positions().equals(smaller.positions)


def test_positions_upsert_and_filter_by_book(refdb: RefDB, small_universe: Universe) -> None:
    refdb.save_universe(small_universe)
    pos = small_universe.positions
    first = pos.row(0, named=True)
    new_instrument = (
        set(range(small_universe.instruments.height))
        - set(pos.filter(pl.col("book_id") == first["book_id"])["instrument_id"])
    ).pop()
    changes = pl.DataFrame(
        {
            "book_id": [first["book_id"], first["book_id"]],
            "instrument_id": [first["instrument_id"], new_instrument],
            "quantity": [-123.0, 456.0],
        },
        schema=POSITION_SCHEMA,
    )
    assert refdb.upsert_positions(changes) == 2
    book = refdb.positions(first["book_id"])
    assert set(book["book_id"]) == {first["book_id"]}
    got = dict(zip(book["instrument_id"], book["quantity"], strict=True))
    assert got[first["instrument_id"]] == -123.0 and got[new_instrument] == 456.0
    assert refdb.positions().height == pos.height + 1
    # replace=True: the given rows become the whole portfolio.
    refdb.upsert_positions(changes, replace=True)
    assert refdb.positions().height == 2


def test_positions_must_reference_known_books_and_instruments(
    refdb: RefDB, small_universe: Universe
) -> None:
    refdb.save_universe(small_universe)
    before = refdb.positions()
    bad = pl.DataFrame(
        {"book_id": [0, 0], "instrument_id": [0, 10_000_000], "quantity": [5.0, 1.0]},
        schema=POSITION_SCHEMA,
    )
    with pytest.raises(IntegrityError):
        refdb.upsert_positions(bad)
    assert refdb.positions().equals(before)  # nothing half-written
    dup = pl.DataFrame({"book_id": [0, 0], "instrument_id": [1, 1], "quantity": [1.0, 2.0]})
    with pytest.raises(InputError, match="each key at most once"):
        refdb.upsert_positions(dup)


def test_books_upsert(refdb: RefDB, small_universe: Universe) -> None:
    refdb.save_universe(small_universe)
    book = small_universe.books.head(1).with_columns(trader=pl.lit("new trader"))
    refdb.upsert_books(book)
    assert refdb.books().row(0, named=True)["trader"] == "new trader"
    assert refdb.books().height == small_universe.books.height


def test_bad_urls_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="expected sqlite or postgresql"):
        RefDB("mysql://localhost/risk")
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        RefDB("not a url")


def test_unreachable_server_is_service_unavailable() -> None:
    db = RefDB("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(ServiceUnavailableError, match=r"127\.0\.0\.1"):
        db.migrate()


def test_migration_0004_adds_and_drops_dividend_yield(
    refdb_url: str, small_universe: Universe
) -> None:
    # Upgrade to head, downgrade to 0003 (the column goes, the data stays), upgrade again:
    # the column is back, null for rows written before it existed.
    from alembic import command
    from alembic.config import Config

    from riskstream.store.refdb import MIGRATIONS

    db = RefDB(refdb_url)
    db.migrate()
    with_yield = small_universe.instruments.with_columns(
        dividend_yield=pl.when(pl.col("asset_class") == "equity").then(0.02)
    )
    universe = Universe(
        with_yield,
        small_universe.books,
        small_universe.positions,
        small_universe.base_currency,
        small_universe.fx_to_base,
        small_universe.as_of,
    )
    db.save_universe(universe)
    assert db.instruments()["dividend_yield"].equals(with_yield["dividend_yield"])

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(db.engine).get_columns("instruments")}

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert db.revision() == "0003"
    assert "dividend_yield" not in columns()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM instruments")).scalar() == len(universe)
    db.migrate()
    assert "dividend_yield" in columns()
    assert db.instruments()["dividend_yield"].null_count() == len(universe)
    db.close()


def test_migration_0005_keeps_the_positions_version_and_journal(
    refdb_url: str, small_universe: Universe
) -> None:
    # Every write of the positions table raises the version in the same transaction; the
    # keeper's tables go with a downgrade to 0004 (positions stay) and come back empty.
    from alembic import command
    from alembic.config import Config

    from riskstream.store.positions import journal, journaled
    from riskstream.store.refdb import MIGRATIONS, stored_positions_version

    db = RefDB(refdb_url)
    db.migrate()
    db.save_universe(small_universe)
    db.upsert_positions(small_universe.positions.head(1).with_columns(quantity=pl.lit(3.0)))
    with db.transaction() as conn:
        assert stored_positions_version(conn) == 2
        journal(conn, [("fill:o-1", "fill", {"ok": True, "changes": []})], 2, 1)
    with db.transaction() as conn:
        assert journaled(conn, ["fill:o-1", "fill:o-2"]) == {
            "fill:o-1": {"ok": True, "changes": [], "version": 2}
        }
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.transaction() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    tables = set(sa.inspect(db.engine).get_table_names())
    assert "position_journal" not in tables and "position_state" not in tables
    assert db.positions().height == small_universe.positions.height
    db.migrate()
    with db.transaction() as conn:
        assert stored_positions_version(conn) == 0 and journaled(conn, ["fill:o-1"]) == {}
    db.close()
