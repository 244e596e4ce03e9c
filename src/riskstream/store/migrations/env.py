"""Alembic environment: migrates the connection that :meth:`RefDB.migrate` passes in."""

from __future__ import annotations

from alembic import context

from riskstream.store.refdb import METADATA

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
