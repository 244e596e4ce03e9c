"""riskstream optimise / riskstream hedge: portfolio construction and hedging.

File contracts (``--json`` prints one JSON object as the last line; decimals throughout):

* ``riskstream optimise --prices FILE --objective max-sharpe|min-volatility|erc
  --risk-free R`` — FILE is a wide CSV, ``date`` plus one column of prices per asset.
  Defaults: expected returns are the compounded annualised mean of daily simple returns,
  ``(prod(1 + r))^(252/n) - 1``; the covariance is the sample covariance of daily simple
  returns × 252; long-only and fully invested. Prints ``weights``, ``expected_return``,
  ``volatility``, ``sharpe`` (and the ``frontier`` for mean-variance objectives, the
  historical ``var``/``es`` of the weights on the file's returns).
* ``riskstream optimise --cov FILE --objective erc`` — FILE is a square CSV: a header row
  of asset names and a first column of the same names. Prints ``weights``.
* ``riskstream optimise black-litterman --cov FILE --market-weights FILE --views FILE
  --delta D --tau T`` — market weights: CSV ``asset, weight``; views: one column per asset
  (the pick matrix P, a row per view), ``q`` (the view's return) and an optional
  ``confidence`` (then Ω by Idzorek); Ω defaults to ``diag(P τΣ Pᵀ)``. Prints
  ``prior_returns`` (δΣw), ``posterior_returns`` and ``weights`` (``(δ(Σ+M))⁻¹ μ_BL``).
* ``riskstream hedge ratio --input FILE --exposure Q --contract-size C`` — FILE has
  columns ``spot_change, futures_change``; prints ``hedge_ratio`` (ρσ_S/σ_F from sample
  standard deviations) and ``contracts`` (rounded to the nearest whole contract).

On the loaded book (reference DB and history store, as ``riskstream risk``):
``riskstream optimise book`` and ``riskstream hedge book`` propose trades, show the risk
before and after, and pass them through the limits' pre-trade gate
(:mod:`riskstream.construction`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.core.errors import InputError

optimise_app = typer.Typer(
    help="Optimise a portfolio: mean-variance, risk parity, Black-Litterman.",
    invoke_without_command=True,
)
hedge_app = typer.Typer(
    help="Hedges: minimum-variance ratio, and the book's hedges.", no_args_is_help=True
)
app.add_typer(optimise_app, name="optimise")
app.add_typer(hedge_app, name="hedge")

OBJECTIVE_HELP = (
    "max-sharpe | min-volatility | erc | efficient-risk | efficient-return | max-utility."
)
JSON = typer.Option(False, "--json", help="Print one JSON object.")


# ----------------------------------------------------------------- file readers


def _read_csv(path: Path, option: str) -> pl.DataFrame:
    if not path.exists():
        raise InputError(option, str(path), "an existing CSV file")
    try:
        return pl.read_csv(path, infer_schema_length=None)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(option, str(path), f"a readable CSV ({exc})") from None


def _numeric(frame: pl.DataFrame, columns: list[str], option: str, path: Path) -> np.ndarray:
    """The columns as float64; a missing or non-numeric cell names its row and column."""
    for c in columns:
        if not frame.schema[c].is_numeric():
            bad = frame.with_row_index().filter(pl.col(c).cast(pl.Float64, strict=False).is_null())
            row = int(bad["index"][0]) + 2 if bad.height else "?"
            raise InputError(
                f"{option} column {c}",
                bad[c][0] if bad.height else None,
                "numbers in every row",
                f"{path.name}:{row}",
            )
        nulls = frame[c].is_null().arg_true()
        if nulls.len():
            raise InputError(
                f"{option} column {c}", None, "a number (the cell is empty)",
                f"{path.name}:{int(nulls[0]) + 2}",
            )  # fmt: skip
    return frame.select(columns).cast(pl.Float64).to_numpy()


def read_prices(path: Path) -> tuple[list[str], np.ndarray]:
    """A wide price CSV (``date`` + one column per asset), oldest first."""
    frame = _read_csv(path, "--prices")
    if "date" not in frame.columns:
        raise InputError("--prices", frame.columns, "a 'date' column plus one column per asset")
    names = [c for c in frame.columns if c != "date"]
    if len(names) < 2:
        raise InputError("--prices", names, "at least two asset columns")
    frame = frame.sort("date")
    return names, _numeric(frame, names, "--prices", path)


def read_square(path: Path, option: str = "--cov") -> tuple[list[str], np.ndarray]:
    """A square CSV: header of asset names, first column the same names in the same order."""
    frame = _read_csv(path, option)
    first = frame.columns[0]
    names = frame.columns[1:]
    rows = [str(x) for x in frame[first].to_list()]
    if rows != names:
        raise InputError(
            option, rows, f"a first column naming the header's assets in order ({names})"
        )
    return names, _numeric(frame, names, option, path)


def read_weights(path: Path, names: list[str]) -> np.ndarray:
    """``asset, weight`` rows, every asset of the covariance once."""
    frame = _read_csv(path, "--market-weights")
    if set(frame.columns) < {"asset", "weight"}:
        raise InputError("--market-weights", frame.columns, "columns asset, weight")
    got = dict(
        zip(
            [str(a) for a in frame["asset"].to_list()],
            _numeric(frame, ["weight"], "--market-weights", path)[:, 0],
            strict=True,
        )
    )
    missing = [n for n in names if n not in got]
    if missing or len(got) != len(names):
        raise InputError("--market-weights", sorted(got), f"one weight for each of {names}")
    return np.array([got[n] for n in names])


def read_views(
    path: Path, names: list[str], regimes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Views: a column per asset (P), ``q`` and optional ``confidence``; with ``regimes``,
    a ``q_<regime>`` column per regime instead of ``q`` (returned as (K, k))."""
    frame = _read_csv(path, "--views")
    q_cols = [f"q_{r}" for r in regimes or []]
    if regimes:
        missing = [c for c in q_cols if c not in frame.columns]
        if missing:
            raise InputError("--views", frame.columns, f"the regime view columns {q_cols}")
        frame = frame.with_columns(pl.lit(0.0).alias("q")) if "q" not in frame.columns else frame
    if "q" not in frame.columns:
        raise InputError("--views", frame.columns, "a 'q' column with each view's return")
    unknown = [c for c in frame.columns if c not in (*names, "q", "confidence", *q_cols)]
    if unknown:
        raise InputError("--views", unknown, f"columns among the assets {names}, q, confidence")
    for n in names:
        if n not in frame.columns:
            frame = frame.with_columns(pl.lit(0.0).alias(n))
    picks = _numeric(frame, names, "--views", path)
    q = _numeric(frame, ["q"], "--views", path)[:, 0]
    conf = (
        _numeric(frame, ["confidence"], "--views", path)[:, 0]
        if "confidence" in frame.columns
        else None
    )
    by_regime = _numeric(frame, q_cols, "--views", path).T if regimes else None
    return picks, q, conf, by_regime


# --------------------------------------------------------------------- optimise


@optimise_app.callback()
def optimise_command(
    ctx: typer.Context,
    prices: Path | None = typer.Option(
        None, "--prices", help="Wide CSV: date + a price column per asset."
    ),
    cov: Path | None = typer.Option(
        None, "--cov", help="Square covariance CSV (with --objective erc)."
    ),
    objective: str = typer.Option("max-sharpe", "--objective", help=OBJECTIVE_HELP),
    risk_free: float = typer.Option(0.0, "--risk-free", help="Annual risk-free rate, decimal."),
    max_weight: float = typer.Option(1.0, "--max-weight", help="Largest weight of one asset."),
    long_short: bool = typer.Option(
        False, "--long-short", help="Allow shorts (down to -max-weight)."
    ),
    target_volatility: float | None = typer.Option(
        None, "--target-volatility", help="efficient-risk target; with erc: lever to it."
    ),
    target_return: float | None = typer.Option(
        None, "--target-return", help="efficient-return target."
    ),
    risk_aversion: float = typer.Option(1.0, "--risk-aversion", help="max-utility delta."),
    financing_spread: float = typer.Option(
        0.0, "--financing-spread", help="Levered erc: borrowing spread over the risk-free rate."
    ),
    frontier: int = typer.Option(20, "--frontier", help="Efficient-frontier points (0: none)."),
    confidence: float = typer.Option(
        0.99, "--confidence", help="VaR/ES level of the weights' historical risk."
    ),
    as_json: bool = JSON,
) -> None:
    """Optimal weights from a price file (or a covariance file for erc).

    Defaults documented in the module: compounded annualised mean, sample covariance × 252,
    long-only and fully invested. ``erc`` is equal risk contribution (Maillard, Roncalli &
    Teiletche 2010); with ``--target-volatility`` it is levered to that volatility and the
    financing of the leverage is charged (``--financing-spread``).
    """
    if ctx.invoked_subcommand is not None:
        return
    from riskstream.portfolio.requests import (
        check_objective,
        erc_from_covariance,
        optimise_prices,
    )

    check_objective(objective)
    if (prices is None) == (cov is None):
        raise InputError("--prices/--cov", None, "exactly one of --prices FILE or --cov FILE")
    if cov is not None:
        if objective != "erc":
            raise InputError("--objective", objective, "erc with --cov (no returns to optimise)")
        _emit(erc_from_covariance(*read_square(cov)), as_json)
        return
    assert prices is not None
    names, px = read_prices(prices)
    out = optimise_prices(
        names, px, objective, risk_free, max_weight, long_short, target_volatility,
        target_return, risk_aversion, financing_spread, frontier, confidence,
    )  # fmt: skip
    _emit(out, as_json)


@optimise_app.command("black-litterman")
def black_litterman_command(
    cov: Path = typer.Option(..., "--cov", help="Square covariance CSV (annual)."),
    market_weights: Path = typer.Option(..., "--market-weights", help="CSV asset, weight."),
    views: Path = typer.Option(
        ..., "--views", help="CSV: a column per asset (P), q, [confidence]."
    ),
    delta: float = typer.Option(2.5, "--delta", help="Risk aversion."),
    tau: float = typer.Option(0.05, "--tau", help="Scale of the prior's uncertainty."),
    regime_probabilities: str | None = typer.Option(
        None,
        "--regime-probabilities",
        help="Regime views: 'calm=0.7,stress=0.3' (the detected probabilities); the views "
        "file then has a q_<regime> column per regime.",
    ),
    as_json: bool = JSON,
) -> None:
    """Black-Litterman posterior returns and weights (He & Litterman 1999).

    Ω is He-Litterman's ``diag(P τΣ Pᵀ)``; with a ``confidence`` column, Idzorek's. With
    ``--regime-probabilities`` the views are regime views: ``Q = Σ p_k Q_k`` and
    ``Ω + diag(Σ p_k (Q_k - Q)²)`` (the regimes' disagreement widens Ω).
    """
    from riskstream.portfolio.requests import black_litterman_named

    names, sigma = read_square(cov)
    w = read_weights(market_weights, names)
    regimes, probs = None, None
    if regime_probabilities is not None:
        try:
            pairs = [item.split("=") for item in regime_probabilities.split(",")]
            regimes, probs = [k.strip() for k, _ in pairs], np.array([float(v) for _, v in pairs])
        except ValueError:
            raise InputError(
                "--regime-probabilities", regime_probabilities, "regime=probability pairs"
            ) from None
    picks, q, conf, by_regime = read_views(views, names, regimes)
    out = black_litterman_named(names, sigma, w, picks, q, conf, delta, tau, by_regime, probs)
    _emit(out, as_json)


@optimise_app.command("book")
def optimise_book_command(
    ctx: typer.Context,
    objective: str = typer.Option(
        "max-sharpe", "--objective", help="max-sharpe | min-volatility | erc | max-utility."
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD (default: the book's last close)."
    ),
    window: int = typer.Option(250, "--window", help="Daily moves of stored history used."),
    max_weight: float = typer.Option(1.0, "--max-weight", help="Largest weight in the sleeve."),
    max_turnover: float | None = typer.Option(
        None, "--max-turnover", help="Largest sum of |weight changes|."
    ),
    book_id: int | None = typer.Option(
        None, "--book-id", help="Book the trades go to (default: the largest holder)."
    ),
    group_max: list[str] = typer.Option(
        [],
        "--group-max",
        help="KIND=SHARE: each sector / currency / asset_class / country at most SHARE "
        "(repeatable).",
    ),
    no_risk: bool = typer.Option(False, "--no-risk", help="Skip the risk engine's before/after."),
    as_json: bool = JSON,
) -> None:
    """Re-weight the loaded book's held instruments with stored closes; trades in lots with
    costs, risk before/after (the risk engine) and the limits' pre-trade gate."""
    from riskstream.construction import run_optimise_book

    if objective not in ("max-sharpe", "min-volatility", "erc", "max-utility"):
        raise InputError("--objective", objective, "max-sharpe, min-volatility, erc or max-utility")
    s, book, history, board, limits = _book(ctx, as_of)
    out = run_optimise_book(
        book, s, history, board, limits, objective.replace("-", "_"), window, max_weight,
        max_turnover, book_id, not no_risk, _group_max(group_max),
    )  # fmt: skip
    _emit(out, as_json)


# ------------------------------------------------------------------------ hedge


@hedge_app.command("ratio")
def hedge_ratio_command(
    input_file: Path = typer.Option(..., "--input", help="CSV with spot_change, futures_change."),
    exposure: float = typer.Option(..., "--exposure", help="Units to hedge (Q_A)."),
    contract_size: float = typer.Option(..., "--contract-size", help="Units per contract (Q_F)."),
    spot_price: float | None = typer.Option(
        None, "--spot-price", help="Tail the hedge: spot price."
    ),
    futures_price: float | None = typer.Option(
        None, "--futures-price", help="Tail the hedge: futures price."
    ),
    as_json: bool = JSON,
) -> None:
    """Minimum-variance hedge ratio ρσ_S/σ_F and contracts (Hull §3.4)."""
    from riskstream.portfolio.requests import hedge_ratio

    frame = _read_csv(input_file, "--input")
    cols = ["spot_change", "futures_change"]
    if not set(cols) <= set(frame.columns):
        raise InputError("--input", frame.columns, "columns spot_change, futures_change")
    x = _numeric(frame, cols, "--input", input_file)
    _emit(
        hedge_ratio(x[:, 0], x[:, 1], exposure, contract_size, spot_price, futures_price), as_json
    )


@hedge_app.command("band")
def hedge_band_command(
    ctx: typer.Context,
    input_file: Path = typer.Option(
        ..., "--input", help="CSV with an 'exposure' column, oldest first."
    ),
    band: float | None = typer.Option(
        None,
        "--band",
        help="No-trade half-width, exposure units (default: portfolio.rehedge_band"
        " x mean |exposure|).",
    ),
    to_edge: bool = typer.Option(False, "--to-edge", help="Re-hedge only back to the band's edge."),
    as_json: bool = JSON,
) -> None:
    """Dynamic hedging: re-hedge only when the open exposure leaves a no-trade band
    (Whalley & Wilmott 1997); prints the hedge and trade at each step and their count."""
    from riskstream.portfolio.hedging import band_rehedge

    frame = _read_csv(input_file, "--input")
    if "exposure" not in frame.columns:
        raise InputError("--input", frame.columns, "an 'exposure' column")
    e = _numeric(frame, ["exposure"], "--input", input_file)[:, 0]
    width = (
        band if band is not None else settings(ctx).portfolio.rehedge_band * float(np.abs(e).mean())
    )
    s = band_rehedge(e, width, full=not to_edge)
    _emit(
        {
            "band": width,
            "rehedges": s.n_rehedges,
            "steps": int(e.size),
            "max_open_exposure": s.max_open_exposure,
            "hedge": s.hedge.tolist(),
            "trades": s.trades.tolist(),
        },
        as_json,
    )


@hedge_app.command("book")
def hedge_book_command(
    ctx: typer.Context,
    hedges: str = typer.Option(
        "delta,beta,duration",
        "--hedges",
        help="Comma-separated: delta, gamma_vega (with delta), beta, duration.",
    ),
    index: str = typer.Option("SPX", "--index", help="Index of the beta hedge (its future)."),
    target_beta: float = typer.Option(0.0, "--target-beta", help="Beta to hedge the equities to."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="YYYY-MM-DD (default: the book's last close)."
    ),
    book_id: int | None = typer.Option(None, "--book-id", help="Book the hedges go to."),
    no_risk: bool = typer.Option(False, "--no-risk", help="Skip the risk engine's before/after."),
    as_json: bool = JSON,
) -> None:
    """The loaded book's delta, beta and duration hedges: trades in lots with costs, the
    risk after each hedge (the risk engine), and the limits' pre-trade gate."""
    from riskstream.construction import run_hedge_book

    chosen = tuple(h.strip() for h in hedges.split(",") if h.strip())
    s, book, history, board, limits = _book(ctx, as_of)
    out = run_hedge_book(
        book, s, history, board, limits, chosen, index, target_beta, book_id, not no_risk
    )
    _emit(out, as_json)


# ------------------------------------------------------------------------ shared


def _group_max(items: list[str]) -> dict[str, float]:
    out = {}
    for item in items:
        kind, _, share = item.partition("=")
        try:
            out[kind.strip()] = float(share)
        except ValueError:
            raise InputError("--group-max", item, "KIND=SHARE, e.g. sector=0.3") from None
    return out


def _book(ctx: typer.Context, as_of: str | None) -> tuple[Any, Any, Any, Any, list[Any]]:
    """Settings, the marked book, the history, the kill-switch board and the limits."""
    from riskstream.cli.engine import book_as_of, load_history
    from riskstream.cli.universe import ensure_universe, open_refdb
    from riskstream.construction import mark_book
    from riskstream.limits.killswitch import KillSwitchBoard
    from riskstream.limits.registry import LimitRegistry
    from riskstream.store.limits_repo import LimitRepository

    s = settings(ctx)
    universe = ensure_universe(s)
    history = load_history(s)
    day = date_option("--as-of", as_of) or book_as_of(universe, history)
    book = mark_book(universe, history, day, s.risk.dividend_yield)
    db = open_refdb(s)
    try:
        repo = LimitRepository(db)
        board = KillSwitchBoard(repo)
        limits = LimitRegistry(repo).limits()
    finally:
        db.close()
    return s, book, history, board, limits


def _emit(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(out)
        return
    for key, value in out.items():
        if isinstance(value, dict) and all(isinstance(v, float) for v in value.values()):
            typer.echo(f"{key}:")
            for k, v in value.items():
                typer.echo(f"  {k:<24} {v: .6f}")
        elif isinstance(value, float):
            typer.echo(f"{key:<26} {value: .6f}")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            typer.echo(f"{key}: {len(value)}")
            for row in value[:20]:
                typer.echo(
                    "  "
                    + ", ".join(
                        f"{k}={v}" for k, v in row.items() if not isinstance(v, list | dict)
                    )
                )
        else:
            typer.echo(f"{key:<26} {value}")
