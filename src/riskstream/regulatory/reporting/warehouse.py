"""The reporting warehouse: DuckDB embedded by default, PostgreSQL in production.

One small interface over both — ``execute``, ``query`` and an idempotent ``upsert`` keyed by
primary key — so the extraction and the report assets are written once. dbt reads and
writes the same database through its own adapter (``dbt-duckdb`` / ``dbt-postgres``),
configured from the same URL (:func:`dbt_target`).

Landing tables (the *bronze* layer, created here, transformed by dbt):

* ``landing_pages`` — every raw API page unchanged: resource, cursor, ETag, fetch time and
  body; the audit trail of what the source said when.
* ``raw_<resource>`` — one row per record id (``id``, ``updated_at``, ``payload`` JSON,
  ``fetched_at``), upserted so re-extraction is idempotent.
* ``watermarks`` — per resource, the largest ``updated_at`` extracted.
* ``raw_fx_rates`` — FX rates landed from the history store's ``fx_rates`` table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_DDL = (
    """CREATE TABLE IF NOT EXISTS landing_pages (
        resource TEXT NOT NULL, cursor TEXT, etag TEXT, fetched_at TEXT NOT NULL,
        record_count INTEGER NOT NULL, body TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS watermarks (
        resource TEXT PRIMARY KEY, updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS raw_fx_rates (
        day DATE NOT NULL, currency TEXT NOT NULL, usd_per_unit DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (day, currency))""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        run_id TEXT NOT NULL, source TEXT NOT NULL, record_id TEXT, field TEXT,
        value TEXT, reason TEXT NOT NULL)""",
)


def raw_table_ddl(resource: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS raw_{resource} (id TEXT PRIMARY KEY, "
        "updated_at TEXT NOT NULL, payload TEXT NOT NULL, fetched_at TEXT NOT NULL)"
    )


class Warehouse:
    """A DuckDB file (``duckdb:///path``) or a PostgreSQL database (``postgresql://…``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self.kind = "duckdb" if parsed.scheme == "duckdb" else "postgres"
        if self.kind == "duckdb":
            import duckdb

            self.path = Path(url.removeprefix("duckdb:///").removeprefix("duckdb://"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = duckdb.connect(str(self.path))
        else:
            import psycopg

            self._conn = psycopg.connect(
                url.replace("postgresql+psycopg", "postgresql"), autocommit=True
            )
        for ddl in _DDL:
            self.execute(ddl)

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "duckdb" else re.sub(r"\?", "%s", sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.kind == "duckdb":
            self._conn.executemany(sql, rows)
        else:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.columns(sql, params)[1]

    def columns(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The column names and rows of ``sql`` with ``params`` bound (``?`` placeholders)."""
        cur = self._conn.execute(self._sql(sql), params)
        names = [d[0] for d in cur.description]
        return names, [tuple(r) for r in cur.fetchall()]

    def upsert(
        self, table: str, key: Sequence[str], columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert ``rows``, replacing the non-key columns of rows whose key exists."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        marks = ", ".join("?" for _ in columns)
        self.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
            rows,
        )

    def close(self) -> None:
        self._conn.close()

    def dbt_target(self) -> dict[str, Any]:
        """The dbt profile output for this warehouse (``profiles.yml`` ``outputs`` entry)."""
        if self.kind == "duckdb":
            return {"type": "duckdb", "path": str(self.path), "threads": 1}
        p = urlparse(self.url.replace("postgresql+psycopg", "postgresql"))
        return {
            "type": "postgres",
            "host": p.hostname or "localhost",
            "port": p.port or 5432,
            "user": p.username or "postgres",
            "password": p.password or "",
            "dbname": p.path.lstrip("/"),
            "schema": "public",
            "threads": 1,
        }
