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
from typing import Any

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
    PDF through headless Chromium). Its figures are recorded for BCBS 239 lineage
    (``riskstream lineage show ID --verify`` re-computes them)."""
    import datetime as dt

    from riskstream.cli import date_option, settings
    from riskstream.cli.engine import book_as_of
    from riskstream.cli.lineage import HISTORY_KINDS, RISK_REPORT_KIND, history_at
    from riskstream.cli.universe import ensure_universe, open_refdb
    from riskstream.regulatory import lineage
    from riskstream.regulatory.reporting.risk_report import print_pdf, render_risk_report
    from riskstream.store.audit import read_audit
    from riskstream.store.limits_repo import LimitRepository
    from riskstream.store.market_history import MarketHistory
    from riskstream.store.refdb import stored_positions_version

    s = settings(ctx)
    db = open_refdb(s)
    try:
        with db.transaction() as conn:
            positions_version = stored_positions_version(conn)
        universe = ensure_universe(s)
        store = MarketHistory.from_config(s.store)
        versions = {k: store.version(k) for k in HISTORY_KINDS}
        history = history_at(store, versions)
        day = date_option("--as-of", as_of) or book_as_of(universe, history)
        parameters = {
            "as_of": day.isoformat(),
            "stress": stress,
            "limits": LimitRepository(db).load_limits(),
            "config": {
                "risk": s.risk.model_dump(mode="json"),
                "models": s.models.model_dump(mode="json"),
                "limits": s.limits.model_dump(mode="json"),
            },
        }
        figures = risk_report_figures(universe, history, parameters, positions_version)
        start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1e9)
        actions = [
            e
            for e in read_audit(db, since_ns=start, until_ns=start + 86_400 * 10**9)
            if e.action.startswith(("reduction.", "killswitch."))
        ]
        lineage_id = lineage.record(
            db, RISK_REPORT_KIND, universe, positions_version, versions, parameters["config"],
            parameters, figures, {},
        )  # fmt: skip
    finally:
        db.close()
    page = {
        **figures,
        "actions": [{"ts": dt.datetime.fromtimestamp(e.ts_ns / 1e9, dt.UTC).isoformat(),
                     "action": e.action, "actor": e.actor, "target": e.target,
                     "reason": e.reason} for e in actions],
        "lineage_id": lineage_id,
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_risk_report(page), encoding="utf-8")
    if pdf is not None:
        print_pdf(out, pdf)
    if json_out:
        print_json({**page, "out": str(out), "pdf": str(pdf) if pdf else None})
    else:
        head = figures["measures"][0]
        typer.echo(
            f"risk report {day}: VaR {head['var']:,.0f} ES {head['es']:,.0f} → {out} "
            f"(lineage {lineage_id})"
        )


def risk_report_figures(
    universe: Any, history: Any, parameters: dict[str, Any], positions_version: int
) -> dict[str, Any]:
    """The risk report's figures from its inputs alone — the book, the market history, the
    stored limits and the configuration in ``parameters`` — so a lineage record re-computes
    them bit for bit: VaR/ES/L-VaR (historical, 99% and 97.5%, 1 and 10 days, as
    ``riskstream risk``), the Euler split by desk and asset class, the top contributors,
    every limit's utilisation at the close (the limits monitor) and the packaged stress
    scenarios' P&L (``riskstream stress run``)."""
    import dataclasses
    import datetime as dt

    import numpy as np

    from riskstream.cli.engine import engine_as_of, risk_config
    from riskstream.limits.config import LimitsConfig
    from riskstream.limits.ledger import LimitsReference, PositionLedger
    from riskstream.limits.model import LimitDefinition
    from riskstream.limits.monitor import LimitMonitor
    from riskstream.limits.stage import frame_from_snapshot, reference_limits
    from riskstream.models import ModelsConfig
    from riskstream.risk.config import RiskConfig

    config = parameters["config"]
    day = dt.date.fromisoformat(parameters["as_of"])
    base_risk = RiskConfig.model_validate(config["risk"])
    limits_cfg = LimitsConfig.model_validate(config["limits"])
    risk = risk_config(base_risk, {"method": "historical", "confidence_levels": (0.99, 0.975),
                                   "horizons_days": (1, 10)})  # fmt: skip
    engine, _ = engine_as_of(universe, risk, history, day,
                             ModelsConfig.model_validate(config["models"]))  # fmt: skip
    snap = engine.refresh()
    engine.close()
    ledger = PositionLedger.from_universe(universe)
    frame = frame_from_snapshot(ledger, snap, LimitsReference.from_universe(universe),
                                np.zeros(len(ledger)), limits_cfg.max_participation)  # fmt: skip
    run = None
    if parameters["stress"]:
        from riskstream.cli.stress import book_of
        from riskstream.stress.library import builtin_scenarios, find_scenario
        from riskstream.stress.run import run_scenarios

        book, context = book_of(universe, history, day, base_risk.dividend_yield,
                                positions_version)  # fmt: skip
        run = run_scenarios(book, [find_scenario(n) for n in builtin_scenarios()], context)
        # each position's P&L under each scenario, on the limits' rows: stress_loss limits
        # are checked at the close against the worst scenario of their scope
        stress_pnl = np.zeros((len(ledger), len(run.results)))
        keys = zip(book.book_id, book.instrument_id, strict=True)
        rows = np.array([ledger.row(int(b), int(i)) for b, i in keys], dtype=np.int64)
        held = rows >= 0
        for k, r in enumerate(run.results):
            stress_pnl[rows[held], k] = r.position_pnl[held]
        frame = dataclasses.replace(frame, stress_pnl=stress_pnl)
    stored = [LimitDefinition.from_dict(r) for r in parameters["limits"]]
    head = snap.measures[0]
    limits = stored or reference_limits(frame, head.var, float(np.abs(frame.market_value).sum()))
    result = LimitMonitor(limits, limits_cfg).check(frame)
    figures: dict[str, Any] = {
        "as_of": day.isoformat(),
        "base_currency": universe.base_currency,
        "method": snap.method,
        "positions": universe.positions.height,
        "measures": [{k: getattr(m, k) for k in ("confidence", "horizon_days", "var", "es",
                                                  "lvar")} for m in snap.measures],
        **{f"by_{key}": {name: {"var": v["component_var"], "es": v["component_es"]}
                         for name, v in snap.aggregates.get(key, {}).items()}
           for key in ("desk", "asset_class")},
        "top_contributors": [c.as_dict() for c in snap.top_contributors],
        "limits": [{**r, "type": str(r.get("limit_type", "")), "value": r["exposure"],
                    "scope": str(r.get("scope", ""))} for r in result.rows()],
        "limits_source": "stored limits" if stored else
        "no limits stored: the reference limits sized on this book",
        "snapshot_lineage_id": snap.lineage_id,
    }  # fmt: skip
    if run is not None:
        figures["stress"] = [{"scenario": r.name, "version": r.version, "pnl": float(r.pnl)}
                             for r in run.results]  # fmt: skip
        figures["stress_carry_theta_included"] = run.carry_theta_included
    return figures
