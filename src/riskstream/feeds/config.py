"""Settings of the reference-universe generator and the market simulator."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from riskstream.core.config import ConfigModel


class UniverseConfig(ConfigModel):
    """The generated reference universe and portfolio."""

    instruments: Annotated[int, Field(ge=50, le=1_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 7
    base_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    aum_base: Annotated[float, Field(gt=0)] = 500_000_000.0  # minimum gross exposure (base ccy)
    as_of: dt.date = dt.date(2024, 6, 28)  # date of the reference prices; expiries follow it
    # Business days (Mon-Fri) of simulated daily market history written with the universe
    # (riskstream.feeds.daily_history), ending on as_of: 1,000 is about four years, enough
    # for a 750-day scenario window plus multi-day horizons.
    history_days: Annotated[int, Field(ge=2, le=20_000)] = 1_000


Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PerRegime = tuple[float, float, float]
"""One value per regime: calm (0), volatile (1), crisis (2)."""


class RegimeConfig(ConfigModel):
    """The simulator's Markov regimes (Hamilton 1989): calm, volatile, crisis.

    ``transition_per_min[i][j]`` is the probability of being in regime ``j`` one simulated
    minute after being in regime ``i``. The chain runs in continuous time with the same
    dwell times: regime ``i`` is left at rate :math:`-\\ln(P_{ii})` per minute, to ``j``
    with probability :math:`P_{ij} / (1 - P_{ii})`. The other fields scale the market in
    each regime.
    """

    initial: Literal[0, 1, 2] = 0
    transition_per_min: tuple[PerRegime, PerRegime, PerRegime] = (
        (0.98, 0.017, 0.003),  # calm: ~50 minutes on average
        (0.06, 0.92, 0.02),  # volatile: ~12 minutes
        (0.03, 0.09, 0.88),  # crisis: ~8 minutes
    )
    factor_vol_mult: PerRegime = (1.0, 1.7, 2.8)  # systematic volatility
    idio_vol_mult: PerRegime = (1.0, 1.3, 1.6)  # idiosyncratic: correlations rise in stress
    spread_mult: PerRegime = (1.0, 1.8, 3.5)  # quoted spreads
    depth_mult: PerRegime = (1.0, 0.6, 0.3)  # resting size near the touch
    activity_mult: PerRegime = (1.0, 1.3, 1.8)  # event rate
    market_jumps_per_day: PerRegime = (0.1, 0.5, 2.0)  # jumps of the market factor
    market_drift_per_year: PerRegime = (0.06, 0.0, -0.40)

    @model_validator(mode="after")
    def _stochastic_rows(self) -> Self:
        for i, row in enumerate(self.transition_per_min):
            if any(not 0.0 <= p <= 1.0 for p in row) or abs(sum(row) - 1.0) > 1e-9:
                raise ValueError(
                    f"transition_per_min row {i} is {row}; expected probabilities summing to 1"
                )
            if row[i] <= 0.0:
                raise ValueError(
                    f"transition_per_min[{i}][{i}] is {row[i]}; expected a positive probability "
                    "of staying in the regime"
                )
        for name in ("factor_vol_mult", "idio_vol_mult", "spread_mult", "depth_mult",
                     "activity_mult"):  # fmt: skip
            if any(v <= 0.0 for v in getattr(self, name)):
                raise ValueError(f"{name} is {getattr(self, name)}; expected positive values")
        if any(v < 0.0 for v in self.market_jumps_per_day):
            raise ValueError("market_jumps_per_day must not be negative")
        return self


class DailyHistoryConfig(ConfigModel):
    """Time scales of the simulator's *daily* market history
    (:func:`riskstream.feeds.daily_history.simulate_daily_history`).

    The tick simulator's regime chain (:class:`RegimeConfig`) runs per simulated minute, with
    spells of minutes so that a demo session sees every regime; a day of it would mix all
    three. The daily history keeps the same three regimes with the same volatility
    multipliers, drifts and jump intensities, the same exit routes
    (:math:`P_{ij}/(1-P_{ii})` of ``transition_per_min``), but spells at the time scale of
    real markets: the chain leaves regime ``i`` with probability ``1 / spell_days[i]`` each
    business day, so spells are geometric with mean ``spell_days[i]``. The defaults, about
    four and a half months calm, a month volatile and two weeks in crisis, give stationary
    shares of about 76 % calm, 20 % volatile and 4 % crisis days (the crisis multiplier of
    2.8 puts the market's volatility near 36 %, a VIX in the 40s, a level reached in the
    worst episodes only: 1998, 2002, 2008-09, 2011, 2020).

    ``implied_vol_half_life_days`` is the half-life of the implied-volatility level's mean
    reversion to the regime's model volatility at the daily step (the simulator's
    ``implied_vol_half_life_s`` is on its compressed minute scale), about a month: the order
    of the half-life of shocks to the VIX.
    """

    spell_days: PerRegime = (90.0, 20.0, 10.0)
    implied_vol_half_life_days: Annotated[float, Field(gt=0)] = 20.0

    @model_validator(mode="after")
    def _spells(self) -> Self:
        if any(v < 1.0 for v in self.spell_days):
            raise ValueError(
                f"spell_days is {self.spell_days}; expected at least 1 day in each regime"
            )
        return self


class FlashCrashConfig(ConfigModel):
    """The ``flash-crash`` scenario: a fast fall of the equity market, liquidity evaporating,
    then a partial recovery.

    The size of the fall is that of 6 May 2010, when the Dow Jones Industrial Average lost
    about 9 % from the previous close within minutes before rebounding (CFTC-SEC staff
    report, 30 September 2010). The recovery is slower than that day's, when most of the
    fall came back within twenty minutes: here a quarter of it comes back in the five
    minutes after the trough, so a book that held on is still well down when the scenario
    ends. ``riskstream simulate --scenario flash-crash`` and ``bench/flash_crash.py`` run it;
    every field can be changed in ``[simulator.flash_crash]``.
    """

    at_s: Annotated[float, Field(ge=0.0)] = 120.0  # simulated seconds after the start
    drop: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.09  # fall of the market factor
    fall_s: Annotated[float, Field(gt=0.0)] = 180.0
    trough_s: Annotated[float, Field(ge=0.0)] = 60.0
    recovery_s: Annotated[float, Field(gt=0.0)] = 300.0
    recovery_fraction: Probability = 0.25  # share of the fall won back
    spread_mult: Annotated[float, Field(ge=1.0)] = 8.0  # spreads at the trough, x normal
    depth_divisor: Annotated[float, Field(ge=1.0)] = 6.0  # depth at the trough, / normal


class EventShareConfig(ConfigModel):
    """Share of the simulator's events going to each asset class (renormalised over the
    classes a universe has). Within a class, rates are proportional to ADV."""

    equity: Annotated[float, Field(ge=0.0)] = 0.45
    future: Annotated[float, Field(ge=0.0)] = 0.15
    option: Annotated[float, Field(ge=0.0)] = 0.20
    fx: Annotated[float, Field(ge=0.0)] = 0.12
    bond: Annotated[float, Field(ge=0.0)] = 0.08


class ManipulationConfig(ConfigModel):
    """The simulated trading population: honest accounts and manipulators (see
    :mod:`riskstream.feeds.manipulation` for what each shape parameter does). Off (None) by
    default: the simulator then names no accounts and its stream is unchanged."""

    seed: Annotated[int, Field(ge=0)] = 11
    market_makers: Annotated[int, Field(ge=1, le=1000)] = 6
    noise_traders: Annotated[int, Field(ge=1, le=10_000)] = 40
    market_maker_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    arbitrageur_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    shared_owner_pairs: Annotated[int, Field(ge=0)] = 1
    spoofers: Annotated[int, Field(ge=0, le=100)] = 2
    layerers: Annotated[int, Field(ge=0, le=100)] = 2
    wash_traders: Annotated[int, Field(ge=0, le=100)] = 2
    closers: Annotated[int, Field(ge=0, le=100)] = 2
    igniters: Annotated[int, Field(ge=0, le=100)] = 2
    active_day_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    episodes_per_day: Annotated[int, Field(ge=1, le=100)] = 2
    max_days: Annotated[int, Field(ge=1, le=10_000)] = 60
    spoof_size_mult: Annotated[float, Field(gt=0)] = 8.0
    spoof_ticks_behind: Annotated[int, Field(ge=0, le=10)] = 1
    spoof_hold_ms: Annotated[float, Field(gt=0)] = 1500.0
    cancel_delay_ms: Annotated[float, Field(ge=0)] = 200.0
    layering_levels: Annotated[int, Field(ge=2, le=8)] = 4
    layer_size_mult: Annotated[float, Field(gt=0)] = 4.0
    wash_trades: Annotated[int, Field(ge=1, le=50)] = 4
    wash_gap_ms: Annotated[float, Field(gt=0)] = 2000.0
    wash_two_accounts: bool = False
    close_window_s: Annotated[float, Field(gt=0)] = 60.0
    close_orders: Annotated[int, Field(ge=1, le=50)] = 5
    close_volume_share: Annotated[float, Field(gt=0)] = 0.5
    ignition_orders: Annotated[int, Field(ge=2, le=50)] = 6
    ignition_gap_ms: Annotated[float, Field(gt=0)] = 150.0
    ignition_reverse_ms: Annotated[float, Field(gt=0)] = 3000.0


class SimulatorConfig(ConfigModel):
    """The market simulator: event rate, clock, market model and scenarios."""

    seed: Annotated[int, Field(ge=0)] = 7
    events_per_s: Annotated[float, Field(gt=0)] = 200_000.0  # simulated-time event rate
    speedup: Annotated[float, Field(gt=0)] = 1.0  # simulated seconds per wall-clock second
    batch_events: Annotated[int, Field(ge=1, le=10_000_000)] = 16_384
    start: dt.datetime | None = None  # simulated start (UTC); None: the universe's as_of
    session_open_utc: dt.time = dt.time(13, 30)  # 09:30 New York (summer time)
    session_s: Annotated[float, Field(gt=0)] = 23_400.0  # 6.5 hours; the U-shape's period
    trading_days_per_year: Annotated[float, Field(gt=0)] = 252.0
    step_ms: Annotated[float, Field(gt=0, le=60_000)] = 100.0  # market-model time step
    min_update_s: Annotated[float, Field(gt=0)] = 60.0  # every instrument moves this often
    event_share: EventShareConfig = EventShareConfig()
    manipulation: ManipulationConfig | None = None  # manipulative participants (surveillance)
    regimes: RegimeConfig = RegimeConfig()
    daily_history: DailyHistoryConfig = DailyHistoryConfig()
    flash_crash: FlashCrashConfig = FlashCrashConfig()
    idio_jumps_per_day: Annotated[float, Field(ge=0)] = 0.02  # per equity
    idio_jump_sd: Annotated[float, Field(ge=0)] = 0.04
    market_jump_mean: float = -0.01
    market_jump_sd: Annotated[float, Field(ge=0)] = 0.01
    leverage: float = -3.0  # d ln(implied vol) / d ln(spot): the leverage effect
    implied_vol_half_life_s: Annotated[float, Field(gt=0)] = 120.0
