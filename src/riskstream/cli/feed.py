"""riskstream feed: venue files and live venue channels onto the bus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError

feed_app = typer.Typer(help="Market-data feeds from venue formats.")
app.add_typer(feed_app, name="feed")


def read_events(
    path: Path, fmt: str, instrument_id: int = 0
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Events of a venue file, dense instrument ids, and what the parser counted.

    ``fmt``: ``events`` (Parquet of the event contract), ``lobster`` (a message file),
    ``bitstamp`` (a capture, JSON lines), ``l3`` (riskstream's L3 message file).
    """
    if fmt == "lobster":
        from riskstream.feeds.lobster import read_messages

        m = read_messages(path, instrument_id=instrument_id)
        info = {"halts": m.halts, "malformed": len(m.malformed), "malformed_rows": m.malformed[:20]}
        return m.events, np.array([instrument_id]), info
    if fmt == "bitstamp":
        from riskstream.feeds.bitstamp import read_capture

        events, parser = read_capture(path, instrument_id=instrument_id)
        info = {"messages": parser.counts, "malformed_rows": parser.malformed[:20]}
        return events, np.array([instrument_id]), info
    if fmt == "events":
        import pyarrow.parquet as pq

        from riskstream.core.events import events_from_arrow

        if not path.exists():
            raise InputError("--input", str(path), "an existing Parquet file of events")
        events = events_from_arrow(pq.read_table(path))
        ids, dense = np.unique(events["instrument_id"], return_inverse=True)
        events["instrument_id"] = dense
        return events, ids, {}
    if fmt == "l3":
        from riskstream.md.l3file import read_l3

        malformed: list[str] = []
        events, ids = read_l3(path, malformed)
        return events, ids, {"malformed": len(malformed), "malformed_rows": malformed[:20]}
    raise InputError("--format", fmt, "one of l3, events, lobster, bitstamp")


@feed_app.command("replay")
def replay(
    ctx: typer.Context,
    input: Path = typer.Option(..., "--input", help="The venue file."),
    fmt: str = typer.Option(..., "--format", help="lobster, bitstamp, events or l3."),
    instrument_id: int = typer.Option(
        0, "--instrument-id", help="Instrument id of a one-instrument venue file."
    ),
    bus_url: str | None = typer.Option(None, "--bus", help="Bus URL (default: bus.url)."),
    speed: float | None = typer.Option(
        None, "--speed", help="Multiple of real time; default as fast as possible."
    ),
    batch_rows: int = typer.Option(65_536, "--batch-rows", help="Events per published batch."),
) -> None:
    """Publish a venue file's events to the bus, in file order, flagged REPLAY."""
    from riskstream.bus import open_bus
    from riskstream.feeds.replay import replay_to_bus

    events, ids, info = read_events(input, fmt, instrument_id)
    if fmt in ("events", "l3"):
        events["instrument_id"] = ids[events["instrument_id"]]  # the file's own ids
    cfg = settings(ctx)
    bus_config = cfg.bus if bus_url is None else cfg.bus.model_copy(update={"url": bus_url})
    bus = open_bus(type(cfg.bus).model_validate(bus_config.model_dump()))
    try:
        batches = (events[a : a + batch_rows] for a in range(0, len(events), batch_rows))
        stats = replay_to_bus(bus, batches, speed)
    finally:
        bus.close()
    print_json({"format": fmt, "input": str(input), "bus": bus_config.url, "events": stats.events,
                "messages": stats.messages, "duplicates": stats.duplicates,
                "wall_s": round(stats.wall_s, 3), **info})  # fmt: skip
