"""Black-Litterman against He & Litterman (1999), Idzorek's confidence property and regimes."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.portfolio.black_litterman import (
    black_litterman,
    equilibrium_returns,
    regime_views,
    view_uncertainty,
)
from tests.portfolio.conftest import HL_COV, HL_PICKS, HL_VIEWS, HL_WEIGHTS


def test_equilibrium_returns_match_he_litterman_table_2():
    # He & Litterman (1999), Table 2, column "equilibrium expected returns" (percent, 1 dp),
    # delta = 2.5
    pi = equilibrium_returns(HL_COV, HL_WEIGHTS, 2.5)
    np.testing.assert_array_equal(np.round(pi * 100, 1), [3.9, 6.9, 8.4, 9.0, 4.3, 6.8, 7.6])


def test_one_view_matches_he_litterman_table_4():
    # He & Litterman (1999), Table 4: Germany beats the rest of Europe by 5%, tau = 0.05,
    # Omega = diag(P tau Sigma P^T); posterior returns and optimal weights (percent, 1 dp)
    res = black_litterman(HL_COV, HL_WEIGHTS, HL_PICKS[:1], HL_VIEWS[:1], delta=2.5, tau=0.05)
    np.testing.assert_array_equal(
        np.round(res.posterior_returns * 100, 1), [4.3, 7.6, 9.3, 11.0, 4.5, 7.0, 8.1]
    )
    np.testing.assert_array_equal(
        np.round(res.weights * 100, 1), [1.5, 2.1, -4.0, 35.4, 11.0, -9.5, 58.6]
    )


def test_two_views_match_he_litterman_table_5():
    # He & Litterman (1999), Table 5: adding "Canada beats the US by 3%"
    res = black_litterman(HL_COV, HL_WEIGHTS, HL_PICKS, HL_VIEWS, delta=2.5, tau=0.05)
    np.testing.assert_array_equal(
        np.round(res.posterior_returns * 100, 1), [4.4, 8.7, 9.5, 11.2, 4.6, 7.0, 7.5]
    )
    np.testing.assert_array_equal(
        np.round(res.weights * 100, 1), [1.5, 41.9, -3.4, 33.6, 11.0, -8.2, 18.8]
    )
    # He & Litterman's point: only the assets in the views move away from w_mkt / (1 + tau)
    untouched = [0, 4]
    np.testing.assert_allclose(res.weights[untouched], HL_WEIGHTS[untouched] / 1.05, rtol=1e-10)


@pytest.mark.parametrize("confidence", [0.25, 0.5, 0.9])
def test_idzorek_confidence_moves_the_posterior_that_share_of_the_way(confidence):
    # Idzorek (2005), "A step-by-step guide to the Black-Litterman model": a view held with
    # confidence c tilts the returns c of the way a 100%-certain view would; Walters (2014)
    # gives Omega = (1 - c)/c * p tau Sigma p^T as the closed form for one view.
    pi = equilibrium_returns(HL_COV, HL_WEIGHTS, 2.5)
    certain = black_litterman(
        HL_COV, HL_WEIGHTS, HL_PICKS[:1], HL_VIEWS[:1], omega="idzorek", confidences=[1.0]
    )
    partial = black_litterman(
        HL_COV, HL_WEIGHTS, HL_PICKS[:1], HL_VIEWS[:1], omega="idzorek", confidences=[confidence]
    )
    np.testing.assert_allclose(
        partial.posterior_returns - pi, confidence * (certain.posterior_returns - pi), atol=1e-12
    )
    # the certain view holds exactly
    assert HL_PICKS[0] @ certain.posterior_returns == pytest.approx(0.05, abs=1e-12)


def test_idzorek_half_confidence_is_he_litterman():
    # c = 1/2 gives (1 - c)/c = 1, He-Litterman's Omega
    om = view_uncertainty(HL_COV, HL_PICKS, 0.05, "idzorek", [0.5, 0.5])
    np.testing.assert_allclose(om, view_uncertainty(HL_COV, HL_PICKS, 0.05), rtol=1e-14)


def test_regime_views_blend_by_probability_and_widen_omega():
    omega = view_uncertainty(HL_COV, HL_PICKS, 0.05)
    by_regime = np.array([[0.05, 0.03], [-0.02, 0.03]])  # regimes disagree on view 1 only
    q, om = regime_views(by_regime, [0.7, 0.3], omega)
    np.testing.assert_allclose(q, [0.7 * 0.05 - 0.3 * 0.02, 0.03])
    # law of total variance: 0.7 * 0.3 * 0.07^2 added to view 1, nothing to view 2
    np.testing.assert_allclose(np.diag(om) - np.diag(omega), [0.21 * 0.07**2, 0.0], atol=1e-15)
    # a certain regime gives its own views back, with the within-regime Omega
    q1, om1 = regime_views(by_regime, [1.0, 0.0], omega)
    np.testing.assert_allclose(q1, by_regime[0])
    np.testing.assert_allclose(om1, omega)


def test_bad_views_name_the_field():
    with pytest.raises(InputError, match="views"):
        black_litterman(HL_COV, HL_WEIGHTS, HL_PICKS, [0.05])
    with pytest.raises(InputError, match="confidence"):
        black_litterman(
            HL_COV, HL_WEIGHTS, HL_PICKS, HL_VIEWS, omega="idzorek", confidences=[0.5, 1.5]
        )
    with pytest.raises(InputError, match="delta"):
        equilibrium_returns(HL_COV, HL_WEIGHTS, -1.0)
