"""Currency conversion from quoted FX pairs: the value of each currency in the base currency.

An FX pair is named by its two ISO 4217 codes, base then quote (``EURUSD``, ``USDJPY``), and
its price is the number of *quote* units per one *base* unit (market convention: EURUSD
1.0713 means 1 EUR = 1.0713 USD). The value of currency ``C`` in the base currency ``B``
follows from any chain of pairs linking ``C`` to ``B``: directly (``CB`` at its price, or
``BC`` inverted), or through an intermediate currency — a *cross rate* (e.g. JPY in USD from
ECB reference rates, which are all quoted against EUR: ``EURUSD / EURJPY``). The chain with
the fewest pairs wins; ties go to the first pair in sorted symbol order, so the choice is
deterministic (breadth-first search over the graph of quoted pairs).

One path per currency serves both a single set of quotes (:func:`rates_to_base`, e.g. the
feed's live FX mids or the latest stored closes) and a history of them
(:func:`rate_history_to_base`, daily closes in long format), so live and historical
translation agree by construction.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping

import numpy as np
import polars as pl

from riskstream.core.errors import InputError

PAIR = re.compile(r"^([A-Z]{3})([A-Z]{3})$")
"""An FX pair symbol: base currency code then quote currency code."""

Path = tuple[tuple[str, float], ...]
"""A conversion path: ``(pair symbol, exponent)`` steps; the rate is ``prod(price ** exp)``."""


def pair_symbol(base: str, quote: str) -> str:
    """The symbol of the pair quoting ``quote`` units per one ``base`` unit."""
    return f"{base}{quote}"


def split_pair(symbol: str) -> tuple[str, str] | None:
    """``(base, quote)`` of an FX pair symbol, or None when ``symbol`` is not one."""
    m = PAIR.match(symbol)
    return (m.group(1), m.group(2)) if m and m.group(1) != m.group(2) else None


def conversion_paths(
    symbols: Iterable[str], currencies: Iterable[str], base: str
) -> dict[str, Path | None]:
    """For each currency, the shortest chain of quoted pairs giving its value in ``base``.

    Parameters
    ----------
    symbols : iterable of str
        Symbols available (non-pair symbols are ignored).
    currencies : iterable of str
        Currencies whose value in ``base`` is wanted.
    base : str
        The base (reporting) currency; its own path is empty (rate 1).

    Returns
    -------
    dict of str to path or None
        None where no chain of pairs links the currency to ``base``.
    """
    # Edge C -> D with exponent e means: value of 1 C in D = price ** e.
    edges: dict[str, list[tuple[str, str, float]]] = {}
    for symbol in sorted(set(symbols)):
        pair = split_pair(symbol)
        if pair is None:
            continue
        b, q = pair
        edges.setdefault(b, []).append((q, symbol, 1.0))  # 1 b = price q
        edges.setdefault(q, []).append((b, symbol, -1.0))  # 1 q = 1/price b
    # Breadth-first from the base currency, walking edges backwards: the path of C is the
    # chain C -> ... -> base.
    reverse: dict[str, list[tuple[str, str, float]]] = {}
    for src, outs in edges.items():
        for dst, symbol, e in outs:
            reverse.setdefault(dst, []).append((src, symbol, e))
    paths: dict[str, Path] = {base: ()}
    queue = deque([base])
    while queue:
        node = queue.popleft()
        for src, symbol, e in reverse.get(node, ()):
            if src not in paths:
                paths[src] = ((symbol, e), *paths[node])
                queue.append(src)
    return {c: paths.get(c) for c in currencies}


def rates_to_base(
    prices: Mapping[str, float], currencies: Iterable[str], base: str
) -> dict[str, float]:
    """Units of ``base`` per unit of each currency, from one set of pair prices.

    Raises
    ------
    InputError
        A currency cannot be converted (no chain of quoted pairs, or a price on its chain is
        not a positive finite number); the error names the currency.
    """
    currencies = list(dict.fromkeys(currencies))
    usable = {s: p for s, p in prices.items() if np.isfinite(p) and p > 0}
    paths = conversion_paths(usable, currencies, base)
    out: dict[str, float] = {}
    for c in currencies:
        path = paths[c]
        if path is None:
            raise InputError(
                "currency",
                c,
                f"an FX rate to {base}: a quoted pair such as {pair_symbol(c, base)} or "
                f"{pair_symbol(base, c)} (or a chain of pairs through another currency)",
            )
        out[c] = float(np.prod([usable[s] ** e for s, e in path])) if path else 1.0
    return out


def rate_history_to_base(
    prices: pl.DataFrame, currencies: Iterable[str], base: str
) -> tuple[pl.DataFrame, dict[str, Path | None]]:
    """Daily value of each currency in ``base`` from a long price history.

    Parameters
    ----------
    prices : polars.DataFrame
        Columns ``date``, ``symbol``, ``close`` (the history store's ``prices`` table);
        FX pairs are recognised by their symbol (:data:`PAIR`).
    currencies, base
        As in :func:`conversion_paths`.

    Returns
    -------
    rates : polars.DataFrame
        Columns ``date``, ``currency``, ``rate`` (base units per currency unit) on the dates
        where every pair of the currency's path has a positive close; the base currency is
        not listed (its rate is 1).
    paths : dict
        The path used for each currency (None: not convertible, no rows).
    """
    fx = prices.filter(pl.col("symbol").str.contains(PAIR.pattern) & (pl.col("close") > 0))
    paths = conversion_paths(fx["symbol"].unique().to_list(), currencies, base)
    frames = []
    for c, path in paths.items():
        if not path:
            continue
        legs = [
            fx.filter(pl.col("symbol") == s).select(
                "date", (pl.col("close").log() * e).alias(f"leg{k}")
            )
            for k, (s, e) in enumerate(path)
        ]
        joined = legs[0]
        for leg in legs[1:]:
            joined = joined.join(leg, on="date", how="inner")
        frames.append(
            joined.select(
                "date",
                pl.lit(c).alias("currency"),
                pl.sum_horizontal(pl.exclude("date")).exp().alias("rate"),
            )
        )
    schema = {"date": pl.Date(), "currency": pl.String(), "rate": pl.Float64()}
    rates = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return rates.sort("currency", "date"), paths
