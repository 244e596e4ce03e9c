"""Forwards, futures and FX forwards: Hull's examples and covered interest parity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.pricing import (
    forward_greeks,
    forward_price,
    forward_value,
    futures_delta,
    futures_rho,
    fx_forward_rate,
    fx_forward_rate_simple,
)


def test_hull_forward_price_examples() -> None:
    # Hull (10th ed.) Example 5.2: a 4-month forward on a non-dividend stock, S=40, r=5 %
    # (continuous) → F = 40 e^{0.05 x 4/12} = 40.67.
    assert forward_price(40.0, 4 / 12, 0.05) == pytest.approx(40.67, abs=0.005)
    # Example 5.4 (Hull sec. 5.7): a long forward on a non-dividend stock with 6 months
    # left, S=25, K=24, r=10 % → value 25 - 24 e^{-0.1 x 0.5} = 2.17.
    assert forward_value(25.0, 24.0, 0.5, 0.10) == pytest.approx(2.17, abs=0.005)
    # Sec. 5.9, FX (eq. 5.9): AUD/USD spot 0.7500, 2-year rates 1 % (USD) and 3 % (AUD),
    # continuous → F = 0.7500 e^{(0.01 - 0.03) x 2} = 0.7206.
    assert fx_forward_rate(0.75, 2.0, 0.01, 0.03) == pytest.approx(0.7206, abs=5e-5)


def test_fx_forward_with_money_market_rates() -> None:
    # EUR/USD 1.0850, 91 days, USD deposit 5.30 % (ACT/360), EUR 3.80 % (ACT/360):
    # F = 1.0850 (1 + 0.053 x 91/360) / (1 + 0.038 x 91/360).
    expected = 1.0850 * (1 + 0.053 * 91 / 360) / (1 + 0.038 * 91 / 360)
    assert fx_forward_rate_simple(1.0850, 91, 0.053, 0.038) == pytest.approx(expected, rel=1e-15)
    # GBP deposits count ACT/365: GBP/USD with the GBP rate on a 365-day basis.
    f = fx_forward_rate_simple(1.27, 182, 0.05, 0.045, basis_domestic=360, basis_foreign=365)
    assert f == pytest.approx(1.27 * (1 + 0.05 * 182 / 360) / (1 + 0.045 * 182 / 365))
    # The same deposits as continuously compounded rates give the same forward (no arbitrage).
    T = 91 / 360
    rd, rf = np.log(1 + 0.053 * T) / T, np.log(1 + 0.038 * T) / T
    assert fx_forward_rate(1.0850, T, rd, rf) == pytest.approx(expected, rel=1e-14)


finite = {"allow_nan": False, "allow_infinity": False}


@settings(max_examples=100, deadline=None)
@given(
    S=st.floats(1.0, 1000.0, **finite),
    K=st.floats(1.0, 1000.0, **finite),
    T=st.floats(0.0, 5.0, **finite),
    r=st.floats(-0.02, 0.15, **finite),
    q=st.floats(0.0, 0.1, **finite),
)
def test_forward_greeks_match_finite_differences(S, K, T, r, q) -> None:
    g = forward_greeks(S, K, T, r, q)
    # A forward struck at today's forward price is worth zero.
    assert forward_value(S, forward_price(S, T, r, q), T, r, q) == pytest.approx(0.0, abs=1e-12 * S)
    h = 1e-6
    assert g.delta == pytest.approx(
        (forward_value(S + h, K, T, r, q) - forward_value(S - h, K, T, r, q)) / (2 * h), rel=1e-6
    )
    assert g.rho == pytest.approx(
        (forward_value(S, K, T, r + h, q) - forward_value(S, K, T, r - h, q)) / (2 * h),
        rel=1e-5,
        abs=1e-5 * K,
    )
    assert g.rho_yield == pytest.approx(
        (forward_value(S, K, T, r, q + h) - forward_value(S, K, T, r, q - h)) / (2 * h),
        rel=1e-5,
        abs=1e-5 * S,
    )
    if h < T / 2:
        assert g.theta == pytest.approx(
            -(forward_value(S, K, T + h, r, q) - forward_value(S, K, T - h, r, q)) / (2 * h),
            rel=1e-5,
            abs=1e-5 * (S + K),
        )
    assert futures_delta(T, r, q) == pytest.approx(
        float((forward_price(S + h, T, r, q) - forward_price(S - h, T, r, q)) / (2 * h)), rel=1e-6
    )
    assert futures_rho(S, T, r, q) == pytest.approx(
        float((forward_price(S, T, r + h, q) - forward_price(S, T, r - h, q)) / (2 * h)),
        rel=1e-5,
        abs=1e-6 * S,
    )
