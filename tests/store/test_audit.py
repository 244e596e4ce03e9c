"""The audit log on SQLite and a real PostgreSQL: entries round-trip, in order, filtered by
time and action; the database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from riskstream.store.audit import append_audit, read_audit
from riskstream.store.refdb import AUDIT_LOG, RefDB


def _entry(conn, ts_ns: int, action: str, before, after) -> None:
    append_audit(
        conn,
        ts_ns=ts_ns,
        actor="alice",
        role="risk_manager",
        action=action,
        target="position:1/2",
        before=before,
        after=after,
        reason="why",
    )


def test_entries_round_trip_in_order_and_filter(refdb: RefDB) -> None:
    with refdb.transaction() as conn:
        _entry(conn, 100, "position.set", {"quantity": None}, {"quantity": 5.0})
        _entry(conn, 200, "limit.set", {"limit": 1.0}, {"limit": 2.0})
        _entry(conn, 300, "position.set", {"quantity": 5.0}, {"quantity": None})
    everything = read_audit(refdb)
    assert [e.ts_ns for e in everything] == [100, 200, 300]
    assert everything[0].before == {"quantity": None} and everything[0].after == {"quantity": 5.0}
    assert everything[0].actor == "alice" and everything[0].reason == "why"
    assert [e.ts_ns for e in read_audit(refdb, action="position.set")] == [100, 300]
    assert [e.ts_ns for e in read_audit(refdb, since_ns=150, until_ns=300)] == [200, 300]


def test_an_entry_rolls_back_with_its_change(refdb: RefDB) -> None:
    with pytest.raises(RuntimeError), refdb.transaction() as conn:
        _entry(conn, 1, "position.set", None, {"quantity": 1.0})
        raise RuntimeError("the change failed")
    assert read_audit(refdb) == []


def test_the_database_refuses_to_rewrite_history(refdb: RefDB) -> None:
    with refdb.transaction() as conn:
        _entry(conn, 1, "limit.set", {"limit": 1.0}, {"limit": 2.0})
    statements = [AUDIT_LOG.update().values(actor="mallory"), AUDIT_LOG.delete()]
    if refdb.engine.dialect.name == "postgresql":
        statements.append(sa.text("TRUNCATE audit_log"))
    for statement in statements:
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), refdb.transaction() as c:
            c.execute(statement)
    assert [e.actor for e in read_audit(refdb)] == ["alice"]
