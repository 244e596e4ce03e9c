"""The reports the pipeline files, built from the dbt reporting models.

* MiFIR transaction report (RTS 22) of one business date: ``mifir_transactions`` →
  :func:`riskstream.regulatory.reporting.mifir.build_report` → ``auth.016.001.01`` XML,
  plus the rejections (field and rule).
* CFTC swap data of one business date from ``cftc_swaps``, as CSV in the field names of the
  CFTC's Technical Specification for Parts 43 and 45 (simplified to the fields the book's
  interest-rate swaps need):
  - Part 43 (real-time public dissemination): no counterparty identities; the notional
    rounded per 17 CFR 43.4(g). The cap sizes of 43.4(h) are not applied (stated in
    docs/reporting.md).
  - Part 45 (regulatory records): with the counterparties' LEIs and the UTI (17 CFR 45.5:
    the generating entity's LEI followed by a unique value, at most 52 characters).

Each report file is written next to a lineage record (:func:`write_lineage`).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from riskstream.core.errors import RiskstreamError
from riskstream.regulatory.reporting.contracts import MIFIR_INPUT
from riskstream.regulatory.reporting.mifir import MifirReport, build_report
from riskstream.regulatory.reporting.warehouse import Warehouse


class ReportContractError(RiskstreamError):
    """A report's input broke its contract on a required field: the report is not made."""


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    sha256: str
    rows: int
    rejected: list[dict[str, str]]


def _rows(warehouse: Warehouse, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    names, rows = warehouse.columns(sql, params)
    return [dict(zip(names, r, strict=True)) for r in rows]


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def mifir_report(warehouse: Warehouse, business_date: dt.date, out_dir: Path) -> WrittenReport:
    """The MiFIR report of ``business_date`` from the ``mifir_transactions`` model."""
    rows = _rows(
        warehouse,
        "SELECT * FROM mifir_transactions WHERE business_date = "
        "CAST(? AS DATE) ORDER BY trade_time, trade_id, report_status DESC",
        [business_date.isoformat()],
    )
    frame = pd.DataFrame(rows, columns=[c for c in MIFIR_INPUT.columns] if not rows else None)
    try:
        MIFIR_INPUT.validate(frame.astype(str) if len(frame) else frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases[["column", "check", "failure_case"]].head(5)
        raise ReportContractError(
            f"mifir_transactions for {business_date}: required fields broken: "
            f"{cases.to_dict('records')}"
        ) from None
    texts = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]
    report: MifirReport = build_report(
        texts,
        now=dt.datetime.combine(business_date + dt.timedelta(days=1), dt.time(23, 59), dt.UTC),
    )
    path = out_dir / f"mifir_{business_date.isoformat()}.xml"
    digest = _write(path, report.xml) if report.reported else ""
    return WrittenReport(path, digest, len(report.reported), [r.as_dict() for r in report.rejected])


def round_notional_part43(notional: float) -> float:
    """17 CFR 43.4(g): the rounding of notional amounts in public dissemination."""
    steps = ((1e3, 5), (1e4, 100), (1e5, 1e3), (1e8, 1e5), (1e9, 1e6), (1e11, 1e8))
    for below, step in steps:
        if notional < below:
            return round(notional / step) * step
    return round(notional / 5e10) * 5e10


PART43_FIELDS = (
    "Dissemination identifier",
    "Action type",
    "Event type",
    "Event timestamp",
    "Asset class",
    "Cleared",
    "Execution timestamp",
    "Effective date",
    "Expiration date",
    "Platform identifier",
    "Notional amount-Leg 1",
    "Notional currency-Leg 1",
    "Fixed rate-Leg 1",
)
PART45_FIELDS = (
    "Unique transaction identifier",
    "Counterparty 1 (reporting counterparty)",
    "Counterparty 2",
    "Action type",
    "Event type",
    "Execution timestamp",
    "Effective date",
    "Expiration date",
    "Notional amount-Leg 1",
    "Notional currency-Leg 1",
    "Fixed rate-Leg 1",
    "Direction",
    "UPI",
    "Cleared",
    "Platform identifier",
)


def _action(status: str) -> str:
    return "TERM" if status == "CANC" else "NEWT"  # the CFTC's action types


def cftc_reports(
    warehouse: Warehouse, business_date: dt.date, out_dir: Path
) -> tuple[WrittenReport, WrittenReport]:
    """Part 43 and Part 45 CSVs of ``business_date`` from the ``cftc_swaps`` model."""
    rows = _rows(
        warehouse,
        "SELECT * FROM cftc_swaps WHERE business_date = CAST(? AS DATE) "
        "ORDER BY execution_timestamp, trade_id, status DESC",
        [business_date.isoformat()],
    )
    part43, part45 = io.StringIO(), io.StringIO()
    w43 = csv.DictWriter(part43, PART43_FIELDS, lineterminator="\n")
    w45 = csv.DictWriter(part45, PART45_FIELDS, lineterminator="\n")
    w43.writeheader()
    w45.writeheader()
    for r in rows:
        effective = r["trade_date"] + dt.timedelta(days=2)
        expiry = effective.replace(year=effective.year + int(r["tenor_years"]))
        common = {
            "Action type": _action(r["status"]),
            "Event type": "TRAD",
            "Execution timestamp": r["execution_timestamp"],
            "Effective date": effective,
            "Expiration date": expiry,
            "Notional currency-Leg 1": r["notional_currency"],
            "Fixed rate-Leg 1": f"{r['fixed_rate_pct'] / 100:.6f}",
            "Cleared": "N",
            "Platform identifier": "BILT" if r["venue_mic"] == "XXXX" else r["venue_mic"],
        }
        w43.writerow(
            {
                **common,
                "Dissemination identifier": hashlib.sha256(r["trade_id"].encode())
                .hexdigest()[:16]
                .upper(),
                "Event timestamp": r["execution_timestamp"],
                "Asset class": "IR",
                "Notional amount-Leg 1": f"{round_notional_part43(r['notional']):.0f}",
            }
        )
        w45.writerow(
            {
                **common,
                "Unique transaction identifier": r["counterparty_1"] + r["trade_id"],
                "Counterparty 1 (reporting counterparty)": r["counterparty_1"],
                "Counterparty 2": r["counterparty_2"],
                "Notional amount-Leg 1": f"{r['notional']:.2f}",
                "Direction": "BYER" if r["side"] == "S" else "SLLR",
                "UPI": r["isin"],
            }
        )
    p43 = out_dir / f"cftc_part43_{business_date.isoformat()}.csv"
    p45 = out_dir / f"cftc_part45_{business_date.isoformat()}.csv"
    return (
        WrittenReport(p43, _write(p43, part43.getvalue().encode()), len(rows), []),
        WrittenReport(p45, _write(p45, part45.getvalue().encode()), len(rows), []),
    )


def table_fingerprint(warehouse: Warehouse, table: str) -> dict[str, Any]:
    """A warehouse table's version for lineage: row count and a digest of its sorted rows
    (DuckDB and PostgreSQL have no table versions of their own; Delta tables do)."""
    _, rows = warehouse.columns(f"SELECT * FROM {table}")
    digest = hashlib.sha256()
    for row in sorted(repr(r) for r in rows):
        digest.update(row.encode())
    return {"rows": len(rows), "sha256": digest.hexdigest()}


def write_lineage(path: Path, **record: Any) -> dict[str, Any]:
    """Write the lineage record of a report: what produced it from what."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
    return record
