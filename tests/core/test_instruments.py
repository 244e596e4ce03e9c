"""Reference-data models: validation errors name the field; the Universe keeps its invariants."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from pydantic import ValidationError

from riskstream.core import (
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    AssetClass,
    Book,
    InputError,
    Instrument,
    LoadError,
    Position,
    Universe,
    records_to_frame,
)

EQUITY = dict(
    instrument_id=0,
    symbol="AAPL",
    asset_class="equity",
    currency="USD",
    exchange="XNAS",
    country="US",
    sector="tech",
    ref_price=190.0,
    adv=5e7,
    spread_bps=1.0,
)


def test_instrument_validates_and_names_the_bad_field() -> None:
    assert Instrument(**EQUITY).asset_class is AssetClass.EQUITY
    with pytest.raises(ValidationError, match="ref_price"):
        Instrument(**{**EQUITY, "ref_price": -1.0})
    with pytest.raises(ValidationError, match="currency"):
        Instrument(**{**EQUITY, "currency": "usd"})
    with pytest.raises(ValidationError, match="ref_price"):
        Instrument(**{**EQUITY, "ref_price": float("nan")})


def test_class_specific_fields_are_required() -> None:
    option = {**EQUITY, "instrument_id": 1, "symbol": "AAPL C200", "asset_class": "option"}
    with pytest.raises(ValidationError, match="underlying_id is required"):
        Instrument(**option)
    full = Instrument(
        **option,
        underlying_id=0,
        expiry=dt.date(2027, 1, 15),
        strike=200.0,
        right="C",
        exercise="american",
    )
    assert full.right == "C"


def test_asset_class_codes_are_dense() -> None:
    assert sorted(ac.code for ac in AssetClass) == list(range(5))


def _universe(**overrides: object) -> Universe:
    instruments = records_to_frame([Instrument(**EQUITY)], INSTRUMENT_SCHEMA)
    books = records_to_frame(
        [Book(book_id=0, name="b", desk="Equities", strategy="long-short", trader="ann")],
        BOOK_SCHEMA,
    )
    positions = records_to_frame(
        [Position(book_id=0, instrument_id=0, quantity=-100.0)], POSITION_SCHEMA
    )
    kwargs = dict(
        instruments=instruments,
        books=books,
        positions=positions,
        base_currency="USD",
        fx_to_base={"USD": 1.0},
    )
    kwargs.update(overrides)
    return Universe(**kwargs)  # type: ignore[arg-type]


def test_universe_market_value_in_base_currency() -> None:
    values = _universe().market_values()
    assert values["market_value_base"].to_list() == [-19_000.0]
    assert values["notional_base"].to_list() == [19_000.0]


def test_universe_rejects_sparse_ids_missing_fx_and_mutation() -> None:
    u = _universe()
    with pytest.raises(AttributeError):
        u.base_currency = "EUR"  # type: ignore[misc]
    sparse = u.instruments.with_columns(pl.lit(5, dtype=pl.Int32).alias("instrument_id"))
    with pytest.raises(ValueError, match="dense"):
        _universe(instruments=sparse)
    with pytest.raises(ValueError, match="USD"):
        _universe(fx_to_base={"EUR": 1.1})


def test_input_error_message_names_field_value_and_expectation() -> None:
    error = InputError("quantity", "abc", "a number", location="positions.csv:14")
    assert str(error) == "positions.csv:14: field 'quantity' has value 'abc'; expected a number"
    load = LoadError("positions.csv", [error])
    assert "1 bad record(s), nothing loaded" in str(load)
    assert error.as_dict()["location"] == "positions.csv:14"


def test_dividend_yield_is_an_optional_fraction() -> None:
    # A continuous annual yield q: 0 <= q < 1 (0.02 = 2 %); None means no dividends.
    assert Instrument(**EQUITY).dividend_yield is None
    assert Instrument(**EQUITY, dividend_yield=0.015).dividend_yield == 0.015
    for bad in (-0.01, 1.0, 2.5, float("inf")):
        with pytest.raises(ValidationError, match="dividend_yield"):
            Instrument(**EQUITY, dividend_yield=bad)
    frame = records_to_frame([Instrument(**EQUITY, dividend_yield=0.02)], INSTRUMENT_SCHEMA)
    assert frame["dividend_yield"].to_list() == [0.02]
