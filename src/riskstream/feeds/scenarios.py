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
    """

    name: str
    duration_s: float
    market_move: float
    spread_mult: tuple[float, float]
    depth_mult: tuple[float, float]
    regime: int | None


@dataclass(frozen=True)
class ScenarioState:
    """What a scenario imposes at one instant (``phase`` is -1 outside every phase)."""

    phase: int
    market_offset: float  # cumulative log move of the market factor so far
    spread_mult: float
    depth_mult: float
    regime: int | None


@dataclass(frozen=True)
class Scenario:
    """A named scenario: ``phases`` run back to back from ``start_s`` after the start."""

    name: str
    start_s: float
    phases: tuple[Phase, ...]

    def phase_bounds(self) -> list[tuple[float, float]]:
        """(start, end) of each phase in seconds after the simulation start."""
        bounds, t = [], self.start_s
        for phase in self.phases:
            bounds.append((t, t + phase.duration_s))
            t += phase.duration_s
        return bounds

    def state(self, elapsed_s: float) -> ScenarioState:
        """The scenario's effect ``elapsed_s`` simulated seconds after the start."""
        offset = 0.0
        for k, ((start, end), phase) in enumerate(
            zip(self.phase_bounds(), self.phases, strict=True)
        ):
            if elapsed_s < start:
                break
            if elapsed_s >= end:
                offset += phase.market_move
                continue
            f = (elapsed_s - start) / phase.duration_s
            offset += phase.market_move * f * f * (3.0 - 2.0 * f)
            return ScenarioState(
                phase=k,
                market_offset=offset,
                spread_mult=phase.spread_mult[0]
                + f * (phase.spread_mult[1] - phase.spread_mult[0]),
                depth_mult=phase.depth_mult[0] + f * (phase.depth_mult[1] - phase.depth_mult[0]),
                regime=phase.regime,
            )
        return ScenarioState(-1, offset, 1.0, 1.0, None)


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


SCENARIOS: dict[str, Callable[[SimulatorConfig], Scenario]] = {"flash-crash": flash_crash}
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
