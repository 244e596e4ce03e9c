"""The position keeper: the one writer of positions. Requests and fills are persisted with
their audit entries and a new version in one transaction, each id applied once (across
restarts), and every version published as a full snapshot; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.bus.topics import MemoryTopics
from riskstream.core.clock import ManualClock
from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.instruments import Universe
from riskstream.core.messages import SUBJECTS, Fill, PositionsChanged
from riskstream.positions import PositionKeeper, PositionRequester
from riskstream.store.audit import read_audit
from riskstream.store.loaders import load_positions
from riskstream.store.refdb import RefDB

T0 = 1_700_000_000_000_000_000


def _held(snapshot: PositionsChanged) -> dict[tuple[int, int], float]:
    return {
        (int(b), int(i)): float(q)
        for b, i, q in zip(snapshot.book_id, snapshot.instrument_id, snapshot.quantity, strict=True)
    }


def _stored(db: RefDB) -> dict[tuple[int, int], float]:
    p = db.positions()
    return {(b, i): q for b, i, q in p.iter_rows()}


def _fill(order_id: str, book: int, inst: int, qty: float) -> Fill:
    return Fill(order_id, book, inst, qty, 101.5, T0, reason="firm:firm/var at 120%")


def test_requests_and_fills_are_persisted_audited_and_published(
    db: RefDB, universe: Universe
) -> None:
    topics = MemoryTopics()
    seen = topics.subscribe(SUBJECTS["positions"], start_after=0)
    keeper = PositionKeeper(db, topics, clock=ManualClock(T0))
    ((_, first),) = seen.fetch()
    assert first.version == keeper.version == 1 and first.cause == "load"  # save_universe: v1
    assert _held(first) == _stored(db)
    b, i, q = universe.positions.row(0)
    requester = PositionRequester(topics, timeout_s=2.0, keeper=keeper)
    # An API change during a reduction: the reduction's fill and the API's set both count.
    topics.publish(SUBJECTS["fills"], _fill("red-1", b, i, -0.25 * q), msg_id="red-1")
    answer = requester.request([(0, 3, 40.0)], actor="meg", role="risk_manager", reason="hedge")
    assert answer.ok and answer.version == 2 and not answer.duplicate
    assert answer.changes[0]["after"] == 40.0
    ((_, v2),) = seen.fetch()  # one commit, one version: the fill and the request together
    assert v2.version == 2 and v2.cause == "request+fill" and v2.fills_seq == 1
    assert set(v2.applied) == {"fill:red-1", f"request:{answer.request_id}"}
    assert _held(v2)[(b, i)] == pytest.approx(0.75 * q) and _held(v2)[(0, 3)] == 40.0
    assert _held(v2) == _stored(db)  # what is published is what is stored
    fills = read_audit(db, action="position.fill")
    assert [(a.actor, a.role, a.target) for a in fills] == [
        ("system:limits", "system", f"position:{b}/{i}")
    ]
    assert fills[0].before == {"quantity": q} and fills[0].after == {"quantity": 0.75 * q}
    assert "red-1" in fills[0].reason and "firm:firm/var" in fills[0].reason
    sets = read_audit(db, action="position.set")
    assert [(a.actor, a.target, a.after) for a in sets] == [
        ("meg", "position:0/3", {"quantity": 40.0})
    ]
    # The same order delivered again (a redelivery, a standby re-sending it) changes nothing.
    topics.publish(SUBJECTS["fills"], _fill("red-1", b, i, -0.25 * q))  # no msg id: stored
    keeper.poll()
    assert keeper.version == 2 and keeper.duplicates == 1 and seen.fetch() == []
    # A fill that closes the position deletes its row.
    topics.publish(SUBJECTS["fills"], _fill("red-2", b, i, -0.75 * q))
    keeper.poll()
    assert (b, i) not in _stored(db) and (b, i) not in _held(keeper.latest)
    assert keeper.latest.version == 3 and keeper.latest.fills_seq == 3


def test_a_bad_request_changes_nothing_and_names_the_field(db: RefDB) -> None:
    topics = MemoryTopics()
    keeper = PositionKeeper(db, topics)
    requester = PositionRequester(topics, timeout_s=2.0, keeper=keeper)
    before = _stored(db)
    answer = requester.request(
        [(0, 0, 5.0), (99, 0, 1.0)], actor="meg", role="risk_manager", reason="x"
    )
    assert not answer.ok and answer.field == "changes[1].book_id" and "99" in answer.error
    answer = requester.request([(0, 10_000, 5.0)], actor="meg", role="risk_manager", reason="x")
    assert not answer.ok and answer.field == "changes[0].instrument_id"
    assert _stored(db) == before and keeper.version == 1
    assert read_audit(db, action="position.set") == []


def test_a_restart_resumes_from_the_persisted_positions_and_version(db: RefDB) -> None:
    topics = MemoryTopics()
    keeper = PositionKeeper(db, topics)
    requester = PositionRequester(topics, timeout_s=2.0, keeper=keeper)
    first = requester.request(
        [(1, 2, 7.0)], actor="meg", role="risk_manager", reason="a", request_id="req-1"
    )
    topics.publish(SUBJECTS["fills"], _fill("red-9", 1, 2, -2.0))
    keeper.poll()
    assert keeper.version == 3 and _held(keeper.latest)[(1, 2)] == 5.0
    keeper.close()

    # The same bus (NATS keeps its streams): the new keeper resumes after what was
    # committed and re-applies nothing, even when the bus delivers an id again.
    again = PositionKeeper(db, topics)
    assert again.version == 3 and _held(again.latest) == _held(keeper.latest)
    assert again.fills_seq == 1 and again.requests_seq == 1
    topics.publish(SUBJECTS["fills"], _fill("red-9", 1, 2, -2.0))
    retried = PositionRequester(topics, timeout_s=2.0, keeper=again).request(
        [(1, 2, 7.0)], actor="meg", role="risk_manager", reason="a", request_id="req-1x"
    )
    assert retried.ok and retried.version == 4  # a new id is a new request
    again.close()

    # A new process on a new in-memory bus: it starts from the stored state and the
    # journal recognises the old ids, wherever they come from.
    fresh_bus = MemoryTopics()
    third = PositionKeeper(db, fresh_bus)
    assert third.version == 4 and third.fills_seq == 0
    fresh_bus.publish(SUBJECTS["fills"], _fill("red-9", 1, 2, -2.0))
    replay = PositionRequester(fresh_bus, timeout_s=2.0, keeper=third).request(
        [(1, 2, 999.0)], actor="meg", role="risk_manager", reason="a", request_id="req-1"
    )
    assert replay.duplicate and replay.ok and replay.version == 2
    assert replay.changes == first.changes  # the first answer again, nothing applied
    assert third.version == 4 and _held(third.latest)[(1, 2)] == 7.0
    assert third.duplicates == 2


def test_a_file_load_goes_through_the_same_audit_and_the_keeper_publishes_it(
    db: RefDB, tmp_path
) -> None:
    topics = MemoryTopics()
    keeper = PositionKeeper(db, topics, db_poll_s=0.0)
    seen = topics.subscribe(SUBJECTS["positions"])
    symbols = db.instruments()["symbol"].to_list()
    book = db.books()["name"][0]
    f = tmp_path / "positions.csv"
    f.write_text(f"book,symbol,quantity\n{book},{symbols[0]},11\n{book},{symbols[1]},-3\n")
    assert load_positions(f, db, actor="ops") == 2
    loads = read_audit(db, action="position.load")
    assert {a.target for a in loads} == {"position:0/0", "position:0/1"}
    assert all(a.actor == "ops" and "positions.csv" in a.reason for a in loads)
    keeper.poll()  # another writer's change: the keeper publishes it
    ((_, v2),) = seen.fetch()
    assert v2.version == 2 and v2.cause == "load" and _held(v2) == _stored(db)
    # and builds on it: its next change is version 3, over the loaded positions
    topics.publish(SUBJECTS["fills"], _fill("red-1", 0, 0, -1.0))
    keeper.poll()
    assert keeper.version == 3 and _stored(db)[(0, 0)] == 10.0


def test_the_requester_times_out_when_no_keeper_answers() -> None:
    requester = PositionRequester(MemoryTopics(), timeout_s=0.1)
    with pytest.raises(ServiceUnavailableError, match="did not answer"):
        requester.request([(0, 0, 1.0)], actor="meg", role="risk_manager", reason="x")


def test_snapshots_are_sorted_full_and_read_only(db: RefDB) -> None:
    keeper = PositionKeeper(db, MemoryTopics())
    s = keeper.latest
    keys = list(zip(s.book_id.tolist(), s.instrument_id.tolist(), strict=True))
    assert keys == sorted(keys) and len(keys) == db.positions().height
    assert not s.quantity.flags.writeable and set(s.books) >= {"book_id", "desk", "trader"}
    assert np.array_equal(np.sort(s.books["book_id"]), s.books["book_id"])


def test_positions_messages_round_trip_over_the_wire() -> None:
    from riskstream.core import wire
    from riskstream.core.messages import PositionChangeRequest, PositionChangeResult

    request = PositionChangeRequest("r1", 0, 1, 2.0, "meg", "set", "x", 5, ((0, 2, -1.5),), "admin")
    result = PositionChangeResult(
        "r1", True, 7, ({"book_id": 0, "instrument_id": 1, "before": None, "after": 2.0},)
    )
    for message in (request, result, _fill("o-1", 0, 1, -1.0)):
        assert wire.decode(wire.encode(message)) == message
    snap = PositionsChanged(
        3,
        9,
        np.array([0]),
        np.array([1]),
        np.array([2.0]),
        {"book_id": np.array([0])},
        "fill",
        4,
        ("fill:o-1",),
    )
    back = wire.decode(wire.encode(snap))
    assert (back.version, back.fills_seq, back.applied) == (3, 4, ("fill:o-1",))


@pytest.mark.services
def test_the_keeper_in_another_process_over_nats_answers_and_resumes(
    nats_server, tmp_path, universe: Universe
) -> None:
    # The keeper and its clients on separate NATS connections (as separate processes are):
    # request/reply works, and a keeper restarted on the same streams resumes after what it
    # committed, applying a fill published while it was down exactly once.
    import threading

    from riskstream.bus import BusConfig, open_topics

    db = RefDB(f"sqlite:///{tmp_path / 'ref.db'}")
    db.migrate()
    db.save_universe(universe)
    config = BusConfig(url=nats_server.url)
    client_bus = open_topics(config)

    def start() -> tuple[PositionKeeper, threading.Event, threading.Thread, object]:
        bus = open_topics(config)
        keeper = PositionKeeper(db, bus)
        stop = threading.Event()
        thread = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
        thread.start()
        return keeper, stop, thread, bus

    keeper, stop, thread, bus = start()
    try:
        answer = PositionRequester(client_bus, timeout_s=10.0).request(
            [(0, 1, 12.0)], actor="meg", role="risk_manager", reason="nats"
        )
        assert answer.ok and answer.version == 2
    finally:
        stop.set()
        thread.join(10)
        keeper.close()
        bus.close()
    client_bus.publish(SUBJECTS["fills"], _fill("o-down", 0, 1, -2.0), msg_id="o-down")
    keeper, stop, thread, bus = start()
    try:
        assert keeper.fills_seq == 0 and keeper.requests_seq == 1  # resumed where it was
        readers = client_bus.subscribe(SUBJECTS["positions"], start_after=0)
        deadline = __import__("time").monotonic() + 10
        latest = None
        while latest is None or latest[1].version < 3:
            assert __import__("time").monotonic() < deadline, latest
            latest = readers.latest(0.5) or latest
        assert _held(latest[1])[(0, 1)] == 10.0 and _stored(db)[(0, 1)] == 10.0
        # the order re-sent (a standby) is stored once by the bus and applied once
        assert (
            client_bus.publish(SUBJECTS["fills"], _fill("o-down", 0, 1, -2.0), msg_id="o-down") == 0
        )
    finally:
        stop.set()
        thread.join(10)
        keeper.close()
        bus.close()
        client_bus.close()
        db.close()
    assert len(read_audit(db, action="position.fill")) == 1
