"""The ``riskstream`` command.

One Typer application; each command group lives in its own module of this package and
registers itself on :data:`app` when imported below. ``cli`` (with ``service``) is the only
place that wires the packages together.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import typer

from riskstream.core.errors import InputError, RiskstreamError
from riskstream.settings import Settings

app = typer.Typer(
    name="riskstream",
    help="Real-time, liquidity-adjusted market risk for multi-asset portfolios.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None,
        "--config",
        envvar="RISKSTREAM_CONFIG",
        help="TOML configuration file; RISKSTREAM_<TABLE>__<FIELD> variables override it.",
    ),
) -> None:
    ctx.obj = config


def settings(ctx: typer.Context) -> Settings:
    """The settings for this invocation (file named by ``--config`` plus environment)."""
    from riskstream.core.config import load_config

    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_config(Settings, root.obj)
    return root.obj


def print_json(payload: dict[str, Any]) -> None:
    """Print one JSON object on one line (the last line of a ``--json`` command)."""
    sys.stdout.write(json.dumps(payload, default=_json_default, allow_nan=False) + "\n")
    sys.stdout.flush()


def date_option(option: str, value: str | None) -> dt.date | None:
    """A command-line date (``YYYY-MM-DD``), None when not given; a bad one names the
    option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(option, value, "a date as YYYY-MM-DD") from None


def _json_default(value: Any) -> Any:
    import datetime as dt

    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def main() -> None:
    """Entry point: run the app; a Riskstream error prints its message and exits 2."""
    try:
        app()
    except RiskstreamError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None


# Command groups register themselves on `app` when imported.
from riskstream.cli import (  # noqa: E402, F401
    abuse,
    backtest,
    book,
    construction,
    demo,
    feed,
    frtb,
    fx,
    history,
    instruments,
    inventory,
    limits,
    lineage,
    models,
    pipeline,
    price,
    regime,
    replay,
    report,
    risk,
    runtime,
    serve,
    simulate,
    stress,
    surveillance,
    universe,
)
