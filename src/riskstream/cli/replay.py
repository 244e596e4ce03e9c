"""``riskstream replay``: republish stored events to the bus, in original order and sequence."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError


def parse_time_ns(value: str, option: str) -> int:
    """An instant as int64 ns since the epoch: ISO 8601 (UTC unless an offset is given) or
    an integer number of nanoseconds."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(option, value, "an ISO 8601 time or integer nanoseconds") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    delta = stamp - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


@app.command()
def replay(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="Start (inclusive): ISO 8601 time or ns."),
    end: str = typer.Option(..., "--to", help="End (exclusive): ISO 8601 time or ns."),
    speed: float | None = typer.Option(
        None, "--speed", help="Multiple of real time (1 = real time); default as fast as possible."
    ),
    bus_url: str | None = typer.Option(None, "--bus", help="Bus URL (default: bus.url)."),
    batch_rows: int = typer.Option(65_536, "--batch-rows", help="Events per read batch."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary line."),
) -> None:
    """Republish stored events of [FROM, TO) to the bus with their original sequence
    numbers, flagged REPLAY, at SPEED times real time."""
    from riskstream.bus import open_bus
    from riskstream.feeds.replay import replay_to_bus
    from riskstream.store.history import HistoryStore

    cfg = settings(ctx)
    start_ns, end_ns = parse_time_ns(start, "--from"), parse_time_ns(end, "--to")
    if end_ns <= start_ns:
        raise InputError("--to", end, f"a time after --from ({start})")
    store = HistoryStore.from_config(cfg.store)
    if not store.exists("ticks"):
        raise InputError("store.history", store.root, "a history store holding ticks")
    bus_config = cfg.bus if bus_url is None else cfg.bus.model_copy(update={"url": bus_url})
    bus = open_bus(type(cfg.bus).model_validate(bus_config.model_dump()))
    try:
        stats = replay_to_bus(bus, store.iter_events(start_ns, end_ns, batch_rows), speed)
    finally:
        bus.close()
    summary = {"from_ns": start_ns, "to_ns": end_ns, "bus": bus_config.url, **asdict(stats)}
    summary["wall_s"] = round(summary["wall_s"], 3)
    if as_json:
        print_json(summary)
    else:
        typer.echo(
            f"replayed {stats.events:,} events in {stats.messages:,} messages "
            f"to {bus_config.url} in {stats.wall_s:.2f}s"
        )
