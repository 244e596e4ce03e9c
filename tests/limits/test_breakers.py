"""Circuit breakers in the running pipeline: a price gap halts its instrument and stops the
reduction orders in it, a stale feed halts the firm, neither trips in a normal simulated
run (flash crash included), and the halts survive a restart."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from riskstream.cli.engine import build_engine, simulated_history
from riskstream.core.clock import ManualClock
from riskstream.core.events import empty_events
from riskstream.core.instruments import Universe
from riskstream.core.state import MarketState
from riskstream.feeds.config import FlashCrashConfig, SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.killswitch import (
    GLOBAL,
    CircuitBreaker,
    KillSwitchBoard,
    MemorySwitchStore,
    TradingState,
)
from riskstream.limits.model import Actor, LimitDefinition, Role
from riskstream.limits.stage import LimitsStage, build_limits_stage
from riskstream.md.engine import MarketDataEngine
from riskstream.risk.config import RiskConfig
from riskstream.risk.stage import RiskStage
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.refdb import RefDB

S = 10**9
T0 = 1_000 * S  # event time of the first batch
RISK = RiskConfig(window_days=250, horizons_days=(1,), confidence_levels=(0.99,))
MANAGER = Actor("meg", Role.RISK_MANAGER)


@pytest.fixture(scope="module")
def universe() -> Universe:
    return generate_universe(UniverseConfig(instruments=300, seed=3))


@functools.cache
def _history(universe: Universe):
    """The simulator's daily history of the universe: the window's 250 moves."""
    return simulated_history(universe, RISK.window_days + 1, seed=3)


def _quote_all(market: MarketState, now_ns: int, half_spread: float = 5e-4) -> None:
    """Two-sided quotes around the current mids, all updated at ``now_ns``."""
    market.bid[:] = market.mid * (1 - half_spread)
    market.ask[:] = market.mid * (1 + half_spread)
    market.ts_ns[:] = now_ns


def _stage(universe: Universe, limits: list[LimitDefinition], store=None, **cfg) -> LimitsStage:
    risk_stage = RiskStage(build_engine(universe, RISK, history=_history(universe)))
    _quote_all(risk_stage.engine.market, T0)
    risk_stage.last = risk_stage.engine.refresh(T0)
    config = LimitsConfig(schedule_periods=4, schedule_horizon_s=4.0, **cfg)
    return build_limits_stage(risk_stage, None, limits, config, switch_store=store)


def _breaching_var_limit(stage: LimitsStage) -> LimitDefinition:
    var = stage.risk_stage.last.headline.var
    return LimitDefinition("firm", "firm", "var", 0.5 * var, 0.8 * var)


# ------------------------------------------------------------------- unit: the breaker


def test_a_move_inside_a_wide_market_is_not_a_gap_but_a_jump_over_it_is() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(gap_fraction=0.15, stale_s=30, stale_share=0.5)
    held = np.ones(2, dtype=bool)
    ts = np.full(2, T0)
    # a penny option quoted 0.01-0.05 (mid 0.03), then 0.04-0.05 (mid 0.045): +50%, but
    # the new quote lies inside the old one; instrument 1 jumps from 100/100.1 to 80/80.1
    cb.check(board, np.array([0.03, 100.05]), ts, held, T0, np.array([0.01, 100.0]),
             np.array([0.05, 100.1]))  # fmt: skip
    out = cb.check(board, np.array([0.045, 80.05]), ts, held, T0 + S, np.array([0.04, 80.0]),
                   np.array([0.05, 80.1]))  # fmt: skip
    assert [(t.scope_id, t.trigger, t.after) for t in out] == [
        ("instrument:1", "price_gap", TradingState.HALTED)
    ]
    assert cb.trips == {"price_gap": 1, "stale_feed": 0}


def test_option_gaps_are_judged_on_the_underlying_equivalent_move() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, 30, 0.5)
    held = np.ones(1, dtype=bool)
    ts = np.full(1, T0)
    scale = np.array([10.0])  # an option with elasticity 10
    cb.check(board, np.array([2.0]), ts, held, T0, gap_scale=scale)
    # +100% premium = +10% underlying-equivalent: not a gap
    assert cb.check(board, np.array([4.0]), ts, held, T0 + S, gap_scale=scale) == []
    # +200% on 4.0 = +20% underlying-equivalent: a gap
    out = cb.check(board, np.array([12.0]), ts, held, T0 + 2 * S, gap_scale=scale)
    assert [t.scope_id for t in out] == ["instrument:0"]


def test_nan_mids_never_trip_and_a_gap_across_a_one_sided_spell_is_seen() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, 30, 0.5)
    held = np.ones(2, dtype=bool)
    ts = np.full(2, T0)
    assert cb.check(board, np.array([np.nan, 50.0]), ts, held, T0) == []  # not quoted yet
    assert cb.check(board, np.array([10.0, np.nan]), ts, held, T0 + S) == []  # first quote
    # instrument 1 lost a side (NaN mid), then came back 30% lower: compared with its
    # last valid mid, not skipped
    out = cb.check(board, np.array([10.0, 35.0]), ts, held, T0 + 2 * S)
    assert [t.scope_id for t in out] == ["instrument:1"]


def test_stale_feed_warm_up_rule() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, stale_s=30, stale_share=0.5)
    held = np.array([True, True, True, False])
    never = np.zeros(4, dtype=np.int64)
    mid = np.full(4, np.nan)
    # start-up: nothing quoted; for stale_s after the first check that is not stale
    for t in (0, 10, 30):
        assert cb.check(board, mid, never, held, T0 + t * S) == []
    assert cb.stale_share_now == 0.0
    # one held instrument quoted at +5 s, two never: after the warm-up those two are stale
    ts = np.array([T0 + 5 * S, 0, 0, 0])
    out = cb.check(board, mid, ts, held, T0 + 31 * S)
    assert [(t.scope_id, t.trigger) for t in out] == [(GLOBAL, "stale_feed")]
    assert cb.stale_share_now == pytest.approx(2 / 3)


def test_the_warm_up_starts_at_the_first_market_time() -> None:
    """Checks before the market has a time (md's keyframes before its first event carry 0)
    neither trip nor start the warm-up: at the first real quotes, the held instruments
    not quoted yet are not stale."""
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, stale_s=30, stale_share=0.5)
    held = np.array([True, True, True, False])
    never = np.zeros(4, dtype=np.int64)
    assert cb.check(board, np.full(4, np.nan), never, held, 0) == []
    ts = np.array([T0, 0, 0, 0])  # the feed starts: one held instrument quoted so far
    assert cb.check(board, np.array([10.0, np.nan, np.nan, np.nan]), ts, held, T0) == []
    assert cb.stale_share_now == 0.0
    assert board.state(GLOBAL) is TradingState.ACTIVE


def test_md_stale_flags_count_and_their_prices_are_not_used() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, 30, 0.5)
    held = np.ones(2, dtype=bool)
    ts = np.full(2, T0)
    cb.check(board, np.array([10.0, 10.0]), ts, held, T0)
    flags = np.array([True, False])  # instrument 0 recovering a sequence gap
    out = cb.check(board, np.array([1.0, 10.0]), ts, held, T0 + S, feed_stale=flags)
    assert [t.trigger for t in out] == ["stale_feed"]  # 1 of 2 stale: 50%
    assert board.state("instrument:0") is TradingState.ACTIVE  # its mid was not trusted


def test_a_newly_held_instrument_is_compared_from_its_next_quote() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    cb = CircuitBreaker(0.15, 30, 0.5)
    ts = np.full(2, T0)
    cb.check(board, np.array([10.0, 10.0]), ts, np.array([True, True]), T0)
    cb.check(board, np.array([10.0, 10.0]), ts, np.array([True, False]), T0 + S)
    # instrument 1 drifted 40% while not held; held again, its old quote is forgotten
    both = np.array([True, True])
    ts = np.full(2, T0 + 60 * S)
    assert cb.check(board, np.array([10.0, 14.0]), ts, both, T0 + 60 * S) == []
    assert [t.scope_id for t in cb.check(board, np.array([10.0, 7.0]), ts, both,
                                         T0 + 61 * S)] == ["instrument:1"]  # fmt: skip


# --------------------------------------------------------------- in the limits stage


def test_a_gap_halts_the_instrument_and_stops_the_reduction_orders_in_it(universe) -> None:
    stage = _stage(universe, [])
    stage.controller.monitor.set_limits([_breaching_var_limit(stage)])
    board, market = stage.controller.board, stage.market
    stage.on_batch(empty_events(0), T0)
    (prog,) = stage.controller.programmes.values()
    assert stage.controller.board.state("firm") is TradingState.REDUCING
    # a linear instrument the programme still has to trade
    ids = prog.instrument_id
    linear = (stage.reference.asset_class[ids] == "equity") & (
        np.abs(prog.slices[:, 1:]).sum(axis=1) > 0
    )
    victim = int(ids[np.flatnonzero(linear)[0]])
    # its quote gaps down 30%, nothing else moves
    market.mid[victim] *= 0.7
    market.bid[victim], market.ask[victim] = market.mid[victim] * 0.999, market.mid[victim] * 1.001
    market.ts_ns[:] = T0 + S
    sent_before = len(stage.controller.actions)
    stage.on_batch(empty_events(0), T0 + S)
    assert board.state(f"instrument:{victim}") is TradingState.HALTED
    record = board.engaged()[f"instrument:{victim}"]
    assert record.trigger == "price_gap" and record.actor == "riskstream"
    audit = stage.controller.board.store.audit[-1]
    assert audit["target"] == f"killswitch:instrument:{victim}"
    assert audit["after"] == {"state": "halted", "trigger": "price_gap"}
    for t in (2, 3, 4, 5):
        market.ts_ns[:] = T0 + t * S
        stage.on_batch(empty_events(0), T0 + t * S)
    later = stage.controller.actions[sent_before:]
    assert later, "the other positions' reductions go on"
    assert all(a["instrument_id"] != victim for a in later)
    assert stage.controller.stats.blocked > 0
    summary = stage.summary()
    assert summary["circuit_breaker_trips"] == {"price_gap": 1, "stale_feed": 0}
    assert summary["kill_switch_triggers"][f"instrument:{victim}"] == "price_gap"
    assert summary["kill_switches"][f"instrument:{victim}"] == "halted"
    assert summary["reduction_orders_blocked"] == stage.controller.stats.blocked
    assert any("price_gap" in value for _, value in stage.view())


def test_a_stale_feed_halts_the_firm_and_every_order(universe) -> None:
    stage = _stage(universe, [])
    stage.controller.monitor.set_limits([_breaching_var_limit(stage)])
    stage.on_batch(empty_events(0), T0)
    sent = len(stage.controller.actions)
    assert sent > 0
    # no update for 31 s: every held instrument is stale
    stage.on_batch(empty_events(0), T0 + 31 * S)
    board = stage.controller.board
    assert board.state("firm") is TradingState.HALTED
    assert board.engaged()[GLOBAL].trigger == "stale_feed"
    assert len(stage.controller.actions) == sent  # the due child orders were refused
    assert stage.controller.stats.blocked > 0
    # only an authorised release resumes; the feed is back, so it does not re-trip
    board.release(MANAGER, "firm", "feed restored")
    _quote_all(stage.market, T0 + 32 * S)
    stage.on_batch(empty_events(0), T0 + 32 * S)
    assert board.state("firm") is TradingState.ACTIVE
    assert stage.summary()["circuit_breaker_trips"]["stale_feed"] == 1


def test_no_trip_in_a_normal_simulated_run_with_a_flash_crash(universe) -> None:
    # 45 s of simulated market over the universe: the quotes fill up from nothing (the
    # warm-up), then a fast flash crash (-7.5% in 15 s, spreads x8, depth / 6) and a
    # partial recovery; md rebuilds the books and writes the market state the risk
    # engine and the breakers read.
    crash = FlashCrashConfig(at_s=10.0, fall_s=15.0, trough_s=5.0, recovery_s=10.0)
    sim = MarketSimulator(
        universe, SimulatorConfig(seed=5, events_per_s=4_000, flash_crash=crash), "flash-crash"
    )
    engine = build_engine(
        universe,
        RISK.model_copy(update={"snapshot_interval_ms": 1000}),
        history=_history(universe),
        market=MarketState(len(universe)),
    )
    md = MarketDataEngine(len(universe), market_state=engine.market)
    risk_stage = RiskStage(engine)
    stage = build_limits_stage(risk_stage, md, [], LimitsConfig())
    batches = 0
    for batch, now_ns in sim.batches(45.0):
        md.process(batch, now_ns)
        risk_stage.on_batch(batch, now_ns)
        stage.on_batch(batch, now_ns)
        batches += 1
    assert batches > 20 and risk_stage.last is not None
    assert stage.controller.board.engaged() == {}
    assert stage.breaker.trips == {"price_gap": 0, "stale_feed": 0}
    assert 0.0 <= stage.breaker.stale_share_now < 0.5
    # the crash happened: the market moved, the breakers judged it orderly
    assert sim.scenario_log().height > 0


def test_circuit_breaker_halts_survive_a_restart(universe, refdb_url: str) -> None:
    db = RefDB(refdb_url)
    db.migrate()
    stage = _stage(universe, [], store=LimitRepository(db))
    market = stage.market
    stage.on_batch(empty_events(0), T0)
    victim = int(np.flatnonzero(stage.ledger.held(len(stage.reference)))[0])
    market.mid[victim] *= 1.5
    market.bid[victim], market.ask[victim] = market.mid[victim] * 0.999, market.mid[victim] * 1.001
    stage.on_batch(empty_events(0), T0 + S)
    assert stage.controller.board.state(f"instrument:{victim}") is TradingState.HALTED
    db.close()

    # a new process: the halt comes back from the database and gates orders at once
    db2 = RefDB(refdb_url)
    board = KillSwitchBoard(LimitRepository(db2), ManualClock(T0 + 2 * S))
    assert board.state(f"instrument:{victim}") is TradingState.HALTED
    assert board.engaged()[f"instrument:{victim}"].trigger == "price_gap"
    scopes = {"instrument": np.array([str(victim)])}
    assert not board.check_orders(scopes, np.array([100.0]), np.array([-10.0]))[0]
    board.release(MANAGER, f"instrument:{victim}", "price confirmed with the exchange")
    assert KillSwitchBoard(LimitRepository(db2)).state(f"instrument:{victim}") is (
        TradingState.ACTIVE
    )
    actions = [(a["action"], a["actor"], a["target"]) for a in LimitRepository(db2).audit()]
    assert actions == [
        ("killswitch.engage", "riskstream", f"killswitch:instrument:{victim}"),
        ("killswitch.release", "meg", f"killswitch:instrument:{victim}"),
    ]
    db2.close()


def test_breakers_can_be_switched_off(universe) -> None:
    stage = _stage(universe, [], circuit_breakers=False)
    stage.on_batch(empty_events(0), T0 + 3600 * S)  # an hour without updates
    assert stage.breaker is None and stage.controller.board.engaged() == {}
    assert "circuit_breaker_trips" not in stage.summary()
