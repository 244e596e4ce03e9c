"""Euler allocation, marginal and incremental VaR, aggregation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.risk.euler import (
    aggregate,
    component_es,
    euler_allocation,
    incremental_var,
    marginal_var,
    tail_rows,
)
from riskstream.risk.measures import var_es_from_pnl


def _parts(seed: int, n: int = 2000, k: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.standard_t(4, size=(n, 1))
    return common * rng.uniform(-2, 2, k) + rng.normal(size=(n, k)) * rng.uniform(0.1, 1, k)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.95, 0.975, 0.99]), st.integers(1, 12))
def test_euler_parts_sum_to_the_total(seed, c, k):
    parts = _parts(seed, 1000, k)
    tail, comp_var, comp_es = euler_allocation(parts, c)
    var, es = var_es_from_pnl(parts.sum(axis=1), c)
    assert tail.var == var
    assert tail.es == pytest.approx(es, rel=1e-12)
    # ES: exact (same tail scenarios); VaR: by construction (kernel rescaled to VaR).
    assert comp_es.sum() == pytest.approx(es, rel=1e-10, abs=1e-9)
    assert comp_var.sum() == pytest.approx(var, rel=1e-10, abs=1e-9)


def test_kernel_component_var_close_to_conditional_mean():
    # Gaussian parts: E[pnl_i | L = VaR] is known in closed form, pnl_i's regression on L:
    # -E[pnl_i | L = v] = cov(pnl_i, L) / var(L) * v (zero means). Check the kernel estimate.
    rng = np.random.default_rng(5)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T
    parts = rng.multivariate_normal(np.zeros(4), cov, size=200_000)
    tail, comp_var, _ = euler_allocation(parts, 0.99, neighbours=400)
    loss_var = cov.sum()
    beta = cov.sum(axis=1) / loss_var
    # 3 % of VaR: the kernel averages 2 x 400 tail-neighbour rows, whose conditional-mean
    # standard error is about sd(pnl_i | L) / sqrt(800), a few % of a part's sd here
    np.testing.assert_allclose(comp_var, beta * tail.var, atol=0.03 * tail.var)
    assert abs(tail.var_scale - 1.0) < 0.01


def test_component_es_of_a_single_part_is_es():
    pnl = np.random.default_rng(1).normal(size=5000)
    tail = tail_rows(pnl, 0.975)
    assert component_es(pnl[tail.es_rows][:, None])[0] == pytest.approx(tail.es, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 50.0))
def test_components_scale_with_the_portfolio(seed, scale):
    parts = _parts(seed)
    _, v1, e1 = euler_allocation(parts, 0.99)
    _, v2, e2 = euler_allocation(parts * scale, 0.99)
    np.testing.assert_allclose(v2, scale * v1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(e2, scale * e1, rtol=1e-9, atol=1e-9)


def test_incremental_var_is_exact_and_marginal_is_its_slope():
    parts = _parts(7, 20_000, 3)
    pnl = parts.sum(axis=1)
    _, comp_var, _ = euler_allocation(parts, 0.99)
    d_var, d_es = incremental_var(pnl, parts[:, 0], 0.99)  # double the first position
    v0, e0 = var_es_from_pnl(pnl, 0.99)
    v1, e1 = var_es_from_pnl(pnl + parts[:, 0], 0.99)
    assert d_var == v1 - v0 and d_es == e1 - e0
    # A small trade: incremental VaR ~ marginal VaR * size (Jorion, VaR 3rd ed., ch. 7).
    small, _ = incremental_var(pnl, 0.01 * parts[:, 0], 0.99)
    mvar = marginal_var(comp_var, np.ones(3))
    # Loose on purpose: a 1 % trade moves the HS VaR by re-ranking a single order statistic,
    # a step of the order of the scenario spacing near the quantile (~0.1-0.2 % of VaR at
    # n = 20 000), so the abs term 0.2 % of VaR carries it (measured 0.15 % at this seed);
    # the tight check of the marginal is the bumped-quantity test below (3 % of VaR).
    assert small == pytest.approx(0.01 * mvar[0], rel=0.35, abs=0.002 * v0)


def test_marginal_var_per_unit_and_zero_quantity():
    out = marginal_var(np.array([10.0, 5.0]), np.array([2.0, 0.0]))
    assert out[0] == 5.0 and np.isnan(out[1])


def test_aggregate_by_label():
    totals = aggregate(np.array([1.0, 2.0, 3.0, 4.0]), np.array(["b", "a", "b", "c"]))
    assert totals == {"a": 2.0, "b": 4.0, "c": 4.0}


def test_component_var_equals_the_marginal_effect_of_a_bumped_quantity():
    # Euler's theorem makes the components sum to VaR whatever they are (test above); this
    # checks the components themselves: C_i = q_i dVaR/dq_i (Tasche 1999; Jorion, VaR 3rd ed.,
    # ch. 7), with the derivative estimated independently by re-running a plain
    # historical-simulation VaR (var_es_from_pnl, no kernel) on the book with position i
    # scaled by 1 +- h, over the same scenarios (common random numbers). A relative bump
    # h = 5 % averages the order statistic over many re-rankings; for Gaussian parts VaR is
    # z * sqrt(q' S q), whose second-order term gives a central-difference bias O(h^2) < 0.1 %
    # of VaR. The noise is that of the two estimators at n = 200 000 and 400 kernel
    # neighbours: the kernel-vs-closed-form test above holds at 3 % of VaR, so 3 % here.
    rng = np.random.default_rng(11)
    a = rng.normal(size=(4, 4))
    parts = rng.multivariate_normal(np.zeros(4), a @ a.T, size=200_000)
    tail, comp_var, _ = euler_allocation(parts, 0.99, neighbours=400)
    h = 0.05
    for i in range(4):
        up, down = parts.copy(), parts.copy()
        up[:, i] *= 1 + h
        down[:, i] *= 1 - h
        v_up, _ = var_es_from_pnl(up.sum(axis=1), 0.99)
        v_down, _ = var_es_from_pnl(down.sum(axis=1), 0.99)
        marginal_effect = (v_up - v_down) / (2 * h)  # = q_i dVaR/dq_i at q_i = 1
        assert comp_var[i] == pytest.approx(marginal_effect, abs=0.03 * tail.var)
