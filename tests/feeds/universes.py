"""Small hand-built universes for the simulator's tests: every asset class, a few of each.

Prices follow the reference universe's conventions (options priced by Black-Scholes /
Black-76 on the universe's smile, bonds at the currency curve plus a spread), so the
simulator's calibration sees the same shapes as on a generated universe.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from riskstream.core.instruments import BOOK_SCHEMA, INSTRUMENT_SCHEMA, POSITION_SCHEMA, Universe
from riskstream.feeds.markets import usd_per_unit, zero_rate
from riskstream.pricing import bond_price_from_yield, bsm_price

AS_OF = dt.date(2024, 6, 28)

EQUITIES = [
    # symbol, currency, exchange, country, sector, tick, lot, price, adv, spread_bps
    ("AAA US", "USD", "XNYS", "US", "Information Technology", 0.01, 1.0, 180.0, 2e7, 2.0),
    ("BBB US", "USD", "XNAS", "US", "Information Technology", 0.01, 1.0, 95.0, 8e6, 3.0),
    ("CCC US", "USD", "XNYS", "US", "Financials", 0.01, 1.0, 42.0, 5e6, 4.0),
    ("DDD LN", "GBP", "XLON", "GB", "Energy", 0.001, 1.0, 6.5, 3e6, 8.0),
    ("EEE GY", "EUR", "XETR", "DE", "Industrials", 0.01, 1.0, 71.0, 2e6, 6.0),
    ("1301 JT", "JPY", "XTKS", "JP", "Consumer Staples", 1.0, 100.0, 2480.0, 1e6, 9.0),
]


def _row(**kw) -> dict:
    row = dict.fromkeys(INSTRUMENT_SCHEMA)
    row.update(kw)
    return row


def small_universe() -> Universe:
    """Six equities, two index futures and one commodity future, twelve options (on a stock
    and on the index future), four FX instruments (spots and a forward) and five bonds."""
    rows: list[dict] = []
    for sym, ccy, ex, cc, sector, tick, lot, price, adv, spread in EQUITIES:
        rows.append(
            _row(
                symbol=sym,
                asset_class="equity",
                currency=ccy,
                exchange=ex,
                country=cc,
                sector=sector,
                multiplier=1.0,
                tick_size=tick,
                lot_size=lot,
                ref_price=price,
                adv=adv,
                spread_bps=spread,
            )
        )
    es_front = len(rows)
    for sym, expiry, price, adv in (
        ("ESU24", dt.date(2024, 9, 20), 5460.0, 1.5e6),
        ("ESZ24", dt.date(2024, 12, 20), 5530.0, 3e5),
    ):
        rows.append(
            _row(
                symbol=sym,
                asset_class="future",
                currency="USD",
                exchange="XCME",
                country="US",
                sector="index:SPX",
                multiplier=50.0,
                tick_size=0.25,
                lot_size=1.0,
                ref_price=price,
                adv=adv,
                spread_bps=0.5,
                expiry=expiry,
            )
        )
    rows.append(
        _row(
            symbol="CLQ24",
            asset_class="future",
            currency="USD",
            exchange="XNYM",
            country="US",
            sector="commodity:WTI",
            multiplier=1000.0,
            tick_size=0.01,
            lot_size=1.0,
            ref_price=81.5,
            adv=3e5,
            spread_bps=1.2,
            expiry=dt.date(2024, 7, 22),
        )
    )
    # Options: a stock (vol 30 %, skew 0.20) and the front index future (vol 15 %, skew 0.35).
    for under, vol, skew, black76, tick, mult, exchange in (
        (0, 0.30, 0.20, False, 0.01, 100.0, "XCBO"),
        (es_front, 0.15, 0.35, True, 0.25, 50.0, "XCME"),
    ):
        S = rows[under]["ref_price"]
        for expiry in (dt.date(2024, 7, 19), dt.date(2024, 12, 20)):
            T = (expiry - AS_OF).days / 365.0
            r = float(zero_rate(["USD"], np.array([T]))[0])
            for mny in (0.9, 1.0, 1.1):
                for right in ("C", "P"):
                    K = round(S * mny / 5.0) * 5.0
                    x = np.log(K / S) / np.sqrt(T)
                    atm = vol * (1.0 + 0.08 * (np.sqrt(T) - 0.5))
                    sigma = np.clip(atm * (1 - skew * x + 0.1 * x * x), 0.5 * atm, 3 * atm)
                    q = r if black76 else 0.0
                    price = float(bsm_price(S, K, T, r, q, sigma, right == "C"))
                    price = max(round(price / tick) * tick, tick)
                    rows.append(
                        _row(
                            symbol=f"{rows[under]['symbol']} {expiry:%y%m%d} {right}{K:g}",
                            asset_class="option",
                            currency="USD",
                            exchange=exchange,
                            country="US",
                            sector=rows[under]["sector"],
                            multiplier=mult,
                            tick_size=tick,
                            lot_size=1.0,
                            ref_price=price,
                            adv=2e3,
                            spread_bps=max(1e4 * tick / price, 150.0),
                            underlying_id=under,
                            expiry=expiry,
                            strike=K,
                            right=right,
                            exercise="european" if black76 else "american",
                        )
                    )
    usd = usd_per_unit()
    for base, quote, tick, fwd_days, adv in (
        ("EUR", "USD", 1e-5, None, 1.5e11),
        ("EUR", "USD", 1e-5, 182, 5e9),
        ("USD", "JPY", 1e-3, None, 1.2e11),
        ("USD", "MXN", 1e-4, None, 2e10),
    ):
        spot = usd[base] / usd[quote]
        expiry = None if fwd_days is None else AS_OF + dt.timedelta(days=fwd_days)
        T = 0.0 if expiry is None else fwd_days / 365.0
        carry = zero_rate([quote], np.array([T]))[0] - zero_rate([base], np.array([T]))[0]
        price = round(spot * np.exp(carry * T) / tick) * tick
        symbol = base + quote + ("" if expiry is None else f" {expiry:%Y%m%d}")
        rows.append(
            _row(
                symbol=symbol,
                asset_class="fx",
                currency=quote,
                exchange="OTC",
                country="EU" if base == "EUR" else "JP",
                sector="fx:G10",
                multiplier=1.0,
                tick_size=tick,
                lot_size=1000.0,
                ref_price=price,
                adv=adv,
                spread_bps=0.8,
                expiry=expiry,
                base_currency=base,
            )
        )
    for sym, ccy, cc, sector, rating, freq, years, spread, tick in (
        ("T 2Y", "USD", "US", "government", "AA+", 2, 2.0, 0.0, 1 / 128),
        ("T 10Y", "USD", "US", "government", "AA+", 2, 10.0, 0.0, 1 / 128),
        ("DBR 5Y", "EUR", "DE", "government", "AAA", 1, 5.0, 0.0, 0.001),
        ("AAA 5Y", "USD", "US", "corporate:Information Technology", "A", 2, 5.0, 0.009, 1 / 128),
        ("CCC 7Y", "USD", "US", "corporate:Financials", "BB", 2, 7.0, 0.03, 1 / 128),
    ):
        maturity = AS_OF + dt.timedelta(days=round(years * 365.25))
        T = (maturity - AS_OF).days / 365.0
        y_cont = zero_rate([ccy], np.array([T]))[0] + spread
        y = freq * np.expm1(y_cont / freq)
        coupon = round(y * 800) / 800
        price = round(float(bond_price_from_yield(y, coupon, T, freq)) / tick) * tick
        rows.append(
            _row(
                symbol=sym,
                asset_class="bond",
                currency=ccy,
                exchange="OTC",
                country=cc,
                sector=sector,
                multiplier=10.0,
                tick_size=tick,
                lot_size=1.0,
                ref_price=price,
                adv=2e5,
                spread_bps=3.0,
                coupon=coupon,
                maturity=maturity,
                coupon_frequency=freq,
                rating=rating,
            )
        )
    for i, row in enumerate(rows):
        row["instrument_id"] = i
    instruments = pl.DataFrame(rows, schema=INSTRUMENT_SCHEMA, orient="row")
    books = pl.DataFrame(
        [(0, "TEST-01", "Test", "Test", "tester")], schema=BOOK_SCHEMA, orient="row"
    )
    positions = pl.DataFrame(
        [(0, i, 100.0) for i in range(len(rows))], schema=POSITION_SCHEMA, orient="row"
    )
    kwargs = {"as_of": AS_OF} if "as_of" in Universe.__slots__ else {}
    return Universe(instruments, books, positions, "USD", usd, **kwargs)
