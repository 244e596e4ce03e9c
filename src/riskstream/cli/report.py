"""``riskstream report mifir``: MiFIR transaction reports (RTS 22) from a trades file.

The file is a CSV with one row per transaction and at least the columns of
:data:`riskstream.regulatory.reporting.mifir.REQUIRED_COLUMNS`; the optional columns fill
the other RTS 22 fields (docs/reporting.md lists them). Valid transactions are written as
``auth.016.001.01`` XML; rejected ones are printed with the field and the rule. The command
exits 0 when at least one transaction is reported, 1 when none could be.
"""

from __future__ import annotations

import csv
from pathlib import Path

import typer

from riskstream.cli import app, print_json
from riskstream.core.errors import InputError

report_app = typer.Typer(help="Regulatory transaction reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("mifir")
def mifir(
    trades: Path = typer.Option(
        ..., "--trades", help="CSV of transactions (see docs/reporting.md)."
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the auth.016.001.01 XML."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Validate the trades and write the MiFIR transaction report of the valid ones."""
    from riskstream.regulatory.reporting.mifir import build_report

    if not trades.is_file():
        raise InputError("--trades", str(trades), "an existing CSV file")
    with trades.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    report = build_report(rows)
    if report.reported:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(report.xml)
    result = {
        "reported": len(report.reported),
        "reported_ids": list(report.reported),
        "rejected": [r.as_dict() for r in report.rejected],
        "out": str(out) if report.reported else None,
    }
    if json_out:
        print_json(result)
    else:
        typer.echo(f"reported {len(report.reported)}, rejected {len(report.rejected)}")
        for r in report.rejected:
            typer.echo(f"  {r.trade_id}: {r.field}={r.value!r} — {r.reason}")
    if not report.reported:
        raise typer.Exit(1)


@report_app.command("risk")
def risk_report(
    ctx: typer.Context,
    as_of: str | None = typer.Option(None, "--as-of", help="YYYY-MM-DD (default: last close)."),
    out: Path = typer.Option(..., "--out", help="The HTML report to write."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also print it to this PDF."),
    stress: bool = typer.Option(
        True, "--stress/--no-stress", help="Include the packaged stress scenarios' P&L."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """The daily management risk report of the loaded book: VaR/ES/L-VaR at the close, by
    desk and asset class, top contributors, limits at the close with breaches, the day's
    automatic actions and the packaged stress scenarios' P&L (HTML with Plotly inlined;
    PDF through headless Chromium)."""
    import datetime as dt

    import numpy as np

    from riskstream.cli import date_option, settings
    from riskstream.cli.engine import book_as_of, engine_as_of, load_history, risk_config
    from riskstream.cli.universe import ensure_universe, open_refdb
    from riskstream.limits.ledger import LimitsReference, PositionLedger
    from riskstream.limits.model import LimitDefinition
    from riskstream.limits.monitor import LimitMonitor
    from riskstream.limits.stage import frame_from_snapshot, reference_limits
    from riskstream.regulatory.reporting.risk_report import print_pdf, render_risk_report
    from riskstream.store.audit import read_audit
    from riskstream.store.limits_repo import LimitRepository

    s = settings(ctx)
    universe = ensure_universe(s)
    history = load_history(s)
    day = date_option("--as-of", as_of) or book_as_of(universe, history)
    config = risk_config(
        s.risk,
        {"method": "historical", "confidence_levels": (0.99, 0.975), "horizons_days": (1, 10)},
    )
    engine, _ = engine_as_of(universe, config, history, day, s.models)
    snap = engine.refresh()
    ledger = PositionLedger.from_universe(universe)
    reference = LimitsReference.from_universe(universe)
    frame = frame_from_snapshot(
        ledger, snap, reference, np.zeros(len(ledger)), s.limits.max_participation
    )
    db = open_refdb(s)
    try:
        stored = [LimitDefinition.from_dict(r) for r in LimitRepository(db).load_limits()]
        start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1e9)
        actions = [
            e
            for e in read_audit(db, since_ns=start, until_ns=start + 86_400 * 10**9)
            if e.action.startswith(("reduction.", "killswitch."))
        ]
    finally:
        db.close()
    head = snap.measures[0]
    limits = stored or reference_limits(frame, head.var, float(np.abs(frame.market_value).sum()))
    result = LimitMonitor(limits, s.limits).check(frame)
    aggregates = snap.aggregates
    figures = {
        "as_of": day.isoformat(),
        "base_currency": universe.base_currency,
        "method": snap.method,
        "positions": universe.positions.height,
        "measures": [
            {k: getattr(m, k) for k in ("confidence", "horizon_days", "var", "es", "lvar")}
            for m in snap.measures
        ],
        **{
            f"by_{key}": {
                name: {"var": v["component_var"], "es": v["component_es"]}
                for name, v in aggregates.get(key, {}).items()
            }
            for key in ("desk", "asset_class")
        },
        "top_contributors": [c.as_dict() for c in snap.top_contributors],
        "limits": [
            {
                **r,
                "type": str(r.get("limit_type", "")),
                "value": r["exposure"],
                "scope": str(r.get("scope", "")),
            }
            for r in result.rows()
        ],
        "limits_source": "stored limits"
        if stored
        else "no limits stored: the reference limits sized on this book",
        "actions": [
            {
                "ts": dt.datetime.fromtimestamp(e.ts_ns / 1e9, dt.UTC).isoformat(),
                "action": e.action,
                "actor": e.actor,
                "target": e.target,
                "reason": e.reason,
            }
            for e in actions
        ],
        "lineage_id": snap.lineage_id,
    }
    if stress:
        from riskstream.cli.stress import loaded_book
        from riskstream.stress.library import builtin_scenarios, find_scenario
        from riskstream.stress.run import run_scenarios

        stress_book, context, _ = loaded_book(s, day)
        scenarios = [find_scenario(name) for name in builtin_scenarios()]
        run = run_scenarios(stress_book, scenarios, context)
        figures["stress"] = [{"scenario": r.name, "pnl": float(r.pnl)} for r in run.results]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_risk_report(figures), encoding="utf-8")
    if pdf is not None:
        print_pdf(out, pdf)
    if json_out:
        print_json({**figures, "out": str(out), "pdf": str(pdf) if pdf else None})
    else:
        typer.echo(f"risk report {day}: VaR {head.var:,.0f} ES {head.es:,.0f} → {out}")
