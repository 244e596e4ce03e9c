"""The packaged scenario sets — climate (NGFS-style) and supervisory (Fed 2025) — and the
one place that finds any scenario by name or file.

**Climate** (``data/climate.yaml``): each pathway gives sector equity moves, sector credit
spread moves, a market-wide equity move, and a **carbon-price shock** passed through each
sector's carbon intensity. A permanent carbon cost of :math:`\\Delta p_{CO_2}` per tonne on
a sector emitting :math:`I` tonnes per US$ million of revenue, of which a share :math:`\\pi`
is passed on to customers, cuts its annual profit by :math:`\\Delta p\\, I (1-\\pi)` per
US$ million of revenue; with value proportional to profit (a growing perpetuity), the
sector's equity value falls by the same share of its profit:

.. math:: \\Delta V / V = -\\frac{\\Delta p_{CO_2}\\, I\\, (1-\\pi)}{10^6 \\, m}

with :math:`m` the net margin (floored, :data:`carbon_model.floor`). The total sector move
compounds the market, sector and carbon moves.

**Supervisory** (``data/supervisory.yaml``): the Fed's severely adverse market variables
mapped onto the book — the equity index to every index (and by beta to stocks), the VIX
to every implied vol, the 3-month, 5-year and 10-year Treasury yields to the USD curve by
tenor (and by proxy other curves), the BBB yield's rise over the 10-year's to investment
grade spreads (high yield wider by the HY/IG ratio of the GFC episode's spread moves), and
house prices to the Real Estate sector's equities.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from riskstream.core.errors import InputError
from riskstream.stress.book import StressBook
from riskstream.stress.historical import (
    HistoricalScenario,
    StressContext,
    data_text,
    load_episodes,
)
from riskstream.stress.hypothetical import HypotheticalScenario, load_scenario
from riskstream.stress.mapping import MarketShocks, map_shocks


@dataclass(frozen=True)
class MappedScenario:
    """A scenario given as market-variable moves (climate, supervisory)."""

    name: str
    description: str
    shocks: MarketShocks
    version: str
    source: str
    kind: str

    def resolve(
        self, book: StressBook, context: StressContext | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        from riskstream.stress.historical import history_betas

        betas = None
        if context is not None and context.history is not None:
            betas = history_betas(book, context.history)
        return map_shocks(book, self.shocks, betas)


def carbon_move(
    price_shock: float, intensity: float, margin: float, pass_through: float, floor: float
) -> float:
    """Equity move of a sector from a carbon-price shock (module docstring formula)."""
    if margin <= 0:
        raise InputError("net_margin", margin, "a positive net margin")
    return max(-price_shock * intensity * (1.0 - pass_through) / (1e6 * margin), floor)


@cache
def climate_scenarios() -> dict[str, MappedScenario]:
    """The packaged NGFS-style pathways, by name."""
    text = data_text("climate.yaml")
    data = yaml.safe_load(text)
    model = data["carbon_model"]
    sectors = data["sectors"]
    version = f"{data['version']}+{hashlib.blake2b(text.encode(), digest_size=4).hexdigest()}"
    out = {}
    for name, spec in data["scenarios"].items():
        market = float(spec.get("equity_market", 0.0))
        moves = {}
        for sector, terms in sectors.items():
            carbon = carbon_move(
                float(spec.get("carbon_price_shock", 0.0)),
                float(terms["intensity"]),
                float(terms["net_margin"]),
                float(model["pass_through"]),
                float(model["floor"]),
            )
            own = float(spec.get("equity_sectors", {}).get(sector, 0.0))
            moves[sector] = (1 + market) * (1 + own) * (1 + carbon) - 1.0
        rates = spec.get("rates_parallel")
        shocks = MarketShocks(
            equity={"SPX": market},
            sectors=moves,
            vol=spec.get("vol"),
            rates={"USD": {1.0: float(rates)}} if rates is not None else {},
            credit={k: float(v) for k, v in spec.get("credit_sectors", {}).items()},
            sources={"all": "data/climate.yaml (NGFS Phase IV design; see the file)"},
        )
        out[name] = MappedScenario(
            name, spec["description"], shocks, version, "data/climate.yaml", "climate"
        )
    return out


@cache
def supervisory_scenarios() -> dict[str, MappedScenario]:
    """The Fed's 2025 severely adverse scenario mapped to market shocks."""
    text = data_text("supervisory.yaml")
    data = yaml.safe_load(text)
    v = {k: [float(x) for x in pair] for k, pair in data["variables"].items()}

    def rel(k: str) -> float:
        return v[k][1] / v[k][0] - 1.0

    def chg(k: str) -> float:
        return (v[k][1] - v[k][0]) / 100.0

    gfc = load_episodes()["gfc-2008"].shocks.credit
    hy_over_ig = gfc["HY"] / gfc["IG"]
    ig = chg("bbb_yield") - chg("treasury_10y")
    shocks = MarketShocks(
        equity={"SPX": rel("equity_index")},
        sectors={"Real Estate": rel("house_price_index")},
        vol=rel("vix"),
        rates={
            "USD": {0.25: chg("treasury_3m"), 5.0: chg("treasury_5y"), 10.0: chg("treasury_10y")}
        },
        credit={"IG": ig, "HY": ig * hy_over_ig},
        sources={"all": "Federal Reserve, 2025 Stress Test Scenarios (5 Feb 2025)"},
    )
    version = f"{data['version']}+{hashlib.blake2b(text.encode(), digest_size=4).hexdigest()}"
    name = data["scenario"]
    return {
        name: MappedScenario(
            name, data["description"], shocks, version, "data/supervisory.yaml", "supervisory"
        )
    }


Scenario = HistoricalScenario | HypotheticalScenario | MappedScenario


def builtin_scenarios() -> dict[str, Scenario]:
    """Every packaged scenario by name: historical, climate, supervisory."""
    return {**load_episodes(), **climate_scenarios(), **supervisory_scenarios()}


def find_scenario(name_or_file: str) -> Scenario:
    """A packaged scenario by name, or a hypothetical scenario file (``.yaml``/``.yml``).

    Raises
    ------
    InputError
        Neither a known name nor an existing file (naming the known names).
    """
    library = builtin_scenarios()
    if name_or_file in library:
        return library[name_or_file]
    path = Path(name_or_file)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_scenario(path)
    raise InputError(
        "--scenario", name_or_file, f"a scenario file or one of {', '.join(sorted(library))}"
    )


def scenario_list() -> list[dict[str, Any]]:
    """Name, kind, version, source and description of every packaged scenario."""
    return [
        {
            "name": s.name,
            "kind": s.kind,
            "version": s.version,
            "source": s.source,
            "description": s.description,
        }
        for s in builtin_scenarios().values()
    ]
