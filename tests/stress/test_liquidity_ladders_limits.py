"""Liquidity stress with redemptions worked by hand; sensitivity ladders on a linear book;
the limits package's stress_loss limit type."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.limits.controller import reduction_contribution
from riskstream.limits.model import LimitDefinition, LimitType
from riskstream.limits.monitor import LimitMonitor
from riskstream.risk.config import LiquidityConfig
from riskstream.risk.liquidity import AlmgrenChriss, impact_parameters
from riskstream.stress.liquidity import MarketStress, RedemptionPolicy, redemption_stress
from riskstream.stress.sensitivity import heatmap_figure, sensitivity_ladders
from tests.limits.helpers import frame

from .books import book_of, inst, universe


def fund():
    u = universe(
        [
            inst(0, "A", "equity", 50.0, adv=100_000.0, spread_bps=10.0),
            inst(1, "B", "equity", 20.0, adv=10_000.0, spread_bps=20.0),
        ],
        [10_000.0, 50_000.0],
        desks=["Liquid", "Illiquid"],
    )
    return book_of(u)


STRESS = MarketStress(spread_multiplier=2.0, depth_divisor=2.0, volume_multiplier=0.5)


def test_liquid_first_waterfall_by_hand() -> None:
    # NAV 100k cash + 500k A + 1m B = 1.6m; 25 % redeemed = 400k: the cash first, then the
    # most liquid: A (5,000 shares a day at 10 % of its stressed ADV: 2 days for all of it)
    # before B (500 a day: 100 days), each up to the day's capacity. Proceeds per share
    # net of half the stressed spread: A 50 x (1 - 0.5 x 20 bp) = 49.95, B 20 x (1 - 0.5 x
    # 40 bp) = 19.96. Day 1: 5,000 A and 500 B raise 249,750 + 9,980; day 2: the last
    # 40,270 from 806.2 A shares.
    out = redemption_stress(fund(), 0.25, 5, cash=100_000.0, market=STRESS)
    assert out.nav == pytest.approx(1_600_000.0)
    assert out.requested == pytest.approx(400_000.0)
    assert out.days_to_meet == 2
    assert out.schedule[0]["paid"] == pytest.approx(100_000 + 249_750 + 9_980)
    sold = np.array([5_000 + 40_270 / 49.95, 500.0])
    got = {r["symbol"]: r["sold_units"] for r in out.sold}
    np.testing.assert_allclose([got["A"], got["B"]], sold, rtol=1e-12)
    price, spread = np.array([50.0, 20.0]), np.array([0.002, 0.004])
    assert out.spread_cost == pytest.approx(float((0.5 * sold * price * spread).sum()))
    # impact: the engine's Almgren-Chriss model at the stressed spread and half the depth
    lc = LiquidityConfig()
    eps, eta, gamma = impact_parameters(
        price,
        spread,
        np.array([50_000.0, 5_000.0]) / 2.0,
        lc.eta_adv_fraction,
        lc.gamma_adv_fraction,
    )
    days = np.array([2.0, 1.0])
    ac = AlmgrenChriss(
        shares=sold,
        sigma=price * 0.04,
        eta=eta,
        gamma=gamma,
        epsilon=eps,
        horizon_days=days,
        n_periods=days,
        risk_aversion=lc.risk_aversion_per_ccy,
    )
    assert out.impact_cost == pytest.approx(float(ac.impact_cost().sum()), rel=1e-12)
    # fire sale: the permanent impact gamma x sold marks down the shares kept
    kept = np.array([10_000.0, 50_000.0]) - sold
    assert out.fire_sale_loss == pytest.approx(float((gamma * sold * kept).sum()))
    assert out.remaining["cash"] == 0.0
    assert out.remaining["gross_exposure"] == pytest.approx(float((kept * price).sum()))


def test_pro_rata_gates_and_swing_pricing() -> None:
    out = redemption_stress(
        fund(),
        0.25,
        3,
        cash=100_000.0,
        market=STRESS,
        policy=RedemptionPolicy("pro_rata", gate=0.10, swing_threshold=0.2, swing_factor=0.01),
    )
    assert out.requested == pytest.approx(400_000.0)
    assert out.deferred == pytest.approx(240_000.0)  # gate: 10 % of NAV paid now
    # cash pays its share (100k / 1.6m of 160k = 10k); both stocks sold in proportion,
    # B capped at 500 shares a day, so the pro-rata sale is stretched over the days
    sold = {r["symbol"]: r["sold_units"] for r in out.sold}
    assert set(sold) == {"A", "B"}
    assert out.dilution["swing_amount"] == pytest.approx(0.01 * out.paid)
    assert out.dilution["with_swing"] <= out.dilution["without_swing"]


def test_an_unmet_redemption_says_so() -> None:
    out = redemption_stress(fund(), 0.9, 2, market=STRESS)  # B cannot be sold in 2 days
    assert out.days_to_meet is None
    assert out.schedule[-1]["outstanding"] > 0


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="--redeem"):
        redemption_stress(fund(), 1.5, 5)
    with pytest.raises(InputError, match="waterfall"):
        RedemptionPolicy("random")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="depth_divisor"):
        MarketStress(depth_divisor=0.0)


def test_ladders_on_a_linear_book() -> None:
    u = universe(
        [inst(0, "A", "equity", 50.0), inst(1, "B", "equity", 20.0)],
        [1000.0, -500.0],
        desks=["X", "Y"],
    )
    ladders = sensitivity_ladders(book_of(u))
    rows = {r["label"]: r for r in ladders.table("desk")}
    assert rows["spot -10%"]["X"] == pytest.approx(-5_000.0)
    assert rows["spot -10%"]["Y"] == pytest.approx(1_000.0)
    assert rows["spot +30%"]["total"] == pytest.approx(0.3 * 40_000.0)
    assert rows["vol +20 pts"]["total"] == 0.0  # no options
    fig = heatmap_figure(ladders, "asset_class")
    assert np.asarray(fig.data[0].z).shape == (len(ladders.labels), 1)


def test_stress_loss_limit_is_the_worst_scenario_of_the_scope() -> None:
    # desks A, A, B; two scenarios: desk A loses 12 in the first, the firm 8
    pnl = np.array([[-10.0, 5.0], [-2.0, -8.0], [4.0, -1.0]])
    f = dataclasses.replace(frame([1.0, 1.0, 1.0], ["A", "A", "B"]), stress_pnl=pnl)
    limits = [
        LimitDefinition("desk", "A", "stress_loss", 5.0, 10.0),
        LimitDefinition("desk", "B", "stress_loss", 5.0, 10.0),
        LimitDefinition("firm", "firm", "stress_loss", 5.0, 10.0),
    ]
    out = LimitMonitor(limits).check(f)
    np.testing.assert_allclose(out.exposure, [12.0, 1.0, 8.0])
    assert [r["status"] for r in out.rows()] == ["breach", "ok", "warning"]
    # reduction: each position's loss in the firm's worst scenario (the first)
    np.testing.assert_allclose(reduction_contribution(LimitType.STRESS_LOSS, f), [10, 2, -4])
    # no scenarios: no stress loss
    assert LimitMonitor(limits).check(frame([1.0, 1.0, 1.0], ["A", "A", "B"])).exposure.sum() == 0
    with pytest.raises(InputError, match="stress_pnl"):
        dataclasses.replace(f, stress_pnl=np.ones((2, 2)))
