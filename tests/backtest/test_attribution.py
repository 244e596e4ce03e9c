"""P&L attribution by Taylor expansion against full revaluation."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.backtest.attribution import explain_pnl, taylor_components
from riskstream.backtest.book import DT_YEARS, book_pnl_attribution
from riskstream.cli.backtest import simulated_book_market
from riskstream.core.errors import InputError
from riskstream.pricing import bsm_greeks, bsm_price


def test_single_option_taylor_is_second_order_accurate() -> None:
    # A call (S=100, K=100, T=0.5, r=3%, q=0, sigma=20%) over one day with dS = h and
    # d sigma = 0.5h vol points. The explain leaves only the remainder (cross terms such as
    # vanna dS dsigma and charm dS dt, and third order), so it is tiny against the P&L
    # (about 0.69 at h = 1) and falls faster than the moves when they are halved.
    def residual(h: float) -> float:
        g = bsm_greeks(100.0, 100.0, 0.5, 0.03, 0.0, 0.20, True)
        full = bsm_price(100.0 + h, 100.0, 0.5 - DT_YEARS, 0.03, 0.0, 0.20 + 0.005 * h, True)
        parts = taylor_components(1.0, h, 0.005 * h, DT_YEARS, g.delta, g.gamma, g.vega, g.theta)
        explained = sum(float(np.asarray(v).sum()) for v in parts.values())
        return abs(float(full - g.price) - explained)

    assert residual(1.0) < 0.005 * 0.69
    assert residual(0.5) < 0.5 * residual(1.0)


def test_components_sum_to_hpl() -> None:
    hpl = np.array([1.0, -2.0, 0.5])
    result = explain_pnl(np.arange(3), hpl, {"delta": [0.8, -1.5, 0.4], "theta": [0.1] * 3})
    total = sum(result.components.values())
    np.testing.assert_allclose(total, hpl, rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.components["residual"], [0.1, -0.6, 0.0], atol=1e-15)


def test_simulated_book_is_explained() -> None:
    market = simulated_book_market(days=501, seed=11, instruments=300)
    assert market.spot.size == market.vol.size == market.yield_.size == 501
    attribution = book_pnl_attribution(market)
    totals = attribution.summary()
    assert totals["residual_share"] < 0.05  # Greeks explain > 95% of absolute daily P&L
    assert attribution.pla.zone == "green"
    # Bond carry: at an unchanged yield y a bond priced near par accretes about y * P * dt a
    # day (Fabozzi, ch. 2); with 1,000 units of 100 face that is y * 100 * 1000 / 252 per day
    # before the dividends (2% a year on 400 shares). The yield here moves (the simulator's
    # USD 10-year rate), so its mean stands for y; 20% covers the bond's premium or discount.
    dividend = 400 * 0.02 * market.spot[:-1].mean() / 252
    carry_per_day = attribution.components["carry"].mean() - dividend
    assert carry_per_day == pytest.approx(market.yield_.mean() * 100 * 1000 / 252, rel=0.2)
    # Deterministic by seed.
    again = book_pnl_attribution(simulated_book_market(days=501, seed=11, instruments=300))
    np.testing.assert_array_equal(again.hpl, attribution.hpl)


def test_bad_input() -> None:
    with pytest.raises(InputError) as info:
        explain_pnl(np.arange(2), [1.0, 2.0], {"charm": [0.0, 0.0]})
    assert info.value.field == "explained"
    with pytest.raises(InputError, match="as many observations"):
        explain_pnl(np.arange(2), [1.0, 2.0], {"delta": [0.0]})
