"""The append-only audit log: who changed what, when, and the values before and after.

Every change made through the service (positions, limits, API keys) writes one entry *in
the same transaction* as the change, so a change without its audit entry (or the reverse)
cannot be committed. The database refuses UPDATE and DELETE on the table (triggers of
migration 0002), so the log can only grow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskstream.store.refdb import AUDIT_LOG, RefDB


@dataclass(frozen=True)
class AuditEntry:
    """One audit record; ``before``/``after`` are the JSON values of the changed object."""

    entry_id: int
    ts_ns: int
    actor: str
    role: str
    action: str
    target: str
    before: Any
    after: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def append_audit(
    conn: Connection,
    *,
    ts_ns: int,
    actor: str,
    role: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    reason: str = "",
) -> None:
    """Write one entry on ``conn`` (inside the caller's transaction)."""
    append_audit_many(
        conn,
        [
            {
                "ts_ns": ts_ns,
                "actor": actor,
                "role": role,
                "action": action,
                "target": target,
                "before": before,
                "after": after,
                "reason": reason,
            }
        ],
    )


def append_audit_many(conn: Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Write several entries on ``conn`` in one statement (a position file's thousands of
    changes); each mapping has the keyword arguments of :func:`append_audit`."""
    if not entries:
        return
    conn.execute(
        AUDIT_LOG.insert(),
        [
            {
                "ts_ns": int(e["ts_ns"]),
                "actor": e["actor"],
                "role": e["role"],
                "action": e["action"],
                "target": e["target"],
                "before": json.dumps(e["before"], sort_keys=True, default=str),
                "after": json.dumps(e["after"], sort_keys=True, default=str),
                "reason": e.get("reason", ""),
            }
            for e in entries
        ],
    )


def read_audit(
    db: RefDB,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    action: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Entries in time order (oldest first), optionally by time range and action."""
    query = sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.entry_id)
    if since_ns is not None:
        query = query.where(AUDIT_LOG.c.ts_ns >= since_ns)
    if until_ns is not None:
        query = query.where(AUDIT_LOG.c.ts_ns <= until_ns)
    if action is not None:
        query = query.where(AUDIT_LOG.c.action == action)
    with db.transaction() as conn:
        rows = conn.execute(query.limit(limit)).mappings().all()
    return [
        AuditEntry(
            **{**row, "before": json.loads(row["before"]), "after": json.loads(row["after"])}
        )
        for row in rows
    ]
