"""riskstream book: order-book tools."""

from __future__ import annotations

from pathlib import Path

import typer

from riskstream.cli import app, print_json
from riskstream.md.l3file import book_replay, write_frame

book_app = typer.Typer(help="Order books (L3 market-by-order, L2 market-by-price).")
app.add_typer(book_app, name="book")


@book_app.command("replay")
def replay(
    input: Path = typer.Option(..., "--input", help="L3 messages, .csv or .parquet."),
    depth: int = typer.Option(5, "--depth", min=1, max=1000, help="Levels per side."),
    out: Path = typer.Option(..., "--out", help="Output file, .csv or .parquet."),
) -> None:
    """Rebuild order books from L3 messages and write the top DEPTH levels after each one.

    Input columns: ts_event, seq, instrument_id, kind (add/modify/cancel/trade/clear),
    side (B/S), price, size, order_id. Output: ts_event, seq, instrument_id and
    bid_px_i, bid_sz_i, ask_px_i, ask_sz_i for i in 0..DEPTH-1 (empty levels null).
    """
    frame = book_replay(input, depth)
    write_frame(frame, out)
    print_json({"rows": frame.height, "depth": depth, "out": str(out)})
