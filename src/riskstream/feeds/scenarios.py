"""Named market scenarios the simulator can inject: a timed sequence of phases, each moving
the global market factor along a path, setting liquidity, and forcing a regime.

A scenario is data, not code: :class:`Scenario` is a start time plus :class:`Phase` rows, and
:data:`SCENARIOS` maps each name to the function that builds one from the simulator's
configuration. The market model reads it through :meth:`Scenario.state` each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from riskstream.core.errors import InputError
from riskstream.feeds.config import SimulatorConfig


@dataclass(frozen=True)
class Phase:
    """One phase of a scenario.

    Attributes
    ----------
    name : str
        Label recorded in the scenario log (``fall``, ``trough``, ``recovery``).
    duration_s : float
        Simulated seconds.
    market_move : float
        Log move of the global market factor over the phase, on a smooth S-shaped path
        (:math:`3f^2 - 2f^3` of the elapsed fraction :math:`f`).
    spread_mult, depth_mult : tuple of float
        Liquidity at the phase's start and end (linear in between); while a phase runs they
        replace the regime's multipliers.
    regime : int or None
        Regime forced while the phase runs (None: the Markov chain runs).
    dislocation_move : float
        Log move, on the same path, of the scenario's dislocated instruments on top of the
        market (:attr:`Scenario.dislocated_share`): prices that leave their fair relation to
        the market, as ETFs did on 24 August 2015.
    """

    name: str
    duration_s: float
    market_move: float
    spread_mult: tuple[float, float]
    depth_mult: tuple[float, float]
    regime: int | None
    dislocation_move: float = 0.0


@dataclass(frozen=True)
class ScenarioState:
    """What a scenario imposes at one instant (``phase`` is -1 outside every phase)."""

    phase: int
    market_offset: float  # cumulative log move of the market factor so far
    spread_mult: float
    depth_mult: float
    regime: int | None
    dislocation_offset: float = 0.0  # cumulative log move of the dislocated instruments


@dataclass(frozen=True)
class Scenario:
    """A named scenario: ``phases`` run back to back from ``start_s`` after the start.

    ``dislocated_share``: the share of equities, the least traded first (lowest ADV), that
    follow the phases' ``dislocation_move`` on top of the market.
    """

    name: str
    start_s: float
    phases: tuple[Phase, ...]
    dislocated_share: float = 0.0

    def phase_bounds(self) -> list[tuple[float, float]]:
        """(start, end) of each phase in seconds after the simulation start."""
        bounds, t = [], self.start_s
        for phase in self.phases:
            bounds.append((t, t + phase.duration_s))
            t += phase.duration_s
        return bounds

    def state(self, elapsed_s: float) -> ScenarioState:
        """The scenario's effect ``elapsed_s`` simulated seconds after the start."""
        offset = dislocation = 0.0
        for k, ((start, end), phase) in enumerate(
            zip(self.phase_bounds(), self.phases, strict=True)
        ):
            if elapsed_s < start:
                break
            if elapsed_s >= end:
                offset += phase.market_move
                dislocation += phase.dislocation_move
                continue
            f = (elapsed_s - start) / phase.duration_s
            path = f * f * (3.0 - 2.0 * f)
            return ScenarioState(
                phase=k,
                market_offset=offset + phase.market_move * path,
                spread_mult=phase.spread_mult[0]
                + f * (phase.spread_mult[1] - phase.spread_mult[0]),
                depth_mult=phase.depth_mult[0] + f * (phase.depth_mult[1] - phase.depth_mult[0]),
                regime=phase.regime,
                dislocation_offset=dislocation + phase.dislocation_move * path,
            )
        return ScenarioState(-1, offset, 1.0, 1.0, None, dislocation)


def flash_crash(config: SimulatorConfig) -> Scenario:
    """A flash crash (``config.flash_crash``): the market factor falls by ``drop`` over
    ``fall_s`` while spreads widen to ``spread_mult`` times normal and depth thins to
    ``1 / depth_divisor`` (crisis regime), holds at the trough, then wins back
    ``recovery_fraction`` of the fall as liquidity returns (volatile regime)."""
    fc = config.flash_crash
    fall = math.log(1.0 - fc.drop)
    thin = 1.0 / fc.depth_divisor
    return Scenario(
        name="flash-crash",
        start_s=fc.at_s,
        phases=(
            Phase("fall", fc.fall_s, fall, (2.0, fc.spread_mult), (0.5, thin), 2),
            Phase("trough", fc.trough_s, 0.0, (fc.spread_mult, fc.spread_mult), (thin, thin), 2),
            Phase(
                "recovery",
                fc.recovery_s,
                -fall * fc.recovery_fraction,
                (fc.spread_mult, 2.0),
                (thin, 0.5),
                1,
            ),
        ),
    )


# ------------------------------------------------------------------ historical crash shapes
#
# The market factor's path, minute by minute, of three days, and the liquidity of each phase.
# No phase forces a regime: the regime chain runs on, independent of the scripted path, and a
# detector can only see the crash in the prices and books it produces. Each crash starts
# ``at_s`` after the simulation start, and the first phase moves prices from that instant
# (the S-shaped path of each phase is monotone, so prices are already lower one step later).


def may_2010(at_s: float = 120.0) -> Scenario:
    """The Flash Crash of 6 May 2010, from 14:32 New York time.

    Source: CFTC-SEC staff, *Findings Regarding the Market Events of May 6, 2010* (30
    September 2010), pp. 1-6 and 15-24: from 14:32 the E-mini S&P 500 slid, then from 14:41
    to 14:44:27 fell more than 3% in about three minutes; the DJIA was down 998.5 points
    (about 9% from the previous close) at the 14:45:28 trough, when CME Stop Logic paused the
    E-mini for 5 seconds; "most of the decline" came back by about 15:00 and the DJIA had
    regained most of the fall by 15:07. Depth: E-mini buy-side resting depth fell to about 1%
    of its morning level at the trough (p. 3) — here a tenth, the simulator's books being far
    thinner than the E-mini's to start with; spreads widened as stub quotes were hit.

    Phases: slide 9 min (-2.5%), plunge 3.5 min (-6.5%), trough 1 min, rebound 6 min (+5%),
    recovery 15 min (+2%): -9% at the trough, 7 of the 9 points back 21 minutes later.
    """
    return Scenario(
        name="may-2010",
        start_s=at_s,
        phases=(
            Phase("slide", 540.0, math.log(0.975), (1.0, 2.0), (1.0, 0.5), None),
            Phase("plunge", 210.0, math.log(0.91 / 0.975), (2.0, 8.0), (0.5, 0.1), None),
            Phase("trough", 60.0, 0.0, (8.0, 8.0), (0.1, 0.1), None),
            Phase("rebound", 360.0, math.log(0.96 / 0.91), (8.0, 3.0), (0.1, 0.4), None),
            Phase("recovery", 900.0, math.log(0.98 / 0.96), (3.0, 1.5), (0.4, 0.8), None),
        ),
    )


def august_2015(at_s: float = 60.0) -> Scenario:
    """The open of 24 August 2015: index futures limit down before the open, a fast fall in
    the first minutes with exchange-traded funds dislocated far below their holdings.

    Source: SEC staff, *Research Note: Equity Market Volatility on August 24, 2015*
    (December 2015), pp. 2-9 and 16-27: the S&P 500 fell about 5% in the first minutes after
    the 9:30 open (its low at about 9:40), many stocks opened late, there were 1,278
    limit-up/limit-down pauses, and about a fifth of ETFs traded more than 20% below their
    previous close (several were down 30-40% against far smaller moves in their holdings),
    most recovering within about 15-30 minutes; the S&P 500 rebounded to about -3% by 10:00
    and closed -3.9%.

    Phases: fall 8 min (-5.3%, the fifth least traded equities a further -20%: the ETF
    dislocation), rebound 20 min (+2.5%, dislocations closing to -3%), drift 30 min (-0.5%).
    The crash begins ``at_s`` after the simulated open, so the book starts at the previous
    close's prices, as a firm's limits are set before the open.
    """
    return Scenario(
        name="aug-2015",
        start_s=at_s,
        dislocated_share=0.2,
        phases=(
            Phase("fall", 480.0, math.log(0.947), (1.0, 10.0), (1.0, 0.1), None, math.log(0.80)),
            Phase(
                "rebound",
                1200.0,
                math.log(0.972 / 0.947),
                (10.0, 2.5),
                (0.1, 0.5),
                None,
                math.log(0.97 / 0.80),
            ),
            Phase("drift", 1800.0, math.log(0.967 / 0.972), (2.5, 1.5), (0.5, 0.7), None),
        ),
    )


def march_2020(at_s: float = 60.0) -> Scenario:
    """A COVID-style gap-down day, shaped on 16 March 2020.

    Source: the S&P 500 opened about 8% below the previous close, tripping the 7% Level 1
    market-wide circuit breaker at 9:30 (a 15-minute halt; NYSE, *Market-Wide Circuit
    Breakers* notice of 16 March 2020), traded between -9% and -11% through the day and
    closed -12.0% (S&P Dow Jones Indices, daily close 2,386.13 against 2,711.02), the
    VIX closing at its record 82.7 (Cboe). No recovery the same day.

    Phases: gap 1 min (-7.5%, spreads x6, depth / 5), grind 25 min (-2%), chop 40 min
    (-1%). The simulator has no market-wide halt, so trading goes on through what was the
    15-minute halt (a difference from the day, noted in docs/benchmarks.md).
    """
    return Scenario(
        name="mar-2020",
        start_s=at_s,
        phases=(
            Phase("gap", 60.0, math.log(0.925), (1.0, 6.0), (1.0, 0.2), None),
            Phase("grind", 1500.0, math.log(0.905 / 0.925), (6.0, 3.0), (0.2, 0.35), None),
            Phase("chop", 2400.0, math.log(0.895 / 0.905), (3.0, 2.5), (0.35, 0.4), None),
        ),
    )


def volatile_day(config: SimulatorConfig) -> Scenario:
    """A volatile day without a crash: the volatile regime (``regimes`` index 1: factor
    volatility x1.7, spreads and depth at its multipliers) held for the whole session, no
    scripted move. The regime is forced (the point of the scenario), the path is not."""
    rc = config.regimes
    spread, depth = rc.spread_mult[1], rc.depth_mult[1]
    return Scenario(
        name="volatile-day",
        start_s=0.0,
        phases=(Phase("volatile", config.session_s, 0.0, (spread, spread), (depth, depth), 1),),
    )


CRASH_SHAPES: dict[str, Callable[[], Scenario]] = {
    "may-2010": may_2010,
    "aug-2015": august_2015,
    "mar-2020": march_2020,
}
"""The historical crash shapes of ``bench/flash_crash.py``, by name."""

SCENARIOS: dict[str, Callable[[SimulatorConfig], Scenario]] = {
    "flash-crash": flash_crash,
    "volatile-day": volatile_day,
    **{name: (lambda config, build=build: build()) for name, build in CRASH_SHAPES.items()},
}
"""Scenario builders by name (the ``--scenario`` of ``riskstream simulate``)."""


def build_scenario(name: str, config: SimulatorConfig) -> Scenario:
    """The scenario called ``name``, configured by ``config``.

    Raises
    ------
    InputError
        ``name`` is not one of :data:`SCENARIOS`.
    """
    if name not in SCENARIOS:
        raise InputError("scenario", name, f"one of {sorted(SCENARIOS)}")
    return SCENARIOS[name](config)
