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
