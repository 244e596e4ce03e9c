"""``riskstream backtest``: VaR backtests of an exception series, and rolling validation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json

backtest_app = typer.Typer(
    name="backtest",
    help="Backtest VaR/ES models: exception tests, traffic light, rolling validation.",
    no_args_is_help=True,
)
app.add_typer(backtest_app, name="backtest")


@backtest_app.command("hits")
def hits(
    input_file: Path = typer.Option(
        ..., "--input", help="CSV or Parquet file with a 0/1 column 'hit' (optional 'date')."
    ),
    var_level: float = typer.Option(
        0.99, "--var-level", help="Confidence of the VaR that produced the hits, e.g. 0.99."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Kupiec, Christoffersen and Basel traffic-light tests of an exception series."""
    from riskstream.backtest.data import load_hits
    from riskstream.backtest.inputs import check_level
    from riskstream.backtest.var_tests import backtest_hits

    level = check_level(var_level, "--var-level")
    result = backtest_hits(load_hits(input_file), level)
    if as_json:
        print_json(result.as_dict())
        return
    table = Table(title=f"VaR backtest of {input_file.name} at {level:.2%}")
    for column in ("test", "LR", "p-value"):
        table.add_column(column)
    for name, test in (
        ("Kupiec POF", result.kupiec),
        ("Christoffersen independence", result.christoffersen_ind),
        ("Christoffersen conditional coverage", result.christoffersen_cc),
        ("Christoffersen-Pelletier duration", result.duration),
    ):
        table.add_row(name, f"{test.lr:.4f}", f"{test.p_value:.4f}")
    console = Console()
    console.print(table)
    light = result.traffic_light
    console.print(
        f"{result.exceptions} exceptions in {result.observations} days: {light.zone} zone, "
        f"plus factor {light.plus_factor:.2f}, cumulative probability "
        f"{light.cumulative_probability:.4%}"
    )
