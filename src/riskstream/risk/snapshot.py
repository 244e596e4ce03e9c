"""The risk snapshot: one immutable record per refresh, carrying its own lineage.

Every figure a snapshot reports can be replayed: it records the event time it is as of,
the market-state sequence numbers it read (their maximum and a digest of the whole
array), the positions version, the config fingerprint and the scenario-set fingerprint;
the lineage id is a hash of all of them (BCBS 239, principle 3: accuracy and integrity —
data lineage from figure back to input).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from riskstream.core import wire
from riskstream.risk.valuation import Valuation


@dataclass(frozen=True)
class Measure:
    """VaR, ES and L-VaR with its parts at one confidence level and horizon (currency).

    ``lvar = var + spread_cost + impact_cost + funding_cost``. ``impact_cost_std`` (the
    Almgren-Chriss cost standard deviation), the SPAN ``initial_margin`` now, the cash calls
    of the stressed move (``variation_margin``, ``initial_margin_call``, ``haircut_call``) and
    the ``forced_sale`` beyond the liquid buffer are reported, not added: ``funding_cost`` is
    what meeting the calls costs (see :mod:`riskstream.risk.liquidity`).
    """

    confidence: float
    horizon_days: int
    var: float
    es: float
    lvar: float
    spread_cost: float
    impact_cost: float
    impact_cost_std: float
    funding_cost: float
    variation_margin: float
    initial_margin_call: float
    haircut_call: float
    initial_margin: float
    forced_sale: float
    var_kernel_scale: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Contributor:
    """One instrument's Euler contribution at the headline level and horizon."""

    instrument_id: int
    symbol: str
    asset_class: str
    quantity: float
    component_var: float
    component_es: float
    marginal_var: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Exclusion:
    """A position left out of the figures, and why."""

    book_id: int
    instrument_id: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class RiskSnapshot:
    """The published result of one refresh (immutable).

    Attributes
    ----------
    ts_ns : int
        Event time the snapshot is as of (int64 ns UTC, from the injected clock).
    market_seq_max : int
        Largest market-state sequence number read.
    market_seq_digest, positions_digest, config_fingerprint, scenarios_fingerprint : str
        Digests of the inputs.
    lineage_id : str
        Hash of everything above: equal inputs give the same id.
    method : str
        Scenario method.
    measures : tuple of Measure
        One per (confidence, horizon); the first is the headline.
    top_contributors : tuple of Contributor
        Largest component ES at the headline level.
    component_var, component_es : ndarray of shape (n_instruments,)
        Per-instrument Euler contributions at the headline level (read-only).
    greeks : dict
        ``{asset_class: {"delta", "gamma", "vega", "dv01"}}`` in base currency (delta per
        unit relative move, gamma per unit relative move squared, vega per 1.00 of vol,
        dv01 per basis point).
    aggregates : dict
        ``{by: {label: {"component_var", "component_es"}}}`` for asset_class, desk,
        strategy and trader.
    excluded : tuple of Exclusion
        Positions left out, with the reason.
    regime_probabilities : dict or None
        Filled by the regime package when wired.
    regime_conditioning : dict or None
        The regime conditioning of the scenarios in force (``regime``, ``vol_multiplier``,
        ``market_variance_ratio``, ``probability``; see
        :mod:`riskstream.risk.conditioning`), None when the figures are unconditional.
    regime_switch : dict or None
        A switch being prepared off the hot path and not yet in force (``to``: the target
        conditioning's dict, None for unconditional; ``requested_ns``: the regime message's
        time), None when none is pending.
    model_warnings : tuple of str
        The scenario model's fit warnings (a non-converged GARCH, data-scale problems;
        :mod:`riskstream.core.warnings`), part of the lineage; empty for a clean fit.
    fx_to_base : dict or None
        Units of the base currency per unit of each currency, the live rates the figures
        were translated at (downstream marks, P&L and limits read them from here).
    valuation : Valuation or None
        Every instrument's price, per-unit value and sensitivities and validity as valued
        (:mod:`riskstream.risk.valuation`), with the positions version; downstream stages
        read these, never the engine.
    marks : dict or None
        The live marks' state (:meth:`riskstream.risk.engine.RiskEngine.marks`): FX and
        vol updates, grid rebuilds, flagged option quotes by reason.
    """

    ts_ns: int
    market_seq_max: int
    market_seq_digest: str
    positions_digest: str
    config_fingerprint: str
    scenarios_fingerprint: str
    method: str
    n_scenarios: int
    measures: tuple[Measure, ...]
    top_contributors: tuple[Contributor, ...]
    component_var: np.ndarray
    component_es: np.ndarray
    greeks: dict[str, dict[str, float]]
    aggregates: dict[str, dict[str, dict[str, float]]]
    excluded: tuple[Exclusion, ...]
    regime_probabilities: dict[str, float] | None = None
    regime_conditioning: dict[str, Any] | None = None
    model_warnings: tuple[str, ...] = ()
    lineage_id: str = field(default="")
    fx_to_base: dict[str, float] | None = None
    marks: dict[str, Any] | None = None
    valuation: Valuation | None = None
    regime_switch: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "component_var", _readonly(self.component_var))
        object.__setattr__(self, "component_es", _readonly(self.component_es))
        if not self.lineage_id:
            h = hashlib.blake2b(digest_size=12)
            for part in (
                str(self.ts_ns),
                str(self.market_seq_max),
                self.market_seq_digest,
                self.positions_digest,
                self.config_fingerprint,
                self.scenarios_fingerprint,
                self.method,
                *self.model_warnings,  # none: the id is unchanged from a clean fit's
            ):
                h.update(part.encode())
                h.update(b"\0")
            object.__setattr__(self, "lineage_id", h.hexdigest())

    @property
    def headline(self) -> Measure:
        return self.measures[0]

    def measure(self, confidence: float, horizon_days: int) -> Measure:
        for m in self.measures:
            if m.confidence == confidence and m.horizon_days == horizon_days:
                return m
        raise KeyError(f"no measure at confidence {confidence}, horizon {horizon_days}")

    def as_dict(self, contributions: bool = False) -> dict[str, Any]:
        """JSON-friendly view (per-instrument arrays only with ``contributions=True``)."""
        out: dict[str, Any] = {
            "ts_ns": self.ts_ns,
            "lineage_id": self.lineage_id,
            "market_seq_max": self.market_seq_max,
            "market_seq_digest": self.market_seq_digest,
            "positions_digest": self.positions_digest,
            "config_fingerprint": self.config_fingerprint,
            "scenarios_fingerprint": self.scenarios_fingerprint,
            "method": self.method,
            "n_scenarios": self.n_scenarios,
            "var": self.headline.var,
            "es": self.headline.es,
            "lvar": self.headline.lvar,
            "measures": [m.as_dict() for m in self.measures],
            "top_contributors": [c.as_dict() for c in self.top_contributors],
            "greeks": self.greeks,
            "aggregates": self.aggregates,
            "excluded": [e.as_dict() for e in self.excluded],
            "regime_probabilities": self.regime_probabilities,
            "regime_conditioning": self.regime_conditioning,
            "regime_switch": self.regime_switch,
            "model_warnings": list(self.model_warnings),
            "fx_to_base": self.fx_to_base,
            "marks": self.marks,
        }
        if contributions:
            out["component_var"] = self.component_var.tolist()
            out["component_es"] = self.component_es.tolist()
        return out


# the snapshot travels between stage processes (riskstream.core.wire)
for _cls in (Measure, Contributor, Exclusion, RiskSnapshot):
    wire.register(_cls)
