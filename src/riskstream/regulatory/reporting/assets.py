"""The reporting pipeline as Dagster software-defined assets.

Landing (``landing/raw_*``: extraction from the core-banking API, FX from the market
stream) → the dbt project's models and snapshots (through ``dagster-dbt``: each model an
asset, each dbt test an asset check) → the reports (``mifir_report``, ``cftc_part43``,
``cftc_part45``), partitioned by business date. Asset checks wired to the data contracts
report the quarantine; the reports' own input contracts stop their asset. Schedules: the
FX landing every 5 minutes, the day's reports at 18:30 UTC on weekdays (after the close);
a sensor materialises the dbt models when new pages land. ``riskstream pipeline up`` serves
this module in the Dagster webserver; ``riskstream pipeline run --date D`` materialises one
date from the command line.
"""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext, SensorEvaluationContext
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from riskstream.regulatory.reporting import reports
from riskstream.regulatory.reporting.contracts import enforce_contracts
from riskstream.regulatory.reporting.extract import BankClient, extract
from riskstream.regulatory.reporting.fx_landing import land_fx_rates
from riskstream.regulatory.reporting.pipeline import (
    ReportingSettings,
    dbt_vars,
    model_versions,
    project_dir,
    write_profiles,
)
from riskstream.regulatory.reporting.warehouse import Warehouse

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-10-19", end_offset=1)
RAW = ("accounts", "counterparties", "instruments", "trades")


class Reporting(dg.ConfigurableResource):
    """The pipeline's settings (from ``RISKSTREAM_REPORTING_*`` by default)."""

    data_dir: str
    warehouse_url: str = ""
    bank_url: str = "http://127.0.0.1:8765"
    client_id: str = "riskstream"
    client_secret: str = "s3cret"
    market_history: str = ""

    def settings(self) -> ReportingSettings:
        return ReportingSettings(
            Path(self.data_dir),
            self.warehouse_url,
            self.bank_url,
            self.client_id,
            self.client_secret,
            market_history=self.market_history,
        )

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings().warehouse)


def _day(context: AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


@dg.multi_asset(
    specs=[dg.AssetSpec(["landing", f"raw_{r}"], group_name="landing") for r in RAW]
    + [dg.AssetSpec(["landing", "quarantine"], group_name="landing")],
    retry_policy=dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL),
)
def core_banking_landing(context: AssetExecutionContext, reporting: Reporting):
    """Incremental extraction from the core-banking API (raw pages landed unchanged), then
    the data contracts: failing records quarantined with their reasons."""
    settings = reporting.settings()
    warehouse = reporting.warehouse()
    client = BankClient(settings.bank_url, settings.client_id, settings.client_secret)
    try:
        landed = extract(client, warehouse)
        result = enforce_contracts(warehouse, context.run_id)
    finally:
        client.close()
        warehouse.close()
    for resource in RAW:
        yield dg.MaterializeResult(
            asset_key=["landing", f"raw_{resource}"],
            metadata={"landed": landed[resource], **client.stats},
        )
    yield dg.MaterializeResult(
        asset_key=["landing", "quarantine"],
        metadata={
            "checked": result.checked,
            "quarantined": result.quarantined,
            "by_reason": dg.MetadataValue.json(result.by_reason),
        },
    )


@dg.asset(key=["landing", "raw_fx_rates"], group_name="landing", partitions_def=PARTITIONS)
def fx_rates_landing(context: AssetExecutionContext, reporting: Reporting) -> dg.MaterializeResult:
    """The day's FX rates from the market stream (history store), ECB reference otherwise."""
    from riskstream.store.market_history import MarketHistory

    day = _day(context)
    folder = reporting.settings().market_history
    history = MarketHistory(folder) if folder and Path(folder).exists() else None
    if history is None:
        context.log.info(f"no market history at {folder!r}: ECB reference rates only")
    warehouse = reporting.warehouse()
    try:
        counts = land_fx_rates(warehouse, day, day, history)
    finally:
        warehouse.close()
    return dg.MaterializeResult(metadata=counts)


@dg.asset_check(
    asset=["landing", "quarantine"],
    blocking=False,
    description="Records quarantined by the contracts, by reason (warns when any).",
)
def quarantine_check(reporting: Reporting) -> dg.AssetCheckResult:
    warehouse = reporting.warehouse()
    try:
        rows = warehouse.query(
            "SELECT source, field, reason, count(*) FROM quarantine "
            "GROUP BY 1, 2, 3 ORDER BY 4 DESC"
        )
    finally:
        warehouse.close()
    counts = {f"{s}.{f}: {r}": int(n) for s, f, r, n in rows}
    return dg.AssetCheckResult(
        passed=not counts,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined": sum(counts.values()), "by_reason": dg.MetadataValue.json(counts)},
    )


def _dbt_project() -> DbtProject:
    settings = ReportingSettings.from_env()
    warehouse = Warehouse(settings.warehouse)
    try:
        profiles = write_profiles(settings, warehouse.dbt_target())
    finally:
        warehouse.close()
    project = DbtProject(
        project_dir=project_dir(), profiles_dir=profiles, target_path=settings.dbt_dir / "target"
    )
    if not project.manifest_path.exists():
        from dbt.cli.main import dbtRunner

        dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(project_dir()),
                "--profiles-dir",
                str(profiles),
                "--target-path",
                str(settings.dbt_dir / "target"),
                "--log-path",
                str(settings.dbt_dir / "logs"),
                "--quiet",
            ]
        )
    return project


def build_definitions() -> dg.Definitions:
    settings = ReportingSettings.from_env()
    project = _dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        partitions_def=PARTITIONS,
        select="fqn:* resource_type:model resource_type:seed resource_type:snapshot",
    )
    def reporting_models(context: AssetExecutionContext, dbt: DbtCliResource, reporting: Reporting):
        """dbt build (models, snapshots and every test) for the partition's business date."""
        settings = reporting.settings()
        variables = dbt_vars(settings, _day(context))
        # dbt's artefacts and logs go under the pipeline's data folder, never into the
        # project's source tree
        args = ["build", "--vars", str(variables), "--log-path", str(settings.dbt_dir / "logs")]
        target = settings.dbt_dir / "target" / context.run_id
        yield from dbt.cli(args, context=context, target_path=target).stream()

    model_key = dg.AssetKey(["mifir_transactions"])
    swaps_key = dg.AssetKey(["cftc_swaps"])

    @dg.asset(partitions_def=PARTITIONS, deps=[model_key], group_name="reports")
    def mifir_report(context: AssetExecutionContext, reporting: Reporting) -> dg.MaterializeResult:
        """The MiFIR RTS 22 transaction report (auth.016.001.01 XML) of the business date."""
        return _report(context, reporting, "mifir")

    @dg.asset(partitions_def=PARTITIONS, deps=[swaps_key], group_name="reports")
    def cftc_part43(context: AssetExecutionContext, reporting: Reporting) -> dg.MaterializeResult:
        """CFTC Part 43 public dissemination records of the day's swaps."""
        return _report(context, reporting, "part43")

    @dg.asset(partitions_def=PARTITIONS, deps=[swaps_key], group_name="reports")
    def cftc_part45(context: AssetExecutionContext, reporting: Reporting) -> dg.MaterializeResult:
        """CFTC Part 45 regulatory records of the day's swaps."""
        return _report(context, reporting, "part45")

    @dg.asset(partitions_def=PARTITIONS, group_name="management")
    def risk_report(context: AssetExecutionContext, reporting: Reporting) -> dg.MaterializeResult:
        """The daily management risk report (HTML and PDF) of the loaded book, computed by
        `riskstream report risk` from the Riskstream store (its own settings: RISKSTREAM_*),
        with the report's lineage id (the risk snapshot's input digests)."""
        day = _day(context)
        out = reporting.settings().reports_dir / day.isoformat()
        html_path, pdf_path = out / f"risk_{day}.html", out / f"risk_{day}.pdf"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "riskstream",
                "report",
                "risk",
                "--as-of",
                day.isoformat(),
                "--out",
                str(html_path),
                "--pdf",
                str(pdf_path),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise dg.Failure(f"riskstream report risk failed: {done.stderr[-2000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        head = figures["measures"][0]
        return dg.MaterializeResult(
            metadata={
                "path": str(html_path),
                "pdf": str(pdf_path),
                "var": head["var"],
                "es": head["es"],
                "breaches": sum(r["status"] == "breach" for r in figures["limits"]),
                "lineage_id": figures["lineage_id"],
            }
        )

    every_asset = [
        core_banking_landing,
        fx_rates_landing,
        reporting_models,
        mifir_report,
        cftc_part43,
        cftc_part45,
        risk_report,
    ]
    bank_keys = [dg.AssetKey(["landing", f"raw_{r}"]) for r in RAW]
    bank_keys.append(dg.AssetKey(["landing", "quarantine"]))
    daily = dg.define_asset_job(
        "daily_reports",
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*bank_keys),
        partitions_def=PARTITIONS,
    )
    fx_job = dg.define_asset_job(
        "fx_landing",
        partitions_def=PARTITIONS,
        selection=dg.AssetSelection.assets(["landing", "raw_fx_rates"]),
    )
    extraction = dg.define_asset_job("extraction", selection=dg.AssetSelection.assets(*bank_keys))
    # `riskstream pipeline run`: everything for one date; the management risk report (which
    # needs a loaded book) only when asked for
    regulatory = dg.define_asset_job(
        "regulatory_reports",
        partitions_def=PARTITIONS,
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(risk_report),
    )
    everything = dg.define_asset_job(
        "all_reports", partitions_def=PARTITIONS, selection=dg.AssetSelection.all()
    )

    @dg.schedule(job=fx_job, cron_schedule="*/5 * * * *", execution_timezone="UTC")
    def fx_every_5_minutes(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Land the current day's FX rates every five minutes (the FX poll's cadence)."""
        day = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(run_key=None, partition_key=day)

    @dg.sensor(job=daily, minimum_interval_seconds=60)
    def new_landings(context: SensorEvaluationContext, reporting: Reporting):
        """Rebuild today's models and reports when new pages have landed."""
        warehouse = reporting.warehouse()
        try:
            (count,) = warehouse.query("SELECT count(*) FROM landing_pages")[0]
        finally:
            warehouse.close()
        if str(count) != (context.cursor or "0") and count:
            context.update_cursor(str(count))
            yield dg.RunRequest(
                run_key=f"landing-{count}", partition_key=dt.date.today().isoformat()
            )

    resources = {
        "dbt": DbtCliResource(
            project_dir=project,
            profiles_dir=str(settings.dbt_dir),
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
        ),
        "reporting": Reporting(
            data_dir=str(settings.data_dir),
            warehouse_url=settings.warehouse_url,
            bank_url=settings.bank_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            market_history=settings.market_history,
        ),
    }
    return dg.Definitions(
        assets=every_asset,
        asset_checks=[quarantine_check],
        jobs=[daily, fx_job, extraction, regulatory, everything],
        schedules=[
            fx_every_5_minutes,
            dg.build_schedule_from_partitioned_job(daily, hour_of_day=18, minute_of_hour=30),
        ],
        sensors=[new_landings],
        resources=resources,
    )


def _report(
    context: AssetExecutionContext, reporting: Reporting, kind: str
) -> dg.MaterializeResult:
    day = _day(context)
    settings = reporting.settings()
    out = settings.reports_dir / day.isoformat()
    warehouse = reporting.warehouse()
    try:
        if kind == "mifir":
            written = reports.mifir_report(warehouse, day, out)
            tables = ["mifir_transactions", "counterparties_snapshot", "instruments_snapshot"]
        else:
            p43, p45 = reports.cftc_reports(warehouse, day, out)
            written = p43 if kind == "part43" else p45
            tables = ["cftc_swaps", "counterparties_snapshot"]
        lineage = reports.write_lineage(
            written.path.with_suffix(written.path.suffix + ".lineage.json"),
            report=str(written.path.name),
            sha256=written.sha256,
            business_date=day,
            dagster_run_id=context.run_id,
            dbt_model_versions=model_versions(),
            input_tables={
                t: reports.table_fingerprint(warehouse, t)
                for t in (*tables, *[f"raw_{r}" for r in RAW], "raw_fx_rates")
            },
            warehouse=settings.warehouse.split("@")[-1],
        )
    finally:
        warehouse.close()
    metadata: dict[str, Any] = {
        "path": str(written.path),
        "rows": written.rows,
        "sha256": written.sha256,
        "rejected": len(written.rejected),
        "lineage": dg.MetadataValue.json({k: lineage[k] for k in ("dagster_run_id", "sha256")}),
    }
    if written.rejected:
        metadata["rejections"] = dg.MetadataValue.json(written.rejected[:50])
    return dg.MaterializeResult(metadata=metadata)
