"""Sequencing (gaps, duplicates, out-of-order, recovery) and validation/quarantine."""

from __future__ import annotations

import numpy as np

from riskstream.core.events import EVENT_DTYPE, EventFlag
from riskstream.md import Reason
from tests.md.helpers import ADD, CANCEL, CLEAR, QUOTE, SNAPSHOT, T0, TRADE, engine, make_events


def test_gap_marks_stale_and_snapshot_recovers():
    eng = engine()
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=10.0, size=1, oid=1, seq=1),
                dict(kind=ADD, side=1, price=10.0, size=1, oid=2, seq=2),
                dict(kind=ADD, side=-1, price=11.0, size=1, oid=3, seq=5),  # 3, 4 lost
                dict(kind=ADD, side=-1, price=11.5, size=1, oid=4, seq=6),
            ]
        )
    )
    assert r.accepted == 4  # a gap does not reject the event after it
    assert eng.market_state.stale[0]
    assert eng.sequence_counts()["gaps"] == 1
    # the late arrivals of the gap and a replayed seq
    r = eng.process(
        make_events(
            [
                dict(kind=CANCEL, oid=9, seq=3),
                dict(kind=CANCEL, oid=9, seq=4),
                dict(kind=CANCEL, oid=9, seq=2),
                dict(kind=CANCEL, oid=9, seq=6),
            ]
        )
    )
    assert [Reason(c) for c in r.reason] == [
        Reason.OUT_OF_ORDER,
        Reason.OUT_OF_ORDER,
        Reason.DUPLICATE,
        Reason.DUPLICATE,
    ]
    assert eng.market_state.stale[0]
    snap = int(EventFlag.SNAPSHOT)
    end = snap | int(EventFlag.LAST_IN_GROUP)
    r = eng.process(
        make_events(
            [
                dict(kind=CLEAR, seq=9, flags=snap),
                dict(kind=SNAPSHOT, side=1, price=10.0, size=2, oid=1, seq=9, flags=snap),
                dict(kind=SNAPSHOT, side=-1, price=11.0, size=1, oid=3, seq=9, flags=end),
                dict(kind=TRADE, side=1, size=1, oid=1, seq=10),
            ]
        )
    )
    assert r.accepted == 4
    assert not eng.market_state.stale[0]
    assert eng.sequence_counts() == {"gaps": 1, "duplicates": 2, "out_of_order": 2,
                                     "recoveries": 1}  # fmt: skip
    assert eng.live_orders() == 2
    # a stale snapshot (older than what was applied, book not stale) is a duplicate
    r = eng.process(make_events([dict(kind=CLEAR, seq=8, flags=snap)]))
    assert r.reason[0] == Reason.DUPLICATE


def test_replay_recovers_a_stale_book():
    eng = engine()
    first = [
        dict(kind=ADD, side=1, price=10.0, size=1, oid=1, seq=1),
        dict(kind=ADD, side=1, price=10.0, size=2, oid=2, seq=3),
    ]
    eng.process(make_events(first))
    assert eng.market_state.stale[0]
    # the history store republishes the instrument from its start: clear, then seq 1, 2, 3
    replay = int(EventFlag.REPLAY)
    r = eng.process(
        make_events(
            [
                dict(kind=CLEAR, seq=1, flags=replay),
                dict(kind=ADD, side=1, price=10.0, size=1, oid=1, seq=2, flags=replay),
                dict(kind=ADD, side=-1, price=11.0, size=5, oid=3, seq=3, flags=replay),
                dict(kind=ADD, side=1, price=10.0, size=2, oid=2, seq=4,
                     flags=replay | int(EventFlag.LAST_IN_GROUP)),
                dict(kind=CANCEL, oid=3, seq=5),  # live again, in sequence
            ]
        )
    )  # fmt: skip
    assert r.accepted == 5 and not eng.market_state.stale[0]
    assert eng.levels(0)["bid_sz"].tolist() == [3.0] and eng.live_orders() == 2


def test_sources_are_sequenced_separately():
    eng = engine()
    r = eng.process(
        make_events(
            [
                dict(kind=QUOTE, side=1, price=1.0, size=1, seq=1, src=0),
                dict(kind=QUOTE, side=1, price=1.0, size=1, seq=1, src=1),
                dict(kind=QUOTE, side=1, price=1.0, size=1, seq=2, src=1),
                dict(kind=QUOTE, side=1, price=1.0, size=1, seq=2, src=0),
            ]
        )
    )
    assert r.accepted == 4 and not eng.market_state.stale.any()


def test_plain_clear_with_last_in_group_recovers():
    eng = engine()
    eng.process(make_events([dict(kind=QUOTE, side=1, price=1.0, size=1, seq=1),
                             dict(kind=QUOTE, side=1, price=1.0, size=1, seq=3)]))  # fmt: skip
    assert eng.market_state.stale[0]
    eng.process(make_events([dict(kind=CLEAR, seq=4, flags=int(EventFlag.LAST_IN_GROUP))]))
    assert not eng.market_state.stale[0]


def test_every_validation_rule_quarantines_with_its_reason():
    eng = engine(n=2, sources_per_instrument=1, ts_floor_ns=T0 - 10**9, max_ahead_ns=10**9)
    rows = [
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1, inst=5), Reason.UNKNOWN_INSTRUMENT),
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1, seq=0), Reason.SEQ_ZERO),
        (dict(kind=42, side=1, price=10.0, size=1, oid=1), Reason.UNKNOWN_KIND),
        (dict(kind=ADD, side=0, price=10.0, size=1, oid=1), Reason.BAD_SIDE),
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1, ts=T0 - 2 * 10**9),
         Reason.TS_BEFORE_FLOOR),
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1, ts=T0 + 5 * 10**9, ts_recv=T0),
         Reason.TS_AHEAD),
        (dict(kind=ADD, side=1, price=10.0, size=np.nan, oid=1), Reason.SIZE_NOT_FINITE),
        (dict(kind=ADD, side=1, price=10.0, size=np.inf, oid=1), Reason.SIZE_NOT_FINITE),
        (dict(kind=ADD, side=1, price=10.0, size=0.0, oid=1), Reason.SIZE_NOT_POSITIVE),
        (dict(kind=TRADE, side=1, price=10.0, size=-1.0, oid=0), Reason.SIZE_NOT_POSITIVE),
        (dict(kind=ADD, side=1, price=0.0, size=1, oid=1), Reason.PRICE_NOT_POSITIVE),
        (dict(kind=ADD, side=1, price=-1.0, size=1, oid=1), Reason.PRICE_NOT_POSITIVE),
        (dict(kind=QUOTE, side=-1, price=0.0, size=5), Reason.PRICE_NOT_POSITIVE),
        (dict(kind=CANCEL, size=-1.0, oid=1), Reason.SIZE_NOT_POSITIVE),
        (dict(kind=TRADE, side=1, size=1, oid=77), Reason.ACCEPTED),  # unknown order: no-op
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1), Reason.ACCEPTED),
        (dict(kind=ADD, side=1, price=10.0, size=1, oid=1, src=7), Reason.TOO_MANY_SOURCES),
    ]  # fmt: skip
    events = make_events([r for r, _ in rows])
    result = eng.process(events)
    assert [Reason(c) for c in result.reason] == [want for _, want in rows]
    q = eng.drain_quarantine()
    assert len(q) == len(rows) - 2 and eng.quarantined == len(rows) - 2  # all but two
    assert result.accepted + len(q) == len(events)
    for name in EVENT_DTYPE.names:  # field by field: NaN == NaN here, padding ignored
        np.testing.assert_array_equal(q.events[name], events[result.reason != 0][name])
    table = q.to_arrow()
    assert table.column("reason_text")[0].as_py() == "instrument_id is not in the universe"
    assert set(table.column_names) >= set(EVENT_DTYPE.names) | {"reason", "reason_text"}
    assert eng.quarantine_by_reason()["SIZE_NOT_FINITE"] == 2
    assert len(eng.drain_quarantine()) == 0


def test_negative_prices_allowed_where_flagged():
    eng = engine(n=2)
    eng = type(eng)(2, eng.config, allow_negative_price=np.array([False, True]))
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=-37.63, size=1, oid=1, inst=1),  # WTI, 20 Apr 2020
                dict(kind=ADD, side=1, price=-37.63, size=1, oid=1, inst=0),
            ]
        )
    )
    assert [Reason(c) for c in r.reason] == [Reason.ACCEPTED, Reason.PRICE_NOT_POSITIVE]


def test_crossing_quotes_are_applied_and_flagged():
    eng = engine(n=1)
    r = eng.process(make_events([dict(kind=QUOTE, side=1, price=2.0, size=1),
                                 dict(kind=QUOTE, side=-1, price=1.0, size=1)]))  # fmt: skip
    assert r.accepted == 2 and eng.books.crossed[0]


def test_random_garbage_is_all_accounted_for():
    rng = np.random.default_rng(3)
    n = 5_000
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["ts_event"] = T0 + rng.integers(-(10**12), 10**10, n)
    ev["ts_recv"] = T0
    ev["seq"] = rng.integers(0, 50, n)
    ev["instrument_id"] = rng.integers(-2, 12, n)
    ev["source"] = rng.integers(0, 20, n)
    ev["kind"] = rng.integers(0, 9, n)
    ev["side"] = rng.integers(-2, 3, n)
    ev["price"] = rng.integers(-5, 100, n) * 10**9
    ev["size"] = rng.choice([np.nan, np.inf, -1.0, 0.0, 1.0, 5.0], n)
    ev["order_id"] = rng.integers(0, 30, n)
    eng = engine(n=10)
    r = eng.process(ev, now_ns=T0)
    q = eng.drain_quarantine()
    assert r.accepted + len(q) == n and r.accepted > 0 and len(q) > 0
    assert eng.check_integrity() == []


def test_undrained_quarantine_is_bounded_and_counted():
    eng = engine(quarantine_buffer=10)
    for k in range(5):  # 4 bad events per batch, never drained
        rows = [dict(kind=ADD, side=1, price=-1.0, size=1, oid=1, seq=4 * k + j + 1)
                for j in range(4)]  # fmt: skip
        eng.process(make_events(rows))
    assert eng.quarantined == 20
    assert len(eng.drain_quarantine()) + eng.quarantine_overflow == 20
    assert eng.quarantine_overflow == 12
