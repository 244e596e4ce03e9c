"""European options: Black-Scholes-Merton and Black-76 prices and Greeks against published
values (Hull; Haug), put-call parity, and Greeks against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.pricing import (
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
)

# --- Hull, Options, Futures and Other Derivatives (10th ed.) --------------------------------


def test_hull_example_15_6_call_and_put() -> None:
    # Hull Example 15.6: S=42, K=40, r=10%, σ=20%, T=0.5 → c = 4.76, p = 0.81 (2 decimals).
    price = bsm_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, [True, False])
    np.testing.assert_allclose(price, [4.76, 0.81], atol=0.005)


def test_hull_chapter_19_greeks_of_a_call() -> None:
    # Hull ch. 19 (Examples 19.1, 19.4, 19.6, 19.7 and the gamma example): a call with S=49,
    # K=50, r=5%, σ=20%, T=20 weeks: delta 0.522, theta -4.31 per year, gamma 0.066,
    # vega 12.1 per 1.00 of vol, rho 8.91 per 1.00 of rate (as printed, 3 s.f.).
    g = bsm_greeks(49.0, 50.0, 20 / 52, 0.05, 0.0, 0.20, True)
    assert g.price == pytest.approx(2.40, abs=0.005)  # Hull sec. 19.1: "about $240,000"
    assert g.delta == pytest.approx(0.522, abs=5e-4)
    assert g.theta == pytest.approx(-4.31, abs=5e-3)
    assert g.gamma == pytest.approx(0.066, abs=5e-4)
    assert g.vega == pytest.approx(12.1, abs=0.05)
    assert g.rho == pytest.approx(8.91, abs=5e-3)


# --- Haug, Option Pricing Formulas (1998) / The Complete Guide (2007) ----------------------
# The tables reproduced in QuantLib's test-suite (europeanoption.cpp), printed to 4 decimals.

HAUG_VALUES = [
    # right, K, S, q, r, T, σ, value; Haug pp. 2-8 (BSM with yield, Garman-Kohlhagen, Black-76)
    ("call", 65.0, 60.0, 0.00, 0.08, 0.25, 0.30, 2.1334),
    ("put", 95.0, 100.0, 0.05, 0.10, 0.50, 0.20, 2.4648),
    ("put", 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),  # Black-76 example (q = r)
    ("call", 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),
    ("call", 1.60, 1.56, 0.08, 0.06, 0.50, 0.12, 0.0291),  # Garman-Kohlhagen FX
    ("put", 70.0, 75.0, 0.05, 0.10, 0.50, 0.35, 4.0870),
    # Haug p. 24, European column of the Barone-Adesi-Whaley table
    ("call", 100.0, 90.0, 0.10, 0.10, 0.10, 0.15, 0.0205),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.10, 0.15, 1.8734),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.10, 0.15, 9.9413),
    ("call", 100.0, 90.0, 0.10, 0.10, 0.10, 0.25, 0.3150),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.10, 0.25, 3.1217),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.10, 0.25, 10.3556),
    ("call", 100.0, 90.0, 0.10, 0.10, 0.10, 0.35, 0.9474),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.10, 0.35, 4.3693),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.10, 0.35, 11.1381),
    ("call", 100.0, 90.0, 0.10, 0.10, 0.50, 0.15, 0.8069),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.50, 0.15, 4.0232),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.50, 0.15, 10.5769),
    ("call", 100.0, 90.0, 0.10, 0.10, 0.50, 0.25, 2.7026),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.50, 0.25, 6.6997),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.50, 0.25, 12.7857),
    ("call", 100.0, 90.0, 0.10, 0.10, 0.50, 0.35, 4.9329),
    ("call", 100.0, 100.0, 0.10, 0.10, 0.50, 0.35, 9.3679),
    ("call", 100.0, 110.0, 0.10, 0.10, 0.50, 0.35, 15.3086),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.10, 0.15, 9.9210),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.10, 0.15, 1.8734),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.10, 0.15, 0.0408),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.10, 0.25, 10.2155),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.10, 0.25, 3.1217),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.10, 0.25, 0.4551),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.10, 0.35, 10.8479),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.10, 0.35, 4.3693),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.10, 0.35, 1.2376),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.50, 0.15, 10.3192),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.50, 0.15, 4.0232),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.50, 0.15, 1.0646),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.50, 0.25, 12.2149),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.50, 0.25, 6.6997),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.50, 0.25, 3.2734),
    ("put", 100.0, 90.0, 0.10, 0.10, 0.50, 0.35, 14.4452),
    ("put", 100.0, 100.0, 0.10, 0.10, 0.50, 0.35, 9.3679),
    ("put", 100.0, 110.0, 0.10, 0.10, 0.50, 0.35, 5.7963),
    # Haug p. 27, European value of the Bjerksund-Stensland example
    ("call", 40.0, 42.0, 0.08, 0.04, 0.75, 0.35, 5.0975),
]


def test_haug_published_prices_vectorised() -> None:
    right, K, S, q, r, T, sigma, expected = (np.array(c) for c in zip(*HAUG_VALUES, strict=True))
    price = bsm_price(S, K, T, r, q, sigma, right == "call")
    # Printed to 4 decimals: tolerance 1e-4 (QuantLib's for the same table).
    np.testing.assert_allclose(price, expected.astype(float), atol=1e-4)


def test_haug_black76_example() -> None:
    # Haug (2007) sec. 1.1.4: futures option F=19, K=19, T=0.75, r=10%, σ=28% → 1.7011.
    assert black76_price(19.0, 19.0, 0.75, 0.10, 0.28, False) == pytest.approx(1.7011, abs=1e-4)
    assert black76_price(19.0, 19.0, 0.75, 0.10, 0.28, True) == pytest.approx(1.7011, abs=1e-4)


@pytest.mark.parametrize(
    ("greek", "right", "K", "S", "q", "r", "T", "sigma", "expected"),
    [
        # Haug (1998) pp. 11-16, as tabulated in QuantLib's europeanoption.cpp (tol 1e-4)
        ("delta", "call", 100.0, 105.0, 0.10, 0.10, 0.5, 0.36, 0.5946),
        ("delta", "put", 100.0, 105.0, 0.10, 0.10, 0.5, 0.36, -0.3566),
        ("gamma", "call", 60.0, 55.0, 0.0, 0.10, 0.75, 0.30, 0.0278),
        ("gamma", "put", 60.0, 55.0, 0.0, 0.10, 0.75, 0.30, 0.0278),
        ("vega", "call", 60.0, 55.0, 0.0, 0.10, 0.75, 0.30, 18.9358),
        ("vega", "put", 60.0, 55.0, 0.0, 0.10, 0.75, 0.30, 18.9358),
        ("theta", "put", 405.0, 430.0, 0.05, 0.07, 1 / 12, 0.20, -31.1924),
        ("rho", "call", 75.0, 72.0, 0.0, 0.09, 1.0, 0.19, 38.7325),
    ],
)
def test_haug_published_greeks(greek, right, K, S, q, r, T, sigma, expected) -> None:
    g = bsm_greeks(S, K, T, r, q, sigma, right == "call")
    assert getattr(g, greek) == pytest.approx(expected, abs=1e-4)


def test_haug_vanna_example() -> None:
    # Haug (2007) sec. 2.2.3, DdeltaDvol (vanna) example: S=90, K=80, T=0.25, r=5%, b=5%
    # (no dividend yield), σ=20% → -1.0008 per 1.00 of vol (4 decimals), the same for a
    # call and a put. Volga has no closed-form table here; it is checked against finite
    # differences of vega below.
    g = bsm_greeks(90.0, 80.0, 0.25, 0.05, 0.0, 0.20, [True, False])
    np.testing.assert_allclose(g.vanna, [-1.0008, -1.0008], atol=1e-4)


# --- invariants ---------------------------------------------------------------------------

finite = {"allow_nan": False, "allow_infinity": False}
contracts = st.tuples(
    st.floats(1.0, 500.0, **finite),  # S
    st.floats(0.5, 2.0, **finite),  # K / S
    st.floats(0.01, 5.0, **finite),  # T
    st.floats(-0.02, 0.15, **finite),  # r
    st.floats(0.0, 0.10, **finite),  # q
    st.floats(0.05, 1.0, **finite),  # σ
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(contracts)
def test_put_call_parity(contract) -> None:
    # c - p = S e^{-qT} - K e^{-rT} (Hull eq. 17.3 with a yield).
    S, moneyness, T, r, q, sigma, _ = contract
    K = S * moneyness
    call, put = bsm_price(S, K, T, r, q, sigma, [True, False])
    parity = S * np.exp(-q * T) - K * np.exp(-r * T)
    assert call - put == pytest.approx(parity, abs=1e-10 * max(S, K))


@settings(max_examples=100, deadline=None)
@given(contracts)
def test_greeks_match_central_finite_differences(contract) -> None:
    S, moneyness, T, r, q, sigma, is_call = contract
    K = S * moneyness
    g = bsm_greeks(S, K, T, r, q, sigma, is_call)

    def price(s=S, t=T, rate=r, vol=sigma):
        return float(bsm_price(s, K, t, rate, q, vol, is_call))

    hs, hv, hr, ht = 1e-4 * S, 1e-5, 1e-6, 1e-6
    # A wrong formula is wrong by O(1) relatively; central differences are right to O(h²)
    # (truncation) + O(ε/h) (rounding). Tolerance: 1e-4 relative, plus an absolute floor
    # scaled to the option's size for Greeks that are close to zero.
    tol = {"rel": 1e-4, "abs": 1e-7 * max(S, K)}
    fd = {
        "delta": (price(s=S + hs / 10) - price(s=S - hs / 10)) / (hs / 5),
        "gamma": (
            float(bsm_greeks(S + hs / 10, K, T, r, q, sigma, is_call).delta)
            - float(bsm_greeks(S - hs / 10, K, T, r, q, sigma, is_call).delta)
        )
        / (hs / 5),
        "vega": (price(vol=sigma + hv) - price(vol=sigma - hv)) / (2 * hv),
        "rho": (price(rate=r + hr) - price(rate=r - hr)) / (2 * hr),
        "theta": -(price(t=T + ht) - price(t=T - ht)) / (2 * ht),
        "vanna": (
            float(bsm_greeks(S + hs / 10, K, T, r, q, sigma, is_call).vega)
            - float(bsm_greeks(S - hs / 10, K, T, r, q, sigma, is_call).vega)
        )
        / (hs / 5),
        "volga": (
            float(bsm_greeks(S, K, T, r, q, sigma + hv, is_call).vega)
            - float(bsm_greeks(S, K, T, r, q, sigma - hv, is_call).vega)
        )
        / (2 * hv),
    }
    for name, expected in fd.items():
        abs_tol = tol["abs"] / (
            S * S if name == "gamma" else S if name in ("delta", "vanna") else 1
        )
        assert getattr(g, name) == pytest.approx(expected, rel=tol["rel"], abs=abs_tol), name


@settings(max_examples=100, deadline=None)
@given(contracts)
def test_black76_is_bsm_on_the_forward_with_rho_at_fixed_forward(contract) -> None:
    F, moneyness, T, r, _, sigma, is_call = contract
    K = F * moneyness
    g = black76_greeks(F, K, T, r, sigma, is_call)
    assert g.price == pytest.approx(float(bsm_price(F, K, T, r, r, sigma, is_call)), rel=1e-12)
    h = 1e-6
    fd_rho = (
        black76_price(F, K, T, r + h, sigma, is_call)
        - black76_price(F, K, T, r - h, sigma, is_call)
    ) / (2 * h)
    assert g.rho == pytest.approx(float(fd_rho), abs=1e-5 * max(F, K))
    assert g.rho == pytest.approx(-T * g.price, rel=1e-12)


def test_grid_broadcasting_shape() -> None:
    # The risk engine prices (n_options, n_spot_shocks, n_vol_shocks) grids by broadcasting.
    n = 5
    S = np.linspace(80, 120, n)[:, None, None]
    spot_shocks = np.exp(np.linspace(-0.2, 0.2, 7))[None, :, None]
    vol_shocks = np.linspace(0.5, 2.0, 3)[None, None, :]
    out = bsm_price(S * spot_shocks, 100.0, 0.5, 0.03, 0.01, 0.25 * vol_shocks, True)
    assert out.shape == (n, 7, 3)
    g = bsm_greeks(S * spot_shocks, 100.0, 0.5, 0.03, 0.01, 0.25 * vol_shocks, True)
    assert all(field.shape == (n, 7, 3) for field in g)


def test_expired_and_zero_vol_limits() -> None:
    # At T = 0 the value is intrinsic; with σ = 0 it is the discounted forward intrinsic value.
    assert bsm_price(110.0, 100.0, 0.0, 0.05, 0.0, 0.2, True) == pytest.approx(10.0)
    assert bsm_price(90.0, 100.0, -1.0, 0.05, 0.0, 0.2, False) == pytest.approx(10.0)
    S, K, T, r, q = 110.0, 100.0, 1.0, 0.05, 0.02
    g = bsm_greeks(S, K, T, r, q, 0.0, True)
    assert g.price == pytest.approx(S * np.exp(-q * T) - K * np.exp(-r * T))
    assert g.delta == pytest.approx(np.exp(-q * T))
    assert g.rho == pytest.approx(K * T * np.exp(-r * T))
    assert g.gamma == 0.0 and g.vega == 0.0
    # ... and the zero-vol price is the limit of small vols.
    assert bsm_price(S, K, T, r, q, 1e-6, True) == pytest.approx(g.price, rel=1e-9)
    g0 = bsm_greeks(90.0, 100.0, 0.0, 0.05, 0.0, 0.2, True)
    assert g0.price == 0.0 and g0.delta == 0.0 and g0.theta == 0.0


def test_nan_propagates_and_negative_vol_is_rejected() -> None:
    out = bsm_price([100.0, np.nan], 100.0, 1.0, 0.05, 0.0, 0.2, True)
    assert np.isfinite(out[0]) and np.isnan(out[1])
    with pytest.raises(InputError, match=r"sigma.*-0\.1"):
        bsm_price(100.0, 100.0, 1.0, 0.05, 0.0, -0.1, True)
    with pytest.raises(InputError, match="sigma"):
        bsm_greeks(100.0, 100.0, 1.0, 0.05, 0.0, [0.2, -0.2], True)
