"""Combine several sources' FX rates into one published rate per currency, with provenance.

Steps (one response per source, a *response set*)
--------------------------------------------------
1. **Normalise** each source to the one base ``B`` (USD by default). A source quotes its own
   base (the ECB: EUR), so a currency's rate in ``B`` is a *cross rate*: e.g. JPY per USD
   from ECB data is EURJPY / EURUSD. The chain is found by
   :func:`riskstream.core.fx.rates_to_base` (shortest chain of quoted pairs), the same path
   every other FX translation in Riskstream takes.
2. **Drop stale sources.** The reference time is the newest response in the set (or the
   ``--as-of`` given); a source whose own time stamp is more than ``stale_after_s`` older
   is excluded, and with ``--as-of`` so is one dated after it (it did not exist then).
3. **Reject outliers** per currency, against the cross-source median, in log rates (so the
   test is the same whichever way round a pair is quoted): with :math:`x_i = \\ln r_i`,
   :math:`m` their median and :math:`\\hat\\sigma = 1.4826\\,\\mathrm{median}_i |x_i - m|`
   (the MAD, scaled to a standard deviation under normality; Rousseeuw & Croux 1993),
   quote *i* is an outlier when

   .. math:: |x_i - m| > \\max(k \\hat\\sigma,\\; \\ln(1 + x/100))

   ``k`` (``outlier_mad_k``) adapts the band to how much honest sources differ (they fix at
   different times of day); the ``x%`` floor (``outlier_pct``) keeps a tight cluster (the
   ECB and Frankfurter publish identical numbers: MAD 0) from rejecting a normal timing
   difference. With fewer than three quotes a MAD cannot tell who is wrong (each quote is
   exactly one MAD from the median), so only the ``x%`` test applies: two sources more than
   ``2x%`` apart both fail it and the currency is not published.
4. **Weighted average** of the surviving quotes, a weighted geometric mean (the mean of log
   rates, so USD per JPY is exactly the inverse of JPY per USD):

   .. math:: \\ln r = \\sum_i w_i \\ln r_i, \\qquad
             w_i \\propto q_i \\cdot 2^{-a_i / h}

   with :math:`q_i` the source's quality weight (settings: ECB 1.0, Frankfurter 0.8,
   open.er-api 0.7, exchangerate.host 0.7, currency-api 0.5; see
   :class:`~riskstream.feeds.fx.config.FxConfig`), :math:`a_i` the age of its quote against
   the reference time and :math:`h` the freshness half-life. Weights are normalised to sum
   to 1 per currency.

A currency is published when at least ``min_sources`` quotes survive. Every published rate
carries the sources used (rate in ``B``, weight, age) and every exclusion its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.clock import NS_PER_S
from riskstream.core.fx import conversion_paths, pair_symbol, rates_to_base
from riskstream.core.messages import FxRates
from riskstream.feeds.fx.config import FxConfig
from riskstream.feeds.fx.sources import SOURCES, SourceQuotes

MAD_TO_SIGMA = 1.4826
"""1 / Phi^-1(3/4): the MAD of a normal sample times this estimates its standard deviation."""


def iso_ns(ts_ns: int) -> str:
    """An ns time stamp as ISO 8601 UTC (seconds)."""
    return dt.datetime.fromtimestamp(ts_ns // NS_PER_S, dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A source left out: of one currency, or of every currency (``currency`` None)."""

    source: str
    currency: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "currency": self.currency, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class FxAggregate:
    """The published rates of one response set, with their provenance.

    Attributes
    ----------
    base : str
    as_of_ns : int or None
        The reference time: ``--as-of``, or the newest response's own time stamp (None
        when no source answered).
    rates : dict of str to float
        Units of each currency per one unit of ``base`` (the base itself not listed).
    sources : dict of str to dict
        Per published currency: source -> ``{"rate", "weight", "age_s"}`` (rate in
        ``base``, normalised weight).
    excluded : tuple of Exclusion
    unpublished : dict of str to str
        Currencies asked for but not published, with the reason.
    """

    base: str
    as_of_ns: int | None
    rates: dict[str, float]
    sources: dict[str, dict[str, dict[str, float]]]
    excluded: tuple[Exclusion, ...]
    unpublished: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        """The ``fx aggregate --json`` object."""
        return {
            "base": self.base,
            "as_of": iso_ns(self.as_of_ns) if self.as_of_ns is not None else None,
            "rates": self.rates,
            "sources": self.sources,
            "excluded": [e.as_dict() for e in self.excluded],
            "unpublished": [{"currency": c, "reason": r} for c, r in self.unpublished.items()],
        }

    def provenance(self, currency: str) -> dict[str, Any]:
        """One currency's provenance: the sources used and the sources excluded (for it, or
        for every currency) with why."""
        return {
            "used": self.sources.get(currency, {}),
            "excluded": [e.as_dict() for e in self.excluded if e.currency in (None, currency)],
        }

    def rows(self, ts_ns: int, responses: str = "") -> pl.DataFrame:
        """One row per published rate, in the history store's ``fx_rates`` columns
        (:meth:`riskstream.store.market_history.MarketHistory.append_fx_rates`)."""
        currencies = sorted(self.rates)
        return pl.DataFrame(
            {
                "ts": [ts_ns] * len(currencies),
                "as_of_ns": [self.as_of_ns or 0] * len(currencies),
                "base": [self.base] * len(currencies),
                "currency": currencies,
                "rate": [self.rates[c] for c in currencies],
                "sources": [len(self.sources[c]) for c in currencies],
                "provenance": [json.dumps(self.provenance(c), sort_keys=True) for c in currencies],
                "responses": [responses] * len(currencies),
            },
            schema={
                "ts": pl.Int64,
                "as_of_ns": pl.Int64,
                "base": pl.String,
                "currency": pl.String,
                "rate": pl.Float64,
                "sources": pl.Int64,
                "provenance": pl.String,
                "responses": pl.String,
            },
        )

    def message(self, responses: str = "") -> FxRates:
        """The bus message (``SUBJECTS["fx"]``); ``responses`` names the saved response set."""
        return FxRates(
            ts_ns=self.as_of_ns or 0,
            base=self.base,
            rates=dict(self.rates),
            provenance={
                "sources": self.sources,
                "excluded": [e.as_dict() for e in self.excluded],
                "unpublished": dict(self.unpublished),
                "responses": responses,
            },
        )


def _in_base(
    quotes: SourceQuotes, wanted: set[str] | None, base: str
) -> tuple[dict[str, float], bool]:
    """Units of each currency per one ``base`` from one source (cross rates through the
    source's own base where needed); False when the source cannot reach ``base``."""
    prices = {pair_symbol(quotes.base, c): r for c, r in quotes.rates.items()}
    held = set(quotes.rates) | {quotes.base}
    targets = sorted((held if wanted is None else held & wanted) - {base})
    paths = conversion_paths(prices, [*targets, quotes.base], base)
    if paths[quotes.base] is None:
        return {}, False
    reachable = [c for c in targets if paths[c] is not None]
    value = rates_to_base(prices, reachable, base)  # base units per one unit of c
    return {c: 1.0 / value[c] for c in reachable}, True


def aggregate(
    quotes: Sequence[SourceQuotes],
    config: FxConfig,
    *,
    failures: Mapping[str, str] | None = None,
    base: str | None = None,
    as_of_ns: int | None = None,
) -> FxAggregate:
    """Aggregate one response set (see the module docstring for the method).

    Parameters
    ----------
    quotes : sequence of SourceQuotes
        The parsed responses, at most one per source.
    config : FxConfig
        Staleness, outlier, weighting and publication settings.
    failures : mapping of str to str, optional
        Sources that gave no usable response, with why (listed as excluded).
    base : str, optional
        Override ``config.base``.
    as_of_ns : int, optional
        Judge staleness against this time instead of the newest response.

    Returns
    -------
    FxAggregate
    """
    base = base or config.base
    order = list(SOURCES)
    quotes = sorted(quotes, key=lambda q: order.index(q.source) if q.source in order else 99)
    excluded = [Exclusion(s, None, r) for s, r in sorted((failures or {}).items())]
    ref = as_of_ns if as_of_ns is not None else max((q.ts_ns for q in quotes), default=None)
    wanted = set(config.currencies) if config.currencies else None
    half_life_ns = config.freshness_half_life_s * NS_PER_S

    normalised: dict[str, dict[str, float]] = {}
    weight: dict[str, float] = {}
    age_s: dict[str, float] = {}
    for q in quotes:
        assert ref is not None
        age = ref - q.ts_ns
        if age < 0:
            excluded.append(
                Exclusion(
                    q.source, None, f"dated {iso_ns(q.ts_ns)}, after the as-of time {iso_ns(ref)}"
                )
            )
            continue
        if age > config.stale_after_s * NS_PER_S:
            excluded.append(
                Exclusion(
                    q.source,
                    None,
                    f"stale: dated {iso_ns(q.ts_ns)}, {age / NS_PER_S / 3600:.1f} h before "
                    f"{'the as-of time' if as_of_ns is not None else 'the newest response'} "
                    f"{iso_ns(ref)} (limit {config.stale_after_s / 3600:.1f} h)",
                )
            )
            continue
        rates, reaches = _in_base(q, wanted, base)
        if not reaches:
            excluded.append(Exclusion(q.source, None, f"quotes no rate linking it to {base}"))
            continue
        normalised[q.source] = rates
        weight[q.source] = getattr(config, SOURCES[q.source].setting).quality * 0.5 ** (
            age / half_life_ns
        )
        age_s[q.source] = age / NS_PER_S
        for c, reason in sorted(q.invalid.items()):
            if c != base and (wanted is None or c in wanted):
                excluded.append(Exclusion(q.source, c, reason))

    universe = (
        sorted(wanted - {base})
        if wanted is not None
        else sorted({c for rates in normalised.values() for c in rates})
    )
    band_floor = math.log1p(config.outlier_pct / 100.0)
    published: dict[str, float] = {}
    provenance: dict[str, dict[str, dict[str, float]]] = {}
    unpublished: dict[str, str] = {}
    for c in universe:
        have = [s for s in normalised if c in normalised[s]]
        for s in normalised:
            if c not in normalised[s] and not any(
                e.source == s and e.currency == c for e in excluded
            ):
                excluded.append(Exclusion(s, c, "not quoted in this response"))
        if not have:
            unpublished[c] = "no usable source quotes it"
            continue
        x = np.log([normalised[s][c] for s in have])
        m = float(np.median(x))
        dev = np.abs(x - m)
        band = band_floor
        if len(have) >= 3:
            band = max(config.outlier_mad_k * MAD_TO_SIGMA * float(np.median(dev)), band_floor)
        kept = []
        for s, d, xi in zip(have, dev, x, strict=True):
            if d > band:
                excluded.append(
                    Exclusion(
                        s,
                        c,
                        f"outlier: {math.exp(xi):.6g} is {math.expm1(d) * 100:.2f}% from the "
                        f"median {math.exp(m):.6g} of {len(have)} sources (band "
                        f"{math.expm1(band) * 100:.2f}%)",
                    )
                )
            else:
                kept.append(s)
        if len(kept) < config.min_sources:
            unpublished[c] = (
                f"{len(kept)} source(s) left after the checks; at least {config.min_sources} "
                "needed (fx.min_sources)"
            )
            continue
        w = np.array([weight[s] for s in kept])
        w = w / w.sum()
        published[c] = float(np.exp(np.dot(w, [math.log(normalised[s][c]) for s in kept])))
        provenance[c] = {
            s: {"rate": normalised[s][c], "weight": float(wi), "age_s": age_s[s]}
            for s, wi in zip(kept, w, strict=True)
        }
    return FxAggregate(base, ref, published, provenance, tuple(excluded), unpublished)
