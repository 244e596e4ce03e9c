"""Market-history files: daily closes, zero curves and implied vols, validated, all or nothing.

Three long formats (one observation per row, CSV with a header or Parquet), one per *kind*::

    prices   date, symbol, close                                    # daily close, instrument's
    2024-01-02, SPX, 4742.83                                        #   currency; an FX pair
    2024-01-02, EURUSD, 1.0945                                      #   carries its rate

    curves   date, currency, tenor_years, zero_rate                 # continuously compounded
    2024-01-02, USD, 0.25, 0.0531                                   #   zero rate, a decimal

    vols     date, underlying, expiry_years, moneyness, implied_vol # moneyness K/S; Black
    2024-01-02, SPX, 0.5, 0.9, 0.182                                #   implied vol, annual decimal

``date`` is an ISO calendar day (``YYYY-MM-DD``; in Parquet also a date or datetime column).
Checks, per row: every column present and no other; a parseable date; a non-empty symbol or
underlying; an ISO 4217 currency (three capital letters); finite numbers; ``tenor_years >=
0``; ``expiry_years``, ``moneyness`` and ``implied_vol`` ``> 0``; each key (date + series
[+ tenor | + expiry + moneyness]) once. A close may be zero or negative here: that is a
data-quality finding (quarantined at load, :mod:`riskstream.store.history_quality`), not a
malformed row. Zero rates may be negative (EUR, CHF and JPY curves were for years).

Every bad row becomes an :class:`~riskstream.core.errors.InputError` located ``file:line``
(the CSV line; for Parquet the 1-based row), all gathered in one
:class:`~riskstream.core.errors.LoadError`: a file with any bad row loads nothing. Blank CSV
lines are skipped; quoted fields spanning lines are not supported (line numbers would drift).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from riskstream.core.errors import InputError, LoadError

Kind = Literal["prices", "curves", "vols"]
KINDS: tuple[Kind, ...] = ("prices", "curves", "vols")

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "prices": {"date": pl.Date(), "symbol": pl.String(), "close": pl.Float64()},
    "curves": {
        "date": pl.Date(),
        "currency": pl.String(),
        "tenor_years": pl.Float64(),
        "zero_rate": pl.Float64(),
    },
    "vols": {
        "date": pl.Date(),
        "underlying": pl.String(),
        "expiry_years": pl.Float64(),
        "moneyness": pl.Float64(),
        "implied_vol": pl.Float64(),
    },
}
"""The canonical columns of each kind, in order (what :func:`read_history_file` returns)."""

SERIES: dict[str, str] = {"prices": "symbol", "curves": "currency", "vols": "underlying"}
"""The column naming a kind's series (one time series of closes, curves or surfaces)."""

KEYS: dict[str, tuple[str, ...]] = {
    "prices": ("date", "symbol"),
    "curves": ("date", "currency", "tenor_years"),
    "vols": ("date", "underlying", "expiry_years", "moneyness"),
}
"""The columns identifying one observation: a load upserts by them."""

# Numeric columns and the condition each must meet (beyond being finite), in words.
_BOUNDS: dict[str, tuple[float | None, bool, str]] = {
    # name: (lower bound, strict?, expected)
    "close": (None, False, "a finite number"),
    "zero_rate": (None, False, "a finite number (a continuously compounded decimal rate)"),
    "tenor_years": (0.0, False, "a finite number of years >= 0"),
    "expiry_years": (0.0, True, "a finite number of years > 0"),
    "moneyness": (0.0, True, "a finite strike/spot ratio > 0"),
    "implied_vol": (0.0, True, "a finite annual volatility > 0 (a decimal, 0.2 = 20%)"),
}
_CURRENCY = r"^[A-Z]{3}$"


def check_kind(kind: str) -> Kind:
    """``kind`` if it is one of :data:`KINDS`, else an :class:`InputError`."""
    if kind not in KINDS:
        raise InputError("kind", kind, f"one of {', '.join(KINDS)}")
    return kind


def empty_frame(kind: str) -> pl.DataFrame:
    """An empty frame with ``kind``'s canonical columns."""
    return pl.DataFrame(schema=SCHEMAS[check_kind(kind)])


def read_history_file(path: str | Path, kind: str = "prices") -> pl.DataFrame:
    """Read and validate a market-history file (see the module docstring for the formats).

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` file in the long format of ``kind``.
    kind : {"prices", "curves", "vols"}
        Which table the file feeds.

    Returns
    -------
    polars.DataFrame
        The rows in file order with :data:`SCHEMAS` ``[kind]`` (dates as ``pl.Date``,
        numbers as float64, names stripped of surrounding spaces).

    Raises
    ------
    LoadError
        The file is missing, unreadable, of another type, or any row is bad; every bad row
        is listed and nothing is returned.
    """
    kind = check_kind(kind)
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise LoadError(source, [InputError("file", source, "a .csv or .parquet file")])
    if not path.is_file():
        raise LoadError(source, [InputError("file", source, "an existing file")])
    if suffix == ".csv":
        raw, lines, errors = _read_csv(path, kind)
    else:
        raw, lines, errors = _read_parquet(path, kind)
    frame, value_errors = validate_history_frame(raw, kind, source, lines)
    errors.extend(value_errors)
    if errors:
        errors.sort(key=lambda e: _line_of(e.location))
        raise LoadError(source, errors)
    return frame


def validate_history_frame(
    raw: pl.DataFrame, kind: str, source: str, lines: np.ndarray | None = None
) -> tuple[pl.DataFrame, list[InputError]]:
    """Parse and check raw columns (strings, or already typed) of ``kind``.

    Parameters
    ----------
    raw : polars.DataFrame
        Exactly the canonical columns (missing or extra columns are reported by the
        readers); string columns are parsed, numeric and date columns are taken as they are.
    kind : {"prices", "curves", "vols"}
    source : str
        The file name, for error locations.
    lines : ndarray of shape (raw.height,), optional
        The line (or row) number of each row; default ``2, 3, ...`` (a CSV after its header).

    Returns
    -------
    (frame, errors)
        The typed frame (meaningful only when ``errors`` is empty) and one
        :class:`InputError` per bad value or repeated key.
    """
    kind = check_kind(kind)
    schema = SCHEMAS[kind]
    if lines is None:
        lines = np.arange(2, raw.height + 2)
    errors: list[InputError] = []
    columns: dict[str, pl.Series] = {}

    def report(mask: pl.Series, name: str, values: pl.Series, expected: str) -> None:
        for i in np.flatnonzero(mask.fill_null(True).to_numpy()):
            value = values[int(i)]
            errors.append(InputError(name, value, expected, f"{source}:{lines[i]}"))

    for name, dtype in schema.items():
        if name not in raw.columns:
            continue
        column = raw.get_column(name)
        if name == "date":
            parsed = _parse_dates(column)
            report(parsed.is_null(), name, column, "an ISO date YYYY-MM-DD")
        elif dtype == pl.String():
            parsed = column.cast(pl.String).str.strip_chars()
            if name == "currency":
                bad = ~parsed.str.contains(_CURRENCY)
                report(bad, name, column, "an ISO 4217 currency code (three capital letters)")
            else:
                report(parsed.str.len_chars() == 0, name, column, f"a non-empty {name}")
        else:
            parsed = _parse_numbers(column)
            lower, strict, expected = _BOUNDS[name]
            bad = parsed.is_null() | ~parsed.is_finite()
            if lower is not None:
                bad = bad | ((parsed <= lower) if strict else (parsed < lower))
            report(bad, name, column, expected)
        columns[name] = parsed.alias(name)
    keys = list(KEYS[kind])
    if all(k in columns for k in keys):
        errors += _repeated_keys(pl.DataFrame([columns[k] for k in keys]), source, lines)
    if len(columns) < len(schema) or errors:
        return empty_frame(kind), errors
    return pl.DataFrame(columns).select(list(schema)), errors


def _repeated_keys(keyed: pl.DataFrame, source: str, lines: np.ndarray) -> list[InputError]:
    """Each key once: a repeat is reported at its later line, naming the first. Rows with
    an unparseable key column are left out (already reported)."""
    keys = keyed.columns
    indexed = keyed.with_row_index("_row").drop_nulls(keys)
    first = indexed.group_by(keys).agg(pl.col("_row").min().alias("_first"))
    repeats = indexed.join(first, on=keys).filter(pl.col("_row") != pl.col("_first")).sort("_row")
    errors = []
    for row in repeats.iter_rows(named=True):
        key = ", ".join(f"{k}={row[k]}" for k in keys)
        errors.append(
            InputError(
                "key",
                key,
                f"each ({', '.join(keys)}) once; already at line {lines[row['_first']]}",
                f"{source}:{lines[row['_row']]}",
            )
        )
    return errors


# ---------------------------------------------------------------------------- readers


def _header_errors(found: list[str], kind: str, source: str) -> list[InputError]:
    expected = list(SCHEMAS[kind])
    where = f"{source}:1"
    errors = [
        InputError(name, None, f"a column named {name} ({kind}: {', '.join(expected)})", where)
        for name in expected
        if name not in found
    ]
    errors += [
        InputError("column", name, f"only the columns {', '.join(expected)}", where)
        for name in found
        if name not in expected
    ]
    return errors


def _read_csv(path: Path, kind: str) -> tuple[pl.DataFrame, np.ndarray, list[InputError]]:
    source = str(path)
    errors: list[InputError] = []
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.NoDataError:
        return empty_frame(kind), np.zeros(0, np.int64), _header_errors([], kind, source)
    except pl.exceptions.ComputeError as exc:
        # rows with more fields than the header: find each one's line, then read the rest
        try:
            errors = _ragged_lines(path, source)
            raw = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
        except (OSError, UnicodeDecodeError, pl.exceptions.ComputeError):
            errors = []
        if not errors:  # not a ragged file: unreadable (polars' first line says why)
            why = str(exc).strip().splitlines()[0]
            raise LoadError(
                source, [InputError("file", source, f"a readable UTF-8 CSV file ({why})")]
            ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(
            source, [InputError("file", source, f"a readable UTF-8 CSV file ({exc})")]
        ) from None
    raw = raw.rename({c: c.strip() for c in raw.columns})
    errors += _header_errors(raw.columns, kind, source)
    lines = np.arange(2, raw.height + 2)
    blank = raw.select(pl.all_horizontal(pl.all().is_null())).to_series()
    keep = ~blank.to_numpy()
    raw = raw.filter(~blank)
    return raw.select([c for c in SCHEMAS[kind] if c in raw.columns]), lines[keep], errors


def _ragged_lines(path: Path, source: str) -> list[InputError]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        errors = []
        for record in reader:
            if len(record) > len(header):
                errors.append(
                    InputError(
                        "(extra columns)",
                        record[len(header) :],
                        f"{len(header)} fields, as in the header",
                        f"{source}:{reader.line_num}",
                    )
                )
    return errors


def _read_parquet(path: Path, kind: str) -> tuple[pl.DataFrame, np.ndarray, list[InputError]]:
    source = str(path)
    try:
        raw = pl.read_parquet(path)
    except Exception as exc:  # any reader failure means "not a readable Parquet file"
        raise LoadError(
            source, [InputError("file", source, f"a readable Parquet file ({exc})")]
        ) from None
    errors = _header_errors(raw.columns, kind, source)
    lines = np.arange(1, raw.height + 1)
    return raw.select([c for c in SCHEMAS[kind] if c in raw.columns]), lines, errors


def _parse_dates(column: pl.Series) -> pl.Series:
    if column.dtype == pl.Date:
        return column
    if isinstance(column.dtype, pl.Datetime):
        # a datetime is a day only at midnight; anything else is not a daily observation
        midnight = column.dt.time() == dt.time(0)
        return pl.select(pl.when(midnight).then(column.dt.date())).to_series().alias(column.name)
    if column.dtype == pl.String:
        return column.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    return pl.Series(column.name, [None] * len(column), dtype=pl.Date)


def _parse_numbers(column: pl.Series) -> pl.Series:
    if column.dtype.is_numeric():
        return column.cast(pl.Float64)
    if column.dtype == pl.String:
        return column.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.Series(column.name, [None] * len(column), dtype=pl.Float64)


def _line_of(location: str | None) -> int:
    try:
        return int(str(location).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0
