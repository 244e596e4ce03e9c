"""``riskstream demo``: the main job, on embedded defaults.

Generates (or reuses) the reference universe, runs the market simulator through every
pipeline stage that exists, and shows a live terminal view until Ctrl-C or ``--duration``.
With ``--json`` the last line of standard output is one JSON summary object (the live view
then goes to standard error).
"""

from __future__ import annotations

import signal
import time
from typing import Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from riskstream.bus import open_bus
from riskstream.bus.topics import MemoryTopics
from riskstream.cli import app, print_json, settings
from riskstream.cli.regime import default_model_path, ensure_demo_model
from riskstream.cli.universe import ensure_universe, open_refdb
from riskstream.core.errors import InputError
from riskstream.runtime.local import LocalRuntime
from riskstream.runtime.node import limit_native_threads
from riskstream.runtime.wiring import STAGES, Wiring
from riskstream.service.launch import start_service

REGIME_NAMES = {0: "calm", 1: "volatile", 2: "crisis"}


def simulator_summary(simulator: Any) -> dict[str, Any]:
    """What the simulator knows that no detector should: the true regime and how much
    market time passed (shown beside the detected regime, for scoring by eye)."""
    log = simulator.regime_log()
    return {
        "true_regime": REGIME_NAMES.get(simulator.regime, str(simulator.regime)),
        "regime_changes": max(log.height - 1, 0),
        "simulated_s": round(simulator.elapsed_ns / 1e9, 3),
    }


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
    topics = MemoryTopics()  # the stages' typed messages (deltas, snapshots, positions …)
    if serve:
        service = start_service(
            cfg.service, open_refdb(cfg), cache_url=cfg.store.cache_url, port=port, topics=topics
        )
        console.print(service.login_help())
    bus = open_bus(cfg.bus)
    if not cfg.bus.url.startswith("memory://"):
        bus.close()
        raise InputError(
            "bus.url", cfg.bus.url, "memory:// for the demo (over NATS: `riskstream up`)"
        )
    # Every stage is a node on its own thread: the same code as `riskstream up`'s
    # processes, over the in-memory bus and topics. The feed runs on the wall clock
    # (market time at --speedup x wall time); --max-speed runs it as fast as md consumes.
    stages = [s for s in STAGES if s != "regime" or default_model_path(cfg).is_file()]
    if service is None:
        stages.remove("service")
    native_threads = limit_native_threads(cfg.risk.threads)  # the stages share the cores
    runtime = LocalRuntime(
        Wiring(
            cfg,
            universe,
            bus,
            topics,
            simulator=simulator,
            service=service,
            speed=None if max_speed else (speedup or cfg.simulator.speedup),
            say=console.print,
        ),
        stages,
    ).start()

    # Ctrl-C and SIGTERM ask for a stop; the stages then drain what was published.
    stop = {"requested": False, "interrupted": False}
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    previous_int = signal.signal(
        signal.SIGINT, lambda *_: stop.update(requested=True, interrupted=True)
    )
    deadline = None if duration is None else time.perf_counter() + duration
    title = f"Riskstream — {len(universe):,} instruments"
    try:
        with Live(_render(runtime.view(), title), console=console, refresh_per_second=4) as live:
            while not stop["requested"] and not runtime.failed():
                if deadline is not None and time.perf_counter() >= deadline:
                    break
                time.sleep(0.05)
                live.update(_render(runtime.view(), title))
            runtime.stop()
            live.update(_render(runtime.view(), title))
        if stop["interrupted"]:
            console.print("interrupted — shutting down cleanly")
    except KeyboardInterrupt:
        console.print("interrupted — shutting down cleanly")
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        runtime.stop()
        native_threads.restore_original_limits()
        bus.close()
        if service is not None:
            service.stop()
    summary = runtime.summary()
    summary.update(simulator_summary(simulator))
    failed = runtime.failed()
    if json_out:
        print_json(summary)
    else:
        console.print(
            f"processed {summary['events']:,} events in {summary['duration_s']:.1f} s "
            f"({summary['events_per_s']:,.0f} events/s)"
        )
    if failed:
        raise typer.Exit(1)
