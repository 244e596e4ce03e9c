"""How often a drawdown stop-loss fires on an ordinary day: the Brownian law of the maximum
drawdown.

A stop-loss limit (``LimitType.DRAWDOWN``) fires when the P&L falls ``h`` from its running
peak (the peak starts at zero, at the start of the day). For a driftless Brownian P&L
``X_t = sigma W_t`` the drawdown ``M_t - X_t`` (``M`` the running maximum) has, as a
process, the law of ``sigma |W_t|`` (Lévy's theorem: Karatzas & Shreve, *Brownian Motion
and Stochastic Calculus*, 3.6.B, Theorem 6.17). So the stop fires within ``T`` exactly when
``|W|`` leaves ``(-h/sigma, h/sigma)`` before ``T``, whose probability has the classical
series (Feller, *An Introduction to Probability Theory and Its Applications* II, X.5;
Borodin & Salminen, *Handbook of Brownian Motion*, 1.1.15)::

    P(max drawdown over T < h) = (4/pi) sum_k (-1)^k / (2k+1) exp(-(2k+1)^2 pi^2 / (8 x^2)),
    x = h / (sigma sqrt(T)).

It depends on ``x`` only: a drawdown rule does *not* scale linearly with the time watched.
At the reference stop-loss, ``h = 0.5 x`` the day's 99% one-day VaR ``= 0.5 x 2.326 sigma_d``,
so ``x = 1.163`` over a day whose P&L sd is the VaR's: the stop fires on 49% of such days;
over a 30-minute window of it (``x = 1.163 sqrt(13) = 4.19``) on 0.04% — a window's trigger
count times 13 is no estimate of a day's.
"""

from __future__ import annotations

import math

import numpy as np

from riskstream.core.errors import InputError


def drawdown_exceedance(x: float | np.ndarray, terms: int = 50) -> float | np.ndarray:
    """P(the maximum drawdown of a driftless Brownian motion over ``T`` reaches ``h``), for
    ``x = h / (sigma sqrt(T))`` (scalar or array; ``x <= 0``: 1).

    The series converges fast for ``x`` up to a few (the terms fall as
    ``exp(-(2k+1)^2 pi^2 / 8x^2)``); for ``x < 0.1`` the probability is 1 to machine
    precision and is returned as such.
    """
    arr = np.asarray(x, dtype=np.float64)
    if np.isnan(arr).any():
        raise InputError("x", x, "h / (sigma sqrt(T)), a number (not NaN)")
    out = np.ones_like(arr)
    live = arr >= 0.1
    if live.any():
        xs = arr[live]
        k = np.arange(terms)[:, None]
        odd = 2 * k + 1
        series = ((-1.0) ** k / odd * np.exp(-(odd**2) * math.pi**2 / (8.0 * xs**2))).sum(0)
        out[live] = np.clip(1.0 - 4.0 / math.pi * series, 0.0, 1.0)
    return float(out) if np.ndim(x) == 0 else out


def realised_sd(times_s: np.ndarray, values: np.ndarray, horizon_s: float) -> float:
    """The sd over ``horizon_s`` of a P&L path sampled at ``times_s`` (seconds, ascending):
    realised variance per second (sum of squared increments over the time they span) scaled
    to the horizon — the ``sigma sqrt(T)`` of :func:`drawdown_exceedance` for a P&L whose
    variance grows linearly in time.

    Raises
    ------
    InputError
        Fewer than two samples, or no time between the first and the last.
    """
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if len(t) < 2 or len(v) != len(t) or not t[-1] > t[0]:
        raise InputError("samples", len(t), "at least two (time, value) samples over time > 0")
    per_s = float((np.diff(v) ** 2).sum() / (t[-1] - t[0]))
    return math.sqrt(per_s * horizon_s)
