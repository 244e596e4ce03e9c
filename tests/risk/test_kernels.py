"""The engine's scenario-sweep kernels against their plain numpy twins."""

from __future__ import annotations

import numpy as np

from riskstream.risk.kernels import linear_unit_rows, scenario_axpy, scenario_dot, scenario_tdot


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
