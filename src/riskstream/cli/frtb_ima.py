"""``riskstream frtb ima``: the FRTB internal models capital of the loaded book.

This module wires the book, the stored market history and the risk engine into
:func:`riskstream.regulatory.ima.compute_ima` (the regulation lives there; here only the
composition):

* **as-of, marks, FX, implied vols**: as ``riskstream risk`` (:mod:`riskstream.cli.engine`);
* **factor history**: the daily moves of the book's factors over the *whole* stored
  history up to the as-of date (:func:`riskstream.risk.factor_history.
  build_factor_history`, proxies included), so the stressed-window search sees every year
  stored;
* **modellable factors**: the eligibility test (MAR31.12) on each factor's real-price
  observations in the store (:mod:`riskstream.regulatory.ima.observations`, plus
  ``--observations FILE``);
* **reduced set**: the modellable factors whose own series covers the whole history (no
  day filled by a proxy);
* **revaluation**: the risk engine's full revaluation of each scenario row (options on
  their grids): one engine per batch of rows, per-unit P&L times each desk's quantities;
* **desks** (``books.desk``): each desk's backtest and PLA over the last
  ``--backtest-days`` days (:func:`riskstream.regulatory.ima.desk_eligibility`). Static
  book, current levels: the risk-theoretical P&L of day ``t`` is the engine's revaluation of
  the current positions under the factor moves of day ``t``; the hypothetical P&L is the
  same positions revalued by :func:`riskstream.backtest.hypothetical.hypothetical_pnl` on
  each instrument's own stored marks, their relative move of day ``t`` applied to today's
  marks (no engine, no factor mapping: what PLA tests); the VaR of day ``t`` is the
  historical-simulation 1-day VaR of the previous 250 risk-theoretical P&Ls. Desks that
  fail leave the IMA scope; the bank-wide 99% backtest of the others sets ``m_c``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import typer

from riskstream.core.errors import InputError

VAR_LOOKBACK_DAYS = 250  # each day's 1-day VaR from the previous 250 daily moves
ROWS_PER_ENGINE = 2048  # scenario rows revalued per engine (memory: rows x factors x 8 B)


def _calendar_moves(space: Any, universe: Any, history: Any, day: dt.date) -> Any:
    """The factor history over everything stored up to ``day``."""
    from riskstream.risk.factor_history import build_factor_history

    dates = pl.concat(
        [history.prices["date"], history.curves["date"], history.vols["date"]]
    ).unique()
    stored = int((dates <= day).sum()) - 1
    try:
        return build_factor_history(
            space, universe.instruments, universe.base_currency, history, max(stored, 1), 1, day
        )
    except InputError as exc:
        # the book's own calendar is shorter than every stored date: its length is stated
        import re

        held = re.search(r"holds (\d+)", str(exc))
        if held is None or int(held.group(1)) < 1:
            raise
        return build_factor_history(
            space,
            universe.instruments,
            universe.base_currency,
            history,
            int(held.group(1)),
            1,
            day,
        )


class EngineRevaluer:
    """Full revaluation of factor-move rows by the risk engine, for fixed quantity vectors.

    ``__call__(moves)`` with moves of shape (n_rows, n_factors) (additive units) returns the
    P&L, shape (n_rows, n_vectors), of each column of ``quantities`` (n_instruments,
    n_vectors); instruments the engine cannot value are left out (listed in
    ``excluded``)."""

    def __init__(
        self, marked: Any, market: Any, implied_vol: np.ndarray, config: Any, rates: Any, day: Any
    ):
        from riskstream.cli.engine import close_clock
        from riskstream.risk.factors import build_factor_space

        self.marked, self.market, self.iv = marked, market, implied_vol
        self.config, self.rates, self.clock = config, rates, close_clock(day)
        self.space = build_factor_space(marked.instruments, marked.base_currency)
        self.excluded: list[str] = []
        self.qty = np.zeros(len(marked))  # the engine's aggregated quantities (last build)

    def __call__(self, moves: np.ndarray, quantities: np.ndarray) -> np.ndarray:
        from riskstream.risk.engine import RiskEngine
        from riskstream.risk.scenarios import ScenarioSet

        q = np.asarray(quantities, dtype=np.float64)
        out = np.empty((moves.shape[0], q.shape[1]))
        for a in range(0, moves.shape[0], ROWS_PER_ENGINE):
            rows = np.array(moves[a : a + ROWS_PER_ENGINE], dtype=np.float64)  # a copy
            if rows.shape[0] < 2:  # the engine's quantiles want two scenarios at least
                rows = np.vstack([rows, np.zeros_like(rows)])
            scenarios = ScenarioSet.from_log_moves({1: rows}, self.space.kind)
            engine = RiskEngine(
                self.marked,
                self.market,
                scenarios,
                self.iv,
                self.config,
                self.clock,
                rates=self.rates,
            )
            held = np.flatnonzero(np.any(q != 0, axis=1) & (engine.reason == 0))
            self.excluded = [
                str(engine.symbol[i])
                for i in np.flatnonzero(np.any(q != 0, axis=1) & (engine.reason != 0))
            ]
            self.qty = np.asarray(engine.qty, dtype=np.float64).copy()
            n = min(ROWS_PER_ENGINE, moves.shape[0] - a)
            unit = engine.unit_pnl_rows(1, np.arange(n), held)
            out[a : a + n] = unit @ q[held]
            engine.close()
        return out


def standardised_hooks(
    history: Any, day: dt.date, dividend_yield: Any
) -> tuple[Callable[[Any], float], Callable[[Any], float]]:
    """The standardised approach's default risk charge (MAR22) and capital (MAR20.3) of a
    book, as callables of a :class:`~riskstream.core.instruments.Universe` marked at
    ``day``'s closes in ``history`` (``ima_on_book``'s ``drc_of`` and ``sa_capital_of``).
    The one place both ``frtb ima`` and ``lineage show --verify`` take them from, so a
    recorded capital re-computes with the same DRC; one SA run per book serves both."""
    from riskstream.cli.frtb import sa_of_universe

    totals: dict[int, dict[str, float]] = {}

    def total(universe: Any) -> dict[str, float]:
        if id(universe) not in totals:
            report = sa_of_universe(universe, history, day, dividend_yield)
            totals[id(universe)] = report["total"]
        return totals[id(universe)]

    return (lambda u: float(total(u)["drc"])), (lambda u: float(total(u)["capital"]))


def desk_quantities(universe: Any) -> tuple[list[str], np.ndarray]:
    """The desks (``books.desk``, sorted) and each one's net quantity per instrument,
    shape (n_instruments, n_desks)."""
    pos = universe.positions.join(
        universe.books.select("book_id", "desk"), on="book_id", how="left"
    )
    desks = sorted(pos["desk"].drop_nulls().unique().to_list())
    q = np.zeros((len(universe), len(desks)))
    col = {d: j for j, d in enumerate(desks)}
    for iid, qty, desk in pos.select("instrument_id", "quantity", "desk").iter_rows():
        q[iid, col[desk]] += qty
    return desks, q


def ima_on_book(
    universe: Any,
    history: Any,
    observed: dict[str, pl.DataFrame],
    day: dt.date,
    risk: Any,
    *,
    extra_observations: pl.DataFrame | None = None,
    backtest_days: int = 250,
    drc: float | None = None,
    drc_of: Callable[[Any], float] | None = None,
    sa_capital_of: Callable[[Any], float] | None = None,
) -> dict[str, Any]:
    """The IMA capital of ``universe`` from ``history`` as of ``day`` (see the module doc).

    The standardised approach plugs in through two callables of the book *in scope* (a
    :class:`~riskstream.core.instruments.Universe` holding the eligible desks' positions):
    ``drc_of`` its default risk charge (MAR22, used when ``drc`` is not given: the IMA adds
    the DRC, MAR33.41), ``sa_capital_of`` its standardised capital (for the PLA add-on,
    called only when a desk in scope is amber).

    Parameters
    ----------
    universe : Universe
    history : MarketHistoryFrames
    observed : dict of kind to frame ``series, date``
        Real observations stored (:func:`observed_frames`).
    day : datetime.date
    risk : RiskConfig
        The ``[risk]`` settings (dividend yield, threads); horizons, method and levels are
        set here.
    """
    from riskstream.backtest.hypothetical import hypothetical_pnl
    from riskstream.cli.engine import mark_to_history, option_rates, risk_config
    from riskstream.regulatory.ima import (
        capital_multiplier,
        classify_factors,
        compute_ima,
        desk_eligibility,
        eligibility_test,
    )
    from riskstream.regulatory.ima.desks import rolling_var
    from riskstream.regulatory.ima.observations import factor_observations
    from riskstream.regulatory.reconciliation import reconcile

    config = risk_config(
        risk, {"horizons_days": (1,), "method": "historical", "confidence_levels": (0.99,)}
    )
    marked, market, iv, marks = mark_to_history(universe, history, day, config.dividend_yield)
    revaluer = EngineRevaluer(
        marked, market, iv, config, option_rates(marked, day, history.curves), day
    )
    space = revaluer.space
    fh = _calendar_moves(space, marked, history, day)
    classes = classify_factors(
        space.keys, marked.instruments, marked.base_currency, dict(marked.fx_to_base)
    )

    # --- modellable factors (MAR31.12) and the reduced set
    seen = factor_observations(fh.series, observed, extra_observations)
    rfet = {k: eligibility_test(seen.get(k, set()), day) for k in space.keys}
    modellable = np.array([rfet[k].modellable for k in space.keys])
    proxied = {p.factor for p in fh.proxies if p.days > 0}
    reduced = modellable & np.array([k not in proxied for k in space.keys])

    # --- desks: backtest and PLA (MAR32)
    desks, q_desk = desk_quantities(marked)
    need = backtest_days + VAR_LOOKBACK_DAYS
    if fh.n_moves < need:
        raise InputError(
            "--backtest-days",
            backtest_days,
            f"at most {fh.n_moves - VAR_LOOKBACK_DAYS} (the stored history holds "
            f"{fh.n_moves} daily moves; each backtest day needs the {VAR_LOOKBACK_DAYS} "
            "before it)",
        )
    q_all = np.column_stack([q_desk, q_desk.sum(axis=1)])
    daily_pnl = revaluer(fh.moves[-need:], q_all)  # (need, n_desks + 1)
    rtpl = daily_pnl[VAR_LOOKBACK_DAYS:]
    var99 = rolling_var(daily_pnl, VAR_LOOKBACK_DAYS, 0.99)
    var975 = rolling_var(daily_pnl, VAR_LOOKBACK_DAYS, 0.975)
    bt_dates = [dt.date.fromisoformat(str(d)) for d in fh.dates[-backtest_days - 1 :]]
    hpl = _static_hypothetical(marked, history, bt_dates, config, q_all, market, hypothetical_pnl)
    desk_tests = [
        desk_eligibility(d, hpl[:, j], rtpl[:, j], var99[:, j], var975[:, j])
        for j, d in enumerate(desks)
    ]
    in_scope = np.array([t.eligible for t in desk_tests], dtype=bool)
    q_ima = q_desk[:, in_scope].sum(axis=1)
    n_in_scope = int(in_scope.sum())
    # the bank-wide backtest of the desks in scope sets m_c (MAR33.45)
    hpl_scope = hpl[:, :-1][:, in_scope].sum(axis=1)
    rtpl_window = daily_pnl[:, :-1][:, in_scope].sum(axis=1)
    var_scope = rolling_var(rtpl_window, VAR_LOOKBACK_DAYS, 0.99)
    n_exc = int(np.sum(hpl_scope + var_scope < 0))
    multiplier = capital_multiplier(n_exc, backtest_days)

    in_scope_universe = _in_scope(marked, [d for d, ok in zip(desks, in_scope, strict=True) if ok])
    if drc is None and drc_of is not None:
        drc = float(drc_of(in_scope_universe))
    amber = any(t.eligible and t.pla_add_on for t in desk_tests)
    sa_in_scope = (
        float(sa_capital_of(in_scope_universe)) if amber and sa_capital_of is not None else None
    )
    if n_in_scope == 0:
        figures: dict[str, Any] = {
            "capital": drc or 0.0,
            "note": "no desk is eligible for the internal models approach",
        }
    else:
        figures = compute_ima(
            fh.moves,
            fh.dates,
            classes,
            modellable,
            reduced,
            lambda m: revaluer(m, q_ima[:, None])[:, 0],
            multiplier,
            drc=drc,
            sa_in_scope=sa_in_scope,
        ).as_dict()
    figures["drc_included"] = drc is not None
    reconciliation = [
        reconcile(
            "net quantity per instrument: engine aggregate vs sum of books",
            {str(i): float(v) for i, v in enumerate(revaluer.qty) if v != 0},
            _book_quantities(marked),
        ),
        reconcile(
            "risk-theoretical P&L per day: firm vs sum of desks",
            {str(d): float(v) for d, v in zip(bt_dates[1:], rtpl[:, -1], strict=True)},
            {
                desk: {str(d): float(v) for d, v in zip(bt_dates[1:], rtpl[:, j], strict=True)}
                for j, desk in enumerate(desks)
            },
            rtol=1e-9,
            atol=1e-6 * max(1.0, float(np.abs(rtpl[:, -1]).max(initial=0.0))),
        ),
    ]
    not_own = sum(p.days for p in fh.proxies) + sum(fh.gaps.values())
    return {
        **figures,
        "as_of": day.isoformat(),
        "base_currency": marked.base_currency,
        "desks": [t.as_dict() for t in desk_tests],
        "desks_in_scope": [d for d, ok in zip(desks, in_scope, strict=True) if ok],
        "bank_backtest": {"exceptions_99": n_exc, "observations": backtest_days},
        "eligibility": {
            "non_modellable": [k for k in space.keys if not rfet[k].modellable],
            "tests": {k: r.as_dict() for k, r in rfet.items()},
        },
        "liquidity_horizons": {
            k: int(h) for k, h in zip(space.keys, classes.horizon_days, strict=True)
        },
        "excluded_instruments": revaluer.excluded,
        "history": {
            "source": fh.source,
            "first_date": str(fh.dates[0]),
            "last_date": str(fh.dates[-1]),
            "daily_moves": fh.n_moves,
            "proxied_factors": sorted(proxied),
            "factor_days": fh.n_moves * len(space.keys),
            "own_factor_days": max(0, fh.n_moves * len(space.keys) - not_own),
        },
        "reconciliation": reconciliation,
        "marks": marks,
    }


def _in_scope(universe: Any, desks: list[str]) -> Any:
    """``universe`` with only the positions of the books of ``desks``."""
    from riskstream.core.instruments import Universe

    books = universe.books.filter(pl.col("desk").is_in(desks))["book_id"]
    return Universe(
        universe.instruments,
        universe.books,
        universe.positions.filter(pl.col("book_id").is_in(books.to_list())),
        universe.base_currency,
        universe.fx_to_base,
        getattr(universe, "as_of", None),
    )


def _book_quantities(universe: Any) -> dict[str, dict[str, float]]:
    """Per book name, its quantity per instrument id (text keys)."""
    names = dict(universe.books.select("book_id", "name").iter_rows())
    out: dict[str, dict[str, float]] = {}
    for book, iid, qty in universe.positions.select(
        "book_id", "instrument_id", "quantity"
    ).iter_rows():
        out.setdefault(names[book], {})[str(iid)] = float(qty)
    return out


def _static_hypothetical(
    marked: Any,
    history: Any,
    dates: list[dt.date],
    config: Any,
    q: np.ndarray,
    market_now: Any,
    hypothetical_pnl: Any,
) -> np.ndarray:
    """Hypothetical P&L of each quantity vector on each day of ``dates[1:]``: each
    instrument's stored marks' relative move of that day applied to today's marks (the
    static book at current levels; see the module doc). Shape (len(dates) - 1, n_vectors)."""
    from riskstream.cli.engine import mark_to_history

    inst = marked.instruments
    now_px = market_now.mid.copy()
    now_fx = dict(marked.fx_to_base)
    marks = [mark_to_history(marked, history, d, config.dividend_yield) for d in dates]
    out = np.zeros((len(dates) - 1, q.shape[1]))
    for t in range(1, len(dates)):
        p0, p1 = marks[t - 1][1].mid, marks[t][1].mid
        f0, f1 = marks[t - 1][0].fx_to_base, marks[t][0].fx_to_base
        after_px = now_px * (p1 / p0)
        after_fx = {c: now_fx[c] * f1[c] / f0[c] for c in now_fx}
        for j in range(q.shape[1]):
            out[t - 1, j] = hypothetical_pnl(inst, q[:, j], now_px, after_px, now_fx, after_fx)
    return out


def observed_frames(store: Any, versions: dict[str, int] | None = None) -> dict[str, pl.DataFrame]:
    """The stored real observations (``series, date``; forward-filled rows left out) of
    each kind, at ``versions`` (Delta time travel; default the current ones)."""
    from riskstream.regulatory.ima.observations import NOT_REAL_SOURCES
    from riskstream.store.history_files import SERIES

    out = {}
    for kind, name in SERIES.items():
        v = None if versions is None else versions.get(kind)
        scan = None if v is not None and v < 0 else store.scan(kind, v)
        out[kind] = (
            pl.DataFrame(schema={"series": pl.String(), "date": pl.Date()})
            if scan is None
            else scan.filter(~pl.col("source").is_in(list(NOT_REAL_SOURCES)))
            .select(pl.col(name).alias("series"), "date")
            .unique()
            .collect()
        )
    return out


def register_ima(group: typer.Typer) -> None:
    """Add the ``ima`` command to ``group`` (the ``frtb`` group)."""

    @group.command("ima")
    def ima_command(
        ctx: typer.Context,
        as_of: str | None = typer.Option(
            None, "--as-of", help="Date YYYY-MM-DD (default: the book's last stored close)."
        ),
        observations: str | None = typer.Option(
            None,
            "--observations",
            help="CSV risk_factor,date of real-price observations beyond the stored closes.",
        ),
        backtest_days: int = typer.Option(
            250, "--backtest-days", help="Days of desk backtesting and PLA (250 in MAR32)."
        ),
        drc: float | None = typer.Option(
            None,
            "--drc",
            help="Default risk charge (base currency); default: the SA DRC of the book.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """FRTB internal models capital (MAR31-33) of the loaded book, with its lineage.

        ES at 97.5% on 10-day overlapping moves of the stored history with the
        liquidity-horizon cascade, stressed calibration on the worst 12-month window,
        stressed scenario capital of the non-modellable factors, desk eligibility from
        backtesting and P&L attribution, and max(IMCC_{t-1} + SES, m_c IMCC_avg + SES)
        (+ DRC). The run is recorded for BCBS 239 lineage: ``riskstream lineage show ID``.
        """
        from riskstream.cli import date_option, print_json, settings
        from riskstream.cli.lineage import record_ima_run

        day = date_option("--as-of", as_of)
        s = settings(ctx)
        out = record_ima_run(
            s,
            day,
            observations=observations,
            backtest_days=backtest_days,
            drc=drc,
        )
        if as_json:
            print_json(out)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"FRTB IMA capital, {out['as_of']} ({out['base_currency']})")
        table.add_column("figure")
        table.add_column("amount", justify="right")
        for key in ("capital", "ca", "imcc", "imcc_avg_60d", "ses", "drc", "es_10d_975"):
            if out.get(key) is not None:
                table.add_row(key, f"{out[key]:,.0f}")
        Console().print(table)
        print(f"lineage id: {out['lineage_id']}")
