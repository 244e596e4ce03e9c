"""SPAN against published worked examples, TIMS by hand, Kelly sizing on known inputs, and
Euler risk budgets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.limits.budget import RiskBudget
from riskstream.limits.margin import (
    futures_risk_array,
    inter_commodity_credit,
    intra_commodity_charge,
    option_risk_array,
    scan_risk,
    span_im_rates,
    span_requirement,
    span_scenarios,
    tims_margin,
    valuation_points,
)
from riskstream.limits.sizing import kelly_binary, kelly_continuous, size_position
from riskstream.pricing.black_scholes import black76_price

# ----------------------------------------------------------------------------- SPAN

# McMillan, "Options as a Strategic Investment" (5th ed.), ch. 34 "Futures and futures
# options", pp. 668-670: SPAN risk arrays published for one long S&P 500 future (scan
# range 20 points = $10,000 at $500 a point; the example's exchange sets the extreme move
# at 14 points = $7,000) and one long Dec 410 call, in the 16 standard scenarios. The book
# prints profit (+) and loss (-); SPAN arrays hold losses as positive numbers, so negate.
MCMILLAN_FUTURE = -np.array(
    [
        0,
        0,
        3330,
        3330,
        -3330,
        -3330,
        6670,
        6670,
        -6670,
        -6670,
        10000,
        10000,
        -10000,
        -10000,
        7000,
        -7000,
    ],
    dtype=float,
)
MCMILLAN_CALL = -np.array(
    [
        460,
        -610,
        2640,
        1730,
        -1270,
        -2340,
        5210,
        4540,
        -2540,
        -3430,
        8060,
        7640,
        -3380,
        -3990,
        3130,
        -1500,
    ],
    dtype=float,
)


def test_futures_risk_array_matches_mcmillans_published_array() -> None:
    # 14 of 20 points is an extreme move of 2 scan ranges at 35% cover (0.7 scan ranges).
    # McMillan rounds the 1/3 and 2/3 moves to the nearest $10.
    array = futures_risk_array(20.0, 500.0, extreme_multiple=2.0, extreme_cover=0.35)
    np.testing.assert_allclose(array, MCMILLAN_FUTURE, atol=3.34)


def test_scan_risk_of_mcmillans_portfolios() -> None:
    # McMillan p. 668-670: long future $10,000; long call $3,990 (futures down 3/3, vol
    # down: scenario 14); covered write (long future, short call) $6,620 (scenario 13).
    assert scan_risk(MCMILLAN_FUTURE[None], np.array([1.0])) == (10000.0, 13)
    assert scan_risk(MCMILLAN_CALL[None], np.array([1.0])) == (3990.0, 14)
    arrays = np.vstack([MCMILLAN_FUTURE, MCMILLAN_CALL])
    assert scan_risk(arrays, np.array([1.0, -1.0])) == (6620.0, 13)


def test_cme_standard_extreme_scenarios() -> None:
    # CME SPAN: scenarios 15/16 move the price 3 scan ranges and cover 35% of the loss,
    # so a long future's extreme-down loss is 1.05 scan ranges.
    s = span_scenarios()
    assert s.shape == (16, 3)
    np.testing.assert_allclose(s[14:], [[3.0, 0, 0.35], [-3.0, 0, 0.35]])
    np.testing.assert_allclose(futures_risk_array(100.0)[[10, 12, 15]], [-100, 100, 105])


# CME Group, "Spread calculations" (cmegroup.com/clearing/margins/spread-calc.html):
# "Product X Month 2 - $500, Month 3 - $500, Month 4 - $750; Intra Spread Charge Month 2
# vs. 3 - $200, 2 vs. 4 - $50, 3 vs. 4 - $0: +1 Month 2 and -1 Month 3 has a margin of
# $200, +1 Month 2 and -1 Month 4 $300, +1 Month 3 and -1 Month 4 $250."
@pytest.mark.parametrize(("legs", "expected"), [((2, 3), 200.0), ((2, 4), 300.0), ((3, 4), 250.0)])
def test_intra_commodity_spread_matches_cmes_example(legs: tuple[int, int], expected: float):
    outright = {2: 500.0, 3: 500.0, 4: 750.0}
    charges = {(2, 3): 200.0, (2, 4): 50.0, (3, 4): 0.0}
    long_m, short_m = legs
    # the outright rate is the future's scan risk; 30% extreme cover keeps it at 1 range
    arrays = np.vstack(
        [futures_risk_array(outright[m], extreme_cover=0.30) for m in (long_m, short_m)]
    )
    q = np.array([1.0, -1.0])
    charge = intra_commodity_charge(q, np.array(legs), {legs: charges[legs]})
    assert span_requirement(arrays, q, intra_charge=charge).requirement == expected


def test_inter_commodity_credit_matches_cmes_example() -> None:
    # Same page: "Corn vs. Soybeans (2:1) - 55% Inter Rate; Corn $1750, Soybeans $2500;
    # $6000 outright margin before credit; savings of $3300; final margin $2700."
    credit = inter_commodity_credit([2.0, -1.0], [2.0, 1.0], [1750.0, 2500.0], 0.55)
    assert credit == pytest.approx(3300.0)
    assert 2 * 1750 + 2500 - credit == pytest.approx(2700.0)
    assert inter_commodity_credit([2.0, 1.0], [2.0, 1.0], [1750.0, 2500.0], 0.55) == 0.0


def test_short_option_minimum_floors_far_otm_short_options() -> None:
    # A far out-of-the-money short call shows almost no scan loss; the floor applies.
    array = option_risk_array(100.0, 200.0, 0.1, 0.0, 0.2, True, 5.0, 0.05)
    out = span_requirement(
        array[None],
        np.array([-10.0]),
        short_option_minimum_per_contract=2.5,
        is_option=np.array([True]),
    )
    assert out.scan_risk < 1e-6 and out.requirement == 25.0


def test_option_risk_array_is_a_black76_revaluation() -> None:
    # Scenario 12: price up one scan range, vol down; one day of decay (CME SPAN).
    f, k, t, vol, psr, vsr = 410.0, 410.0, 0.25, 0.2, 20.0, 0.04
    a = option_risk_array(f, k, t, 0.0, vol, True, psr, vsr, multiplier=500.0)
    v0 = black76_price(f, k, t, 0.0, vol, True)
    v12 = black76_price(f + psr, k, t - 1 / 365, 0.0, vol - vsr, True)
    assert a[11] == pytest.approx(float((v0 - v12) * 500))
    assert a[13] > a[12] > 0 > a[10]  # long call loses when the future falls


def test_span_im_rates_for_the_funding_part_of_lvar() -> None:
    rate, stressed = span_im_rates(np.array([0.01, 0.02]))
    np.testing.assert_allclose(rate, [0.0315, 0.063])  # 3 sigma x 1.05 (CME extreme)
    np.testing.assert_allclose(stressed, 2 * rate)


# ----------------------------------------------------------------------------- TIMS


def test_tims_offsets_between_class_groups_of_a_product_group() -> None:
    points = valuation_points(0.15, 10)
    assert len(points) == 11 and points[0] == -0.15 and points[5] == 0
    # long 1,000,000 of SPX exposure, short 900,000 of NDX exposure (linear): P&L = V * move
    pnl = np.vstack([1e6 * points, -9e5 * points])
    groups = np.array(["SPX", "NDX"])
    # no offset: gains do not count; the worst point (-15%) loses 150,000 on SPX
    none = tims_margin(pnl, groups, {"SPX": "index", "NDX": "index"}, {"index": 0.0})
    assert none.requirement == pytest.approx(150_000)  # losses at one point: worst -15%
    # at -15%: SPX loses 150,000, NDX gains 135,000; 90% offset credits 121,500
    ninety = tims_margin(pnl, groups, {"SPX": "index", "NDX": "index"}, {"index": 0.9})
    assert ninety.requirement == pytest.approx(150_000 - 0.9 * 135_000)
    # the same positions in separate product groups get no offset at all
    apart = tims_margin(pnl, groups, {"SPX": "a", "NDX": "b"}, {"a": 0.9, "b": 0.9})
    assert apart.requirement == pytest.approx(150_000 + 135_000)
    floor = tims_margin(
        pnl * 0, groups, {"SPX": "a", "NDX": "b"}, {}, 37.5, contracts=np.array([3, 2])
    )
    assert floor.requirement == pytest.approx(5 * 37.5)
    with pytest.raises(InputError, match="class_group"):
        tims_margin(pnl, groups, {"SPX": "a"}, {})


@given(st.floats(0, 1), st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3))
def test_tims_offset_never_increases_margin(share: float, values: list[float]) -> None:
    points = valuation_points(0.1, 4)
    pnl = np.outer(values, points)
    groups = np.array(["a", "b", "c"])
    pg = {"a": "p", "b": "p", "c": "p"}
    with_offset = tims_margin(pnl, groups, pg, {"p": share}).requirement
    assert with_offset <= tims_margin(pnl, groups, pg, {"p": 0.0}).requirement + 1e-6
    assert with_offset >= tims_margin(pnl, groups, pg, {"p": 1.0}).requirement - 1e-6


# ----------------------------------------------------------------------------- Kelly


def test_kelly_fractions_on_published_examples() -> None:
    # Even-money bet won 60% of the time: f* = 0.6 - 0.4 = 0.20 (Kelly 1956; the standard
    # example of the criterion, e.g. Thorp 2006 section 2).
    assert kelly_binary(0.6, 1.0) == pytest.approx(0.20)
    # 2-to-1 odds at 40%: f* = 0.4 - 0.6 / 2 = 0.10
    assert kelly_binary(0.4, 2.0) == pytest.approx(0.10)
    # Thorp 2006, section 7 (the stock market): m = 0.11, r = 0.06, s = 0.2 gives
    # f* = (m - r) / s^2 = 1.25 (leverage 1.25)
    assert kelly_continuous(0.11, 0.2, 0.06) == pytest.approx(1.25)


def test_fractional_kelly_capped_by_the_var_budget() -> None:
    # half Kelly of 1.25 on 10M capital is 6.25M; 99% 1-day VaR of that at 20% annual vol
    # is 2.326 * 0.2 / sqrt(252) * 6.25M = 183,166; a 100,000 budget caps the position.
    loose = size_position(1e7, 0.11, 0.2, var_budget=1e6, rate=0.06)
    assert loose.bound_by == "kelly" and loose.value == pytest.approx(6.25e6)
    tight = size_position(1e7, 0.11, 0.2, var_budget=1e5, rate=0.06)
    z = 2.3263478740408408
    assert tight.bound_by == "var"
    assert tight.value == pytest.approx(1e5 / (z * 0.2 / np.sqrt(252)), rel=1e-12)
    short = size_position(1e7, 0.01, 0.2, var_budget=1e6, rate=0.06)
    assert short.value < 0  # negative edge: Kelly says short
    with pytest.raises(InputError, match="kelly_multiplier"):
        size_position(1e7, 0.11, 0.2, 1e6, kelly_multiplier=1.5)
    with pytest.raises(InputError, match="sigma"):
        kelly_continuous(0.1, 0.0)


# ----------------------------------------------------------------------------- budgets


def test_euler_budget_allocation_consumption_and_flags() -> None:
    contrib = np.array([6.0, 2.0, 2.0, -1.0])
    labels = np.array(["macro", "macro", "rv", "hedge"])
    budget = RiskBudget(100.0).fit(contrib, labels)
    # Euler shares of the positive contributions: macro 8/10, rv 2/10, hedge 0
    assert budget.allocation_ == pytest.approx({"macro": 80.0, "rv": 20.0, "hedge": 0.0})
    lines = {x.label: x for x in budget.consumption(np.array([6, 3, 30, -2.0]), labels)}
    assert lines["rv"].over_budget and lines["rv"].consumption == pytest.approx(1.5)
    assert not lines["macro"].over_budget and lines["macro"].consumption == pytest.approx(9 / 80)
    assert not lines["hedge"].over_budget
    equal = RiskBudget(90.0, "equal").fit(contrib, labels)
    assert set(equal.allocation_.values()) == {30.0}
    with pytest.raises(InputError, match="total_budget"):
        RiskBudget(-1.0)
