"""Reference data models: instruments, books (desk / strategy / trader) and positions.

Two shapes of the same data, one for each job:

* pydantic models (:class:`Instrument`, :class:`Book`, :class:`Position`) validate single
  records at the boundary (files, API requests) with errors that name the field;
* columnar tables (polars DataFrames with :data:`INSTRUMENT_SCHEMA`, :data:`BOOK_SCHEMA`,
  :data:`POSITION_SCHEMA`) carry whole universes to the numeric code, where the dense
  ``instrument_id`` indexes every per-instrument array.

Units: ``multiplier`` converts a price move of 1.0 into a P&L in the instrument's currency per
unit of quantity (an equity 1, an index future its point value, a bond quoted per 100 of face
with 1,000 face per unit 10). Market value of a position is
``quantity * price * multiplier`` in ``currency``; the base currency is a setting (USD).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal, Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class AssetClass(StrEnum):
    """The five asset classes Riskstream covers; the integer code indexes dense arrays."""

    EQUITY = "equity"
    FUTURE = "future"
    OPTION = "option"
    FX = "fx"
    BOND = "bond"

    @property
    def code(self) -> int:
        return _ASSET_CLASS_CODES[self]


_ASSET_CLASS_CODES = {ac: i for i, ac in enumerate(AssetClass)}
ASSET_CLASSES: tuple[str, ...] = tuple(ac.value for ac in AssetClass)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Instrument(_Record):
    """One tradable instrument. Fields that do not apply to its asset class are ``None``."""

    instrument_id: Annotated[int, Field(ge=0, lt=2**31)]
    symbol: Annotated[str, Field(min_length=1, max_length=64)]
    asset_class: AssetClass
    currency: Currency
    exchange: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    sector: str | None = None
    multiplier: PositiveFloat = 1.0
    tick_size: PositiveFloat = 0.01
    lot_size: PositiveFloat = 1.0
    ref_price: PositiveFloat
    adv: PositiveFloat = Field(description="average daily volume, in units")
    spread_bps: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        description="typical quoted bid-ask spread, basis points of mid"
    )
    underlying_id: Annotated[int, Field(ge=0)] | None = None
    expiry: dt.date | None = None
    strike: PositiveFloat | None = None
    right: Literal["C", "P"] | None = None
    exercise: Literal["european", "american"] | None = None
    base_currency: Currency | None = None
    coupon: Annotated[float, Field(ge=0, lt=1)] | None = None
    maturity: dt.date | None = None
    coupon_frequency: Literal[1, 2, 4, 12] | None = None
    rating: str | None = None
    dividend_yield: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = Field(
        default=None,
        description="continuous annual dividend yield q of an equity or index (0.02 = 2 %); "
        "its forward is S exp((r - q) T), so an option on it is priced with the same q",
    )

    @model_validator(mode="after")
    def _fields_of_its_class(self) -> Self:
        required = {
            AssetClass.OPTION: ("underlying_id", "expiry", "strike", "right", "exercise"),
            AssetClass.FUTURE: ("expiry",),
            AssetClass.FX: ("base_currency",),
            AssetClass.BOND: ("coupon", "maturity", "coupon_frequency"),
        }.get(self.asset_class, ())
        for name in required:
            if getattr(self, name) is None:
                raise ValueError(f"{name} is required for asset class {self.asset_class.value}")
        return self


class Book(_Record):
    """A trading book: the unit of ownership, rolled up by trader, strategy and desk."""

    book_id: Annotated[int, Field(ge=0)]
    name: Annotated[str, Field(min_length=1)]
    desk: Annotated[str, Field(min_length=1)]
    strategy: Annotated[str, Field(min_length=1)]
    trader: Annotated[str, Field(min_length=1)]


class Position(_Record):
    """A signed quantity of one instrument held in one book (long > 0, short < 0)."""

    book_id: Annotated[int, Field(ge=0)]
    instrument_id: Annotated[int, Field(ge=0)]
    quantity: Annotated[float, Field(allow_inf_nan=False)]


INSTRUMENT_SCHEMA: dict[str, pl.DataType] = {
    "instrument_id": pl.Int32(),
    "symbol": pl.String(),
    "asset_class": pl.String(),
    "currency": pl.String(),
    "exchange": pl.String(),
    "country": pl.String(),
    "sector": pl.String(),
    "multiplier": pl.Float64(),
    "tick_size": pl.Float64(),
    "lot_size": pl.Float64(),
    "ref_price": pl.Float64(),
    "adv": pl.Float64(),
    "spread_bps": pl.Float64(),
    "underlying_id": pl.Int32(),
    "expiry": pl.Date(),
    "strike": pl.Float64(),
    "right": pl.String(),
    "exercise": pl.String(),
    "base_currency": pl.String(),
    "coupon": pl.Float64(),
    "maturity": pl.Date(),
    "coupon_frequency": pl.Int8(),
    "rating": pl.String(),
    "dividend_yield": pl.Float64(),
}
"""Columns of an instrument table, in order (one row per :class:`Instrument`)."""

BOOK_SCHEMA: dict[str, pl.DataType] = {
    "book_id": pl.Int32(),
    "name": pl.String(),
    "desk": pl.String(),
    "strategy": pl.String(),
    "trader": pl.String(),
}

POSITION_SCHEMA: dict[str, pl.DataType] = {
    "book_id": pl.Int32(),
    "instrument_id": pl.Int32(),
    "quantity": pl.Float64(),
}


def records_to_frame(records: list[_Record], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A columnar table from validated records, with the canonical schema and column order."""
    rows = [r.model_dump(mode="python") for r in records]
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


class Universe:
    """A reference universe: instruments, books and the positions held in them.

    Frozen after construction; tables are polars DataFrames with the canonical schemas, and
    ``instruments["instrument_id"]`` is dense (``0 .. n-1`` in row order) so it can index
    numpy arrays directly.

    Parameters
    ----------
    instruments, books, positions : polars.DataFrame
        Tables with :data:`INSTRUMENT_SCHEMA`, :data:`BOOK_SCHEMA`, :data:`POSITION_SCHEMA`.
    base_currency : str
        Currency that portfolio-level figures are reported in.
    fx_to_base : dict of str to float
        Units of base currency per unit of each currency, at ``ref_price`` time.
    as_of : datetime.date, optional
        Date of the reference prices (times to expiry count from it).
    """

    __slots__ = ("as_of", "base_currency", "books", "fx_to_base", "instruments", "positions")

    def __init__(
        self,
        instruments: pl.DataFrame,
        books: pl.DataFrame,
        positions: pl.DataFrame,
        base_currency: str,
        fx_to_base: dict[str, float],
        as_of: dt.date | None = None,
    ):
        for name, frame, schema in (
            ("instruments", instruments, INSTRUMENT_SCHEMA),
            ("books", books, BOOK_SCHEMA),
            ("positions", positions, POSITION_SCHEMA),
        ):
            if dict(frame.schema) != schema:
                raise ValueError(f"{name} table has schema {dict(frame.schema)}; expected {schema}")
        ids = instruments["instrument_id"].to_numpy()
        if len(ids) and not (ids == range(len(ids))).all():
            raise ValueError("instrument_id must be dense 0..n-1 in row order")
        missing = set(instruments["currency"].unique()) - set(fx_to_base)
        if missing:
            raise ValueError(f"fx_to_base lacks rates for currencies {sorted(missing)}")
        object.__setattr__(self, "instruments", instruments)
        object.__setattr__(self, "books", books)
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "base_currency", base_currency)
        object.__setattr__(self, "fx_to_base", dict(fx_to_base))
        object.__setattr__(self, "as_of", as_of)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Universe is immutable")

    def __reduce__(self) -> tuple[type[Universe], tuple[object, ...]]:
        # Pickled (e.g. to a Dask worker) as its constructor's arguments: the default
        # would set the slots through __setattr__, which refuses.
        return (
            type(self),
            (
                self.instruments,
                self.books,
                self.positions,
                self.base_currency,
                self.fx_to_base,
                self.as_of,
            ),
        )

    def __len__(self) -> int:
        return self.instruments.height

    def market_values(self) -> pl.DataFrame:
        """Positions joined to instruments with ``market_value_base`` (signed, base currency)
        and ``notional_base`` (absolute exposure; for options delta is not applied here)."""
        fx = pl.DataFrame(
            {"currency": list(self.fx_to_base), "fx_to_base": list(self.fx_to_base.values())}
        )
        return (
            self.positions.join(self.instruments, on="instrument_id", how="left")
            .join(fx, on="currency", how="left")
            .with_columns(
                market_value_base=pl.col("quantity")
                * pl.col("ref_price")
                * pl.col("multiplier")
                * pl.col("fx_to_base")
            )
            .with_columns(notional_base=pl.col("market_value_base").abs())
        )
