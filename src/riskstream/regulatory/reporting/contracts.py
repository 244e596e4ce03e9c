"""Data contracts at the pipeline's boundaries, as Pandera schemas.

Each landed resource is checked record by record (``lazy`` validation collects every
failure, not just the first). A record that fails is *quarantined*: written to the
warehouse's ``quarantine`` table with the field, the value and the check that failed, and
left out by the dbt staging models — never silently dropped, and counted per reason in
the run's result. A trade whose counterparty or instrument is quarantined is quarantined
too (its report would be wrong). A report's own input contract (:data:`MIFIR_INPUT`)
failing on a required field stops that report's asset with the error.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from riskstream.regulatory.reporting.currencies import ISO_4217
from riskstream.regulatory.reporting.identifiers import cfi_valid, isin_valid, lei_valid, mic_valid
from riskstream.regulatory.reporting.mifir import REQUIRED_COLUMNS
from riskstream.regulatory.reporting.warehouse import Warehouse

_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CH",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GB",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "US",
        "CA",
        "JP",
        "AU",
        "HK",
        "SG",
    ]
)
_ISO_TS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


def _elementwise(fn, name: str) -> pa.Check:
    return pa.Check(lambda s: s.map(fn), element_wise=False, name=name)


COUNTERPARTY = pa.DataFrameSchema(
    {
        "id": pa.Column(str, nullable=False),
        "lei": pa.Column(str, _elementwise(lei_valid, "ISO 17442 LEI check digits")),
        "country": pa.Column(str, _elementwise(_COUNTRIES.__contains__, "ISO 3166 country")),
        "updated_at": pa.Column(str, pa.Check.str_matches(_ISO_TS, name="UTC timestamp")),
    }
)
INSTRUMENT = pa.DataFrameSchema(
    {
        "id": pa.Column(str),
        "isin": pa.Column(str, _elementwise(isin_valid, "ISO 6166 ISIN check digit")),
        "cfi": pa.Column(str, _elementwise(cfi_valid, "ISO 10962 CFI")),
        "mic": pa.Column(str, _elementwise(mic_valid, "ISO 10383 MIC")),
        "currency": pa.Column(str, _elementwise(ISO_4217.__contains__, "ISO 4217 currency")),
        "asset_class": pa.Column(str, pa.Check.isin(["equity", "swap"])),
    }
)
ACCOUNT = pa.DataFrameSchema({"id": pa.Column(str), "counterparty_id": pa.Column(str)})
TRADE = pa.DataFrameSchema(
    {
        "id": pa.Column(str),
        "side": pa.Column(str, pa.Check.isin(["B", "S"])),
        "quantity": pa.Column(str, pa.Check.str_matches(r"^\d+(\.\d+)?$", name="positive decimal")),
        "price": pa.Column(str, pa.Check.str_matches(r"^\d+(\.\d+)?$", name="decimal")),
        "price_currency": pa.Column(str, _elementwise(ISO_4217.__contains__, "ISO 4217 currency")),
        "venue_mic": pa.Column(str, _elementwise(mic_valid, "ISO 10383 MIC")),
        "executed_at": pa.Column(str, pa.Check.str_matches(_ISO_TS, name="UTC timestamp, µs")),
        "capacity": pa.Column(str, pa.Check.isin(["DEAL", "MTCH", "AOTC"])),
        "status": pa.Column(str, pa.Check.isin(["NEWT", "CANC"])),
    }
)
SCHEMAS = {
    "counterparties": COUNTERPARTY,
    "instruments": INSTRUMENT,
    "accounts": ACCOUNT,
    "trades": TRADE,
}

#: The MiFIR report's input contract: every required field present and non-empty.
MIFIR_INPUT = pa.DataFrameSchema(
    {c: pa.Column(str, pa.Check.str_length(min_value=1), nullable=False) for c in REQUIRED_COLUMNS}
)


#: Referential contracts: (resource, column, the resource it points into).
_REFERENCES = (
    ("accounts", "counterparty_id", "counterparties"),
    ("trades", "counterparty_id", "counterparties"),
    ("trades", "client_id", "counterparties"),
    ("trades", "instrument_id", "instruments"),
)


@dataclass(frozen=True)
class ContractResult:
    checked: int
    quarantined: int
    by_reason: dict[str, int]


def _records(warehouse: Warehouse, resource: str) -> pd.DataFrame:
    rows = warehouse.query(f"SELECT id, payload FROM raw_{resource}")
    frame = pd.DataFrame([json.loads(p) for _, p in rows]).astype(str)
    if len(frame):
        frame.insert(0, "record_id", [r for r, _ in rows])
    return frame


def enforce_contracts(warehouse: Warehouse, run_id: str) -> ContractResult:
    """Check every landed record; rewrite the quarantine with this run's failures."""
    warehouse.execute("DELETE FROM quarantine")
    failures: list[tuple[str, str, str, str, str, str]] = []
    bad_ids: dict[str, set[str]] = {}
    checked = 0
    for resource, schema in SCHEMAS.items():
        frame = _records(warehouse, resource)
        checked += len(frame)
        if frame.empty:
            continue
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            for _, case in cases.iterrows():
                index = case["index"]
                if index is None or pd.isna(index):
                    continue
                record = frame.iloc[int(index)]
                failures.append(
                    (
                        run_id,
                        resource,
                        record["record_id"],
                        str(case["column"]),
                        str(case["failure_case"]),
                        f"failed check {case['check']}",
                    )
                )
                bad_ids.setdefault(resource, set()).add(record["id"])
    for resource, column, ref in _REFERENCES:
        frame = _records(warehouse, resource)
        if frame.empty or column not in frame:
            continue
        for _, record in frame[frame[column].isin(bad_ids.get(ref, set()))].iterrows():
            failures.append(
                (
                    run_id,
                    resource,
                    record["record_id"],
                    column,
                    record[column],
                    f"references a quarantined record of {ref}",
                )
            )
    warehouse.executemany("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)", failures)
    reasons = Counter(f"{source}.{field}: {reason}" for _, source, _, field, _, reason in failures)
    quarantined = len({(f[1], f[2]) for f in failures})
    return ContractResult(checked=checked, quarantined=quarantined, by_reason=dict(reasons))
