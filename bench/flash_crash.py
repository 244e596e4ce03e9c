"""The flash-crash proof: the reference portfolio through the simulator's flash crash, twice.

Run 1 ("without"): market simulator → order books (md) → risk engine, positions held.
Run 2 ("with"): the same, plus the limits stage acting — monitor every snapshot, kill
switch on a hard breach, automatic reduction along the Almgren-Chriss trajectory, child
orders filled against the reconstructed books (spread and depth paid, measured) — and the
regime stage on md's observed mids switching the risk engine to the detected regime's
volatility and correlation (``risk.regime_conditional``; ``--no-regime`` leaves it out), so
the VaR limit sees the crisis as soon as the detector does, before the losses run.

The simulator is deterministic for a seed and our orders do not move its prices, so both
runs see the same market; the difference in P&L is what the limits did, *net of the
reduction trades' costs* (fills are booked at their executed prices). P&L is the change in
mark-to-market value of the positions (risk engine's valuation at the books' mids) plus
the cash from sales.

Reported: ``loss_avoided_usd`` (final P&L with limits minus without), the same at the
trough of the crash (``trough_loss_avoided_usd``), ``reduction_trades``,
``reduction_cost_usd`` (executed price against mid, base currency),
``breach_to_action_ms`` (snapshot carrying the first hard breach received → kill switch
engaged and first reduction order sent, wall clock), and the kill-switch states. The last
line is one JSON object.

    PYTHONPATH=src python bench/flash_crash.py [--events-per-s 20000] [--snapshot-s 1] [--no-regime]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from typing import Any

import numpy as np


def _market(args: argparse.Namespace) -> tuple[Any, Any]:
    """The reference universe and the flash-crash simulator over it."""
    from riskstream.feeds.config import SimulatorConfig, UniverseConfig
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.feeds.universe import generate_universe

    universe = generate_universe(UniverseConfig(seed=args.universe_seed))
    config = SimulatorConfig(seed=args.seed, events_per_s=args.events_per_s)
    return universe, MarketSimulator(universe, config, "flash-crash")


def _limits_stage(risk_stage: Any, md: Any, universe: Any, topics: Any) -> Any:
    """The limits stage behind the risk stage, filling against the reconstructed books and
    publishing its fills to the position keeper."""
    from riskstream.limits.config import LimitsConfig
    from riskstream.limits.stage import build_limits_stage

    return build_limits_stage(
        risk_stage, md, config=LimitsConfig(auto_reduce=True), universe=universe, topics=topics
    )


def _keeper(universe: Any, folder: str) -> tuple[Any, Any]:
    """The position keeper (the one writer of positions) on a scratch SQLite reference DB
    holding the universe, and the in-memory topics it shares with the stages."""
    from riskstream.bus.topics import MemoryTopics
    from riskstream.positions import PositionKeeper
    from riskstream.store.refdb import RefDB

    db = RefDB(f"sqlite:///{folder}/refdata.db")
    db.migrate()
    db.save_universe(universe)
    topics = MemoryTopics()
    return PositionKeeper(db, topics), topics


def _regime_switch(
    args: argparse.Namespace, universe: Any, sim: Any, engine: Any
) -> tuple[Any, Any]:
    """The demo's regime stage on md's observed mids, its publications switching the risk
    engine (:class:`riskstream.cli.regime.RegimeSwitch`). Its model is the demo's, trained
    once at this bench's event rate (observed mids are sparser here than at the demo's
    200,000 events/s) and cached under ``.riskstream/bench``."""
    from pathlib import Path

    from riskstream.cli.regime import RegimeSwitch, demo_regime_stage, ensure_demo_model
    from riskstream.settings import Settings

    cfg = Settings()
    path = Path(".riskstream/bench") / f"regime-{args.events_per_s:g}.model"
    cfg = cfg.model_copy(update={"regime": cfg.regime.model_copy(update={"model_path": path})})
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_demo_model(cfg, universe, sim, lambda msg: print(msg, flush=True))
    stage = demo_regime_stage(cfg, universe, engine.market)
    switch = RegimeSwitch(engine, stage.model, cfg.regime)
    stage.publish = switch
    return stage, switch


def run(acting: bool, args: argparse.Namespace) -> dict[str, Any]:
    from riskstream.cli.engine import build_engine, simulated_history
    from riskstream.core.messages import SUBJECTS
    from riskstream.md.engine import MarketDataEngine
    from riskstream.risk.config import RiskConfig
    from riskstream.risk.stage import RiskStage

    universe, sim = _market(args)
    risk_cfg = RiskConfig(
        n_scenarios=args.scenarios,
        window_days=args.scenarios,  # historical simulation: one scenario per daily move
        snapshot_interval_ms=int(args.snapshot_s * 1000),
        horizons_days=(1,),
        confidence_levels=(0.99,),
        regime_conditional=acting and args.regime,
    )
    # Scenarios from the simulator's own daily history of this universe (the market model
    # the flash crash runs on), window_days + 1 business days ending today.
    history = simulated_history(universe, risk_cfg.window_days + 1, args.seed)
    engine = build_engine(universe, risk_cfg, history=history)
    md = MarketDataEngine(len(universe), market_state=engine.market)
    scratch = tempfile.TemporaryDirectory(prefix="rs-flash-")
    keeper, topics = _keeper(universe, scratch.name) if acting else (None, None)
    positions = None if topics is None else topics.subscribe(SUBJECTS["positions"], 0)
    risk_stage = RiskStage(engine, positions=positions)
    first = engine.refresh(sim.now_ns)
    risk_stage.last = first
    limits = _limits_stage(risk_stage, md, universe, topics) if acting else None
    regime, switch = (
        _regime_switch(args, universe, sim, engine) if acting and args.regime else (None, None)
    )

    def value() -> float:
        # mark to market: price x multiplier x FX (option premiums, futures notionals whose
        # changes are the variation margin), the same convention the fills are booked in;
        # the positions are the keeper's (every fill applied) when limits act
        mark = np.nan_to_num(engine.price * engine.multiplier * engine.fx)
        if keeper is None:
            return float((engine.pos_qty * mark[engine.pos_inst]).sum())
        held = keeper.latest
        return float((held.quantity * mark[held.instrument_id]).sum())

    v0 = value()
    crash_ns = sim.start_ns + round(sim.config.flash_crash.at_s * 1e9)

    def after_crash_s(ts_ns: int) -> float:
        return round((ts_ns - crash_ns) / 1e9, 2)

    path: list[tuple[int, float]] = []
    started = time.perf_counter()
    events = 0
    for batch, now_ns in sim.batches(args.seconds):
        md.process(batch, now_ns)
        events += len(batch)
        if regime is not None:
            regime.on_batch(batch, now_ns)  # may switch the engine's conditioning
        before = risk_stage.snapshots
        risk_stage.on_batch(batch, now_ns)
        if limits is not None:
            limits.on_batch(batch, now_ns)
            keeper.on_batch(batch, now_ns)  # the fills of this batch, before the marks
        if risk_stage.snapshots != before:
            cash = 0.0
            if limits is not None:
                cash = -sum(
                    a["quantity"]
                    * a["avg_price"]
                    * limits.controller.market.value_per_price[a["instrument_id"]]
                    for a in limits.controller.actions
                )
            path.append((now_ns, value() + cash - v0))
    wall = time.perf_counter() - started
    if keeper is not None:
        engine.send(keeper.latest)  # the engine values the last fills too
    engine.refresh(sim.now_ns)
    cash = 0.0
    out: dict[str, Any] = {"events": events, "wall_s": round(wall, 1), "snapshots": len(path)}
    if limits is not None:
        vpp = limits.controller.market.value_per_price
        cash = -sum(
            a["quantity"] * a["avg_price"] * vpp[a["instrument_id"]]
            for a in limits.controller.actions
        )
        out.update(limits.summary())
        out["limits"] = len(limits.controller.monitor.limits_)
        out["venue_fallback_books"] = getattr(limits.controller.venue.depth, "fallbacks", 0)
        breach_ns = limits.controller.stats.first_breach_ns
        out["first_breach_after_crash_start_s"] = (
            None if breach_ns is None else after_crash_s(breach_ns)
        )
    if switch is not None:
        out.update(switch.summary())
        out["regime_switch_log"] = [(after_crash_s(t), name) for t, name in switch.log]
    out["pnl_final"] = value() + cash - v0
    out["pnl_path"] = path
    out["var0"] = first.headline.var
    out["gross0"] = float(np.abs(engine.pos_qty * engine.unit_value[engine.pos_inst]).sum())
    out["scenario_log"] = sim.scenario_log().to_dicts()
    scratch.cleanup()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--universe-seed", type=int, default=7)
    p.add_argument(
        "--events-per-s",
        type=float,
        default=20000.0,
        help="simulated events per second: enough quotes on the regime model's instruments "
        "for the detector to see the crisis within seconds (at 5,000 it cannot)",
    )
    p.add_argument("--snapshot-s", type=float, default=1.0)
    p.add_argument("--scenarios", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=None, help="default: through the recovery")
    p.add_argument(
        "--no-regime",
        dest="regime",
        action="store_false",
        help="limits act on the unconditional risk (no regime switching)",
    )
    args = p.parse_args()
    if args.seconds is None:
        from riskstream.feeds.config import SimulatorConfig

        fc = SimulatorConfig().flash_crash
        args.seconds = fc.at_s + fc.fall_s + fc.trough_s + fc.recovery_s + 30.0

    without = run(False, args)
    with_limits = run(True, args)
    base = dict(without["pnl_path"])
    acted = dict(with_limits["pnl_path"])
    common = sorted(set(base) & set(acted))
    trough_t = min(common, key=lambda t: base[t])
    result = {
        "benchmark": "flash_crash",
        "loss_avoided_usd": round(with_limits["pnl_final"] - without["pnl_final"], 2),
        "trough_loss_avoided_usd": round(acted[trough_t] - base[trough_t], 2),
        "pnl_without_usd": round(without["pnl_final"], 2),
        "pnl_with_usd": round(with_limits["pnl_final"], 2),
        "trough_pnl_without_usd": round(base[trough_t], 2),
        "trough_pnl_with_usd": round(acted[trough_t], 2),
        "reduction_trades": with_limits["reduction_trades"],
        "reduction_cost_usd": with_limits["reduction_cost_usd"],
        "reduction_traded_notional_usd": with_limits["reduction_traded_notional_usd"],
        "breach_to_action_ms": with_limits["breach_to_action_ms"],
        "limit_breaches": with_limits["limit_breaches"],
        "kill_switches": with_limits["kill_switches"],
        "first_breach_after_crash_start_s": with_limits.get("first_breach_after_crash_start_s"),
        "regime_conditional": args.regime,
        "regime_switches": with_limits.get("regime_switch_log"),
        "regime_switch_ms_max": with_limits.get("risk_regime_switch_ms_max"),
        # the acting run's own counterfactual (its initial positions marked to the same
        # prices): must agree with the two-run difference, the market being the same
        "single_run_loss_avoided_usd": with_limits["loss_avoided_usd"],
        "limits": with_limits["limits"],
        "venue_fallback_books": with_limits["venue_fallback_books"],
        "gross_exposure_usd": round(without["gross0"], 0),
        "var_99_1d_usd": round(without["var0"], 0),
        "events_per_run": without["events"],
        "snapshots_per_run": without["snapshots"],
        "wall_s": [without["wall_s"], with_limits["wall_s"]],
        "params": {
            "seed": args.seed,
            "events_per_s": args.events_per_s,
            "snapshot_s": args.snapshot_s,
            "scenarios": args.scenarios,
            "seconds": args.seconds,
        },
        "scenario_log": without["scenario_log"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
