"""Currency conversion from quoted pairs (riskstream.core.fx).

Expected values are the ECB euro foreign exchange reference rates of 28 June 2024
(ECB press release of that day: USD 1.0705, JPY 171.94, GBP 0.84638, CHF 0.9634), whose
cross rates in USD are the reference rate ratios.
"""

import datetime as dt

import polars as pl
import pytest

from riskstream.core.errors import InputError
from riskstream.core.fx import conversion_paths, rate_history_to_base, rates_to_base, split_pair

ECB_2024_06_28 = {"EURUSD": 1.0705, "EURJPY": 171.94, "EURGBP": 0.84638, "EURCHF": 0.9634}


def test_split_pair():
    assert split_pair("EURUSD") == ("EUR", "USD")
    assert split_pair("EUR/USD") is None
    assert split_pair("AAPL") is None
    assert split_pair("USDUSD") is None


def test_direct_inverse_and_cross_rates():
    rates = rates_to_base(ECB_2024_06_28, ["USD", "EUR", "JPY", "GBP", "CHF"], "USD")
    assert rates["USD"] == 1.0
    assert rates["EUR"] == pytest.approx(1.0705, rel=1e-15)
    # cross rate through EUR: USD per JPY = EURUSD / EURJPY
    assert rates["JPY"] == pytest.approx(1.0705 / 171.94, rel=1e-14)
    assert rates["GBP"] == pytest.approx(1.0705 / 0.84638, rel=1e-14)
    # an inverted direct quote
    assert rates_to_base({"USDJPY": 160.9}, ["JPY"], "USD")["JPY"] == pytest.approx(1 / 160.9)


def test_shortest_path_is_preferred():
    paths = conversion_paths(["EURUSD", "EURJPY", "USDJPY"], ["JPY"], "USD")
    assert paths["JPY"] == (("USDJPY", -1.0),)


def test_unconvertible_currency_is_named():
    with pytest.raises(InputError, match="'currency' has value 'BRL'"):
        rates_to_base(ECB_2024_06_28, ["BRL"], "USD")
    with pytest.raises(InputError, match="JPY"):
        rates_to_base({"EURUSD": 1.07, "EURJPY": float("nan")}, ["JPY"], "USD")


def test_history_agrees_with_single_day_conversion():
    days = [dt.date(2024, 6, 27), dt.date(2024, 6, 28)]
    rows = [
        (days[0], "EURUSD", 1.0716),
        (days[0], "EURJPY", 172.03),
        (days[1], "EURUSD", 1.0705),
        (days[1], "EURJPY", 171.94),
        (days[1], "AAPL", 210.62),
    ]
    prices = pl.DataFrame(rows, schema=["date", "symbol", "close"], orient="row")
    rates, paths = rate_history_to_base(prices, ["JPY", "EUR", "USD"], "USD")
    assert paths["JPY"] == (("EURJPY", -1.0), ("EURUSD", 1.0))
    jpy = rates.filter(pl.col("currency") == "JPY")["rate"].to_list()
    assert jpy == pytest.approx([1.0716 / 172.03, 1.0705 / 171.94], rel=1e-14)
    assert set(rates["currency"]) == {"JPY", "EUR"}
