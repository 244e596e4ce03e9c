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

The regime node runs in every run as ``riskstream up`` builds it (the demo's model, fitted
once here as the demo fits it): its detection costs market time, and its lag from each
crash's start to its first stressed reading is reported; with ``--regime-conditional``
(the project's ``risk.regime_conditional``, off by default) its switches reach risk as
RegimeChanged messages.

Days: ``--calm-days`` windows of the ordinary simulator (regime chain from calm) and
``--volatile-days`` with the volatile regime held; every new hard breach on them (each
starts a reduction programme) is a false trigger. Windows are ``--window-min`` of market
time at stratified session times (the crash shapes longer, to their end). A stop-loss is
a drawdown rule, so a window's triggers times 13 is no estimate of a day's: the day's
probability comes from the drawdown law at the window's realised volatility
(:func:`ordinary_day_figures`, :mod:`riskstream.limits.drawdown`); ``--full`` runs whole
sessions and counts them.

Independent runs go to ``--workers`` processes (default 2; see docs/benchmarks.md for why
two live runs side by side on two cores still measure the path).

    PYTHONPATH=src python bench/flash_crash.py [--seeds 10] [--calm-days 20]
        [--volatile-days 5] [--speedup 240] [--workers 2] [--quick] [--full]

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
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.limits.drawdown import drawdown_exceedance, realised_sd

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

    def __init__(self, args: argparse.Namespace, model_path: Path | None = None):
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
        # the regime node's model, fitted as the demo fits it at first start
        # (`riskstream.cli.regime.ensure_demo_model`: the ensemble on 20 simulated minutes of
        # md's observed mids of the most liquid instruments, the regime chain 40x faster),
        # once: every run's regime node loads the same file
        from riskstream.cli.regime import DEMO_FIT_MINUTES, DEMO_REGIME_SPEED, fit_demo_model
        from riskstream.feeds.simulator import MarketSimulator
        from riskstream.settings import Settings

        base = Settings()
        self.settings = base.model_copy(
            update={
                "regime": base.regime.model_copy(
                    update={"model_path": model_path or Path(self.folder.name) / "regime.model"}
                ),
                "risk": base.risk.model_copy(
                    update={"regime_conditional": args.regime_conditional}
                ),
            }
        )
        # md's kernels compiled (or loaded from numba's cache) before any clock starts, as
        # the wiring does for `riskstream up`: the first run of a process must not compile
        # them while its market runs
        from riskstream.md.config import MdConfig
        from riskstream.runtime.md import warm_up

        warm_up(MdConfig())
        if model_path is None:  # a worker loads the file its parent fitted
            fit_demo_model(
                self.settings, self.universe, MarketSimulator(self.universe, base.simulator),
                DEMO_FIT_MINUTES, DEMO_REGIME_SPEED,
            )  # fmt: skip


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
    from riskstream.runtime.wiring import Wiring, build_node
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
    risk = RiskNode(stage, clock, topics, regime_conditional=args.regime_conditional)
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
    # the regime node as `riskstream up` builds it (its own replica of md's deltas, the
    # ensemble stepped every bar of market time); with risk.regime_conditional its switches
    # reach risk as RegimeChanged messages (off by default, as in the project's settings)
    regime = build_node(
        "regime", Wiring(setup.settings, setup.universe, bus, topics, say=lambda _: None)
    )
    nodes = {
        "feed": feed, "md": md, "risk": risk, "limits": limits_node, "positions": keeper,
        "regime": regime,
    }  # fmt: skip
    order = ("feed", "md", "risk", "limits", "positions", "regime")  # data-flow order
    hosts = {k: NodeHost(v, topics, 1.0) for k, v in nodes.items()}
    for name in reversed(order):  # downstream first
        hosts[name].start()
    # the window ends when the feed has published its last market minute (not after a wall
    # duration: a feed that falls behind the wall clock on a busy machine would cut it short)
    end_ns = sim.start_ns + round(minutes * 60.0 * 1e9)
    started = time.perf_counter()
    # the held book's value along the way (the referee: latent fair values without our
    # orders' impact), every ~50 ms of wall time: its realised variance is what the
    # ordinary-day stop-loss estimator needs (riskstream.limits.drawdown)
    path_t: list[int] = []
    path_v: list[float] = []
    next_sample = 0.0
    while feed.market_ns < end_ns:
        time.sleep(0.01)
        if time.perf_counter() >= next_sample:
            next_sample = time.perf_counter() + 0.05
            with sim.lock:
                t_ns, fair_held = sim.model.t_ns, sim.model.fair_without_impact()
            if t_ns <= end_ns and (not path_t or t_ns > path_t[-1]):
                path_t.append(t_ns)
                path_v.append(_value(setup.q0, setup.inst0, fair_held, setup.vpp))
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
    path_t.append(end_t)
    path_v.append(_value(setup.q0, setup.inst0, fair_off, setup.vpp))
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
    # regime detection: the node's reading at every bar (market time); the lag is from the
    # crash's start to the first reading of a stressed regime (volatile or crisis) after it
    reg_ts, reg = regime.stage.history()
    regime_lag = crisis_lag = None
    stressed_at_start = None
    if crash_ns is not None and len(reg_ts):
        before = reg[reg_ts < crash_ns]
        stressed_at_start = bool(len(before) and before[-1] >= 1)
        after = reg_ts >= crash_ns
        hit = np.flatnonzero(after & (reg >= 1))
        regime_lag = None if not len(hit) else round((reg_ts[hit[0]] - crash_ns) / 1e9, 2)
        hit = np.flatnonzero(after & (reg >= 2))
        crisis_lag = None if not len(hit) else round((reg_ts[hit[0]] - crash_ns) / 1e9, 2)
    drawdown_limits = [
        lim.hard
        for lim in limits.limits_in_force()
        if lim.limit_type.value == "drawdown" and lim.scope.value == "firm"
    ]
    programmes = limits.controller.programmes
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
        # child orders a halted scope refused: a circuit breaker (price gap, stale feed)
        # halts the firm or an instrument, and halted means no orders, reductions included
        "blocked_orders": stats.blocked,
        "breaker_trips": dict(limits.breaker.trips) if limits.breaker is not None else {},
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
        # ordinary-day estimator inputs (see main): the firm stop-loss in force and the
        # held P&L's sd over a session from this window's realised variance
        "stop_loss_hard_usd": drawdown_limits[0] if drawdown_limits else None,
        "held_sd_session_usd": realised_sd(
            (np.array(path_t) - path_t[0]) / 1e9, np.array(path_v), SESSION_S
        )
        if len(path_t) >= 2 and path_t[-1] > path_t[0]
        else None,
        "drawdown_programmes": sum(k.endswith("/drawdown") for k in programmes),
        "other_programmes": sum(not k.endswith("/drawdown") for k in programmes),
        "regime_updates": len(reg),
        "regime_switches": int((np.diff(reg) != 0).sum()) if len(reg) > 1 else 0,
        "regime_market_s": round((reg_ts[-1] - reg_ts[0]) / 1e9, 1) if len(reg) > 1 else 0.0,
        "regime_stressed_share": round(float((reg >= 1).mean()), 4) if len(reg) else None,
        "regime_lag_s": regime_lag,
        "regime_crisis_lag_s": crisis_lag,
        "regime_stressed_at_crash_start": stressed_at_start,
        "risk_regime_switches": getattr(regime.switch, "switches", 0),
    }
    risk.close()
    limits_node.close()
    scratch.cleanup()
    return out


def _q(values: list[float], p: float) -> float | None:
    return round(float(np.percentile(values, p)), 0) if values else None


def _risk_default(name: str) -> Any:
    from riskstream.risk.config import RiskConfig

    return getattr(RiskConfig(), name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (defaults are the published run's)."""
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
    p.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1),
        help="processes running independent live runs side by side (1: in this process)",
    )  # fmt: skip
    p.add_argument(
        "--regime-conditional", action=argparse.BooleanOptionalAction,
        default=_risk_default("regime_conditional"),
        help="regime switches reach risk as RegimeChanged (default: the project's setting)",
    )  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a tiny end-to-end run (tests)")
    p.add_argument("--full", action="store_true", help="whole sessions for the ordinary days")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.calm_days, args.volatile_days = 1, 1, 1
        args.instruments, args.scenarios, args.window_min = 200, 250, 10.0
        args.shapes = "may-2010"
    if args.full:
        args.window_min = SESSION_S / 60.0
    return args


def window_starts(count: int, minutes: float, seed: int, full: bool) -> list[dt.time]:
    """Start times (UTC) of ``count`` ordinary-day windows of ``minutes``: one drawn uniformly
    in each of ``count`` equal strata of the session's possible starts (a stratified sample
    of the session, seeded), so the windows cover the open, the middle and the close as a
    day does; whole sessions (``full``) start at the open."""
    if full:
        return [OPEN_UTC] * count
    room = max(SESSION_S - minutes * 60.0, 0.0)
    u = np.random.default_rng(seed).random(count)
    offsets = (np.arange(count) + u) / max(count, 1) * room
    open_s = OPEN_UTC.hour * 3600 + OPEN_UTC.minute * 60
    return [(dt.datetime.min + dt.timedelta(seconds=open_s + int(x))).time() for x in offsets]


WARM_UP_JOB = ("warm-up", "warm-up", 0, "mar-2020", OPEN_UTC, 3.0)
"""A throw-away run each process makes before its first measured one: the gap-down's first
three minutes (a stop-loss breach 30-40 s after the gap, reduction orders into the books,
fills to the keeper), so every code path of a run is compiled — or loaded from numba's
on-disk cache — before a measured market runs. On a cold cache (a fresh checkout) each
process's first run otherwise compiled md's kernel for read-only batches, risk's
incremental kernels, the limit monitor's and the simulator's order matching inside its
window: ~10 s of wall time, 40 market minutes at 240x, and the first may-2010 run of each
worker did not act in time (found on a fresh machine, 2026-12-05). A deployment pays that
compilation once per code version; a measured crash must not."""


def warm_up(setup: _Setup, args: argparse.Namespace) -> None:
    """Run :data:`WARM_UP_JOB` and discard it."""
    _one(setup, WARM_UP_JOB, args)


def _one(setup: _Setup, job: tuple, args: argparse.Namespace) -> dict[str, Any]:
    kind, name, seed, scenario, start, minutes = job
    run = live_run(setup, seed, scenario, start, minutes, args)
    run.update(kind=kind, name=name, seed=seed, minutes=minutes, start_utc=start.isoformat())
    run["avoided"] = run["pnl"] - run["held_pnl"]
    return run


def _line(run: dict[str, Any]) -> str:
    return (
        f"{run['name']:>12} seed {run['seed']:>4} {run['start_utc']}: avoided "
        f"{run['avoided']:>14,.0f}  held {run['held_pnl']:>14,.0f}  triggers {run['triggers']}"
        f"  orders {run['orders']} (blocked {run['blocked_orders']}, breaker trips "
        f"{run['breaker_trips']})  regime lag {run['regime_lag_s']}  wall {run['wall_s']} s"
        f"  feed lag p99 {run['feed_lag_p99_ms']} ms  regime {run['regime_updates']} updates,"
        f" {run['regime_switches']} switches over {run['regime_market_s']} market s"
    )


def run_jobs(setup: _Setup, jobs: list[tuple], args: argparse.Namespace, say) -> list[dict]:
    """Every live run; longest first, so the workers finish together.

    With ``args.workers`` > 1, in that many worker processes (this script with
    ``--worker``), each building the same setup (the universe, history and reference DB
    are seeded; the regime model is the file this process fitted) and then running the
    jobs it is handed one at a time: each run is still one process's threads — its own
    nodes, bus and simulator — as in ``riskstream demo``. Processes, not a fork of this
    one: forking a process whose numerical libraries have started thread pools can
    deadlock the child. With one worker, in this process.
    """
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][5])
    rows: dict[int, dict] = {}
    if args.workers <= 1 or len(jobs) <= 1:
        warm_up(setup, args)
        for i in order:
            rows[i] = _one(setup, jobs[i], args)
            say(_line(rows[i]))
        return [rows[i] for i in range(len(jobs))]
    import queue as queue_mod
    import subprocess
    import threading

    todo: queue_mod.Queue[int] = queue_mod.Queue()
    for i in order:
        todo.put(i)
    errors: list[str] = []
    config = dict(vars(args), model_path=str(setup.settings.regime.model_path))

    def feed_worker() -> None:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config) + "\n")
        try:
            while not errors:
                try:
                    i = todo.get_nowait()
                except queue_mod.Empty:
                    break
                kind, name, seed, scenario, start, minutes = jobs[i]
                job = [kind, name, seed, scenario, start.isoformat(), minutes]
                proc.stdin.write(json.dumps(job) + "\n")
                line = proc.stdout.readline()
                if not line:
                    errors.append(f"worker ended during run {jobs[i][:3]} (rc {proc.wait()})")
                    break
                rows[i] = json.loads(line)
                say(_line(rows[i]))
        finally:
            proc.stdin.close()
            proc.wait(30.0)

    threads = [threading.Thread(target=feed_worker) for _ in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors or len(rows) < len(jobs):
        raise RuntimeError(errors[0] if errors else f"{len(jobs) - len(rows)} runs not done")
    return [rows[i] for i in range(len(jobs))]


def worker_main() -> None:
    """``--worker``: the first stdin line is the run's settings (JSON), each later line a
    job; one JSON result line per job on stdout. Progress and errors go to stderr."""
    out, sys.stdout = sys.stdout, sys.stderr  # only result lines on the pipe
    config = json.loads(sys.stdin.readline())
    args = argparse.Namespace(**config)
    setup = _Setup(args, model_path=Path(config["model_path"]))
    warm_up(setup, args)
    for line in sys.stdin:
        kind, name, seed, scenario, start, minutes = json.loads(line)
        job = (kind, name, seed, scenario, dt.time.fromisoformat(start), minutes)
        print(json.dumps(_one(setup, job, args), default=float), file=out, flush=True)


def ordinary_day_figures(days: list[dict], crash: list[dict], full: bool) -> dict[str, Any]:
    """False triggers and cost per ordinary day.

    Whole sessions (``full``): counted directly, per session. Windows: a window's trigger
    count times the windows in a day is no estimate of a day's for the stop-loss, a drawdown
    rule — whether it fires depends on ``h / (sigma sqrt(T))``, not linearly on ``T``
    (:mod:`riskstream.limits.drawdown`). So for each window the day's probability that the
    firm stop-loss fires is the Brownian drawdown law at the stop-loss in force (``h``) and
    the held P&L's sd over a session from the window's realised variance; the mean over the
    windows (stratified over the session) is the estimate of the days with a stop-loss — not
    of breaches: the drawdown is measured from the day's peak, which a cut does not reset,
    so a book that wobbles around the limit after a cut breaches again (counted in
    ``--full``, not here). Level limits (VaR, gross, position size) are breached at a
    moment, not over a path: their programmes scale with the time watched. The cost of a day
    is the expected triggers times the cost of one, measured on the ordinary windows that
    triggered (the policy-on P&L against holding, to the window's end); if none did, the
    crash runs' median trading cost (spread and depth paid against the mid, in thinner
    books: an upper bound on a calm book's).
    """
    if not days:
        return {"calm_cost_usd_mean": None, "false_triggers_per_day": None}
    scale = [SESSION_S / (r["minutes"] * 60.0) for r in days]
    out: dict[str, Any] = {
        "false_trigger_windows": sum(r["triggers"] > 0 for r in days),
        "ordinary_market_hours": round(sum(r["minutes"] for r in days) / 60.0, 2),
        # the old estimator, for comparison: triggers per window x windows in a day
        "false_triggers_per_day_linear": round(
            float(np.mean([r["triggers"] * k for r, k in zip(days, scale, strict=True)])), 3
        ),
    }
    if full:
        out["false_triggers_per_day"] = round(float(np.mean([r["triggers"] for r in days])), 3)
        out["calm_cost_usd_mean"] = round(float(np.mean([-r["avoided"] for r in days])), 0)
        out["ordinary_estimator"] = "counted over whole sessions"
        return out
    p_stop = []
    for r in days:
        h, sd = r["stop_loss_hard_usd"], r["held_sd_session_usd"]
        p_stop.append(float(drawdown_exceedance(h / sd)) if h and sd else float("nan"))
    other = [r["other_programmes"] * k for r, k in zip(days, scale, strict=True)]
    per_day = np.nanmean(p_stop) + float(np.mean(other))
    hit = [-r["avoided"] for r in days if r["triggers"] > 0]
    if hit:
        per_trigger, source = float(np.mean(hit)), "ordinary windows that triggered"
    else:
        per_trigger = float(np.median([r["cost_usd"] for r in crash])) if crash else float("nan")
        source = "crash runs' trading cost (no ordinary window triggered)"
    out.update(
        {
            "false_triggers_per_day": round(float(per_day), 3),
            "stop_loss_day_probability_mean": round(float(np.nanmean(p_stop)), 4),
            "stop_loss_x_median": round(
                float(
                    np.median(
                        [
                            r["stop_loss_hard_usd"] / r["held_sd_session_usd"]
                            for r in days
                            if r["held_sd_session_usd"]
                        ]
                    )
                ),
                3,
            ),
            "calm_cost_usd_mean": round(per_day * per_trigger, 0)
            if np.isfinite(per_trigger)
            else None,
            "cost_per_false_trigger_usd": round(per_trigger, 0)
            if np.isfinite(per_trigger)
            else None,
            "cost_per_false_trigger_from": source,
            "ordinary_estimator": "Brownian drawdown law per window (riskstream.limits.drawdown)",
        }
    )
    return out


def regime_figures(sel: list[dict]) -> dict[str, Any]:
    """The regime node's detection in a set of runs: lag from a crash's start to the first
    stressed reading (median, market seconds), and switches per session-length day."""
    lags = [r["regime_lag_s"] for r in sel if r["regime_lag_s"] is not None]
    crisis = [r["regime_crisis_lag_s"] for r in sel if r["regime_crisis_lag_s"] is not None]
    market_s = sum(r["regime_market_s"] for r in sel)
    return {
        "regime_lag_s_median": round(float(np.median(lags)), 1) if lags else None,
        "regime_lag_s_max": round(float(np.max(lags)), 1) if lags else None,
        "regime_detected_runs": len(lags),
        "regime_crisis_lag_s_median": round(float(np.median(crisis)), 1) if crisis else None,
        "regime_stressed_at_crash_start": sum(
            bool(r["regime_stressed_at_crash_start"]) for r in sel
        ),
        "regime_switches_per_day": round(
            sum(r["regime_switches"] for r in sel) / market_s * SESSION_S, 2
        )
        if market_s
        else None,
        # the node's cadence: it updates at most once a bar, once per pass of its loop (in
        # this bench ~8-10 times a market minute, its loop sharing one interpreter with the
        # other nodes), so switches a day depend on the cadence: compare runs per update too
        "regime_updates_per_market_min": round(
            sum(r["regime_updates"] for r in sel) / market_s * 60.0, 1
        )
        if market_s
        else None,
        "regime_switches_per_update": round(
            sum(r["regime_switches"] for r in sel) / max(sum(r["regime_updates"] for r in sel), 1),
            4,
        ),
        "regime_stressed_share": round(
            float(np.mean([r["regime_stressed_share"] or 0.0 for r in sel])), 3
        ),
        "risk_regime_switches": sum(r["risk_regime_switches"] for r in sel),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    t0 = time.perf_counter()
    setup = _Setup(args)
    say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quick else print
    shapes = [s for s in args.shapes.split(",") if s]
    jobs: list[tuple[str, str, int, str | None, dt.time, float]] = []
    for shape in shapes:
        start, minutes = CRASH_WINDOWS[shape]
        if args.quick:
            minutes = args.window_min
        jobs += [("crash", shape, seed, shape, start, minutes) for seed in range(1, args.seeds + 1)]
    for kind, scenario, first, count in (
        ("calm", None, 1000, args.calm_days), ("volatile", "volatile-day", 2000, args.volatile_days)
    ):  # fmt: skip
        for d, start in enumerate(window_starts(count, args.window_min, first, args.full)):
            jobs.append((kind, kind, first + d, scenario, start, args.window_min))
    rows = run_jobs(setup, jobs, args, say)

    crash = [r for r in rows if r["kind"] == "crash"]
    days = [r for r in rows if r["kind"] != "crash"]
    ordinary = ordinary_day_figures(days, crash, args.full)
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
                "blocked_orders": sum(r["blocked_orders"] for r in sel),
                "stale_feed_trips": sum(r["breaker_trips"].get("stale_feed", 0) for r in sel),
                "price_gap_trips": sum(r["breaker_trips"].get("price_gap", 0) for r in sel),
                "limits_acting": sorted({x for r in sel for x in r["limits_acting"]}),
                **regime_figures(sel),
            }
        )
        if name in ("calm", "volatile"):  # this class's own per-day estimate
            day = ordinary_day_figures(sel, crash, args.full)
            per_scenario[-1]["false_triggers_per_day"] = day["false_triggers_per_day"]
            per_scenario[-1]["held_sd_session_usd_median"] = _q(
                [r["held_sd_session_usd"] for r in sel if r["held_sd_session_usd"]], 50
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
        # what calm_days / volatile_days count: whole sessions (--full) or session windows
        "ordinary_days_are": "whole sessions" if args.full else f"{args.window_min:g}-min windows",
        **ordinary,
        "regime_lag_s": {
            row["scenario"]: row["regime_lag_s_median"]
            for row in per_scenario
            if row["scenario"] in shapes
        },
        "regime_switches_per_day": {
            row["scenario"]: row["regime_switches_per_day"]
            for row in per_scenario
            if row["scenario"] in ("calm", "volatile")
        },
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
                "workers",
                "regime_conditional",
            )
        },
        "wall_s": round(time.perf_counter() - t0, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, default=str))
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker_main()
    else:
        main()
