"""riskstream book: order-book tools."""

from __future__ import annotations

from pathlib import Path

import typer

from riskstream.cli import app, print_json, settings

book_app = typer.Typer(help="Order books (L3 market-by-order, L2 market-by-price).")
app.add_typer(book_app, name="book")

FORMATS = ("l3", "events", "lobster", "bitstamp")
FORMAT_HELP = (
    "l3: this project's L3 message file (.csv/.parquet); events: Parquet of the event "
    "contract (EVENT_DTYPE columns); lobster: a LOBSTER message file; bitstamp: a capture "
    "of Bitstamp live_orders/live_trades messages (JSON lines)."
)


@book_app.command("replay")
def replay(
    ctx: typer.Context,
    input: Path = typer.Option(..., "--input", help="The messages (see --format)."),
    depth: int = typer.Option(5, "--depth", min=1, max=1000, help="Levels per side."),
    out: Path = typer.Option(..., "--out", help="Output file, .csv or .parquet."),
    fmt: str = typer.Option("l3", "--format", help=FORMAT_HELP),
    crossing: str | None = typer.Option(
        None, "--crossing", help="trust or match (default: [md] crossing)."
    ),
) -> None:
    """Rebuild order books from L3 messages and write the top DEPTH levels after each one.

    l3 input columns: ts_event, seq, instrument_id, kind (add/modify/cancel/trade/clear),
    side (B/S), price, size, order_id. Output: ts_event, seq, instrument_id and
    bid_px_i, bid_sz_i, ask_px_i, ask_sz_i for i in 0..DEPTH-1 (empty levels null). Bad
    rows never fail the replay: the JSON report counts them by reason.
    """
    from riskstream.cli.feed import read_events
    from riskstream.md.l3file import book_replay, replay_books, write_frame

    mode = crossing or settings(ctx).md.crossing
    if mode not in ("trust", "match"):
        from riskstream.core.errors import InputError

        raise InputError("--crossing", mode, "trust or match")
    if fmt == "l3":
        frame, report = book_replay(input, depth, mode)
    else:
        events, instrument_ids, parsed = read_events(input, fmt)
        frame, report = replay_books(events, instrument_ids, depth, mode, f"{input}:")
        report = {**parsed, **report}
    write_frame(frame, out)
    print_json({"rows": frame.height, "depth": depth, "out": str(out), "format": fmt, **report})
