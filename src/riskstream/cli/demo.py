"""``riskstream demo``: the main job, on embedded defaults.

Generates (or reuses) the reference universe, runs the market simulator through every
pipeline stage that exists, and shows a live terminal view until Ctrl-C or ``--duration``.
With ``--json`` the last line of standard output is one JSON summary object (the live view
then goes to standard error).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from riskstream.bus import open_bus
from riskstream.bus.relay import through_bus
from riskstream.bus.topics import MemoryTopics, Topics
from riskstream.cli import app, print_json, settings
from riskstream.cli.engine import build_engine, load_history
from riskstream.cli.regime import RegimeSwitch, demo_regime_stage, ensure_demo_model
from riskstream.cli.universe import ensure_universe, open_refdb
from riskstream.core import MarketState, Universe
from riskstream.core.messages import SUBJECTS
from riskstream.limits.stage import build_limits_stage
from riskstream.md.reasons import reason_text
from riskstream.md.stage import MdStage
from riskstream.pipeline import Pipeline, Stage
from riskstream.positions import PositionKeeper
from riskstream.risk.stage import RiskStage
from riskstream.service.feed import ServiceStage
from riskstream.service.launch import RunningService, start_service
from riskstream.settings import Settings
from riskstream.store.history import HistoryStore
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.stage import HistoryStage

REGIME_NAMES = {0: "calm", 1: "volatile", 2: "crisis"}


def build_stages(
    cfg: Settings,
    universe: Universe,
    simulator: Any,
    service: RunningService | None = None,
    topics: Topics | None = None,
) -> list[Stage]:
    """The pipeline's stages in data-flow order. Each issue that adds a stage adds it here.

    Market data (sequencing, books, features) writes the shared :class:`MarketState`; the
    risk engine reads it and refreshes a snapshot every ``risk.snapshot_interval_ms`` of
    event time; history records ticks, feature snapshots and md's quarantine into Delta
    tables.
    """
    market_state = MarketState(len(universe))
    md = MdStage(len(universe), cfg.md, market_state)
    # positions: the keeper (the one writer) takes the API's requests and the reductions'
    # fills on `topics` and publishes versions the engine, limits and service follow
    topics = topics if topics is not None else MemoryTopics()
    keeper = PositionKeeper(open_refdb(cfg), topics, clock=simulator.clock)
    risk = RiskStage(
        build_engine(
            universe,
            cfg.risk,
            history=load_history(cfg),
            market=market_state,
            clock=simulator.clock,
            models=cfg.models,
        ),
        positions=topics.subscribe(SUBJECTS["positions"], start_after=0),
    )

    def quarantined() -> tuple[np.ndarray, np.ndarray, list[str]] | None:
        batch = md.drain_quarantine()
        if len(batch.events) == 0:
            return None
        return batch.events, batch.reason, reason_text(batch.reason)

    history = HistoryStage(
        HistoryStore(
            cfg.store.history,
            flush_rows=cfg.store.history_flush_rows,
            retention_hours=cfg.store.history_retention_hours,
        ),
        state=market_state,
        quarantine_source=quarantined,
        symbols=universe.instruments["symbol"].to_list(),
    )
    # Limits act on every snapshot: limits stored in the reference DB (set through the API
    # or `riskstream limits set`) overlay the reference ones sized on the first full
    # snapshot; kill switches persist there too; reductions fill against md's books.
    repo = LimitRepository(open_refdb(cfg))
    limits = build_limits_stage(
        risk,
        md.engine,
        config=cfg.limits,
        switch_store=repo,
        limit_store=repo,
        universe=universe,
        market=market_state,
        topics=topics,
    )
    stages: list[Stage] = [SimulatorStage(simulator), md, keeper, risk, limits, history]
    # regime detection on md's observed mids, when a model file exists (the demo trains
    # one at first start; `riskstream regime fit-sim` fits a longer one)
    regime = demo_regime_stage(cfg, universe, market_state)
    if regime is not None:
        stages.append(regime)
        # regime-conditional risk: the regime's publications switch the engine's scenarios
        if cfg.risk.regime_conditional:
            switch = RegimeSwitch(risk.engine, regime.model, cfg.regime)
            regime.publish = switch
            stages.append(switch)
    if service is not None:
        stages.append(ServiceStage(service.feed, risk, md, regime, limits_stage=limits))
    return stages


class SimulatorStage:
    """Reports what the simulator knows that no detector should: the true regime and the
    injected scenario (shown beside the detected ones, for scoring by eye)."""

    name = "simulator"

    def __init__(self, simulator: Any):
        self.simulator = simulator

    def on_batch(self, events: Any, now_ns: int) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        log = self.simulator.regime_log()
        return {
            "true_regime": REGIME_NAMES.get(self.simulator.regime, str(self.simulator.regime)),
            "regime_changes": max(log.height - 1, 0),
            "simulated_s": round(self.simulator.elapsed_ns / 1e9, 3),
        }

    def view(self) -> list[tuple[str, str]]:
        return [
            ("simulated time", f"{self.simulator.elapsed_ns / 1e9:,.1f} s"),
            ("true regime", REGIME_NAMES.get(self.simulator.regime, str(self.simulator.regime))),
            ("scenario", self.simulator.scenario_phase() or "-"),
        ]

    def close(self) -> None:
        pass


def _pacer(speedup: float | None) -> Callable[[int], None] | None:
    """Hold simulated time at ``speedup`` × wall-clock time (None: as fast as possible)."""
    if speedup is None:
        return None
    start: dict[str, float] = {}

    def pace(now_ns: int) -> None:
        if not start:
            start["wall"], start["sim"] = time.perf_counter(), now_ns
            return
        due = start["wall"] + (now_ns - start["sim"]) / 1e9 / speedup
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(min(delay, 0.5))

    return pace


def _render(rows: list[tuple[str, str]], title: str) -> Table:
    table = Table(title=title, show_header=False, expand=False, min_width=48)
    table.add_column(style="bold cyan")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return table


@app.command()
def demo(
    ctx: typer.Context,
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="Stop after this many wall-clock seconds."
    ),
    scenario: str | None = typer.Option(
        None, "--scenario", help="Inject a named market scenario (e.g. flash-crash)."
    ),
    speedup: float | None = typer.Option(
        None, "--speedup", min=0.001, help="Simulated seconds per wall second (config default)."
    ),
    max_speed: bool = typer.Option(False, "--max-speed", help="Run as fast as possible."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Start the API and dashboard beside the pipeline."
    ),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Service port (default service.port; 0: any)."
    ),
) -> None:
    """Run the pipeline on simulated markets with a live view (Ctrl-C stops it cleanly)."""
    from riskstream.feeds.simulator import MarketSimulator

    cfg = settings(ctx)
    console = Console(stderr=json_out)
    console.print("[bold]Riskstream demo[/bold] — preparing the reference universe ...")
    universe = ensure_universe(cfg)
    simulator = MarketSimulator(universe, cfg.simulator, scenario=scenario)
    ensure_demo_model(cfg, universe, simulator, console.print)
    service = None
    topics = MemoryTopics()  # the stages' typed messages (positions, fills)
    if serve:
        service = start_service(
            cfg.service, open_refdb(cfg), cache_url=cfg.store.cache_url, port=port, topics=topics
        )
        console.print(service.login_help())
    pace = None if max_speed else _pacer(speedup or cfg.simulator.speedup)
    bus = open_bus(cfg.bus)
    pipeline = Pipeline(
        through_bus(simulator.batches(), bus),
        build_stages(cfg, universe, simulator, service, topics),
        n_instruments=len(universe),
        pace=pace,
    )

    # Ctrl-C and SIGTERM ask for a stop between two pipeline steps, never inside one: an
    # interrupt between the stages of a step would leave them disagreeing on what was seen.
    stop = {"requested": False, "interrupted": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    previous_int = signal.signal(
        signal.SIGINT, lambda *_: stop.update(requested=True, interrupted=True)
    )
    deadline = None if duration is None else time.perf_counter() + duration
    title = f"Riskstream — {len(universe):,} instruments"
    try:
        with Live(_render(pipeline.view(), title), console=console, refresh_per_second=4) as live:
            last_render = 0.0
            while not stop["requested"]:
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                if not pipeline.step():
                    break
                now = time.perf_counter()
                if now - last_render >= 0.25:
                    live.update(_render(pipeline.view(), title))
                    last_render = now
            live.update(_render(pipeline.view(), title))
        if stop["interrupted"]:
            console.print("interrupted — shutting down cleanly")
    except KeyboardInterrupt:
        console.print("interrupted — shutting down cleanly")
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        pipeline.close()
        bus.close()
        if service is not None:
            service.stop()
    summary = pipeline.summary()
    if json_out:
        print_json(summary)
    else:
        console.print(
            f"processed {summary['events']:,} events in {summary['duration_s']:.1f} s "
            f"({summary['events_per_s']:,.0f} events/s)"
        )
