"""riskstream stress: run, list, reverse, liquidity and report — stress tests of the book.

The book is marked as ``riskstream risk`` marks it (:func:`riskstream.cli.engine.
mark_to_history`: the last stored closes on or before the as-of date, stored FX, implied
vols off the stored surfaces, option rates off the stored curves) and revalued in full by
:mod:`riskstream.stress`. Every ``--json`` output is one JSON object on the last line; P&L
is in the base currency, **negative for a loss**. Each run is stored with its lineage
(scenario versions, positions version, market data as-of) under ``<data_dir>/stress``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.cluster import CLUSTER_HELP, check_address, task_map
from riskstream.core.errors import InputError

stress_app = typer.Typer(
    help="Stress tests: historical, hypothetical, reverse, liquidity.", no_args_is_help=True
)
app.add_typer(stress_app, name="stress")

JSON = typer.Option(False, "--json", help="Print one JSON object.")
AS_OF = typer.Option(None, "--as-of", help="Date YYYY-MM-DD (default: the book's last close).")


def results_dir(s: Any) -> Path:
    """Where stress runs are stored: ``<data_dir>/stress``."""
    return Path(s.store.data_dir) / "stress"


def loaded_book(s: Any, as_of: dt.date | None = None) -> tuple[Any, Any, Any]:
    """The stored book as a :class:`~riskstream.stress.book.StressBook`, the stress
    context (instruments and history) and the universe, marked as ``riskstream risk``
    marks it."""
    from riskstream.cli.engine import book_as_of, load_history, mark_to_history, option_rates
    from riskstream.cli.universe import ensure_universe, open_refdb
    from riskstream.store.refdb import stored_positions_version
    from riskstream.stress.book import build_book
    from riskstream.stress.historical import StressContext

    universe = ensure_universe(s)
    history = load_history(s)
    day = as_of or book_as_of(universe, history)
    marked, market, iv, info = mark_to_history(universe, history, day, s.risk.dividend_yield)
    rates = option_rates(marked, day, history.curves)
    db = open_refdb(s)
    try:
        with db.engine.connect() as conn:
            version = stored_positions_version(conn)
    finally:
        db.close()
    positions = universe.positions.sort(["book_id", "instrument_id"])
    digest = hashlib.blake2b(positions.write_csv().encode(), digest_size=8).hexdigest()
    book = build_book(
        marked,
        market.mid,
        iv,
        rates,
        day,
        history.curves,
        s.risk.dividend_yield,
        lineage={
            "positions_version": version,
            "positions_digest": digest,
            "market_data_as_of": day.isoformat(),
            "market_data_source": history.source,
            "marks": {k: v for k, v in info.items() if k != "unmarked"},
        },
    )
    return book, StressContext(universe.instruments, history), universe


def attach_stress(api: Any, s: Any) -> None:
    """Serve ``/api/v1/stress`` (:mod:`riskstream.service.stress`) on ``api``: every
    packaged scenario on the stored book, marked afresh at each run, stored under
    :func:`results_dir`."""
    from riskstream.service.stress import StressService, attach
    from riskstream.stress.library import builtin_scenarios
    from riskstream.stress.run import ResultStore, run_scenarios

    def runner() -> Any:
        book, context, _ = loaded_book(s)
        return run_scenarios(book, list(builtin_scenarios().values()), context)

    attach(api, StressService(runner, ResultStore(results_dir(s))))


def _store(s: Any, run: Any) -> str:
    from riskstream.stress.run import ResultStore

    return str(ResultStore(results_dir(s)).save(run, dt.datetime.now(dt.UTC)))


@stress_app.command("list")
def list_command(as_json: bool = JSON) -> None:
    """Every packaged scenario: historical episodes, climate pathways, supervisory."""
    from riskstream.stress.library import scenario_list

    rows = scenario_list()
    if as_json:
        print_json({"scenarios": rows})
        return
    for r in rows:
        typer.echo(f"{r['name']:<28} {r['kind']:<12} v{r['version']:<24} {r['description']}")


@stress_app.command("run")
def run_command(
    ctx: typer.Context,
    scenario: list[str] = typer.Option(
        ..., "--scenario", help="A scenario name (`stress list`) or YAML file; repeat, or 'all'."
    ),
    horizon: int = typer.Option(
        0, "--horizon-days", help="Days to the shocked market: 0 = no carry or theta."
    ),
    top: int = typer.Option(10, "--top", help="Top losing positions reported."),
    as_of: str | None = AS_OF,
    cluster: str | None = typer.Option(None, "--cluster", help=CLUSTER_HELP),
    chunk: int = typer.Option(50, "--chunk", help="Scenarios per task (local or cluster)."),
    as_json: bool = JSON,
) -> None:
    """Revalue the book in full under scenarios; P&L by asset class, desk, factor, position.

    With one scenario the JSON has ``pnl``, ``by_asset_class``, ``by_desk``,
    ``top_positions`` (and ``by_factor``, ``mapping``, ``lineage``) at the top level; with
    several, the same per scenario under ``scenarios``."""
    from riskstream.stress.library import builtin_scenarios, find_scenario
    from riskstream.stress.run import run_scenarios

    if cluster is not None:
        check_address(cluster)
    names = list(builtin_scenarios()) if scenario == ["all"] else scenario
    scenarios = [find_scenario(n) for n in names]
    s = settings(ctx)
    book, context, _ = loaded_book(s, date_option("--as-of", as_of))
    with task_map(cluster) as map_fn:
        run = run_scenarios(book, scenarios, context, horizon, top, chunk, map_fn)
    stored = _store(s, run)
    out = run.as_dict()
    out["stored"] = stored
    out["cluster"] = cluster
    if len(run.results) == 1:
        out = {**out.pop("scenarios")[0], **out}
    if as_json:
        print_json(out)
        return
    from collections import Counter

    for r in run.results:
        typer.echo(f"{r.name}: P&L {r.pnl:,.0f} {book.base_currency} ({r.kind}, v{r.version})")
        for k, v in sorted(r.by_asset_class.items(), key=lambda kv: kv[1]):
            typer.echo(f"  {k:<12} {v:>16,.0f}")
        methods = Counter(m["method"] for m in r.mapping)
        typer.echo("  mapping: " + ", ".join(f"{k} {n}" for k, n in methods.most_common()))
    typer.echo(
        f"carry and theta {'included' if run.carry_theta_included else 'not included'}; "
        f"stored {stored}"
    )


@stress_app.command("ladders")
def ladders_command(
    ctx: typer.Context,
    by: str = typer.Option("desk", "--by", help="desk | asset_class."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Sensitivity ladders (spot, vol, rates, twist, credit, FX), full revaluation, by desk
    or asset class: one row per rung."""
    from riskstream.stress.sensitivity import sensitivity_ladders

    if by not in ("desk", "asset_class"):
        raise InputError("--by", by, "desk or asset_class")
    s = settings(ctx)
    book, _, _ = loaded_book(s, date_option("--as-of", as_of))
    table = sensitivity_ladders(book).table(by)
    if as_json:
        print_json({"by": by, "rows": table, "lineage": book.lineage})
        return
    groups = [k for k in table[0] if k not in ("ladder", "step", "unit", "label", "total")]
    typer.echo(f"{'rung':<18}{'total':>14}" + "".join(f"{g[:14]:>16}" for g in groups))
    for row in table:
        typer.echo(
            f"{row['label']:<18}{row['total']:>14,.0f}"
            + "".join(f"{row[g]:>16,.0f}" for g in groups)
        )


def _read_square_csv(path: Path) -> tuple[list[str], np.ndarray]:
    import polars as pl

    if not path.exists():
        raise InputError("--cov", str(path), "an existing CSV file")
    frame = pl.read_csv(path)
    names = frame.columns[1:]
    first = [str(x) for x in frame[frame.columns[0]].to_list()]
    if first != names:
        raise InputError(
            "--cov", f"rows {first[:5]}", f"a first column naming the header's factors {names[:5]}"
        )
    try:
        values = frame.select(names).cast(pl.Float64).to_numpy()
    except Exception:
        raise InputError("--cov", str(path), "numbers in every cell") from None
    return names, values


def _read_exposures(path: Path) -> dict[str, float]:
    import polars as pl

    if not path.exists():
        raise InputError("--exposures", str(path), "an existing CSV file")
    frame = pl.read_csv(path)
    if set(frame.columns) != {"factor", "exposure"}:
        raise InputError("--exposures", frame.columns, "the columns factor, exposure")
    out = {}
    for row, (f, e) in enumerate(zip(frame["factor"], frame["exposure"], strict=True), start=2):
        if e is None or not np.isfinite(float(e)):
            raise InputError("exposure", e, "a finite number", f"{path}:{row}")
        out[str(f)] = float(e)
    return out


@stress_app.command("reverse")
def reverse_command(
    ctx: typer.Context,
    loss: float = typer.Option(..., "--loss", help="The loss to produce (positive, base ccy)."),
    cov: Path | None = typer.Option(None, "--cov", help="Square covariance CSV (linear)."),
    exposures: Path | None = typer.Option(None, "--exposures", help="CSV factor, exposure."),
    window: int | None = typer.Option(None, "--window", help="Daily moves for the covariance."),
    components: int = typer.Option(20, "--components", help="Principal components searched."),
    limit: str | None = typer.Option(
        None, "--limit", help="A stress_loss limit id: also the smallest uniform breaching move."
    ),
    factor_set: str = typer.Option(
        "EQ:", "--factor-set", help="Prefix of the factors moved together (with --limit)."
    ),
    max_move: float = typer.Option(0.5, "--max-move", help="Largest uniform move searched."),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Reverse stress: the most likely move (minimum Mahalanobis distance) losing ``--loss``.

    With ``--cov`` and ``--exposures``: the linear book's analytic solution
    ``x* = -L Σe / (e'Σe)``. Without: the loaded book, full revaluation, the covariance
    of its factors' stored daily moves (``risk.window_days``)."""
    from riskstream.stress.reverse import analytic_reverse, uniform_breach

    if (cov is None) != (exposures is None):
        raise InputError("--cov/--exposures", None, "both files, or neither (the loaded book)")
    if cov is not None and exposures is not None:
        names, matrix = _read_square_csv(cov)
        e = _read_exposures(exposures)
        unknown = sorted(set(e) - set(names))
        if unknown:
            raise InputError("factor", unknown[:5], f"factors of {cov.name}")
        vector = np.array([e.get(n, 0.0) for n in names])
        result = analytic_reverse(matrix, vector, loss, names)
        out = result.as_dict()
        if as_json:
            print_json(out)
        else:
            _print_reverse(out)
        return
    s = settings(ctx)
    book, context, universe = loaded_book(s, date_option("--as-of", as_of))
    out = book_reverse(s, book, context, universe, loss, window, components)
    if limit is not None:
        threshold = _limit_threshold(s, limit)
        chosen = [k for k in book.keys if k.startswith(factor_set)]
        out["limit_breach"] = {
            "limit_id": limit,
            "hard": threshold,
            "factor_set": factor_set,
            "factors": len(chosen),
            **uniform_breach(book, chosen, threshold, max_move),
        }
    if as_json:
        print_json(out)
    else:
        _print_reverse(out)


def book_reverse(
    s: Any,
    book: Any,
    context: Any,
    universe: Any,
    loss: float,
    window: int | None,
    components: int,
) -> dict[str, Any]:
    """Reverse stress of the loaded book: full revaluation, with the covariance of its
    factors' last ``window`` (default ``risk.window_days``) stored daily moves."""
    from riskstream.risk.factor_history import build_factor_history
    from riskstream.risk.factors import build_factor_space
    from riskstream.stress.reverse import reverse_stress

    space = build_factor_space(universe.instruments, universe.base_currency)
    fh = build_factor_history(
        space,
        universe.instruments,
        universe.base_currency,
        context.history,
        window or s.risk.window_days,
        1,
        book.as_of,
    )
    # price factors' moves in engine units (arithmetic returns), as the scenarios apply them
    moves = np.where(space.kind == 0, np.expm1(fh.moves), fh.moves)
    held = sorted({int(c) for c in _held_factors(book)})
    factors = [space.keys[c] for c in held]
    result = reverse_stress(book, factors, loss, moves=moves[:, held], n_components=components)
    out = result.as_dict(top=50)
    out["factors"] = len(factors)
    out["history"] = {k: v for k, v in fh.as_dict().items() if k != "series"}
    return out


def _held_factors(book: Any) -> np.ndarray:
    cols = np.concatenate(
        [
            book.spot_col,
            book.vol_col,
            book.ccy_col,
            book.fx_base_col,
            book.fx_quote_col,
            book.rate_table.ravel(),
        ]
    )
    return cols[(cols >= 0) & (book.kind[np.maximum(cols, 0)] != 3)]


def _limit_threshold(s: Any, limit_id: str) -> float:
    """The hard threshold of a ``stress_loss`` limit in the limits registry."""
    from riskstream.cli.universe import open_refdb
    from riskstream.limits.model import LimitType
    from riskstream.limits.registry import LimitRegistry
    from riskstream.store.limits_repo import LimitRepository

    db = open_refdb(s)
    try:
        lim = LimitRegistry(LimitRepository(db)).get(limit_id)
    finally:
        db.close()
    if lim.limit_type is not LimitType.STRESS_LOSS:
        raise InputError("--limit", limit_id, "a limit of type stress_loss")
    return lim.hard


def _print_reverse(out: dict[str, Any]) -> None:
    typer.echo(
        f"loss {out['loss']:,.0f}: Mahalanobis distance {out['mahalanobis']:.3f}, "
        f"probability {out['probability']:.3g} ({out['method']})"
    )
    for k, v in sorted(out["shock"].items(), key=lambda kv: -abs(kv[1]))[:15]:
        typer.echo(f"  {k:<28} {v:+.6g}")


@stress_app.command("liquidity")
def liquidity_command(
    ctx: typer.Context,
    redeem: float = typer.Option(..., "--redeem", help="Share of NAV redeemed, e.g. 0.2."),
    days: int = typer.Option(..., "--days", help="Days to pay the redemption."),
    cash: float = typer.Option(0.0, "--cash", help="Cash held (base currency)."),
    spread_mult: float = typer.Option(3.0, "--spread-mult", help="Spreads x k."),
    depth_div: float = typer.Option(3.0, "--depth-div", help="Depth / m."),
    volume_mult: float = typer.Option(0.5, "--volume-mult", help="Volumes x v."),
    waterfall: str = typer.Option("liquid_first", "--waterfall", help="liquid_first | pro_rata."),
    gate: float | None = typer.Option(None, "--gate", help="Largest share of NAV paid."),
    swing_threshold: float | None = typer.Option(None, "--swing-threshold"),
    swing_factor: float = typer.Option(0.0, "--swing-factor"),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """Investors redeem ``--redeem`` of NAV over ``--days`` days in a stressed market."""
    from riskstream.stress.liquidity import MarketStress, RedemptionPolicy, redemption_stress

    market = MarketStress(spread_mult, depth_div, volume_mult)
    policy = RedemptionPolicy(waterfall, gate, swing_threshold, swing_factor)  # type: ignore[arg-type]
    s = settings(ctx)
    book, _, _ = loaded_book(s, date_option("--as-of", as_of))
    result = redemption_stress(book, redeem, days, cash, market, policy, s.risk.liquidity)
    out = result.as_dict()
    out["market"] = market.__dict__
    out["policy"] = policy.__dict__
    out["lineage"] = book.lineage
    if as_json:
        print_json(out)
        return
    met = result.days_to_meet
    typer.echo(
        f"redeem {result.requested:,.0f} of NAV {result.nav:,.0f}: "
        f"{'met in ' + str(met) + ' day(s)' if met is not None else 'NOT met'}; cost "
        f"{result.cost:,.0f}, fire-sale loss {result.fire_sale_loss:,.0f}, remaining "
        f"leverage {result.remaining['leverage']:.2f}"
    )


@stress_app.command("report")
def report_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="HTML file to write."),
    loss: float | None = typer.Option(
        None, "--loss", help="Reverse-stress loss (default: the worst scenario's)."
    ),
    as_of: str | None = AS_OF,
    as_json: bool = JSON,
) -> None:
    """A self-contained HTML report: every scenario, the sensitivity heatmaps and the
    reverse stress (plotly inlined)."""
    from riskstream.stress.library import builtin_scenarios
    from riskstream.stress.report import write_report
    from riskstream.stress.run import run_scenarios
    from riskstream.stress.sensitivity import sensitivity_ladders

    s = settings(ctx)
    book, context, universe = loaded_book(s, date_option("--as-of", as_of))
    run = run_scenarios(book, list(builtin_scenarios().values()), context)
    _store(s, run)
    ladders = sensitivity_ladders(book)
    target = loss or max(-min(r.pnl for r in run.results), 1.0)
    try:
        reverse = book_reverse(s, book, context, universe, target, None, 20)
    except InputError as exc:  # e.g. too little stored history for a covariance
        reverse = {"error": str(exc)}
    path = write_report(out, run, ladders, reverse, book)
    summary = {"report": str(path), "scenarios": len(run.results), "reverse_loss": target}
    if as_json:
        print_json(summary)
    else:
        typer.echo(f"wrote {path}")
