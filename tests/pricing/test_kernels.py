"""numba kernels against their plain-Python / numpy twins, and implied volatility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.pricing import (
    american_price,
    black76_implied_vol,
    black76_price,
    bsm_implied_vol,
    bsm_price,
    bsm_price_grid,
    bsm_price_grid_parallel,
)


def test_grid_kernel_matches_numpy_broadcasting() -> None:
    # The risk engine's (n_options, n_spot, n_vol) revaluation: numba kernel vs the numpy
    # closed form broadcast over the same grid, including expired and zero-vol options.
    rng = np.random.default_rng(5)
    n = 300
    S = rng.uniform(20, 200, n)
    K = S * rng.uniform(0.7, 1.3, n)
    T = rng.uniform(0.0, 2.0, n)
    T[:5] = 0.0
    r = rng.uniform(0.0, 0.08, n)
    q = rng.uniform(0.0, 0.05, n)
    sigma = rng.uniform(0.05, 0.8, n)
    sigma[5:8] = 0.0
    is_call = rng.random(n) < 0.5
    spot_factors = np.exp(np.linspace(-0.3, 0.3, 21))
    vol_factors = np.linspace(0.5, 2.0, 11)
    grid = bsm_price_grid(S, K, T, r, q, sigma, is_call, spot_factors, vol_factors)
    twin = bsm_price(
        S[:, None, None] * spot_factors[None, :, None],
        K[:, None, None],
        T[:, None, None],
        r[:, None, None],
        q[:, None, None],
        sigma[:, None, None] * vol_factors[None, None, :],
        is_call[:, None, None],
    )
    assert grid.shape == (n, 21, 11)
    np.testing.assert_allclose(grid, twin, rtol=1e-12, atol=1e-12 * S.max())
    # The threaded build of the same loop gives the same numbers, bit for bit.
    parallel = bsm_price_grid_parallel(S, K, T, r, q, sigma, is_call, spot_factors, vol_factors)
    np.testing.assert_array_equal(parallel, grid)


def tree_twin(S, K, T, r, q, sigma, is_call, steps, leisen_reimer=True, american=True):
    """Plain-Python binomial tree (Hull ch. 13 and 21; Leisen and Reimer 1996)."""
    n = steps + (1 if leisen_reimer and steps % 2 == 0 else 0)
    dt = T / n
    growth = math.exp((r - q) * dt)
    if leisen_reimer:

        def peizer_pratt(z):
            a = z / (n + 1 / 3 + 0.1 / (n + 1))
            root = math.sqrt(0.25 - 0.25 * math.exp(-a * a * (n + 1 / 6)))
            return 0.5 + root if z >= 0 else 0.5 - root

        d1 = (math.log(S / K) + (r - q + sigma**2 / 2) * T) / (sigma * math.sqrt(T))
        d2 = d1 - sigma * math.sqrt(T)
        p = peizer_pratt(d2)
        u = growth * peizer_pratt(d1) / p
        d = (growth - p * u) / (1 - p)
    else:
        u = math.exp(sigma * math.sqrt(dt))
        d = 1 / u
        p = (growth - d) / (u - d)
    w = 1 if is_call else -1
    disc = math.exp(-r * dt)
    values = [max(w * (S * u**j * d ** (n - j) - K), 0.0) for j in range(n + 1)]
    for i in range(n - 1, -1, -1):
        values = [disc * (p * values[j + 1] + (1 - p) * values[j]) for j in range(i + 1)]
        if american:
            values = [max(values[j], w * (S * u**j * d ** (i - j) - K)) for j in range(i + 1)]
    return values[0]


@pytest.mark.parametrize("method", ["leisen-reimer", "crr"])
def test_tree_kernel_matches_plain_python_twin(method) -> None:
    rng = np.random.default_rng(6)
    for _ in range(40):
        S, K = rng.uniform(50, 150), rng.uniform(50, 150)
        T, r, q, sigma = rng.uniform(0.1, 2), rng.uniform(0, 0.1), rng.uniform(0, 0.08), 0.3
        is_call = bool(rng.random() < 0.5)
        for american in (True, False):
            mine = float(
                american_price(
                    S, K, T, r, q, sigma, is_call, steps=51, method=method, american=american
                )
            )
            twin = tree_twin(
                S,
                K,
                T,
                r,
                q,
                sigma,
                is_call,
                51,
                leisen_reimer=method == "leisen-reimer",
                american=american,
            )
            assert mine == pytest.approx(twin, rel=1e-11, abs=1e-12 * S)


finite = {"allow_nan": False, "allow_infinity": False}


@settings(max_examples=300, deadline=None)
@given(
    S=st.floats(1.0, 1000.0, **finite),
    moneyness=st.floats(0.5, 2.0, **finite),
    T=st.floats(1 / 365, 10.0, **finite),
    r=st.floats(-0.02, 0.15, **finite),
    q=st.floats(0.0, 0.1, **finite),
    sigma=st.floats(0.01, 3.0, **finite),
    is_call=st.booleans(),
)
def test_implied_vol_round_trip(S, moneyness, T, r, q, sigma, is_call) -> None:
    K = S * moneyness
    price = float(bsm_price(S, K, T, r, q, sigma, is_call))
    vol = float(bsm_implied_vol(price, S, K, T, r, q, is_call))
    # Recover σ where the price carries information about it: vega * 1e-6 above the price's
    # rounding (1e-13 of the spot). Otherwise the returned σ must still reprice the option.
    vega = (
        S
        * math.exp(-q * T)
        * math.sqrt(T)
        * math.exp(
            -0.5 * ((math.log(S / K) + (r - q + sigma**2 / 2) * T) / (sigma * math.sqrt(T))) ** 2
        )
        / math.sqrt(2 * math.pi)
    )
    if vega * 1e-6 > 1e-13 * S:
        assert vol == pytest.approx(sigma, rel=1e-6)
    elif not math.isnan(vol):
        assert float(bsm_price(S, K, T, r, q, vol, is_call)) == pytest.approx(price, abs=1e-12 * S)


def test_implied_vol_edges() -> None:
    # Below intrinsic (arbitrage) or above the upper bound: NaN; exactly intrinsic: 0.
    S, K, T, r = 100.0, 90.0, 1.0, 0.05
    forward_intrinsic = S - K * math.exp(-r * T)
    vols = bsm_implied_vol(
        [forward_intrinsic - 0.5, forward_intrinsic, S + 1.0, np.nan, 5.0],
        S,
        K,
        [T, T, T, T, 0.0],
        r,
        0.0,
        True,
    )
    assert math.isnan(vols[0]) and vols[1] == 0.0 and math.isnan(vols[2])
    assert math.isnan(vols[3]) and math.isnan(vols[4])
    # Black-76: Haug's futures option example F=19, K=19, T=0.75, r=10% at σ=28%.
    price = black76_price(19.0, 19.0, 0.75, 0.10, 0.28, False)
    assert black76_implied_vol(price, 19.0, 19.0, 0.75, 0.10, False) == pytest.approx(0.28)
    # Vectorised over a (3, 4) grid.
    sig = np.linspace(0.1, 0.6, 12).reshape(3, 4)
    prices = bsm_price(100.0, 105.0, 0.5, 0.03, 0.01, sig, True)
    np.testing.assert_allclose(
        bsm_implied_vol(prices, 100.0, 105.0, 0.5, 0.03, 0.01, True), sig, rtol=1e-9
    )
