"""Small hand-built books for the stress tests (every number in them is checkable by hand)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.instruments import (
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    Book,
    Instrument,
    Position,
    Universe,
    records_to_frame,
)
from riskstream.stress.book import StressBook, build_book

AS_OF = dt.date(2024, 1, 2)


def inst(i: int, symbol: str, asset: str, price: float, **kw: Any) -> Instrument:
    base = {
        "instrument_id": i,
        "symbol": symbol,
        "asset_class": asset,
        "currency": kw.pop("currency", "USD"),
        "exchange": "X",
        "country": kw.pop("country", "US"),
        "ref_price": price,
        "adv": kw.pop("adv", 1_000_000.0),
        "spread_bps": kw.pop("spread_bps", 10.0),
    }
    base.update(kw)
    return Instrument(**base)


def universe(
    instruments: list[Instrument],
    quantities: list[float],
    desks: list[str] | None = None,
    fx: dict[str, float] | None = None,
) -> Universe:
    """One position per instrument (book i holds instrument i) on desks ``desks``."""
    n = len(instruments)
    desks = desks or ["D1"] * n
    books = [
        Book(book_id=i, name=f"B{i}", desk=desks[i], strategy="s", trader="t") for i in range(n)
    ]
    positions = [
        Position(book_id=i, instrument_id=i, quantity=q) for i, q in enumerate(quantities) if q
    ]
    return Universe(
        records_to_frame(instruments, INSTRUMENT_SCHEMA),
        records_to_frame(books, BOOK_SCHEMA),
        records_to_frame(positions, POSITION_SCHEMA),
        "USD",
        {"USD": 1.0, **(fx or {})},
        AS_OF,
    )


def book_of(
    u: Universe,
    vols: dict[int, float] | None = None,
    rates: dict[int, float] | None = None,
    curves: pl.DataFrame | None = None,
) -> StressBook:
    """The stress book of ``u`` marked at its reference prices."""
    n = u.instruments.height
    iv = np.full(n, np.nan)
    r = np.full(n, np.nan)
    for i, v in (vols or {}).items():
        iv[i] = v
    for i, v in (rates or {}).items():
        r[i] = v
    return build_book(u, u.instruments["ref_price"].to_numpy(), iv, r, AS_OF, curves)


def linear_universe() -> Universe:
    """Three US equities and a EUR equity; a future on an index."""
    return universe(
        [
            inst(0, "AAA", "equity", 50.0, sector="Financials"),
            inst(1, "BBB", "equity", 20.0, sector="Energy"),
            inst(2, "CCC", "equity", 10.0, sector="Energy"),
            inst(3, "SAP", "equity", 100.0, currency="EUR", country="DE", sector="Energy"),
            inst(
                4,
                "ESH4",
                "future",
                4000.0,
                multiplier=50.0,
                sector="index:SPX",
                expiry=dt.date(2024, 3, 15),
            ),
        ],
        [100.0, -300.0, 1000.0, 40.0, 2.0],
        desks=["Eq", "Eq", "Eq2", "Eu", "Fut"],
        fx={"EUR": 1.10},
    )
