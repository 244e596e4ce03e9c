"""``riskstream universe generate`` and ``riskstream positions load``: the reference data.

:func:`ensure_universe` is what other commands (``demo``) call to get the configured
universe: the stored one when it was generated from the same settings, else a new one.

Generating a universe also writes its simulated daily market history
(:func:`riskstream.feeds.daily_history.simulate_daily_history`, ``universe.history_days``
business days ending on ``as_of``, drawn from the tick simulator's market model with
``settings.simulator``) into the market history store with source ``"simulator"``, before
the reference data (history first, then instruments). A regeneration first deletes every
row whose source is ``"simulator"``; rows a user loaded (any other source) are kept and win
where they meet a simulated key.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError, RiskstreamError
from riskstream.core.instruments import Universe
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.daily_history import simulate_daily_history
from riskstream.feeds.universe import generate_universe, universe_summary
from riskstream.settings import Settings
from riskstream.store.instrument_loader import SOURCE_KEY, USER_SOURCE
from riskstream.store.loaders import load_positions
from riskstream.store.market_history import MarketHistory
from riskstream.store.refdb import RefDB

universe_app = typer.Typer(
    help="Generate and inspect the reference universe.", no_args_is_help=True
)
positions_app = typer.Typer(help="Load positions into the reference DB.", no_args_is_help=True)
app.add_typer(universe_app, name="universe")
app.add_typer(positions_app, name="positions")

GENERATOR_KEY = "generator"
"""``universe_meta`` key holding the generator's settings (JSON) of the stored universe."""


def open_refdb(settings: Settings) -> RefDB:
    """The configured reference DB, migrated (the data folder is created if needed)."""
    if settings.store.refdb_url is None:
        settings.store.data_dir.mkdir(parents=True, exist_ok=True)
    db = RefDB(settings.store.refdb)
    db.migrate()
    return db


HISTORY_KEY = "generator.history"
"""``universe_meta`` key holding the simulator settings the stored simulated history was drawn
with (JSON of the market-model fields of ``settings.simulator``)."""
SIMULATOR_SOURCE = "simulator"
"""``source`` of the simulated history's rows in the market history store."""
_NOT_MODEL = {
    "events_per_s", "speedup", "batch_events", "start", "step_ms", "min_update_s",
    "event_share", "flash_crash",
}  # fmt: skip
"""Simulator settings that shape the tick stream but not the daily market model."""


def _history_key(settings: Settings) -> str:
    return settings.simulator.model_dump_json(exclude=_NOT_MODEL)


def _write_history(settings: Settings, universe: Universe, config: UniverseConfig) -> dict:
    """Simulate the universe's daily history and store it in place of the simulated history
    stored before (see the module docstring); a summary, JSON-ready."""
    history = simulate_daily_history(universe, settings.simulator, config.history_days, config.seed)
    store = MarketHistory.from_config(settings.store)
    rows: dict[str, int] = {}
    for kind, frame in history.tables().items():
        # a user's rows win where they meet simulated keys
        rows[kind] = store.replace_source(frame, kind, SIMULATOR_SOURCE).rows_loaded
    dates = history.regimes["date"]
    return {
        "source": SIMULATOR_SOURCE,
        "store": store.root,
        "days": config.history_days,
        "first_date": dates[0].isoformat(),
        "last_date": dates[-1].isoformat(),
        "rows": rows,
        "added_pairs": list(history.added_pairs),
    }


def _save_generated(db: RefDB, settings: Settings, config: UniverseConfig) -> tuple[Universe, dict]:
    universe = generate_universe(config)
    history = _write_history(settings, universe, config)
    meta = {
        GENERATOR_KEY: config.model_dump_json(),
        HISTORY_KEY: _history_key(settings),
        "generator.instruments": str(config.instruments),
        "generator.seed": str(config.seed),
    }
    db.save_universe(universe, meta)
    return universe, history


def ensure_universe(settings: Settings) -> Universe:
    """The universe to work on: a user's own (``riskstream instruments load``) when the
    reference DB holds one, whatever ``settings.universe`` says; else the universe of
    ``settings.universe``, from the reference DB when it holds one generated with exactly
    those settings (instruments, seed, base currency, AUM target, as-of date, history days),
    else generated and saved there with its simulated daily history (replacing what was
    stored).

    Positions loaded since (``riskstream positions load``) are kept: the stored universe is
    returned as it is. When only the simulator's market-model settings changed since the
    history was drawn, the history is redrawn and the reference data kept.
    """
    db = open_refdb(settings)
    try:
        meta = db.meta()
        if meta.get(SOURCE_KEY) == USER_SOURCE:
            return db.load_universe()
        if meta.get(GENERATOR_KEY) != settings.universe.model_dump_json():
            return _save_generated(db, settings, settings.universe)[0]
        universe = db.load_universe()
        if meta.get(HISTORY_KEY) != _history_key(settings):
            reference = generate_universe(settings.universe)  # what the history is of
            _write_history(settings, reference, settings.universe)
            db.save_universe(universe, {**meta, HISTORY_KEY: _history_key(settings)})
        return universe
    finally:
        db.close()


def _config(base: UniverseConfig, **overrides: Any) -> UniverseConfig:
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return UniverseConfig.model_validate({**base.model_dump(), **values})
    except ValidationError as exc:
        e = exc.errors()[0]
        raise InputError(
            "--" + str(e["loc"][0]).replace("_", "-"), e.get("input"), e["msg"].lower()
        ) from None


@universe_app.command("generate")
def generate(
    ctx: typer.Context,
    instruments: int | None = typer.Option(
        None, "--instruments", "-n", help="Number of instruments (50 to 1,000,000)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (same seed, same universe)."),
    base_currency: str | None = typer.Option(None, "--base-currency", help="e.g. USD, EUR."),
    history_days: int | None = typer.Option(
        None, "--history-days", help="Business days of simulated daily history (default 1,000)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Generate the reference universe and portfolio, write its simulated daily market
    history to the history store and save the universe to the reference DB."""
    cfg = settings(ctx)
    config = _config(
        cfg.universe,
        instruments=instruments,
        seed=seed,
        base_currency=base_currency,
        history_days=history_days,
    )
    db = open_refdb(cfg)
    try:
        universe, history = _save_generated(db, cfg, config)
    finally:
        db.close()
    summary = universe_summary(universe)
    summary["refdb"] = db.url.render_as_string(hide_password=True)
    summary["seed"] = config.seed
    summary["history"] = history
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Reference universe (seed {config.seed}, as of {config.as_of})")
    table.add_column("asset class")
    table.add_column("instruments", justify="right")
    table.add_column(f"gross exposure ({summary['base_currency']})", justify="right")
    for cls, count in summary["by_asset_class"].items():
        table.add_row(cls, f"{count:,}", f"{summary['gross_by_asset_class'][cls]:,.0f}")
    table.add_row("total", f"{summary['instruments']:,}", f"{summary['aum']:,.0f}", style="bold")
    console = Console()
    console.print(table)
    console.print(
        f"{summary['positions']:,} positions in {summary['books']} books; "
        f"AUM (gross exposure) {summary['aum']:,.0f} {summary['base_currency']}; "
        f"saved to {summary['refdb']}"
    )
    console.print(
        f"simulated daily history {history['first_date']} to {history['last_date']} "
        f"({history['days']:,} business days): "
        + ", ".join(f"{n:,} {kind} rows" for kind, n in history["rows"].items())
        + f" in {history['store']}"
    )


def _cli_actor() -> str:
    """``cli:<login name>`` (``cli`` where the system has no name for the user)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@positions_app.command("load")
def load(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A .csv, .yaml or .yml file of positions."),
    replace: bool = typer.Option(
        False, "--replace", help="The file is the whole portfolio: delete other positions."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Validate a positions file and load it into the reference DB, all rows or none,
    audited (one ``position.load`` entry per position); a running position keeper
    publishes the new version.

    Columns: book (name) or book_id, symbol or instrument_id, quantity (signed); optional
    desk, strategy, trader create a book the file names that does not exist yet.
    """
    db = open_refdb(settings(ctx))
    try:
        if not db.has_universe():
            raise RiskstreamError(
                f"{db!r} holds no reference data; run `riskstream instruments load FILE` "
                "(your own instruments) or `riskstream universe generate` first"
            )
        books_before = db.books().height
        # audited like every position change, as the user who ran the command
        written = load_positions(file, db, replace=replace, actor=_cli_actor())
        total = db.positions().height
        books_created = db.books().height - books_before
    finally:
        db.close()
    if as_json:
        print_json(
            {
                "file": str(file),
                "loaded": written,
                "replace": replace,
                "positions": total,
                "books_created": books_created,
            }
        )
    else:
        created = f"; {books_created:,} books created" if books_created else ""
        Console().print(
            f"loaded {written:,} positions from {file}{created}; {total:,} positions in total"
        )
