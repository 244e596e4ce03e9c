"""Fixed-rate bullet bonds, vectorised over numpy arrays: price from a yield or a zero curve,
yield from a price, accrued interest, durations, convexity, DV01 and key-rate durations.

Conventions
-----------
- Prices are per 100 of face. A bond pays ``100 c / f`` every ``1/f`` years, counted back from
  maturity, and 100 at maturity (``c`` the annual coupon rate, ``f`` the coupon frequency).
- ``maturity_years`` is the time from settlement to maturity **measured in coupon periods**:
  ``(n - 1 + τ) / f`` with ``n`` coupons left and ``τ`` ∈ (0, 1] the fraction of the current
  period still to run under the bond's day count (see :class:`FixedRateBond`, which computes
  it from dates with 30/360 or ACT/ACT-ICMA). The cash flows fall at ``t_i = (i - 1 + τ)/f``.
- **Accrued interest** is ``100 (c/f) (1 - τ)``; the **dirty** (full) price is what is paid,
  the **clean** price is dirty minus accrued (quoted price).
- A yield ``y`` is compounded at the coupon frequency by default, the street convention
  (Fabozzi, *Bond Markets, Analysis and Strategies*, ch. 2–4):

  .. math:: P = \\sum_i CF_i (1 + y/f)^{-f t_i},

  or continuously (``compounding="continuous"``, Hull ch. 4): :math:`P = \\sum_i CF_i e^{-y t_i}`.
- **Macaulay duration** :math:`D = \\sum_i t_i PV_i / P` (years); **modified duration**
  :math:`D^* = -\\frac{1}{P}\\frac{dP}{dy} = D / (1 + y/f)` (= D when continuous);
  **convexity** :math:`C = \\frac{1}{P}\\frac{d^2P}{dy^2}`; **DV01** :math:`= D^* P \\times
  10^{-4}`, the fall in dirty price per 100 face for a 1 bp rise in yield (positive for a
  long bond).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError
from riskstream.pricing.curves import ZeroCurve

Compounding = Literal["periodic", "continuous"]
_ALIVE = 1e-9  # a cash flow closer than this (years) to settlement has been paid


class BondRisk(NamedTuple):
    """Yield sensitivities of bonds; every field an array of the broadcast shape."""

    dirty_price: np.ndarray  # per 100 face
    macaulay_duration: np.ndarray  # years
    modified_duration: np.ndarray  # years (-(1/P) dP/dy)
    convexity: np.ndarray  # years² ((1/P) d²P/dy²)
    dv01: np.ndarray  # price change per 100 face for -1 bp of yield


def _broadcast(*values: ArrayLike) -> list[np.ndarray]:
    return np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values))


def _cashflows(coupon, maturity_years, frequency):
    """Cash-flow times and amounts on a grid of shape (..., n_max), zero where not alive."""
    c, T, f = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (coupon, maturity_years, frequency))
    )
    if np.any(T <= 0):
        raise InputError("maturity_years", float(T[T <= 0].flat[0]), "a time to maturity > 0")
    if np.any(f <= 0):
        raise InputError("frequency", float(f[f <= 0].flat[0]), "coupons per year > 0")
    n_max = int(np.ceil(np.max(T * f) - _ALIVE)) if T.size else 0
    k = np.arange(max(n_max, 1), dtype=np.float64)  # coupons counted back from maturity
    t = T[..., None] - k / f[..., None]
    alive = t > _ALIVE
    cf = np.where(alive, 100.0 * c[..., None] / f[..., None], 0.0)
    cf[..., 0] += 100.0
    return np.where(alive, t, 0.0), cf, f


def _discount_yield(y, t, f, compounding: Compounding):
    if compounding == "continuous":
        return np.exp(-y[..., None] * t)
    if compounding != "periodic":
        raise InputError("compounding", compounding, "'periodic' or 'continuous'")
    return (1.0 + y[..., None] / f[..., None]) ** (-f[..., None] * t)


def bond_accrued_interest(
    coupon: ArrayLike, maturity_years: ArrayLike, frequency: ArrayLike
) -> np.ndarray:
    """Accrued interest per 100 face, ``100 (c/f)(1 - τ)`` where ``τ`` is the fraction of the
    current coupon period still to run (see the module docstring)."""
    c, T, f = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (coupon, maturity_years, frequency))
    )
    periods = T * f
    tau = periods - np.ceil(periods - _ALIVE) + 1.0  # in (0, 1]
    return 100.0 * c / f * np.clip(1.0 - tau, 0.0, 1.0)


def bond_price_from_yield(
    yield_: ArrayLike,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
    *,
    compounding: Compounding = "periodic",
    clean: bool = False,
) -> np.ndarray:
    """Price per 100 face of fixed-rate bonds at yield ``yield_`` (annual decimal).

    Parameters
    ----------
    yield_ : array_like
        Yield to maturity, compounded ``frequency`` times a year (or continuously).
    coupon : array_like
        Annual coupon rate (decimal, e.g. 0.05).
    maturity_years : array_like
        Time to maturity in years (> 0), in coupon periods as the module docstring says.
    frequency : array_like
        Coupons per year (1, 2, 4, 12).
    compounding : {"periodic", "continuous"}
        How the yield compounds.
    clean : bool
        Return the clean price (dirty minus accrued) instead of the dirty price (default).

    Returns
    -------
    ndarray
        Price per 100 face, of the broadcast shape.
    """
    y, coupon, maturity_years, frequency = _broadcast(yield_, coupon, maturity_years, frequency)
    t, cf, f = _cashflows(coupon, maturity_years, frequency)
    dirty = (cf * _discount_yield(y, t, f, compounding)).sum(axis=-1)
    if clean:
        return dirty - bond_accrued_interest(coupon, maturity_years, frequency)
    return dirty


def bond_risk(
    yield_: ArrayLike,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
    *,
    compounding: Compounding = "periodic",
) -> BondRisk:
    """Dirty price, Macaulay and modified duration, convexity and DV01 at a yield.

    With periodic compounding (Fabozzi ch. 4): :math:`D^* = D/(1+y/f)` and
    :math:`C = \\sum_i t_i (t_i + 1/f) PV_i / [P (1+y/f)^2]`; with continuous compounding
    (Hull sec. 4.8–4.9): :math:`D^* = D`, :math:`C = \\sum_i t_i^2 PV_i / P`.
    Arguments as :func:`bond_price_from_yield`.
    """
    y, coupon, maturity_years, frequency = _broadcast(yield_, coupon, maturity_years, frequency)
    t, cf, f = _cashflows(coupon, maturity_years, frequency)
    pv = cf * _discount_yield(y, t, f, compounding)
    price = pv.sum(axis=-1)
    macaulay = (t * pv).sum(axis=-1) / price
    if compounding == "continuous":
        modified = macaulay
        convexity = (t * t * pv).sum(axis=-1) / price
    else:
        growth = 1.0 + y / f
        modified = macaulay / growth
        convexity = (t * (t + 1.0 / f[..., None]) * pv).sum(axis=-1) / (price * growth**2)
    return BondRisk(price, macaulay, modified, convexity, modified * price * 1e-4)


def bond_yield_from_price(
    price: ArrayLike,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
    *,
    compounding: Compounding = "periodic",
    clean: bool = False,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> np.ndarray:
    """Yield to maturity reproducing ``price`` (dirty, or clean with ``clean=True``).

    Vectorised Newton-Raphson on :math:`P(y) - P_{target}`, started at the coupon rate: the
    price is decreasing and convex in the yield, so once left of the root (after at most one
    step) Newton's iterates increase monotonically to it. Elements not converged after
    ``max_iter`` steps, or with a price that no yield gives (e.g. <= 0), are NaN.
    """
    target, coupon, maturity_years, frequency = _broadcast(price, coupon, maturity_years, frequency)
    if clean:
        target = target + bond_accrued_interest(coupon, maturity_years, frequency)
    t, cf, f = _cashflows(coupon, maturity_years, frequency)
    # Start at the coupon rate. P is convex and decreasing in y, so after at most one step
    # (which lands left of the root) the iterates climb monotonically to it.
    y = np.broadcast_to(np.asarray(coupon, dtype=np.float64), f.shape).copy()
    converged = np.zeros(f.shape, dtype=bool)
    for _ in range(max_iter):
        with np.errstate(all="ignore"):  # elements with no root diverge; they end as NaN
            pv = cf * _discount_yield(y, t, f, compounding)
            p = pv.sum(axis=-1)
            if compounding == "continuous":
                dp = -(t * pv).sum(axis=-1)
            else:
                dp = -(t * pv).sum(axis=-1) / (1.0 + y / f)
            step = (p - target) / dp
        y = np.where(converged, y, y - step)
        if compounding == "periodic":
            y = np.maximum(y, -0.99 * f)  # keep 1 + y/f > 0
        converged |= np.abs(step) < tol
        if converged.all():
            break
    bad = ~converged | ~(target > 0)
    return np.where(bad, np.nan, y)


def bond_price_from_curve(
    curve: ZeroCurve, coupon: ArrayLike, maturity_years: ArrayLike, frequency: ArrayLike
) -> np.ndarray:
    """Dirty price per 100 face, each cash flow discounted on the zero curve:
    :math:`P = \\sum_i CF_i e^{-z(t_i) t_i}` (Hull sec. 4.4)."""
    t, cf, _ = _cashflows(coupon, maturity_years, frequency)
    return (cf * curve.discount(t)).sum(axis=-1)


def key_rate_durations(
    curve: ZeroCurve,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
    *,
    bump: float = 1e-4,
) -> np.ndarray:
    """Key-rate durations: the duration to each pillar of the zero curve (Ho 1992).

    :math:`KRD_k = -[P(z + h e_k) - P(z - h e_k)] / (2 h P)`, in years, with ``h = bump``
    moving pillar ``k``'s zero rate alone (the interpolation spreads it over neighbouring
    times). Multiply by ``P * 1e-4`` for the key-rate DV01s. Since the pillar weights sum to
    one, the key-rate durations sum to the effective duration of a parallel shift.

    Returns
    -------
    ndarray of shape (..., n_pillars)
    """
    t, cf, _ = _cashflows(coupon, maturity_years, frequency)
    price = (cf * curve.discount(t)).sum(axis=-1)
    out = np.empty((*price.shape, curve.n_pillars))
    for k in range(curve.n_pillars):
        up = (cf * curve.pillar_shifted(k, bump).discount(t)).sum(axis=-1)
        down = (cf * curve.pillar_shifted(k, -bump).discount(t)).sum(axis=-1)
        out[..., k] = -(up - down) / (2.0 * bump * price)
    return out


def effective_duration(
    curve: ZeroCurve,
    coupon: ArrayLike,
    maturity_years: ArrayLike,
    frequency: ArrayLike,
    *,
    bump: float = 1e-4,
) -> np.ndarray:
    """Duration to a parallel shift of the zero curve, :math:`-[P(z+h) - P(z-h)]/(2hP)`."""
    t, cf, _ = _cashflows(coupon, maturity_years, frequency)
    price = (cf * curve.discount(t)).sum(axis=-1)
    up = (cf * curve.shifted(bump).discount(t)).sum(axis=-1)
    down = (cf * curve.shifted(-bump).discount(t)).sum(axis=-1)
    return -(up - down) / (2.0 * bump * price)


# --- dated bonds: schedule, day count, settlement ---------------------------------------

DayCount = Literal["30/360", "ACT/ACT-ICMA"]


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months; the day of month is clipped to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last_day))


def days_30_360(start: dt.date, end: dt.date) -> int:
    """Days between two dates under 30/360 US bond basis (ISDA 2006, 4.16(f)): a day 31 of
    the start becomes 30; a day 31 of the end becomes 30 when the start's day is 30 or 31."""
    d1 = min(start.day, 30)
    d2 = end.day
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


@dataclass(frozen=True)
class FixedRateBond:
    """A dated fixed-rate bullet bond with a regular coupon schedule.

    Coupon dates step back from ``maturity`` by ``12 / frequency`` months, unadjusted for
    holidays (day of month clipped to the month's end). The fraction ``τ`` of the current
    period still to run is measured by the day count:

    - ``"30/360"`` (US corporate and agency bonds): ``τ = days30/360(settle, next) /
      days30/360(previous, next)``;
    - ``"ACT/ACT-ICMA"`` (government bonds; ICMA rule 251): ``τ = actual days(settle, next) /
      actual days(previous, next)``.

    Accrued interest is ``face (c/f)(1 - τ)`` and the cash flows fall at ``(i - 1 + τ)/f``
    years, so every price and risk figure is the time-based function of this module evaluated
    at :meth:`maturity_years`.

    Parameters
    ----------
    maturity : date
    coupon : float
        Annual coupon rate, decimal.
    frequency : int
        Coupons per year: 1, 2, 4 or 12.
    day_count : {"30/360", "ACT/ACT-ICMA"}
    """

    maturity: dt.date
    coupon: float
    frequency: int = 2
    day_count: DayCount = "30/360"

    def __post_init__(self) -> None:
        if self.frequency not in (1, 2, 4, 12):
            raise InputError("frequency", self.frequency, "1, 2, 4 or 12 coupons a year")
        if self.day_count not in ("30/360", "ACT/ACT-ICMA"):
            raise InputError("day_count", self.day_count, "'30/360' or 'ACT/ACT-ICMA'")
        if not (self.coupon >= 0 and np.isfinite(self.coupon)):
            raise InputError("coupon", self.coupon, "an annual coupon rate >= 0")

    def coupon_period(self, settlement: dt.date) -> tuple[dt.date, dt.date, int]:
        """The previous and next coupon dates around ``settlement`` and the number of coupons
        left (the coupon on ``settlement`` itself counts as paid)."""
        if settlement >= self.maturity:
            raise InputError("settlement", settlement.isoformat(), "a date before maturity")
        step = 12 // self.frequency
        k = 1
        while _add_months(self.maturity, -k * step) > settlement:
            k += 1
        return _add_months(self.maturity, -k * step), _add_months(self.maturity, -(k - 1) * step), k

    def period_fraction_remaining(self, settlement: dt.date) -> float:
        """``τ`` ∈ (0, 1]: the share of the current coupon period after ``settlement``."""
        previous, next_, _ = self.coupon_period(settlement)
        if self.day_count == "30/360":
            return days_30_360(settlement, next_) / days_30_360(previous, next_)
        return (next_ - settlement).days / (next_ - previous).days

    def maturity_years(self, settlement: dt.date) -> float:
        """Time to maturity in years as the time-based functions use it: ``(n - 1 + τ)/f``."""
        _, _, n = self.coupon_period(settlement)
        return (n - 1 + self.period_fraction_remaining(settlement)) / self.frequency

    def accrued_interest(self, settlement: dt.date) -> float:
        """Accrued interest per 100 face at ``settlement``."""
        tau = self.period_fraction_remaining(settlement)
        return 100.0 * self.coupon / self.frequency * (1.0 - tau)

    def dirty_price(self, settlement: dt.date, yield_: ArrayLike) -> np.ndarray:
        """Dirty price per 100 face at a yield compounded ``frequency`` times a year."""
        return bond_price_from_yield(
            yield_, self.coupon, self.maturity_years(settlement), self.frequency
        )

    def clean_price(self, settlement: dt.date, yield_: ArrayLike) -> np.ndarray:
        """Clean (quoted) price per 100 face: dirty price minus accrued interest."""
        return self.dirty_price(settlement, yield_) - self.accrued_interest(settlement)

    def yield_from_clean_price(self, settlement: dt.date, clean_price: ArrayLike) -> np.ndarray:
        """Yield (compounded ``frequency`` times a year) from a clean price."""
        dirty = np.asarray(clean_price, dtype=np.float64) + self.accrued_interest(settlement)
        return bond_yield_from_price(
            dirty, self.coupon, self.maturity_years(settlement), self.frequency
        )

    def risk(self, settlement: dt.date, yield_: ArrayLike) -> BondRisk:
        """Dirty price, durations, convexity and DV01 at a yield (see :func:`bond_risk`)."""
        return bond_risk(yield_, self.coupon, self.maturity_years(settlement), self.frequency)
