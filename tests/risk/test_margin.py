"""SPAN against published worked examples and TIMS by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.pricing.black_scholes import black76_price
from riskstream.risk.margin import (
    futures_risk_array,
    inter_commodity_credit,
    intra_commodity_charge,
    option_risk_array,
    price_scan_range,
    scan_risk,
    scan_risk_by_group,
    span_requirement,
    span_scenarios,
    tims_margin,
    valuation_points,
)

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


def test_scan_range_and_a_futures_requirement() -> None:
    # 3 daily sigmas of 1% over a one-day margin period: 3%; over 4 days twice that
    np.testing.assert_allclose(price_scan_range(np.array([0.01, 0.02])), [0.03, 0.06])
    assert price_scan_range(np.array([0.01]), 3.0, 4.0)[0] == pytest.approx(0.06)
    # a long future worth 1,000,000 with a 3% scan range: the CME extreme move governs,
    # 3 x 3% x 35% = 3.15% -> 31,500
    array = futures_risk_array(0.03 * 1_000_000)
    assert scan_risk(array[None], np.array([1.0]))[0] == pytest.approx(31_500)
    with pytest.raises(InputError, match="sigma_daily"):
        price_scan_range(np.array([-0.01]))


def test_scan_risk_by_group_nets_within_and_never_across_commodities() -> None:
    # McMillan's future and call (tested above) in two combined commodities, with
    # another future on its own: each group's scan risk is scan_risk of its rows
    rows = np.vstack([MCMILLAN_FUTURE, MCMILLAN_CALL, -MCMILLAN_FUTURE, 2 * MCMILLAN_FUTURE])
    quantity = np.array([1.0, -1.0, 1.0, 1.0])
    group = np.array([7, 7, 3, 3])
    groups, scan = scan_risk_by_group(rows * quantity[:, None], group)
    assert groups.tolist() == [3, 7]
    assert scan[1] == scan_risk(rows[:2], quantity[:2])[0]  # future - call: netted
    # group 3: -F + 2F = +F, never offset against group 7
    assert scan[0] == scan_risk(MCMILLAN_FUTURE[None], np.array([1.0]))[0] == 10_000
    # a group that gains in every scenario needs no margin (scan risk floors at zero)
    gains = scan_risk_by_group(-np.abs(rows[:1]) - 1.0, np.array([0]))[1]
    assert gains.tolist() == [0.0]


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
