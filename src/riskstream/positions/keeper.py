"""The position keeper: the one writer of positions, persisted, audited, versioned.

Positions used to live in four places (the risk engine, the limits controller, the limits
stage and the reference DB written by an API route), and they drifted: an API change
reloaded the database into the engine and silently undid the automatic reductions, which
had never been written anywhere. Now one component owns them (the *single writer*
principle; nautilus_trader's Portfolio/Cache plays this part for its risk engine):

* it takes :class:`~riskstream.core.messages.PositionChangeRequest` (the API, files) and
  :class:`~riskstream.core.messages.Fill` (the limits stage's executed reduction orders)
  from their subjects;
* it writes each change with its audit entry, the new version and its journal entry in one
  transaction of the reference DB (:mod:`riskstream.store.positions`): reductions are
  audited as the system's actions (actor ``system:limits``, action ``position.fill``);
* it applies each request id and order id once, across restarts (the journal), so a
  retried request, a redelivered fill or a standby's re-sent order never doubles;
* it publishes each new state as a full, versioned
  :class:`~riskstream.core.messages.PositionsChanged` and answers each request with a
  :class:`~riskstream.core.messages.PositionChangeResult` (request/reply over topics, so
  the API works the same when the keeper runs in another process).

Everyone else (engine, limits, service) reads its snapshots. A restart resumes from the
persisted positions and version. Within one drain, fills are applied before requests (a
fill is a trade already done; a request is what a user wants from here on), and the whole
drain is one transaction and one version.

The keeper is a pipeline stage by shape (:meth:`on_batch` drains its subscriptions) and a
loop body for a thread or process of its own (:meth:`poll`, :meth:`run`). ``positions``
imports only ``core`` and ``store``: the topics are duck-typed
(:class:`riskstream.bus.topics.Topics`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import RiskstreamError, ServiceUnavailableError
from riskstream.core.messages import (
    SUBJECTS,
    Fill,
    PositionChangeRequest,
    PositionChangeResult,
    PositionsChanged,
)
from riskstream.store.positions import (
    PositionEdit,
    apply_edits,
    journal,
    journaled,
    read_stored,
    set_counters,
)
from riskstream.store.refdb import (
    INSTRUMENTS,
    RefDB,
    bump_positions_version,
    stored_positions_version,
)

log = logging.getLogger("riskstream.positions")

FILLS_SEQ = "fills_seq"
REQUESTS_SEQ = "requests_seq"
"""``position_state`` keys: the last sequence number consumed on each subject."""


class PositionKeeper:
    """Owns the positions: applies requests and fills, persists, audits, publishes.

    Parameters
    ----------
    db : RefDB
        The migrated reference DB holding the universe; the positions, their version and
        the journal live there.
    topics : Topics
        Where requests and fills arrive and snapshots and answers go
        (:class:`riskstream.bus.topics.MemoryTopics`, or NATS).
    clock : Clock, optional
        Time of the changes (audit entries, snapshots); default the system clock.
    db_poll_s : float
        How often (wall clock) :meth:`poll` checks the stored version for a change made by
        another writer (``riskstream positions load`` while the keeper runs); that change
        is published as a new snapshot.
    max_batch : int
        Messages taken from each subject per drain.
    max_abs_quantity : float
        Largest absolute quantity a request may set.

    Notes
    -----
    Where it resumes reading: after the last sequence number it committed on each subject,
    unless the bus holds fewer messages than that (a new in-memory bus, whose numbering
    restarts): then from its start. Either way the journal recognises what was applied.
    """

    name = "positions"

    def __init__(
        self,
        db: RefDB,
        topics: Any,
        *,
        clock: Clock | None = None,
        db_poll_s: float = 1.0,
        max_batch: int = 1024,
        max_abs_quantity: float = 1e10,
        wall_clock: Callable[[], float] = time.monotonic,
    ):
        self.db = db
        self.topics = topics
        self.clock = clock or SystemClock()
        self.db_poll_s = db_poll_s
        self.max_batch = max_batch
        self.max_abs_quantity = max_abs_quantity
        self.wall_clock = wall_clock
        self._lock = threading.RLock()
        self.applied_fills = self.applied_requests = 0
        self.duplicates = self.rejected = self.commit_errors = 0
        self._retry_fills: list[tuple[int, Fill]] = []
        self._retry_requests: list[tuple[int, PositionChangeRequest]] = []
        with db.transaction() as conn:
            self._reload(conn)
        counters = self._counters
        self.fills_seq = self._resume(counters.get(FILLS_SEQ, 0), SUBJECTS["fills"])
        self.requests_seq = self._resume(
            counters.get(REQUESTS_SEQ, 0), SUBJECTS["position_requests"]
        )
        self._fills = topics.subscribe(SUBJECTS["fills"], start_after=self.fills_seq)
        self._requests = topics.subscribe(
            SUBJECTS["position_requests"], start_after=self.requests_seq
        )
        self._last_db_check = wall_clock()
        self.latest = self._snapshot("load", ())
        self._publish(self.latest)

    # ------------------------------------------------------------------ state

    def _resume(self, stored: int, subject: str) -> int:
        return stored if stored <= self.topics.last_seq(subject) else 0

    def _reload(self, conn: sa.Connection) -> None:
        """Take the stored positions, books and version as the keeper's state."""
        stored = read_stored(conn)
        self.version = stored.version
        self._counters = stored.counters
        self._books = stored.books
        self._book_ids = set(stored.books["book_id"].to_list())
        self._n_instruments = int(
            conn.execute(sa.select(sa.func.count()).select_from(INSTRUMENTS)).scalar() or 0
        )
        p = stored.positions
        self._held: dict[tuple[int, int], float] = dict(
            zip(
                zip(p["book_id"].to_list(), p["instrument_id"].to_list(), strict=True),
                p["quantity"].to_list(),
                strict=True,
            )
        )

    def _snapshot(self, cause: str, applied: tuple[str, ...]) -> PositionsChanged:
        keys = sorted(self._held)
        books = self._books
        return PositionsChanged(
            version=self.version,
            ts_ns=int(self.clock.now_ns()),
            book_id=np.array([k[0] for k in keys], dtype=np.int64),
            instrument_id=np.array([k[1] for k in keys], dtype=np.int64),
            quantity=np.array([self._held[k] for k in keys], dtype=np.float64),
            # plain numpy columns (text as fixed-width unicode): the wire carries no objects
            books={
                c: np.array(books[c].to_list(), dtype=str)
                if books.schema[c] == pl.String
                else books[c].to_numpy()
                for c in books.columns
            },
            cause=cause,
            fills_seq=self.fills_seq,
            applied=applied,
        )

    def _publish(self, snapshot: PositionsChanged) -> None:
        # the message id is the version: a restarted keeper (or a standby) re-publishing a
        # version the bus holds already is recognised and not stored twice
        self.topics.publish(SUBJECTS["positions"], snapshot, msg_id=f"positions:{snapshot.version}")

    def positions(self) -> pl.DataFrame:
        """The positions now (book, instrument, quantity), by book then instrument."""
        s = self.latest
        return pl.DataFrame(
            {"book_id": s.book_id, "instrument_id": s.instrument_id, "quantity": s.quantity}
        )

    # ------------------------------------------------------------------ the loop

    def poll(self, timeout_s: float = 0.0) -> int:
        """Drain both subscriptions (waiting up to ``timeout_s`` for a first message),
        commit what came in one transaction and publish; returns the messages handled.
        Thread-safe (the API may drive an in-process keeper from its own threads)."""
        with self._lock:
            deadline = self.wall_clock() + timeout_s
            fills, requests = self._retry_fills, self._retry_requests
            self._retry_fills, self._retry_requests = [], []
            try:
                while True:
                    fills = fills + self._fills.fetch(self.max_batch, 0.0)
                    requests = requests + self._requests.fetch(self.max_batch, 0.0)
                    left = deadline - self.wall_clock()
                    if fills or requests or left <= 0:
                        break
                    # wait on requests (a user waits for the answer); fills are re-checked
                    # at least every 10 ms
                    requests = self._requests.fetch(self.max_batch, min(left, 0.01))
                    if requests:
                        fills = self._fills.fetch(self.max_batch, 0.0)
                        break
            except ServiceUnavailableError:
                # the bus went away mid-read: what was read is handled at the next poll
                self._retry_fills, self._retry_requests = fills, requests
                raise
            if fills or requests:
                try:
                    self._commit(fills, requests)
                except RiskstreamError:  # the DB is down: keep them, try again next poll
                    self.commit_errors += 1
                    self._retry_fills, self._retry_requests = fills, requests
                    log.exception(
                        "committing %d fills and %d requests failed", len(fills), len(requests)
                    )
                    return 0
            elif self.wall_clock() - self._last_db_check >= self.db_poll_s:
                self._check_external()
            return len(fills) + len(requests)

    def run(self, stop: threading.Event, timeout_s: float = 0.05) -> None:
        """Poll until ``stop`` is set (the body of the keeper's own thread or process)."""
        while not stop.is_set():
            self.poll(timeout_s)

    def _check_external(self) -> None:
        """Publish a change another writer made (a file load) since our last version."""
        self._last_db_check = self.wall_clock()
        try:
            with self.db.transaction() as conn:
                if stored_positions_version(conn) == self.version:
                    return
                self._reload(conn)
        except RiskstreamError:
            self.commit_errors += 1
            log.exception("reading the positions version failed")
            return
        self.latest = self._snapshot("load", ())
        self._publish(self.latest)

    def _check(
        self, k: int, book_id: int, instrument_id: int, quantity: float
    ) -> tuple[str, str] | None:
        """``(field, message)`` of a change that is wrong, or None."""
        where = f"changes[{k}]"
        if book_id not in self._book_ids:
            field, value, expected = "book_id", book_id, "the id of an existing book"
        elif not 0 <= instrument_id < self._n_instruments:
            field, value = "instrument_id", instrument_id
            expected = f"an instrument in the reference data (0 to {self._n_instruments - 1})"
        elif not np.isfinite(quantity) or abs(quantity) > self.max_abs_quantity:
            field, value = "quantity", quantity
            expected = f"a finite quantity, at most {self.max_abs_quantity:g} in absolute value"
        else:
            return None
        name = f"{where}.{field}"
        return name, f"field '{name}' has value {value}; expected {expected}"

    def _commit(
        self,
        fills: list[tuple[int, Fill]],
        requests: list[tuple[int, PositionChangeRequest]],
    ) -> None:
        ts = int(self.clock.now_ns())
        answers: list[PositionChangeResult] = []
        applied: list[str] = []
        causes: set[str] = set()
        with self.db.transaction() as conn:
            if stored_positions_version(conn, lock=True) != self.version:
                self._reload(conn)  # another writer (a file load) went first: build on it
            ids = [f"fill:{f.order_id}" for _, f in fills]
            ids += [f"request:{r.request_id}" for _, r in requests]
            done = journaled(conn, ids)
            version = self.version + 1
            entries: list[tuple[str, str, dict[str, Any]]] = []
            changed: list[dict[str, Any]] = []
            for _, f in fills:
                cid = f"fill:{f.order_id}"
                if cid in done or cid in applied:
                    self.duplicates += 1
                    continue
                bad = self._check(0, int(f.book_id), int(f.instrument_id), float(f.quantity))
                if bad is not None:  # a fill into no book: refused, loudly
                    self.rejected += 1
                    log.error("fill %s refused: %s", f.order_id, bad[1])
                    continue
                why = f"order {f.order_id} filled at {f.price:g}" + (
                    f": {f.reason}" if f.reason else ""
                )
                out = apply_edits(
                    conn,
                    [PositionEdit(f.book_id, f.instrument_id, f.quantity, "add")],
                    ts_ns=ts,
                    actor=f.actor,
                    role="system",
                    action="position.fill",
                    reason=why,
                )
                entries.append((cid, "fill", {"ok": True, "changes": out}))
                changed += out
                applied.append(cid)
                causes.add("fill")
                self.applied_fills += 1
            for _, r in requests:
                cid = f"request:{r.request_id}"
                if cid in done or cid in applied:
                    self.duplicates += 1
                    first = done.get(cid) or next(e[2] for e in entries if e[0] == cid)
                    answers.append(
                        PositionChangeResult(
                            r.request_id,
                            True,
                            int(first.get("version", version)),
                            tuple(first["changes"]),
                            duplicate=True,
                        )
                    )
                    continue
                triples = r.changes()
                bad = next(
                    (e for k, t in enumerate(triples) if (e := self._check(k, *t)) is not None),
                    None,
                )
                if bad is None and r.mode not in ("set", "add"):
                    bad = ("mode", f"field 'mode' has value {r.mode!r}; expected set or add")
                if bad is not None:  # all or nothing: one bad change refuses the request
                    self.rejected += 1
                    field, message = bad
                    answers.append(
                        PositionChangeResult(r.request_id, False, error=message, field=field)
                    )
                    continue
                out = apply_edits(
                    conn,
                    [PositionEdit(b, i, q, r.mode) for b, i, q in triples],
                    ts_ns=r.ts_ns or ts,
                    actor=r.actor,
                    role=r.role,
                    action=f"position.{r.mode}",
                    reason=r.reason,
                )
                entries.append((cid, "request", {"ok": True, "changes": out}))
                answers.append(PositionChangeResult(r.request_id, True, version, tuple(out)))
                changed += out
                applied.append(cid)
                causes.add("request")
                self.applied_requests += 1
            if applied:
                bumped = bump_positions_version(conn)
                assert bumped == version, (bumped, version)
                journal(conn, entries, version, ts)
            fills_seq = fills[-1][0] if fills else self.fills_seq
            requests_seq = requests[-1][0] if requests else self.requests_seq
            set_counters(conn, {FILLS_SEQ: fills_seq, REQUESTS_SEQ: requests_seq})
        # committed: now the keeper's state, its snapshot, then the answers (a requester
        # that has its answer finds the new version already published)
        self.fills_seq, self.requests_seq = fills_seq, requests_seq
        if applied:
            for c in changed:
                key = (c["book_id"], c["instrument_id"])
                if c["after"] is None:
                    self._held.pop(key, None)
                else:
                    self._held[key] = c["after"]
            self.version = version
            self.latest = self._snapshot("+".join(sorted(causes, reverse=True)), tuple(applied))
            self._publish(self.latest)
        for answer in answers:
            self.topics.publish(SUBJECTS["position_results"], answer)

    # ------------------------------------------------------------------ a stage

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        """Drain what arrived (the pipeline's thread, once per batch)."""
        self.poll(0.0)

    def summary(self) -> dict[str, Any]:
        return {
            "positions_version": self.version,
            "positions_held": len(self._held),
            "position_fills_applied": self.applied_fills,
            "position_requests_applied": self.applied_requests,
            "position_duplicates": self.duplicates,
            "position_changes_refused": self.rejected,
        }

    def view(self) -> list[tuple[str, str]]:
        return [
            (
                "positions",
                f"v{self.version}: {len(self._held):,} held; {self.applied_fills:,} fills, "
                f"{self.applied_requests:,} requests applied",
            )
        ]

    def close(self) -> None:
        self._fills.close()
        self._requests.close()
