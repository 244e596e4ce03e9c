"""The emergency policy does not fire on calm days.

Several calm simulated sessions (the regime chain held in calm, no scenario) run through md
-> risk -> limits with the reference limits (riskstream.limits.stage.reference_limits, sized
on the first snapshot). No stop-loss, market-driven hard-breach reduction, kill switch halt or
circuit breaker may fire.

Why zero is the right bound. The firm stop-loss is a drawdown limit, hard at 0.5 x the
one-day 99 % VaR, i.e. a = 0.5 * 2.326 sigma_d = 1.16 sigma_d for a P&L with daily sd
sigma_d. Over a session of T seconds of a 23,400 s trading day a Brownian P&L has sd
s = sigma_d sqrt(T / 23,400). A drawdown of a needs a range of a, so sup|W| >= a / 2, and by
the reflection principle P(sup_{t<=T} W_t >= b) = 2 P(W_T >= b) (Karatzas & Shreve,
Brownian Motion and Stochastic Calculus, 2.6.A), so P(drawdown >= a) <= 4 (1 - Phi(a / 2s)).
At T = 30 s, a / 2s = 16: about 1e-58 per session. Calm-regime market jumps (0.1 a day,
riskstream.feeds.config.RegimeConfig) occur in a 30 s session with probability ~1e-4, and a
-1 % market move does not halve a day's VaR. The firm VaR limit is hard at 1.5 x the
starting VaR: in 30 s calm seconds the positions do not change and vols barely move. So
over three sessions the expected number of false triggers is far below 1e-2 and any
trigger is a defect.
"""

from __future__ import annotations

import functools

from riskstream.cli.engine import build_engine, simulated_history
from riskstream.core.instruments import Universe
from riskstream.core.state import MarketState
from riskstream.feeds.config import RegimeConfig, SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.stage import build_limits_stage
from riskstream.md.engine import MarketDataEngine
from riskstream.risk.config import RiskConfig
from riskstream.risk.stage import RiskStage

RISK = RiskConfig(
    window_days=250, horizons_days=(1,), confidence_levels=(0.99,), snapshot_interval_ms=1000
)
CALM = RegimeConfig(
    initial=0,
    transition_per_min=((1.0, 0.0, 0.0), (0.06, 0.92, 0.02), (0.03, 0.09, 0.88)),
)


@functools.cache
def _universe_and_history() -> tuple[Universe, object]:
    universe = generate_universe(UniverseConfig(instruments=300, seed=3))
    return universe, simulated_history(universe, RISK.window_days + 1, seed=3)


def test_no_emergency_action_in_calm_sessions() -> None:
    universe, history = _universe_and_history()
    for seed in (11, 12, 13):
        sim = MarketSimulator(
            universe, SimulatorConfig(seed=seed, events_per_s=4_000, regimes=CALM), None
        )
        engine = build_engine(universe, RISK, history=history, market=MarketState(len(universe)))
        md = MarketDataEngine(len(universe), market_state=engine.market)
        risk_stage = RiskStage(engine)
        stage = build_limits_stage(risk_stage, md, None, LimitsConfig())
        for batch, now_ns in sim.batches(30.0):
            md.process(batch, now_ns)
            risk_stage.on_batch(batch, now_ns)
            stage.on_batch(batch, now_ns)
        assert risk_stage.last is not None and stage.limits_in_force(), seed
        assert not stage.limits_from_first_snapshot, seed  # the reference limits were sized
        in_force = {lim.limit_type.value for lim in stage.limits_in_force()}
        assert {"drawdown", "var"} <= in_force, (seed, in_force)  # the stop-loss is armed
        # no emergency at all: the reference limits leave the book they are sized on inside
        # them (the single-position limit included), and a calm market does not move it out
        programmes = {k: p.reason for k, p in stage.controller.programmes.items()}
        assert programmes == {}, (seed, programmes)
        engaged = {k: r.state.value for k, r in stage.controller.board.engaged().items()}
        assert engaged == {}, (seed, engaged)
        assert stage.breaker.trips == {"price_gap": 0, "stale_feed": 0}, seed


def test_reference_limits_are_not_breached_by_the_book_they_are_sized_on() -> None:
    # Limits "sized on the portfolio as it starts" (reference_limits' docstring) should leave
    # the starting book inside them, as the VaR (1.5x) and gross (1.25x) limits do.
    universe, history = _universe_and_history()
    sim = MarketSimulator(universe, SimulatorConfig(seed=11, events_per_s=4_000, regimes=CALM))
    engine = build_engine(universe, RISK, history=history, market=MarketState(len(universe)))
    md = MarketDataEngine(len(universe), market_state=engine.market)
    risk_stage = RiskStage(engine)
    stage = build_limits_stage(risk_stage, md, None, LimitsConfig())
    for batch, now_ns in sim.batches(5.0):
        md.process(batch, now_ns)
        risk_stage.on_batch(batch, now_ns)
        stage.on_batch(batch, now_ns)
    assert not stage.limits_from_first_snapshot
    assert stage.controller.programmes == {}
