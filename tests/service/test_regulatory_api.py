"""The regulatory routes: risk_manager and up read the newest IMA capital, the lineage
records and their chains, from the reference DB's lineage records."""

from __future__ import annotations

from fastapi.testclient import TestClient

from riskstream.core.instruments import Universe
from riskstream.regulatory import lineage
from riskstream.store.refdb import RefDB
from tests.service.conftest import auth

FIGURES = {
    "capital": 1234.5,
    "ca": 1234.5,
    "imcc": 600.0,
    "imcc_avg_60d": 610.0,
    "ses": 100.0,
    "drc": None,
    "multiplier": {"m_c": 1.83, "zone": "amber", "exceptions": 7, "observations": 250},
    "es_10d_975": 300.0,
    "es_liquidity_adjusted": 350.0,
    "stress_window": {"start": "2007-10-16", "end": "2008-10-10"},
    "by_risk_class": {"equity": {"capital_es": 700.0, "explained_ratio": 1.0}},
    "base_currency": "USD",
    "desks": [{"desk": "equities", "eligible": True}],
    "reconciliation": [{"name": "q", "keys": 3, "breaks": [], "ok": True}],
}
QUALITY = {k: {"kpi": 0.99} for k in ("completeness", "accuracy", "timeliness")}


def record_run(db: RefDB, universe: Universe) -> str:
    return lineage.record(
        db,
        "frtb-ima",
        universe,
        0,
        {"prices": 3, "curves": -1, "vols": -1},
        {"risk": {"seed": 1}},
        {"as_of": "2018-12-31", "config": {"risk": {"seed": 1}}},
        FIGURES,
        QUALITY,
    )


def test_ima_route_needs_risk_manager(client: TestClient, keys, db: RefDB, universe) -> None:
    assert (
        client.get("/api/v1/regulatory/ima", headers=auth(keys, "risk_manager")).status_code == 404
    )
    lineage_id = record_run(db, universe)
    for role in ("viewer", "analyst"):
        r = client.get("/api/v1/regulatory/ima", headers=auth(keys, role))
        assert r.status_code == 403 and "risk_manager" in r.json()["detail"]
    r = client.get("/api/v1/regulatory/ima", headers=auth(keys, "risk_manager"))
    assert r.status_code == 200
    body = r.json()
    assert body["lineage_id"] == lineage_id and body["capital"] == 1234.5
    assert body["multiplier"]["m_c"] == 1.83 and body["data_quality"] == QUALITY


def test_lineage_routes_list_and_show_the_chain(client: TestClient, keys, db, universe) -> None:
    lineage_id = record_run(db, universe)
    head = auth(keys, "admin")
    rows = client.get("/api/v1/regulatory/lineage", headers=head).json()
    assert [r["lineage_id"] for r in rows] == [lineage_id]
    chain = client.get(f"/api/v1/regulatory/lineage/{lineage_id}", headers=head).json()
    assert chain["market_data"]["history_table_versions"] == {"prices": 3, "curves": -1, "vols": -1}
    assert chain["positions"]["digest"] == lineage.positions_snapshot(universe)[0]
    assert chain["figures"]["capital"] == 1234.5
    missing = client.get("/api/v1/regulatory/lineage/frtb-ima-0", headers=head)
    assert missing.status_code == 404 and "lineage id" in missing.json()["detail"]
