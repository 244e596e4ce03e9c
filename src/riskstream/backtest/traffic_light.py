"""The Basel traffic light: supervisory zones and capital plus factors from the hit count.

The Basel Committee's 1996 "Supervisory framework for the use of backtesting in
conjunction with the internal models approach to market risk capital requirements"
classifies a bank's 250-day backtest of its 99% VaR by the cumulative binomial probability
of its exception count under a correct model, :math:`F(x) = P(X \\le x)`,
:math:`X \\sim \\mathrm{Bin}(N, 1-c)`:

- **green** where :math:`F(x) < 95\\%` (0-4 exceptions at 250 days, 99%);
- **yellow** where :math:`95\\% \\le F(x) < 99.99\\%` (5-9 exceptions);
- **red** where :math:`F(x) \\ge 99.99\\%` (10 or more).

The zone raises the capital multiplier (3) by a plus factor (Table 2 of the framework):
0 in green; 0.40, 0.50, 0.65, 0.75, 0.85 for 5-9 exceptions; 1.00 in red.

**General N and coverage.** The zones above apply unchanged (they are defined by
:math:`F`). The framework only tabulates the yellow plus factors for 250 days at 99%; for
other samples this module interpolates them on the same probability scale: the plus factor
is the piecewise-linear interpolation, in :math:`-\\log_{10}(1 - F(x))`, through the five
Basel points :math:`(F_{250,99\\%}(k), \\text{plus}_k)`, :math:`k = 5..9`, held flat at
0.40 below :math:`F(5) = 95.88\\%` and at 0.85 above :math:`F(9) = 99.97\\%`. A yellow
count of equal statistical surprise therefore gets the same add-on whatever the sample, and
250 days at 99% reproduces Table 2 exactly. (MathWorks' ``varbacktest.tl`` and most vendors
apply the zones for general N the same way; the plus-factor extension is this module's
documented choice.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from riskstream.backtest.inputs import check_level
from riskstream.core.errors import InputError

Zone = Literal["green", "yellow", "red"]

GREEN_UPPER = 0.95  # cumulative probability where the yellow zone starts
YELLOW_UPPER = 0.9999  # cumulative probability where the red zone starts

#: Basel 1996, Table 2: yellow-zone plus factors for 5..9 exceptions (250 days, 99% VaR).
BASEL_YELLOW_PLUS_FACTORS = (0.40, 0.50, 0.65, 0.75, 0.85)
RED_PLUS_FACTOR = 1.00


@dataclass(frozen=True)
class TrafficLight:
    """Traffic-light classification of one backtest.

    Attributes
    ----------
    zone : {"green", "yellow", "red"}
    plus_factor : float
        Add-on to the capital multiplier of 3.
    cumulative_probability : float
        :math:`P(X \\le x)` under a correct model, :math:`X \\sim \\mathrm{Bin}(N, 1-c)`.
    observations, exceptions : int
    """

    zone: Zone
    plus_factor: float
    cumulative_probability: float
    observations: int
    exceptions: int

    def as_dict(self) -> dict[str, str | float]:
        """``{"zone", "plus_factor", "cumulative_probability"}`` (the CLI's JSON shape)."""
        return {
            "zone": self.zone,
            "plus_factor": self.plus_factor,
            "cumulative_probability": self.cumulative_probability,
        }


def _basel_anchor() -> tuple[np.ndarray, np.ndarray]:
    """Interpolation nodes: Basel yellow counts 5..9 at 250 days, 99%, on -log10(1-F)."""
    f = stats.binom.cdf(np.arange(5, 10), 250, 0.01)
    return -np.log10(1.0 - f), np.asarray(BASEL_YELLOW_PLUS_FACTORS)


def traffic_light(exceptions: int, observations: int, confidence: float = 0.99) -> TrafficLight:
    """Zone, plus factor and cumulative probability for ``exceptions`` in ``observations``.

    Parameters
    ----------
    exceptions : int
        Number of days the loss exceeded VaR, ``0 <= exceptions <= observations``.
    observations : int
        Number of backtest days (250 in the Basel framework), at least 1.
    confidence : float, default 0.99
        VaR confidence in (0, 1).
    """
    c = check_level(confidence)
    if int(observations) != observations or observations < 1:
        raise InputError("observations", observations, "a whole number of days >= 1")
    if int(exceptions) != exceptions or not 0 <= exceptions <= observations:
        raise InputError("exceptions", exceptions, f"a whole number in [0, {observations}]")
    n, x = int(observations), int(exceptions)
    cumulative = float(stats.binom.cdf(x, n, 1.0 - c))
    if cumulative < GREEN_UPPER:
        return TrafficLight("green", 0.0, cumulative, n, x)
    if cumulative >= YELLOW_UPPER:
        return TrafficLight("red", RED_PLUS_FACTOR, cumulative, n, x)
    nodes, plus = _basel_anchor()
    position = -np.log10(max(1.0 - cumulative, 1e-300))
    # Round to the table's two decimals so float noise at the nodes cannot show.
    plus_factor = round(float(np.interp(position, nodes, plus)), 4)
    return TrafficLight("yellow", plus_factor, cumulative, n, x)


def zone_boundaries(observations: int, confidence: float = 0.99) -> tuple[int, int]:
    """The smallest yellow and the smallest red exception count for a sample.

    At 250 days and 99% these are (5, 10), the Basel 1996 boundaries.
    """
    c = check_level(confidence)
    n = int(observations)
    counts = np.arange(n + 1)
    cdf = stats.binom.cdf(counts, n, 1.0 - c)
    yellow = int(np.argmax(cdf >= GREEN_UPPER)) if np.any(cdf >= GREEN_UPPER) else n + 1
    red = int(np.argmax(cdf >= YELLOW_UPPER)) if np.any(cdf >= YELLOW_UPPER) else n + 1
    return yellow, red
