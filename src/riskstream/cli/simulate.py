"""``riskstream simulate``: run the market simulator and write its events as Parquet.

Writes, in ``--out``:

* ``events.parquet`` — every event, schema :data:`riskstream.core.EVENT_ARROW_SCHEMA`;
* ``regimes.parquet`` — the true regime path: ``ts`` (int64 ns), ``regime`` (int8; 0 calm,
  1 volatile, 2 crisis), one row per change from the start;
* ``scenarios.parquet`` — injected scenario phases: ``name``, ``phase``, ``start_ns``,
  ``end_ns``;
* ``instruments.parquet`` — the simulated universe's instrument table, so the events are
  self-describing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_ARROW_SCHEMA, EventKind, events_to_arrow
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.market_model import REGIME_NAMES
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe

ROW_GROUP_EVENTS = 1_000_000
"""Events per Parquet row group (batches are gathered up to this many before a write)."""


def _with(model: type, base: Any, **overrides: Any) -> Any:
    """``base`` with ``overrides`` applied, validated; a bad value names the CLI option."""
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return model.model_validate({**base.model_dump(), **values})
    except ValidationError as exc:
        e = exc.errors()[0]
        option = "--" + str(e["loc"][0]).replace("_", "-")
        raise InputError(option, e.get("input"), e["msg"].lower()) from None


@app.command()
def simulate(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Folder to write the Parquet files to."),
    instruments: int | None = typer.Option(
        None, "--instruments", "-n", help="Universe size (default: the universe setting)."
    ),
    seconds: float = typer.Option(60.0, "--seconds", min=0.001, help="Simulated seconds."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the universe and the market."),
    scenario: str | None = typer.Option(
        None,
        "--scenario",
        help="Inject a named scenario (flash-crash, may-2010, aug-2015, mar-2020, volatile-day).",
    ),
    events_per_s: float | None = typer.Option(
        None, "--events-per-s", help="Simulated event rate (default: the simulator setting)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary object."),
) -> None:
    """Simulate SECONDS of market events for a generated universe; write them as Parquet."""
    cfg = settings(ctx)
    universe_config = _with(UniverseConfig, cfg.universe, instruments=instruments, seed=seed)
    sim_config = _with(SimulatorConfig, cfg.simulator, seed=seed, events_per_s=events_per_s)
    started = time.perf_counter()
    universe = generate_universe(universe_config)
    sim = MarketSimulator(universe, sim_config, scenario=scenario)
    out.mkdir(parents=True, exist_ok=True)
    kinds = np.zeros(256, dtype=np.int64)
    total = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(out / "events.parquet", EVENT_ARROW_SCHEMA, compression="zstd") as w:
        for events, _ in sim.batches(seconds):
            kinds += np.bincount(events["kind"], minlength=256)
            total += len(events)
            pending.append(events_to_arrow(events))
            pending_rows += len(events)
            if pending_rows >= ROW_GROUP_EVENTS:
                w.write_table(pa.Table.from_batches(pending, schema=EVENT_ARROW_SCHEMA))
                pending, pending_rows = [], 0
        if pending:
            w.write_table(pa.Table.from_batches(pending, schema=EVENT_ARROW_SCHEMA))
    regimes = sim.regime_log()
    regimes.write_parquet(out / "regimes.parquet")
    phases = sim.scenario_log()
    phases.write_parquet(out / "scenarios.parquet")
    universe.instruments.write_parquet(out / "instruments.parquet")
    wall = time.perf_counter() - started

    summary = {
        "out": str(out),
        "instruments": len(universe),
        "seconds": seconds,
        "seed": sim_config.seed,
        "scenario": scenario,
        "events": total,
        "events_by_kind": {k.name.lower(): int(kinds[k]) for k in EventKind if kinds[k]},
        "simulated_events_per_s": round(total / seconds, 1),
        "wall_s": round(wall, 3),
        "events_per_s": round(total / wall, 1),
        "regime_changes": regimes.height - 1,
        "final_regime": REGIME_NAMES[sim.regime],
        "scenario_phases": phases["phase"].to_list(),
        "files": ["events.parquet", "regimes.parquet", "scenarios.parquet", "instruments.parquet"],
    }
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Simulated {seconds:g} s of {len(universe):,} instruments")
    table.add_column("event kind")
    table.add_column("events", justify="right")
    for kind, count in summary["events_by_kind"].items():
        table.add_row(kind, f"{count:,}")
    table.add_row("total", f"{total:,}", style="bold")
    console = Console()
    console.print(table)
    console.print(
        f"{summary['regime_changes']} regime change(s), now {summary['final_regime']}; "
        f"scenario phases: {', '.join(summary['scenario_phases']) or 'none'}; "
        f"written to {out} in {wall:.1f} s ({summary['events_per_s']:,.0f} events/s)"
    )
