"""Loading backtest inputs: exception series and return histories (files or ``arch.data``).

Files are CSV or Parquet (by extension). A ``date`` column, where present, must be strictly
increasing: a duplicated or out-of-order date means the series was assembled wrong and the
forecasts would be compared with the wrong days' P&L.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from riskstream.backtest.inputs import check_hits
from riskstream.core.errors import InputError

BUILTIN_DATASETS = ("sp500", "nasdaq")


def read_table(path: str | Path) -> pl.DataFrame:
    """Read a CSV or Parquet file into a DataFrame (by its extension)."""
    file = Path(path)
    if not file.exists():
        raise InputError("input", str(file), "an existing CSV or Parquet file")
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(file)
        if suffix in (".csv", ".txt"):
            return pl.read_csv(file, try_parse_dates=True)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError("input", str(file), f"a readable {suffix[1:]} file ({exc})") from None
    raise InputError("input", str(file), "a file ending in .csv or .parquet")


def _column(frame: pl.DataFrame, name: str, source: str) -> pl.Series:
    if name not in frame.columns:
        raise InputError(name, f"columns {frame.columns}", f"a column named '{name}'", source)
    column = frame[name]
    if column.null_count():
        row = int(np.flatnonzero(column.is_null().to_numpy())[0])
        raise InputError(name, None, "a value on every row", f"{source}: row {row}")
    return column


def check_dates(dates: np.ndarray, source: str) -> np.ndarray:
    """Dates strictly increasing (no duplicate, no reordering); returns them."""
    if dates.size > 1:
        step = dates[1:] > dates[:-1]
        if not np.all(step):
            row = int(np.flatnonzero(~step)[0]) + 1
            raise InputError(
                "date",
                str(dates[row]),
                f"a date after {dates[row - 1]} (dates must be strictly increasing)",
                f"{source}: row {row}",
            )
    return dates


def load_hits(path: str | Path) -> np.ndarray:
    """The ``hit`` column of a CSV/Parquet file as an int8 0/1 array of shape (n_obs,)."""
    frame = read_table(path)
    source = str(path)
    hits = _column(frame, "hit", source)
    if "date" in frame.columns:
        check_dates(_column(frame, "date", source).to_numpy(), source)
    try:
        return check_hits(hits.to_numpy())
    except InputError as exc:
        where = f"{source}: {exc.location}" if exc.location else source
        raise InputError(exc.field, exc.value, exc.expected, where) from None


@dataclass(frozen=True)
class ReturnSeries:
    """A daily return history.

    Attributes
    ----------
    name : str
    dates : ndarray of datetime64[D], shape (n_obs,)
    returns : ndarray of float64, shape (n_obs,)
        Daily log returns as decimals (0.01 = 1%): the P&L of a unit long position in
        log terms, additive over days, as the models expect.
    """

    name: str
    dates: np.ndarray
    returns: np.ndarray


def load_returns(source: str | Path) -> ReturnSeries:
    """Daily log returns of ``sp500`` or ``nasdaq`` (``arch.data``, adjusted close) or a file.

    A file is CSV or Parquet with a ``date`` column and either a ``return`` column (daily
    returns or P&L, used as given) or a ``price`` column (log returns are computed from it).
    """
    name = str(source)
    if name in BUILTIN_DATASETS:
        import importlib

        module = importlib.import_module(f"arch.data.{name}")
        prices = module.load()["Adj Close"]
        returns = np.log(prices).diff().dropna()
        return ReturnSeries(
            name=name,
            dates=returns.index.values.astype("datetime64[D]"),
            returns=returns.to_numpy(dtype=np.float64),
        )
    frame = read_table(source)
    dates = check_dates(_column(frame, "date", name).to_numpy(), name)
    if "return" in frame.columns:
        values = _column(frame, "return", name).cast(pl.Float64).to_numpy()
    elif "price" in frame.columns:
        price = _column(frame, "price", name).cast(pl.Float64).to_numpy()
        if np.any(~(price > 0)):
            row = int(np.flatnonzero(~(price > 0))[0])
            raise InputError("price", float(price[row]), "a positive price", f"{name}: row {row}")
        values = np.diff(np.log(price))
        dates = dates[1:]
    else:
        raise InputError(
            "return", f"columns {frame.columns}", "a 'return' or a 'price' column", name
        )
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError("return", float(values[row]), "a finite number", f"{name}: row {row}")
    return ReturnSeries(name=Path(name).stem, dates=np.asarray(dates), returns=values)
