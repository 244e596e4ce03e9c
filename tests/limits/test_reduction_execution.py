"""The reduction solver against a linear-programming oracle and hand-solved cases; the
venue's book walk against a plain-Python twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from riskstream.core.errors import InputError
from riskstream.limits.execution import SimulatedVenue, SyntheticDepth, walk_book
from riskstream.limits.reduction import plan_reduction, reduce_to_target


def test_known_case_takes_the_best_ratio_first_and_cuts_the_last_in_part() -> None:
    # contributions 6, 3, 1 at full-liquidation costs 3, 1, 1 (ratios 2, 3, 1); risk 10,
    # target 5: sell all of #1 (removes 3, costs 1) and 2/6 of #0 (removes 2, costs 1).
    plan = plan_reduction(
        quantity=np.array([100.0, -50.0, 10.0]),
        contribution=np.array([6.0, 3.0, 1.0]),
        unit_cost=np.array([0.03, 0.02, 0.1]),
        risk=10.0,
        target=5.0,
    )
    np.testing.assert_allclose(plan.fraction, [1 / 3, 1.0, 0.0])
    np.testing.assert_allclose(plan.trade, [-100 / 3, 50.0, 0.0])
    assert plan.order.tolist() == [1, 0] and plan.n_trades == 2
    assert plan.cost_estimate == pytest.approx(2.0)
    assert plan.risk_after_estimate == pytest.approx(5.0) and plan.feasible


def test_hedges_are_never_sold_and_no_trade_under_target() -> None:
    plan = plan_reduction(np.array([1.0, 1.0]), np.array([-2.0, 5.0]), np.ones(2), 3.0, 1.0)
    assert plan.trade[0] == 0.0 and plan.fraction[1] == pytest.approx(0.4)
    quiet = plan_reduction(np.array([1.0]), np.array([1.0]), np.ones(1), 1.0, 2.0)
    assert quiet.n_trades == 0 and quiet.cost_estimate == 0
    short = plan_reduction(np.array([1.0]), np.array([1.0]), np.ones(1), 10.0, 2.0)
    assert not short.feasible and short.fraction[0] == 1.0


def test_lots_round_trades_up_without_passing_the_position() -> None:
    plan = plan_reduction(
        np.array([250.0]), np.array([10.0]), np.ones(1), 10.0, 4.9, lot_size=np.array([100.0])
    )
    assert plan.trade.tolist() == [-200.0]
    with pytest.raises(InputError, match="unit_cost"):
        plan_reduction(np.ones(2), np.ones(2), np.array([1.0, 0.0]), 2.0, 1.0)


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.floats(-100, 100), st.floats(-5, 10), st.floats(0.01, 3)),
        min_size=1,
        max_size=7,
    ),
    st.floats(0.05, 0.95),
)
def test_plan_cost_equals_the_linear_programme_optimum(rows: list, keep: float) -> None:
    q, c, k = (np.array(x) for x in zip(*rows, strict=True))
    risk = float(np.maximum(c, 0).sum()) + 1.0
    target = keep * risk
    plan = plan_reduction(q, c, k, risk, target)
    usable = (c > 0) & (q != 0)
    if c[usable].sum() < risk - target:
        assert not plan.feasible
        return
    # min sum k|q| x  s.t.  sum c x >= risk - target, 0 <= x <= 1 (x = 0 where unusable)
    lp = linprog(
        k * np.abs(q),
        A_ub=-c[None, :],
        b_ub=[-(risk - target)],
        bounds=[(0, 1 if u else 0) for u in usable],
        method="highs",
    )
    assert lp.success
    assert plan.cost_estimate == pytest.approx(lp.fun, rel=1e-7, abs=1e-9)
    assert plan.risk_after_estimate == pytest.approx(target, rel=1e-9, abs=1e-9)
    assert np.count_nonzero((plan.fraction > 0) & (plan.fraction < 1)) <= 1


def test_reduce_to_target_reprices_until_parametric_var_is_under_target() -> None:
    # parametric VaR sqrt(q' S q) is homogeneous: Euler parts q_i (S q)_i / VaR sum to it
    cov = np.array([[4.0, 1.8, 0.0], [1.8, 1.0, 0.0], [0.0, 0.0, 2.0]])

    def risk_fn(q: np.ndarray) -> tuple[float, np.ndarray]:
        var = float(np.sqrt(q @ cov @ q))
        return var, q * (cov @ q) / var

    q0 = np.array([10.0, 10.0, -5.0])
    trade, plans = reduce_to_target(q0, risk_fn, np.array([1.0, 0.5, 2.0]), target=15.0)
    assert risk_fn(q0)[0] > 28 and risk_fn(q0 + trade)[0] <= 15.0 * (1 + 1e-9)
    assert 1 <= len(plans) <= 4
    assert np.all(np.abs(q0 + trade) <= np.abs(q0) + 1e-12)  # only ever reduces


def _walk_twin(px, sz, quantity, skip):
    notional, left, last = 0.0, quantity, px[0]
    for p, s in zip(px, sz, strict=True):
        if not s > 0 or p <= 0:
            continue
        take_from = max(s - skip, 0.0)
        skip = max(skip - s, 0.0)
        take = min(take_from, left)
        if take > 0:
            notional += take * p
            left -= take
            last = p
        if left <= 0:
            break
    return notional, quantity - left, last


@given(
    st.lists(st.floats(0, 50), min_size=1, max_size=8),
    st.floats(0.1, 300),
    st.floats(0, 100),
)
def test_book_walk_kernel_agrees_with_its_python_twin(sizes, quantity, skip) -> None:
    px = 100.0 - np.arange(len(sizes), dtype=float)
    sz = np.array(sizes)
    got = walk_book(px, sz, quantity, skip)
    want = _walk_twin(px, sz, quantity, skip)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


class _Book:
    def levels(self, instrument_id: int) -> dict[str, np.ndarray]:
        return {
            "bid_px": np.array([99.0, 98.0, 97.0]),
            "bid_sz": np.array([10.0, 20.0, 30.0]),
            "ask_px": np.array([101.0, 102.0]),
            "ask_sz": np.array([5.0, 5.0]),
        }


def test_venue_fills_against_depth_with_depletion_and_resilience() -> None:
    venue = SimulatedVenue(_Book(), np.array([2.0]), resilience_s=1.0)
    # sell 25: 10 @ 99 + 15 @ 98 = 2,460 -> 98.4; mid 100; cost 1.6 x 25 x 2 = 80
    fill = venue.execute(0, -25.0, ts_ns=0)
    assert fill.avg_price == pytest.approx(98.4) and fill.cost == pytest.approx(80.0)
    # at once, the 25 taken are gone: 5 more fill at 98
    assert venue.execute(0, -5.0, ts_ns=0).avg_price == pytest.approx(98.0)
    # after 20 resilience times the book has refilled
    assert venue.execute(0, -5.0, ts_ns=20 * 10**9).avg_price == pytest.approx(99.0, abs=1e-6)
    # buying past the visible asks pays beyond the last level
    big = venue.execute(0, 20.0, ts_ns=40 * 10**9)
    assert big.avg_price > (5 * 101 + 5 * 102 + 10 * 102) / 20 and big.visible_share == 0.5
    with pytest.raises(InputError, match="quantity"):
        venue.execute(0, 0.0, ts_ns=0)


def test_synthetic_depth_brackets_the_mid() -> None:
    depth = SyntheticDepth(np.array([100.0]), np.array([0.001]), np.array([1e6]), levels=3)
    book = depth.levels(0)
    np.testing.assert_allclose(book["bid_px"], [99.95, 99.9, 99.85])
    np.testing.assert_allclose(book["ask_px"], [100.05, 100.1, 100.15])
    np.testing.assert_allclose(book["bid_sz"], [2000.0] * 3)
