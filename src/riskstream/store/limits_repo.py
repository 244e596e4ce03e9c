"""Limits and kill-switch states in the reference DB, each change with its audit entry.

The limits package defines what a limit is and who may change it; this module is where
limits live. The layering keeps the two apart (``store`` imports only ``core``, ``limits``
never imports ``store``): the repository speaks plain rows (dicts), and the wiring (CLI,
service) hands it to ``limits`` as its ``LimitStore`` and ``SwitchStore``. Tables
(migration 0003):


``limits``
    one row per limit: ``limit_id`` (``scope:key/type``), scope, key, type, soft and hard
    thresholds, enabled, the time of the last change.
``kill_switches``
    one row per scope whose switch has ever moved: state, trigger, reason, actor, time.
Every limit change, kill-switch transition and reduction action — who, what, when, JSON
before/after and the reason — goes to the one append-only ``audit_log``
(:mod:`riskstream.store.audit`, migration 0002) in the same transaction as the change it
records, so neither can exist without the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from riskstream.store.audit import append_audit
from riskstream.store.refdb import AUDIT_LOG, METADATA, RefDB

LIMITS = sa.Table(
    "limits",
    METADATA,
    sa.Column("limit_id", sa.String(200), primary_key=True),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("limit_type", sa.String(32), nullable=False),
    sa.Column("soft", sa.Float, nullable=False),
    sa.Column("hard", sa.Float, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)
KILL_SWITCHES = sa.Table(
    "kill_switches",
    METADATA,
    sa.Column("scope_id", sa.String(160), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("ts_ns", sa.BigInteger, nullable=False),
)
_AUDIT_FIELDS = ("ts_ns", "actor", "role", "action", "target", "before", "after", "reason")
_LIMIT_FIELDS = ("limit_id", "scope", "key", "limit_type", "soft", "hard", "enabled")
_SWITCH_FIELDS = ("scope_id", "state", "trigger", "reason", "actor", "ts_ns")


def _append(conn: sa.Connection, audit: Mapping[str, Any]) -> None:
    append_audit(conn, **{k: audit[k] for k in _AUDIT_FIELDS})


class LimitRepository:
    """Limits, kill switches and their audit trail in a :class:`RefDB` (migrated first)."""

    def __init__(self, db: RefDB):
        self.db = db

    # limits ---------------------------------------------------------------
    def load_limits(self) -> list[dict[str, Any]]:
        """Every limit row, by id."""
        with self.db.transaction() as conn:
            rows = conn.execute(sa.select(LIMITS).order_by(LIMITS.c.limit_id)).mappings().all()
        return [dict(r) for r in rows]

    def save_limit(self, limit: Mapping[str, Any], audit: Mapping[str, Any]) -> None:
        """Insert or replace one limit row and append its audit entry, atomically."""
        row = {k: limit[k] for k in _LIMIT_FIELDS} | {"updated_ns": int(audit["ts_ns"])}
        with self.db.transaction() as conn:
            conn.execute(LIMITS.delete().where(LIMITS.c.limit_id == row["limit_id"]))
            conn.execute(LIMITS.insert().values(**row))
            _append(conn, audit)

    def delete_limit(self, limit_id: str, audit: Mapping[str, Any]) -> None:
        with self.db.transaction() as conn:
            conn.execute(LIMITS.delete().where(LIMITS.c.limit_id == limit_id))
            _append(conn, audit)

    # kill switches --------------------------------------------------------
    def load_switches(self) -> list[dict[str, Any]]:
        """Every saved switch row."""
        with self.db.transaction() as conn:
            rows = conn.execute(sa.select(KILL_SWITCHES)).mappings().all()
        return [dict(r) for r in rows]

    def save_switch(self, record: Mapping[str, Any], audit: Mapping[str, Any]) -> None:
        """Replace one scope's switch row and append its audit entry, atomically."""
        row = {k: record[k] for k in _SWITCH_FIELDS}
        with self.db.transaction() as conn:
            conn.execute(KILL_SWITCHES.delete().where(KILL_SWITCHES.c.scope_id == row["scope_id"]))
            conn.execute(KILL_SWITCHES.insert().values(**row))
            _append(conn, audit)

    # audit ----------------------------------------------------------------
    def append(self, audit: Mapping[str, Any]) -> None:
        """Record an action that changes no limit or switch (e.g. a reduction trade)."""
        with self.db.transaction() as conn:
            _append(conn, audit)

    def audit(self, action_prefix: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Audit entries, oldest first (optionally those whose action starts with a prefix)."""
        query = sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.entry_id)
        if action_prefix:
            query = query.where(AUDIT_LOG.c.action.startswith(action_prefix))
        with self.db.transaction() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [
            {**r, "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows
        ]
