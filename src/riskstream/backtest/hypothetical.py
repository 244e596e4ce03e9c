"""Hypothetical P&L of a book: yesterday's positions revalued at today's market.

Backtesting a VaR model compares each day's forecast with the P&L it forecast. Basel's
backtesting framework (BCBS, *Supervisory framework for the use of "backtesting" in
conjunction with the internal models approach*, 1996; MAR32.6-32.9 of the FRTB) asks for
the *hypothetical* P&L: the portfolio held at the end of day ``t-1`` revalued at the end of
day ``t``, so trading during the day, fees and reserves do not blur the test of the model.

Each position is revalued from its marks, in the base currency, with no help from the risk
engine (this P&L is the independent side of the engine's backtest):

* equity, bond, option (cash instruments): ``q m (p_t fx_t - p_{t-1} fx_{t-1})`` — price and
  currency translation both move;
* future: ``q m (F_t - F_{t-1}) fx_t`` — a future has no value to translate: its variation
  margin is settled daily in its currency;
* FX spot pair ``BASE/QUOTE`` (``q`` units of base bought against ``q S_{t-1}`` of quote):
  ``q (fx^{base}_t - fx^{base}_{t-1}) - q S_{t-1} (fx^{quote}_t - fx^{quote}_{t-1})``, each
  leg revalued in the base currency (the base currency's own rate is 1).

``fx`` are units of the book's base currency per unit of each currency on each day.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from riskstream.core.errors import InputError


def hypothetical_pnl(
    instruments: pl.DataFrame,
    quantity: np.ndarray,
    prices_before: np.ndarray,
    prices_after: np.ndarray,
    fx_before: Mapping[str, float],
    fx_after: Mapping[str, float],
) -> float:
    """The book's P&L from ``before`` to ``after`` at fixed positions (see the module doc).

    Parameters
    ----------
    instruments : polars.DataFrame
        The instrument table (``asset_class``, ``currency``, ``base_currency``,
        ``multiplier``), dense ``instrument_id``.
    quantity : ndarray of shape (n_instruments,)
        Net quantity held of each instrument (all books).
    prices_before, prices_after : ndarray of shape (n_instruments,)
        Marks on the two days (NaN where an instrument has none; a held instrument without
        both marks is an error).
    fx_before, fx_after : mapping of str to float
        Base currency per unit of each currency on the two days.

    Returns
    -------
    float
        Profit positive, base currency.
    """
    q = np.asarray(quantity, dtype=np.float64)
    p0 = np.asarray(prices_before, dtype=np.float64)
    p1 = np.asarray(prices_after, dtype=np.float64)
    held = np.flatnonzero(q != 0)
    unmarked = held[~(np.isfinite(p0[held]) & np.isfinite(p1[held]))]
    if unmarked.size:
        symbol = instruments["symbol"][int(unmarked[0])]
        raise InputError("price", symbol, "a mark on both days for every held instrument")
    asset = instruments["asset_class"].to_numpy()[held]
    currency = instruments["currency"].to_numpy()[held]
    base = instruments["base_currency"].to_numpy()[held]
    m = instruments["multiplier"].to_numpy().astype(np.float64)[held]
    q, p0, p1 = q[held], p0[held], p1[held]
    f0 = np.array([fx_before[c] for c in currency])
    f1 = np.array([fx_after[c] for c in currency])
    fx = asset == "fx"
    b0 = np.array([fx_before[b] if f else 0.0 for b, f in zip(base, fx, strict=True)])
    b1 = np.array([fx_after[b] if f else 0.0 for b, f in zip(base, fx, strict=True)])
    per_unit = np.where(
        asset == "future",
        (p1 - p0) * f1,  # variation margin, settled in its currency
        np.where(fx, (b1 - b0) - p0 * (f1 - f0), p1 * f1 - p0 * f0),
    )
    return float(np.sum(q * m * per_unit))
