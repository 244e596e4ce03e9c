"""Non-modellable risk factors: the risk-factor eligibility test and stressed scenario
capital (Basel MAR31.12-31.24, MAR33.15-33.17).

**Eligibility (MAR31.12).** A risk factor is modellable when, over the previous 12 months,
it has real-price observations on

(a) at least 24 days, with no 90-day period holding fewer than 4 of them; or
(b) at least 100 days.

At most one observation counts per day (MAR31.13). A real price is a price at which the
bank traded, a verifiable committed quote or a trade of others (MAR31.12-31.13); in
Riskstream the observations of a factor are the dates its own stored series has a close
(daily closes loaded from files or the live pipeline, forward-filled rows excluded) and
whatever dated observations a user brings in a file (``risk_factor,date`` CSV). The
90-day windows are every run of 90 consecutive calendar days inside the 12 months.

**Stressed scenario capital (MAR33.15-33.17).** Each non-modellable factor gets a stress
scenario at least as prudent as an ES at 97.5% over a period of stress, on a liquidity
horizon of at least 20 days (MAR33.16: the greater of 20 days and the MAR33.12 horizon).
Riskstream's scenario: the ES at 97.5% of the current portfolio's P&L from moving that
factor alone by its 10-day moves over the stressed window of the reduced-set search
(:mod:`~riskstream.regulatory.ima.stressed`), scaled to the horizon by
``sqrt(LH / 10)``. The capital aggregates them (MAR33.16-33.17):

.. math::

    SES = \\sqrt{\\sum_i ISES_{NM,i}^2}
        + \\sqrt{\\Big(\\rho \\sum_j SES_{NM,j}\\Big)^2 + (1 - \\rho^2) \\sum_j SES_{NM,j}^2},
    \\quad \\rho = 0.6,

``i`` over idiosyncratic credit-spread and equity factors (zero correlation, MAR33.16-33.17;
in Riskstream the single-name equity factors ``EQ:*``), ``j`` over the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError

LOOKBACK_DAYS = 365  # MAR31.12: the previous 12 months
WINDOW_DAYS = 90  # MAR31.12(1): no 90-day period with fewer than 4 observations
MIN_IN_WINDOW = 4
MIN_WITH_WINDOWS = 24  # MAR31.12(1)
MIN_ALONE = 100  # MAR31.12(2)
SES_RHO = 0.6  # MAR33.16
MIN_SES_HORIZON_DAYS = 20  # MAR33.16


@dataclass(frozen=True)
class EligibilityResult:
    """The risk-factor eligibility test of one factor.

    Attributes
    ----------
    observations : int
        Distinct observation days in the 12 months to ``as_of``.
    min_in_90_days : int
        Fewest observations in any 90-day window of those 12 months.
    modellable : bool
    criterion : str
        ``"100 observations"``, ``"24 observations, 4 per 90 days"`` or why it failed.
    """

    observations: int
    min_in_90_days: int
    modellable: bool
    criterion: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "observations": self.observations,
            "min_in_90_days": self.min_in_90_days,
            "modellable": self.modellable,
            "criterion": self.criterion,
        }


def eligibility_test(observed: Iterable[dt.date], as_of: dt.date) -> EligibilityResult:
    """MAR31.12's test on the dates a factor was observed (any order, repeats counted once).

    The 12 months are the :data:`LOOKBACK_DAYS` calendar days ending on ``as_of``
    (inclusive); every window of 90 consecutive days inside them is checked.
    """
    first = as_of - dt.timedelta(days=LOOKBACK_DAYS - 1)
    day = np.zeros(LOOKBACK_DAYS, dtype=np.int64)
    for d in observed:
        if not isinstance(d, dt.date):
            raise InputError("observation date", d, "a datetime.date")
        if first <= d <= as_of:
            day[(d - first).days] = 1  # one observation per day at most (MAR31.13)
    n = int(day.sum())
    c = np.concatenate([[0], np.cumsum(day)])
    per_window = c[WINDOW_DAYS:] - c[:-WINDOW_DAYS]
    fewest = int(per_window.min())
    if n >= MIN_ALONE:
        return EligibilityResult(n, fewest, True, "100 observations")
    if n >= MIN_WITH_WINDOWS and fewest >= MIN_IN_WINDOW:
        return EligibilityResult(n, fewest, True, "24 observations, 4 per 90 days")
    why = (
        f"{n} observations (< 24)"
        if n < MIN_WITH_WINDOWS
        else f"a 90-day period with {fewest} observations (< 4) and {n} < 100"
    )
    return EligibilityResult(n, fewest, False, why)


def ses_horizon_days(liquidity_horizon_days: ArrayLike) -> np.ndarray:
    """MAR33.16: the SES horizon, the greater of 20 days and the factor's MAR33.12 one."""
    return np.maximum(np.asarray(liquidity_horizon_days, dtype=np.float64), MIN_SES_HORIZON_DAYS)


def aggregate_ses(idiosyncratic: ArrayLike, others: ArrayLike, rho: float = SES_RHO) -> float:
    """MAR33.16's aggregation of the non-modellable factors' stress losses (>= 0).

    Parameters
    ----------
    idiosyncratic : array_like of shape (n_i,)
        ``ISES_NM,i`` of the factors aggregated with zero correlation.
    others : array_like of shape (n_j,)
        ``SES_NM,j`` of the others, aggregated with correlation ``rho``.
    """
    i = np.asarray(idiosyncratic, dtype=np.float64)
    j = np.asarray(others, dtype=np.float64)
    for name, a in (("idiosyncratic", i), ("others", j)):
        if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise InputError(name, a.tolist()[:5], "a 1-d array of finite, non-negative losses")
    return float(
        np.sqrt(np.sum(i**2)) + np.sqrt((rho * j.sum()) ** 2 + (1 - rho**2) * np.sum(j**2))
    )
