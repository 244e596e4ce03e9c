"""``riskstream history load|show``: market history (daily closes, curves, vols) in the store.

A bad file raises :class:`~riskstream.core.errors.LoadError` listing every bad row; ``main``
prints it on stderr and exits 2, and nothing is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError
from riskstream.store.history_files import KINDS, read_history_file
from riskstream.store.market_history import MarketHistory

history_app = typer.Typer(
    help="Load and inspect market history: daily closes, zero curves, implied vols.",
    no_args_is_help=True,
)
app.add_typer(history_app, name="history")


@history_app.command("load")
def load(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A .csv or .parquet file in long format."),
    kind: str = typer.Option(
        "prices",
        "--kind",
        help="prices: date,symbol,close | curves: date,currency,tenor_years,zero_rate | "
        "vols: date,underlying,expiry_years,moneyness,implied_vol.",
    ),
    fill: str | None = typer.Option(
        None,
        "--fill",
        help="forward: also write the gaps (missing Monday-Friday days) with the last "
        "observation carried forward, marked source 'fill:forward'.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Validate a history file and upsert it into the history store, with a data-quality
    report (gaps, stale prices, outlier returns, non-positive prices). A file with any bad
    row loads nothing (exit status 2, every bad row listed)."""
    if kind not in KINDS:
        raise InputError("--kind", kind, f"one of {', '.join(KINDS)}")
    if fill not in (None, "forward"):
        raise InputError("--fill", fill, "forward (or no --fill)")
    cfg = settings(ctx)
    frame = read_history_file(file, kind)
    history = MarketHistory.from_config(cfg.store)
    report = history.load(frame, kind, f"file:{file.name}", fill=fill)
    payload = report.as_dict()
    payload["file"] = str(file)
    if as_json:
        print_json(payload)
        return
    _print_report(payload)


@history_app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """What the history store holds per kind: rows, series, first and last date, version."""
    history = MarketHistory.from_config(settings(ctx).store)
    summary = history.summary()
    if as_json:
        print_json({"root": history.root, **summary})
        return
    table = Table(title=f"Market history in {history.root}")
    for column in ("kind", "rows", "series", "first date", "last date", "version"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, row in summary.items():
        table.add_row(
            kind,
            f"{row['rows']:,}",
            f"{row['series']:,}",
            row["first_date"] or "-",
            row["last_date"] or "-",
            str(row["version"]),
        )
    Console().print(table)


def _print_report(payload: dict[str, Any]) -> None:
    console = Console()
    console.print(
        f"loaded {payload['rows_loaded']:,} {payload['kind']} rows of {payload['series']:,} "
        f"series ({payload['first_date']} to {payload['last_date']}) from {payload['file']}; "
        f"table version {payload['version']}"
    )
    table = Table(title="Data quality (flagged, never changed unless --fill)")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column("first flagged")
    for name, check in payload["quality"].items():
        first = check["flagged"][0] if check["flagged"] else {}
        table.add_row(name, f"{check['count']:,}", ", ".join(f"{k}={v}" for k, v in first.items()))
    console.print(table)
    gaps = payload["quality"]["gaps"]
    console.print(f"gaps: calendar {gaps['calendar']}")
