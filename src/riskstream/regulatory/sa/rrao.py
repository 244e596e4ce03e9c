"""Residual risk add-on of the FRTB standardised approach (Basel MAR23).

``RRAO = sum of gross notionals x RW``: 1.0 % for an exotic underlying (MAR23.3: longevity,
weather, realised volatility ...), 0.1 % for other residual risks (MAR23.4-23.5: gap risk of
path-dependent and digital payoffs, correlation risk of basket, spread, Bermudan and quanto
options, behavioural risk), MAR23.8(2).

**Which instruments carry it (the rule).** The add-on is a property of the payoff, which the
reference data does not describe beyond the vanilla types Riskstream prices (stocks,
futures, FX spot and outright forwards, fixed-rate bullet bonds, European and American
options on one underlying). None of those carries residual risk: vanilla options on a single
underlying are written as themselves (MAR23.4(1)), smile and dividend risk do not by
themselves (MAR23.6), and listed instruments are excluded (MAR23.7). So an instrument carries
the RRAO only when the bank declares it, in a classification of ``symbol, category``
(``exotic`` or ``other``); a declared instrument that is exchange-listed is still excluded
(MAR23.7) and reported as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError

RISK_WEIGHTS: dict[str, float] = {"exotic": 0.010, "other": 0.001}
"""MAR23.8(2): exotic underlying 1.0 %, other residual risks 0.1 %."""
OTC = "OTC"
"""The ``exchange`` of an instrument that is not listed."""


def rrao_charge(notional: np.ndarray, category: np.ndarray) -> float:
    """``sum |notional| x RW(category)`` (MAR23.8(2)); categories ``exotic`` / ``other``."""
    bad = set(np.unique(category).tolist()) - set(RISK_WEIGHTS)
    if bad:
        raise InputError("category", sorted(bad)[0], "exotic or other")
    rw = np.array([RISK_WEIGHTS[c] for c in category], dtype=np.float64)
    return float(np.sum(np.abs(notional) * rw))


def book_rrao(
    universe: Any,
    notional_by_instrument: np.ndarray,
    declared: Mapping[str, str],
) -> dict[str, Any]:
    """The RRAO of the book under the rule of the module docstring.

    Parameters
    ----------
    universe : Universe
    notional_by_instrument : ndarray of shape (n_instruments,)
        Gross notional per unit held, reporting currency.
    declared : mapping of symbol to ``exotic`` / ``other``

    Returns
    -------
    dict
        ``total``, ``by_desk``, ``instruments`` (the charged ones) and ``excluded_listed``.
    """
    inst = universe.instruments
    symbols = inst["symbol"].to_list()
    pos = {s: i for i, s in enumerate(symbols)}
    unknown = [s for s in declared if s not in pos]
    if unknown:
        raise InputError("symbol", unknown[0], "an instrument of the reference data")
    held = (
        universe.positions.join(universe.books.select("book_id", "desk"), on="book_id")
        .group_by("desk", "instrument_id")
        .agg(pl.col("quantity").sum())
    )
    exchange = inst["exchange"].to_numpy()
    by_desk: dict[str, float] = {}
    charged, listed = [], []
    for desk, iid, qty in held.iter_rows():
        sym = symbols[iid]
        cat = declared.get(sym)
        if cat is None or qty == 0:
            continue
        if exchange[iid] != OTC:
            listed.append(sym)
            continue
        amount = rrao_charge(np.array([qty * notional_by_instrument[iid]]), np.array([cat]))
        by_desk[desk] = by_desk.get(desk, 0.0) + amount
        charged.append({"desk": desk, "symbol": sym, "category": cat, "rrao": amount})
    return {
        "total": float(sum(by_desk.values())),
        "by_desk": by_desk,
        "instruments": charged,
        "excluded_listed": sorted(set(listed)),
    }
