"""The market-abuse detectors on hand-built L3 sequences, each the textbook shape of its
typology, and its honest near-miss.

Definitions followed (see riskstream.surveillance.market_abuse): spoofing, CFTC 7 U.S.C.
6c(a)(5)(C) ("bidding or offering with the intent to cancel the bid or offer before
execution"); layering, the same on several price levels (MAR Annex I A(c), ESMA70-145-111);
wash trade, SEC Exchange Act 9(a)(1) ("no change in beneficial ownership"); marking the close,
MAR Annex I A(b); momentum ignition, SEC Concept Release 34-61358 (2010) III.B.3.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.audit import ORDER_AUDIT_DTYPE, Typology
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, EventKind, to_fixed
from riskstream.surveillance.market_abuse import AbuseConfig, AbuseDetector, alerts_frame

S = 1_000_000_000  # ns per second
ADD, CANCEL, TRADE = EventKind.ADD, EventKind.CANCEL, EventKind.TRADE


class Tape:
    """A hand-built stream: events and their aligned audit records."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.seq = 0

    def add(self, t, kind, side, px, size, oid, pid, owner=None, cpid=-1, cowner=None, inst=0):
        self.seq += 1
        owner = pid if owner is None else owner
        cowner = cpid if cowner is None else cowner
        self.rows.append(
            (
                int(t * S),
                inst,
                int(kind),
                side,
                to_fixed(px),
                float(size),
                oid,
                pid,
                owner,
                cpid,
                cowner,
                self.seq,
            )
        )
        return self

    def arrays(self):
        n = len(self.rows)
        ev = np.zeros(n, EVENT_DTYPE)
        au = np.zeros(n, ORDER_AUDIT_DTYPE)
        for k, (ts, inst, kind, side, px, size, oid, pid, ow, cp, cow, seq) in enumerate(self.rows):
            ev[k] = (ts, ts, seq, inst, 1, kind, side, px, size, oid, 1)
            au[k] = (ts, inst, kind, side, oid, px, size, pid, ow, cp, cow)
        return ev, au

    def book(self, t=0.0):
        """An honest two-sided book around 100.00 / 100.02: ten orders of 10 a side."""
        for k in range(10):
            self.add(t, ADD, 1, 100.00 - 0.01 * (k // 3), 10, 1 + k, pid=k % 3)
            self.add(t, ADD, -1, 100.02 + 0.01 * (k // 3), 10, 101 + k, pid=k % 3)
        return self


def scan(tape: Tape, **config) -> np.ndarray:
    det = AbuseDetector(2, AbuseConfig(**({"session_s": 3600.0} | config)))
    ev, au = tape.arrays()
    det.update(ev, au)
    det.flush()
    return det.alerts()


def test_spoofing_large_bid_pulled_after_own_sell():
    tape = Tape().book()
    tape.add(1.0, ADD, 1, 99.99, 200, 500, pid=7)  # 20x the book's orders, behind the touch
    tape.add(2.0, TRADE, 1, 100.00, 5, 1, pid=0, cpid=7)  # 7 sells into the best bid
    tape.add(2.2, CANCEL, 1, 99.99, 200, 500, pid=7)  # and pulls the spoof 200 ms later
    alerts = scan(tape)
    assert len(alerts) == 1
    a = alerts[0]
    assert a["typology"] == Typology.SPOOFING and a["participant_id"] == 7
    assert list(a["order_ids"][: a["n_orders"]]) == [500]
    assert a["ts_start"] == 1 * S and a["ts_alert"] == int(2.2 * S)
    # the book at the alert: the best bid 100.00 lost 5 of its 10, the best ask is 100.02
    assert a["bid_px"][0] == pytest.approx(100.00) and a["ask_px"][0] == pytest.approx(100.02)
    assert alerts_frame(alerts)["order_ids"][0] == "500"


def test_large_cancel_without_opposite_execution_is_not_spoofing():
    tape = Tape().book()
    tape.add(1.0, ADD, 1, 99.99, 200, 500, pid=7)
    tape.add(2.0, TRADE, -1, 100.02, 5, 101, pid=0, cpid=7)  # 7 *buys*: the same direction
    tape.add(2.2, CANCEL, 1, 99.99, 200, 500, pid=7)
    assert len(scan(tape)) == 0


def test_cancel_long_after_the_execution_is_not_spoofing():
    tape = Tape().book()
    tape.add(1.0, ADD, 1, 99.99, 200, 500, pid=7)
    tape.add(2.0, TRADE, 1, 100.00, 5, 1, pid=0, cpid=7)
    tape.add(9.0, CANCEL, 1, 99.99, 200, 500, pid=7)  # 7 s later: beyond exec_window_s (2 s)
    assert len(scan(tape)) == 0


def test_layering_three_levels():
    tape = Tape().book()
    for k in range(3):
        tape.add(1.0, ADD, -1, 100.05 + 0.01 * k, 100, 600 + k, pid=8)
    tape.add(1.5, TRADE, -1, 100.02, 5, 101, pid=1, cpid=8)  # 8 buys at the ask (other side)
    for k in range(3):
        tape.add(1.6, CANCEL, -1, 100.05 + 0.01 * k, 100, 600 + k, pid=8)
    alerts = scan(tape)
    assert [int(a["typology"]) for a in alerts] == [Typology.LAYERING]
    assert alerts[0]["value"] == 3 and alerts[0]["n_orders"] == 3


def _wash(tape: Tape, n: int, gap_s: float, second: int = 5) -> Tape:
    for k in range(n):
        t = 1.0 + k * gap_s
        side = 1 if k % 2 == 0 else -1
        oid = 700 + k
        resting, taker = (5, second) if k % 2 == 0 else (second, 5)
        tape.add(t, ADD, side, 100.01, 3, oid, pid=resting, owner=5)
        tape.add(t, TRADE, side, 100.01, 3, oid, pid=resting, owner=5, cpid=taker, cowner=5)
    return tape


def test_wash_trades_same_owner_both_sides():
    alerts = scan(_wash(Tape().book(), 3, 2.0, second=6))  # two accounts of owner 5
    assert sorted(int(a["participant_id"]) for a in alerts) == [5, 6]
    assert all(a["typology"] == Typology.WASH_TRADE and a["owner_id"] == 5 for a in alerts)
    assert alerts[0]["n_orders"] == 3


def test_a_single_accidental_self_match_is_not_an_alert():
    assert len(scan(_wash(Tape().book(), 2, 2.0))) == 0
    assert len(scan(_wash(Tape().book(), 3, 40.0))) == 0  # three, but over 80 s > 60 s


def _close(tape: Tape, buyer_share: float) -> Tape:
    # honest trades before the window at 100.00 / 100.02
    for k in range(5):
        tape.add(10 + k, TRADE, 1, 100.00, 2, 1, pid=0, cpid=20 + k)
    # in the last 120 s of a 300 s day: 9 walks up the asks; honest sellers trade too
    px = 100.02
    for k in range(3):
        tape.add(200 + 20 * k, TRADE, -1, px + 0.01 * k, 10 * buyer_share, 101 + 3 * k,
                 pid=1, cpid=9)  # fmt: skip
        tape.add(205 + 20 * k, TRADE, 1, 100.00, 10 * (1 - buyer_share), 2 + k, pid=0,
                 cpid=21)  # fmt: skip
    tape.add(299, TRADE, -1, 100.05, 1, 104, pid=1, cpid=9)  # the close: 100.05
    return tape


def test_marking_the_close():
    alerts = scan(_close(Tape().book(), 0.9), session_s=300.0)
    assert [(int(a["typology"]), int(a["participant_id"])) for a in alerts] == [
        (Typology.MARKING_CLOSE, 9)
    ]
    # the close moved from 100.00 (last trade before the window) to 100.05: 2.5 spreads of 0.02
    assert alerts[0]["value"] == pytest.approx(2.5, rel=0.05)  # the spread is an EWMA of quotes


def test_a_small_taker_near_the_close_is_not_marking():
    assert len(scan(_close(Tape().book(), 0.1), session_s=300.0)) == 0


def _ignite(tape: Tape, reverse_after_s: float) -> Tape:
    tape.add(5, ADD, -1, 100.06, 10, 120, pid=2)
    # four buys 0.5 s apart, each taking a higher ask: 100.02 -> 100.06, two spreads of 0.02
    for k, (px, oid) in enumerate(((100.02, 101), (100.03, 104), (100.04, 107), (100.06, 120))):
        tape.add(10 + 0.5 * k, TRADE, -1, px, 10, oid, pid=k % 3, cpid=8)
    tape.add(11.5 + reverse_after_s, TRADE, 1, 100.00, 30, 1, pid=0, cpid=8)  # then sells
    return tape


def test_momentum_ignition_burst_then_reversal():
    alerts = scan(_ignite(Tape().book(), 3.0))
    assert [(int(a["typology"]), int(a["participant_id"])) for a in alerts] == [
        (Typology.MOMENTUM_IGNITION, 8)
    ]
    assert alerts[0]["n_orders"] == 4


def test_a_burst_without_reversal_is_not_ignition():
    assert len(scan(_ignite(Tape().book(), 30.0))) == 0  # reversal after ignition_reverse_s


def test_participant_statistics():
    tape = Tape().book()
    tape.add(1.0, CANCEL, 1, 100.00, 10, 1, pid=0)
    det = AbuseDetector(1, AbuseConfig())
    det.update(*tape.arrays())
    stats = det.participant_stats()
    row = stats.filter(stats["participant_id"] == 0).row(0, named=True)
    # participant 0 entered orders 1, 4, 7, 10 of each side (8), cancelled one
    assert row["orders"] == 8 and row["cancels"] == 1
    assert row["cancel_ratio"] == pytest.approx(1 / 8)
    assert row["near_touch_ttc_ms"] == pytest.approx(1000.0)


def test_bad_input_names_the_field():
    det = AbuseDetector(1)
    ev, au = Tape().book().arrays()
    with pytest.raises(InputError, match="audit"):
        det.update(ev, au[:-1])
    ev["instrument_id"][0] = 5
    with pytest.raises(InputError, match="instrument_id"):
        det.update(ev, au)


@functools.cache
def _stream() -> tuple[np.ndarray, np.ndarray, int]:
    """Two 60-second days of a manipulated simulated market (events, audit trail, day 0)."""
    from riskstream.feeds.config import ManipulationConfig, SimulatorConfig
    from riskstream.feeds.simulator import MarketSimulator
    from tests.feeds.universes import small_universe

    config = SimulatorConfig(
        seed=8, events_per_s=1500.0, session_s=60.0, manipulation=ManipulationConfig(max_days=2)
    )
    sim = MarketSimulator(small_universe(), config)
    events = np.concatenate([b for b, _ in sim.batches(120.0)])
    return events, sim.audit(events), sim.start_ns


def _alert_rows(alerts: np.ndarray) -> list:
    return sorted(
        (int(a["typology"]), int(a["participant_id"]), int(a["instrument_id"]), int(a["day"]),
         int(a["ts_start"]), int(a["ts_alert"]), tuple(a["order_ids"].tolist()),
         tuple(np.nan_to_num(a["bid_sz"], nan=-1.0).tolist()))
        for a in alerts
    )  # fmt: skip


@settings(max_examples=8, deadline=None)
@given(cuts=st.lists(st.floats(0.0, 1.0), max_size=6))
def test_alerts_do_not_depend_on_how_the_stream_is_batched(cuts):
    """Incremental state: the same stream cut into any batches raises the same alerts, with
    the same evidence, as in one batch (only their order may differ)."""
    events, audit, day0 = _stream()
    config = AbuseConfig(session_s=60.0, day0_ns=day0)
    n_inst = int(events["instrument_id"].max()) + 1
    whole = AbuseDetector(n_inst, config)
    whole.update(events, audit)
    whole.flush()
    parts = AbuseDetector(n_inst, config)
    bounds = sorted({0, len(events), *(int(c * len(events)) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        parts.update(events[lo:hi], audit[lo:hi])
    parts.flush()
    assert len(whole.alerts()) > 0
    assert _alert_rows(parts.alerts()) == _alert_rows(whole.alerts())
    for a in whole.alerts():  # every order of the evidence is in the stream, on its instrument
        ids = a["order_ids"][: a["n_orders"]]
        mine = events["order_id"][events["instrument_id"] == a["instrument_id"]]
        assert np.isin(ids, mine).all()
        assert a["ts_start"] <= a["ts_alert"]


def test_wash_trades_interleaved_over_two_instruments_are_each_seen():
    """An owner alternating its wash trades between two instruments does not reset its count
    (the state is per owner and instrument)."""
    tape = Tape().book().book()  # the second book goes to instrument 1 (ids are per instrument)
    tape.rows = tape.rows[:20] + [(*r[:1], 1, *r[2:]) for r in tape.rows[20:]]
    for k in range(3):
        for inst in (0, 1):
            oid = 700 + k
            t = 1.0 + 2 * k + 0.5 * inst
            tape.add(t, ADD, 1, 100.01, 3, oid, pid=5, inst=inst)
            tape.add(t, TRADE, 1, 100.01, 3, oid, pid=5, cpid=5, inst=inst)
    alerts = scan(tape)
    assert sorted((int(a["typology"]), int(a["instrument_id"])) for a in alerts) == [
        (Typology.WASH_TRADE, 0), (Typology.WASH_TRADE, 1)
    ]  # fmt: skip
