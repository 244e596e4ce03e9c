"""Stressed calibration of the internal models approach (Basel MAR33.5).

The capital ES must reflect a period of significant financial stress, but the stressed
period's data rarely exist for every current risk factor. MAR33.5 therefore scales:

.. math::

    IMCC(C) = ES_{R,S} \\cdot \\frac{ES_{F,C}}{ES_{R,C}}
            = ES_{F,C} \\cdot \\frac{ES_{R,S}}{ES_{R,C}},

with ``ES_F,C`` the ES of the current 12 months on the full set of (modellable) risk
factors, ``ES_R,C`` the current 12 months on a *reduced set* of factors with a long history,
and ``ES_R,S`` the reduced set over the *stressed* 12-month window: the window of the
stored history (going back to 2007 at least where the data allow, MAR33.5) that maximises
the reduced-set ES of the current portfolio. The reduced set must explain at least 75% of
the full model's ES: ``ES_R,C / ES_F,C >= 0.75`` (MAR33.5); the ratio is reported and
a shortfall is flagged (``sufficient``), never hidden. The ratio ``ES_F,C / ES_R,C`` is
floored at 1 (MAR33.5: the scaling may not reduce capital below the reduced-set
stressed ES).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.regulatory.ima.es import CONFIDENCE
from riskstream.risk.measures import var_rank

STRESS_WINDOW = 250  # MAR33.5: a 12-month period (250 business days of 10-day P&L)
MIN_EXPLAINED = 0.75  # MAR33.5: ES_R,C / ES_F,C at least 75%


@dataclass(frozen=True)
class StressWindow:
    """The worst window of a P&L history.

    Attributes
    ----------
    start, stop : int
        Rows ``start:stop`` of the searched P&L series form the window.
    es : float
        Its ES at 97.5%.
    rolling_es : ndarray of shape (n - window + 1,)
        ES of every window, in order (row ``i``: rows ``i .. i + window - 1``).
    """

    start: int
    stop: int
    es: float
    rolling_es: np.ndarray


def rolling_es(pnl: ArrayLike, window: int, confidence: float = CONFIDENCE) -> np.ndarray:
    """ES of every window of ``window`` consecutive scenarios of ``pnl`` (losses positive),
    the convention of :func:`riskstream.risk.measures.var_es_from_pnl`."""
    p = np.asarray(pnl, dtype=np.float64)
    if p.ndim != 1 or not np.all(np.isfinite(p)):
        raise InputError("pnl", f"shape {p.shape}", "a 1-d array of finite P&L")
    if not 1 <= window <= p.size:
        raise InputError("window", window, f"1 to {p.size} (the P&L observations)")
    k = var_rank(window, confidence)
    losses = -sliding_window_view(p, window)
    return np.partition(losses, k, axis=1)[:, k:].mean(axis=1)


def worst_window(
    pnl: ArrayLike, window: int = STRESS_WINDOW, confidence: float = CONFIDENCE
) -> StressWindow:
    """The window of ``window`` consecutive scenarios with the largest ES (the first of
    equal ones): the MAR33.5 search for the period of stress.

    Parameters
    ----------
    pnl : array_like of shape (n,)
        The current portfolio's P&L under each overlapping 10-day move of the reduced set of
        risk factors over the whole stored history, oldest first.
    """
    es = rolling_es(pnl, window, confidence)
    i = int(np.argmax(es))
    return StressWindow(i, i + window, float(es[i]), es)


@dataclass(frozen=True)
class StressedScaling:
    """The three ES of MAR33.5 and the capital ES they give,
    ``ES_R,S x max(1, ES_F,C / ES_R,C)``."""

    es_full_current: float
    es_reduced_current: float
    es_reduced_stressed: float

    @property
    def explained(self) -> float:
        """``ES_R,C / ES_F,C``: how much of the full model the reduced set explains."""
        if self.es_full_current == 0:
            return 1.0
        return self.es_reduced_current / self.es_full_current

    @property
    def sufficient(self) -> bool:
        return self.explained >= MIN_EXPLAINED

    @property
    def capital_es(self) -> float:
        """``ES_R,S x max(1, ES_F,C / ES_R,C)`` (MAR33.5); with no reduced-set risk
        today (``ES_R,C = 0``) the stressed reduced ES plus the full current ES."""
        if self.es_reduced_current == 0:
            return self.es_reduced_stressed + self.es_full_current
        ratio = max(1.0, self.es_full_current / self.es_reduced_current)
        return self.es_reduced_stressed * ratio

    def as_dict(self) -> dict[str, Any]:
        return {
            "es_full_current": self.es_full_current,
            "es_reduced_current": self.es_reduced_current,
            "es_reduced_stressed": self.es_reduced_stressed,
            "explained_ratio": self.explained,
            "sufficient": self.sufficient,
            "capital_es": self.capital_es,
        }
