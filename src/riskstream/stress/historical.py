"""Historical scenarios: replay the factor moves of named episodes on today's book.

Episodes (``data/historical.yaml``): ``black-monday-1987``, ``gfc-2008``,
``flash-crash-2010``, ``taper-2013``, ``covid-2020``, ``rates-2022``, ``svb-2023``. Each is
a window of **fixed dates** (the close of its first date to the close of its last; the file
says why those dates, e.g. the S&P 500's peak and trough for COVID).

**From the history store where it holds the days.** When the stored market history covers
the window for the book's own factors, the moves are measured there: the daily factor
moves of :func:`riskstream.risk.factor_history.build_factor_history` (the engine's own
series, with its proxies for short series) summed over the window, so each factor's move
is exactly its stored change from the first date's close to the last's (log return, rate
change, vol log change). Credit-spread factors have no stored series and take the
documented spread moves.

**Otherwise the documented shocks.** The closing levels of published variables (equity
indices, VIX, Treasury yields by tenor, corporate spreads, FX, commodities) on the two
dates, with their sources cited in the file, mapped onto every factor of the book by
:func:`riskstream.stress.mapping.map_shocks` (directly, by beta or sector, or by proxy).
Equity betas to their index are estimated from the stored history when it holds both
series (OLS on daily log returns, at least :data:`MIN_BETA_DAYS` common days), else 1.

Either way the result carries the mapping — each factor's move, how it was obtained and
from what — and which path was taken.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import polars as pl
import yaml

from riskstream.core.errors import InputError
from riskstream.risk.factor_history import MarketHistoryFrames, build_factor_history
from riskstream.risk.factors import PRICE, RATE, VOL, build_factor_space
from riskstream.stress.book import StressBook
from riskstream.stress.mapping import COUNTRY_INDEX, MarketShocks, map_shocks

MIN_BETA_DAYS = 60  # common daily returns needed to estimate an equity's beta
BETA_WINDOW_DAYS = 250  # the most recent year of daily returns


@dataclass(frozen=True)
class StressContext:
    """What some scenarios need beyond the book: the instrument table the book's factors
    were built from and the stored market history (None: documented shocks only)."""

    instruments: pl.DataFrame
    history: MarketHistoryFrames | None = None


def data_text(name: str) -> str:
    """The text of a packaged scenario data file."""
    return resources.files("riskstream.stress").joinpath("data", name).read_text()


def _level_move(pair: Any, field: str, relative: bool) -> float:
    if isinstance(pair, dict):
        ((quote, levels),) = pair.items()
        a, b = (float(x) for x in levels)
        if quote == "per_usd":  # yen per dollar: the yen's value in dollars is 1/x
            return a / b - 1.0
        if quote != "usd_per_unit":
            raise InputError(field, quote, "usd_per_unit or per_usd")
        return b / a - 1.0
    a, b = (float(x) for x in pair)
    if relative:
        if not (a > 0 and b > 0):
            raise InputError(field, pair, "two positive levels [start, end]")
        return b / a - 1.0
    return (b - a) / 100.0  # percent to decimal


def shocks_from_levels(spec: dict[str, Any], sources: dict[str, str]) -> MarketShocks:
    """:class:`MarketShocks` from an episode's ``[start, end]`` levels (see the data file)."""
    rel = {
        group: {k: _level_move(v, f"{group}.{k}", True) for k, v in spec.get(group, {}).items()}
        for group in ("equity", "sectors", "fx", "commodities")
    }
    vol = spec.get("vol", {})
    rates = {
        ccy: {float(t): _level_move(v, f"rates.{ccy}.{t}", False) for t, v in curve.items()}
        for ccy, curve in spec.get("rates", {}).items()
    }
    credit = {k: _level_move(v, f"credit.{k}", False) for k, v in spec.get("credit", {}).items()}
    return MarketShocks(
        equity=rel["equity"],
        sectors=rel["sectors"],
        vol=_level_move(vol["VIX"], "vol.VIX", True) if "VIX" in vol else None,
        rates=rates,
        credit=credit,
        fx=rel["fx"],
        commodities=rel["commodities"],
        sources=sources,
    )


@dataclass(frozen=True)
class HistoricalScenario:
    """One named episode (see the module docstring)."""

    name: str
    description: str
    start: dt.date
    end: dt.date
    measured: str
    shocks: MarketShocks
    version: str
    source: str = "data/historical.yaml"
    kind: str = "historical"

    def resolve(
        self, book: StressBook, context: StressContext | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """Moves of every factor of ``book``: from the stored history when it covers the
        window, else the documented shocks (the mapping's ``method`` says which)."""
        if context is not None and context.history is not None:
            got = moves_from_history(book, context, self.start, self.end)
            if got is not None:
                moves, mapping = got
                # credit spreads are not stored: the documented spread moves
                documented, _, doc_map = map_shocks(book, self.shocks)
                for f in np.flatnonzero(book.kind == 3):
                    moves[f] = documented[f]
                    mapping.append(doc_map[f])
                return moves, np.zeros(book.n_factors), mapping
        betas = None
        if context is not None and context.history is not None:
            betas = history_betas(book, context.history)
        return map_shocks(book, self.shocks, betas)


@cache
def load_episodes() -> dict[str, HistoricalScenario]:
    """The packaged episodes, by name."""
    text = data_text("historical.yaml")
    data = yaml.safe_load(text)
    version = str(data["version"])
    out = {}
    for name, spec in data["episodes"].items():
        shocks = shocks_from_levels(spec, data.get("series", {}))
        digest = hashlib.blake2b(yaml.safe_dump(spec).encode(), digest_size=4).hexdigest()
        out[name] = HistoricalScenario(
            name,
            f"{spec['description']} Measured over {spec['measured']}.",
            spec["start"],
            spec["end"],
            spec["measured"],
            shocks,
            f"{version}+{digest}",
        )
    return out


def moves_from_history(
    book: StressBook, context: StressContext, start: dt.date, end: dt.date
) -> tuple[np.ndarray, list[dict[str, Any]]] | None:
    """Each factor's move over ``(start, end]`` from the stored history, or None when the
    history does not hold the window for the book's factors.

    The moves are the sums of the daily factor moves dated after ``start`` up to ``end``
    (:func:`~riskstream.risk.factor_history.build_factor_history`); price factors are
    returned as arithmetic returns ``expm1(sum of log returns)``.
    """
    history = context.history
    assert history is not None
    symbols = set(book.symbol.tolist())
    stored = history.prices.filter(pl.col("symbol").is_in(list(symbols)))
    if stored.height == 0 or stored["date"].min() > start or stored["date"].max() < end:
        return None
    dates = pl.concat([stored["date"], history.curves["date"], history.vols["date"]]).unique()
    window = int(((dates > start) & (dates <= end)).sum()) + 1
    space = build_factor_space(context.instruments, book.base_currency)
    if space.keys != book.keys[: space.n_factors]:
        raise InputError("instruments", "another instrument table", "the book's own")
    # the window must reach back to a move ending on or before ``start``: the engine's
    # calendar is the book's own series' dates, so grow it until it does
    for _ in range(10):
        try:
            fh = build_factor_history(
                space, context.instruments, book.base_currency, history, window, 1, end
            )
        except InputError:
            return None
        if fh.n_moves and fh.dates[0] <= np.datetime64(start):
            break
        window += 5
    else:
        return None
    ends = fh.dates.astype("datetime64[D]")
    inside = (ends > np.datetime64(start)) & (ends <= np.datetime64(end))
    total = fh.moves[inside].sum(axis=0)
    moves = np.zeros(book.n_factors)
    kind = space.kind
    moves[: space.n_factors] = np.where(kind == PRICE, np.expm1(total), total)
    proxied = {p.factor: p for p in fh.proxies}
    mapping = []
    for f, key in enumerate(space.keys):
        p = proxied.get(key)
        method = (
            f"history via proxy {p.proxy} (beta {p.beta:.2f}, {p.days} days)" if p else "history"
        )
        unit = {PRICE: "return", RATE: "rate change", VOL: "vol log change"}[int(kind[f])]
        mapping.append(
            {
                "factor": key,
                "move": float(moves[f]),
                "method": method,
                "source": f"{fh.series.get(key, key)} ({unit}, {start} to {end}, "
                f"{int(inside.sum())} daily moves)",
            }
        )
    return moves, mapping


def history_betas(book: StressBook, history: MarketHistoryFrames) -> dict[str, float]:
    """OLS betas of the book's equities to their country index, from stored closes.

    For ``EQ:<symbol>`` with a stored series and its index (:data:`~riskstream.stress.
    mapping.COUNTRY_INDEX`) stored under the index's name, over the last
    :data:`BETA_WINDOW_DAYS` common daily log returns (at least :data:`MIN_BETA_DAYS`):
    :math:`\\beta = \\mathrm{cov}(r_i, r_m) / \\mathrm{var}(r_m)`.
    """
    pairs = {}
    for f, key in enumerate(book.keys):
        if key.startswith("EQ:"):
            p = np.flatnonzero(book.spot_col == f)
            if p.size:
                pairs[key] = (key[3:], COUNTRY_INDEX.get(str(book.country[p[0]]), "SPX"))
    if not pairs:
        return {}
    names = {s for pair in pairs.values() for s in pair}
    wide = (
        history.prices.filter(pl.col("symbol").is_in(list(names)) & (pl.col("close") > 0))
        .pivot(on="symbol", index="date", values="close", aggregate_function="last")
        .sort("date")
        .tail(BETA_WINDOW_DAYS + 1)
    )
    out: dict[str, float] = {}
    for key, (sym, idx) in pairs.items():
        if sym not in wide.columns or idx not in wide.columns:
            continue
        a = np.log(wide[sym].to_numpy().astype(float))
        m = np.log(wide[idx].to_numpy().astype(float))
        ra, rm = np.diff(a), np.diff(m)
        ok = np.isfinite(ra) & np.isfinite(rm)
        if ok.sum() < MIN_BETA_DAYS or np.var(rm[ok]) == 0:
            continue
        out[key] = float(np.cov(ra[ok], rm[ok])[0, 1] / np.var(rm[ok], ddof=1))
    return out
