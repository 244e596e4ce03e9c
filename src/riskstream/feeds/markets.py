"""Market conventions the reference universe is built from: currencies and their rate curves,
FX pairs, equity markets, futures contracts and sovereign bond issuers.

Levels are round figures close to the markets of mid-2024 (the default ``as_of`` of
:class:`riskstream.feeds.config.UniverseConfig`); contract specifications (multiplier, tick,
cycle) are the exchanges' own (CME Group, Eurex, ICE, OSE, HKEX, ASX, Montréal Exchange
contract specifications). They are tables, not code: each row is one convention.
"""

from __future__ import annotations

import numpy as np
import polars as pl

CURRENCIES = pl.DataFrame(
    [
        # code, country, spot as USD per unit, short rate, long (30y) rate
        # Rates are continuously compounded annual decimals (approximate mid-2024 curves).
        ("USD", "US", 1.0, 0.053, 0.044),
        ("EUR", "EU", 1.0713, 0.037, 0.027),
        ("GBP", "GB", 1.2645, 0.052, 0.044),
        ("JPY", "JP", 1 / 160.9, 0.001, 0.021),
        ("CHF", "CH", 1 / 0.8985, 0.013, 0.009),
        ("CAD", "CA", 1 / 1.3680, 0.048, 0.034),
        ("AUD", "AU", 0.6670, 0.043, 0.044),
        ("NZD", "NZ", 0.6090, 0.055, 0.047),
        ("SEK", "SE", 1 / 10.59, 0.037, 0.024),
        ("NOK", "NO", 1 / 10.65, 0.047, 0.036),
        ("HKD", "HK", 1 / 7.808, 0.047, 0.038),
        ("SGD", "SG", 1 / 1.3555, 0.037, 0.030),
        ("CNH", "CN", 1 / 7.300, 0.025, 0.024),
        ("KRW", "KR", 1 / 1376.0, 0.035, 0.032),
        ("INR", "IN", 1 / 83.40, 0.068, 0.071),
        ("MXN", "MX", 1 / 18.30, 0.110, 0.098),
        ("BRL", "BR", 1 / 5.590, 0.105, 0.120),
        ("ZAR", "ZA", 1 / 18.25, 0.083, 0.110),
        ("TRY", "TR", 1 / 32.80, 0.450, 0.280),
        ("PLN", "PL", 1 / 4.020, 0.058, 0.056),
    ],
    schema=["currency", "country", "usd_per_unit", "rate_short", "rate_long"],
    orient="row",
)
"""Currencies: USD value of one unit (the FX spot reference) and a two-point rate curve."""

FX_PAIRS = pl.DataFrame(
    [
        # pair (base, quote), group, tick (pip fraction), spread bps, ADV in base units
        ("EUR", "USD", "G10", 0.00001, 0.5, 1.5e11),
        ("USD", "JPY", "G10", 0.001, 0.6, 1.2e11),
        ("GBP", "USD", "G10", 0.00001, 0.8, 6.0e10),
        ("AUD", "USD", "G10", 0.00001, 1.0, 4.0e10),
        ("USD", "CAD", "G10", 0.00001, 1.0, 4.0e10),
        ("USD", "CHF", "G10", 0.00001, 1.2, 3.0e10),
        ("NZD", "USD", "G10", 0.00001, 1.8, 1.5e10),
        ("USD", "SEK", "G10", 0.0001, 2.5, 1.0e10),
        ("USD", "NOK", "G10", 0.0001, 2.5, 8.0e9),
        ("EUR", "GBP", "G10", 0.00001, 1.0, 2.0e10),
        ("EUR", "JPY", "G10", 0.001, 1.2, 2.0e10),
        ("EUR", "CHF", "G10", 0.00001, 1.5, 1.0e10),
        ("USD", "HKD", "EM", 0.0001, 1.5, 1.0e10),
        ("USD", "SGD", "EM", 0.00001, 2.0, 8.0e9),
        ("USD", "CNH", "EM", 0.0001, 3.0, 5.0e10),
        ("USD", "MXN", "EM", 0.0001, 3.0, 2.0e10),
        ("USD", "KRW", "EM", 0.01, 4.0, 1.0e10),
        ("USD", "INR", "EM", 0.0025, 3.5, 8.0e9),
        ("USD", "BRL", "EM", 0.0001, 6.0, 6.0e9),
        ("USD", "ZAR", "EM", 0.0001, 6.0, 6.0e9),
        ("USD", "PLN", "EM", 0.0001, 5.0, 3.0e9),
        ("USD", "TRY", "EM", 0.0001, 15.0, 2.0e9),
    ],
    schema=["base", "quote", "group", "tick_size", "spread_bps", "adv"],
    orient="row",
)
"""FX pairs in market quoting convention (price = units of ``quote`` per unit of ``base``)."""

EQUITY_MARKETS = pl.DataFrame(
    [
        # country, currency, exchange (MIC), Bloomberg suffix, weight, median price, lot sizes,
        # numeric tickers (Tokyo and Hong Kong list by number)
        ("US", "USD", "XNYS", "US", 0.22, 60.0, 1, False),
        ("US", "USD", "XNAS", "US", 0.18, 50.0, 1, False),
        ("GB", "GBP", "XLON", "LN", 0.07, 8.0, 1, False),
        ("DE", "EUR", "XETR", "GY", 0.06, 70.0, 1, False),
        ("FR", "EUR", "XPAR", "FP", 0.06, 60.0, 1, False),
        ("NL", "EUR", "XAMS", "NA", 0.03, 40.0, 1, False),
        ("CH", "CHF", "XSWX", "SW", 0.04, 90.0, 1, False),
        ("JP", "JPY", "XTKS", "JT", 0.12, 2500.0, 100, True),
        ("CA", "CAD", "XTSE", "CT", 0.05, 45.0, 1, False),
        ("AU", "AUD", "XASX", "AT", 0.05, 30.0, 1, False),
        ("HK", "HKD", "XHKG", "HK", 0.07, 40.0, 500, True),
    ],
    schema=[
        "country",
        "currency",
        "exchange",
        "suffix",
        "weight",
        "median_price",
        "lot",
        "numeric",
    ],
    orient="row",
)
"""Equity markets and their share of the generated equities."""

SECTORS = pl.DataFrame(
    [
        # GICS sector, weight, typical annual volatility
        ("Information Technology", 0.16, 0.32),
        ("Financials", 0.14, 0.24),
        ("Health Care", 0.12, 0.25),
        ("Industrials", 0.12, 0.24),
        ("Consumer Discretionary", 0.10, 0.30),
        ("Communication Services", 0.07, 0.28),
        ("Consumer Staples", 0.07, 0.18),
        ("Energy", 0.06, 0.30),
        ("Materials", 0.06, 0.27),
        ("Utilities", 0.05, 0.18),
        ("Real Estate", 0.05, 0.24),
    ],
    schema=["sector", "weight", "vol"],
    orient="row",
)
"""GICS sectors of the generated equities."""

FUTURE_ROOTS = pl.DataFrame(
    [
        # root, kind, underlying, group, currency, exchange, country, multiplier, level, tick,
        # cycle (months between listed expiries), front ADV (contracts), front spread bps,
        # annual volatility, carry (annual log drift of the futures curve)
        ("ES", "index", "SPX", "equity", "USD", "XCME", "US", 50, 5460, 0.25, 3, 1.5e6, 0.5, 0.15, 0.040),  # noqa: E501
        ("NQ", "index", "NDX", "equity", "USD", "XCME", "US", 20, 19700, 0.25, 3, 5.0e5, 0.7, 0.20, 0.045),  # noqa: E501
        ("FESX", "index", "SX5E", "equity", "EUR", "XEUR", "EU", 10, 4900, 1.0, 3, 8.0e5, 1.5, 0.16, 0.005),  # noqa: E501
        ("NKD", "index", "NKY", "equity", "USD", "XCME", "JP", 5, 39600, 5.0, 3, 2.0e4, 2.5, 0.20, 0.035),  # noqa: E501
        ("Z", "index", "UKX", "equity", "GBP", "IFLL", "GB", 10, 8150, 0.5, 3, 6.0e4, 1.2, 0.13, 0.015),  # noqa: E501
        ("FDAX", "index", "DAX", "equity", "EUR", "XEUR", "DE", 25, 18200, 1.0, 3, 7.0e4, 1.0, 0.16, 0.035),  # noqa: E501
        ("HSI", "index", "HSI", "equity", "HKD", "XHKF", "HK", 50, 17700, 1.0, 3, 1.2e5, 2.0, 0.25, 0.010),  # noqa: E501
        ("RTY", "index", "RUT", "equity", "USD", "XCME", "US", 50, 2050, 0.1, 3, 1.2e5, 1.5, 0.22, 0.040),  # noqa: E501
        ("YM", "index", "INDU", "equity", "USD", "XCBT", "US", 5, 39100, 1.0, 3, 1.2e5, 1.2, 0.14, 0.035),  # noqa: E501
        ("NK", "index", "NKY", "equity", "JPY", "XOSE", "JP", 1000, 39600, 10.0, 3, 5.0e4, 2.5, 0.20, -0.018),  # noqa: E501
        ("FCE", "index", "CAC", "equity", "EUR", "XPAR", "FR", 10, 7480, 0.5, 3, 6.0e4, 1.5, 0.16, 0.007),  # noqa: E501
        ("AP", "index", "AS51", "equity", "AUD", "XSFE", "AU", 25, 7750, 1.0, 3, 3.0e4, 1.5, 0.14, 0.005),  # noqa: E501
        ("SXF", "index", "SPTSX60", "equity", "CAD", "XMOD", "CA", 200, 1300, 0.1, 3, 1.5e4, 1.5, 0.13, 0.018),  # noqa: E501
        ("FSMI", "index", "SMI", "equity", "CHF", "XEUR", "CH", 10, 12000, 1.0, 3, 2.5e4, 1.5, 0.13, -0.017),  # noqa: E501
        ("CL", "commodity", "WTI", "energy", "USD", "XNYM", "US", 1000, 81.5, 0.01, 1, 3.0e5, 1.2, 0.35, -0.05),  # noqa: E501
        ("GC", "commodity", "GOLD", "metals", "USD", "XCEC", "US", 100, 2330, 0.1, 1, 2.0e5, 0.6, 0.16, 0.050),  # noqa: E501
        ("BZ", "commodity", "BRENT", "energy", "USD", "IFEU", "GB", 1000, 85.0, 0.01, 1, 2.0e5, 1.2, 0.32, -0.05),  # noqa: E501
        ("NG", "commodity", "NATGAS", "energy", "USD", "XNYM", "US", 10000, 2.6, 0.001, 1, 1.5e5, 4.0, 0.60, 0.10),  # noqa: E501
        ("HG", "commodity", "COPPER", "metals", "USD", "XCEC", "US", 25000, 4.4, 0.0005, 1, 7.0e4, 1.5, 0.25, 0.03),  # noqa: E501
        ("ZC", "commodity", "CORN", "agriculture", "USD", "XCBT", "US", 5000, 4.0, 0.0025, 1, 2.5e5, 3.0, 0.25, 0.04),  # noqa: E501
        ("SI", "commodity", "SILVER", "metals", "USD", "XCEC", "US", 5000, 29.2, 0.005, 1, 6.0e4, 2.0, 0.30, 0.05),  # noqa: E501
        ("ZS", "commodity", "SOYBEAN", "agriculture", "USD", "XCBT", "US", 5000, 11.5, 0.0025, 1, 1.2e5, 2.0, 0.20, 0.02),  # noqa: E501
        ("ZW", "commodity", "WHEAT", "agriculture", "USD", "XCBT", "US", 5000, 5.7, 0.0025, 1, 1.0e5, 4.0, 0.30, 0.04),  # noqa: E501
        ("HO", "commodity", "HEATOIL", "energy", "USD", "XNYM", "US", 42000, 2.5, 0.0001, 1, 5.0e4, 3.0, 0.35, -0.03),  # noqa: E501
        ("RB", "commodity", "RBOB", "energy", "USD", "XNYM", "US", 42000, 2.5, 0.0001, 1, 5.0e4, 3.0, 0.38, -0.04),  # noqa: E501
        ("PL", "commodity", "PLATINUM", "metals", "USD", "XNYM", "US", 50, 1000, 0.1, 1, 1.5e4, 3.0, 0.25, 0.04),  # noqa: E501
        ("LE", "commodity", "LIVECATTLE", "agriculture", "USD", "XCME", "US", 40000, 1.85, 0.00025, 1, 3.0e4, 3.0, 0.15, 0.0),  # noqa: E501
        ("SB", "commodity", "SUGAR", "agriculture", "USD", "IFUS", "US", 112000, 0.20, 0.0001, 1, 8.0e4, 3.0, 0.30, 0.02),  # noqa: E501
    ],
    schema=[
        "root", "kind", "underlying", "group", "currency", "exchange", "country",
        "multiplier", "level", "tick_size", "cycle_months", "adv", "spread_bps", "vol", "carry",
    ],
    orient="row",
)  # fmt: skip
"""Futures contracts in priority order. ``sector`` of a generated future is
``"<kind>:<underlying>"`` (``"index:SPX"``, ``"commodity:WTI"``); ``group`` here tells the
commodity complex (energy, metals, agriculture) for factor models."""

SOVEREIGNS = pl.DataFrame(
    [
        # country, currency, issuer ticker, rating, coupons a year, spread over the currency
        # curve (decimal), weight, ADV in USD face, spread in bps of price
        ("US", "USD", "T", "AA+", 2, 0.0, 0.30, 2.0e9, 0.8),
        ("DE", "EUR", "DBR", "AAA", 1, 0.0, 0.10, 5.0e8, 1.2),
        ("GB", "GBP", "UKT", "AA", 2, 0.0, 0.10, 4.0e8, 1.5),
        ("JP", "JPY", "JGB", "A+", 2, 0.0, 0.12, 3.0e8, 1.5),
        ("FR", "EUR", "FRTR", "AA-", 1, 0.005, 0.08, 3.0e8, 2.0),
        ("IT", "EUR", "BTPS", "BBB", 2, 0.014, 0.08, 3.0e8, 3.0),
        ("CA", "CAD", "CAN", "AAA", 2, 0.0, 0.06, 2.0e8, 2.5),
        ("AU", "AUD", "ACGB", "AAA", 2, 0.0, 0.06, 1.5e8, 2.5),
        ("MX", "MXN", "MBONO", "BBB", 2, 0.0, 0.04, 1.0e8, 10.0),
        ("BR", "BRL", "BNTNF", "BB", 2, 0.0, 0.03, 5.0e7, 20.0),
        ("ZA", "ZAR", "SAGB", "BB-", 2, 0.0, 0.03, 5.0e7, 15.0),
    ],
    schema=[
        "country", "currency", "issuer", "rating", "coupon_frequency", "spread",
        "weight", "adv_usd", "spread_bps",
    ],
    orient="row",
)  # fmt: skip
"""Government bond issuers (local-currency debt)."""

RATINGS = ("AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-")
RATINGS_HY = ("BB+", "BB", "BB-", "B+", "B", "B-")
ALL_RATINGS = RATINGS + RATINGS_HY
"""S&P-style rating notches, investment grade (``RATINGS``) then high yield."""

CREDIT_SPREAD_AAA = 0.0040
CREDIT_SPREAD_B_MINUS = 0.0550
"""Credit spreads (decimal) of the best and worst notch; notches between are log-linear,
roughly the ICE BofA index option-adjusted spreads by rating bucket."""

CURVE_TAU_YEARS = 2.0


def zero_rate(currency: np.ndarray | list[str], years: np.ndarray) -> np.ndarray:
    """Continuously compounded zero rate of ``currency`` at maturity ``years`` (shapes broadcast).

    A two-parameter Nelson-Siegel curve (level and slope; Nelson & Siegel 1987):

    .. math::
        r(T) = r_\\infty + (r_0 - r_\\infty) \\frac{1 - e^{-T/\\tau}}{T/\\tau}, \\quad \\tau = 2y,

    with :math:`r_0` the short rate and :math:`r_\\infty` close to the 30-year rate of
    :data:`CURRENCIES`.
    """
    codes, inverse = np.unique(np.asarray(currency, dtype=str), return_inverse=True)
    table = CURRENCIES.select("currency", "rate_short", "rate_long")
    rows = dict(
        zip(
            table["currency"],
            zip(table["rate_short"], table["rate_long"], strict=True),
            strict=True,
        )
    )
    unknown = [c for c in codes if c not in rows]
    if unknown:
        raise KeyError(f"no rate curve for currencies {unknown}")
    short, long_ = (np.array([rows[c][i] for c in codes])[inverse] for i in (0, 1))
    x = np.maximum(np.asarray(years, dtype=np.float64), 1e-6) / CURVE_TAU_YEARS
    return long_ + (short - long_) * (1.0 - np.exp(-x)) / x


def usd_per_unit() -> dict[str, float]:
    """USD value of one unit of each currency (the FX spot references)."""
    return dict(CURRENCIES.select("currency", "usd_per_unit").iter_rows())
