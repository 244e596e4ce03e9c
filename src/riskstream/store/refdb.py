"""The reference database: instruments, books and positions in SQL (SQLAlchemy 2.0).

A SQLite file by default (``StoreConfig.refdb``), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``); the same code runs on both. The schema is owned by
Alembic migrations shipped in :mod:`riskstream.store.migrations` and applied by
:meth:`RefDB.migrate` (idempotent: it upgrades to the newest revision, or does nothing).

Tables (one row per record of :mod:`riskstream.core.instruments`):

``instruments``
    every column of :data:`~riskstream.core.instruments.INSTRUMENT_SCHEMA`; ``underlying_id``
    references ``instruments`` (deferred, so a whole universe inserts in any order).
``books``
    ``book_id``, unique ``name``, ``desk``, ``strategy``, ``trader``.
``positions``
    ``(book_id, instrument_id)`` primary key, ``quantity`` (signed).
``fx_rates``
    units of base currency per unit of each currency.
``universe_meta``
    key/value text: ``base_currency``, ``as_of`` and whatever the writer records (e.g. the
    generator's configuration, so a caller can tell whether the stored universe is the one it
    wants).
``audit_log``
    append-only record of every change made through the service (who, what, when,
    before/after as JSON); triggers reject UPDATE and DELETE (:mod:`riskstream.store.audit`).
``api_keys``
    the service's API keys: a public ``key_id``, a name, a role and the SHA-256 of the
    secret (never the secret itself).
``position_state``
    the position keeper's counters (migration 0005): ``version`` of the positions (raised
    by every write of the ``positions`` table, in the same transaction) and the last
    sequence numbers it consumed on its subjects.
``lineage_records``, ``lineage_snapshots``
    BCBS 239 lineage of reported figures and the positions and reference data they were
    computed from (migration 0006, :mod:`riskstream.regulatory.lineage`).
``position_journal``
    every request id and order id the keeper has applied, with the version that holds it
    and its answer (JSON): a retried request or a redelivered fill is applied once, across
    restarts (:mod:`riskstream.store.positions`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from riskstream.core.errors import ConfigError, InputError, ServiceUnavailableError
from riskstream.core.instruments import (
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    Universe,
)

MIGRATIONS = Path(__file__).with_name("migrations")

METADATA = sa.MetaData()
"""The schema as the newest migration leaves it (a test checks they agree)."""

INSTRUMENTS = sa.Table(
    "instruments",
    METADATA,
    sa.Column("instrument_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("symbol", sa.String(64), nullable=False, index=True),
    sa.Column("asset_class", sa.String(8), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("exchange", sa.String(16), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("sector", sa.String(64)),
    sa.Column("multiplier", sa.Float, nullable=False),
    sa.Column("tick_size", sa.Float, nullable=False),
    sa.Column("lot_size", sa.Float, nullable=False),
    sa.Column("ref_price", sa.Float, nullable=False),
    sa.Column("adv", sa.Float, nullable=False),
    sa.Column("spread_bps", sa.Float, nullable=False),
    sa.Column(
        "underlying_id",
        sa.Integer,
        sa.ForeignKey(
            "instruments.instrument_id",
            name="fk_instruments_underlying",
            deferrable=True,
            initially="DEFERRED",
        ),
    ),
    sa.Column("expiry", sa.Date),
    sa.Column("strike", sa.Float),
    sa.Column("right", sa.String(1)),
    sa.Column("exercise", sa.String(8)),
    sa.Column("base_currency", sa.String(3)),
    sa.Column("coupon", sa.Float),
    sa.Column("maturity", sa.Date),
    sa.Column("coupon_frequency", sa.SmallInteger),
    sa.Column("rating", sa.String(8)),
    sa.Column("dividend_yield", sa.Float),
)
BOOKS = sa.Table(
    "books",
    METADATA,
    sa.Column("book_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("desk", sa.String(64), nullable=False),
    sa.Column("strategy", sa.String(64), nullable=False),
    sa.Column("trader", sa.String(64), nullable=False),
)
POSITIONS = sa.Table(
    "positions",
    METADATA,
    sa.Column(
        "book_id",
        sa.Integer,
        sa.ForeignKey("books.book_id", name="fk_positions_book"),
        primary_key=True,
    ),
    sa.Column(
        "instrument_id",
        sa.Integer,
        sa.ForeignKey("instruments.instrument_id", name="fk_positions_instrument"),
        primary_key=True,
    ),
    sa.Column("quantity", sa.Float, nullable=False),
)
FX_RATES = sa.Table(
    "fx_rates",
    METADATA,
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("to_base", sa.Float, nullable=False),
)
UNIVERSE_META = sa.Table(
    "universe_meta",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

AUDIT_LOG = sa.Table(
    "audit_log",
    METADATA,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts_ns", sa.BigInteger, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(256), nullable=False),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
API_KEYS = sa.Table(
    "api_keys",
    METADATA,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False),
)

POSITION_STATE = sa.Table(
    "position_state",
    METADATA,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
POSITION_JOURNAL = sa.Table(
    "position_journal",
    METADATA,
    sa.Column("change_id", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
    sa.Column("result", sa.Text, nullable=False),
)
# BCBS 239 lineage (migration 0006; :mod:`riskstream.regulatory.lineage` reads and writes)
LINEAGE_RECORDS = sa.Table(
    "lineage_records",
    METADATA,
    sa.Column("lineage_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False, index=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("as_of", sa.String(10), nullable=False),
    sa.Column("positions_version", sa.BigInteger, nullable=False),
    sa.Column("positions_digest", sa.String(64), nullable=False),
    sa.Column("reference_digest", sa.String(64), nullable=False),
    sa.Column("market_versions", sa.Text, nullable=False),
    sa.Column("bus_sequences", sa.Text, nullable=False),
    sa.Column("config_hash", sa.String(64), nullable=False),
    sa.Column("code_version", sa.String(128), nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("figures", sa.Text, nullable=False),
    sa.Column("data_quality", sa.Text, nullable=False),
)
LINEAGE_SNAPSHOTS = sa.Table(
    "lineage_snapshots",
    METADATA,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)
VERSION_KEY = "version"
"""``position_state`` key of the positions version."""

_DIALECTS = ("sqlite", "postgresql")


def stored_positions_version(conn: Connection, *, lock: bool = False) -> int:
    """The positions version in the database (0 before any write); ``lock`` holds the row
    until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite locks the whole file on
    the first write), so two writers take their versions one after the other."""
    query = sa.select(POSITION_STATE.c.value).where(POSITION_STATE.c.key == VERSION_KEY)
    value = conn.execute(query.with_for_update() if lock else query).scalar()
    return 0 if value is None else int(value)


def bump_positions_version(conn: Connection) -> int:
    """Raise the positions version by one inside the caller's transaction; the new value.

    Every write of the ``positions`` table calls it in the same transaction, so the
    version names one state of the table and a reader (the position keeper) sees any
    writer's change."""
    version = stored_positions_version(conn, lock=True) + 1
    updated = conn.execute(
        POSITION_STATE.update().where(POSITION_STATE.c.key == VERSION_KEY).values(value=version)
    ).rowcount
    if not updated:
        conn.execute(POSITION_STATE.insert().values(key=VERSION_KEY, value=version))
    return version


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite checks foreign keys only when asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class RefDB:
    """Reference data in a SQL database.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///path/refdata.db`` (the folder is created) or
        ``postgresql+psycopg://user@host:port/db``.

    Raises
    ------
    ConfigError
        The URL is malformed or names another database.
    """

    def __init__(self, url: str):
        try:
            parsed = make_url(url)
        except Exception:
            raise ConfigError(
                f"reference DB URL {url!r} is not a SQLAlchemy URL; expected e.g. "
                "sqlite:///.riskstream/refdata.db or postgresql+psycopg://user@host/db"
            ) from None
        if parsed.get_backend_name() not in _DIALECTS:
            raise ConfigError(
                f"reference DB URL {parsed.render_as_string(hide_password=True)!r} names "
                f"{parsed.get_backend_name()!r}; expected sqlite or postgresql"
            )
        self.url = parsed
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = sa.create_engine(parsed)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _enable_sqlite_foreign_keys)

    def __repr__(self) -> str:
        return f"RefDB({self.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            where = self.url.render_as_string(hide_password=True)
            raise ServiceUnavailableError(f"reference DB {where}: {exc.orig}") from exc

    # ------------------------------------------------------------------ schema

    def migrate(self) -> str:
        """Bring the schema to the newest migration (a no-op when it is there already).

        Returns
        -------
        str
            The schema revision now in the database.
        """
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.transaction() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        revision = self.revision()
        assert revision is not None
        return revision

    def revision(self) -> str | None:
        """The schema revision in the database, or ``None`` before the first migration."""
        from alembic.runtime.migration import MigrationContext

        with self.transaction() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    # ------------------------------------------------------------------ universe

    def save_universe(self, universe: Universe, meta: Mapping[str, str] | None = None) -> None:
        """Replace everything stored with ``universe``, atomically (readers see the old
        universe or the new one, never a mix; a failure leaves the old one).

        Parameters
        ----------
        universe : Universe
            Instruments, books, positions, base currency, FX rates and ``as_of``.
        meta : mapping of str to str, optional
            Extra key/value metadata stored beside it (e.g. the generator's settings).
        """
        entries = {"base_currency": universe.base_currency}
        if universe.as_of is not None:
            entries["as_of"] = universe.as_of.isoformat()
        entries.update(meta or {})
        with self.transaction() as conn:
            for table in (POSITIONS, BOOKS, INSTRUMENTS, FX_RATES, UNIVERSE_META):
                conn.execute(table.delete())
            _insert(conn, INSTRUMENTS, universe.instruments)
            _insert(conn, BOOKS, universe.books)
            _insert(conn, POSITIONS, universe.positions)
            rates = [{"currency": c, "to_base": r} for c, r in universe.fx_to_base.items()]
            conn.execute(FX_RATES.insert(), rates)
            conn.execute(
                UNIVERSE_META.insert(), [{"key": k, "value": v} for k, v in entries.items()]
            )
            bump_positions_version(conn)

    def has_universe(self) -> bool:
        """Whether a universe has been saved."""
        with self.transaction() as conn:
            return (
                conn.execute(
                    sa.select(UNIVERSE_META.c.key).where(UNIVERSE_META.c.key == "base_currency")
                ).first()
                is not None
            )

    def meta(self) -> dict[str, str]:
        """The stored universe's key/value metadata (empty when none is stored)."""
        with self.transaction() as conn:
            return dict(conn.execute(sa.select(UNIVERSE_META.c.key, UNIVERSE_META.c.value)).all())

    def load_universe(self) -> Universe:
        """The stored universe, read in one transaction.

        Raises
        ------
        LookupError
            No universe has been saved.
        """
        with self.transaction() as conn:
            meta = dict(conn.execute(sa.select(UNIVERSE_META.c.key, UNIVERSE_META.c.value)).all())
            if "base_currency" not in meta:
                raise LookupError(
                    f"{self!r} holds no universe; run `riskstream universe generate` first"
                )
            instruments = _read(conn, INSTRUMENTS, INSTRUMENT_SCHEMA, "instrument_id")
            books = _read(conn, BOOKS, BOOK_SCHEMA, "book_id")
            positions = _read(conn, POSITIONS, POSITION_SCHEMA, "book_id", "instrument_id")
            rates = dict(conn.execute(sa.select(FX_RATES.c.currency, FX_RATES.c.to_base)).all())
        as_of = dt.date.fromisoformat(meta["as_of"]) if "as_of" in meta else None
        return Universe(instruments, books, positions, meta["base_currency"], rates, as_of)

    # ------------------------------------------------------------------ records

    def instruments(self) -> pl.DataFrame:
        """All instruments, ordered by id."""
        with self.transaction() as conn:
            return _read(conn, INSTRUMENTS, INSTRUMENT_SCHEMA, "instrument_id")

    def books(self) -> pl.DataFrame:
        """All books, ordered by id."""
        with self.transaction() as conn:
            return _read(conn, BOOKS, BOOK_SCHEMA, "book_id")

    def upsert_books(self, books: pl.DataFrame) -> int:
        """Insert books, or update desk/strategy/trader/name of those whose id exists."""
        return self._upsert(BOOKS, books, BOOK_SCHEMA, ("book_id",))

    def positions(self, book_id: int | None = None) -> pl.DataFrame:
        """Positions (of one book, or all), ordered by book then instrument."""
        with self.transaction() as conn:
            where = POSITIONS.c.book_id == book_id if book_id is not None else None
            return _read(conn, POSITIONS, POSITION_SCHEMA, "book_id", "instrument_id", where=where)

    def upsert_positions(
        self,
        positions: pl.DataFrame,
        *,
        replace: bool = False,
        new_books: pl.DataFrame | None = None,
    ) -> int:
        """Set the quantity of each (book, instrument) given, in one transaction.

        Parameters
        ----------
        positions : polars.DataFrame
            Rows with :data:`POSITION_SCHEMA` columns; each pair at most once.
        replace : bool
            Delete every other position first (the file is the whole portfolio).
        new_books : polars.DataFrame, optional
            Books (:data:`BOOK_SCHEMA`) to insert or update first, in the same transaction.

        Returns
        -------
        int
            Rows written.

        Raises
        ------
        InputError
            A (book, instrument) pair appears twice.
        sqlalchemy.exc.IntegrityError
            A book or instrument does not exist (nothing is written).
        """
        before = (BOOKS, new_books, BOOK_SCHEMA, ("book_id",)) if new_books is not None else None
        return self._upsert(
            POSITIONS,
            positions,
            POSITION_SCHEMA,
            ("book_id", "instrument_id"),
            replace=replace,
            before=before,
        )

    def _upsert(
        self,
        table: sa.Table,
        frame: pl.DataFrame,
        schema: dict[str, pl.DataType],
        key: tuple[str, ...],
        *,
        replace: bool = False,
        before: tuple[sa.Table, pl.DataFrame, dict[str, pl.DataType], tuple[str, ...]]
        | None = None,
    ) -> int:
        frame = _checked(frame, schema, key)
        with self.transaction() as conn:
            if before is not None:  # e.g. new books, in the same transaction as positions
                _upsert_in(conn, before[0], _checked(*before[1:]), before[2], before[3])
            if replace:
                conn.execute(table.delete())
            _upsert_in(conn, table, frame, schema, key)
            if table is POSITIONS:
                bump_positions_version(conn)
        return frame.height


def _checked(
    frame: pl.DataFrame, schema: dict[str, pl.DataType], key: tuple[str, ...]
) -> pl.DataFrame:
    frame = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
    if not frame.select(key).is_unique().all():
        dup = frame.filter(frame.select(key).is_duplicated()).row(0, named=True)
        raise InputError(",".join(key), tuple(dup[k] for k in key), "each key at most once")
    return frame


def _upsert_in(
    conn: Connection,
    table: sa.Table,
    frame: pl.DataFrame,
    schema: dict[str, pl.DataType],
    key: tuple[str, ...],
) -> None:
    if not frame.height:
        return
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table)
    updates = {c: stmt.excluded[c] for c in schema if c not in key}
    conn.execute(
        stmt.on_conflict_do_update(index_elements=list(key), set_=updates), frame.to_dicts()
    )


def _insert(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    if frame.height:
        conn.execute(table.insert(), frame.to_dicts())


def _read(
    conn: Connection,
    table: sa.Table,
    schema: dict[str, pl.DataType],
    *order_by: str,
    where: Any = None,
) -> pl.DataFrame:
    query = sa.select(*(table.c[name] for name in schema)).order_by(
        *(table.c[name] for name in order_by)
    )
    if where is not None:
        query = query.where(where)
    rows = conn.execute(query).all()
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
