"""``riskstream bank serve`` and ``riskstream pipeline up|run``: the reporting pipeline.

``bank serve`` runs the fake core-banking API (seeded; the stand-in for the bank's system
of record). ``pipeline run --date D`` materialises one business date's landing, dbt models
(with every test) and reports through Dagster, in this process, recording the run in the
Dagster instance under ``<data_dir>/dagster`` so the webserver shows it. ``pipeline up``
starts the Dagster webserver and daemon (schedules, sensors) on a free port and prints where.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import typer

from riskstream.cli import app, date_option, print_json, settings
from riskstream.core.errors import InputError

bank_app = typer.Typer(help="The fake core-banking API (seeded test data).", no_args_is_help=True)
pipeline_app = typer.Typer(
    help="The auditable reporting pipeline (dbt + Dagster).", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")
app.add_typer(pipeline_app, name="pipeline")

DATA_DIR = typer.Option(
    Path(".riskstream/reporting"),
    "--data-dir",
    envvar="RISKSTREAM_REPORTING_DATA_DIR",
    help="Warehouse, dbt target, reports and the Dagster instance.",
)
WAREHOUSE = typer.Option(
    "",
    "--warehouse",
    envvar="RISKSTREAM_REPORTING_WAREHOUSE",
    help="duckdb:///path (default: <data-dir>/warehouse.duckdb) or postgresql://user@host:port/db.",
)
BANK_URL = typer.Option(
    "http://127.0.0.1:8765",
    "--bank-url",
    envvar="RISKSTREAM_REPORTING_BANK_URL",
    help="The core-banking API's base URL.",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@bank_app.command("serve")
def bank_serve(
    port: int = typer.Option(8765, "--port", help="Port (0: a free one)."),
    seed: int = typer.Option(7, "--seed"),
    start: str = typer.Option("2026-10-19", "--start", help="First business date."),
    days: int = typer.Option(5, "--days", help="Business days of trades."),
    fail_every: int = typer.Option(0, "--fail-every", help="Every n-th request answers 503."),
) -> None:
    """Serve the fake core-banking API until Ctrl-C."""
    import uvicorn

    from riskstream.regulatory.reporting.bank import BankBehaviour, create_bank_app, seed_bank_data

    first = date_option("--start", start)
    data = seed_bank_data(seed, start=first, days=days)
    port = port or _free_port()
    typer.echo(f"core-banking API on http://127.0.0.1:{port} (client riskstream / s3cret)")
    uvicorn.run(
        create_bank_app(data, BankBehaviour(fail_every=fail_every)),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


def _environment(
    ctx: typer.Context, data_dir: Path, warehouse: str, bank_url: str
) -> dict[str, str]:
    """The pipeline's settings as the environment of its Dagster code location; the FX
    landing reads the market history of this Riskstream's store (``[store]`` settings)."""
    from riskstream.regulatory.reporting.pipeline import ReportingSettings

    history = os.environ.get("RISKSTREAM_REPORTING_MARKET_HISTORY") or str(
        settings(ctx).store.history
    )
    settings_ = ReportingSettings(data_dir.resolve(), warehouse, bank_url, market_history=history)
    home = settings_.data_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").touch()
    return {**settings_.env(), "DAGSTER_HOME": str(home)}


@pipeline_app.command("run")
def pipeline_run(
    ctx: typer.Context,
    date: str = typer.Option(..., "--date", help="The business date (YYYY-MM-DD)."),
    data_dir: Path = DATA_DIR,
    warehouse: str = WAREHOUSE,
    bank_url: str = BANK_URL,
    risk_report: bool = typer.Option(
        False, "--risk-report", help="Also the management risk report of the loaded book."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Materialise one business date: landing, dbt models and tests, reports."""
    day = date_option("--date", date)
    os.environ.update(_environment(ctx, data_dir, warehouse, bank_url))
    from dagster import DagsterInstance

    from riskstream.regulatory.reporting.assets import PARTITIONS, build_definitions

    if day.isoformat() not in PARTITIONS.get_partition_keys():
        raise InputError("--date", date, f"a business date from {PARTITIONS.start:%Y-%m-%d}")
    defs = build_definitions()
    job = defs.resolve_job_def("all_reports" if risk_report else "regulatory_reports")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=day.isoformat(), instance=instance, raise_on_error=False
        )
    out: dict = {
        "date": day.isoformat(),
        "success": result.success,
        "run_id": result.run_id,
        "assets": {},
    }
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        out["assets"]["/".join(mat.asset_key.path)] = {
            k: getattr(v, "value", v)
            for k, v in mat.metadata.items()
            if k in ("path", "rows", "sha256", "rejected", "landed", "quarantined", "checked")
        }
    out["failures"] = [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if json_out:
        print_json(out)
    else:
        for key, meta in sorted(out["assets"].items()):
            if meta:
                typer.echo(f"{key}: {meta}")
        typer.echo("succeeded" if result.success else f"FAILED: {out['failures']}")
    if not result.success:
        raise typer.Exit(1)


@pipeline_app.command("up")
def pipeline_up(
    ctx: typer.Context,
    data_dir: Path = DATA_DIR,
    warehouse: str = WAREHOUSE,
    bank_url: str = BANK_URL,
    port: int = typer.Option(0, "--port", help="Webserver port (0: a free one)."),
) -> None:
    """Start the Dagster webserver and daemon for the pipeline; Ctrl-C stops them."""
    env = {**os.environ, **_environment(ctx, data_dir, warehouse, bank_url)}
    port = port or _free_port()
    dagster = Path(sys.executable).with_name("dagster")
    typer.echo(f"Dagster (asset graph, runs, schedules): http://127.0.0.1:{port}")
    proc = subprocess.Popen(
        [
            str(dagster),
            "dev",
            "-m",
            "riskstream.regulatory.reporting.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
    )
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=30)
