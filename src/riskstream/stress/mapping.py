"""Map moves of market variables onto every risk factor of a book, and say how.

A historical episode, a climate pathway or a supervisory scenario is published as moves of
a few *market variables* — equity indices, an implied-vol index (VIX), Treasury yields by
tenor, credit spreads, FX rates against the dollar, commodity prices. A book has thousands
of factors. :func:`map_shocks` gives every factor of the book a move and records for each
*how* (the mapping a risk manager reviews, Basel Committee 2009 stress-testing principles,
principle 9: scenarios must capture the book's own exposures):

==============  ====================================================================
factor          move
==============  ====================================================================
``FUT:index:X`` the index ``X``'s move when published (**direct**); else its region's
                index, else the S&P 500 (**proxy**)
``EQ:<symbol>`` the equity's sector move when the scenario gives sectors (**sector**);
                else ``beta`` times its country's index move (**beta**; beta estimated
                from stored history when the caller gives it, else 1, and said so)
``FUT:commodity``  the commodity's move (**direct**); else the energy (WTI) or metals
                (gold) benchmark of its group (**proxy**); others unshocked (**none**)
``VOL:<...>``   the implied-vol index's log change, applied to every option's vol
                (**direct** for S&P 500 options, **proxy: VIX** for the others)
``IR:<CCY>:<T>`` the currency's published yield change at ``T`` (linear in tenor, flat
                beyond; **direct**), else the US curve's (**proxy: USD curve**)
``CS:<sector>:<rating>``  the sector's spread move (**sector**), else the rating band's:
                investment grade (AAA to BBB-) or high yield (**rating**); government
                bonds move with rates only
``FX:<CCY>``    the currency's move against the dollar, crossed to the base currency
                (**direct** / **cross via USD**); unpublished currencies unshocked
==============  ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.stress.book import INVESTMENT_GRADE, StressBook

# The equity index a country's stocks follow (benchmarks of the reference universe).
COUNTRY_INDEX: dict[str, str] = {
    "US": "SPX",
    "CA": "SPTSX60",
    "GB": "UKX",
    "DE": "DAX",
    "FR": "CAC",
    "IT": "SX5E",
    "ES": "SX5E",
    "NL": "SX5E",
    "EU": "SX5E",
    "CH": "SMI",
    "JP": "NKY",
    "HK": "HSI",
    "CN": "HSI",
    "AU": "AS51",
}
# when an index is not published, the one that stands in for it
INDEX_PROXY: dict[str, str] = {
    "DAX": "SX5E",
    "CAC": "SX5E",
    "SMI": "SX5E",
    "UKX": "SX5E",
    "NDX": "SPX",
    "INDU": "SPX",
    "RUT": "SPX",
    "SPTSX60": "SPX",
    "HSI": "NKY",
    "AS51": "NKY",
}
COMMODITY_GROUP: dict[str, str] = {
    "BRENT": "WTI",
    "RBOB": "WTI",
    "HEATOIL": "WTI",
    "NATGAS": "WTI",
    "CL": "WTI",
    "SILVER": "GOLD",
    "PLATINUM": "GOLD",
    "COPPER": "GOLD",
}


@dataclass(frozen=True)
class MarketShocks:
    """Moves of market variables over a scenario.

    Attributes
    ----------
    equity : index name (``SPX``, ``SX5E`` ...) to relative move (-0.3 = -30 %).
    sectors : equity sector (GICS name) to relative move; takes precedence over beta.
    vol : relative move of the implied-vol index (VIX 20 -> 40 is 1.0), or None.
    rates : currency to {tenor in years: absolute yield change, decimal}.
    credit : ``IG``, ``HY`` or a bond sector name to absolute spread change, decimal.
    fx : currency to relative move of its value in US dollars (EUR 1.10 -> 1.00: -0.0909).
    commodities : commodity name (``WTI``, ``GOLD`` ...) to relative move.
    sources : variable to its source (series, publication).
    """

    equity: dict[str, float] = field(default_factory=dict)
    sectors: dict[str, float] = field(default_factory=dict)
    vol: float | None = None
    rates: dict[str, dict[float, float]] = field(default_factory=dict)
    credit: dict[str, float] = field(default_factory=dict)
    fx: dict[str, float] = field(default_factory=dict)
    commodities: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def index_move(self, index: str) -> tuple[float, str, str] | None:
        """(move, variable used, method) of an equity index, through its proxies."""
        seen = index
        while seen:
            if seen in self.equity:
                return self.equity[seen], seen, "direct" if seen == index else "proxy"
            seen = INDEX_PROXY.get(seen, "SPX" if seen != "SPX" else "")
        return None


def factor_owners(book: StressBook) -> dict[int, int]:
    """For each price factor column, the first position that moves with it."""
    owners: dict[int, int] = {}
    for p, f in enumerate(book.spot_col):
        if f >= 0 and f not in owners:
            owners[int(f)] = p
    return owners


def _curve_move(curve: dict[float, float], tenor: float) -> float:
    t = np.array(sorted(curve))
    return float(np.interp(tenor, t, [curve[k] for k in t]))


def map_shocks(
    book: StressBook, shocks: MarketShocks, betas: dict[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Every factor's move under ``shocks``, and the mapping.

    Parameters
    ----------
    book : StressBook
    shocks : MarketShocks
    betas : dict of factor key to beta, optional
        Equity betas to their country's index (e.g. estimated from stored history);
        absent: 1.

    Returns
    -------
    moves : ndarray of shape (n_factors,)
        Engine units (price: arithmetic return; rate, spread: absolute; vol: log change).
    vol_points : ndarray of shape (n_factors,)
        Zero (published vol moves are relative).
    mapping : list of dict
        One row per factor: ``factor, move, method, source`` (the variable it came from).
    """
    betas = betas or {}
    n = book.n_factors
    moves = np.zeros(n)
    mapping: list[dict[str, Any]] = []
    owners = factor_owners(book)
    base = book.base_currency
    base_usd = shocks.fx.get(base, 0.0) if base != "USD" else 0.0

    def record(f: int, move: float, method: str, source: str) -> None:
        moves[f] = move
        mapping.append({"factor": book.keys[f], "move": move, "method": method, "source": source})

    for f, key in enumerate(book.keys):
        kind, _, rest = key.partition(":")
        if key.startswith("FUT:index:"):
            idx = rest.partition(":")[2]
            got = shocks.index_move(idx)
            if got is None:
                record(f, 0.0, "none", "no equity index move published")
            else:
                record(f, got[0], got[2], got[1])
        elif key.startswith("FUT:commodity:"):
            name = rest.partition(":")[2]
            if name in shocks.commodities:
                record(f, shocks.commodities[name], "direct", name)
            elif COMMODITY_GROUP.get(name) in shocks.commodities:
                proxy = COMMODITY_GROUP[name]
                record(f, shocks.commodities[proxy], "proxy", proxy)
            else:
                record(f, 0.0, "none", f"no move published for {name} or its group")
        elif kind in ("EQ", "FUT"):
            p = owners.get(f)
            sector = str(book.sector[p]) if p is not None else ""
            country = str(book.country[p]) if p is not None else ""
            if sector in shocks.sectors:
                record(f, shocks.sectors[sector], "sector", f"sector {sector}")
                continue
            got = shocks.index_move(COUNTRY_INDEX.get(country, "SPX"))
            if got is None:
                record(f, 0.0, "none", "no equity index move published")
                continue
            beta = betas.get(key)
            method = f"beta {beta:.2f} (history)" if beta is not None else "beta 1 (no history)"
            beta = 1.0 if beta is None else beta
            # a return below -100 % is no price: a large beta times a crash is floored
            record(f, max(beta * got[0], -0.99), method, got[1])
        elif kind == "VOL":
            if shocks.vol is None:
                record(f, 0.0, "none", "no implied-vol move published")
            else:
                direct = rest in ("FUT:index:SPX", "EQ:SPX")
                record(f, float(np.log1p(shocks.vol)), "direct" if direct else "proxy", "VIX")
        elif kind == "IR":
            ccy, _, tenor = rest.partition(":")
            t = float(tenor.rstrip("Y"))
            if ccy in shocks.rates:
                record(f, _curve_move(shocks.rates[ccy], t), "direct", f"{ccy} curve")
            elif "USD" in shocks.rates:
                record(f, _curve_move(shocks.rates["USD"], t), "proxy", "USD curve")
            else:
                record(f, 0.0, "none", "no rate move published")
        elif kind == "CS":
            sector, _, rating = rest.partition(":")
            if sector == "govt":
                record(f, 0.0, "none", "government bonds move with rates only")
            elif sector in shocks.credit:
                record(f, shocks.credit[sector], "sector", f"{sector} spread")
            else:
                band = "IG" if rating in INVESTMENT_GRADE else "HY"
                if band in shocks.credit:
                    record(f, shocks.credit[band], "rating", f"{band} spread")
                else:
                    record(f, 0.0, "none", f"no {band} spread move published")
        elif kind == "FX":
            ccy = rest
            if ccy in shocks.fx:
                m = (1.0 + shocks.fx[ccy]) / (1.0 + base_usd) - 1.0
                record(f, m, "direct" if base == "USD" else "cross via USD", f"{ccy}/USD")
            elif ccy == "USD" and base != "USD":
                record(f, 1.0 / (1.0 + base_usd) - 1.0, "cross via USD", f"{base}/USD")
            else:
                record(f, 0.0, "none", f"no {ccy} move published")
        else:  # pragma: no cover - every factor kind is handled above
            raise InputError("factor", key, "a known factor kind")
    return moves, np.zeros(n), mapping
