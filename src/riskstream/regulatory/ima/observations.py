"""Real-price observations of each risk factor, for the eligibility test (MAR31.12-31.13).

A factor's observations are the dates the stored series it is built from has a real close
(the ``series`` lineage of :class:`riskstream.risk.factor_history.FactorHistory`, e.g.
``prices:AAPL (log return)``, ``curves:USD (...)``, ``vols:SPX (...)``): rows written by a
load or by the live pipeline count; rows the user asked to fill forward
(``source = "fill:forward"``) do not, since nobody traded or quoted at that price. A factor
built from several series counts a day when *all* the series of a cross rate
(``EURUSD^1 x USDJPY^-1``) have a close, and when *any* contract of a futures chain has
one. Observations a user brings (committed quotes, trades of others: MAR31.13) come as
a ``risk_factor,date`` CSV and are added.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from riskstream.core.errors import InputError

NOT_REAL_SOURCES = ("fill:forward",)


def series_names(lineage: str) -> tuple[str, list[str], bool]:
    """(kind, series names, all required) of a factor's ``series`` lineage text."""
    kind, _, rest = lineage.partition(":")
    if kind not in ("prices", "curves", "vols"):
        return kind, [], False
    body = rest.split(" (", 1)[0]
    if " x " in body or "^" in body:  # an FX rate: a pair, or a chain of pairs with exponents
        return kind, [part.split("^")[0] for part in body.split(" x ")], True
    return kind, body.split(","), False


def factor_observations(
    series: Mapping[str, str],
    observed: Mapping[str, pl.DataFrame],
    extra: pl.DataFrame | None = None,
) -> dict[str, set[dt.date]]:
    """Observation dates of every factor.

    Parameters
    ----------
    series : mapping of factor key to its series lineage text
    observed : mapping of kind ("prices", "curves", "vols") to a frame ``series, date`` of
        the real observations stored (one row per series and date).
    extra : polars.DataFrame, optional
        ``risk_factor, date``: observations the user brings.
    """
    by_series: dict[tuple[str, str], set[dt.date]] = {}
    for kind, frame in observed.items():
        for name, dates in frame.group_by("series").agg(pl.col("date")).iter_rows():
            by_series[(kind, name)] = set(dates)
    out: dict[str, set[dt.date]] = {}
    for key, text in series.items():
        kind, names, all_required = series_names(text)
        sets = [by_series.get((kind, n), set()) for n in names]
        if not sets:
            out[key] = set()
        elif all_required:
            out[key] = set.intersection(*sets)
        else:
            out[key] = set().union(*sets)
    if extra is not None:
        for key, dates in extra.group_by("risk_factor").agg(pl.col("date")).iter_rows():
            out.setdefault(key, set()).update(dates)
    return out


def read_observations_file(path: str) -> pl.DataFrame:
    """A user's observations CSV: columns ``risk_factor`` (a factor key such as
    ``EQ:AAPL``) and ``date`` (YYYY-MM-DD), one row per observation."""
    try:
        frame = pl.read_csv(path, schema_overrides={"risk_factor": pl.String, "date": pl.String})
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError("observations", str(path), f"a readable CSV ({exc})") from None
    missing = {"risk_factor", "date"} - set(frame.columns)
    if missing:
        raise InputError("observations", sorted(frame.columns), "columns risk_factor, date")
    parsed = frame.with_columns(pl.col("date").str.to_date("%Y-%m-%d", strict=False))
    bad = parsed.with_row_index().filter(pl.col("date").is_null() | pl.col("risk_factor").is_null())
    if bad.height:
        i = int(bad["index"][0])
        raise InputError(
            f"observations line {i + 2}",
            f"{frame['risk_factor'][i]},{frame['date'][i]}",
            "a factor key and a date as YYYY-MM-DD",
        )
    return parsed.select("risk_factor", "date")
