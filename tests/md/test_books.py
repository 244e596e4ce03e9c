"""Order books: hand-checked sequences for every message kind, and property tests against
the plain-Python twin in tests/md/reference.py."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.core.events import EventFlag, to_fixed
from riskstream.md import Reason
from tests.md.helpers import (
    ADD,
    CANCEL,
    CLEAR,
    MODIFY,
    QUOTE,
    SNAPSHOT,
    T0,
    TRADE,
    engine,
    make_events,
)
from tests.md.reference import ReferenceBooks
from tests.md.venue import venue_stream


def _l2(eng, inst=0):
    lv = eng.levels(inst)
    return (
        list(zip(lv["bid_px"], lv["bid_sz"], strict=True)),
        list(zip(lv["ask_px"], lv["ask_sz"], strict=True)),
    )


def test_add_builds_sorted_levels_and_aggregates():
    eng = engine()
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=100.0, size=10, oid=1),
                dict(kind=ADD, side=1, price=100.5, size=5, oid=2),
                dict(kind=ADD, side=1, price=100.0, size=7, oid=3),
                dict(kind=ADD, side=-1, price=101.0, size=4, oid=4),
                dict(kind=ADD, side=-1, price=100.75, size=2, oid=5),
            ]
        )
    )
    assert r.accepted == 5
    bids, asks = _l2(eng)
    assert bids == [(100.5, 5.0), (100.0, 17.0)]
    assert asks == [(100.75, 2.0), (101.0, 4.0)]
    ms = eng.market_state
    assert (ms.bid[0], ms.ask[0], ms.bid_size[0], ms.ask_size[0]) == (100.5, 100.75, 5.0, 2.0)
    assert ms.mid[0] == 100.625 and ms.spread[0] == 0.25
    # weighted mid: I = 5/(5+2); 100.75 * I + 100.5 * (1 - I)
    assert np.isclose(ms.microprice[0], (100.5 * 2 + 100.75 * 5) / 7, rtol=1e-15)
    assert ms.bid_depth[0] == 22.0 and ms.ask_depth[0] == 6.0
    assert eng.check_integrity() == []


def test_modify_priority_rules():
    eng = engine()
    eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=100.0, size=10, oid=1),
                dict(kind=ADD, side=1, price=100.0, size=10, oid=2),
                dict(kind=ADD, side=1, price=100.0, size=10, oid=3),
            ]
        )
    )
    queue = lambda: list(eng.orders(0)["order_id"])  # noqa: E731
    assert queue() == [1, 2, 3]
    # reducing size keeps the place in the queue
    eng.process(make_events([dict(kind=MODIFY, side=1, price=100.0, size=4, oid=1, seq=4)]))
    assert queue() == [1, 2, 3]
    # raising size loses it
    eng.process(make_events([dict(kind=MODIFY, side=1, price=100.0, size=12, oid=2, seq=5)]))
    assert queue() == [1, 3, 2]
    # a price change loses it and moves the size between levels
    eng.process(make_events([dict(kind=MODIFY, side=0, price=99.0, size=4, oid=1, seq=6)]))
    eng.process(make_events([dict(kind=MODIFY, side=0, price=100.0, size=4, oid=1, seq=7)]))
    assert queue() == [3, 2, 1]
    assert _l2(eng)[0] == [(100.0, 26.0)]
    assert eng.check_integrity() == []


def test_cancel_and_trades():
    eng = engine()
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=50.0, size=10, oid=1),
                dict(kind=ADD, side=-1, price=51.0, size=8, oid=2),
                dict(kind=ADD, side=-1, price=51.0, size=2, oid=3),
                dict(kind=TRADE, side=-1, price=51.0, size=5, oid=2),  # partial fill
                dict(kind=TRADE, side=-1, size=3, oid=2),  # fills the rest at its price
                dict(kind=CANCEL, oid=1),
                dict(kind=TRADE, side=1, price=50.5, size=100, oid=0),  # off-book print
            ]
        )
    )
    assert r.accepted == 7
    bids, asks = _l2(eng)
    assert bids == [] and asks == [(51.0, 2.0)]
    assert list(eng.orders(0)["order_id"]) == [3]
    ms = eng.market_state
    assert ms.last[0] == 50.5 and ms.volume[0] == 108.0
    assert np.isnan(ms.bid[0]) and np.isnan(ms.mid[0])


def test_venue_traffic_is_applied_not_refused():
    """What real venues send: every message below is applied or is a counted no-op; only
    the full side (a capacity limit) and the quote on an order book are refused."""
    eng = engine(max_levels=2)
    rows = [
        dict(kind=ADD, side=1, price=100.0, size=10, oid=1),
        dict(kind=ADD, side=-1, price=101.0, size=10, oid=2),
        dict(kind=ADD, side=1, price=101.0, size=1, oid=3),  # locks the book (trust: flagged)
        dict(kind=CANCEL, oid=3),  # ... and the venue takes it away again
        dict(kind=ADD, side=1, price=99.0, size=2, oid=1),  # order id re-announced: replaces
        dict(kind=CANCEL, oid=99),  # an order that rested before the capture: no-op
        dict(kind=MODIFY, side=-1, price=102.0, size=3, oid=98),  # unknown: inserted
        dict(kind=TRADE, side=1, size=5, oid=1),  # more than rests: fills it all
        dict(kind=TRADE, side=-1, price=101.0, size=4, oid=77),  # unknown order: prints
        dict(kind=ADD, side=1, price=98.0, size=1, oid=5),
        dict(kind=ADD, side=1, price=97.0, size=1, oid=6),
        dict(kind=ADD, side=1, price=96.0, size=1, oid=7),  # a third bid level: full
        dict(kind=CANCEL, size=4, oid=2),  # partial cancel: 10 -> 6, keeps its place
        dict(kind=QUOTE, side=1, price=100.0, size=1),  # quote on an order book
    ]
    r = eng.process(make_events(rows))
    bad = {i: Reason(c) for i, c in enumerate(r.reason) if c}
    assert bad == {11: Reason.LEVELS_FULL, 13: Reason.QUOTE_ON_ORDER_BOOK}
    assert _l2(eng) == ([(98.0, 1.0), (97.0, 1.0)], [(101.0, 6.0), (102.0, 3.0)])
    counts = eng.book_counts()
    assert counts["order_replaced"] == 1 and counts["unknown_order_applied"] == 1
    assert counts["unknown_order_noop"] == 2 and counts["overfill"] == 1
    assert counts["crossed_events"] == 1 and counts["books_crossed"] == 0
    assert eng.market_state.last[0] == 101.0  # the unknown order's fill printed
    assert eng.check_integrity() == []


def test_trust_flags_a_crossed_book_until_the_venue_uncrosses_it():
    eng = engine()
    last = int(EventFlag.LAST_IN_GROUP)
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=-1, price=101.0, size=2, oid=1, ts=T0),
                dict(kind=ADD, side=1, price=101.5, size=3, oid=2, ts=T0 + 1),  # crosses
                dict(kind=CANCEL, oid=1, ts=T0 + 1),  # the venue's fill of the resting ask
                dict(kind=MODIFY, side=1, price=101.5, size=1, oid=2, ts=T0 + 1, flags=last),
            ]
        )
    )
    assert r.accepted == 4
    assert eng.book_counts()["crossed_events"] == 1
    assert eng.book_counts()["crossed_at_group_end"] == 0 and not eng.books.crossed[0]
    eng.process(make_events([dict(kind=ADD, side=-1, price=100.0, size=1, oid=3, seq=5,
                                  flags=last)]))  # fmt: skip
    assert eng.books.crossed[0] and eng.book_counts()["crossed_at_group_end"] == 1
    assert eng.check_integrity() == []


def test_match_executes_aggressive_orders_in_price_time_priority():
    eng = engine(crossing="match")
    r = eng.process(
        make_events(
            [
                dict(kind=ADD, side=-1, price=101.0, size=2, oid=1),
                dict(kind=ADD, side=-1, price=101.0, size=3, oid=2),
                dict(kind=ADD, side=-1, price=101.5, size=4, oid=3),
                dict(kind=MODIFY, side=-1, price=101.0, size=5, oid=1),  # size up: to the back
                dict(kind=ADD, side=1, price=101.0, size=4, oid=4),  # takes 3 of #2, 1 of #1
                dict(kind=ADD, side=1, price=102.0, size=9, oid=5),  # sweeps, 1 rests at 102
                dict(kind=CANCEL, oid=2),  # the venue's delete of a filled order: no-op
            ]
        )
    )
    assert r.accepted == 7
    assert _l2(eng) == ([(102.0, 1.0)], [])
    assert list(eng.orders(0)["order_id"]) == [5]
    c = eng.book_counts()
    assert c["matched_fills"] == 4 and c["crossed_events"] == 0 and c["unknown_order_noop"] == 1
    assert eng.check_integrity() == []


def test_clear_and_snapshot_rebuild():
    eng = engine()
    eng.process(
        make_events(
            [
                dict(kind=ADD, side=1, price=10.0, size=1, oid=1),
                dict(kind=ADD, side=-1, price=11.0, size=1, oid=2),
            ]
        )
    )
    snap = int(EventFlag.SNAPSHOT)
    last = snap | int(EventFlag.LAST_IN_GROUP)
    r = eng.process(
        make_events(
            [
                dict(kind=CLEAR, seq=3, flags=snap),
                dict(kind=SNAPSHOT, side=1, price=10.5, size=3, oid=1, seq=3, flags=snap),
                dict(kind=SNAPSHOT, side=-1, price=10.75, size=4, oid=7, seq=3, flags=last),
                dict(kind=CANCEL, oid=2, seq=4),  # order 2 died with the clear
            ]
        )
    )
    assert r.accepted == 4  # the cancel of order 2 (died with the clear) is a no-op
    assert eng.book_counts()["unknown_order_noop"] == 1
    assert _l2(eng) == ([(10.5, 3.0)], [(10.75, 4.0)])
    assert eng.live_orders() == 2
    assert eng.check_integrity() == []


def test_quote_driven_book():
    eng = engine()
    eng.process(
        make_events(
            [
                dict(kind=QUOTE, side=1, price=1.0850, size=5e6, inst=1),
                dict(kind=QUOTE, side=-1, price=1.0852, size=3e6, inst=1),
                dict(kind=QUOTE, side=1, price=1.0851, size=2e6, inst=1),
            ]
        )
    )
    assert _l2(eng, 1) == ([(1.0851, 2e6)], [(1.0852, 3e6)])
    r = eng.process(make_events([dict(kind=QUOTE, side=1, price=1.0853, size=1e6, inst=1, seq=4)]))
    assert r.accepted == 1 and eng.books.crossed[1]  # applied as quoted, flagged crossed
    eng.process(make_events([dict(kind=QUOTE, side=-1, size=0.0, inst=1, seq=5)]))
    assert _l2(eng, 1) == ([(1.0853, 1e6)], []) and not eng.books.crossed[1]


def test_order_table_grows_and_purges_cleared_orders():
    eng = engine(n=2, order_capacity=16)
    rows = [dict(kind=ADD, side=1, price=1.0 + i % 7, size=1, oid=i + 1) for i in range(200)]
    eng.process(make_events(rows))
    assert eng.live_orders() == 200 and eng.books.orders.shape[0] >= 400
    eng.process(make_events([dict(kind=CLEAR, seq=201)]))
    assert eng.live_orders() == 0
    rows = [dict(kind=ADD, side=-1, price=5.0, size=1, oid=i + 1, seq=202 + i) for i in range(50)]
    r = eng.process(make_events(rows))
    assert r.accepted == 50 and eng.check_integrity() == []


# ------------------------------------------------------------------ property tests

N_INST, K = 3, 4


@st.composite
def op_streams(draw):
    n = draw(st.integers(1, 120))
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["add", "add", "add", "modify", "cancel", "trade", "clear"]),
                st.integers(0, N_INST - 1),
                st.sampled_from([1, -1]),
                st.integers(1, 12),  # price in ticks
                st.integers(1, 20),  # size
                st.integers(0, 10**6),  # picks an order
            ),
            min_size=n,
            max_size=n,
        )
    )
    cuts = draw(st.lists(st.integers(0, n), max_size=4))
    # sequence faults: 0 in order, 1 repeat the previous seq, 2 skip ahead (a gap), 3 go back
    faults = draw(st.lists(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2, 3]), min_size=n, max_size=n))
    return ops, sorted(set(cuts)), faults


def _concretise(ops, faults):
    """Turn abstract ops into events, choosing existing orders so most are valid."""
    rows, live, next_oid = [], {i: [] for i in range(N_INST)}, 1
    for op, inst, side, tick, size, pick in ops:
        price = 100.0 + tick * 0.25
        if op == "add" or not live[inst]:
            if op == "clear":
                rows.append(dict(kind=CLEAR, inst=inst))
                live[inst] = []
                continue
            # bids low, asks high, with overlap so some adds cross and are rejected
            price = 100.0 + (tick if side == -1 else tick - 6) * 0.25
            rows.append(dict(kind=ADD, side=side, price=price, size=size, oid=next_oid, inst=inst))
            live[inst].append((next_oid, side, price))
            next_oid += 1
            continue
        which = pick % len(live[inst])
        oid, oside, oprice = live[inst][which]
        if op == "modify":
            price = 100.0 + (tick if oside == -1 else tick - 6) * 0.25
            if pick % 3 == 0:  # same price: a size change, keeping or losing priority
                price = oprice
            live[inst][which] = (oid, oside, price)
            rows.append(dict(kind=MODIFY, side=oside, price=price, size=size, oid=oid, inst=inst))
        elif op == "cancel":
            rows.append(dict(kind=CANCEL, oid=oid, inst=inst))
        elif op == "trade":
            rows.append(dict(kind=TRADE, side=oside, size=min(size, 8), oid=oid, inst=inst))
        else:
            rows.append(dict(kind=CLEAR, inst=inst))
            live[inst] = []
    seq = dict.fromkeys(range(N_INST), 0)
    for row, fault in zip(rows, faults, strict=False):
        i = row["inst"]
        seq[i] += {0: 1, 1: 0, 2: 3, 3: -2}[fault]
        row["seq"] = max(seq[i], 1)
    return make_events(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op_streams(), st.sampled_from(["trust", "match"]))
def test_kernels_match_reference_and_keep_invariants(stream, crossing):
    ops, cuts, faults = stream
    events = _concretise(ops, faults)
    eng = engine(n=N_INST, max_levels=K, order_capacity=16, crossing=crossing)
    ref = ReferenceBooks(N_INST, K, crossing=crossing)
    bounds = [0, *cuts, len(events)]
    reasons = np.concatenate(
        [eng.process(events[a:b]).reason for a, b in itertools.pairwise(bounds)]
    )
    expected = [int(ref.apply(e)) for e in events]
    assert reasons.tolist() == expected
    assert eng.market_state.stale.tolist() == ref.stale
    # accepted + quarantined == input, none silently dropped
    assert eng.quarantined + int((reasons == 0).sum()) == len(events)
    # only what is truly invalid is refused: never a crossing or an unknown order
    assert not set(reasons.tolist()) & {int(Reason.CROSSED), int(Reason.UNKNOWN_ORDER)}
    counts = eng.book_counts()
    assert {k: counts[k] for k in ref.counts} == ref.counts
    # L3 identical (instrument, side, price, size, queue priority)
    got = eng.orders()
    got_rows = [
        (int(o["instrument_id"]), int(o["side"]), int(o["price"]), float(o["size"]),
         int(o["priority"]))
        for o in got
    ]  # fmt: skip
    assert got_rows == ref.sorted_orders()
    # L2 identical to the twin's aggregation; crossed flags true, sizes positive, queues
    assert eng.check_integrity() == []
    for inst in range(N_INST):
        lv = eng.levels(inst)
        for s, name in ((0, "bid"), (1, "ask")):
            want = ref.levels(inst, s)
            assert list(to_fixed(lv[f"{name}_px"])) == [p for p, _, _ in want]
            assert list(lv[f"{name}_sz"]) == [z for _, z, _ in want]
            assert list(lv[f"{name}_orders"]) == [c for _, _, c in want]
        if crossing == "match" and len(lv["bid_px"]) and len(lv["ask_px"]):
            assert lv["bid_px"][0] < lv["ask_px"][0]  # the matcher never leaves a cross


venue_ops = st.lists(
    st.tuples(
        st.sampled_from([1, -1]),
        st.integers(-8, 8).map(lambda t: 100.0 + 0.25 * t),
        st.sampled_from([0.5, 1.0, 1.25, 3.0]),
        st.one_of(st.none(), st.none(), st.integers(0, 10**6)),
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(venue_ops, st.sampled_from(["trust", "match"]), st.integers(1, 7))
def test_venue_crossing_traffic_is_never_crossed_at_group_ends(ops, crossing, chunk):
    """Bitstamp-style traffic (tests/md/venue.py): every row is applied, the book is never
    crossed at the end of a same-timestamp group, and it agrees there with the venue's own
    book — in trust mode by applying the venue's fills, in match mode by executing the
    aggressor itself (the venue's later deletes of filled orders are counted no-ops)."""
    events, ends = venue_stream(ops)
    eng = engine(n=1, order_capacity=16, crossing=crossing)
    ref = ReferenceBooks(1, 64)  # the plain book, trusting the venue's messages
    checked = 0
    for a in range(0, len(events), chunk):
        batch = events[a : a + chunk]
        r = eng.process(batch, record_depth=64)
        assert r.accepted == len(batch)
        for k in range(len(batch)):
            ref.apply(batch[k])
            if a + k in ends:
                checked += 1
                want_b = [(p, z) for p, z, _ in ref.levels(0, 0)]
                want_a = [(p, z) for p, z, _ in ref.levels(0, 1)]
                got_b = [(int(p), z) for p, z in zip(r.depth_px[k, 0], r.depth_sz[k, 0],
                                                     strict=True) if z == z]  # fmt: skip
                got_a = [(int(p), z) for p, z in zip(r.depth_px[k, 1], r.depth_sz[k, 1],
                                                     strict=True) if z == z]  # fmt: skip
                assert np.allclose([z for _, z in got_b], [z for _, z in want_b])
                assert [p for p, _ in got_b] == [p for p, _ in want_b]
                assert [p for p, _ in got_a] == [p for p, _ in want_a]
                assert np.allclose([z for _, z in got_a], [z for _, z in want_a])
                assert not ref.crossed(0)
                if got_b and got_a:
                    assert got_b[0][0] < got_a[0][0]
    assert checked == len(ends)
    c = eng.book_counts()
    assert c["crossed_at_group_end"] == 0 and c["books_crossed"] == 0
    assert eng.quarantined == 0 and eng.check_integrity() == []
