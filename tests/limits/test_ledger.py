"""The limits stage's view of positions (``PositionLedger``): the keeper's versions re-keyed
by (book, instrument), the fills sent since pending until a version holds them, and a
reduction's child orders that land on their own position whatever rows changed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from riskstream.core.messages import PositionsChanged
from riskstream.limits.config import LimitsConfig
from riskstream.limits.controller import LimitController, MarketContext
from riskstream.limits.execution import SimulatedVenue, SyntheticDepth
from riskstream.limits.exposures import ExposureFrame
from riskstream.limits.killswitch import KillSwitchBoard, MemorySwitchStore
from riskstream.limits.ledger import PositionLedger
from riskstream.limits.model import LimitDefinition, Scope
from riskstream.limits.monitor import LimitMonitor

NS = 1_000_000_000
BOOKS = {
    "book_id": np.array([0, 1, 2]),
    "name": np.array(["b0", "b1", "b2"]),
    "desk": np.array(["A", "A", "B"]),
    "strategy": np.array(["s", "s", "s"]),
    "trader": np.array(["t", "t", "u"]),
}


def _version(version: int, rows: list[tuple[int, int, float]], fills_seq: int = 0):
    b, i, q = (np.array(c) for c in zip(*rows, strict=True))
    return PositionsChanged(version, 0, b, i, q.astype(float), BOOKS, "request", fills_seq)


def test_versions_are_rekeyed_and_pending_fills_clear_when_a_version_holds_them() -> None:
    ledger = PositionLedger(np.array(["equity"] * 10))
    ledger.adopt(_version(1, [(1, 5, 100.0), (2, 7, -50.0)]))
    ledger.record(1, 5, -30.0, seq=4)  # sent, not in a version yet
    assert ledger.quantity[ledger.row(1, 5)] == 70.0 and ledger.pending == 1
    # v2 inserts a row before it and does not hold the fill yet (fills_seq 3 < 4)
    ledger.adopt(_version(2, [(0, 3, 9.0), (1, 5, 100.0), (2, 7, -50.0)], fills_seq=3))
    assert ledger.row(1, 5) == 1 and ledger.quantity[1] == 70.0 and ledger.pending == 1
    assert list(ledger.labels["desk"]) == ["A", "A", "B"]
    # v3 holds it: the keeper's quantity, nothing pending
    ledger.adopt(_version(3, [(0, 3, 9.0), (1, 5, 70.0), (2, 7, -50.0)], fills_seq=4))
    assert ledger.quantity.tolist() == [9.0, 70.0, -50.0] and ledger.pending == 0
    assert not ledger.adopt(_version(2, [(0, 0, 1.0)]))  # an older version is ignored
    assert ledger.held(10).tolist() == [i in (3, 5, 7) for i in range(10)]


def test_a_fill_stored_by_another_process_is_pending_until_a_version_applies_its_id() -> None:
    # A hot-standby member computes the same orders as the leader but does not store them
    # (no sequence number of its own): its ledger holds each as pending until a keeper
    # version applies that order id — in a skipped (conflated) version or this one — and
    # an order the keeper applied already changes nothing.
    ledger = PositionLedger(np.array(["equity"] * 10))
    ledger.adopt(_version(1, [(1, 5, 100.0), (2, 7, -50.0)]))
    ledger.record(1, 5, -30.0, seq=None, order_id="o1")
    ledger.record(2, 7, 20.0, seq=None, order_id="o2")
    assert ledger.quantity.tolist() == [70.0, -30.0] and ledger.pending == 2
    v3 = _version(3, [(1, 5, 70.0), (2, 7, -30.0)], fills_seq=10)
    v3 = dataclasses.replace(v3, applied=("fill:o2",))
    ledger.adopt(v3, applied=["fill:o1"])  # v2 (applying o1) was skipped
    assert ledger.quantity.tolist() == [70.0, -30.0] and ledger.pending == 0
    ledger.record(1, 5, -30.0, seq=None, order_id="o1")  # computed late: already held
    assert ledger.quantity.tolist() == [70.0, -30.0] and ledger.pending == 0


def _frame(ledger: PositionLedger, component_var: list[float], ts_ns: int) -> ExposureFrame:
    n = len(ledger)
    zeros = np.zeros(n)
    mv = ledger.quantity * 10.0
    return ExposureFrame(
        instrument_id=ledger.instrument_id.astype(np.int32),
        quantity=ledger.quantity.copy(),
        market_value=mv,
        delta=mv,
        gamma=zeros,
        vega=zeros,
        component_var=np.array(component_var),
        component_es=np.array(component_var),
        component_lvar=np.array(component_var),
        pnl=zeros,
        liquidation_days=zeros,
        labels={
            Scope.DESK: ledger.labels["desk"],
            Scope.STRATEGY: ledger.labels["strategy"],
            Scope.TRADER: ledger.labels["trader"],
            Scope.ASSET_CLASS: ledger.labels["asset_class"],
        },
        ts_ns=ts_ns,
        book_id=ledger.book_id.copy(),
    )


def test_a_child_order_lands_on_its_own_book_after_rows_move() -> None:
    # The defect this fixes: programmes held row numbers, so a row inserted between plan and
    # fill sent the fill to whichever book held that row now.
    n = 10
    mid = np.full(n, 10.0)
    market = MarketContext(mid, np.ones(n), np.full(n, 0.001), np.full(n, 1e6), np.full(n, 0.02))
    venue = SimulatedVenue(SyntheticDepth(mid, market.spread_rel, market.adv), np.ones(n), 5.0)
    ledger = PositionLedger(np.array(["equity"] * n))
    ledger.adopt(_version(1, [(1, 5, 1000.0), (2, 7, 1000.0)]))
    config = LimitsConfig(schedule_periods=4, schedule_horizon_s=4.0)
    sent: list[tuple[str, int, int, float]] = []
    seqs = iter(range(1, 100))

    def on_fill(order_id, book_id, fill, reason) -> int:
        sent.append((order_id, book_id, fill.instrument_id, fill.quantity))
        return next(seqs)

    ctl = LimitController(
        LimitMonitor([LimitDefinition("firm", "firm", "var", 8.0, 10.0)], config),
        KillSwitchBoard(MemorySwitchStore()),
        venue,
        market,
        config,
        on_fill,
        ledger=ledger,
    )
    ctl.on_snapshot(_frame(ledger, [6.0, 6.0], NS))  # 12 of VaR against a hard limit of 10
    (prog,) = ctl.programmes.values()
    assert set(zip(prog.book_id.tolist(), prog.instrument_id.tolist(), strict=True)) == {
        (1, 5),
        (2, 7),
    }
    first = list(sent)
    assert first and {(b, i) for _, b, i, _ in first} <= {(1, 5), (2, 7)}
    # the keeper's next version: a position of book 0 sorts first, every row moves down;
    # it holds the first fills (fills_seq), and someone closed (2, 7) meanwhile
    done = {(b, i): q for _, b, i, q in first}
    ledger.adopt(
        _version(2, [(0, 3, 5.0), (1, 5, 1000.0 + done.get((1, 5), 0.0))], fills_seq=len(first))
    )
    ctl.advance(NS + 4 * NS)
    later = sent[len(first) :]
    assert later and all((b, i) == (1, 5) for _, b, i, _ in later)  # never book 0's row
    assert ctl.stats.gone > 0  # (2, 7) is gone: its orders are not sent
    assert ledger.quantity[ledger.row(0, 3)] == 5.0  # the inserted position is untouched
    ids = [o for o, *_ in sent]
    assert len(set(ids)) == len(ids) and all(o.startswith("reduce:firm:firm/var:") for o in ids)
    assert ledger.quantity[ledger.row(1, 5)] == pytest.approx(
        1000.0 + sum(q for _, b, _, q in sent if b == 1)
    )
