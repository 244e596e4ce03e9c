"""One business date through the reporting pipeline, step by step.

``extract`` (core-banking API → landing) → ``enforce_contracts`` (quarantine) →
``land_fx_rates`` (market stream / ECB) → ``dbt build`` (staging → conformed → reporting,
with every test) and ``dbt snapshot`` (SCD2 reference data) → the reports, each with its
lineage. The Dagster assets (:mod:`.assets`) call these same functions; this module holds
the settings they share and the dbt invocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from riskstream.core.errors import ConfigError, RiskstreamError
from riskstream.regulatory.reporting.bank import BANK_LEI

DBT_PROJECT_DIR = Path(__file__).resolve().parents[4] / "dbt"


class DbtError(RiskstreamError):
    """A dbt command failed (a model did not build or a test failed)."""


@dataclass(frozen=True)
class ReportingSettings:
    """Where the pipeline reads and writes (``RISKSTREAM_REPORTING_*`` variables)."""

    data_dir: Path
    warehouse_url: str = ""
    bank_url: str = "http://127.0.0.1:8765"
    client_id: str = "riskstream"
    client_secret: str = "s3cret"
    reporting_currency: str = "EUR"
    bank_lei: str = BANK_LEI
    #: the Riskstream history store's market-history folder, whose ``fx_rates`` table the
    #: FX landing reads ("" : the packaged ECB reference rates only)
    market_history: str = ""

    @property
    def warehouse(self) -> str:
        return self.warehouse_url or f"duckdb:///{self.data_dir / 'warehouse.duckdb'}"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def dbt_dir(self) -> Path:
        return self.data_dir / "dbt"

    @classmethod
    def from_env(cls) -> ReportingSettings:
        env = os.environ
        return cls(
            data_dir=Path(env.get("RISKSTREAM_REPORTING_DATA_DIR", ".riskstream/reporting")),
            warehouse_url=env.get("RISKSTREAM_REPORTING_WAREHOUSE", ""),
            bank_url=env.get("RISKSTREAM_REPORTING_BANK_URL", "http://127.0.0.1:8765"),
            client_id=env.get("RISKSTREAM_REPORTING_CLIENT_ID", "riskstream"),
            client_secret=env.get("RISKSTREAM_REPORTING_CLIENT_SECRET", "s3cret"),
            market_history=env.get("RISKSTREAM_REPORTING_MARKET_HISTORY", ""),
        )

    def env(self) -> dict[str, str]:
        return {
            "RISKSTREAM_REPORTING_DATA_DIR": str(self.data_dir),
            "RISKSTREAM_REPORTING_WAREHOUSE": self.warehouse_url,
            "RISKSTREAM_REPORTING_BANK_URL": self.bank_url,
            "RISKSTREAM_REPORTING_CLIENT_ID": self.client_id,
            "RISKSTREAM_REPORTING_CLIENT_SECRET": self.client_secret,
            "RISKSTREAM_REPORTING_MARKET_HISTORY": self.market_history,
        }


def project_dir() -> Path:
    if not (DBT_PROJECT_DIR / "dbt_project.yml").exists():
        raise ConfigError(
            f"the dbt project is not at {DBT_PROJECT_DIR} (a source checkout "
            "installed with `pip install -e .` carries it)"
        )
    return DBT_PROJECT_DIR


def write_profiles(settings: ReportingSettings, target: dict[str, Any]) -> Path:
    """The dbt profile for the settings' warehouse, in ``<data_dir>/dbt``."""
    settings.dbt_dir.mkdir(parents=True, exist_ok=True)
    path = settings.dbt_dir / "profiles.yml"
    path.write_text(
        yaml.safe_dump({"riskstream_reporting": {"target": "main", "outputs": {"main": target}}})
    )
    return settings.dbt_dir


def dbt_vars(settings: ReportingSettings, business_date: dt.date) -> dict[str, str]:
    return {
        "business_date": business_date.isoformat(),
        "bank_lei": settings.bank_lei,
        "reporting_currency": settings.reporting_currency,
    }


def run_dbt(settings: ReportingSettings, args: list[str], variables: dict[str, str]) -> Any:
    """Run one dbt command in-process (dbt's programmatic runner); raise on failure."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(project_dir()),
            "--profiles-dir",
            str(settings.dbt_dir),
            "--target-path",
            str(settings.dbt_dir / "target"),
            "--log-path",
            str(settings.dbt_dir / "logs"),
            "--vars",
            yaml.safe_dump(variables),
            "--quiet",
        ]
    )
    if not result.success:
        failed = []
        for r in getattr(result.result, "results", None) or []:
            if str(r.status) not in ("pass", "success", "skipped", "RunStatus.Success"):
                failed.append(f"{r.node.name}: {r.status} {r.message or ''}".strip())
        raise DbtError(f"dbt {' '.join(args)} failed: {failed or result.exception}")
    return result.result


def model_versions() -> dict[str, str]:
    """Each dbt model's SQL digest: the model versions a report's lineage records."""
    out = {}
    for path in sorted((project_dir() / "models").rglob("*.sql")):
        out[path.stem] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return out
