"""Full revaluation on small books with answers worked by hand: a linear book, one option
against Black-Scholes by hand (Hull), one bond against its discounted cash flows (Hull)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.stress.revalue import ScenarioMatrix, revalue

from .books import AS_OF, book_of, inst, linear_universe, universe


def scenario(book, moves: dict[str, float], points: dict[str, float] | None = None):
    m = np.zeros((1, book.n_factors))
    p = np.zeros((1, book.n_factors))
    for k, v in moves.items():
        m[0, book.index(k)] = v
    for k, v in (points or {}).items():
        p[0, book.index(k)] = v
    return ScenarioMatrix(("s",), m, p)


def test_linear_book_is_value_times_move_with_fx_translation() -> None:
    book = book_of(linear_universe())
    r = revalue(
        book,
        scenario(
            book,
            {
                "EQ:AAA": -0.10,
                "EQ:BBB": 0.05,
                "EQ:SAP": -0.20,
                "FX:EUR": -0.05,
                "FUT:index:SPX": -0.03,
            },
        ),
    )
    by = dict(zip(book.symbol, r.pnl[0], strict=True))
    assert by["AAA"] == pytest.approx(100 * 50 * -0.10, rel=1e-12)  # -500
    assert by["BBB"] == pytest.approx(-300 * 20 * 0.05, rel=1e-12)  # short: -300
    assert by["CCC"] == 0.0
    # a EUR stock: value 40 x 100 EUR at 1.10, both moves compound: (0.8 x 0.95 - 1)
    assert by["SAP"] == pytest.approx(40 * 100 * 1.10 * (0.8 * 0.95 - 1), rel=1e-12)
    assert by["ESH4"] == pytest.approx(2 * 50 * 4000 * -0.03, rel=1e-12)  # settled gain
    np.testing.assert_allclose(r.parts.sum(axis=0), r.pnl, rtol=1e-12)


def test_zero_move_is_zero_pnl() -> None:
    book = book_of(linear_universe())
    r = revalue(book, scenario(book, {}))
    assert np.abs(r.pnl).max() == 0.0


def bs_by_hand(S: float, K: float, T: float, r: float, sigma: float, call: bool) -> float:
    """Black-Scholes (Hull, *Options, Futures and Other Derivatives*, 10th ed., eq. 15.20-21)."""
    N = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    d1 = (math.log(S / K) + (r + sigma**2 / 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    if call:
        return S * N(d1) - K * math.exp(-r * T) * N(d2)
    return K * math.exp(-r * T) * N(-d2) - S * N(-d1)


def test_hand_formula_reproduces_hulls_example() -> None:
    # Hull 10th ed., Example 15.6: S0 = 42, K = 40, r = 10 %, sigma = 20 %, T = 0.5:
    # c = 4.76, p = 0.81
    assert bs_by_hand(42, 40, 0.5, 0.10, 0.20, True) == pytest.approx(4.76, abs=0.005)
    assert bs_by_hand(42, 40, 0.5, 0.10, 0.20, False) == pytest.approx(0.81, abs=0.005)


def option_book(horizon_expiry_days: int = 183):
    expiry = AS_OF + dt.timedelta(days=horizon_expiry_days)
    u = universe(
        [
            inst(0, "XYZ", "equity", 40.0),
            inst(
                1,
                "XYZ C40",
                "option",
                3.0,
                multiplier=100.0,
                underlying_id=0,
                expiry=expiry,
                strike=40.0,
                right="C",
                exercise="european",
            ),
        ],
        [0.0, 10.0],
    )
    return book_of(u, vols={1: 0.20}, rates={1: 0.10})


def test_single_option_against_black_scholes_by_hand() -> None:
    book = option_book()
    T = 183 / 365
    # spot 40 -> 42 (+5 %), vol 20 % -> 25 % (log move), the Hull inputs otherwise
    r = revalue(book, scenario(book, {"EQ:XYZ": 0.05, "VOL:EQ:XYZ": math.log(1.25)}))
    expected = (
        10
        * 100
        * (bs_by_hand(42, 40, T, 0.10, 0.25, True) - bs_by_hand(40, 40, T, 0.10, 0.20, True))
    )
    assert r.total[0] == pytest.approx(expected, rel=1e-10)
    # the attribution: spot alone, then the vol
    spot_only = (
        10
        * 100
        * (bs_by_hand(42, 40, T, 0.10, 0.20, True) - bs_by_hand(40, 40, T, 0.10, 0.20, True))
    )
    assert r.parts[0, 0].sum() == pytest.approx(spot_only, rel=1e-10)
    # vol points are additive: +5 points is the same 25 % vol
    r2 = revalue(book, scenario(book, {"EQ:XYZ": 0.05}, {"VOL:EQ:XYZ": 0.05}))
    assert r2.total[0] == pytest.approx(expected, rel=1e-10)


def test_theta_over_a_horizon_and_no_theta_instantaneously() -> None:
    book = option_book()
    T = 183 / 365
    r0 = revalue(book, scenario(book, {}), horizon_days=0)
    r7 = revalue(book, scenario(book, {}), horizon_days=7)
    assert r0.total[0] == 0.0
    theta = 1000 * (
        bs_by_hand(40, 40, T - 7 / 365, 0.10, 0.20, True) - bs_by_hand(40, 40, T, 0.10, 0.20, True)
    )
    assert r7.total[0] == pytest.approx(theta, rel=1e-10)
    assert r7.total[0] < 0  # a long call loses time value


# Hull 10th ed., sec. 4.4 (Table 4.2): zero rates 5.0, 5.8, 6.4, 6.8 % at 0.5 ... 2 years;
# a 2-year bond, 6 % coupon paid semiannually, is worth 98.39 per 100.
HULL_TIMES = np.array([0.5, 1.0, 1.5, 2.0])
HULL_ZEROS = np.array([0.050, 0.058, 0.064, 0.068])
HULL_CF = np.array([3.0, 3.0, 3.0, 103.0])


def bond_book():
    price = float((HULL_CF * np.exp(-HULL_ZEROS * HULL_TIMES)).sum())
    assert price == pytest.approx(98.39, abs=0.005)  # Hull's figure
    u = universe(
        [
            inst(
                0,
                "T2Y",
                "bond",
                price,
                multiplier=10_000.0,
                coupon=0.06,
                maturity=AS_OF + dt.timedelta(days=730),
                coupon_frequency=2,
                sector="government",
            )
        ],
        [5.0],
    )
    curves = pl.DataFrame(
        {
            "date": [AS_OF] * 4,
            "currency": ["USD"] * 4,
            "tenor_years": HULL_TIMES,
            "zero_rate": HULL_ZEROS,
        }
    )
    return book_of(u, curves=curves), price


def test_bond_against_its_cash_flows_off_the_shocked_curve() -> None:
    book, price = bond_book()
    assert abs(book.bond_spread[0]) < 1e-12  # priced on the curve: no spread
    keys = [k for k in book.keys if k.startswith("IR:USD:")]
    r = revalue(book, scenario(book, dict.fromkeys(keys, 0.005)))
    shocked = float((HULL_CF * np.exp(-(HULL_ZEROS + 0.005) * HULL_TIMES)).sum())
    assert r.total[0] == pytest.approx(5 * 10_000 * (shocked - price), rel=1e-10)
    # a key-rate shock moves each cash flow by its linear-in-tenor weight: the 1y and 2y
    # key rates up 10 and 30 bp: the 1.5-year flow moves 20 bp, the 0.5-year flow none
    r2 = revalue(book, scenario(book, {"IR:USD:1Y": 0.001, "IR:USD:2Y": 0.003}))
    moves = np.array([0.0, 0.001, 0.002, 0.003])
    shocked2 = float((HULL_CF * np.exp(-(HULL_ZEROS + moves) * HULL_TIMES)).sum())
    assert r2.total[0] == pytest.approx(5 * 10_000 * (shocked2 - price), rel=1e-10)


def test_bond_carry_receives_the_coupon_inside_the_horizon() -> None:
    book, price = bond_book()
    # 200 days on: the 0.5-year coupon (182.5 days) is received, the others roll down
    r = revalue(book, scenario(book, {}), horizon_days=200)
    h = 200 / 365
    t = HULL_TIMES - h
    z = np.interp(np.maximum(t, 1e-9), HULL_TIMES, HULL_ZEROS)
    value = 3.0 + float((HULL_CF[1:] * np.exp(-z[1:] * t[1:])).sum())
    assert r.total[0] == pytest.approx(5 * 10_000 * (value - price), rel=1e-10)


def test_credit_spread_factor_moves_a_corporate_bond() -> None:
    u = universe(
        [
            inst(
                0,
                "CORP",
                "bond",
                95.0,
                coupon=0.05,
                maturity=AS_OF + dt.timedelta(days=1825),
                coupon_frequency=1,
                sector="corporate:Energy",
                rating="BB",
            )
        ],
        [100.0],
    )
    book = book_of(u)
    assert "CS:Energy:BB" in book.keys
    r = revalue(book, scenario(book, {"CS:Energy:BB": 0.01}))
    s = book.bond_spread[0]  # no stored curve: the bond's continuous yield
    t = 5.0 - np.arange(5)
    cf = np.where(np.arange(5) == 0, 105.0, 5.0)
    assert float((cf * np.exp(-s * t)).sum()) == pytest.approx(95.0, rel=1e-12)
    expected = 100 * (float((cf * np.exp(-(s + 0.01) * t)).sum()) - 95.0)
    assert r.total[0] == pytest.approx(expected, rel=1e-10)
    assert r.parts[3, 0, 0] == pytest.approx(expected, rel=1e-10)  # all of it is spread


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-0.5, 0.5), min_size=7, max_size=7))
def test_parts_add_up_to_the_full_revaluation(xs: list[float]) -> None:
    book = book_of(linear_universe())
    moves = np.zeros((1, book.n_factors))
    moves[0, : min(7, book.n_factors)] = xs[: book.n_factors]
    r = revalue(book, ScenarioMatrix(("s",), moves, np.zeros_like(moves)))
    np.testing.assert_allclose(r.parts.sum(axis=0), r.pnl, rtol=1e-12, atol=1e-9)
