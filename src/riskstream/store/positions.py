"""Writing positions: every change with its audit entry, its version and its journal entry,
in one transaction.

This is the SQL of the position keeper (:mod:`riskstream.positions`), the one writer of
positions. A change is either a *request* (set or add a quantity: the API, a user's file)
or a *fill* (an executed order adds its quantity). In the transaction that writes it:

* each (book, instrument) gets its quantity; a quantity of zero deletes the row (a closed
  position is no position);
* one ``audit_log`` entry per position changed — who, which position, the quantity before
  and after, why (:mod:`riskstream.store.audit`);
* the positions version rises by one (``position_state``; :func:`~riskstream.store.refdb.
  bump_positions_version`), so the version names one state of the table;
* each request or order id goes to ``position_journal`` with the version and the answer,
  so that a retried request or a redelivered fill is recognised and never applied twice,
  even after a restart (exactly once = at-least-once delivery + this journal).

Nothing is written when any part fails: the change, its audit entry and its journal entry
exist together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from riskstream.core.errors import InputError
from riskstream.core.instruments import BOOK_SCHEMA, POSITION_SCHEMA
from riskstream.store.audit import append_audit_many
from riskstream.store.refdb import (
    BOOKS,
    POSITION_JOURNAL,
    POSITION_STATE,
    POSITIONS,
    RefDB,
    _checked,
    _read,
    _upsert_in,
    bump_positions_version,
    stored_positions_version,
)

_CHUNK = 500  # keys per IN (...) query


@dataclass(frozen=True)
class PositionEdit:
    """One change of one position: ``mode="set"`` makes its quantity ``quantity`` (0
    closes it), ``"add"`` adds ``quantity`` (a fill)."""

    book_id: int
    instrument_id: int
    quantity: float
    mode: str = "set"


@dataclass(frozen=True)
class StoredPositions:
    """The positions table, the books and the version, read in one transaction."""

    positions: pl.DataFrame
    books: pl.DataFrame
    version: int
    counters: dict[str, int]


def read_stored(conn: Connection) -> StoredPositions:
    """Positions (by book, instrument), books, version and the keeper's counters."""
    positions = _read(conn, POSITIONS, POSITION_SCHEMA, "book_id", "instrument_id")
    books = _read(conn, BOOKS, BOOK_SCHEMA, "book_id")
    counters = dict(conn.execute(sa.select(POSITION_STATE.c.key, POSITION_STATE.c.value)).all())
    return StoredPositions(
        positions, books, stored_positions_version(conn), {k: int(v) for k, v in counters.items()}
    )


def journaled(conn: Connection, change_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored answers of those ``change_ids`` already applied (id -> answer, with its
    ``version``)."""
    ids = list(dict.fromkeys(change_ids))
    out: dict[str, dict[str, Any]] = {}
    for k in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            sa.select(
                POSITION_JOURNAL.c.change_id, POSITION_JOURNAL.c.version, POSITION_JOURNAL.c.result
            ).where(POSITION_JOURNAL.c.change_id.in_(ids[k : k + _CHUNK]))
        ).all()
        for change_id, version, result in rows:
            out[change_id] = {**json.loads(result), "version": int(version)}
    return out


def journal(
    conn: Connection, entries: Sequence[tuple[str, str, dict[str, Any]]], version: int, ts_ns: int
) -> None:
    """Record ``(change_id, kind, answer)`` entries as applied in ``version``."""
    if entries:
        conn.execute(
            POSITION_JOURNAL.insert(),
            [
                {
                    "change_id": change_id,
                    "kind": kind,
                    "version": version,
                    "ts_ns": int(ts_ns),
                    "result": json.dumps(answer, sort_keys=True, default=str),
                }
                for change_id, kind, answer in entries
            ],
        )


def set_counters(conn: Connection, counters: Mapping[str, int]) -> None:
    """Store the keeper's counters (e.g. the last sequence consumed per subject)."""
    for key, value in counters.items():
        done = conn.execute(
            POSITION_STATE.update().where(POSITION_STATE.c.key == key).values(value=int(value))
        ).rowcount
        if not done:
            conn.execute(POSITION_STATE.insert().values(key=key, value=int(value)))


def current_quantities(
    conn: Connection, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    """The stored quantity of each (book, instrument) that has a position."""
    wanted = list(dict.fromkeys(keys))
    pair = sa.tuple_(POSITIONS.c.book_id, POSITIONS.c.instrument_id)
    out: dict[tuple[int, int], float] = {}
    for k in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            sa.select(POSITIONS.c.book_id, POSITIONS.c.instrument_id, POSITIONS.c.quantity).where(
                pair.in_(wanted[k : k + _CHUNK])
            )
        ).all()
        out.update({(int(b), int(i)): float(q) for b, i, q in rows})
    return out


def apply_edits(
    conn: Connection,
    edits: Sequence[PositionEdit],
    *,
    ts_ns: int,
    actor: str,
    role: str,
    action: str,
    reason: str,
) -> list[dict[str, Any]]:
    """Write ``edits`` in order inside the caller's transaction, each with its audit entry.

    Returns
    -------
    list of dict
        Per edit ``{"book_id", "instrument_id", "before", "after"}`` (quantities; ``None``:
        no position).

    Raises
    ------
    InputError
        An edit's quantity is not finite, or its mode is neither ``set`` nor ``add``.
    """
    held: dict[tuple[int, int], float | None] = dict(
        current_quantities(conn, ((e.book_id, e.instrument_id) for e in edits))
    )
    out: list[dict[str, Any]] = []
    for k, e in enumerate(edits):
        if e.mode not in ("set", "add"):
            raise InputError(f"changes[{k}].mode", e.mode, "set or add")
        q = float(e.quantity)
        if q != q or q in (float("inf"), float("-inf")):
            raise InputError(f"changes[{k}].quantity", q, "a finite quantity")
        key = (int(e.book_id), int(e.instrument_id))
        before = held.get(key)
        after = q if e.mode == "set" else (before or 0.0) + q
        held[key] = None if after == 0 else after
        out.append(
            {"book_id": key[0], "instrument_id": key[1], "before": before, "after": held[key]}
        )
    final = {(c["book_id"], c["instrument_id"]): c["after"] for c in out}
    gone = [{"b": b, "i": i} for (b, i), q in final.items() if q is None]
    if gone:
        conn.execute(
            POSITIONS.delete().where(
                (POSITIONS.c.book_id == sa.bindparam("b"))
                & (POSITIONS.c.instrument_id == sa.bindparam("i"))
            ),
            gone,
        )
    kept = [(b, i, q) for (b, i), q in final.items() if q is not None]
    if kept:
        frame = pl.DataFrame(kept, schema=POSITION_SCHEMA, orient="row")
        _upsert_in(conn, POSITIONS, frame, POSITION_SCHEMA, ("book_id", "instrument_id"))
    append_audit_many(
        conn,
        ts_ns=ts_ns,
        actor=actor,
        role=role,
        action=action,
        changes=[
            (
                f"position:{c['book_id']}/{c['instrument_id']}",
                {"quantity": c["before"]},
                {"quantity": c["after"]},
            )
            for c in out
        ],
        reason=reason,
    )
    return out


def load_positions_audited(
    db: RefDB,
    positions: pl.DataFrame,
    *,
    replace: bool = False,
    new_books: pl.DataFrame | None = None,
    actor: str,
    role: str = "admin",
    reason: str,
    ts_ns: int,
) -> tuple[int, int]:
    """Write a positions file (validated rows, :data:`POSITION_SCHEMA`) as one audited
    change: the books it creates, each position set (action ``position.load``), with
    ``replace`` every other position closed, and a new version — one transaction.

    Returns
    -------
    (int, int)
        Positions written, and the positions version now.
    """
    frame = _checked(positions, POSITION_SCHEMA, ("book_id", "instrument_id"))
    edits = [PositionEdit(b, i, q) for b, i, q in frame.iter_rows()]
    with db.transaction() as conn:
        if new_books is not None and new_books.height:
            _upsert_in(
                conn,
                BOOKS,
                _checked(new_books, BOOK_SCHEMA, ("book_id",)),
                BOOK_SCHEMA,
                ("book_id",),
            )
        if replace:
            listed = {(e.book_id, e.instrument_id) for e in edits}
            stored = conn.execute(sa.select(POSITIONS.c.book_id, POSITIONS.c.instrument_id)).all()
            edits += [PositionEdit(b, i, 0.0) for b, i in stored if (b, i) not in listed]
        apply_edits(
            conn,
            edits,
            ts_ns=ts_ns,
            actor=actor,
            role=role,
            action="position.load",
            reason=reason,
        )
        version = bump_positions_version(conn)
    return frame.height, version
