"""riskstream risk / riskstream var: portfolio risk from the engine, and VaR of one series.

``riskstream risk`` wires the engine for a one-off run: the reference universe (and either
its own positions or a positions file), a market state at the reference prices, a factor
history, a scenario set drawn by the chosen ``riskstream.models`` generator, one refresh.

Factor history: until a stored history of real or replayed market data exists, the
history is drawn from the documented factor model of :mod:`riskstream.risk.history`
(``risk.history_days`` days, seed ``risk.seed``): deterministic, so the same command
gives the same figures. ``historical`` (and ``parametric``, whose covariance is estimated
from the same scenarios) uses the most recent ``n_scenarios`` overlapping ``h``-day
windows, so the history spans ``n_scenarios + h - 1`` days. Option implied vols are solved
from the options' reference prices (:func:`implied_vols`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError

BY_CHOICES = ("asset_class", "desk", "strategy", "trader", "instrument")
METHODS = ("historical", "parametric", "mc", "fhs")


def build_engine(
    universe: Any,
    config: Any,
    *,
    publish: Any = None,
    cache: Any = None,
    market: Any = None,
    clock: Any = None,
) -> Any:
    """A risk engine over ``universe`` (see the module doc).

    ``market`` is the live :class:`~riskstream.core.state.MarketState` (from the md stage);
    without one, a state quoting every instrument at its reference price. ``clock``
    defaults to 16:00 UTC on the universe's as-of date.
    """
    from riskstream.core.clock import ManualClock
    from riskstream.core.state import MarketState
    from riskstream.models import scenario_generator
    from riskstream.risk.engine import RiskEngine
    from riskstream.risk.factors import build_factor_space
    from riskstream.risk.history import synthetic_factor_history
    from riskstream.risk.scenarios import ScenarioSet

    space = build_factor_space(universe.instruments, universe.base_currency)
    longest = max(config.horizons_days)
    historical = config.method in ("historical", "parametric")
    # Historical scenarios are the most recent n overlapping h-day windows of the history
    # (exact historical simulation), so the history covers n_scenarios + h - 1 days.
    days = (
        max(config.history_days, config.n_scenarios + longest - 1)
        if historical
        else (config.history_days)
    )
    history = synthetic_factor_history(space, days, config.seed)
    generator = scenario_generator("historical" if historical else config.method)
    generator.fit(history)
    scenarios = ScenarioSet.from_generator(
        generator, space.kind, config.horizons_days, config.n_scenarios, config.seed
    )
    del history
    n = len(universe)
    if market is None:
        market = MarketState(n)
        px = universe.instruments["ref_price"].to_numpy().astype(np.float64)
        market.mid[:] = px
        market.last[:] = px
        market.seq[:] = 1
    as_of = getattr(universe, "as_of", None) or dt.date.today()
    rates = option_rates(universe, as_of)
    implied = implied_vols(universe, as_of, rates, config.dividend_yield)
    if clock is None:
        clock = ManualClock(
            int(dt.datetime.combine(as_of, dt.time(16), tzinfo=dt.UTC).timestamp() * 1e9)
        )
    return RiskEngine(
        universe, market, scenarios, implied, config, clock, publish, cache, rates=rates
    )


def option_rates(universe: Any, as_of: dt.date) -> np.ndarray:
    """Each option's continuously compounded zero rate to expiry on its currency's curve
    (the reference curves of :func:`riskstream.feeds.markets.zero_rate`, the ones the
    universe priced its options with); NaN for other instruments."""
    from riskstream.feeds.markets import zero_rate
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    out = np.full(inst.height, np.nan)
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    if opt.size:
        years = year_fraction(epoch_days(inst["expiry"])[opt], as_of)
        out[opt] = zero_rate(inst["currency"].to_numpy()[opt], np.maximum(years, 0.0))
    return out


def implied_vols(
    universe: Any, as_of: dt.date, rates: np.ndarray, dividend_yield: float
) -> np.ndarray:
    """Implied vol of every option from its reference price (NaN for other instruments).

    Black-Scholes-Merton (``dividend_yield``) for options on stocks, Black-76 for options on
    futures, Barone-Adesi-Whaley for American options (see the code for quotes below the
    exercise value), at each option's rate (``rates``, per instrument), so the engine's
    model value at today's spot reproduces the quoted price. Reference prices are rounded to
    the tick, so a deep in-the-money quote can sit up to a tick *below* the discounted
    intrinsic value (the zero-vol price); such quotes are read as half a tick above it. Where no vol
    reproduces a price even so, the result is NaN and the engine excludes and lists the
    position.
    """
    from riskstream.pricing import (
        baw_implied_vol,
        black76_implied_vol,
        black76_price,
        bsm_implied_vol,
        bsm_price,
    )
    from riskstream.risk.factors import epoch_days, year_fraction

    inst = universe.instruments
    n = inst.height
    out = np.full(n, np.nan)
    opt = np.flatnonzero((inst["asset_class"] == "option").to_numpy())
    if opt.size == 0:
        return out
    und = inst["underlying_id"].to_numpy()[opt].astype(np.int64)
    asset = inst["asset_class"].to_numpy()
    px = inst["ref_price"].to_numpy().astype(np.float64)
    strike = inst["strike"].to_numpy().astype(np.float64)[opt]
    call = inst["right"].to_numpy()[opt] == "C"
    expiry = year_fraction(epoch_days(inst["expiry"])[opt], as_of)
    on_future = asset[und] == "future"
    spot = px[und]
    b, f = ~on_future, on_future
    r = rates[opt]
    quote = px[opt]
    floor = np.where(
        on_future,
        black76_price(spot, strike, expiry, r, 0.0, call),
        bsm_price(spot, strike, expiry, r, dividend_yield, 0.0, call),
    )
    tick = inst["tick_size"].to_numpy().astype(np.float64)[opt]
    rounded_below = (quote >= floor - tick) & (quote < floor + 0.5 * tick)
    quote = np.where(rounded_below, floor + 0.5 * tick, quote)
    out[opt[b]] = bsm_implied_vol(
        quote[b], spot[b], strike[b], expiry[b], r[b], dividend_yield, call[b]
    )
    out[opt[f]] = black76_implied_vol(quote[f], spot[f], strike[f], expiry[f], r[f], call[f])
    # American options by the engine's American model (Barone-Adesi-Whaley). A quote at or
    # below the exercise value carries no vol (the simulator's reference prices are
    # European values, so deep in-the-money American puts sit below it): such an option
    # keeps the European vol of its quote, and the engine adds the exercise premium.
    if "exercise" in inst.columns:
        am = inst["exercise"].to_numpy()[opt] == "american"
        if am.any():
            q = np.where(on_future, r, dividend_yield)[am]
            iv = baw_implied_vol(
                quote[am], spot[am], strike[am], expiry[am], r[am], q, call[am],
                guess=out[opt[am]],
            )  # fmt: skip
            out[opt[am]] = np.where(np.isfinite(iv), iv, out[opt[am]])
    return out


@app.command("risk")
def risk_command(
    ctx: typer.Context,
    portfolio: Path | None = typer.Option(
        None, "--portfolio", help="Positions file (CSV or YAML: book, symbol, quantity)."
    ),
    use_universe: bool = typer.Option(
        False, "--universe", help="Use the reference universe's own positions."
    ),
    method: str = typer.Option(
        "historical", "--method", help="historical | parametric | mc | fhs."
    ),
    confidence: float = typer.Option(0.99, "--confidence", help="VaR/ES level, e.g. 0.99."),
    horizon: int = typer.Option(1, "--horizon", help="Horizon in days (simulated paths)."),
    by: str | None = typer.Option(
        None, "--by", help="Also break down by asset_class | desk | strategy | trader | instrument."
    ),
    scenarios: int | None = typer.Option(None, "--scenarios", help="Number of scenarios."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """VaR, ES, liquidity-adjusted VaR (part by part) and Euler contributions of a portfolio.

    Losses are positive amounts in the base currency. ES >= VaR; the Euler contributions
    sum to VaR and ES.
    """
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.instruments import Universe
    from riskstream.risk.measures import check_confidence, check_horizon
    from riskstream.store.loaders import read_positions

    if method not in METHODS:
        raise InputError("--method", method, f"one of {', '.join(METHODS)}")
    if by is not None and by not in BY_CHOICES:
        raise InputError("--by", by, f"one of {', '.join(BY_CHOICES)}")
    if (portfolio is None) == (not use_universe):
        raise InputError(
            "--portfolio/--universe", None, "exactly one of --portfolio FILE or --universe"
        )
    check_confidence(confidence, "--confidence")
    check_horizon(horizon, "--horizon")
    s = settings(ctx)
    universe = ensure_universe(s)
    if portfolio is not None:
        positions = read_positions(portfolio, universe)
        universe = Universe(
            universe.instruments,
            universe.books,
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
    config = type(s.risk).model_validate({**s.risk.model_dump(), **update})
    engine = build_engine(universe, config)
    snap = engine.refresh()
    out = snap.as_dict()
    out["instruments"] = len(universe)
    out["positions"] = universe.positions.height
    out["implied_vol_source"] = "implied from reference option prices (currency zero rates)"
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


def _print_table(out: dict[str, Any], by: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    m = out["measures"][0]
    head = Table(title=f"Risk ({out['method']}, {m['confidence']:.1%}, {m['horizon_days']}d)")
    head.add_column("measure")
    head.add_column("amount", justify="right")
    for key in ("var", "es", "lvar", "spread_cost", "impact_cost", "funding_cost"):
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
