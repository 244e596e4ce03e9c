"""riskstream risk / riskstream var: portfolio risk from the engine, and VaR of one series.

``riskstream risk`` builds the engine for a one-off run over the loaded book (the reference
DB's universe, or a positions file on it) and the stored market history, as of the last
stored date of the book (or ``--as-of``): marks, FX, implied vols, rates and scenarios as
:mod:`riskstream.cli.engine` documents. ``--json`` reports the history used (``history``:
source, first and last date, observations, per-factor series, proxies, gaps,
window_days), how the book was marked (``marks``), ``fx_to_base`` and ``as_of``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.cli.chunked_risk import chunked_risk, contributions
from riskstream.cli.engine import (
    book_as_of,
    engine_as_of,
    load_history,
    risk_config,
)
from riskstream.cluster import CLUSTER_HELP, check_address, task_map
from riskstream.core.errors import InputError

BY_CHOICES = ("asset_class", "desk", "strategy", "trader", "instrument")
METHODS = ("historical", "parametric", "mc", "fhs")
DEFAULT_CHUNK = 20_000  # scenarios per chunk with --cluster: an engine of ~10k-scenario size


@app.command("risk")
def risk_command(
    ctx: typer.Context,
    portfolio: Path | None = typer.Option(
        None,
        "--portfolio",
        help="Positions file (CSV or YAML: book, symbol, quantity); default the loaded book.",
    ),
    use_universe: bool = typer.Option(
        False, "--universe", help="The reference DB's own positions (the default)."
    ),
    method: str = typer.Option(
        "historical", "--method", help="historical | parametric | mc | fhs."
    ),
    confidence: float = typer.Option(0.99, "--confidence", help="VaR/ES level, e.g. 0.99."),
    horizon: int = typer.Option(1, "--horizon", help="Horizon in days (simulated paths)."),
    window: int | None = typer.Option(
        None, "--window", help="Daily moves of stored history used (default risk.window_days)."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date YYYY-MM-DD (default: the book's last stored close)."
    ),
    by: str | None = typer.Option(
        None, "--by", help="Also break down by asset_class | desk | strategy | trader | instrument."
    ),
    scenarios: int | None = typer.Option(
        None, "--scenarios", help="Scenarios drawn by mc and fhs (historical: --window)."
    ),
    chunk_scenarios: int | None = typer.Option(
        None,
        "--chunk-scenarios",
        help="mc/fhs in chunks of this many scenarios, each its own engine; VaR/ES from "
        f"all of them (default with --cluster: {DEFAULT_CHUNK:,}).",
    ),
    cluster: str | None = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """VaR, ES, liquidity-adjusted VaR (part by part) and Euler contributions of the book.

    Computed from the stored market history of the book's own risk factors, marked at the
    last stored closes (see ``riskstream history load``). Losses are positive amounts in
    the base currency. ES >= VaR; the Euler contributions sum to VaR and ES.

    ``--chunk-scenarios`` (and ``--cluster``, which implies it) draws ``mc``/``fhs``
    scenarios chunk by chunk, each revalued by an engine of its own, here or on a Dask
    cluster with identical figures: a million scenarios without holding them at once
    (:mod:`riskstream.cli.chunked_risk`; VaR, ES and Euler contributions, no liquidity).
    """
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.instruments import Universe
    from riskstream.risk.measures import check_confidence, check_horizon
    from riskstream.store.loaders import read_positions_and_books

    if method not in METHODS:
        raise InputError("--method", method, f"one of {', '.join(METHODS)}")
    if by is not None and by not in BY_CHOICES:
        raise InputError("--by", by, f"one of {', '.join(BY_CHOICES)}")
    if portfolio is not None and use_universe:
        raise InputError(
            "--portfolio/--universe", None, "at most one of --portfolio FILE or --universe"
        )
    check_confidence(confidence, "--confidence")
    check_horizon(horizon, "--horizon")
    if cluster is not None:
        check_address(cluster)  # before the slow part
    day = date_option("--as-of", as_of)
    s = settings(ctx)
    universe = ensure_universe(s)
    if portfolio is not None:
        # a file may create books (desk, strategy, trader columns): they join the stored ones
        positions, new_books = read_positions_and_books(portfolio, universe)
        universe = Universe(
            universe.instruments,
            pl.concat([universe.books, new_books]),
            positions,
            universe.base_currency,
            universe.fx_to_base,
            getattr(universe, "as_of", None),
        )
    update: dict[str, Any] = {
        "method": method,
        "confidence_levels": (confidence,),
        "horizons_days": (horizon,),
    }
    if scenarios is not None:
        update["n_scenarios"] = scenarios
    if window is not None:
        update["window_days"] = window
    config = risk_config(s.risk, update)
    history = load_history(s)
    day = day or book_as_of(universe, history)
    if chunk_scenarios is not None or cluster is not None:
        chunk = (
            min(DEFAULT_CHUNK, config.n_scenarios) if chunk_scenarios is None else chunk_scenarios
        )
        with task_map(cluster) as run_tasks:
            result = chunked_risk(universe, config, history, day, s.models, chunk, run_tasks)
        out = _chunked_output(universe, result, by, config.top_n)
        out["as_of"] = day.isoformat()
        out["cluster"] = cluster
        if as_json:
            print_json(out)
        else:
            _print_chunked(out, by)
        return
    engine, (marked, _, _, marks) = engine_as_of(universe, config, history, day, s.models)
    snap = engine.refresh()
    out = snap.as_dict()
    out["instruments"] = len(universe)
    out["positions"] = universe.positions.height
    out["as_of"] = day.isoformat()
    out["history"] = engine.history_lineage
    out["marks"] = marks
    out["fx_to_base"] = marked.fx_to_base
    if by == "instrument":
        held = np.flatnonzero(engine.qty)
        order = held[np.argsort(-snap.component_es[held], kind="stable")]
        out["by_instrument"] = [
            {
                "instrument_id": int(i),
                "symbol": str(engine.symbol[i]),
                "quantity": float(engine.qty[i]),
                "component_var": float(snap.component_var[i]),
                "component_es": float(snap.component_es[i]),
            }
            for i in order
        ]
    elif by is not None:
        out["by"] = {by: snap.aggregates[by]}
    if as_json:
        print_json(out)
        return
    _print_table(out, by)


def _chunked_output(
    universe: Any, result: dict[str, Any], by: str | None, top_n: int
) -> dict[str, Any]:
    """The JSON of a chunked run: :func:`chunked_risk`'s figures (per-instrument arrays
    summarised) and the contributions as ``riskstream risk`` reports them."""
    hidden = ("unit_var", "unit_es", "component_var", "component_es", "quantity")
    out = {k: v for k, v in result.items() if k not in hidden}
    out["instruments"] = len(universe)
    out["positions"] = universe.positions.height
    out.update(contributions(universe, result, by, top_n))
    return out


def _print_risk_tables(
    console: Any, out: dict[str, Any], by: str | None, title: str, keys: tuple[str, ...]
) -> None:
    """The tables both runs print: the first measure's ``keys`` under ``title``, the top Euler
    contributors to ES, and the contributions by ``by`` (unless per instrument)."""
    from rich.table import Table

    m = out["measures"][0]
    head = Table(title=title)
    head.add_column("measure")
    head.add_column("amount", justify="right")
    for key in keys:
        head.add_row(key, f"{m[key]:,.0f}")
    console.print(head)
    top = Table(title="Top Euler contributors (ES)")
    for col in ("symbol", "asset_class", "component_var", "component_es"):
        top.add_column(col)
    for c in out["top_contributors"]:
        top.add_row(
            c["symbol"], c["asset_class"], f"{c['component_var']:,.0f}", f"{c['component_es']:,.0f}"
        )
    console.print(top)
    if by and by != "instrument":
        table = Table(title=f"By {by}")
        for col in (by, "component_var", "component_es"):
            table.add_column(col)
        for label, v in out["by"][by].items():
            table.add_row(label, f"{v['component_var']:,.0f}", f"{v['component_es']:,.0f}")
        console.print(table)


def _print_chunked(out: dict[str, Any], by: str | None) -> None:
    from rich.console import Console

    console = Console()
    m = out["measures"][0]
    title = (
        f"Risk ({out['method']}, {out['n_scenarios']:,} scenarios in {out['chunks']} "
        f"chunks, {m['confidence']:.1%}, {m['horizon_days']}d)"
    )
    _print_risk_tables(console, out, by, title, ("var", "es"))
    console.print(f"not computed in chunks: {', '.join(out['not_computed'])}")


def _print_table(out: dict[str, Any], by: str | None) -> None:
    from rich.console import Console

    console = Console()
    m = out["measures"][0]
    title = f"Risk ({out['method']}, {m['confidence']:.1%}, {m['horizon_days']}d)"
    keys = ("var", "es", "lvar", "spread_cost", "impact_cost", "funding_cost")
    _print_risk_tables(console, out, by, title, keys)
    hist = out["history"]
    console.print(
        f"history: {hist['observations']} daily moves, {hist['first_date']} to "
        f"{hist['last_date']} ({hist['source']}); {len(hist['proxies'])} factor(s) proxied"
    )
    if out["excluded"]:
        console.print(f"{len(out['excluded'])} position(s) excluded (see --json 'excluded')")


@app.command("var")
def var_command(
    returns: Path = typer.Option(..., "--returns", help="CSV or Parquet file with the series."),
    confidence: float = typer.Option(0.99, "--confidence", help="e.g. 0.99."),
    method: str = typer.Option(
        "historical", "--method", help="historical | parametric | cornish_fisher | mc | fhs."
    ),
    horizon: int = typer.Option(1, "--horizon", help="Horizon in days."),
    column: str | None = typer.Option(
        None, "--column", help="Column to use (default: the file's only numeric column)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation (mc, fhs, h > 1)."),
    scenarios: int = typer.Option(10_000, "--scenarios", help="Simulated scenarios."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """VaR and ES of one daily P&L or return series, as positive loss amounts.

    The series' values are daily outcomes (gains positive), oldest first; the result is in
    the series' units. Empirical quantile convention: the ceil(n c)-th smallest loss.
    """
    from riskstream.risk.measures import var_es

    series = read_series(returns, column)
    result = var_es(series, confidence, method, horizon, n_scenarios=scenarios, seed=seed)
    out = result.as_dict()
    out["file"] = str(returns)
    if as_json:
        print_json(out)
    else:
        typer.echo(
            f"VaR {result.var:.6g}  ES {result.es:.6g}  "
            f"({method}, {confidence:.2%}, {horizon}d, n={result.n_observations})"
        )


def read_series(path: Path, column: str | None) -> np.ndarray:
    """One numeric column of a CSV or Parquet file as float64 (nulls become NaN, which
    :func:`riskstream.risk.measures.var_es` rejects with their position)."""
    import polars as pl

    if not path.exists():
        raise InputError("--returns", str(path), "an existing CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pl.read_parquet(path)
    elif suffix in (".csv", ".txt"):
        frame = pl.read_csv(path, infer_schema_length=None)
    else:
        raise InputError("--returns", str(path), "a .csv or .parquet file")
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    if column is None:
        if len(numeric) != 1:
            raise InputError(
                "--column",
                None,
                f"one of the numeric columns {numeric} (the file has "
                f"{len(numeric)}; name one with --column)",
            )
        column = numeric[0]
    if column not in frame.columns:
        raise InputError("--column", column, f"a column of {path.name}: {frame.columns}")
    if column not in numeric:
        raise InputError("--column", column, f"a numeric column (it is {frame.schema[column]})")
    return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
