"""The IMA capital composition (MAR33.18-33.45) against independent computations on books
whose answer is known in closed form."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.regulatory.ima import (
    capital_multiplier,
    classify_factors,
    compute_ima,
    expected_shortfall,
    overlapping_moves,
)
from riskstream.regulatory.ima.stressed import rolling_es

INST = pl.DataFrame(
    {"symbol": ["A", "B"], "adv": [1e9, 1e9], "ref_price": [1.0, 1.0], "currency": ["USD"] * 2}
)


def _history(n: int = 700, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vol = np.where((np.arange(n) > 200) & (np.arange(n) < 330), 0.04, 0.01)  # a stress
    moves = rng.standard_t(5, (n, 2)) * vol[:, None]
    dates = np.datetime64("2020-01-01") + np.arange(n)
    return moves, dates


def test_one_modellable_factor_capital_is_m_c_times_the_stressed_es() -> None:
    # One 10-day-horizon factor (large-cap equity), the reduced set = the full set:
    # ES_F,C = ES_R,C, so IMCC(C) = IMCC(C_equity) = ES_R,S, the largest rolling ES of the
    # 10-day P&L over the history (independent: the plain rolling ES); SES = 0.
    moves, dates = _history()
    w = np.array([1e6, 0.0])
    classes = classify_factors(("EQ:A", "EQ:B"), INST, "USD")
    every = np.array([True, True])
    m = capital_multiplier(6)
    out = compute_ima(moves, dates, classes, every, every, lambda x: x @ w, m).as_dict()
    pnl = overlapping_moves(moves[:, 0], 10) * 1e6
    stressed = rolling_es(pnl, 250).max()
    assert out["imcc"] == pytest.approx(stressed, rel=1e-12)
    assert out["imcc_avg_60d"] == pytest.approx(stressed, rel=1e-12)
    assert out["ses"] == 0.0
    assert out["ca"] == pytest.approx(1.76 * stressed, rel=1e-12)
    assert out["es_10d_975"] == pytest.approx(expected_shortfall(pnl[-250:]), rel=1e-12)
    assert out["total"]["explained_ratio"] == 1.0


def test_a_non_modellable_equity_goes_to_ses_with_a_20_day_horizon() -> None:
    moves, dates = _history()
    w = np.array([1e6, 2e6])
    classes = classify_factors(("EQ:A", "EQ:B"), INST, "USD")
    modellable = np.array([True, False])
    out = compute_ima(
        moves, dates, classes, modellable, modellable, lambda x: x @ w, capital_multiplier(0)
    ).as_dict()
    # B's stress loss: ES of its own 10-day P&L over the stressed window found on A,
    # scaled to max(20, LH=10) = 20 days; one zero-correlation factor: SES = ISES.
    pnl_a = overlapping_moves(moves[:, 0], 10) * 1e6
    i = int(np.argmax(rolling_es(pnl_a, 250)))
    pnl_b = overlapping_moves(moves[:, 1], 10)[i : i + 250] * 2e6
    assert out["ses"] == pytest.approx(expected_shortfall(pnl_b) * np.sqrt(2.0), rel=1e-12)
    assert out["nmrf"][0]["factor"] == "EQ:B" and out["nmrf"][0]["zero_correlation"]
    assert out["ca"] == pytest.approx(max(out["imcc"], 1.5 * out["imcc_avg_60d"]) + out["ses"])


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.integers(0, 12))
@settings(max_examples=15, deadline=None)
def test_capital_is_non_negative_and_at_least_the_last_imcc(a: float, b: float, x: int) -> None:
    moves, dates = _history(400, seed=2)
    classes = classify_factors(("EQ:A", "IR:USD:5Y"), INST, "USD")
    every = np.array([True, True])
    w = np.array([a, b])
    out = compute_ima(
        moves,
        dates,
        classes,
        every,
        np.array([True, False]),
        lambda m: m @ w,
        capital_multiplier(x),
        drc=10.0,
    ).as_dict()
    assert out["capital"] >= out["imcc"] + 10.0 - 1e-6 * max(1.0, out["imcc"])
    assert out["imcc"] >= 0.0 and out["ses"] >= 0.0


def test_too_short_a_history_names_what_is_needed() -> None:
    moves, dates = _history(200)
    classes = classify_factors(("EQ:A", "EQ:B"), INST, "USD")
    every = np.array([True, True])
    with pytest.raises(InputError, match="history"):
        compute_ima(moves, dates, classes, every, every, lambda x: x[:, 0], capital_multiplier(0))


def test_a_book_that_gains_in_every_scenario_has_zero_capital() -> None:
    # long convexity everywhere: P&L = |moves| summed, never a loss; every ES is floored at
    # zero (the tail gains) and the capital is 0, not an error.
    moves, dates = _history(400, seed=4)
    classes = classify_factors(("EQ:A", "EQ:B"), INST, "USD")
    every = np.array([True, True])
    out = compute_ima(
        moves, dates, classes, every, every, lambda m: np.abs(m).sum(axis=1), capital_multiplier(0)
    ).as_dict()
    assert out["capital"] == 0.0 and out["imcc"] == 0.0


def test_pla_add_on_and_drc_are_added_per_mar33_43() -> None:
    moves, dates = _history(400, seed=6)
    classes = classify_factors(("EQ:A", "EQ:B"), INST, "USD")
    every = np.array([True, True])
    w = np.array([1e6, -5e5])
    base = compute_ima(moves, dates, classes, every, every, lambda m: m @ w, capital_multiplier(0))
    ca = base.as_dict()["ca"]
    # SA of the desks in scope above CA: add-on 0.5 (SA - CA); below: none (floored at 0)
    up = compute_ima(
        moves, dates, classes, every, every, lambda m: m @ w, capital_multiplier(0),
        drc=7.0, sa_in_scope=ca + 100.0,
    ).as_dict()  # fmt: skip
    assert up["pla_add_on"] == pytest.approx(50.0) and up["capital"] == pytest.approx(ca + 57.0)
    down = compute_ima(
        moves, dates, classes, every, every, lambda m: m @ w, capital_multiplier(0),
        sa_in_scope=ca / 2,
    ).as_dict()  # fmt: skip
    assert down["pla_add_on"] == 0.0 and down["capital"] == pytest.approx(ca)
