"""Bonds: textbook examples (Hull ch. 4; Fabozzi), key-rate durations, yield round trips,
dated bonds with accrued interest, and bad input. QuantLib comparisons are in
test_quantlib.py."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.pricing import (
    FixedRateBond,
    ZeroCurve,
    bond_accrued_interest,
    bond_price_from_curve,
    bond_price_from_yield,
    bond_risk,
    bond_yield_from_price,
    effective_duration,
    key_rate_durations,
)

HULL_CURVE = ZeroCurve([0.5, 1.0, 1.5, 2.0], [0.050, 0.058, 0.064, 0.068])


def test_hull_table_4_2_bond_price_from_zero_curve_and_its_yield() -> None:
    # Hull (10th ed.) sec. 4.4, Table 4.2: a 2-year bond, 6 % coupon paid semiannually,
    # on zero rates 5.0, 5.8, 6.4, 6.8 % (continuous) → price 98.39; its yield is 6.76 %
    # with continuous compounding.
    price = bond_price_from_curve(HULL_CURVE, 0.06, 2.0, 2)
    assert price == pytest.approx(98.39, abs=0.005)
    y = bond_yield_from_price(price, 0.06, 2.0, 2, compounding="continuous")
    assert y == pytest.approx(0.0676, abs=5e-5)


def test_hull_table_4_6_duration_and_convexity() -> None:
    # Hull sec. 4.8-4.9, Table 4.6: 3-year 10 % semiannual bond at a 12 % continuously
    # compounded yield: price 94.213, duration 2.653 years; convexity 7.570 (sec. 4.9).
    risk = bond_risk(0.12, 0.10, 3.0, 2, compounding="continuous")
    assert risk.dirty_price == pytest.approx(94.213, abs=5e-4)
    assert risk.macaulay_duration == pytest.approx(2.653, abs=5e-4)
    assert risk.modified_duration == pytest.approx(2.653, abs=5e-4)  # continuous: D* = D
    assert risk.convexity == pytest.approx(7.570, abs=5e-4)
    # Hull Example 4.? (sec. 4.8): with semiannual compounding the yield is 12.3673 % and
    # the modified duration 2.653 / (1 + 0.123673 / 2) = 2.4985.
    y_semi = 2 * (np.exp(0.12 / 2) - 1)
    assert y_semi == pytest.approx(0.123673, abs=5e-7)
    semi = bond_risk(y_semi, 0.10, 3.0, 2)
    assert semi.dirty_price == pytest.approx(94.213, abs=5e-4)
    assert semi.modified_duration == pytest.approx(2.4985, abs=5e-5)


def test_fabozzi_price_of_a_20_year_bond() -> None:
    # Fabozzi, Bond Markets, Analysis and Strategies, ch. 2: a 20-year 10 % coupon bond
    # (semiannual) at an 11 % required yield is worth $919.77 per $1,000 (91.977 per 100);
    # at a 6.8 % yield a 10 % bond is priced at a premium, at 10 % at par.
    assert bond_price_from_yield(0.11, 0.10, 20.0, 2) == pytest.approx(91.977, abs=5e-4)
    assert bond_price_from_yield(0.10, 0.10, 20.0, 2) == pytest.approx(100.0, abs=1e-10)
    assert bond_price_from_yield(0.068, 0.10, 20.0, 2) > 100.0


def test_key_rate_durations_sum_to_the_parallel_duration() -> None:
    # Linear interpolation weights sum to one, so bumping each pillar in turn adds up to a
    # parallel shift: Σ KRD = effective duration (to 1e-8), and on a flat curve at the
    # bond's continuous yield that is the modified (= Macaulay) duration, up to the central
    # difference's error t² h² / 6 with h = 1 bp (< 2e-6 relative at 30 years);
    # Σ KRD x P x 1e-4 is then the DV01 to the same tolerance.
    krd = key_rate_durations(HULL_CURVE, 0.06, 2.0, 2)
    assert krd.shape == (4,)
    assert krd.sum() == pytest.approx(float(effective_duration(HULL_CURVE, 0.06, 2.0, 2)), rel=1e-8)
    flat = ZeroCurve.flat(0.05)
    coupon = np.array([0.0, 0.03, 0.08])
    maturity = np.array([7.0, 12.25, 29.6])
    krd = key_rate_durations(flat, coupon, maturity, 2)
    assert krd.shape == (3, flat.n_pillars)
    risk = bond_risk(0.05, coupon, maturity, 2, compounding="continuous")
    np.testing.assert_allclose(krd.sum(axis=-1), risk.modified_duration, rtol=2e-6)
    np.testing.assert_allclose(krd.sum(axis=-1) * risk.dirty_price * 1e-4, risk.dv01, rtol=2e-6)
    # A zero-coupon bond maturing on a pillar has all its duration on that pillar.
    zero = key_rate_durations(flat, 0.0, 10.0, 1)
    assert zero[list(flat.times).index(10.0)] == pytest.approx(10.0, rel=2e-7)
    assert np.abs(np.delete(zero, list(flat.times).index(10.0))).max() < 1e-12


finite = {"allow_nan": False, "allow_infinity": False}


@settings(max_examples=200, deadline=None)
@given(
    y=st.floats(-0.01, 0.25, **finite),
    coupon=st.floats(0.0, 0.15, **finite),
    maturity=st.floats(0.05, 40.0, **finite),
    frequency=st.sampled_from([1, 2, 4, 12]),
    continuous=st.booleans(),
)
def test_yield_round_trip_and_duration_is_the_price_derivative(
    y, coupon, maturity, frequency, continuous
) -> None:
    comp = "continuous" if continuous else "periodic"
    price = float(bond_price_from_yield(y, coupon, maturity, frequency, compounding=comp))
    assert float(
        bond_yield_from_price(price, coupon, maturity, frequency, compounding=comp)
    ) == pytest.approx(y, abs=1e-10)
    risk = bond_risk(y, coupon, maturity, frequency, compounding=comp)
    h = 1e-5
    up = float(bond_price_from_yield(y + h, coupon, maturity, frequency, compounding=comp))
    down = float(bond_price_from_yield(y - h, coupon, maturity, frequency, compounding=comp))
    assert float(risk.modified_duration) == pytest.approx(-(up - down) / (2 * h * price), rel=1e-6)
    assert float(risk.convexity) == pytest.approx(
        (up - 2 * price + down) / (h * h * price), rel=1e-3, abs=1e-3
    )


def test_accrued_interest_and_clean_price_time_based() -> None:
    # 5 % semiannual, 4.75 years left: half a period has run, accrued = 100 x 0.025 x 0.5.
    assert bond_accrued_interest(0.05, 4.75, 2) == pytest.approx(1.25)
    assert bond_accrued_interest(0.05, 5.0, 2) == pytest.approx(0.0)  # on a coupon date
    dirty = bond_price_from_yield(0.05, 0.05, 4.75, 2)
    clean = bond_price_from_yield(0.05, 0.05, 4.75, 2, clean=True)
    assert dirty - clean == pytest.approx(1.25)
    # Priced at its coupon rate, a bond is at par clean only on coupon dates; in between the
    # clean price is just below par (the accrued coupon is paid later than it accrues).
    assert bond_price_from_yield(0.05, 0.05, 5.0, 2, clean=True) == pytest.approx(100.0)
    assert 99.9 < clean < 100.0


def test_dated_bond_30_360_schedule_and_accrued() -> None:
    # A 6 % semiannual bond maturing 15 Nov 2030, settled 21 Feb 2026: coupons 15 May and
    # 15 Nov; 30/360 days from 15 Nov 2025 to 21 Feb 2026 = 96 of 180, so accrued =
    # 3 x 96 / 180 = 1.6 per 100, and 10 coupons remain.
    bond = FixedRateBond(dt.date(2030, 11, 15), 0.06, 2, "30/360")
    settle = dt.date(2026, 2, 21)
    previous, next_, remaining = bond.coupon_period(settle)
    assert (previous, next_, remaining) == (dt.date(2025, 11, 15), dt.date(2026, 5, 15), 10)
    assert bond.accrued_interest(settle) == pytest.approx(1.6)
    assert bond.maturity_years(settle) == pytest.approx((9 + 84 / 180) / 2)
    y = float(bond.yield_from_clean_price(settle, 98.5))
    assert float(bond.clean_price(settle, y)) == pytest.approx(98.5, abs=1e-9)
    # ACT/ACT-ICMA: 98 actual days of 181 have run.
    icma = FixedRateBond(dt.date(2030, 11, 15), 0.06, 2, "ACT/ACT-ICMA")
    assert icma.accrued_interest(settle) == pytest.approx(3.0 * 98 / 181)
    # End of month: a bond maturing 31 Aug pays on 28/29 Feb and 31 Aug.
    eom = FixedRateBond(dt.date(2030, 8, 31), 0.04, 2)
    assert eom.coupon_period(dt.date(2026, 1, 10))[1] == dt.date(2026, 2, 28)


def test_bad_bond_inputs() -> None:
    with pytest.raises(InputError, match="maturity_years"):
        bond_price_from_yield(0.05, 0.05, 0.0, 2)
    with pytest.raises(InputError, match="frequency"):
        FixedRateBond(dt.date(2030, 1, 1), 0.05, 3)
    with pytest.raises(InputError, match="day_count"):
        FixedRateBond(dt.date(2030, 1, 1), 0.05, 2, "ACT/360")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="settlement"):
        FixedRateBond(dt.date(2030, 1, 1), 0.05).accrued_interest(dt.date(2031, 1, 1))
    with pytest.raises(InputError, match="times"):
        ZeroCurve([1.0, 0.5], [0.03, 0.04])
    with pytest.raises(InputError, match="zero_rates"):
        ZeroCurve([0.5, 1.0], [0.03])
    with pytest.raises(InputError, match="compounding"):
        bond_price_from_yield(0.05, 0.05, 5.0, 2, compounding="simple")  # type: ignore[arg-type]
    assert np.isnan(bond_yield_from_price(-5.0, 0.05, 5.0, 2))
