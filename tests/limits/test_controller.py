"""Limits that act, end to end on a small portfolio: a hard breach engages the kill switch,
blocks risk-increasing orders, and sends the first reduction orders in the same call; the
rest follow the Almgren-Chriss schedule; every order is audited with its reason."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.limits.config import LimitsConfig
from riskstream.limits.controller import (
    LimitController,
    MarketContext,
    liquidation_unit_cost,
)
from riskstream.limits.execution import SimulatedVenue, SyntheticDepth
from riskstream.limits.killswitch import KillSwitchBoard, MemorySwitchStore
from riskstream.limits.model import Actor, LimitDefinition, Role
from riskstream.limits.monitor import LimitMonitor
from riskstream.limits.reduction import almgren_chriss_slices

from .helpers import frame

NS = 10**9


def _controller(limits: list[LimitDefinition], **cfg: float) -> tuple[LimitController, list]:
    config = LimitsConfig(schedule_periods=4, schedule_horizon_s=40.0, **cfg)
    mid = np.array([100.0, 50.0, 20.0])
    market = MarketContext(
        mid=mid,
        value_per_price=np.ones(3),
        spread_rel=np.full(3, 0.001),
        adv=np.full(3, 1e6),
        sigma_daily=np.full(3, 0.02),
    )
    venue = SimulatedVenue(SyntheticDepth(mid, market.spread_rel, market.adv), np.ones(3), 5.0)
    audit: list = []
    board = KillSwitchBoard(MemorySwitchStore())
    ctl = LimitController(LimitMonitor(limits, config), board, venue, market, config, None,
                          audit.append)  # fmt: skip
    return ctl, audit


def test_hard_breach_engages_the_switch_and_reduces_under_target() -> None:
    var_limit = LimitDefinition("firm", "firm", "var", 8.0, 10.0)
    ctl, audit = _controller([var_limit], reduction_target_utilisation=0.5)
    # component VaR 6 + 4 + 2 = 12 (120% of the limit); quantities of 1,000 units each
    snap = frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=NS, quantity=[1000.0, 1000.0, 1000.0],
                 component_var=[6.0, 4.0, 2.0])  # fmt: skip
    result = ctl.on_snapshot(snap)
    assert result.breached == [var_limit]
    assert ctl.board.state("firm").value == "reducing"
    # risk-increasing orders are refused at once; reducing ones pass
    ok = ctl.board.check_orders(None, np.array([1000.0, 1000.0]), np.array([10.0, -10.0]))
    assert ok.tolist() == [False, True]
    first = ctl.stats.orders
    assert first > 0 and len(ctl.stats.breach_to_action_ms) == 1
    ctl.advance(NS + 40 * NS)  # the whole schedule
    sold = 1000.0 - ctl.quantity
    # Euler: the plan removes 12 - 5 = 7 of VaR; every position costs about the same per
    # unit of VaR removed, so whole positions go first by ratio, the last one in part
    removed = float((sold / 1000.0 * np.array([6.0, 4.0, 2.0])).sum())
    assert removed == pytest.approx(7.0, rel=1e-6)
    assert np.all(sold >= -1e-9) and np.all(sold <= 1000.0 + 1e-9)
    assert ctl.stats.orders > first and len(audit) == ctl.stats.orders
    assert all(a["action"] == "reduction.order" and "firm:firm/var" in a["reason"] for a in audit)
    assert ctl.stats.cost_usd > 0
    # a second snapshot under the limit raises no new breach and sends nothing more
    orders = ctl.stats.orders
    calm = frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=50 * NS,
                 quantity=list(ctl.quantity), component_var=[1.0, 1.0, 1.0])  # fmt: skip
    assert not ctl.on_snapshot(calm).new_breaches and ctl.stats.orders == orders


def test_a_halt_stops_a_running_reduction() -> None:
    ctl, _ = _controller([LimitDefinition("firm", "firm", "var", 8.0, 10.0)])
    snap = frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=NS, quantity=[1000.0, 1000.0, 1000.0],
                 component_var=[6.0, 4.0, 2.0])  # fmt: skip
    ctl.on_snapshot(snap)
    sent = ctl.stats.orders
    assert sent > 0
    ctl.board.engage(Actor("meg", Role.RISK_MANAGER), "firm", "stop everything")
    ctl.advance(NS + 40 * NS)
    assert ctl.stats.orders == sent


@pytest.mark.parametrize(
    ("scope", "state", "blocked_instruments"),
    [
        ("instrument:1", "halted", {1}),  # a circuit breaker's price gap on one instrument
        ("desk:B", "halted", {2}),  # a manual stop of one desk
        ("instrument:1", "reducing", set()),  # reducing lets reductions through
    ],
)
def test_reductions_respect_every_scope_the_position_belongs_to(
    scope: str, state: str, blocked_instruments: set[int]
) -> None:
    ctl, audit = _controller([LimitDefinition("firm", "firm", "var", 8.0, 10.0)])
    ctl.board.engage(Actor("meg", Role.RISK_MANAGER), scope, "test", state)
    snap = frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=NS, quantity=[1000.0, 1000.0, 1000.0],
                 component_var=[6.0, 4.0, 2.0])  # fmt: skip
    ctl.on_snapshot(snap)
    ctl.advance(NS + 40 * NS)
    traded = {a["instrument_id"] for a in ctl.actions}
    assert traded and not traded & blocked_instruments
    assert (ctl.stats.blocked > 0) == bool(blocked_instruments)
    assert ctl.summary()["reduction_orders_blocked"] == ctl.stats.blocked
    assert len(audit) == ctl.stats.orders  # refused orders are not sent, so not booked


def test_without_auto_reduce_a_breach_halts_and_trades_nothing() -> None:
    ctl, audit = _controller(
        [LimitDefinition("desk", "A", "gross_notional", 1e5, 1.2e5)], auto_reduce=False
    )
    ctl.on_snapshot(frame([1e5, 5e4, 2e4], ["A", "A", "B"], ts_ns=NS))
    assert ctl.board.state("desk:A").value == "halted" and ctl.stats.orders == 0
    assert audit == []


def test_schedule_follows_almgren_chriss_and_costs_grow_with_size() -> None:
    slices = almgren_chriss_slices(
        np.array([1e5]), np.array([2.0]), np.array([100.0]), np.array([0.001]),
        np.array([1e6]), horizon_days=0.01, n_periods=5, risk_aversion=1e-5,
    )  # fmt: skip
    assert slices.sum() == pytest.approx(1e5)
    assert np.all(np.diff(slices[0]) < 0)  # risk-averse: front-loaded, decreasing trades
    twap = almgren_chriss_slices(
        np.array([1e5]), np.array([2.0]), np.array([100.0]), np.array([0.001]),
        np.array([1e6]), horizon_days=0.01, n_periods=5, risk_aversion=0.0,
    )  # fmt: skip
    np.testing.assert_allclose(twap, 2e4)  # lambda -> 0: straight line (A&C 2000, 2.3)
    small, big = liquidation_unit_cost(
        np.array([1e3, 1e5]), np.full(2, 100.0), np.full(2, 0.001), np.full(2, 1e6),
        np.ones(2), 0.01,
    )  # fmt: skip
    assert big > small > 0.05  # at least half the spread (0.05 per unit)
