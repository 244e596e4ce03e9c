"""FRTB P&L attribution (PLA) test: does the risk model's P&L track the desk's P&L?

Under the FRTB internal models approach (Basel Committee, *Minimum capital requirements for
market risk*, MAR32.30-MAR32.45) each trading desk compares, over the most recent 250 days,

- the **risk-theoretical P&L** (RTPL): the day's P&L computed by the risk model from its own
  risk factors, and
- the **hypothetical P&L** (HPL): the day's P&L from full front-office revaluation of the
  previous day's positions at today's market data.

Two metrics (MAR32.44):

- the **Spearman rank correlation** between RTPL and HPL;
- the **Kolmogorov-Smirnov** two-sample statistic between their empirical distributions.

Zones (MAR32.45): **green** when the correlation is above 0.80 *and* the KS statistic is
below 0.09 (p-value 0.264 with 250 + 250 observations); **red** when the correlation is below
0.70 *or* the KS statistic is above 0.12 (p-value 0.055); **amber** otherwise. A red desk
leaves the internal models approach; an amber desk pays a capital surcharge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from riskstream.backtest.inputs import check_aligned, check_series
from riskstream.core.errors import InputError

PLAZone = Literal["green", "amber", "red"]

SPEARMAN_GREEN = 0.80  # MAR32.45: correlation above this is green
SPEARMAN_RED = 0.70  # MAR32.45: correlation below this is red
KS_GREEN = 0.09  # MAR32.45: KS statistic below this is green (p-value 0.264)
KS_RED = 0.12  # MAR32.45: KS statistic above this is red (p-value 0.055)


@dataclass(frozen=True)
class PLATest:
    """Result of the FRTB P&L attribution test.

    Attributes
    ----------
    spearman : float
        Spearman rank correlation of RTPL and HPL.
    ks : float
        Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs).
    ks_p_value : float
        Its exact two-sample p-value (scipy), for information.
    spearman_zone, ks_zone, zone : {"green", "amber", "red"}
        Each metric's zone and the desk's (the worse of the two).
    observations : int
    """

    spearman: float
    ks: float
    ks_p_value: float
    spearman_zone: PLAZone
    ks_zone: PLAZone
    zone: PLAZone
    observations: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_ORDER = {"green": 0, "amber": 1, "red": 2}


def pla_test(rtpl: ArrayLike, hpl: ArrayLike) -> PLATest:
    """Run the FRTB P&L attribution test (MAR32.44-45) on aligned daily P&L series.

    Parameters
    ----------
    rtpl : array_like of shape (n_days,)
        Risk-theoretical P&L (from the risk model's factors and pricing).
    hpl : array_like of shape (n_days,)
        Hypothetical P&L (full revaluation, unchanged positions). The regulation uses 250
        days; any length of at least 2 is accepted.
    """
    r = check_series(rtpl, "rtpl")
    h = check_series(hpl, "hpl")
    n = check_aligned(rtpl=r, hpl=h)
    if n < 2:
        raise InputError("hpl", f"{n} observation", "at least 2 observations (250 in MAR32)")
    rho = float(stats.spearmanr(r, h).statistic)
    if not np.isfinite(rho):
        rho = 0.0  # a constant series carries no rank information: treat as uncorrelated
    ks = stats.ks_2samp(r, h)
    rho_zone: PLAZone = (
        "green" if rho > SPEARMAN_GREEN else "red" if rho < SPEARMAN_RED else "amber"
    )
    ks_zone: PLAZone = (
        "green" if ks.statistic < KS_GREEN else "red" if ks.statistic > KS_RED else "amber"
    )
    zone = rho_zone if _ORDER[rho_zone] >= _ORDER[ks_zone] else ks_zone
    return PLATest(
        spearman=rho,
        ks=float(ks.statistic),
        ks_p_value=float(ks.pvalue),
        spearman_zone=rho_zone,
        ks_zone=ks_zone,
        zone=zone,
        observations=n,
    )
