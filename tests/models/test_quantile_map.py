"""The tabulated copula-score → innovation map agrees with SciPy's exact inverse CDFs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from riskstream.models._quantile_map import exact_innovations, scores_to_innovations


@pytest.mark.parametrize(
    ("copula_nu", "marginal_nu"),
    [(4.0, np.array([3.0, 6.5, 40.0])), (np.inf, np.array([5.0, 8.0, 2.5])), (3.0, None)],
)
def test_spline_map_matches_exact_scipy(copula_nu: float, marginal_nu) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20_000, 3))
    if np.isfinite(copula_nu):
        x = x / np.sqrt(rng.chisquare(copula_nu, (20_000, 1)) / copula_nu)
    got = scores_to_innovations(x, copula_nu, marginal_nu)
    for k in range(3):
        nu_k = None if marginal_nu is None else marginal_nu[k]
        want = exact_innovations(x[:, k], copula_nu, nu_k)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-9, atol=1e-10)


def test_exact_route_is_the_textbook_composition() -> None:
    """z = t_ν⁻¹(t_νc(x))·√((ν-2)/ν) — computed the naive way in the body of the
    distribution, where F(x) is far from 0 and 1."""
    x = np.linspace(-3, 3, 61)
    naive = stats.t.ppf(stats.t.cdf(x, 4.0), 6.0) * np.sqrt(4.0 / 6.0)
    np.testing.assert_allclose(exact_innovations(x, 4.0, 6.0), naive, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(exact_innovations(x, np.inf, None), x, atol=1e-12)


def test_gaussian_with_normal_margins_is_identity() -> None:
    x = np.random.default_rng(1).standard_normal((10, 2))
    np.testing.assert_array_equal(scores_to_innovations(x, np.inf, None), x)
