"""The reporting pipeline end to end: dbt on DuckDB and PostgreSQL (every model and test),
Dagster materialising a business date's reports, a past date re-run bit for bit after more
data landed, and `riskstream pipeline up` serving the asset graph."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from riskstream.regulatory.reporting.bank import seed_bank_data
from riskstream.regulatory.reporting.contracts import enforce_contracts
from riskstream.regulatory.reporting.extract import BankClient, extract
from riskstream.regulatory.reporting.fx_landing import land_fx_rates
from riskstream.regulatory.reporting.pipeline import (
    DbtError,
    ReportingSettings,
    dbt_vars,
    run_dbt,
    write_profiles,
)
from riskstream.regulatory.reporting.reports import round_notional_part43
from riskstream.regulatory.reporting.warehouse import Warehouse
from tests.regulatory.conftest import SMALL
from tests.servers import free_port

D1 = SMALL["start"]


def land(url: str, settings: ReportingSettings, day: dt.date) -> Warehouse:
    warehouse = Warehouse(settings.warehouse)
    extract(BankClient(url, "riskstream", "s3cret"), warehouse)
    enforce_contracts(warehouse, "test")
    land_fx_rates(warehouse, day, day)
    write_profiles(settings, warehouse.dbt_target())
    return warehouse


def test_dbt_builds_on_duckdb_and_its_identifier_tests_can_fail(bank_server, tmp_path) -> None:
    settings = ReportingSettings(tmp_path)
    warehouse = land(bank_server(), settings, D1)
    warehouse.close()
    run_dbt(settings, ["build"], dbt_vars(settings, D1))  # every model, snapshot and test
    run_dbt(settings, ["docs", "generate"], dbt_vars(settings, D1))
    assert (settings.dbt_dir / "target" / "catalog.json").exists()
    warehouse = Warehouse(settings.warehouse)
    (n,) = warehouse.query("SELECT count(*) FROM mifir_transactions")[0]
    assert n > 0
    # a record that slipped past the contracts (here: written straight into the landing
    # table with a mistyped LEI) is caught by the dbt test on the staging model
    bad = seed_bank_data(**SMALL)["counterparties"][0] | {
        "id": "CP9999",
        "lei": "HWUPKR0MPOU8FGXBT395",
    }
    warehouse.execute(
        "INSERT INTO raw_counterparties VALUES (?, ?, ?, ?)",
        ["CP9999@x", bad["updated_at"], json.dumps(bad), "now"],
    )
    warehouse.close()
    with pytest.raises(DbtError, match="valid_lei_stg_counterparties_lei"):
        run_dbt(settings, ["test", "--select", "stg_counterparties"], dbt_vars(settings, D1))


@pytest.mark.services
def test_dbt_builds_on_postgres(bank_server, postgres_url, tmp_path) -> None:
    from tests.servers import postgres_database

    databases = postgres_database(postgres_url, "rs_reporting")
    url = next(databases)
    settings = ReportingSettings(tmp_path, warehouse_url=url)
    land(bank_server(), settings, D1).close()
    run_dbt(settings, ["build"], dbt_vars(settings, D1))
    warehouse = Warehouse(url)
    (n,) = warehouse.query("SELECT count(*) FROM mifir_transactions")[0]
    (m,) = warehouse.query("SELECT count(*) FROM cftc_swaps")[0]
    warehouse.close()
    assert n > 0 and m > 0
    next(databases, None)


def _materialise(day: dt.date, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "riskstream",
            "pipeline",
            "run",
            "--date",
            day.isoformat(),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dagster_materialises_reports_and_reruns_a_past_date_identically(
    bank_server, tmp_path
) -> None:
    env = {
        **os.environ,
        "RISKSTREAM_REPORTING_DATA_DIR": str(tmp_path / "data"),
        "RISKSTREAM_REPORTING_BANK_URL": bank_server(),
    }
    first = _materialise(D1, env)
    mifir = first["assets"]["mifir_report"]
    assert first["success"] and mifir["rows"] > 0
    assert first["assets"]["landing/quarantine"]["quarantined"] > 0
    original = Path(mifir["path"]).read_bytes()
    lineage = json.loads(Path(mifir["path"] + ".lineage.json").read_text())
    assert lineage["sha256"] == mifir["sha256"] and lineage["dagster_run_id"] == first["run_id"]
    # the bank moves on: a third day of trades, cancellations, a counterparty renamed
    env["RISKSTREAM_REPORTING_BANK_URL"] = bank_server(seed_bank_data(**{**SMALL, "days": 3}))
    again = _materialise(D1, env)
    assert again["assets"]["landing/raw_trades"]["landed"] > 0  # new data did land
    assert again["assets"]["mifir_report"]["sha256"] == mifir["sha256"]
    assert Path(mifir["path"]).read_bytes() == original
    for kind in ("cftc_part43", "cftc_part45"):
        assert again["assets"][kind]["sha256"] == first["assets"][kind]["sha256"]


def test_pipeline_up_serves_the_asset_graph(tmp_path) -> None:
    port = free_port()
    env = {**os.environ, "RISKSTREAM_REPORTING_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskstream", "pipeline", "up", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    query = "{ assetNodes { assetKey { path } } }"
    keys: set[str] = set()
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not keys:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=10
                )
                nodes = reply.json().get("data", {}).get("assetNodes") or []
                keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
            except (httpx.HTTPError, ValueError):
                time.sleep(1)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)
    assert {
        "landing/raw_trades",
        "landing/quarantine",
        "landing/raw_fx_rates",
        "stg_trades",
        "trades_enriched",
        "mifir_transactions",
        "cftc_swaps",
        "mifir_report",
        "cftc_part43",
        "cftc_part45",
        "counterparties_snapshot",
    } <= keys


@pytest.mark.parametrize(
    ("notional", "published"),
    # 17 CFR 43.4(g)(1)-(7): rounding of notional amounts for public dissemination
    [
        (987.0, 985.0),
        (5_432.0, 5_400.0),
        (54_321.0, 54_000.0),
        (12_345_678.0, 12_300_000.0),
        (123_456_789.0, 123_000_000.0),
        (12_345_678_901.0, 12_300_000_000.0),
        (176_000_000_000.0, 200_000_000_000.0),
    ],
)
def test_part43_notional_rounding(notional: float, published: float) -> None:
    assert round_notional_part43(notional) == published
