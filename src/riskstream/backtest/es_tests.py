"""Backtests of Expected Shortfall: Acerbi-Székely Z1 and Z2, and FRTB exception counts.

Sign convention: ``pnl`` :math:`X_t` is the day's profit (a loss is negative); ``var`` and
``es`` are the forecasts made the day before as positive loss amounts at tail probability
:math:`\\alpha = 1 - c`. A hit is :math:`I_t = 1\\{X_t + \\mathrm{VaR}_t < 0\\}`.

Acerbi & Székely (2014) test statistics, both with expectation 0 under a correct model and
negative when risk is underestimated:

.. math::
    Z_1 = \\frac{1}{N_T} \\sum_t \\frac{X_t I_t}{\\mathrm{ES}_t} + 1 \\quad (N_T = \\sum_t I_t > 0),
    \\qquad
    Z_2 = \\sum_t \\frac{X_t I_t}{T \\alpha \\, \\mathrm{ES}_t} + 1.

Z1 tests the size of the losses given a VaR exception (it is insensitive to the number of
exceptions); Z2 tests ES unconditionally (number and size together). Their distribution
depends on the forecast distributions, so p-values and critical values are simulated under
the null: each day's loss is drawn from that day's predicted distribution. Only the tail
matters (:math:`X_t I_t = 0` outside it), so the null is described by each day's *tail
quantile grid* — the predicted quantiles :math:`Q_t(u_k)` at
:math:`u_k = \\alpha (k + 1/2)/K` — and a null day is a hit with probability
:math:`\\alpha`, its loss then one of the :math:`K` equiprobable tail atoms.

References
----------
Acerbi, C. and Székely, B. (2014). Backtesting expected shortfall. *Risk*, December 2014
(MSCI working paper). Basel Committee (2019). *Minimum capital requirements for market
risk* (FRTB), MAR32 (backtesting and P&L attribution requirements).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from riskstream.backtest.inputs import check_aligned, check_level, check_series
from riskstream.backtest.traffic_light import TrafficLight, traffic_light
from riskstream.core.errors import InputError


def tail_levels(confidence: float, n_levels: int = 64) -> np.ndarray:
    """Mid-point tail probabilities :math:`u_k = \\alpha (k + 1/2) / K`, shape (K,)."""
    alpha = 1.0 - check_level(confidence)
    return alpha * (np.arange(n_levels) + 0.5) / n_levels


def empirical_tail_quantiles(
    scenarios: ArrayLike, confidence: float, n_levels: int = 64
) -> np.ndarray:
    """Tail quantile grid of scenario P&L distributions.

    Parameters
    ----------
    scenarios : array_like of shape (n_days, n_scenarios)
        Each day's predicted P&L scenarios (profit positive).

    Returns
    -------
    ndarray of shape (n_days, n_levels)
        :math:`Q_t(u_k)` at :func:`tail_levels`, linear interpolation between order
        statistics.
    """
    scen = np.asarray(scenarios, dtype=np.float64)
    return np.quantile(scen, tail_levels(confidence, n_levels), axis=1).T


def simulate_tail_null(
    tail_quantiles: ArrayLike, confidence: float, n_simulations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate hits and tail P&L under the null from tail quantile grids.

    Parameters
    ----------
    tail_quantiles : array_like of shape (n_days, K)
        Each day's predicted quantiles at :func:`tail_levels` (``K`` levels).
    confidence : float
        VaR/ES confidence :math:`c`; a null day is a hit with probability :math:`1 - c`.
    n_simulations : int
        Number of simulated backtest samples.
    seed : int
        Seed of the generator (same seed, same draws).

    Returns
    -------
    hits : ndarray of bool, shape (n_simulations, n_days)
    tail_pnl : ndarray of shape (n_simulations, n_days)
        :math:`X_t I_t`: the drawn tail atom on hit days, 0 elsewhere.
    """
    q = np.asarray(tail_quantiles, dtype=np.float64)
    alpha = 1.0 - check_level(confidence)
    rng = np.random.default_rng(seed)
    n_days, k = q.shape
    hits = rng.random((n_simulations, n_days)) < alpha
    atom = rng.integers(0, k, size=(n_simulations, n_days))
    tail_pnl = np.where(hits, q[np.arange(n_days)[None, :], atom], 0.0)
    return hits, tail_pnl


def _z1(hits: np.ndarray, tail_pnl: np.ndarray, es: np.ndarray) -> np.ndarray:
    n_hits = hits.sum(axis=-1)
    total = np.sum(tail_pnl / es, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_hits > 0, total / np.maximum(n_hits, 1) + 1.0, np.nan)


def _z2(tail_pnl: np.ndarray, es: np.ndarray, alpha: float) -> np.ndarray:
    n_days = tail_pnl.shape[-1]
    return np.sum(tail_pnl / es, axis=-1) / (n_days * alpha) + 1.0


@dataclass(frozen=True)
class ZTest:
    """One Acerbi-Székely statistic with its simulated null distribution.

    Attributes
    ----------
    z : float
        The observed statistic (NaN for Z1 without any exception).
    p_value : float
        :math:`(1 + \\#\\{Z_{sim} \\le z\\}) / (1 + n_{sim})`; small values reject (risk
        underestimated). NaN when ``z`` is NaN.
    critical_value_5pct, critical_value_001pct : float
        The simulated 5% and 0.01% quantiles of the null distribution (Acerbi & Székely's
        yellow and red thresholds). The 0.01% quantile needs at least 10,000 simulations
        to be estimated at all and is NaN below that.
    """

    z: float
    p_value: float
    critical_value_5pct: float
    critical_value_001pct: float

    def as_dict(self) -> dict[str, float | None]:
        """JSON-friendly dict (NaN as ``None``)."""
        return {key: (float(v) if np.isfinite(v) else None) for key, v in self.__dict__.items()}


def _ztest(observed: float, simulated: np.ndarray) -> ZTest:
    simulated = simulated[np.isfinite(simulated)]
    if simulated.size == 0:
        return ZTest(float(observed), float("nan"), float("nan"), float("nan"))
    p = (1.0 + np.sum(simulated <= observed)) / (1.0 + simulated.size)
    return ZTest(
        z=float(observed),
        p_value=float(p) if np.isfinite(observed) else float("nan"),
        critical_value_5pct=float(np.quantile(simulated, 0.05)),
        critical_value_001pct=(
            float(np.quantile(simulated, 0.0001)) if simulated.size >= 10_000 else float("nan")
        ),
    )


@dataclass(frozen=True)
class AcerbiSzekely:
    """Acerbi-Székely ES backtest: Z1 (conditional) and Z2 (unconditional)."""

    z1: ZTest
    z2: ZTest
    observations: int
    exceptions: int

    def as_dict(self) -> dict[str, object]:
        return {"z1": self.z1.as_dict(), "z2": self.z2.as_dict()}


def _check_es_inputs(pnl, var, es, confidence):
    x = check_series(pnl, "pnl")
    v = check_series(var, "var")
    e = check_series(es, "es")
    check_aligned(pnl=x, var=v, es=e)
    if np.any(e <= 0):
        row = int(np.flatnonzero(e <= 0)[0])
        raise InputError("es", float(e[row]), "a positive loss amount", f"row {row}")
    return x, v, e, 1.0 - check_level(confidence)


def acerbi_szekely(
    pnl: ArrayLike,
    var: ArrayLike,
    es: ArrayLike,
    confidence: float,
    tail_quantiles: ArrayLike,
    n_simulations: int = 5000,
    seed: int = 0,
) -> AcerbiSzekely:
    """Acerbi-Székely Z1 and Z2 with p-values and critical values simulated under the null.

    Parameters
    ----------
    pnl : array_like of shape (n_days,)
        Realised P&L, profit positive.
    var, es : array_like of shape (n_days,)
        Forecast VaR and ES (positive losses) at ``confidence``, made the day before.
    confidence : float
        ES/VaR confidence :math:`c` (0.975 for FRTB ES).
    tail_quantiles : array_like of shape (n_days, K)
        The same forecasts' tail quantile grids (see :func:`tail_levels`,
        :func:`empirical_tail_quantiles`) from which the null is simulated.
    n_simulations : int, default 5000
    seed : int, default 0
    """
    x, v, e, alpha = _check_es_inputs(pnl, var, es, confidence)
    q = np.asarray(tail_quantiles, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != x.size:
        raise InputError(
            "tail_quantiles", f"array of shape {q.shape}", f"shape ({x.size}, K): one row per day"
        )
    hits = x + v < 0.0
    tail = np.where(hits, x, 0.0)
    sim_hits, sim_tail = simulate_tail_null(q, 1.0 - alpha, n_simulations, seed)
    return AcerbiSzekely(
        z1=_ztest(float(_z1(hits, tail, e)), _z1(sim_hits, sim_tail, e)),
        z2=_ztest(float(_z2(tail, e, alpha)), _z2(sim_tail, e, alpha)),
        observations=int(x.size),
        exceptions=int(hits.sum()),
    )


@dataclass(frozen=True)
class FRTBExceptions:
    """FRTB desk-level backtesting: VaR exceptions at 99% and 97.5% over the sample.

    MAR32.5: a trading desk stays eligible for the internal models approach while, over the
    most recent 250 days, it has at most 12 exceptions of its 99% VaR and at most 30 of its
    97.5% VaR. For samples of other length the limits here scale with the number of days
    (12/250 and 30/250 per day, rounded down), and each count also gets its traffic light.
    """

    observations: int
    exceptions_99: int
    exceptions_975: int
    limit_99: int
    limit_975: int
    traffic_light_99: TrafficLight
    traffic_light_975: TrafficLight

    @property
    def eligible(self) -> bool:
        """Whether both counts are within their limits."""
        return self.exceptions_99 <= self.limit_99 and self.exceptions_975 <= self.limit_975

    def as_dict(self) -> dict[str, object]:
        return {
            "observations": self.observations,
            "exceptions_99": self.exceptions_99,
            "exceptions_975": self.exceptions_975,
            "limit_99": self.limit_99,
            "limit_975": self.limit_975,
            "eligible": self.eligible,
            "traffic_light_99": self.traffic_light_99.as_dict(),
            "traffic_light_975": self.traffic_light_975.as_dict(),
        }


FRTB_LIMIT_99 = 12  # MAR32.5: exceptions of 99% VaR allowed in 250 days
FRTB_LIMIT_975 = 30  # MAR32.5: exceptions of 97.5% VaR allowed in 250 days


def frtb_exception_counts(pnl: ArrayLike, var_99: ArrayLike, var_975: ArrayLike) -> FRTBExceptions:
    """Count FRTB backtesting exceptions of the 99% and 97.5% VaR (MAR32.5).

    Parameters
    ----------
    pnl : array_like of shape (n_days,)
        Realised P&L (actual or hypothetical), profit positive.
    var_99, var_975 : array_like of shape (n_days,)
        One-day VaR at 99% and 97.5% as positive losses.
    """
    x = check_series(pnl, "pnl")
    v99 = check_series(var_99, "var_99")
    v975 = check_series(var_975, "var_975")
    n = check_aligned(pnl=x, var_99=v99, var_975=v975)
    e99 = int(np.sum(x + v99 < 0))
    e975 = int(np.sum(x + v975 < 0))
    return FRTBExceptions(
        observations=n,
        exceptions_99=e99,
        exceptions_975=e975,
        limit_99=FRTB_LIMIT_99 * n // 250,
        limit_975=FRTB_LIMIT_975 * n // 250,
        traffic_light_99=traffic_light(e99, n, 0.99),
        traffic_light_975=traffic_light(e975, n, 0.975),
    )
