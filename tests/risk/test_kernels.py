"""The engine's scenario-sweep kernels against their plain numpy twins."""

from __future__ import annotations

import numpy as np

from riskstream.risk.kernels import (
    linear_unit_rows,
    linear_unit_weighted,
    scenario_axpy,
    scenario_dot,
    scenario_tdot,
    weighted_rows,
)


def test_sweeps_match_numpy():
    rng = np.random.default_rng(0)
    shocks = np.asfortranarray(rng.normal(0, 0.02, (5000, 40)).astype(np.float32))
    s64 = shocks.astype(np.float64)
    e = rng.normal(0, 1e6, 40)
    e[::3] = 0.0
    out = np.empty(5000)
    scenario_dot(shocks, e, np.flatnonzero(e), out)
    np.testing.assert_allclose(out, s64 @ e, rtol=1e-12, atol=1e-6)
    d = np.zeros(40)
    d[[1, 7]] = [5.0, -3.0]
    before = out.copy()
    scenario_axpy(shocks, d, np.array([1, 7]), out)
    np.testing.assert_allclose(out, before + s64 @ d, rtol=1e-12, atol=1e-6)
    w = rng.normal(size=5000)
    t = np.empty(40)
    scenario_tdot(shocks, w, t)
    np.testing.assert_allclose(t, s64.T @ w, rtol=1e-10, atol=1e-9)


def test_linear_unit_rows_match_numpy():
    rng = np.random.default_rng(1)
    rows_t = rng.normal(size=(30, 12)).astype(np.float32)  # (n_factors, n_rows)
    lin_f = rng.integers(-1, 30, size=(50, 3))
    lin_s = rng.normal(size=(50, 3))
    inst = np.array([0, 5, 7, 49])
    out = np.empty((12, inst.size))
    linear_unit_rows(rows_t, inst, lin_f, lin_s, out)
    r64 = rows_t.astype(np.float64)
    expected = np.zeros((12, inst.size))
    for j, i in enumerate(inst):
        for f, w in zip(lin_f[i], lin_s[i], strict=True):
            if f >= 0:
                expected[:, j] += w * r64[f]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_tail_weighted_linear_pnl_matches_per_row_pnl():
    # Factor-space Euler tail: loadings applied to the weighted mean move equal the
    # weighted mean of the per-row linear P&L (linearity), to rounding.
    rng = np.random.default_rng(2)
    rows = rng.normal(0, 0.02, size=(12, 30)).astype(np.float32)  # (n_rows, n_factors)
    weights = np.zeros((3, 12))
    weights[0, 4:] = 1.0 / 8
    weights[1, [2, 5, 9]] = [0.25, 0.5, 0.25]
    weights[2] = rng.random(12)
    moves = np.empty((3, 30))
    weighted_rows(rows, weights, moves)
    np.testing.assert_allclose(moves, weights @ rows.astype(np.float64), rtol=1e-12, atol=1e-15)
    lin_f = rng.integers(-1, 30, size=(50, 3))
    lin_s = rng.normal(0, 1e5, size=(50, 3))
    inst = np.array([0, 5, 7, 49])
    out = np.empty((3, inst.size))
    linear_unit_weighted(moves, inst, lin_f, lin_s, out)
    per_row = np.empty((12, inst.size))
    linear_unit_rows(np.ascontiguousarray(rows.T), inst, lin_f, lin_s, per_row)
    np.testing.assert_allclose(out, weights @ per_row, rtol=1e-10, atol=1e-6)
