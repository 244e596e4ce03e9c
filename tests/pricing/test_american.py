"""American options: Hull's binomial-tree numbers, Haug's tables, and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.pricing import (
    american_black76_greeks,
    american_greeks,
    american_price,
    black76_price,
    bsm_greeks,
    bsm_price,
)


def test_hull_american_put_on_cox_ross_rubinstein_trees() -> None:
    # Hull, Options, Futures and Other Derivatives (10th ed.), Example 21.1 / Figure 21.3:
    # S=50, K=50, r=10%, σ=40%, T=5 months. The 5-step tree gives 4.49 (2 decimals) and
    # "30, 50, 100 and 500 time steps give 4.263, 4.272, 4.278 and 4.283" (3 decimals).
    args = (50.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, False)
    assert american_price(*args, steps=5, method="crr") == pytest.approx(4.49, abs=0.005)
    for steps, expected in [(30, 4.263), (50, 4.272), (100, 4.278), (500, 4.283)]:
        assert american_price(*args, steps=steps, method="crr") == pytest.approx(expected, abs=5e-4)
    # Leisen-Reimer and the PDE converge to the same limit (4.2840 with 10,001 LR steps).
    limit = float(american_price(*args, steps=10_001))
    assert american_price(*args) == pytest.approx(limit, abs=5e-4)
    assert american_price(*args, method="pde") == pytest.approx(limit, abs=1e-3)


# Haug, Option Pricing Formulas (1998) p. 24 (= The Complete Guide, 2nd ed., Table 3-1):
# Barone-Adesi-Whaley approximations for American options, K=100, r=10%, b=0 (q=10%).
BAW_TABLE = [
    # right, S, T, σ, BAW value
    ("call", 90, 0.1, 0.15, 0.0206),
    ("call", 100, 0.1, 0.15, 1.8771),
    ("call", 110, 0.1, 0.15, 10.0089),
    ("call", 90, 0.1, 0.25, 0.3159),
    ("call", 100, 0.1, 0.25, 3.1280),
    ("call", 110, 0.1, 0.25, 10.3919),
    ("call", 90, 0.1, 0.35, 0.9495),
    ("call", 100, 0.1, 0.35, 4.3777),
    ("call", 110, 0.1, 0.35, 11.1679),
    ("call", 90, 0.5, 0.15, 0.8208),
    ("call", 100, 0.5, 0.15, 4.0842),
    ("call", 110, 0.5, 0.15, 10.8087),
    ("call", 90, 0.5, 0.25, 2.7437),
    ("call", 100, 0.5, 0.25, 6.8015),
    ("call", 110, 0.5, 0.25, 13.0170),
    ("call", 90, 0.5, 0.35, 5.0063),
    ("call", 100, 0.5, 0.35, 9.5106),
    ("call", 110, 0.5, 0.35, 15.5689),
    ("put", 90, 0.1, 0.15, 10.0000),
    ("put", 100, 0.1, 0.15, 1.8770),
    ("put", 110, 0.1, 0.15, 0.0410),
    ("put", 90, 0.1, 0.25, 10.2533),
    ("put", 100, 0.1, 0.25, 3.1277),
    ("put", 110, 0.1, 0.25, 0.4562),
    ("put", 90, 0.1, 0.35, 10.8787),
    ("put", 100, 0.1, 0.35, 4.3777),
    ("put", 110, 0.1, 0.35, 1.2402),
    ("put", 90, 0.5, 0.15, 10.5595),
    ("put", 100, 0.5, 0.15, 4.0842),
    ("put", 110, 0.5, 0.15, 1.0822),
    ("put", 90, 0.5, 0.25, 12.4419),
    ("put", 100, 0.5, 0.25, 6.8014),
    ("put", 110, 0.5, 0.25, 3.3226),
    ("put", 90, 0.5, 0.35, 14.6945),
    ("put", 100, 0.5, 0.35, 9.5104),
    ("put", 110, 0.5, 0.35, 5.8823),
]


def test_haug_barone_adesi_whaley_table() -> None:
    right, S, T, sigma, baw = (np.array(col) for col in zip(*BAW_TABLE, strict=True))
    baw = baw.astype(float)
    tree = american_price(
        S.astype(float), 100.0, T.astype(float), 0.10, 0.10, sigma.astype(float), right == "call"
    )
    pde = american_price(
        S.astype(float),
        100.0,
        T.astype(float),
        0.10,
        0.10,
        sigma.astype(float),
        right == "call",
        method="pde",
    )
    # BAW is a quadratic approximation; against exact values it errs by up to ~1 % at
    # T = 0.5 (Barone-Adesi and Whaley 1987, Table IV; it overprices here, most for
    # out-of-the-money options). Tolerance: 1.2 % of the value + 0.002. Tree and PDE agree
    # with each other to 1e-3.
    np.testing.assert_array_less(np.abs(tree - baw), 1.2e-2 * baw + 2e-3)
    np.testing.assert_allclose(pde, tree, atol=1e-3)
    # Same table, last line (QuantLib americanoption.cpp): r = q = 0 put, 4.2294, where
    # early exercise is worthless and the value is the European one.
    assert american_price(100.0, 100.0, 0.5, 0.0, 0.0, 0.15, False) == pytest.approx(
        4.2294, abs=1e-4
    )


def test_haug_bjerksund_stensland_example_is_a_lower_bound() -> None:
    # Haug (1998) p. 27: American call S=42, K=40, T=0.75, r=4%, q=8%, σ=35%;
    # Bjerksund-Stensland (1993) gives 5.2704, a lower bound by construction (it exercises
    # at a flat boundary); the European value is 5.0975. The exact value lies above both,
    # within ~1 % of the approximation.
    exact = float(american_price(42.0, 40.0, 0.75, 0.04, 0.08, 0.35, True, steps=2001))
    assert 5.2704 < exact < 5.2704 * 1.01
    assert exact > float(bsm_price(42.0, 40.0, 0.75, 0.04, 0.08, 0.35, True))


finite = {"allow_nan": False, "allow_infinity": False}
contracts = st.tuples(
    st.floats(20.0, 200.0, **finite),
    st.floats(0.7, 1.4, **finite),
    st.floats(0.05, 2.0, **finite),
    st.floats(0.0, 0.10, **finite),
    st.floats(0.0, 0.08, **finite),
    st.floats(0.1, 0.6, **finite),
    st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(contracts)
def test_american_bounds(contract) -> None:
    # max(intrinsic, European) <= American <= S (call) or K (put); with no dividend the
    # American call is never exercised early and equals the European (Merton 1973).
    S, m, T, r, q, sigma, is_call = contract
    K = S * m
    value = float(american_price(S, K, T, r, q, sigma, is_call))
    european = float(bsm_price(S, K, T, r, q, sigma, is_call))
    intrinsic = max(S - K, 0.0) if is_call else max(K - S, 0.0)
    assert value >= max(intrinsic, european) - 2e-4 * S
    assert value <= (S if is_call else K)
    if is_call:
        no_dividend = float(american_price(S, K, T, r, 0.0, sigma, True))
        assert no_dividend == pytest.approx(
            float(bsm_price(S, K, T, r, 0.0, sigma, True)), abs=2e-4 * S
        )


def test_european_exercise_on_the_tree_and_pde_reproduces_black_scholes() -> None:
    rng = np.random.default_rng(3)
    n = 200
    S = rng.uniform(50, 150, n)
    K = rng.uniform(60, 140, n)
    T = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(0.0, 0.08, n)
    q = rng.uniform(0.0, 0.05, n)
    sigma = rng.uniform(0.1, 0.5, n)
    is_call = rng.random(n) < 0.5
    exact = bsm_price(S, K, T, r, q, sigma, is_call)
    tree = american_price(S, K, T, r, q, sigma, is_call, american=False)
    pde = american_price(S, K, T, r, q, sigma, is_call, american=False, method="pde")
    # Leisen-Reimer with 201 steps: ~1e-5 of spot; the PDE (400 x 800): ~1e-4 of spot.
    np.testing.assert_array_less(np.abs(tree - exact), 2e-5 * S)
    np.testing.assert_array_less(np.abs(pde - exact), 1e-4 * S)


def test_pde_greeks_of_a_call_without_dividends_match_the_closed_form() -> None:
    # Without dividends an American call is European, so every Greek of the PDE solver
    # (grid delta, gamma, PDE theta; bumped vega, volga, vanna, rho) has a closed form.
    S, K, T, r, sigma = 95.0, 100.0, 0.75, 0.05, 0.3
    american = american_greeks(S, K, T, r, 0.0, sigma, True)
    exact = bsm_greeks(S, K, T, r, 0.0, sigma, True)
    for name in exact._fields:
        assert getattr(american, name) == pytest.approx(
            float(getattr(exact, name)), rel=2e-3, abs=2e-4
        ), name


def test_american_options_on_futures() -> None:
    # Black-76 with early exercise: worth at least the European Black-76 value; rho is
    # dV/dr with F fixed (checked by repricing).
    F, K, T, r, sigma = 100.0, 105.0, 1.0, 0.08, 0.25
    g = american_black76_greeks(F, K, T, r, sigma, False)
    assert g.price >= black76_price(F, K, T, r, sigma, False)
    h = 1e-4
    up = american_price(F, K, T, r + h, r + h, sigma, False, method="pde")
    down = american_price(F, K, T, r - h, r - h, sigma, False, method="pde")
    assert g.rho == pytest.approx(float((up - down) / (2 * h)), rel=1e-6)


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="method"):
        american_price(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, True, method="trinomial")
    with pytest.raises(InputError, match="sigma"):
        american_price(100.0, 100.0, 1.0, 0.05, 0.0, -0.2, True)
    with pytest.raises(InputError, match="steps"):
        american_price(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, True, steps=1)
    # Expired: intrinsic value; zero volatility: the best deterministic exercise date.
    assert american_price(90.0, 100.0, 0.0, 0.05, 0.0, 0.2, False) == pytest.approx(10.0)
    assert american_price(90.0, 100.0, 1.0, 0.05, 0.0, 0.0, False) == pytest.approx(10.0)
