"""Reductions through a venue that takes real orders (GatewayVenue): what the venue fills,
not what was sent, is what the positions lose — partial fills and orders the venue's collar
refused entirely are booked as such."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from riskstream.limits.config import LimitsConfig
from riskstream.limits.controller import LimitController, MarketContext
from riskstream.limits.execution import GatewayVenue, SimulatedVenue, SyntheticDepth
from riskstream.limits.killswitch import KillSwitchBoard, MemorySwitchStore
from riskstream.limits.model import LimitDefinition
from riskstream.limits.monitor import LimitMonitor

from .helpers import frame

NS = 10**9


@dataclass
class _Done:
    filled: float
    avg_price: float
    mid_before: float
    ts_ns: int


class _HalfFiller:
    """A venue that fills half of each order one unit of price below (above) its mid, and
    nothing of instrument 2 (its book is beyond the collar)."""

    def __init__(self, mid: np.ndarray):
        self.mid = mid
        self.sent: list[tuple[int, float]] = []

    def execute_order(self, instrument_id: int, quantity: float) -> _Done:
        self.sent.append((instrument_id, quantity))
        if instrument_id == 2:
            return _Done(0.0, float("nan"), float(self.mid[2]), 7)
        filled = round(quantity / 2)
        return _Done(
            filled, self.mid[instrument_id] + np.sign(quantity), self.mid[instrument_id], 7
        )


def test_the_positions_lose_what_the_venue_filled() -> None:
    mid = np.array([100.0, 50.0, 20.0])
    market = MarketContext(mid, np.ones(3), np.full(3, 0.001), np.full(3, 1e6), np.full(3, 0.02))
    estimate = SimulatedVenue(SyntheticDepth(mid, market.spread_rel, market.adv), np.ones(3), 5.0)
    gateway = _HalfFiller(mid)
    venue = GatewayVenue(gateway, estimate)
    config = LimitsConfig(schedule_periods=4, schedule_horizon_s=40.0)
    limit = LimitDefinition("firm", "firm", "var", 8.0, 10.0)
    ctl = LimitController(
        LimitMonitor([limit], config), KillSwitchBoard(MemorySwitchStore()), venue, market, config
    )
    snap = frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=NS, quantity=[1000.0] * 3,
                 component_var=[6.0, 4.0, 2.0])  # fmt: skip
    ctl.on_snapshot(snap)
    ctl.advance(50 * NS)
    assert gateway.sent  # the orders went to the venue
    sent = np.zeros(3)
    for i, q in gateway.sent:
        sent[i] += q
    filled = np.array([sum(a["quantity"] for a in ctl.actions if a["instrument_id"] == i)
                       for i in range(3)])  # fmt: skip
    sold = 1000.0 - ctl.quantity
    np.testing.assert_allclose(sold, -filled)  # the positions lost exactly the fills
    assert (filled[:2] < 0).any()
    assert filled[2] == 0.0 and ctl.stats.unfilled == sum(i == 2 for i, _ in gateway.sent) > 0
    for i in (0, 1):
        if sent[i]:
            assert abs(filled[i]) < abs(sent[i])  # half of each order: partial
    # cost against mid: one unit of price per unit filled
    assert ctl.stats.cost_usd == pytest.approx(float(np.abs(filled).sum()))
    assert all(f.ts_ns == 7 for f in venue.fills)  # stamped with the venue's time
