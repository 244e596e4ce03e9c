"""riskstream frtb: FRTB regulatory capital (Basel MAR).

* ``frtb sa --crif FILE --reporting-currency CCY``: the sensitivities-based method on a
  CRIF-style file (:mod:`riskstream.regulatory.sa.crif`); ``--json`` prints ``total``
  (``low``, ``medium``, ``high``, ``capital``) and ``by_risk_class`` (risk class -> measure ->
  ``low``/``medium``/``high`` and ``buckets``), plus ``quarantined`` (bad rows, with reasons).
* ``frtb sa`` without ``--crif``: the loaded book, marked at its last stored closes
  (:func:`riskstream.cli.engine.mark_to_history`), sensitivities from the book
  (:mod:`riskstream.regulatory.sa.sensitivities`), DRC and RRAO added; ``total.capital`` =
  SBM + DRC + RRAO, ``by_desk`` per desk; ``--report FILE.html`` writes the HTML report.
* ``frtb lh-cascade --es ES10,ES20,ES40,ES60,ES120``: the MAR33.4 liquidity-horizon cascade
  (:mod:`riskstream.regulatory.cascade`), prints ``es``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.core.errors import InputError

frtb_app = typer.Typer(
    help="FRTB regulatory capital: standardised approach, liquidity-horizon cascade.",
    no_args_is_help=True,
)
app.add_typer(frtb_app, name="frtb")


def _fx_to(reporting: str, currencies: list[str], s: Any, quotes: Path | None) -> dict[str, float]:
    """Units of ``reporting`` per unit of each currency (:func:`riskstream.core.fx.
    rates_to_base`, cross rates included), from the FX pair quotes of ``quotes`` (CSV
    ``symbol,price``, e.g. ``EURUSD,1.0713``) or else the latest stored FX closes."""
    need = [c for c in currencies if c != reporting]
    if not need:
        return {}
    import polars as pl

    from riskstream.cli.engine import load_history
    from riskstream.core.fx import rates_to_base, split_pair

    if quotes is not None:
        table = _read_mapping(quotes, "price")
        try:
            prices = {k: float(v) for k, v in table.items()}
        except ValueError:
            raise InputError("price", str(quotes), "numeric FX prices") from None
        return rates_to_base(prices, need, reporting)
    history = load_history(s)
    last = (
        history.prices.filter(pl.col("close") > 0)
        .sort("date")
        .group_by("symbol")
        .agg(pl.col("close").last())
    )
    pairs = {k: v for k, v in zip(last["symbol"], last["close"], strict=True) if split_pair(k)}
    return rates_to_base(pairs, need, reporting)


def _read_mapping(path: Path | None, value_name: str) -> dict[str, str]:
    if path is None:
        return {}
    import polars as pl

    if not path.is_file():
        raise InputError("file", str(path), "an existing CSV file")
    frame = pl.read_csv(path, infer_schema=False)
    if "symbol" not in frame.columns or value_name not in frame.columns:
        raise InputError("columns", frame.columns, f"symbol and {value_name}", str(path))
    return dict(zip(frame["symbol"], frame[value_name], strict=True))


@frtb_app.command("sa")
def sa_command(
    ctx: typer.Context,
    crif: Path | None = typer.Option(None, "--crif", help="CRIF CSV of sensitivities."),
    reporting_currency: str | None = typer.Option(
        None, "--reporting-currency", help="Reporting currency (default: the book's base)."
    ),
    specified_currency_reduction: bool = typer.Option(
        True,
        "--specified-currency-reduction/--no-specified-currency-reduction",
        help="Divide GIRR risk weights of the specified currencies by sqrt(2) (MAR21.44).",
    ),
    fx_specified_pair_reduction: bool = typer.Option(
        False,
        "--fx-specified-pair-reduction",
        help="Divide the FX risk weight of specified pairs by sqrt(2) (MAR21.88).",
    ),
    market_caps: Path | None = typer.Option(
        None, "--market-caps", help="CSV symbol,market_cap_usd (equity buckets, MAR21.73)."
    ),
    fx_quotes: Path | None = typer.Option(
        None, "--fx-quotes", help="CSV symbol,price of FX pairs (default: stored closes)."
    ),
    rrao: Path | None = typer.Option(
        None, "--rrao", help="CSV symbol,category (exotic|other): instruments with RRAO."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Date YYYY-MM-DD (book mode)."),
    report: Path | None = typer.Option(None, "--report", help="Write the HTML report here."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Standardised-approach capital: SBM (MAR21) from a CRIF file, or the whole SA (SBM +
    DRC + RRAO) of the loaded book."""
    from riskstream.regulatory.sa.sbm import SbmConfig

    config = SbmConfig(specified_currency_reduction, fx_specified_pair_reduction)
    s = settings(ctx)
    if reporting_currency is not None and (
        len(reporting_currency) != 3 or not reporting_currency.isupper()
    ):
        raise InputError("--reporting-currency", reporting_currency, "an ISO 4217 code")
    if crif is not None:
        out = _sa_crif(crif, reporting_currency or s.universe.base_currency, config, s, fx_quotes)
    else:
        out = book_report(s, reporting_currency, config, market_caps, rrao, as_of)
    if report is not None:
        from riskstream.regulatory.sa.report import render_html

        if "by_desk" not in out:
            raise InputError("--report", str(report), "book mode (no --crif)")
        report.write_text(render_html(out))
    if as_json:
        print_json(out)
        return
    _print(out)


def _sa_crif(
    path: Path, reporting: str, config: Any, s: Any, quotes: Path | None
) -> dict[str, Any]:
    from riskstream.regulatory.sa.crif import crif_currencies, normalise_crif, read_crif_frame
    from riskstream.regulatory.sa.sbm import sbm_capital

    frame = read_crif_frame(path)
    fx = _fx_to(reporting, crif_currencies(frame), s, quotes)
    rows, bad = normalise_crif(frame, reporting, fx, source=path.name)
    out = sbm_capital(rows, reporting, config).as_dict()
    out["reporting_currency"] = reporting
    out["rows"] = rows.height
    out["quarantined"] = bad
    return out


def book_report(
    s: Any,
    reporting: str | None = None,
    config: Any = None,
    market_caps: Path | None = None,
    rrao_file: Path | None = None,
    as_of: str | None = None,
) -> dict[str, Any]:
    """The SA report of the loaded book (``riskstream frtb sa`` without ``--crif``, and the
    service's ``/api/v1/frtb`` routes): marked at the as-of date's stored closes,
    sensitivities from the book, DRC and RRAO, by desk and risk class."""
    from riskstream.cli.engine import book_as_of, load_history
    from riskstream.cli.universe import ensure_universe

    universe = ensure_universe(s)
    history = load_history(s)
    day = date_option("--as-of", as_of) or book_as_of(universe, history)
    caps = {}
    for symbol, cap in _read_mapping(market_caps, "market_cap_usd").items():
        try:
            caps[symbol] = float(cap)
        except (TypeError, ValueError):
            raise InputError("market_cap_usd", cap, f"a number (USD) for {symbol}") from None
    return sa_of_universe(
        universe,
        history,
        day,
        s.risk.dividend_yield,
        reporting=reporting,
        config=config,
        market_caps=caps,
        rrao_categories=_read_mapping(rrao_file, "category"),
    )


def sa_of_universe(
    universe: Any,
    history: Any,
    day: Any,
    dividend_yield: Any,
    *,
    reporting: str | None = None,
    config: Any = None,
    market_caps: dict[str, float] | None = None,
    rrao_categories: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The SA report of ``universe`` marked at ``day``'s closes in ``history``: the one SA
    computation behind ``frtb sa`` on the book, its routes, and the IMA's DRC and PLA
    add-on (:func:`riskstream.cli.frtb_ima.standardised_hooks`)."""
    import numpy as np

    from riskstream.cli.engine import mark_to_history, option_rates
    from riskstream.regulatory.sa.drc import book_exposures
    from riskstream.regulatory.sa.report import sa_report
    from riskstream.regulatory.sa.rrao import book_rrao
    from riskstream.regulatory.sa.sensitivities import (
        book_crif,
        excluded_positions,
        unit_sensitivities,
    )

    marked, market, iv, info = mark_to_history(universe, history, day, dividend_yield)
    reporting = reporting or marked.base_currency
    base = marked.fx_to_base
    if reporting not in base:
        raise InputError("--reporting-currency", reporting, f"one of {sorted(base)}")
    fx = {c: r / base[reporting] for c, r in base.items()}
    price = np.where(np.isfinite(market.mid), market.mid, market.last)
    rates = option_rates(marked, day, history.curves)
    unit = unit_sensitivities(
        marked, reporting, fx, price, iv, rates, day, market_caps or {}, dividend_yield
    )
    crif = book_crif(marked, unit)
    ccy = marked.instruments["currency"].to_list()
    fx_arr = np.array([fx.get(c, np.nan) for c in ccy])
    exposures = book_exposures(marked, price, fx_arr, day, iv, rates, dividend_yield)
    mult = marked.instruments["multiplier"].to_numpy()
    rrao = book_rrao(marked, np.abs(price * mult * fx_arr), rrao_categories or {})
    out = sa_report(crif, exposures, rrao, reporting, config)
    out["as_of"] = day.isoformat()
    out["marks"] = info
    out["sensitivity_rows"] = crif.height
    out["excluded"] = excluded_positions(marked, unit, price, fx_arr)
    return out


def _print(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"FRTB SA capital ({out['reporting_currency']})")
    for c in ("risk class", "measure", "low", "medium", "high"):
        t.add_column(c)
    for rc, ms in out["by_risk_class"].items():
        for m, v in ms.items():
            t.add_row(rc, m, *(f"{v[s]:,.0f}" for s in ("low", "medium", "high")))
    Console().print(t)
    for k, v in out["total"].items():
        Console().print(f"{k}: {v:,.0f}")


@frtb_app.command("lh-cascade")
def lh_cascade_command(
    es: str = typer.Option(
        ..., "--es", help="ES_T(P,j) for LH 10,20,40,60,120 days, comma-separated."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Liquidity-adjusted ES by the MAR33.4 cascade (T = 10 days, LH 10/20/40/60/120)."""
    from riskstream.regulatory.cascade import LIQUIDITY_HORIZONS_DAYS, liquidity_adjusted_es

    try:
        values = [float(x) for x in es.split(",")]
    except ValueError:
        raise InputError("--es", es, "five numbers separated by commas") from None
    result = liquidity_adjusted_es(values)
    if as_json:
        print_json(
            {"es": result, "es_by_horizon": dict(zip(LIQUIDITY_HORIZONS_DAYS, values, strict=True))}
        )
        return
    typer.echo(f"ES (liquidity-adjusted, MAR33.4): {result:,.6f}")


# The internal models approach (MAR31-33) joins the group: `riskstream frtb ima`.
from riskstream.cli.frtb_ima import register_ima  # noqa: E402

register_ima(frtb_app)
