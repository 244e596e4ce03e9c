"""A zero-coupon yield curve: pillar times and continuously compounded zero rates.

Interpolation is **linear in the zero rate** between pillars and **flat** beyond the first and
last pillar (Hull, *Options, Futures and Other Derivatives*, 10th ed., sec. 4.5 uses linear
interpolation of zero rates). The discount factor to time ``t`` (years) is
:math:`P(0, t) = e^{-z(t) t}`.

Because the interpolation weights of the pillars sum to one at every time, bumping each pillar
in turn (key-rate shifts, Ho 1992) adds up to a parallel shift of the whole curve: the key-rate
durations of a bond sum to its effective duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError

KEY_RATE_TENORS_Y: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0)
"""The key-rate pillars (years) of every zero curve Riskstream keeps: the risk engine's curve
factors and the simulator's daily curve history are both on these tenors (3 months to 30
years, the usual key-rate set of Ho 1992)."""


@dataclass(frozen=True)
class ZeroCurve:
    """Zero rates at pillar times; immutable (bumps return new curves).

    Parameters
    ----------
    times : array_like of shape (n_pillars,)
        Pillar times in years, strictly increasing, > 0.
    zero_rates : array_like of shape (n_pillars,)
        Continuously compounded zero rates at the pillars, annual decimals.
    """

    times: np.ndarray
    zero_rates: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64).ravel()
        rates = np.asarray(self.zero_rates, dtype=np.float64).ravel()
        if times.size == 0 or times.shape != rates.shape:
            raise InputError(
                "zero_rates", rates.tolist(), f"one rate per pillar time ({times.size} times)"
            )
        if not np.all(np.isfinite(times)) or np.any(times <= 0) or np.any(np.diff(times) <= 0):
            raise InputError("times", times.tolist(), "finite, positive, increasing times")
        if not np.all(np.isfinite(rates)):
            raise InputError("zero_rates", rates.tolist(), "finite rates")
        times.flags.writeable = False
        rates.flags.writeable = False
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "zero_rates", rates)

    @classmethod
    def flat(cls, rate: float, times: ArrayLike = (0.5, 1, 2, 3, 5, 7, 10, 20, 30)) -> ZeroCurve:
        """A flat curve at one continuously compounded ``rate`` with the given pillars."""
        times = np.asarray(times, dtype=np.float64)
        return cls(times, np.full(times.shape, float(rate)))

    @property
    def n_pillars(self) -> int:
        """Number of pillars."""
        return int(self.times.size)

    def zero_rate(self, t: ArrayLike) -> np.ndarray:
        """Continuously compounded zero rate to time ``t`` (years), any shape."""
        return np.interp(np.asarray(t, dtype=np.float64), self.times, self.zero_rates)

    def discount(self, t: ArrayLike) -> np.ndarray:
        """Discount factor :math:`e^{-z(t) t}` to time ``t`` (years), any shape."""
        t = np.asarray(t, dtype=np.float64)
        return np.exp(-self.zero_rate(t) * t)

    def shifted(self, shift: ArrayLike) -> ZeroCurve:
        """A new curve with ``shift`` added to the zero rates (a scalar for a parallel shift,
        an array of shape (n_pillars,) for one shift per pillar)."""
        shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), self.zero_rates.shape)
        return ZeroCurve(self.times, self.zero_rates + shift)

    def pillar_shifted(self, pillar: int, shift: float) -> ZeroCurve:
        """A new curve with one pillar's zero rate moved by ``shift`` (a key-rate shift)."""
        bump = np.zeros(self.n_pillars)
        bump[pillar] = shift
        return self.shifted(bump)
