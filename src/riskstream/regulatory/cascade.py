"""The liquidity-horizon cascade of the internal models approach (Basel MAR33.4).

Expected Shortfall at 97.5 % on a base horizon ``T = 10`` days is computed for the full set
of risk factors (``ES_T(P, 1)``) and for the subsets whose liquidity horizon is at least
``LH_j`` (``ES_T(P, j)``, j = 2..5, with ``LH = 10, 20, 40, 60, 120`` days, MAR33.12); the
liquidity-adjusted ES scales each subset's ES by the extra horizon it needs:

.. math::

    ES = \\sqrt{ES_T(P)^2 + \\sum_{j \\ge 2}
         \\left(ES_T(P, j) \\sqrt{\\frac{LH_j - LH_{j-1}}{T}}\\right)^2}

One module so that the standardised and internal-models parts share it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from riskstream.core.errors import InputError

BASE_HORIZON_DAYS = 10
"""T of MAR33.4."""
LIQUIDITY_HORIZONS_DAYS: tuple[int, ...] = (10, 20, 40, 60, 120)
"""LH_j of MAR33.4 / MAR33.12, j = 1..5."""


def liquidity_adjusted_es(
    es_by_horizon: Sequence[float],
    horizons_days: Sequence[int] = LIQUIDITY_HORIZONS_DAYS,
    base_horizon_days: int = BASE_HORIZON_DAYS,
) -> float:
    """The MAR33.4 cascade of ``ES_T(P, j)``, j = 1..len(horizons).

    Parameters
    ----------
    es_by_horizon : sequence of float
        ``ES_T(P, j)``: the T-day ES (a positive loss) of the risk factors with liquidity
        horizon at least ``horizons_days[j-1]``; the first is the whole portfolio's.
    horizons_days : sequence of int
        Increasing liquidity horizons, the first equal to ``base_horizon_days``.
    base_horizon_days : int

    Raises
    ------
    InputError
        A value is negative or not finite, or the counts differ.
    """
    es = [float(x) for x in es_by_horizon]
    if len(es) != len(horizons_days):
        raise InputError(
            "es", es, f"{len(horizons_days)} values, one per horizon {list(horizons_days)}"
        )
    for x in es:
        if not math.isfinite(x) or x < 0:
            raise InputError("es", x, "a finite, non-negative expected shortfall")
    total = es[0] ** 2
    for j in range(1, len(es)):
        scale = (horizons_days[j] - horizons_days[j - 1]) / base_horizon_days
        total += (es[j] * math.sqrt(scale)) ** 2
    return math.sqrt(total)
