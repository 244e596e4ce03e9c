"""The append-only audit log: who changed what, when, and the values before and after.

Every change made through the service (positions, limits, API keys) writes one entry *in
the same transaction* as the change, so a change without its audit entry (or the reverse)
cannot be committed. The database refuses UPDATE and DELETE on the table (triggers of
migration 0002), so the log can only grow.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        ts_ns=ts_ns,
        actor=actor,
        role=role,
        action=action,
        changes=[(target, before, after)],
        reason=reason,
    )


def append_audit_many(
    conn: Connection,
    *,
    ts_ns: int,
    actor: str,
    role: str,
    action: str,
    changes: Sequence[tuple[str, Any, Any]],
    reason: str = "",
) -> None:
    """Write one entry per ``(target, before, after)`` of ``changes`` on ``conn`` in one
    statement (a position file's thousands of changes), all by the same actor, at the same
    time, for the same action and reason (the arguments of :func:`append_audit`)."""
    if not changes:
        return
    conn.execute(
        AUDIT_LOG.insert(),
        [
            {
                "ts_ns": int(ts_ns),
                "actor": actor,
                "role": role,
                "action": action,
                "target": target,
                "before": json.dumps(before, sort_keys=True, default=str),
                "after": json.dumps(after, sort_keys=True, default=str),
                "reason": reason,
            }
            for target, before, after in changes
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
