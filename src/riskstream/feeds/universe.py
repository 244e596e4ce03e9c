"""The reference universe: a deterministic multi-asset book of instruments and positions.

:func:`generate_universe` builds, from a seed, what a multi-asset fund or bank desk holds:

=========  =======  ==================================================================
class      share    what
=========  =======  ==================================================================
equity     ~35 %    11 GICS sectors in 10 countries (US, GB, DE, FR, NL, CH, JP, CA, AU,
                    HK), each in its currency and on its exchange; log-normal market caps
future      ~8 %    14 equity-index and 14 commodity contracts (:data:`FUTURE_ROOTS`),
                    several expiries each (quarterly for indices, monthly for commodities),
                    listed out to 10 years at most (so at most 2,240 futures: beyond
                    ~28,000 instruments the share falls and equities take the rest)
option     ~30 %    listed options on the largest stocks (American, Black-Scholes) and on
                    index futures (European, Black-76); 1 month to 2 years, 80-120 %
                    moneyness, calls and puts
fx          ~7 %    22 G10 and EM pairs spot, then outright forwards out to two years
bond       ~20 %    sovereigns of 11 countries at 2/5/10/30 years and corporates of the
                    listed issuers, AAA to B-
=========  =======  ==================================================================

Conventions the rest of Riskstream relies on:

* ``sector``: the GICS sector for equities and single-stock options; ``"index:<name>"`` or
  ``"commodity:<name>"`` for futures and index options (the underlying, e.g. ``index:SPX``,
  ``commodity:WTI``; :data:`~riskstream.feeds.markets.FUTURE_ROOTS` gives each one's group);
  ``"fx:G10"`` / ``"fx:EM"``; ``"government"`` or ``"corporate:<GICS sector>"`` for bonds.
* ``underlying_id``: options only; an equity option's stock, an index option's future (the
  first future of the index expiring on or after the option, as for CME options on ES).
* Units: equity quantity in shares, futures and options in contracts (``multiplier`` is the
  point value), FX in units of the base currency (price = quote per base, ``currency`` =
  quote), bonds in units of 1,000 face quoted per 100 (``multiplier`` 10).
* Reference prices are mid-2024 levels (:mod:`riskstream.feeds.markets`) at
  ``config.as_of``; option prices are Black-Scholes / Black-76 with a skewed volatility
  smile and zero dividends (so ``dividend_yield`` is left null, meaning zero), bond prices
  discount at the currency curve plus a spread.

**AUM** (:func:`~riskstream.feeds.exposure.gross_exposure`) is the *gross exposure* of the
portfolio in the base currency, the "gross method" of the AIFMD (Commission Delegated
Regulation (EU) No 231/2013, Art. 7 and Annex I): the sum of absolute position values where
cash instruments (equities, bonds, FX spot) count at market value, futures and FX forwards at
the market value of the underlying they stand for (notional), and options at their
delta-adjusted underlying notional. Positions are scaled so that it is at least
``config.aum_base``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from riskstream.core.errors import InputError
from riskstream.core.instruments import (
    ASSET_CLASSES,
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    Universe,
)
from riskstream.feeds import asset_classes
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.exposure import unit_exposure
from riskstream.feeds.markets import usd_per_unit

SHARES = {"future": 0.08, "option": 0.30, "fx": 0.07, "bond": 0.20}  # equities take the rest
DESKS: dict[str, tuple[str, ...]] = {
    "Equities": ("Americas Long/Short", "Europe Long/Short", "Asia-Pacific Long/Short"),
    "Equity Derivatives": ("Index Futures", "Index Volatility", "Single-Stock Volatility"),
    "Macro FX": ("G10 FX", "EM FX"),
    "Rates": ("Developed Markets Rates", "EM Rates"),
    "Credit": ("Investment Grade", "High Yield"),
    "Commodities": ("Energy", "Metals", "Agriculture"),
}
"""Desks and their strategies; each strategy has 2-4 traders with one book each."""
STRATEGIES = tuple(s for strategies in DESKS.values() for s in strategies)
_BOOK_CODES = {
    "Equities": "EQ", "Equity Derivatives": "EQD", "Macro FX": "FX", "Rates": "RATES",
    "Credit": "CREDIT", "Commodities": "CMDTY", "Americas Long/Short": "AMER",
    "Europe Long/Short": "EUR", "Asia-Pacific Long/Short": "APAC", "Index Futures": "IDXFUT",
    "Index Volatility": "IDXVOL", "Single-Stock Volatility": "SSVOL", "G10 FX": "G10",
    "EM FX": "EM", "Developed Markets Rates": "DM", "EM Rates": "EM", "Investment Grade": "IG",
    "High Yield": "HY", "Energy": "ENERGY", "Metals": "METALS", "Agriculture": "AGS",
}  # fmt: skip
_FIRST = ("a", "b", "c", "d", "e", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t")
_SURNAMES = (
    "smith", "tanaka", "muller", "dubois", "rossi", "chen", "patel", "okafor", "silva", "kim",
    "novak", "larsen", "cohen", "walsh", "ferreira", "ivanova", "haddad", "nguyen", "brown",
    "schmidt", "moreau", "sato", "garcia", "jensen", "kowalski", "murphy", "singh", "lopez",
)  # fmt: skip


def _class_counts(n: int) -> dict[str, int]:
    counts = {cls: max(2, round(share * n)) for cls, share in SHARES.items()}
    counts["option"] = max(counts["option"], -(-n // 5))  # at least 20 %
    counts["future"] = min(counts["future"], asset_classes.MAX_FUTURES)
    counts["equity"] = n - sum(counts.values())
    return {cls: counts[cls] for cls in ASSET_CLASSES}


# --------------------------------------------------------------------------- books, positions


def _books(rng: np.random.Generator) -> pl.DataFrame:
    desk_of = {s: d for d, strategies in DESKS.items() for s in strategies}
    n_traders = rng.integers(2, 5, size=len(STRATEGIES))
    names = np.array([f + s for s in _SURNAMES for f in _FIRST])
    trader = rng.choice(len(names), size=n_traders.sum(), replace=False)
    strategy = np.repeat(np.array(STRATEGIES), n_traders)
    seat = np.concatenate([np.arange(k) for k in n_traders]) + 1
    name = [
        f"{_BOOK_CODES[desk_of[s]]}-{_BOOK_CODES[s]}-{k:02d}"
        for s, k in zip(strategy, seat, strict=True)
    ]
    return pl.DataFrame(
        {
            "book_id": np.arange(len(strategy), dtype=np.int32),
            "name": name,
            "desk": [desk_of[s] for s in strategy],
            "strategy": strategy,
            "trader": names[trader],
        },
        schema=BOOK_SCHEMA,
    )


def _positions(
    rng: np.random.Generator,
    aux: pl.DataFrame,
    books: pl.DataFrame,
    unit: np.ndarray,
    size_unit: np.ndarray,
    aum_base: float,
) -> pl.DataFrame:
    n = aux.height
    held = np.flatnonzero(rng.random(n) < aux["_hold"].to_numpy())
    # Every held instrument sits in a book of its strategy; one in eight also in a second
    # book of the same strategy (another trader), often the other way round.
    strategy_idx = {s: i for i, s in enumerate(STRATEGIES)}
    strat = np.array([strategy_idx[s] for s in aux["_strategy"].to_numpy()[held]])
    book_strat = np.array([strategy_idx[s] for s in books["strategy"]])
    order = np.argsort(book_strat, kind="stable")
    n_books = np.bincount(book_strat, minlength=len(STRATEGIES))
    first = np.concatenate([[0], np.cumsum(n_books)[:-1]])
    seat = (rng.random(len(held)) * n_books[strat]).astype(int)
    second = rng.random(len(held)) < 0.125
    seat2 = (seat + 1 + (rng.random(len(held)) * (n_books[strat] - 1)).astype(int)) % n_books[strat]
    inst = np.concatenate([held, held[second]])
    book = np.concatenate([order[first[strat] + seat], order[(first[strat] + seat2)[second]]])
    long = rng.random(len(inst)) < aux["_long"].to_numpy()[inst]
    notional = aux["_notional"].to_numpy()[inst] * np.exp(rng.normal(0.0, 0.8, len(inst)))
    size_unit = size_unit[inst]
    lot = aux["lot_size"].to_numpy()[inst]
    sign = np.where(long, 1.0, -1.0)

    def quantize(scale: float) -> np.ndarray:
        return sign * np.maximum(np.round(notional * scale / size_unit / lot), 1.0) * lot

    # Scale to the AUM target; rounding to lots can leave it a hair short, so step up.
    scale = aum_base / float(notional @ (unit[inst] / size_unit))
    quantity = quantize(scale)
    for _ in range(20):
        aum = float(np.abs(quantity) @ unit[inst])
        if aum >= aum_base:
            break
        scale *= aum_base / aum * 1.001
        quantity = quantize(scale)
    frame = pl.DataFrame(
        {"book_id": book, "instrument_id": inst, "quantity": quantity}, schema=POSITION_SCHEMA
    )
    return frame.sort("book_id", "instrument_id")


# --------------------------------------------------------------------------- public API


def generate_universe(config: UniverseConfig | None = None) -> Universe:
    """Generate the reference universe and portfolio described in the module docstring.

    Parameters
    ----------
    config : UniverseConfig, optional
        Number of instruments (50 to 1,000,000), seed, base currency, AUM target and the
        ``as_of`` date of the reference prices. Defaults to ``UniverseConfig()``.

    Returns
    -------
    Universe
        Instruments (dense ids: equities, futures, options, FX, bonds in that order), books
        and positions; ``fx_to_base`` covers every currency of :data:`CURRENCIES`.
        The same config gives the same universe, bit for bit.

    Raises
    ------
    InputError
        The base currency is not one of :data:`CURRENCIES`.
    """
    config = config or UniverseConfig()
    usd = usd_per_unit()
    if config.base_currency not in usd:
        raise InputError("base_currency", config.base_currency, f"one of {sorted(usd)}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)]
    counts = _class_counts(config.instruments)
    equities = asset_classes.equities(streams[0], counts["equity"])
    futures = asset_classes.futures(counts["future"], config.as_of)
    options = asset_classes.options(counts["option"], equities, futures, config.as_of)
    fx = asset_classes.fx(counts["fx"], config.as_of)
    bonds = asset_classes.bonds(streams[1], counts["bond"], equities, config.as_of)
    full = pl.concat([equities, futures, options, fx, bonds], how="diagonal_relaxed")
    # Dividend yields are left null (zero): the reference option prices are Black-Scholes
    # with zero dividends (module docstring), and the two must agree.
    full = full.with_columns(
        instrument_id=pl.int_range(full.height, dtype=pl.Int32),
        dividend_yield=pl.lit(None, dtype=pl.Float64),
    )
    instruments = full.select([pl.col(c).cast(t) for c, t in INSTRUMENT_SCHEMA.items()])
    fx_to_base = {c: rate / usd[config.base_currency] for c, rate in usd.items()}
    books = _books(streams[2])
    empty = pl.DataFrame(schema=POSITION_SCHEMA)
    bare = Universe(instruments, books, empty, config.base_currency, fx_to_base, config.as_of)
    unit = unit_exposure(bare)
    # Options are sized as if |delta| were at least 0.05, so far wings do not take huge sizes.
    und = full["underlying_id"].fill_null(0).to_numpy()
    und_unit = unit[und] * full["multiplier"].to_numpy() / full["multiplier"].to_numpy()[und]
    size_unit = np.where(
        full["underlying_id"].is_null().to_numpy(), unit, np.maximum(unit, 0.05 * und_unit)
    )
    positions = _positions(streams[3], full, books, unit, size_unit, config.aum_base)
    return Universe(instruments, books, positions, config.base_currency, fx_to_base, config.as_of)


def universe_summary(universe: Universe) -> dict[str, Any]:
    """Counts and AUM of a universe, JSON-ready.

    Returns
    -------
    dict
        ``instruments``, ``by_asset_class`` (counts keyed by every asset class),
        ``positions``, ``books``, ``base_currency``, ``aum`` (gross exposure, base currency,
        see :func:`gross_exposure`) and ``gross_by_asset_class``.
    """
    inst = universe.instruments
    counts = dict(inst.group_by("asset_class").len().iter_rows())
    unit = unit_exposure(universe)
    pos = universe.positions
    ids = pos["instrument_id"].to_numpy()
    gross = np.abs(pos["quantity"].to_numpy()) * unit[ids]
    cls = inst["asset_class"].to_numpy()[ids]
    return {
        "instruments": inst.height,
        "by_asset_class": {ac: int(counts.get(ac, 0)) for ac in ASSET_CLASSES},
        "positions": pos.height,
        "books": universe.books.height,
        "base_currency": universe.base_currency,
        "aum": float(gross.sum()),
        "gross_by_asset_class": {ac: float(gross[cls == ac].sum()) for ac in ASSET_CLASSES},
    }
