"""Reverse stress: the analytic most-likely move of a linear book against a general
optimiser and against the full-revaluation search; the smallest uniform breaching move."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import optimize, stats

from riskstream.core.errors import InputError
from riskstream.stress.revalue import ScenarioMatrix, revalue
from riskstream.stress.reverse import analytic_reverse, reverse_stress, uniform_breach

from .books import AS_OF, book_of, inst, universe

COV = np.array([[0.0004, 0.0002, 0.0001], [0.0002, 0.0009, 0.0003], [0.0001, 0.0003, 0.0016]])


def equity_book():
    u = universe(
        [inst(0, "A", "equity", 50.0), inst(1, "B", "equity", 20.0), inst(2, "C", "equity", 10.0)],
        [1000.0, -500.0, 3000.0],
    )
    return book_of(u)


def test_analytic_formula_against_a_general_optimiser() -> None:
    e = np.array([50_000.0, -10_000.0, 30_000.0])
    loss = 5_000.0
    result = analytic_reverse(COV, e, loss, ["A", "B", "C"])
    x = np.array(list(result.shock.values()))
    assert e @ x == pytest.approx(-loss, rel=1e-12)
    # the same problem handed to SLSQP with no knowledge of the formula
    inv = np.linalg.inv(COV)
    res = optimize.minimize(
        lambda v: 0.5 * v @ inv @ v,
        np.zeros(3),
        jac=lambda v: inv @ v,
        method="SLSQP",
        constraints=[{"type": "eq", "fun": lambda v: e @ v + loss}],
        options={"ftol": 1e-16},
    )
    np.testing.assert_allclose(x, res.x, rtol=1e-5)
    assert result.mahalanobis == pytest.approx(math.sqrt(x @ inv @ x), rel=1e-10)
    assert result.mahalanobis == pytest.approx(loss / math.sqrt(e @ COV @ e), rel=1e-12)
    assert result.probability == pytest.approx(stats.norm.sf(result.mahalanobis))


def test_full_revaluation_search_finds_the_analytic_answer_on_a_linear_book() -> None:
    book = equity_book()
    factors = ["EQ:A", "EQ:B", "EQ:C"]
    # exposures of a linear book: P&L per unit relative move = position value
    e = np.array([1000 * 50.0, -500 * 20.0, 3000 * 10.0])
    loss = 8_000.0
    analytic = analytic_reverse(COV, e, loss, factors)
    searched = reverse_stress(book, factors, loss, cov=COV)
    for f in factors:
        assert searched.shock[f] == pytest.approx(analytic.shock[f], rel=1e-6)
    assert searched.mahalanobis == pytest.approx(analytic.mahalanobis, rel=1e-6)
    assert searched.pnl == pytest.approx(-loss, rel=1e-8)
    assert searched.details["converged"]
    # from daily moves instead of a covariance: the same answer (their sample covariance)
    rng = np.random.default_rng(2)
    moves = rng.multivariate_normal(np.zeros(3), COV, size=400)
    cov_hat = np.cov(moves.T)
    from_moves = reverse_stress(book, factors, loss, moves=moves)
    expected = analytic_reverse(cov_hat, e, loss, factors)
    assert from_moves.mahalanobis == pytest.approx(expected.mahalanobis, rel=1e-6)


def test_option_book_search_meets_the_loss_at_the_nearest_point() -> None:
    # one long put: the loss grows convexly as the stock falls; in one dimension the most
    # likely move losing L is the smallest fall that does, found here by root-finding
    u = universe(
        [
            inst(0, "XYZ", "equity", 100.0),
            inst(
                1,
                "XYZ P",
                "option",
                5.0,
                multiplier=100.0,
                underlying_id=0,
                expiry=AS_OF + dt.timedelta(days=60),
                strike=100.0,
                right="P",
                exercise="european",
            ),
        ],
        [0.0, -20.0],  # short puts: losses when the stock falls
    )
    book = book_of(u, vols={1: 0.25}, rates={1: 0.02})
    sigma = 0.02
    loss = 10_000.0

    def pnl(move: float) -> float:
        m = np.zeros((1, book.n_factors))
        m[0, book.index("EQ:XYZ")] = move
        return revalue(book, ScenarioMatrix(("s",), m, np.zeros_like(m))).total[0]

    fall = optimize.brentq(lambda s: pnl(s) + loss, -0.99, 0.0)
    result = reverse_stress(book, ["EQ:XYZ"], loss, cov=np.array([[sigma**2]]))
    assert result.shock["EQ:XYZ"] == pytest.approx(fall, rel=1e-6)
    assert result.mahalanobis == pytest.approx(abs(fall) / sigma, rel=1e-6)
    # the first-order (delta) answer would need a larger move: gamma makes it worse sooner
    assert result.details["linear_mahalanobis"] > result.mahalanobis


def test_uniform_breach_of_a_linear_book_is_limit_over_exposure() -> None:
    book = equity_book()
    # a 1 % fall of every stock loses 1 % of the net value (50k - 10k + 30k = 70k)
    out = uniform_breach(book, ["EQ:A", "EQ:B", "EQ:C"], limit=7_000.0, max_move=0.5)
    assert out["move"] == pytest.approx(-0.10, rel=1e-5)
    assert out["direction"] == "down"
    assert uniform_breach(book, ["EQ:A"], limit=1e9, max_move=0.5)["move"] is None


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InputError, match="symmetric"):
        analytic_reverse(np.array([[1.0, 0.2], [0.1, 1.0]]), np.ones(2), 1.0)
    with pytest.raises(InputError, match="exposures"):
        analytic_reverse(COV, np.ones(2), 1.0)
    with pytest.raises(InputError, match="loss"):
        analytic_reverse(COV, np.ones(3), -1.0)
