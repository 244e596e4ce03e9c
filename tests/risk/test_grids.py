"""Option grid revaluation: numba kernel vs its Python twin, and vs direct repricing."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.pricing import black76_price, bsm_price
from riskstream.risk.grids import build_option_grids, interp_many, interp_py
from tests.risk.helpers import make_engine


def test_numba_interpolation_matches_python_twin():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(15, 4)).cumsum(axis=0)
    x = rng.uniform(-0.5, 0.5, 300)  # includes points beyond the axis (clamped)
    v = rng.uniform(-0.4, 0.4, 300)
    fast = interp_many(grid, -0.3, 0.6 / 14, -0.2, 0.4 / 3, x, v)
    slow = [interp_py(grid, -0.3, 0.6 / 14, -0.2, 0.4 / 3, a, b) for a, b in zip(x, v, strict=True)]
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)


def test_interpolation_is_exact_at_nodes_and_for_cubics_in_x():
    x_axis = np.linspace(-1, 1, 21)
    grid = np.stack([x_axis**3 - x_axis, 2 * x_axis**3], axis=1)
    nodes = interp_many(grid, -1.0, 0.1, 0.0, 1.0, x_axis, np.zeros(21))
    np.testing.assert_allclose(nodes, grid[:, 0], atol=1e-13)


def test_grid_revaluation_matches_full_repricing():
    # 61 spot x 7 vol points over the widest scenario move: each scenario's option value
    # from the grid vs Black-Scholes-Merton repriced directly at that spot and vol.
    rng = np.random.default_rng(2)
    n = 50
    spot = 100.0
    x_max = 0.4
    x_axis = np.linspace(-x_max, x_max, 61)
    v_axis = np.linspace(-0.5, 0.5, 11)
    strike = rng.uniform(70, 130, n)
    expiry = rng.uniform(0.05, 2.0, n)
    vol = rng.uniform(0.1, 0.6, n)
    is_call = rng.random(n) < 0.5
    on_future = rng.random(n) < 0.3
    g = build_option_grids(
        np.full(n, spot),
        x_axis,
        v_axis,
        strike,
        expiry,
        vol,
        is_call,
        on_future,
        np.ones(n),
        0.03,
        0.01,
    )
    x = rng.uniform(-0.35, 0.35, 2000)
    worst = []
    v = rng.uniform(-0.45, 0.45, 2000)
    for o in range(n):
        grid_val = interp_many(g[o], -x_max, x_axis[1] - x_axis[0], -0.5, 0.1, x, v)
        S, sig = spot * np.exp(x), vol[o] * np.exp(v)
        if on_future[o]:
            direct = black76_price(S, strike[o], expiry[o], 0.03, sig, is_call[o])
        else:
            direct = bsm_price(S, strike[o], expiry[o], 0.03, 0.01, sig, is_call[o])
        # Tolerance: worst scenario within 0.05% of spot, mean within 0.002% of spot. The
        # worst errors sit in the last vol interval and, for short-dated low-vol options,
        # at the payoff's kink (grid spacing 1.3% of spot ~ sigma sqrt(T) there).
        err = np.abs(grid_val - direct)
        worst.append(err.max() / spot)
        assert err.max() < 5e-4 * spot
        assert err.mean() < 2e-5 * spot
    assert max(worst) < 5e-4


@pytest.mark.slow
def test_engine_option_pnl_matches_full_repricing():
    engine = make_engine()
    engine.refresh()
    h = 1
    shocks = engine.scenarios.shocks[h].astype(np.float64)
    for inst in engine.opt_ids:
        o = engine.opt_index[inst]
        k = engine.opt_owner[o]
        u = engine.und_ids[k]
        pnl = engine.trade_pnl(h, int(inst), 1.0)
        S = engine.price[u] * (1 + shocks[:, engine.u_spot_col[k]])
        sig = engine.implied_vol[inst] * np.exp(shocks[:, engine.u_vol_col[k]])
        args = (engine.strike[inst], engine.opt_expiry[o], engine.config.rate)
        if engine.on_future[o]:
            p1 = black76_price(S, *args, sig, engine.is_call[inst])
            p0 = black76_price(
                engine.price[u], *args, engine.implied_vol[inst], engine.is_call[inst]
            )
        else:
            p1 = bsm_price(S, args[0], args[1], args[2], 0.0, sig, engine.is_call[inst])
            p0 = bsm_price(
                engine.price[u],
                args[0],
                args[1],
                args[2],
                0.0,
                engine.implied_vol[inst],
                engine.is_call[inst],
            )
        direct = (p1 - p0) * engine.multiplier[inst] * engine.fx[inst]
        # Tolerance: 0.005% of the underlying notional per contract (observed ~0.0005%).
        scale = engine.multiplier[inst] * engine.price[u]
        err = np.max(np.abs(pnl - direct))
        assert err < 5e-5 * scale, engine.symbol[inst]
