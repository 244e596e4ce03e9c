"""Limits as a pipeline stage: check each new risk snapshot, act, report.

:class:`LimitsStage` implements :class:`riskstream.pipeline.Stage` by shape (``limits``
does not import the pipeline). It runs after the risk stage: when the risk engine has
published a snapshot newer than the last one checked, the stage builds the
:class:`~riskstream.limits.exposures.ExposureFrame` from the engine's position arrays and
hands it to the :class:`~riskstream.limits.controller.LimitController`; on every batch it
lets due child orders go out and applies fills back to the engine (``apply_trade``), so the
next snapshot sees the reduced portfolio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from riskstream.limits.controller import LimitController
from riskstream.limits.execution import Fill
from riskstream.limits.exposures import ExposureFrame, allocate_to_positions, liquidation_days
from riskstream.limits.model import Scope


def frame_from_engine(
    engine: Any, snapshot: Any, pnl: np.ndarray, max_participation: float
) -> ExposureFrame:
    """Per-position exposures from a :class:`riskstream.risk.engine.RiskEngine` and its
    snapshot (duck-typed: ``pos_inst``, ``pos_qty``, ``pos_labels``, ``unit_value``,
    ``unit_delta``, ``unit_gamma``, ``unit_vega``, ``adv``; snapshot ``component_var``,
    ``component_es`` and headline ``var``/``lvar``)."""
    ids = np.asarray(engine.pos_inst, dtype=np.int64)
    q = np.asarray(engine.pos_qty, dtype=np.float64)
    head = snapshot.headline
    lvar_ratio = head.lvar / head.var if head.var > 0 else 1.0
    comp_var = allocate_to_positions(snapshot.component_var, ids, q)
    labels = engine.pos_labels
    return ExposureFrame(
        instrument_id=ids.astype(np.int32),
        quantity=q,
        market_value=q * engine.unit_value[ids],
        delta=q * engine.unit_delta[ids],
        gamma=q * engine.unit_gamma[ids],
        vega=q * engine.unit_vega[ids],
        component_var=comp_var,
        component_es=allocate_to_positions(snapshot.component_es, ids, q),
        component_lvar=comp_var * lvar_ratio,
        pnl=np.nan_to_num(pnl),
        liquidation_days=liquidation_days(q, engine.adv[ids], max_participation),
        labels={
            Scope.DESK: labels["desk"],
            Scope.STRATEGY: labels["strategy"],
            Scope.TRADER: labels["trader"],
            Scope.ASSET_CLASS: labels["asset_class"],
        },
        ts_ns=int(snapshot.ts_ns),
    )


class LimitsStage:
    """Monitor limits on every new snapshot of a risk stage and act on breaches.

    Parameters
    ----------
    risk_stage : object
        Has ``last`` (the latest :class:`~riskstream.risk.snapshot.RiskSnapshot` or None)
        and ``engine`` (the :class:`~riskstream.risk.engine.RiskEngine`).
    controller : LimitController
    """

    name = "limits"

    def __init__(self, risk_stage: Any, controller: LimitController):
        self.risk_stage = risk_stage
        self.controller = controller
        self.engine = risk_stage.engine
        self._last_lineage: str | None = None
        self._value0: np.ndarray | None = None
        self.snapshots_checked = 0
        controller.on_fill = self._apply_fill
        self._books = np.asarray(self.engine.pos_book, dtype=np.int64)

    def _pnl(self) -> np.ndarray:
        """Each position's mark-to-market P&L since the stage started (base currency)."""
        value = self.engine.pos_qty * self.engine.unit_value[self.engine.pos_inst]
        if self._value0 is None or len(self._value0) != len(value):
            self._value0 = value.copy()
        return value - self._value0

    def _apply_fill(self, row: int, fill: Fill) -> None:
        # the sold units leave the position; their value leaves the P&L baseline with them
        unit = self.engine.unit_value[fill.instrument_id]
        if self._value0 is not None:
            self._value0[row] += fill.quantity * unit
        self.engine.apply_trade(int(self._books[row]), fill.instrument_id, fill.quantity)

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        snap = self.risk_stage.last
        if snap is not None and snap.lineage_id != self._last_lineage:
            self._last_lineage = snap.lineage_id
            cfg = self.controller.config
            frame = frame_from_engine(self.engine, snap, self._pnl(), cfg.max_participation)
            self.controller.on_snapshot(frame)
            self.snapshots_checked += 1
        self.controller.advance(now_ns)

    def summary(self) -> dict[str, Any]:
        out = self.controller.summary()
        out["limit_snapshots_checked"] = self.snapshots_checked
        last = self.controller.last
        if last is not None and len(last.utilisation):
            out["max_limit_utilisation"] = round(float(last.utilisation.max()), 4)
        return out

    def view(self) -> list[tuple[str, str]]:
        s = self.controller.summary()
        rows = [
            ("limit breaches", str(s["limit_breaches"])),
            ("reduction trades", f"{s['reduction_trades']} (cost {s['reduction_cost_usd']:,.0f})"),
        ]
        switches = s["kill_switches"]
        rows.append(
            ("kill switches", ", ".join(f"{k}={v}" for k, v in switches.items()) or "all active")
        )
        return rows

    def close(self) -> None:
        return None
