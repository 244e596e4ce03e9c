"""Hypothetical P&L (riskstream.backtest.hypothetical), worked by hand.

The FX leg convention is the textbook one (Hull, *Options, Futures and Other Derivatives*,
ch. 5: a spot position long one currency against the other); the example figures use the
ECB reference rates of 27 and 28 June 2024 (EURUSD 1.0716 -> 1.0705, EURJPY 172.03 ->
171.94).
"""

import numpy as np
import polars as pl
import pytest

from riskstream.backtest.hypothetical import hypothetical_pnl
from riskstream.core.errors import InputError
from riskstream.core.fx import rates_to_base


def _instruments() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "instrument_id": [0, 1, 2, 3, 4],
            "symbol": ["SAP GY", "ESU4", "EURUSD", "USDJPY", "OPT"],
            "asset_class": ["equity", "future", "fx", "fx", "option"],
            "currency": ["EUR", "USD", "USD", "JPY", "USD"],
            "base_currency": [None, None, "EUR", "USD", None],
            "multiplier": [1.0, 50.0, 1.0, 1.0, 100.0],
        }
    )


def _fx(eurusd: float, eurjpy: float) -> dict[str, float]:
    return rates_to_base({"EURUSD": eurusd, "EURJPY": eurjpy}, ["EUR", "JPY", "USD"], "USD")


def test_each_class_by_hand():
    inst = _instruments()
    before, after = _fx(1.0716, 172.03), _fx(1.0705, 171.94)
    usdjpy0, usdjpy1 = 172.03 / 1.0716, 171.94 / 1.0705
    p0 = np.array([180.0, 5500.0, 1.0716, usdjpy0, 12.0])
    p1 = np.array([182.0, 5490.0, 1.0705, usdjpy1, 11.5])
    one = np.eye(5)
    # an equity in EUR: price and translation both move
    assert hypothetical_pnl(inst, 100 * one[0], p0, p1, before, after) == pytest.approx(
        100 * (182.0 * 1.0705 - 180.0 * 1.0716), rel=1e-14
    )
    # a future: the price change times the multiplier (settled daily, in USD)
    assert hypothetical_pnl(inst, 2 * one[1], p0, p1, before, after) == pytest.approx(
        2 * 50 * (5490.0 - 5500.0)
    )
    # long 1m EUR against USD: 1m x (1.0705 - 1.0716) = -1,100 USD
    assert hypothetical_pnl(inst, 1e6 * one[2], p0, p1, before, after) == pytest.approx(
        -1100.0, rel=1e-12
    )
    # short 1m USD against JPY: the yen leg of 1m x USDJPY_0 revalued at the new yen rate
    expect = -1e6 * (0.0 - usdjpy0 * (1.0705 / 171.94 - 1.0716 / 172.03))
    assert hypothetical_pnl(inst, -1e6 * one[3], p0, p1, before, after) == pytest.approx(
        expect, rel=1e-12
    )
    # an option: its marks' change times the contract size
    assert hypothetical_pnl(inst, 10 * one[4], p0, p1, before, after) == pytest.approx(-500.0)
    # the book is the sum of its positions
    q = np.array([100, 2, 1e6, -1e6, 10])
    parts = sum(hypothetical_pnl(inst, q[i] * one[i], p0, p1, before, after) for i in range(5))
    assert hypothetical_pnl(inst, q, p0, p1, before, after) == pytest.approx(parts, rel=1e-14)


def test_a_held_instrument_without_a_mark_is_an_error():
    inst = _instruments()
    fx = _fx(1.07, 172.0)
    p = np.array([180.0, np.nan, 1.07, 160.0, 12.0])
    with pytest.raises(InputError, match="'price' has value 'ESU4'"):
        hypothetical_pnl(inst, np.array([0, 1.0, 0, 0, 0]), p, p, fx, fx)
    # an unheld one without a mark is fine
    assert hypothetical_pnl(inst, np.array([1.0, 0, 0, 0, 0]), p, p, fx, fx) == 0.0
