"""The risk engine as a pipeline stage: a snapshot every ``snapshot_interval_ms`` of event time
(:meth:`RiskStage.on_batch`), or when its host says (:meth:`RiskStage.refresh`; the runtime's
risk node refreshes on the wall clock).

Implements the :class:`riskstream.pipeline.Stage` protocol by shape (``risk`` does not
import the pipeline). The market-data stage before it writes the shared
:class:`~riskstream.core.state.MarketState`; this stage only decides *when* to refresh:
at the first batch and then whenever ``snapshot_interval_ms`` of event time has passed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from riskstream.risk.engine import RiskEngine
from riskstream.risk.snapshot import RiskSnapshot


def conditioning_text(conditioning: dict[str, Any] | None) -> str:
    """A snapshot's regime conditioning in words, e.g. ``crisis: vol x1.85, market var x2.4``."""
    if conditioning is None:
        return "unconditional"
    return (
        f"{conditioning['regime']}: vol x{conditioning['vol_multiplier']:.2f}, "
        f"market var x{conditioning['market_variance_ratio']:.2f}"
    )


class RiskStage:
    """Refresh the risk engine on event time and report its latest snapshot."""

    name = "risk"

    def __init__(self, engine: RiskEngine, positions: Any = None):
        self.engine = engine
        # the position keeper's versions (a Subscription to SUBJECTS["positions"]): the
        # newest is sent to the engine before each refresh, the engine's only way to learn
        # of positions
        self.positions = positions
        self.interval_ns = engine.config.snapshot_interval_ms * 1_000_000
        self.snapshots = 0
        self.refresh_ms: list[float] = []
        self.last: RiskSnapshot | None = None
        self._last_ns: int | None = None

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        if self._last_ns is not None and now_ns - self._last_ns < self.interval_ns:
            return
        self.refresh(now_ns)

    def refresh(self, now_ns: int) -> RiskSnapshot:
        """Refresh now (the runtime's risk node decides when, on the wall clock), stamping
        the snapshot with market time ``now_ns``."""
        started = time.perf_counter()
        if self.positions is not None and (latest := self.positions.latest()) is not None:
            self.engine.send(latest[1])
        self.last = self.engine.refresh(now_ns)
        self.refresh_ms.append((time.perf_counter() - started) * 1e3)
        if len(self.refresh_ms) > 100_000:  # a long run keeps the recent ones
            del self.refresh_ms[:50_000]
        self.snapshots += 1
        self._last_ns = now_ns
        return self.last

    def summary(self) -> dict[str, Any]:
        if self.last is None:
            return {"risk_snapshots": 0}
        head = self.last.headline
        ms = np.asarray(self.refresh_ms)
        return {
            "risk_snapshots": self.snapshots,
            "var": head.var,
            "es": head.es,
            "lvar": head.lvar,
            "lvar_parts": {
                "spread_cost": head.spread_cost,
                "impact_cost": head.impact_cost,
                "funding_cost": head.funding_cost,
            },
            "confidence": head.confidence,
            "horizon_days": head.horizon_days,
            "top_contributors": [c.as_dict() for c in self.last.top_contributors],
            "risk_excluded_positions": len(self.last.excluded),
            "risk_lineage_id": self.last.lineage_id,
            "risk_refresh_p50_ms": float(np.percentile(ms, 50)),
            "risk_refresh_p99_ms": float(np.percentile(ms, 99)),
            "risk_conditioning": self.last.regime_conditioning,
            "risk_marks": self.last.marks,
        }

    def view(self) -> list[tuple[str, str]]:
        if self.last is None:
            return [("risk", "waiting for the first snapshot")]
        head = self.last.headline
        label = f"{head.confidence:.1%} {head.horizon_days}d"
        rows = [
            (f"VaR {label}", f"{head.var:,.0f}"),
            (f"ES {label}", f"{head.es:,.0f}"),
            (
                f"L-VaR {label}",
                f"{head.lvar:,.0f} (spread {head.spread_cost:,.0f}, impact "
                f"{head.impact_cost:,.0f}, funding {head.funding_cost:,.0f})",
            ),
        ]
        rows.append(("conditioning", conditioning_text(self.last.regime_conditioning)))
        marks = self.last.marks
        if marks is not None:
            flagged = sum(marks["flagged_now"].values())
            vol = marks["median_implied_vol"]
            rows.append(
                (
                    "live marks",
                    f"median vol {vol:.1%} · {marks['vol_grid_rebuilds']} vol rebuilds · "
                    f"{flagged} quotes flagged · {marks['fx_updates']} FX updates"
                    if vol is not None
                    else f"{marks['fx_updates']} FX updates",
                )
            )
        for c in self.last.top_contributors[:5]:
            rows.append((f"  ES contrib {c.symbol}", f"{c.component_es:,.0f}"))
        if self.last.excluded:
            rows.append(("positions excluded", str(len(self.last.excluded))))
        return rows

    def close(self) -> None:
        self.engine.close()  # its background worker, if any
