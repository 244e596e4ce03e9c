"""``riskstream instruments load``: a user's own instruments into the reference DB.

The order of loading is history → instruments → positions: reference prices and FX rates
default to the latest closes in the history store (``riskstream history load``), and
positions name instruments that must exist. The file format and every default are described
in :mod:`riskstream.store.instrument_loader`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, date_option, print_json, settings
from riskstream.cli.universe import open_refdb
from riskstream.settings import Settings
from riskstream.store.instrument_loader import load_instruments

instruments_app = typer.Typer(
    help="Load your own instruments into the reference DB.", no_args_is_help=True
)
app.add_typer(instruments_app, name="instruments")

CLOSES_SCHEMA = {"symbol": pl.String(), "date": pl.Date(), "close": pl.Float64()}


def latest_closes(settings: Settings, as_of: dt.date | None = None) -> pl.DataFrame:
    """The latest stored close of every series in the history store on or before ``as_of``
    (default: the latest stored), columns ``symbol``, ``date``, ``close``; empty when nothing
    has been loaded yet."""
    from riskstream.store.market_history import MarketHistory

    closes = MarketHistory.from_config(settings.store).last_closes(as_of=as_of)
    if closes.is_empty():
        return pl.DataFrame(schema=CLOSES_SCHEMA)
    return closes.select([pl.col(c).cast(t) for c, t in CLOSES_SCHEMA.items()])


@instruments_app.command("load")
def load(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A .csv, .yaml/.yml or .parquet file of instruments."),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="The file is the whole instrument table: ids are reassigned in file order and "
        "positions in instruments it lacks are dropped.",
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Date of the reference prices (YYYY-MM-DD): closes on or before it. Default: "
        "the latest stored close.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Validate an instruments file and load it into the reference DB, all rows or none.

    Columns: symbol, asset_class (equity, future, option, fx, bond), currency, multiplier;
    options: underlying, strike, expiry, right, exercise; futures: expiry [, underlying];
    FX: base, quote; bonds: coupon, maturity, frequency. Load the market history first:
    missing reference prices and FX rates come from its latest closes.
    """
    cfg = settings(ctx)
    date = date_option("--as-of", as_of)
    closes = latest_closes(cfg, date)
    # The reference prices' date: as asked, else the latest stored close, else today (when
    # the file gives every price and nothing needs an FX rate).
    if date is None:
        date = closes["date"].max() if closes.height else dt.datetime.now(dt.UTC).date()
    db = open_refdb(cfg)
    try:
        result = load_instruments(
            file,
            db,
            closes,
            base_currency=cfg.universe.base_currency,
            as_of=date,
            replace=replace,
        )
    finally:
        db.close()
    summary = {"file": str(file), **result.summary()}
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Instruments loaded from {file} (as of {summary['as_of']})")
    table.add_column("asset class")
    table.add_column("instruments", justify="right")
    for cls, count in summary["by_asset_class"].items():
        table.add_row(cls, f"{count:,}")
    console = Console()
    console.print(table)
    if summary["defaults_applied"]:
        applied = ", ".join(f"{k} {v:,}" for k, v in summary["defaults_applied"].items())
        console.print(f"defaults applied: {applied} (ADV and spreads are placeholders)")
    console.print(
        f"{summary['total_instruments']:,} instruments stored"
        + (f"; {summary['positions_dropped']:,} positions dropped" if replace else "")
    )
