"""Risk factors: which market moves drive each instrument, and how strongly.

The engine works in *factor space*: a few thousand risk factors instead of ten thousand
instruments, so a scenario is a row of factor moves and a portfolio is a vector of factor
exposures (RiskMetrics "cash-flow mapping"; Jorion, *Value at Risk*, 3rd ed., ch. 11).

Factor kinds and the unit of their scenario move
------------------------------------------------
* ``price`` — a price or index level; the move is a log return (scenarios store it as the
  arithmetic return ``expm1(r)`` so a linear position's P&L is exactly ``value * move``):
  ``EQ:<symbol>`` (each equity its own factor, so single-name risk is kept),
  ``FUT:<underlying>`` (a future without an underlying instrument, keyed by its ``sector``,
  e.g. ``index:SPX``, so all expiries share one factor; with an underlying instrument it
  shares that instrument's factor), ``FX:<CCY>`` (value of one unit of a currency in the base
  currency).
* ``rate`` — a key-rate zero yield of a currency's curve, ``IR:<CCY>:<tenor>Y``; the move
  is an absolute change (decimal).
* ``vol`` — the implied-volatility level of an option underlying, ``VOL:<spot factor>``;
  the move is a log change, applied multiplicatively to every option's own implied vol.

Mapping (linear part: up to three loadings per instrument, per unit of quantity)
-------------------------------------------------------------------------------
* equity, future: its price factor, loading ``price * multiplier * fx``;
* FX pair ``BASE/QUOTE``: long the base currency factor and short the quote currency
  factor (``+V`` and ``-V``; the portfolio's base currency has no factor);
* bond: the two key rates bracketing its maturity, loadings ``-DV01 * w`` per unit of
  yield with linear-interpolation weights ``w`` (key-rate durations, Ho 1992), DV01 from
  the bond pricer;
* every instrument quoted in a foreign currency: ``+V`` on that currency's factor
  (translation risk; the cross term of price and FX moves is neglected).

Options have no linear loading on their underlying: they are revalued in full on a grid of
spot and vol moves (:mod:`riskstream.risk.grids`), plus their currency translation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from riskstream.core.instruments import AssetClass
from riskstream.pricing.curves import KEY_RATE_TENORS_Y  # the curves' key-rate pillars

PRICE, RATE, VOL = 0, 1, 2
FACTOR_KINDS: tuple[str, ...] = ("price", "rate", "vol")
N_SLOTS = 3  # linear loadings per instrument

ASSET_CODE = {ac.value: ac.code for ac in AssetClass}


@dataclass(frozen=True)
class FactorSpace:
    """The risk factors of a universe and each instrument's place among them.

    Attributes
    ----------
    keys : tuple of str
        Factor names (see the module docstring), in column order of the scenario matrix.
    kind : ndarray of int8, shape (n_factors,)
        0 price, 1 rate, 2 vol.
    spot_factor : ndarray of int32, shape (n_instruments,)
        The price factor an instrument moves with (options: their underlying's), -1 if none
        (bonds).
    vol_factor : ndarray of int32, shape (n_instruments,)
        Options: the vol factor of their underlying; -1 otherwise.
    currency_factor : ndarray of int32, shape (n_instruments,)
        ``FX:<CCY>`` of the instrument's currency, -1 for the base currency.
    fx_base_factor, fx_quote_factor : ndarray of int32, shape (n_instruments,)
        FX pairs: the currency factors of the pair's base and quote currencies (-1 when
        that currency is the portfolio's base currency or the instrument is not FX).
    rate_factors : ndarray of int32, shape (n_instruments, 2)
        Bonds: the two key-rate factors bracketing maturity (-1 otherwise).
    """

    keys: tuple[str, ...]
    kind: np.ndarray
    spot_factor: np.ndarray
    vol_factor: np.ndarray
    currency_factor: np.ndarray
    fx_base_factor: np.ndarray
    fx_quote_factor: np.ndarray
    rate_factors: np.ndarray

    @property
    def n_factors(self) -> int:
        return len(self.keys)

    def index(self, key: str) -> int:
        return self.keys.index(key)


def _tenor_key(currency: str, tenor: float) -> str:
    return f"IR:{currency}:{tenor:g}Y"


def build_factor_space(instruments: pl.DataFrame, base_currency: str) -> FactorSpace:
    """Map every instrument of a universe onto its risk factors.

    Parameters
    ----------
    instruments : polars.DataFrame
        The instrument table (:data:`riskstream.core.instruments.INSTRUMENT_SCHEMA`) with
        dense ``instrument_id``.
    base_currency : str
        The reporting currency (has no FX factor).
    """
    n = instruments.height
    asset = instruments["asset_class"].to_list()
    symbol = instruments["symbol"].to_list()
    currency = instruments["currency"].to_list()
    underlying = instruments["underlying_id"].to_list()
    fx_base = instruments["base_currency"].to_list()
    sector = instruments["sector"].to_list()
    keys: dict[str, int] = {}
    kinds: list[int] = []

    def factor(key: str, kind: int) -> int:
        if key not in keys:
            keys[key] = len(keys)
            kinds.append(kind)
        return keys[key]

    spot = np.full(n, -1, dtype=np.int32)

    def spot_of(i: int, depth: int = 0) -> int:
        if spot[i] >= 0:
            return int(spot[i])
        ac = asset[i]
        if depth > 4:
            raise ValueError(f"instrument {i}: underlying chain too deep")
        if ac == "equity":
            f = factor(f"EQ:{symbol[i]}", PRICE)
        elif ac in ("future", "option") and underlying[i] is not None and 0 <= underlying[i] < n:
            f = spot_of(int(underlying[i]), depth + 1)
        elif ac == "future":
            # Expiries of one contract share its underlying's factor ("index:SPX",
            # "commodity:WTI" in the sector column); otherwise the future is its own factor.
            f = factor(f"FUT:{sector[i] or symbol[i]}", PRICE)
        elif ac == "fx":
            f = factor(f"FX:{fx_base[i]}", PRICE) if fx_base[i] != base_currency else -1
        else:
            f = -1
        spot[i] = f
        return f

    for i in range(n):
        if asset[i] != "option":
            spot_of(i)
    for i in range(n):
        if asset[i] == "option":
            spot_of(i)

    vol = np.full(n, -1, dtype=np.int32)
    spot_keys = list(keys)  # vol factors are appended after, so these indices hold
    for i in range(n):
        if asset[i] == "option" and spot[i] >= 0:
            vol[i] = factor(f"VOL:{spot_keys[spot[i]]}", VOL)

    ccy = np.full(n, -1, dtype=np.int32)
    fxb = np.full(n, -1, dtype=np.int32)
    fxq = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        if currency[i] != base_currency:
            ccy[i] = factor(f"FX:{currency[i]}", PRICE)
        if asset[i] == "fx":
            fxb[i] = spot[i]
            fxq[i] = ccy[i]
            ccy[i] = -1  # the quote currency leg is the pair's own short leg

    rates = np.full((n, 2), -1, dtype=np.int32)
    bonds = [i for i in range(n) if asset[i] == "bond"]
    for i in bonds:
        for tenor in KEY_RATE_TENORS_Y:
            factor(_tenor_key(currency[i], tenor), RATE)
    return FactorSpace(
        keys=tuple(keys),
        kind=np.asarray(kinds, dtype=np.int8),
        spot_factor=spot,
        vol_factor=vol,
        currency_factor=ccy,
        fx_base_factor=fxb,
        fx_quote_factor=fxq,
        rate_factors=rates,
    )


def key_rate_table(space: FactorSpace, currencies: list[str]) -> np.ndarray:
    """Factor index of every key rate of each currency, shape (n_currencies, n_tenors)
    (-1 where a currency has no curve factors)."""
    where = {k: j for j, k in enumerate(space.keys)}
    return np.array(
        [[where.get(_tenor_key(c, t), -1) for t in KEY_RATE_TENORS_Y] for c in currencies],
        dtype=np.int64,
    ).reshape(len(currencies), len(KEY_RATE_TENORS_Y))


def key_rate_weights(
    maturity_years: np.ndarray, currency_code: np.ndarray, table: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Factors and weights of the two key rates bracketing each maturity.

    Linear interpolation in tenor; flat beyond the first and last key rate.

    Parameters
    ----------
    maturity_years : ndarray of shape (n,)
    currency_code : ndarray of int, shape (n,)
        Row of each instrument's currency in ``table`` (:func:`key_rate_table`).

    Returns
    -------
    (factors, weights) : ndarrays of shape (n, 2)
    """
    tenors = np.asarray(KEY_RATE_TENORS_Y)
    t = np.clip(np.asarray(maturity_years, dtype=np.float64), tenors[0], tenors[-1])
    hi = np.clip(np.searchsorted(tenors, t, side="left"), 1, len(tenors) - 1)
    lo = hi - 1
    w_hi = (t - tenors[lo]) / (tenors[hi] - tenors[lo])
    factors = np.stack([table[currency_code, lo], table[currency_code, hi]], axis=1)
    return factors, np.stack([1.0 - w_hi, w_hi], axis=1)


def epoch_days(dates: pl.Series) -> np.ndarray:
    """Days since 1970-01-01 of each date, as float64 (NaN where null)."""
    return dates.cast(pl.Date).cast(pl.Int32).cast(pl.Float64).fill_null(np.nan).to_numpy()


def year_fraction(days: np.ndarray, as_of: dt.date) -> np.ndarray:
    """ACT/365 year fractions from ``as_of`` to dates given as :func:`epoch_days`."""
    return (np.asarray(days, dtype=np.float64) - (as_of - dt.date(1970, 1, 1)).days) / 365.0
