"""The flash-crash proof, live: what the emergency limit policy saves in historical crash
shapes, and what it costs on ordinary days, each against the same market with the policy off.

Every run is *live*: the runtime's nodes on threads (feed paced by the wall clock at
``--speedup``, md, risk, limits, the position keeper) over the in-memory bus and topics,
so md's books, every risk refresh and every limit check cost market time at
the speed-up's ratio while the market goes on. The limits' reduction orders go into the
simulator's own books (:meth:`riskstream.feeds.simulator.MarketSimulator.execute_order`):
they take resting orders (TRADE events md sees), move the fair value by the permanent
impact, and the simulated participants re-quote around it; the fills go to the position
keeper as Fill messages (the one writer of positions). Nothing is told the crash: no
scenario forces a regime, and the limits see only md's observed quotes.

Counterfactual ("policy off"): the same market without our orders. Our orders enter the
market model only through a per-instrument permanent-impact offset on the prices (never the
factors, regimes, volatilities or any random draw), so the fair values at the end with
that offset removed (``MarketModel.fair_without_impact``) are exactly those of the same
seed run with no order (tested in ``tests/feeds/test_execute_order.py``); holding takes no
decision, so wall-clock pacing changes nothing for it. Both are marked at the simulator's
latent fair values at the end of the window (the referee, not an input of the system), so

    avoided = [held_end x fair_end(on) + cash from fills - value_0]
              - [q_0 x (fair_end(off) - fair_0)]

is net of every cost: spreads and depth paid by the fills, and the permanent impact left on
what is still held.

Days: ``--calm-days`` windows of the ordinary simulator (regime chain from calm) and
``--volatile-days`` with the volatile regime held; every new hard breach on them (each
starts a reduction programme) is a false trigger. Windows are ``--window-min`` of market
time (the crash shapes longer, to their end); per-day figures scale the window's to a
6.5 h session (``--full`` runs whole sessions instead).

    PYTHONPATH=src python bench/flash_crash.py [--seeds 10] [--calm-days 20]
        [--volatile-days 5] [--speedup 240] [--quick] [--full]

The last line of stdout is one JSON object (see docs/benchmarks.md for the method).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np

SESSION_S = 23_400.0
OPEN_UTC = dt.time(13, 30)  # 09:30 New York (summer time)
CRASH_WINDOWS = {
    # shape: (window start, New York time -> UTC; market minutes in the window)
    "may-2010": (dt.time(18, 30), 40.0),  # 14:30 New York, crash from 14:32
    "aug-2015": (OPEN_UTC, 30.0),
    "mar-2020": (OPEN_UTC, 30.0),
}
CALM_START = dt.time(14, 0)  # 10:00 New York: past the opening auction's noise


class _Setup:
    """What every run shares: the universe (portfolio), its market history, risk config."""

    def __init__(self, args: argparse.Namespace):
        from riskstream.cli.engine import simulated_history
        from riskstream.feeds.config import UniverseConfig
        from riskstream.feeds.universe import generate_universe
        from riskstream.limits.ledger import LimitsReference
        from riskstream.risk.config import RiskConfig

        self.universe = generate_universe(
            UniverseConfig(instruments=args.instruments, seed=args.universe_seed)
        )
        self.risk_cfg = RiskConfig(
            n_scenarios=args.scenarios,
            window_days=args.scenarios,  # historical simulation: one scenario per daily move
            snapshot_interval_ms=args.snapshot_ms,
            horizons_days=(1,),
            confidence_levels=(0.99,),
            background_recompute=True,  # as the live risk node runs
        )
        self.history = simulated_history(self.universe, args.scenarios + 1, args.universe_seed)
        self.reference = LimitsReference.from_universe(self.universe)
        # the reference DB the position keeper starts from: written once, copied per run
        from riskstream.store.refdb import RefDB

        self.folder = tempfile.TemporaryDirectory(prefix="rs-flash-")
        self.refdb = f"{self.folder.name}/refdata.db"
        db = RefDB(f"sqlite:///{self.refdb}")
        db.migrate()
        db.save_universe(self.universe)
        db.close()
        pos = self.universe.positions
        self.q0 = pos["quantity"].to_numpy().astype(np.float64)
        self.inst0 = pos["instrument_id"].to_numpy().astype(np.int64)
        self.vpp = self.reference.multiplier * self.reference.fx0


def _simulator(setup: _Setup, seed: int, scenario: str | None, start: dt.time, args) -> Any:
    from riskstream.feeds.config import SimulatorConfig
    from riskstream.feeds.simulator import MarketSimulator

    day = setup.universe.as_of
    cfg = SimulatorConfig(
        seed=seed,
        events_per_s=args.events_per_s,
        batch_events=args.batch_events,
        start=dt.datetime.combine(day, start),
    )
    return MarketSimulator(setup.universe, cfg, scenario)


def _value(q: np.ndarray, inst: np.ndarray, fair: np.ndarray, vpp: np.ndarray) -> float:
    return float((q * np.nan_to_num(fair[inst]) * vpp[inst]).sum())


def live_run(setup: _Setup, seed: int, scenario: str | None, start: dt.time, minutes: float,
             args) -> dict[str, Any]:  # fmt: skip
    """One window with the policy on, live; its P&L marked at the fair values at the end."""
    from riskstream.bus.checkpoint import MemoryCheckpointStore
    from riskstream.bus.memory import MemoryBus
    from riskstream.bus.topics import MemoryTopics
    from riskstream.cli.engine import build_engine
    from riskstream.core.state import MarketState
    from riskstream.limits.config import LimitsConfig
    from riskstream.limits.execution import GatewayVenue
    from riskstream.limits.stage import build_limits_stage
    from riskstream.md.config import MdConfig
    from riskstream.positions import PositionKeeper
    from riskstream.risk.stage import RiskStage
    from riskstream.runtime.config import RuntimeConfig
    from riskstream.runtime.feed import FeedNode
    from riskstream.runtime.limits import LimitsNode
    from riskstream.runtime.md import MdNode
    from riskstream.runtime.node import NodeHost
    from riskstream.runtime.readers import DeltaReader, KeeperNode
    from riskstream.runtime.risk import MarketClock, RiskNode
    from riskstream.store.refdb import RefDB

    sim = _simulator(setup, seed, scenario, start, args)
    n = len(setup.universe)
    v0 = _value(setup.q0, setup.inst0, sim.model.fair, setup.vpp)
    scratch = tempfile.TemporaryDirectory(prefix="rs-flash-")
    shutil.copyfile(setup.refdb, f"{scratch.name}/refdata.db")
    db = RefDB(f"sqlite:///{scratch.name}/refdata.db")
    topics = MemoryTopics()
    bus = MemoryBus()
    runtime = RuntimeConfig(feed_tick_ms=args.tick_ms, delta_interval_ms=args.tick_ms)
    keeper = KeeperNode(PositionKeeper(db, topics))
    state = MarketState(n)
    engine = build_engine(setup.universe, setup.risk_cfg, history=setup.history, market=state)
    engine.clock = clock = MarketClock(sim.start_ns)
    engine.refresh()  # compiled before the clock starts (not a snapshot)
    stage = RiskStage(engine)
    policy = LimitsConfig(
        auto_reduce=args.policy != "off",
        stop_loss_var_fraction=args.stop_loss_keep,
        stop_loss_var_multiple=args.stop_loss_var,
        reduction_target_utilisation=args.reduce_to,
        schedule_horizon_s=args.horizon_s,
    )
    risk = RiskNode(stage, clock, topics)
    # the limits node checks every snapshot risk publishes, on its own market-state replica
    # (as `riskstream up` runs it); its reduction orders go to the simulator's books
    limits_node = LimitsNode(
        topics,
        DeltaReader(topics, n),
        lambda holder, market: build_limits_stage(
            holder, None, config=policy, universe=setup.universe, market=market, topics=topics
        ),
    )
    limits = limits_node.stage
    limits.controller.venue = GatewayVenue(sim, limits.controller.venue)
    md = MdNode(n, MdConfig(), runtime, bus, topics, MemoryCheckpointStore())
    feed = FeedNode(sim.batches(), bus, speed=args.speedup, tick_ms=args.tick_ms)
    nodes = {"feed": feed, "md": md, "risk": risk, "limits": limits_node, "positions": keeper}
    order = ("feed", "md", "risk", "limits", "positions")  # data-flow order
    hosts = {k: NodeHost(v, topics, 1.0) for k, v in nodes.items()}
    for name in reversed(order):  # downstream first
        hosts[name].start()
    # the window ends when the feed has published its last market minute (not after a wall
    # duration: a feed that falls behind the wall clock on a busy machine would cut it short)
    end_ns = sim.start_ns + round(minutes * 60.0 * 1e9)
    started = time.perf_counter()
    while feed.market_ns < end_ns:
        time.sleep(0.01)
        dead = [k for k, h in hosts.items() if h.error is not None]
        if dead:
            raise RuntimeError(f"node {dead[0]} died: {hosts[dead[0]].error!r}")
    # stop in data-flow order, each after it has consumed what its upstream published
    for name in order:
        deadline = time.monotonic() + 10.0
        while name != "feed" and not nodes[name].idle() and time.monotonic() < deadline:
            time.sleep(0.01)
        hosts[name].stop()
        hosts[name].join(10.0)
    lag_ms = feed.lag_max_ns / 1e6
    with sim.lock:
        end_t = sim.model.t_ns
        fair = sim.model.fair.copy()
        # policy off: the same market without our orders' impact (nothing else differs)
        fair_off = sim.model.fair_without_impact()
    held = keeper.keeper.latest
    cash = -sum(  # what the fills paid us (sales +), base currency at the marks' FX
        a["quantity"] * a["avg_price"] * setup.vpp[a["instrument_id"]]
        for a in limits.controller.actions
    )
    pnl = _value(held.quantity, held.instrument_id, fair, setup.vpp) + cash - v0
    stats = limits.controller.stats
    crash_ns = None
    if scenario is not None and sim.model.scenario is not None:
        crash_ns = sim.start_ns + int(sim.model.scenario.start_s * 1e9)
    first = stats.first_breach_ns
    out = {
        "pnl": pnl,
        "held_pnl": _value(setup.q0, setup.inst0, fair_off, setup.vpp) - v0,
        "end_t_ns": end_t,
        "end_after_window_s": round((end_t - end_ns) / 1e9, 1),
        "triggers": stats.breaches,
        "programmes": len(limits.controller.programmes),
        "limits_acting": sorted({a["limit_id"] for a in limits.controller.actions}),
        "orders": stats.orders,
        "unfilled_orders": stats.unfilled,
        "cost_usd": stats.cost_usd,
        "traded_usd": stats.traded_notional_usd,
        "breach_to_action_ms": list(stats.breach_to_action_ms),
        "first_breach_after_start_s": None
        if first is None or crash_ns is None
        else round((first - crash_ns) / 1e9, 1),
        "var_end": float(stage.last.headline.var) if stage.last is not None else None,
        "refreshes": risk.published,
        "feed_lag_max_ms": round(lag_ms, 1),
        "feed_lag_p99_ms": feed.summary()["feed_lag_p99_ms"],
        "wall_s": round(time.perf_counter() - started, 1),
        "orders_at_venue": sim.orders_executed,
    }
    risk.close()
    limits_node.close()
    scratch.cleanup()
    return out


def _q(values: list[float], p: float) -> float | None:
    return round(float(np.percentile(values, p)), 0) if values else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds per crash shape")
    p.add_argument("--calm-days", type=int, default=20)
    p.add_argument("--volatile-days", type=int, default=5)
    p.add_argument("--shapes", default="may-2010,aug-2015,mar-2020")
    p.add_argument("--speedup", type=float, default=240.0, help="market s per wall s")
    p.add_argument("--window-min", type=float, default=30.0, help="calm/volatile window")
    p.add_argument("--instruments", type=int, default=1000)
    p.add_argument("--universe-seed", type=int, default=7)
    p.add_argument("--events-per-s", type=float, default=500.0)
    p.add_argument("--batch-events", type=int, default=256)
    p.add_argument("--tick-ms", type=float, default=5.0, help="feed tick and md delta, wall")
    p.add_argument("--snapshot-ms", type=int, default=20, help="risk refresh interval, wall")
    p.add_argument("--scenarios", type=int, default=500)
    p.add_argument("--policy", choices=("on", "off"), default="on")
    p.add_argument("--stop-loss-var", type=float, default=0.5, help="hard, x one-day VaR")
    p.add_argument("--stop-loss-keep", type=float, default=0.1)
    p.add_argument("--reduce-to", type=float, default=0.5)
    p.add_argument("--horizon-s", type=float, default=15.0)
    p.add_argument("--quick", action="store_true", help="a tiny end-to-end run (tests)")
    p.add_argument("--full", action="store_true", help="whole sessions for the ordinary days")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.calm_days, args.volatile_days = 1, 1, 1
        args.instruments, args.scenarios, args.window_min = 200, 250, 4.0
        args.shapes = "may-2010"
    if args.full:
        args.window_min = SESSION_S / 60.0
    t0 = time.perf_counter()
    setup = _Setup(args)
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quick else print
    rows: list[dict[str, Any]] = []

    def one(kind: str, name: str, seed: int, scenario: str | None, start: dt.time,
            minutes: float) -> None:  # fmt: skip
        run = live_run(setup, seed, scenario, start, minutes, args)
        off = run["held_pnl"]
        run.update(kind=kind, name=name, seed=seed, minutes=minutes)
        run["avoided"] = run["pnl"] - off
        rows.append(run)
        say(
            f"{name:>12} seed {seed:>3}: avoided {run['avoided']:>14,.0f}  held "
            f"{off:>14,.0f}  triggers {run['triggers']}  orders {run['orders']}  "
            f"wall {run['wall_s']} s"
        )

    shapes = [s for s in args.shapes.split(",") if s]
    for shape in shapes:
        start, minutes = CRASH_WINDOWS[shape]
        if args.quick:
            minutes = args.window_min
        for seed in range(1, args.seeds + 1):
            one("crash", shape, seed, shape, start, minutes)
    for d in range(args.calm_days):
        one("calm", "calm", 1000 + d, None, CALM_START, args.window_min)
    for d in range(args.volatile_days):
        one("volatile", "volatile", 2000 + d, "volatile-day", CALM_START, args.window_min)

    crash = [r for r in rows if r["kind"] == "crash"]
    days = [r for r in rows if r["kind"] != "crash"]
    per_day = [SESSION_S / (r["minutes"] * 60.0) for r in days]
    avoided = [r["avoided"] for r in crash]
    latencies = [x for r in rows for x in r["breach_to_action_ms"]]
    per_scenario = []
    for name in (
        shapes + (["calm"] if args.calm_days else []) + (["volatile"] if args.volatile_days else [])
    ):
        sel = [r for r in rows if r["name"] == name]
        delays = [r["first_breach_after_start_s"] for r in sel]
        delays = [d for d in delays if d is not None]
        per_scenario.append(
            {
                "scenario": name,
                "runs": len(sel),
                "loss_avoided_usd_median": _q([r["avoided"] for r in sel], 50),
                "loss_avoided_usd_p10": _q([r["avoided"] for r in sel], 10),
                "loss_avoided_usd_p90": _q([r["avoided"] for r in sel], 90),
                "held_pnl_usd_median": _q([r["held_pnl"] for r in sel], 50),
                "triggered_runs": sum(r["triggers"] > 0 for r in sel),
                "first_breach_after_crash_start_s_median": _q(delays, 50),
                "reduction_cost_usd_median": _q([r["cost_usd"] for r in sel], 50),
                "traded_usd_median": _q([r["traded_usd"] for r in sel], 50),
                "unfilled_orders": sum(r["unfilled_orders"] for r in sel),
                "limits_acting": sorted({x for r in sel for x in r["limits_acting"]}),
            }
        )
    result = {
        "benchmark": "flash_crash",
        "live": True,
        "speedup": args.speedup,
        "crash_runs": len(crash),
        "calm_days": args.calm_days,
        "volatile_days": args.volatile_days,
        "loss_avoided_usd_median": _q(avoided, 50),
        "loss_avoided_usd_p10": _q(avoided, 10),
        "loss_avoided_usd_p90": _q(avoided, 90),
        "calm_cost_usd_mean": round(
            float(np.mean([-r["avoided"] * k for r, k in zip(days, per_day, strict=True)])), 0
        )
        if days
        else None,
        "false_triggers_per_day": round(
            float(np.mean([r["triggers"] * k for r, k in zip(days, per_day, strict=True)])), 3
        )
        if days
        else None,
        "false_trigger_windows": sum(r["triggers"] > 0 for r in days),
        "breach_to_action_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else None,
        "breach_to_action_samples": len(latencies),
        "per_scenario": per_scenario,
        # the last snapshot's 99% one-day VaR, median over the runs (after any reduction)
        "var_99_1d_usd_end": round(
            float(np.median([r["var_end"] for r in rows if r["var_end"]])), 0
        ),
        "gross_usd": round(
            float(np.abs(setup.q0 * (setup.reference.ref_price * setup.vpp)[setup.inst0]).sum()),
            0,
        ),
        "feed_lag_max_ms": max(r["feed_lag_max_ms"] for r in rows),
        "end_after_window_s_max": max(r["end_after_window_s"] for r in rows),
        # the feed's lag behind the wall clock, worst run's p99 (events late to the bus)
        "feed_lag_p99_ms": max((r["feed_lag_p99_ms"] or 0.0) for r in rows),
        "params": {
            k: getattr(args, k)
            for k in (
                "seeds",
                "speedup",
                "window_min",
                "instruments",
                "events_per_s",
                "tick_ms",
                "snapshot_ms",
                "scenarios",
                "policy",
                "stop_loss_var",
                "stop_loss_keep",
                "reduce_to",
                "horizon_s",
                "full",
            )
        },
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    main()
