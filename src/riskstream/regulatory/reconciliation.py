"""Reconciliation of aggregated exposures against the sum of the books (BCBS 239
principle 3: "reconciled with bank's sources, including accounting data").

An aggregate reported for the firm (a net quantity per instrument, a market value per desk,
a P&L vector) must equal the sum of the same figure over the books it aggregates. Any
difference beyond a tolerance is a *break*, listed with both sides, never netted away.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-6


def reconcile(
    name: str,
    aggregate: Mapping[str, float],
    books: Mapping[str, Mapping[str, float]],
    rtol: float = RELATIVE_TOLERANCE,
    atol: float = ABSOLUTE_TOLERANCE,
) -> dict[str, Any]:
    """Compare ``aggregate[key]`` with the sum over ``books`` of ``books[b][key]``.

    Returns ``{"name", "keys", "breaks": [{"key", "aggregate", "sum_of_books",
    "difference"}], "ok"}``; a key on one side only is a break too.
    """
    summed: dict[str, float] = {}
    for figures in books.values():
        for key, value in figures.items():
            summed[key] = summed.get(key, 0.0) + float(value)
    keys = sorted(set(aggregate) | set(summed))
    breaks = []
    for key in keys:
        a = float(aggregate.get(key, 0.0))
        s = summed.get(key, 0.0)
        if key not in aggregate or key not in summed or not np.isclose(a, s, rtol, atol):
            breaks.append(
                {
                    "key": key,
                    "aggregate": a if key in aggregate else None,
                    "sum_of_books": s if key in summed else None,
                    "difference": a - s,
                }
            )
    return {"name": name, "keys": len(keys), "breaks": breaks, "ok": not breaks}
