"""``riskstream garch`` and ``riskstream scenarios``: the scenario models on a returns file.

Both read daily **log** returns (decimal) from a CSV or Parquet file, one column per series
(columns that are not floating point, such as a date or a day number, are ignored), oldest
row first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from riskstream.cli import app, print_json, settings
from riskstream.core.errors import InputError


def _read_returns(path: Path, columns: list[str] | None) -> tuple[list[str], np.ndarray]:
    """Float columns of a CSV/Parquet file as (names, (n_obs, n_cols) float64 array)."""
    import polars as pl

    if not path.exists():
        raise InputError("--returns", str(path), "an existing CSV or Parquet file")
    frame = pl.read_parquet(path) if path.suffix.lower() == ".parquet" else pl.read_csv(path)
    numeric = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    names = columns or numeric
    missing = [c for c in names if c not in numeric]
    if missing or not names:
        raise InputError("--column", missing or names, f"numeric columns of {path}: {numeric}")
    values = frame.select(names).cast(pl.Float64).to_numpy()
    return names, np.ascontiguousarray(values)


@app.command("garch")
def garch_command(
    ctx: typer.Context,
    returns: Path = typer.Option(..., "--returns", help="CSV/Parquet of daily log returns."),
    column: str | None = typer.Option(None, "--column", help="Series to fit (default: first)."),
    dist: str | None = typer.Option(None, "--dist", help="t or normal (default: config)."),
    o: int | None = typer.Option(None, "--o", help="1 adds the GJR leverage term."),
    horizon: int = typer.Option(10, "--horizon", help="Forecast horizon in trading days."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fit a GARCH-family model (arch) to one return series and forecast its volatility.

    Parameters are printed as arch reports them, in percent units (returns × 100);
    volatilities are daily decimals, annualised with √252.
    """
    from riskstream.models import GarchVolatility

    cfg = settings(ctx).models
    names, values = _read_returns(returns, [column] if column else None)
    model = GarchVolatility(
        o=(1 if cfg.garch_asymmetric else 0) if o is None else o,
        dist=dist or cfg.garch_dist,
        mean=cfg.garch_mean,
    ).fit(values[:, 0])
    daily = model.forecast_variance(horizon)
    payload = {
        "series": names[0],
        "observations": int(values.shape[0]),
        "params_percent": model.params_,
        "nu": model.nu_,
        "loglikelihood": model.loglikelihood_,
        "next_volatility_daily": model.next_volatility_,
        "next_volatility_annual": model.next_volatility_ * np.sqrt(252.0),
        "horizon_days": horizon,
        "horizon_volatility": float(np.sqrt(daily.sum())),
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(str(model.result_.summary()))
    typer.echo(
        f"tomorrow's volatility {payload['next_volatility_daily']:.4%} daily "
        f"({payload['next_volatility_annual']:.2%} annualised); "
        f"{horizon}-day {payload['horizon_volatility']:.4%}"
    )


@app.command("scenarios")
def scenarios_command(
    ctx: typer.Context,
    returns: Path = typer.Option(..., "--returns", help="CSV/Parquet of daily log returns."),
    method: str | None = typer.Option(None, "--method", help="historical, fhs or mc."),
    n_scenarios: int | None = typer.Option(None, "--scenarios", help="Number of scenarios."),
    horizon: int = typer.Option(1, "--horizon", help="Horizon in trading days."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (default: config)."),
    out: Path | None = typer.Option(None, "--out", help="Write scenarios (CSV or Parquet)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Generate horizon log-return scenarios of every factor in a returns file."""
    import polars as pl

    from riskstream.models import generator_from_config

    cfg = settings(ctx).models
    names, values = _read_returns(returns, None)
    name = method or cfg.scenario_method
    generator = generator_from_config(name, cfg).fit(values)
    n = n_scenarios or cfg.scenarios
    scen = generator.generate(n, horizon, seed=cfg.seed if seed is None else seed)
    if out is not None:
        frame = pl.DataFrame(scen, schema=names, orient="row")
        if out.suffix.lower() == ".parquet":
            frame.write_parquet(out)
        else:
            frame.write_csv(out)
    payload = {
        "method": name,
        "scenarios": int(scen.shape[0]),
        "horizon_days": horizon,
        "factors": names,
        "mean": scen.mean(axis=0),
        "std": scen.std(axis=0),
        "quantile_01": np.quantile(scen, 0.01, axis=0),
        "out": out,
    }
    if as_json:
        print_json(payload)
        return
    for i, factor in enumerate(names):
        typer.echo(
            f"{factor}: {horizon}-day std {payload['std'][i]:.4%}, "
            f"1% quantile {payload['quantile_01'][i]:.4%}"
        )
