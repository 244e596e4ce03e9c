"""How often the emergency policy's stop-loss fires on ordinary days: bounded by the
Brownian drawdown law, and that law checked against published results.

The firm stop-loss of the reference limits (``riskstream.limits.stage.reference_limits``)
is a drawdown limit hard at ``m`` x the day's 99% one-day VaR (``m`` =
``LimitsConfig().stop_loss_var_multiple``). On a calm day whose P&L has a daily sd of at
most the one the VaR assumes (``sigma_d = VaR / z_0.99``; a calm day is not more volatile
than the unconditional law VaR is fitted on), the P&L is at most as rough as ``sigma_d W``,
and the stop fires when the drawdown reaches ``h = m z_0.99 sigma_d``. By Lévy's theorem
the drawdown of ``W`` is ``|W|`` in law, so the probability is
``drawdown_exceedance(m z_0.99)`` (:mod:`riskstream.limits.drawdown`): 0.489 at the default
m = 0.5. That is the bound these tests hold the policy to — and also why a stop-loss at
half a day's VaR fires on about half of the days that are exactly as volatile as VaR says.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from riskstream.limits.config import LimitsConfig
from riskstream.limits.drawdown import drawdown_exceedance, realised_sd
from riskstream.limits.model import LimitType
from riskstream.limits.monitor import BREACH, LimitMonitor
from riskstream.limits.stage import reference_limits

from .helpers import frame

Z99 = float(norm.ppf(0.99))


def test_expected_drawdown_matches_magdon_ismail() -> None:
    # Magdon-Ismail, Atiya, Pratap & Abu-Mostafa (2004), "On the maximum drawdown of a
    # Brownian motion", J. Appl. Prob. 41(1), for zero drift: E[MDD over T] =
    # sqrt(pi/2) sigma sqrt(T) = 1.2533 sigma sqrt(T). E[D] = integral of P(D >= h) dh, so
    # integrating the law over h must give it. Quadrature on a 1e-3 grid to x = 8 (the
    # tail beyond is below 1e-13): error ~1e-6; tolerance 1e-4.
    x = np.linspace(0.0, 8.0, 8001)
    mean = np.trapezoid(drawdown_exceedance(x), x)
    assert abs(mean - math.sqrt(math.pi / 2.0)) < 1e-4


def test_drawdown_law_matches_a_simulated_brownian_motion() -> None:
    # An independent computation: 4,000 seeded random walks of 4,000 steps, the drawdown
    # from the running peak (starting at 0) in plain numpy. Discrete monitoring misses
    # crossings between steps, so the simulated rate is below the continuous law by about
    # the Broadie-Glasserman-Kou barrier shift (0.5826 sqrt(1/n) = 0.009 in x: -0.006 in
    # probability here); binomial sd at p ~ 0.5 is 0.008. Band: continuous law minus
    # 0.006, +/- 3 sd (0.025).
    rng = np.random.default_rng(20260504)
    n_paths, n_steps = 4000, 4000
    peak = np.zeros(n_paths)
    w = np.zeros(n_paths)
    worst = np.zeros(n_paths)
    for _ in range(n_steps):
        w += rng.standard_normal(n_paths) / math.sqrt(n_steps)
        np.maximum(peak, w, out=peak)
        np.maximum(worst, peak - w, out=worst)
    for x in (0.8, 1.163, 1.6):
        simulated = float((worst >= x).mean())
        assert abs(simulated - (drawdown_exceedance(x) - 0.006)) < 0.025, x


def test_window_scaling_is_not_linear() -> None:
    # The reason the flash-crash bench does not multiply a 30-minute window's triggers by
    # 13: at the default stop-loss the day's probability is 0.489 (Feller's series at
    # x = 1.163), a window's 5.5e-5 — 13 windows give 7e-4, 700 times too few.
    day = drawdown_exceedance(0.5 * Z99)
    window = drawdown_exceedance(0.5 * Z99 * math.sqrt(13.0))
    assert abs(day - 0.4887) < 1e-3
    assert 13 * window < day / 100


def test_realised_sd_of_a_brownian_path() -> None:
    # sd over T from the realised variance of a sampled random walk: relative error of a
    # variance estimate from n increments is sqrt(2/n) = 1.4% at n = 10,000 (sd: 0.7%);
    # tolerance 3 sd of the sd, 2.2%.
    rng = np.random.default_rng(5)
    t = np.arange(10_001) * 0.5  # every 0.5 s
    v = np.concatenate([[0.0], np.cumsum(rng.standard_normal(10_000) * 3.0 * math.sqrt(0.5))])
    assert abs(realised_sd(t, v, 23_400.0) / (3.0 * math.sqrt(23_400.0)) - 1.0) < 0.022


def test_policy_stop_loss_fires_on_calm_days_no_more_than_the_drawdown_law() -> None:
    # 120 seeded calm days of a Brownian P&L with daily sd sigma_d = VaR / z_0.99, each
    # checked at 78 snapshots (every 5 minutes of a 6.5 h session), through the policy's
    # own monitor and reference limits. Each day starts a fresh monitor (the stop-loss's
    # peak is the day's). The days the hard stop-loss breached must be exactly the days
    # an independent numpy drawdown of the same samples reaches the limit, and their
    # share at most the continuous law (discrete checks can only miss a crossing: the
    # drawdown at check times is at most the path's) plus 3 binomial sd (0.046 at p 0.49,
    # 120 days): a monitor firing spuriously (a peak reset, a drawdown not from the peak)
    # breaks it. The law at the default multiple is 0.489: the reference stop-loss fires on
    # at most about half of the calm days as volatile as VaR assumes.
    var, gross, sigma_d = 1_000_000.0, 50_000_000.0, 1_000_000.0 / Z99
    multiple = LimitsConfig().stop_loss_var_multiple
    book = frame([20e6, 20e6, 10e6], ["A", "A", "B"])
    limits = reference_limits(book, var, gross, stop_loss_var=multiple)
    stop = next(lim for lim in limits if lim.limit_type is LimitType.DRAWDOWN)
    assert math.isclose(stop.hard, multiple * var)
    law = drawdown_exceedance(stop.hard / sigma_d)
    assert law < 0.5  # the default fires on fewer than half of such days (0.489)

    rng = np.random.default_rng(11)
    days, checks = 120, 78
    paths = np.cumsum(rng.standard_normal((days, checks)) * sigma_d / math.sqrt(checks), axis=1)
    fired = np.zeros(days, dtype=bool)
    for d in range(days):
        monitor = LimitMonitor(limits)
        row = [lim.limit_id for lim in monitor.limits_].index(stop.limit_id)
        for pnl in paths[d]:
            # the whole day's P&L on the first position (the firm scope sums them)
            result = monitor.check(frame([20e6, 20e6, 10e6], ["A", "A", "B"],
                                         pnl=[pnl, 0.0, 0.0]))  # fmt: skip
            if result.state[row] == BREACH:
                fired[d] = True
                break
    peaks = np.maximum.accumulate(np.maximum(paths, 0.0), axis=1)
    independent = (peaks - paths).max(axis=1) >= stop.hard
    np.testing.assert_array_equal(fired, independent)
    assert fired.mean() <= law + 3.0 * math.sqrt(law * (1.0 - law) / days)
    # and not trivially zero: at 78 checks the discrete law is about G(1.163 + 0.5826 /
    # sqrt(78)) = 0.45 (Broadie-Glasserman-Kou shift); 0.3 is more than 3 sd below it
    assert fired.mean() > 0.3
