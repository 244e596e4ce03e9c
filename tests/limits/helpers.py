"""Small hand-checkable portfolios for the limits tests."""

from __future__ import annotations

import numpy as np

from riskstream.limits.exposures import ExposureFrame
from riskstream.limits.model import Scope


def frame(
    market_value: list[float],
    desk: list[str] | None = None,
    ts_ns: int = 0,
    **columns: list[float],
) -> ExposureFrame:
    """Positions with the given values; other measures default to zero."""
    n = len(market_value)
    desk = desk or ["A"] * n
    data = {
        name: np.asarray(columns.get(name, np.zeros(n)), dtype=float)
        for name in (
            "delta",
            "gamma",
            "vega",
            "component_var",
            "component_es",
            "component_lvar",
            "pnl",
            "liquidation_days",
        )
    }
    return ExposureFrame(
        instrument_id=np.arange(n, dtype=np.int32),
        quantity=np.asarray(columns.get("quantity", market_value), dtype=float),
        market_value=np.asarray(market_value, dtype=float),
        labels=LABELS_CACHE.setdefault(
            tuple(desk),
            {
                Scope.DESK: np.asarray(desk),
                Scope.STRATEGY: np.asarray([f"s-{d}" for d in desk]),
                Scope.TRADER: np.asarray([f"t-{d}" for d in desk]),
                Scope.ASSET_CLASS: np.asarray(["equity"] * n),
            },
        ),
        ts_ns=ts_ns,
        **data,
    )


LABELS_CACHE: dict = {}
