"""``riskstream run --stage NAME`` (one stage as a process) and ``riskstream up`` (every
stage as a local process, under a supervisor that restarts the dead ones).

Both talk over NATS JetStream: event batches on the partitioned event bus, typed messages
(deltas, snapshots, positions, regime, limit state, statistics) on its topics. The
in-process quick start is ``riskstream demo`` (the same node code on threads).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import typer
from rich.console import Console

from riskstream.cli import app, settings
from riskstream.core.errors import InputError
from riskstream.runtime.wiring import REPLICATED, STAGES
from riskstream.settings import Settings


def _with_bus(cfg: Settings, url: str | None) -> Settings:
    if url is None:
        return cfg
    return cfg.model_copy(update={"bus": cfg.bus.model_copy(update={"url": url})})


def _require_nats(cfg: Settings) -> None:
    if not cfg.bus.url.startswith("nats://"):
        raise InputError(
            "--bus", cfg.bus.url, "a nats:// URL (stages in one process: `riskstream demo`)"
        )


def open_topics(cfg: Settings) -> Any:
    """The typed-message topics on the configured bus (JetStream for ``nats://``); a stage
    retries its publishes in place while the broker is away (``runtime.reconnect_s``)."""
    from riskstream.bus import open_topics as open_bus_topics

    return open_bus_topics(cfg.bus, retry_s=cfg.runtime.reconnect_s)


@app.command("run")
def run_stage(
    ctx: typer.Context,
    stage: str = typer.Option(..., "--stage", help=f"The stage: {', '.join(STAGES)}."),
    bus: str | None = typer.Option(None, "--bus", help="nats://host:port (default bus.url)."),
    speedup: float | None = typer.Option(
        None, "--speedup", min=0.001, help="feed: market seconds per wall second."
    ),
    scenario: str | None = typer.Option(None, "--scenario", help="feed: a market scenario."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="service: listen port (service.port)."
    ),
    replica: str | None = typer.Option(
        None,
        "--replica",
        help=f"Join the stage's hot-standby pair under this name ({', '.join(REPLICATED)}): "
        "only the holder of the lease publishes.",
    ),
) -> None:
    """Run one stage as a process until SIGTERM or Ctrl-C."""
    from riskstream.bus import open_bus
    from riskstream.cli.universe import ensure_universe
    from riskstream.runtime.latency import settle_gc
    from riskstream.runtime.node import NodeHost, limit_native_threads
    from riskstream.runtime.wiring import Wiring, build_node

    cfg = _with_bus(settings(ctx), bus)
    _require_nats(cfg)
    if stage not in STAGES:
        raise InputError("--stage", stage, f"one of {', '.join(STAGES)}")
    if replica is not None and stage not in REPLICATED:
        raise InputError("--replica", replica, f"only with --stage {' or '.join(REPLICATED)}")
    if port is not None:
        cfg = cfg.model_copy(update={"service": cfg.service.model_copy(update={"port": port})})
    console = Console(stderr=True)
    limit_native_threads(cfg.risk.threads if stage == "risk" else 1)
    universe = ensure_universe(cfg)
    event_bus = open_bus(cfg.bus)
    bus_topics = topics = open_topics(cfg)
    standby = None
    if replica is not None:  # publish only while holding the stage's lease
        from riskstream.runtime.standby import open_standby

        standby = open_standby(
            bus_topics, cfg.bus, stage, ttl_s=cfg.runtime.standby_ttl_s, holder=replica
        )
        topics = standby.topics
    wiring = Wiring(
        cfg,
        universe,
        event_bus,
        topics,
        scenario=scenario,
        speed=speedup or cfg.simulator.speedup,
        durable=True,
        say=lambda text: print(text, flush=True),
    )
    host = NodeHost(
        build_node(stage, wiring),
        topics,
        cfg.runtime.stats_interval_s,
        reconnect_s=cfg.runtime.reconnect_s,
    )
    settle_gc()  # what the build made lives as long as the process: no collection walks it
    signal.signal(signal.SIGTERM, lambda *_: host.stop())
    signal.signal(signal.SIGINT, lambda *_: host.stop())
    who = "" if replica is None else f" as replica {replica}"
    console.print(f"stage {stage} running{who} on {cfg.bus.url} (pid {os.getpid()})")
    try:
        host.run()
    finally:
        if standby is not None:
            standby.close()  # gives the lease up: the other member takes over at once
        bus_topics.close()
        event_bus.close()
    console.print(f"stage {stage} stopped")


@app.command("up")
def up(
    ctx: typer.Context,
    bus: str | None = typer.Option(None, "--bus", help="nats://host:port (default bus.url)."),
    speedup: float | None = typer.Option(
        None, "--speedup", min=0.001, help="Market seconds per wall second."
    ),
    scenario: str | None = typer.Option(None, "--scenario", help="Inject a market scenario."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Service port (service.port)."
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0.1, help="Stop after this many seconds (default: Ctrl-C)."
    ),
    standby: bool = typer.Option(
        False,
        "--standby",
        help=f"Run {' and '.join(REPLICATED)} as hot-standby pairs (two processes each).",
    ),
) -> None:
    """Run every stage as a local process over NATS; restart any that dies."""
    from riskstream.cli.regime import ensure_demo_model
    from riskstream.cli.universe import ensure_universe
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.runtime.supervisor import Supervisor

    cfg = _with_bus(settings(ctx), bus)
    _require_nats(cfg)
    console = Console(stderr=True)
    # prepared once here, so the stages never race to create them
    universe = ensure_universe(cfg)
    ensure_demo_model(cfg, universe, MarketSimulator(universe, cfg.simulator), console.print)
    env = dict(os.environ)
    env["RISKSTREAM_BUS__URL"] = cfg.bus.url
    root = ctx.find_root().obj
    if root is not None and not isinstance(root, Settings):
        env["RISKSTREAM_CONFIG"] = str(root)
    service_port = port or cfg.service.port
    env["RISKSTREAM_SERVICE__PORT"] = str(service_port)
    base = [sys.executable, "-m", "riskstream", "run"]
    commands: dict[str, list[str]] = {}
    for stage in STAGES:
        argv = [*base, "--stage", stage]
        if stage == "feed":
            if speedup is not None:
                argv += ["--speedup", str(speedup)]
            if scenario is not None:
                argv += ["--scenario", scenario]
        if standby and stage in REPLICATED:  # a pair: whichever starts first leads
            commands[f"{stage}-a"] = [*argv, "--replica", f"{stage}-a"]
            commands[f"{stage}-b"] = [*argv, "--replica", f"{stage}-b"]
        else:
            commands[stage] = argv
    # downstream first, so nobody misses the feed's first events
    order = dict(reversed(commands.items()))
    log_dir = cfg.store.data_dir / "logs"
    supervisor = Supervisor(
        order,
        env=env,
        log_dir=log_dir,
        backoff_s=cfg.runtime.restart_backoff_s,
        max_backoff_s=cfg.runtime.restart_backoff_max_s,
    ).start()
    scheme = "https" if cfg.service.tls else "http"
    console.print(
        f"[bold]Riskstream up[/bold] — {len(order)} stage processes over {cfg.bus.url}\n"
        f"Dashboard: {scheme}://{cfg.service.host}:{service_port}/   "
        f"Metrics: {scheme}://{cfg.service.host}:{service_port}/metrics\n"
        f"API keys and each stage's output: {log_dir}/<stage>.log (Ctrl-C stops)"
    )
    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(requested=True))
    deadline = None if duration is None else time.monotonic() + duration
    seen = 0
    try:
        while not stop["requested"] and (deadline is None or time.monotonic() < deadline):
            supervisor.poll()
            for text in supervisor.events[seen:]:
                console.print(text)
            seen = len(supervisor.events)
            time.sleep(0.2)
    finally:
        codes = supervisor.stop()
        console.print(f"stopped: {codes}")
