"""``riskstream backtest``: VaR backtests of an exception series, and rolling validation."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from riskstream.cli import app, print_json
from riskstream.cluster import CLUSTER_HELP

if TYPE_CHECKING:
    import numpy as np

    from riskstream.backtest.attribution import PnLAttribution

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


@backtest_app.command("var")
def var(
    ctx: typer.Context,
    data: str = typer.Option(
        "sp500",
        "--data",
        help="sp500 or nasdaq (arch.data), 'simulated' (option/bond book), or a CSV/Parquet "
        "file with 'date' and 'return' (or 'price') columns.",
    ),
    models: str | None = typer.Option(
        None, "--models", help="Comma-separated: hs, fhs, garch-t, ewma, mc [backtest.models]."
    ),
    confidence: float | None = typer.Option(
        None, "--confidence", help="VaR/ES confidence [backtest.confidence, 0.99]."
    ),
    window: int | None = typer.Option(
        None, "--window", help="Estimation window in days [backtest.window_days, 500]."
    ),
    refit_every: int | None = typer.Option(
        None,
        "--refit-every",
        help="Re-estimate GARCH models every N days, filtered daily in between "
        "[backtest.refit_every_days, 20].",
    ),
    scenarios: int | None = typer.Option(
        None, "--scenarios", help="Scenarios per day for fhs and mc [backtest.n_scenarios]."
    ),
    es_simulations: int | None = typer.Option(
        None, "--es-simulations", help="Null simulations of the Acerbi-Székely tests."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of every random draw."),
    report: Path | None = typer.Option(
        None, "--report", help="Write the HTML validation report here (+ .figures.json)."
    ),
    per_model: bool = typer.Option(
        False, "--report-per-model", help="Also write one report per model (<stem>.<model>.html)."
    ),
    cluster: str | None = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Walk VaR/ES models forward over a return history and backtest them side by side.

    The walk runs as blocks of days, each starting on a refit day
    (:mod:`riskstream.backtest.rolling`); ``--cluster`` runs the blocks on a Dask cluster,
    with the same figures."""
    import time

    from riskstream.backtest.inputs import check_level
    from riskstream.backtest.rolling import MODELS, walk_forward_models
    from riskstream.backtest.validation import compare_runs, validate_run
    from riskstream.cli import settings
    from riskstream.cluster import task_map
    from riskstream.core.errors import InputError

    defaults = settings(ctx).backtest
    models = defaults.models if models is None else models
    confidence = defaults.confidence if confidence is None else confidence
    window = defaults.window_days if window is None else window
    refit_every = defaults.refit_every_days if refit_every is None else refit_every
    scenarios = defaults.n_scenarios if scenarios is None else scenarios
    es_simulations = defaults.es_simulations if es_simulations is None else es_simulations
    seed = defaults.seed if seed is None else seed
    start = time.perf_counter()
    level = check_level(confidence, "--confidence")
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise InputError("--models", models, f"a comma-separated list of {', '.join(MODELS)}")
    with task_map(cluster) as run_tasks:  # connects first: a bad address fails fast
        series_name, dates, returns, attribution = _load_series(data)
        runs = walk_forward_models(
            returns,
            dates,
            names,
            confidence=level,
            window=window,
            refit_every_days=refit_every,
            n_scenarios=scenarios,
            seed=seed,
            ewma_lambda=settings(ctx).models.ewma_lambda,
            task_map=run_tasks,
        )
    results = [(run, validate_run(run, es_simulations, seed)) for run in runs]
    mcs = compare_runs(runs, seed=seed) if len(runs) > 1 else None
    paths: tuple[Path, Path] | None = None
    if report is not None:
        from riskstream.backtest.report import write_report

        paths = write_report(
            report,
            results,
            title=f"VaR/ES validation: {series_name}, {level:.1%}, window {window} days",
            mcs=mcs,
            attribution=attribution,
            per_model=per_model,
        )
    payload = {
        "data": series_name,
        "confidence": level,
        "window": window,
        "refit_every_days": refit_every,
        "start": str(runs[0].dates[0])[:10],
        "end": str(runs[0].dates[-1])[:10],
        "models": {run.model: v.as_dict() for run, v in results},
        "model_confidence_set": mcs.as_dict() if mcs else None,
        "pnl_attribution": attribution.as_dict() if attribution else None,
        "report": str(paths[0]) if paths else None,
        "figures": str(paths[1]) if paths else None,
        "seconds": time.perf_counter() - start,
    }
    if as_json:
        print_json(payload)
        return
    table = Table(title=f"{series_name}: {payload['start']} to {payload['end']}, {level:.1%}")
    for column in ("model", "days", "exceptions", "rate", "zone", "Kupiec p", "CC p", "Z2 p"):
        table.add_column(column)
    for run, v in results:
        b = v.backtest
        table.add_row(
            run.model,
            str(b.observations),
            str(b.exceptions),
            f"{b.exceptions / b.observations:.2%}",
            b.traffic_light.zone,
            f"{b.kupiec.p_value:.4f}",
            f"{b.christoffersen_cc.p_value:.4f}",
            f"{v.es_test.z2.p_value:.4f}",
        )
    console = Console()
    console.print(table)
    if mcs is not None:
        console.print(f"Model confidence set (90%, FZ0 loss): {', '.join(mcs.included)}")
    if paths:
        console.print(f"Report: {paths[0]} (figures: {paths[1]})")


def simulated_book_market(days: int = 1501, seed: int = 7, instruments: int = 1000) -> Any:
    """The simulated option/bond book's market (:class:`riskstream.backtest.book.MarketPath`)
    from the simulator's daily history of a reference universe of ``instruments``:
    the closes of its most-optioned underlying, that underlying's stored 1-year
    at-the-money implied vol, and the USD 10-year zero rate, over ``days`` business days."""
    import polars as pl

    from riskstream.backtest.book import MarketPath
    from riskstream.feeds.config import SimulatorConfig, UniverseConfig
    from riskstream.feeds.daily_history import simulate_daily_history
    from riskstream.feeds.universe import generate_universe

    universe = generate_universe(UniverseConfig(instruments=instruments, seed=seed))
    history = simulate_daily_history(universe, SimulatorConfig(seed=seed), days, seed)
    inst = universe.instruments
    counts = (
        inst.filter(pl.col("asset_class") == "option")
        .group_by("underlying_id")
        .len()
        .sort(["len", "underlying_id"], descending=[True, False])
    )
    symbol = inst["symbol"][int(counts["underlying_id"][0])]
    spot = history.prices.filter(pl.col("symbol") == symbol).sort("date")
    vol = history.vols.filter(
        (pl.col("underlying") == symbol)
        & (pl.col("expiry_years") == 1.0)
        & (pl.col("moneyness") == 1.0)
    ).sort("date")
    rate = history.curves.filter(
        (pl.col("currency") == "USD") & (pl.col("tenor_years") == 10.0)
    ).sort("date")
    return MarketPath(
        dates=spot["date"].to_numpy().astype("datetime64[D]"),
        spot=spot["close"].to_numpy(),
        vol=vol["implied_vol"].to_numpy(),
        yield_=rate["zero_rate"].to_numpy(),
    )


def _load_series(data: str) -> tuple[str, np.ndarray, np.ndarray, PnLAttribution | None]:
    """(name, dates, daily P&L, attribution or None) for ``--data``."""
    if data == "simulated":
        from riskstream.backtest.book import book_pnl_attribution

        attribution = book_pnl_attribution(simulated_book_market())
        return "simulated option/bond book", attribution.dates, attribution.hpl, attribution
    from riskstream.backtest.data import load_returns

    series = load_returns(data)
    return series.name, series.dates, series.returns, None


@backtest_app.command("book")
def book(
    ctx: typer.Context,
    window: int | None = typer.Option(
        None, "--window", help="Daily moves each day's scenarios come from [risk.window_days]."
    ),
    days: int = typer.Option(500, "--days", help="Forecast days, the last ones of the history."),
    method: str | None = typer.Option(
        None, "--method", help="historical | parametric | mc | fhs [risk.method]."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Write the HTML validation report here (+ .figures.json)."
    ),
    cluster: str | None = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Backtest the risk engine's own 1-day 99% VaR and ES of the stored book.

    Walks forward over the last ``--days`` dates of the book's stored history. Each day the
    engine is built exactly as ``riskstream risk`` builds it, as of the day before (marks,
    FX and implied vols of that day; scenarios from the ``--window`` daily moves up to it),
    and its forecast is compared with the book's hypothetical P&L of the day (yesterday's
    positions revalued at today's marks, :mod:`riskstream.backtest.hypothetical`, no engine
    involved). Kupiec, Christoffersen and duration tests, the Basel traffic light, the
    Acerbi-Székely ES tests and the FRTB exception counts at 99% and 97.5% follow.

    The days are independent: ``--cluster`` builds their engines on a Dask cluster, in
    blocks of days, with the same figures as the local run.
    """
    import time

    import numpy as np
    import polars as pl

    from riskstream.backtest.es_tests import empirical_tail_quantiles
    from riskstream.backtest.validation import ForecastRun, validate_run
    from riskstream.cli import settings
    from riskstream.cli.engine import book_as_of, load_history, risk_config, underlying_series
    from riskstream.cli.universe import ensure_universe
    from riskstream.cluster import check_address, task_map
    from riskstream.core.errors import InputError

    started = time.perf_counter()
    if cluster is not None:
        check_address(cluster)  # before the slow part
    s = settings(ctx)
    update: dict[str, object] = {"horizons_days": (1,), "confidence_levels": (0.99, 0.975)}
    if window is not None:
        update["window_days"] = window
    if method is not None:
        update["method"] = method
    config = risk_config(s.risk, update)
    universe = ensure_universe(s)
    history = load_history(s)
    inst = universe.instruments
    end = book_as_of(universe, history)
    # The book's calendar: every date one of its own series (or a future's underlying
    # series) has a close.
    stored = set(history.prices["symbol"].unique().to_list())
    names = set(inst["symbol"].to_list()) | {
        n for i in range(inst.height) if (n := underlying_series(inst, i, stored))
    }
    calendar = (
        history.prices.filter(pl.col("symbol").is_in(list(names)) & (pl.col("date") <= end))["date"]
        .unique()
        .sort()
        .to_list()
    )
    if days < 1 or days >= len(calendar):
        raise InputError("--days", days, f"1 to {len(calendar) - 1} (the book's stored dates)")
    qty = np.bincount(
        universe.positions["instrument_id"].to_numpy(),
        weights=universe.positions["quantity"].to_numpy(),
        minlength=inst.height,
    )
    # Each day is independent (an engine built afresh as of the day before): blocks of
    # BOOK_DAYS_PER_TASK days are tasks, here or on the --cluster, gathered in date order.
    walk = calendar[-days - 1 :]
    shared = {
        "universe": universe,
        "history": history,
        "config": config,
        "models": s.models,
        "quantity": qty,
    }
    blocks = [walk[i : i + BOOK_DAYS_PER_TASK + 1] for i in range(0, days, BOOK_DAYS_PER_TASK)]
    with task_map(cluster) as run_tasks:
        parts = run_tasks(_book_block, blocks, shared)
    pnl, var99, es99, var975, scenarios = ([x for part in parts for x in part[k]] for k in range(5))
    run = ForecastRun(
        model=f"engine-{config.method}",
        confidence=0.99,
        dates=np.array(calendar[-days:], dtype="datetime64[D]"),
        pnl=np.array(pnl),
        var=np.array(var99),
        es=np.array(es99),
        tail_quantiles=empirical_tail_quantiles(np.array(scenarios), 0.99),
        var_99=np.array(var99),
        var_975=np.array(var975),
        fit_seconds=time.perf_counter() - started,
    )
    validation = validate_run(run)
    paths = None
    if report is not None:
        from riskstream.backtest.report import write_report

        paths = write_report(
            report,
            [(run, validation)],
            title=f"Backtest of the engine's 1-day VaR: {config.method}, "
            f"window {config.window_days} days, {days} days to {calendar[-1]}",
        )
    payload = {
        "model": run.model,
        "window_days": config.window_days,
        "days": days,
        "start": str(calendar[-days]),
        "end": str(calendar[-1]),
        "history": history.source,
        "validation": validation.as_dict(),
        "daily": [
            {"date": str(d), "pnl": p, "var": v, "es": e}
            for d, p, v, e in zip(calendar[-days:], pnl, var99, es99, strict=True)
        ],
        "report": str(paths[0]) if paths else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if as_json:
        print_json(payload)
        return
    bt = validation.backtest
    light = bt.traffic_light
    console = Console()
    table = Table(title=f"{run.model}: {payload['start']} to {payload['end']}, 99% 1-day VaR")
    for column in ("test", "statistic", "p-value"):
        table.add_column(column)
    for name, test in (
        ("Kupiec POF", bt.kupiec),
        ("Christoffersen independence", bt.christoffersen_ind),
        ("Christoffersen conditional coverage", bt.christoffersen_cc),
    ):
        table.add_row(name, f"{test.lr:.4f}", f"{test.p_value:.4f}")
    console.print(table)
    console.print(
        f"{bt.exceptions} exceptions in {bt.observations} days (expected "
        f"{0.01 * bt.observations:.1f}): {light.zone} zone"
        + (f"; report {paths[0]}" if paths else "")
    )


BOOK_DAYS_PER_TASK = 20  # engine days per task of `backtest book` (a build is seconds)


def _book_block(shared: dict[str, Any], dates: list[Any]) -> tuple[list[Any], ...]:
    """One task of ``backtest book``: for each consecutive pair (before, day) of ``dates``,
    the engine as of ``before`` (its 99% VaR and ES, 97.5% VaR and 1-day scenario P&L) and
    the book's hypothetical P&L from ``before`` to ``day``. ``shared`` (universe, history,
    config, models, quantity) is only read."""
    from riskstream.backtest.hypothetical import hypothetical_pnl
    from riskstream.cli.engine import engine_as_of, mark_to_history

    universe, config = shared["universe"], shared["config"]
    history = shared["history"]
    inst = universe.instruments
    marks = {d: mark_to_history(universe, history, d, config.dividend_yield) for d in dates}
    pnl, var99, es99, var975, scenarios = [], [], [], [], []
    for before, day in itertools.pairwise(dates):
        engine, (marked, market, _, _) = engine_as_of(
            universe, config, history, before, shared["models"], marks[before]
        )
        snap = engine.refresh()
        var99.append(snap.measure(0.99, 1).var)
        es99.append(snap.measure(0.99, 1).es)
        var975.append(snap.measure(0.975, 1).var)
        scenarios.append(engine.portfolio_pnl(1))
        after = marks[day]
        pnl.append(
            hypothetical_pnl(
                inst,
                shared["quantity"],
                market.mid.copy(),
                after[1].mid.copy(),
                marked.fx_to_base,
                after[0].fx_to_base,
            )
        )
    return pnl, var99, es99, var975, scenarios
