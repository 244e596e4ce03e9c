"""Every REST endpoint: authentication (401), roles (403), reads, audited changes, and bad
requests answered 4xx with the field named and nothing half-applied. Limits, alerts and
kill switches are the limits package's: its stage computes them, its registry and board
change them."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from riskstream.core.messages import SUBJECTS
from riskstream.limits.model import LimitType
from riskstream.service.cache import finite
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.refdb import AUDIT_LOG
from tests.service.conftest import LimitsPipeline, MovingMarket, auth

ROLE_ORDER = ["viewer", "analyst", "risk_manager", "admin"]

# (method, path, json body, least role allowed)
ENDPOINTS = [
    ("GET", "/api/v1/whoami", None, "viewer"),
    ("GET", "/api/v1/instruments", None, "viewer"),
    ("GET", "/api/v1/instruments/0", None, "viewer"),
    ("GET", "/api/v1/books", None, "viewer"),
    ("GET", "/api/v1/positions", None, "viewer"),
    ("GET", "/api/v1/risk/latest", None, "viewer"),
    ("GET", "/api/v1/risk/aggregates/desk", None, "viewer"),
    ("GET", "/api/v1/limits", None, "viewer"),
    ("GET", "/api/v1/alerts", None, "viewer"),
    ("GET", "/api/v1/killswitches", None, "viewer"),
    ("GET", "/api/v1/regimes", None, "viewer"),
    ("GET", "/api/v1/risk/history", None, "analyst"),
    ("GET", "/api/v1/risk/drilldown?by=desk", None, "analyst"),
    ("GET", "/api/v1/risk/instruments/0", None, "analyst"),
    (
        "POST",
        "/api/v1/positions",
        {"changes": [{"book_id": 0, "instrument_id": 0, "quantity": 10}], "reason": "t"},
        "risk_manager",
    ),
    (
        "PUT",
        "/api/v1/limits/desk/macro/var",
        {"soft": 5e5, "hard": 1e6, "reason": "t"},
        "risk_manager",
    ),
    (
        "POST",
        "/api/v1/killswitches/desk:macro/engage",
        {"state": "reducing", "reason": "t"},
        "risk_manager",
    ),
    ("GET", "/api/v1/audit", None, "admin"),
    ("GET", "/api/v1/keys", None, "admin"),
    ("POST", "/api/v1/keys", {"name": "new", "role": "viewer"}, "admin"),
]


@pytest.fixture()
def published(pipeline: LimitsPipeline) -> None:
    for _ in range(2):
        pipeline.step()


@pytest.mark.parametrize(("method", "path", "body", "least"), ENDPOINTS)
def test_every_endpoint_needs_a_key_and_the_right_role(
    client: TestClient, keys, published, method, path, body, least
) -> None:
    assert client.request(method, path, json=body).status_code == 401
    bad = {"X-API-Key": keys["admin"][:-1] + ("A" if keys["admin"][-1] != "A" else "B")}
    assert client.request(method, path, json=body, headers=bad).status_code == 401
    for role in ROLE_ORDER:
        response = client.request(method, path, json=body, headers=auth(keys, role))
        if ROLE_ORDER.index(role) < ROLE_ORDER.index(least):
            assert response.status_code == 403, (role, response.text)
            assert least in response.json()["detail"]
        else:
            assert response.status_code in (200, 201), (role, response.text)
            if method == "POST" and path.endswith("/keys"):
                body = {**body, "name": body["name"] + "x"}  # names are unique


def test_health_and_metrics_are_open(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "snapshot": None}
    assert client.get("/metrics").status_code == 200


def test_reference_data_reads(client: TestClient, keys, universe) -> None:
    h = auth(keys, "viewer")
    got = client.get("/api/v1/instruments?asset_class=bond", headers=h).json()
    assert got["total"] == 2 and {i["symbol"] for i in got["items"]} == {"UST5", "UST20"}
    assert client.get("/api/v1/instruments/12", headers=h).json()["symbol"] == "ESZ6"
    assert len(client.get("/api/v1/books", headers=h).json()) == universe.books.height
    pos = client.get("/api/v1/positions?desk=macro", headers=h).json()
    n_macro = universe.positions.filter(universe.positions["book_id"] == 1).height
    assert pos["total"] == n_macro and all(p["desk"] == "macro" for p in pos["items"])


def test_unknown_instrument_is_404_naming_the_field(client: TestClient, keys) -> None:
    r = client.get("/api/v1/instruments/9999", headers=auth(keys, "viewer"))
    assert r.status_code == 404 and "instrument_id" in r.json()["detail"]
    r = client.get("/api/v1/risk/instruments/9999", headers=auth(keys, "analyst"))
    assert r.status_code == 404


def test_risk_before_any_snapshot_is_503_not_an_empty_current_answer(client, keys) -> None:
    r = client.get("/api/v1/risk/latest", headers=auth(keys, "viewer"))
    assert r.status_code == 503 and "no risk snapshot" in r.json()["detail"]


def test_latest_history_and_drilldown(client: TestClient, keys, app, market) -> None:
    snaps = [market.step() for _ in range(3)]
    for s in snaps:
        app.state.ctx.feed.push(s)
    h = auth(keys, "analyst")
    latest = client.get("/api/v1/risk/latest", headers=h).json()
    assert latest["stale"] is False
    assert latest["snapshot"]["lineage_id"] == snaps[-1].lineage_id
    assert latest["snapshot"]["var"] == pytest.approx(snaps[-1].headline.var)

    hist = client.get(
        f"/api/v1/risk/history?since_ns={snaps[1].ts_ns}&until_ns={snaps[2].ts_ns}", headers=h
    ).json()
    assert [r["lineage_id"] for r in hist["items"]] == [s.lineage_id for s in snaps[1:]]
    r = client.get("/api/v1/risk/history?since_ns=10&until_ns=5", headers=h)
    assert r.status_code == 422 and "until_ns" in r.json()["detail"]

    # Euler drill-down: every level's parts add up to the portfolio figure, and a desk's
    # instruments add up to the desk (component VaR sums to VaR: Tasche 2000).
    total_var = snaps[-1].headline.var
    for by in ("asset_class", "desk", "strategy", "trader", "instrument"):
        rows = client.get(f"/api/v1/risk/drilldown?by={by}", headers=h).json()["rows"]
        assert sum(r["component_var"] for r in rows) == pytest.approx(total_var, rel=1e-9)
    desks = client.get("/api/v1/risk/drilldown?by=desk", headers=h).json()["rows"]
    for desk in desks:
        inner = client.get(
            f"/api/v1/risk/drilldown?by=instrument&desk={desk['desk']}", headers=h
        ).json()["rows"]
        assert sum(r["component_es"] for r in inner) == pytest.approx(desk["component_es"])
    one = client.get("/api/v1/risk/instruments/12", headers=h).json()
    assert one["component_var"] == pytest.approx(float(snaps[-1].component_var[12]))
    assert sum(b["component_es"] for b in one["books"]) == pytest.approx(one["component_es"])
    agg = client.get("/api/v1/risk/aggregates/desk", headers=h).json()
    for desk, parts in snaps[-1].aggregates["desk"].items():
        assert agg["rows"][desk] == pytest.approx(parts)


def _audit_rows(app) -> list:
    with app.state.ctx.db.transaction() as conn:
        return conn.execute(sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.entry_id)).all()


def test_position_change_is_applied_and_audited(client: TestClient, keys, app) -> None:
    before = client.get("/api/v1/positions?book_id=1", headers=auth(keys, "viewer")).json()
    old = {p["instrument_id"]: p["quantity"] for p in before["items"]}
    some = next(iter(old))
    body = {
        "changes": [
            {"book_id": 1, "instrument_id": some, "quantity": 1234.5},
            {"book_id": 1, "instrument_id": 0, "quantity": -10},  # a new position
        ],
        "reason": "hedge rebalance",
    }
    # the pipeline's engine and limits follow the position keeper's published versions
    topics = app.state.ctx.positions.topics
    told = topics.subscribe(SUBJECTS["positions"])
    r = client.post("/api/v1/positions", json=body, headers=auth(keys, "risk_manager"))
    assert r.status_code == 200 and r.json()["changed"] == 2
    ((_, version),) = told.fetch()
    assert r.json()["version"] == version.version == 2
    new = (version.book_id == 1) & (version.instrument_id == 0)
    assert version.quantity[new].tolist() == [-10.0]
    now = client.get("/api/v1/positions?book_id=1", headers=auth(keys, "viewer")).json()
    qty = {p["instrument_id"]: p["quantity"] for p in now["items"]}
    assert qty[some] == 1234.5 and qty[0] == -10
    audit = client.get("/api/v1/audit?action=position.set", headers=auth(keys, "admin")).json()
    assert [(a["target"], a["before"], a["after"]) for a in audit] == [
        (f"position:1/{some}", {"quantity": old[some]}, {"quantity": 1234.5}),
        ("position:1/0", {"quantity": None}, {"quantity": -10.0}),
    ]
    assert all(
        a["actor"] == "test-risk_manager" and a["reason"] == "hedge rebalance" for a in audit
    )
    assert all(a["role"] == "risk_manager" and a["ts_ns"] > 0 for a in audit)
    # Closing a position (quantity 0) removes it, audited too.
    body = {"changes": [{"book_id": 1, "instrument_id": 0, "quantity": 0}], "reason": "close"}
    client.post("/api/v1/positions", json=body, headers=auth(keys, "risk_manager"))
    now = client.get("/api/v1/positions?book_id=1&instrument_id=0", headers=auth(keys, "viewer"))
    assert now.json()["total"] == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"book_id": 0, "instrument_id": 9999, "quantity": 1}, "changes[1].instrument_id"),
        ({"book_id": 77, "instrument_id": 1, "quantity": 1}, "changes[1].book_id"),
        ({"book_id": 0, "instrument_id": 1, "quantity": 1e12}, "changes[1].quantity"),
        ({"book_id": 0, "instrument_id": 1, "quantity": "lots"}, "changes[1].quantity"),
        ({"book_id": -1, "instrument_id": 1, "quantity": 1}, "changes[1].book_id"),
        ({"book_id": 0, "instrument_id": 1}, "changes[1].quantity"),
        ({"book_id": 0, "instrument_id": 0, "quantity": 3}, "changes[1]"),  # duplicate pair
    ],
)
def test_bad_position_change_names_the_field_and_changes_nothing(
    client: TestClient, keys, app, change, field
) -> None:
    h = auth(keys, "risk_manager")
    before = client.get("/api/v1/positions", headers=h).json()
    audit_before = len(_audit_rows(app))
    good = {"book_id": 0, "instrument_id": 0, "quantity": 42.0}
    r = client.post("/api/v1/positions", json={"changes": [good, change], "reason": "x"}, headers=h)
    assert r.status_code == 422
    assert field in r.json()["detail"], r.json()
    assert r.json()["errors"][0]["field"] == field
    assert client.get("/api/v1/positions", headers=h).json() == before  # the good one too
    assert len(_audit_rows(app)) == audit_before


def test_malformed_json_and_missing_fields(client: TestClient, keys) -> None:
    h = {**auth(keys, "risk_manager"), "Content-Type": "application/json"}
    r = client.post("/api/v1/positions", content=b'{"changes": [', headers=h)
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
    assert r.json()["errors"][0]["field"] == "body"
    r = client.post("/api/v1/positions", json={"changes": []}, headers=h)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"changes", "reason"}
    r = client.put("/api/v1/limits/desk/macro/var", json={"hard": 5}, headers=h)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"soft", "reason"}
    r = client.get("/api/v1/risk/drilldown?by=planet", headers=h)
    assert r.status_code == 422 and "by" in r.json()["detail"]


def _limit_rows(client: TestClient, keys) -> dict:
    return client.get("/api/v1/limits", headers=auth(keys, "viewer")).json()


def test_limits_show_what_the_limits_stage_computes(
    client: TestClient, keys, pipeline: LimitsPipeline
) -> None:
    pipeline.step()
    got = _limit_rows(client, keys)
    stage = pipeline.limits
    # Every row is the limits monitor's, as computed for the snapshot (JSON round trip)
    assert got["available"] is True
    assert got["utilisation"] == finite(stage.controller.last.rows()) != []
    assert got["limits"] == stage.published()["limits"]
    assert {r["status"] for r in got["utilisation"]} <= {"ok", "warning", "breach"}
    # the demo's reference set: firm VaR, stop-loss and single position, desk gross notional
    ids = {r["limit_id"] for r in got["utilisation"]}
    assert {"firm:firm/var", "firm:firm/drawdown", "firm:firm/position_size"} <= ids
    assert {"desk:equities/gross_notional", "desk:macro/gross_notional"} <= ids
    order = [t.value for t in LimitType]
    assert got["limit_types"] == sorted(got["limit_types"], key=order.index)
    assert set(got["limit_types"]) == {r["limit_type"] for r in got["utilisation"]}
    # kill switches: the global one first, then every scope a breach has moved
    switches = got["kill_switches"]
    assert switches[0]["scope_id"] == "firm:firm"
    assert switches == client.get("/api/v1/killswitches", headers=auth(keys, "viewer")).json()
    breached = {r["scope"] + ":" + r["key"] for r in got["utilisation"] if r["status"] == "breach"}
    halted = {s["scope_id"] for s in switches if s["state"] == "halted"}
    assert breached == halted  # auto_reduce off: a hard breach halts its scope


def test_changing_a_limit_is_audited_and_breaches_at_the_next_snapshot(
    client: TestClient, keys, app, pipeline: LimitsPipeline, db
) -> None:
    pipeline.step()
    h = auth(keys, "risk_manager")
    url = "/api/v1/limits/desk/macro/var"
    r = client.put(url, json={"soft": 1e11, "hard": 1e12, "reason": "new limit"}, headers=h)
    assert r.status_code == 200 and r.json()["before"] is None
    snap = pipeline.step()  # the stage checks the new limit from the next snapshot on
    rows = _limit_rows(client, keys)["utilisation"]
    macro = next(u for u in rows if u["limit_id"] == "desk:macro/var")
    assert macro["status"] == "ok"
    # the desk's VaR measure is its Euler contribution: the risk engine's desk aggregate
    assert macro["exposure"] == pytest.approx(snap.aggregates["desk"]["macro"]["component_var"])
    assert macro["utilisation"] == pytest.approx(macro["exposure"] / 1e12)

    cut = {"soft": macro["exposure"] / 4, "hard": macro["exposure"] / 2, "reason": "cut"}
    r = client.put(url, json=cut, headers=h)
    assert r.json()["before"]["hard"] == 1e12 and r.json()["after"]["hard"] == cut["hard"]
    pipeline.step()
    alerts = client.get("/api/v1/alerts", headers=h).json()
    breach = [a for a in alerts if a["limit_id"] == "desk:macro/var"]
    assert [a["severity"] for a in breach] == ["critical"]  # one alert, not one per snapshot
    assert breach[0]["scope_id"] == "desk:macro" and "BREACH" in breach[0]["message"]
    assert breach[0]["utilisation"] == pytest.approx(2.0, rel=0.05)  # the market moved a bit
    pipeline.step()
    again = client.get(f"/api/v1/alerts?since_id={breach[0]['alert_id']}", headers=h).json()
    assert not [a for a in again if a["limit_id"] == "desk:macro/var"]  # de-duplicated
    entries = client.get("/api/v1/audit?action=limit.set", headers=auth(keys, "admin")).json()
    assert [(e["target"], e["actor"], e["role"], e["reason"]) for e in entries] == [
        ("limit:desk:macro/var", "test-risk_manager", "risk_manager", "new limit"),
        ("limit:desk:macro/var", "test-risk_manager", "risk_manager", "cut"),
    ]
    assert entries[1]["before"]["hard"] == 1e12 and entries[1]["after"]["hard"] == cut["hard"]
    stored = {x["limit_id"]: x for x in LimitRepository(db).load_limits()}
    assert stored["desk:macro/var"]["hard"] == cut["hard"]  # in the reference DB

    # The breach halted the desk. A viewer may not release it: 403, nothing changes.
    def macro_switch() -> dict:
        switches = client.get("/api/v1/killswitches", headers=h).json()
        return next(s for s in switches if s["scope_id"] == "desk:macro")

    assert macro_switch()["state"] == "halted" and macro_switch()["trigger"] == "hard_breach"
    audit_before = len(_audit_rows(app))
    release = "/api/v1/killswitches/desk:macro/release"
    for role in ("viewer", "analyst"):
        r = client.post(release, json={"reason": "please"}, headers=auth(keys, role))
        assert r.status_code == 403 and "risk_manager" in r.json()["detail"]
    assert macro_switch()["state"] == "halted" and len(_audit_rows(app)) == audit_before
    assert pipeline.limits.controller.board.state("desk:macro").value == "halted"
    r = client.post(release, json={"reason": "limit under review"}, headers=h)
    assert r.status_code == 200 and (r.json()["before"], r.json()["after"]) == ("halted", "active")
    # the pipeline's own board (the service works on it in process): released at once
    assert pipeline.limits.controller.board.state("desk:macro").value == "active"
    assert macro_switch()["state"] == "active"
    entry = client.get(
        "/api/v1/audit?action=killswitch.release", headers=auth(keys, "admin")
    ).json()[-1]
    assert (entry["action"], entry["actor"], entry["reason"]) == (
        "killswitch.release",
        "test-risk_manager",
        "limit under review",
    )
    r = client.post(release, json={"reason": "again"}, headers=h)
    assert r.status_code == 422 and "engaged" in r.json()["detail"]

    # Restoring the limit clears the breach with an info alert.
    client.put(url, json={"soft": 1e11, "hard": 1e12, "reason": "restore"}, headers=h)
    pipeline.step()
    mine = [
        a for a in client.get("/api/v1/alerts", headers=h).json() if a["scope_id"] == "desk:macro"
    ]
    assert mine[-1]["severity"] == "info" and mine[-1]["state"] == "ok"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("desk/macro/var", {"soft": -5, "hard": 10}, "soft"),  # negative threshold
        ("desk/macro/var", {"soft": 5, "hard": -10}, "hard"),
        ("desk/macro/var", {"soft": 10, "hard": 5}, "soft"),  # soft above hard
        ("desk/macro/var", {"soft": 5, "hard": "lots"}, "hard"),
        ("galaxy/macro/var", {"soft": 5, "hard": 10}, "scope"),  # unknown scope
        ("desk/macro/vegas", {"soft": 5, "hard": 10}, "limit_type"),
        ("firm/macro/var", {"soft": 5, "hard": 10}, "key"),  # the firm's key is "firm"
        ("desk/macro/concentration", {"soft": 0.5, "hard": 1.5}, "hard"),  # a share <= 1
    ],
)
def test_bad_limit_change_names_the_field_and_changes_nothing(
    client: TestClient, keys, app, db, path, body, field
) -> None:
    audit_before = len(_audit_rows(app))
    r = client.put(
        f"/api/v1/limits/{path}", json={**body, "reason": "x"}, headers=auth(keys, "admin")
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and field in r.json()["detail"]
    assert LimitRepository(db).load_limits() == [] and len(_audit_rows(app)) == audit_before


def test_manual_kill_switch_and_deleting_a_limit(client: TestClient, keys, app) -> None:
    h = auth(keys, "risk_manager")
    r = client.post("/api/v1/killswitches/firm/engage", json={"reason": "market closed"}, headers=h)
    assert r.status_code == 200 and r.json()["after"] == "halted"
    switches = client.get("/api/v1/killswitches", headers=h).json()
    assert switches[0] == {**switches[0], "scope_id": "firm:firm", "state": "halted"}
    assert switches[0]["trigger"] == "manual" and switches[0]["actor"] == "test-risk_manager"
    bad = client.post("/api/v1/killswitches/galaxy:x/engage", json={"reason": "x"}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "scope"
    bad = client.post(
        "/api/v1/killswitches/firm/engage", json={"state": "active", "reason": "x"}, headers=h
    )
    assert bad.status_code == 422 and "state" in bad.json()["detail"]
    bad = client.post("/api/v1/killswitches/firm/release", json={"reason": ""}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    url = "/api/v1/limits/trader/bob/gross_notional"
    client.put(url, json={"soft": 1e6, "hard": 2e6, "reason": "x"}, headers=h)
    assert client.delete(url, headers=h).status_code == 422  # a reason is required
    r = client.delete(url + "?reason=desk closed", headers=auth(keys, "viewer"))
    assert r.status_code == 403
    r = client.delete(url + "?reason=desk closed", headers=h)
    assert r.status_code == 200 and r.json()["before"]["hard"] == 2e6
    assert _limit_rows(client, keys)["limits"] == []
    assert client.delete(url + "?reason=again", headers=h).status_code == 422


def test_without_a_limits_stage_stored_limits_show_as_not_available(
    client: TestClient, keys, app, market: MovingMarket
) -> None:
    h = auth(keys, "risk_manager")
    body = {"soft": 1e6, "hard": 2e6, "reason": "x"}
    assert client.put("/api/v1/limits/desk/macro/var", json=body, headers=h).is_success
    app.state.ctx.feed.push(market.step())  # a pipeline without a limits stage
    got = _limit_rows(client, keys)
    assert got["available"] is False
    assert got["utilisation"] == [
        {
            "limit_id": "desk:macro/var",
            "scope": "desk",
            "key": "macro",
            "limit_type": "var",
            "soft": 1e6,
            "hard": 2e6,
            "enabled": True,
            "exposure": None,
            "utilisation": None,
            "status": "n/a",
        }
    ]
    assert [(x["limit_id"], x["source"]) for x in got["limits"]] == [("desk:macro/var", "stored")]
    assert [s["scope_id"] for s in got["kill_switches"]] == ["firm:firm"]
    assert "riskstream_limit_utilisation{" not in client.get("/metrics").text


def test_audit_log_is_append_only_in_the_database(client: TestClient, keys, app) -> None:
    client.put(
        "/api/v1/limits/desk/macro/es",
        json={"soft": 1e6, "hard": 2e6, "reason": "x"},
        headers=auth(keys, "admin"),
    )
    assert _audit_rows(app)
    db = app.state.ctx.db
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.transaction() as conn:
        conn.execute(AUDIT_LOG.update().values(actor="mallory"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.transaction() as conn:
        conn.execute(AUDIT_LOG.delete())


def test_keys_are_hashed_shown_once_and_revocable(client: TestClient, keys, app) -> None:
    h = auth(keys, "admin")
    created = client.post("/api/v1/keys", json={"name": "ops", "role": "analyst"}, headers=h)
    key = created.json()["api_key"]
    assert client.get("/api/v1/whoami", headers={"X-API-Key": key}).json()["role"] == "analyst"
    listed = client.get("/api/v1/keys", headers=h).json()
    assert key not in str(listed) and all("hash" not in k for row in listed for k in row)
    with app.state.ctx.db.transaction() as conn:
        stored = conn.execute(sa.text("select key_hash from api_keys")).scalars().all()
    assert key not in stored and all(len(s) == 64 for s in stored)
    dup = client.post("/api/v1/keys", json={"name": "ops", "role": "viewer"}, headers=h)
    assert dup.status_code == 422 and "name" in dup.json()["detail"]
    key_id = key.split("_")[1]
    assert client.delete(f"/api/v1/keys/{key_id}", headers=h).status_code == 204
    assert client.get("/api/v1/whoami", headers={"X-API-Key": key}).status_code == 401
    actions = [a["action"] for a in client.get("/api/v1/audit", headers=h).json()]
    assert "api_key.create" in actions and "api_key.revoke" in actions


def test_regimes_endpoint(client: TestClient, keys, app, market) -> None:
    h = auth(keys, "viewer")
    app.state.ctx.feed.push(market.step())
    assert client.get("/api/v1/regimes", headers=h).json()["latest"] is None
    probs = {"calm": 0.7, "volatile": 0.2, "crisis": 0.1}
    app.state.ctx.feed.push(market.step(), regime_probabilities=probs)
    got = client.get("/api/v1/regimes", headers=h).json()
    assert got["latest"] == probs and len(got["history"]) == 1


@pytest.mark.services
def test_position_changes_and_audit_on_postgresql(postgres_url: str, universe, config) -> None:
    from riskstream.service import create_app
    from riskstream.store.refdb import RefDB
    from tests.servers import postgres_database

    urls = postgres_database(postgres_url, "rs_service")
    db = RefDB(next(urls))
    try:
        db.migrate()
        db.save_universe(universe)
        app = create_app(config, db)
        key = app.state.ctx.keys.create("pg-manager", "risk_manager")
        admin = app.state.ctx.keys.create("pg-admin", "admin")
        client = TestClient(app)
        h = {"X-API-Key": key}
        bad = {
            "changes": [
                {"book_id": 0, "instrument_id": 0, "quantity": 1.0},
                {"book_id": 0, "instrument_id": 10_000, "quantity": 1.0},
            ],
            "reason": "x",
        }
        r = client.post("/api/v1/positions", json=bad, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "changes[1].instrument_id"
        good = {"changes": [{"book_id": 0, "instrument_id": 0, "quantity": 7.0}], "reason": "pg"}
        assert client.post("/api/v1/positions", json=good, headers=h).status_code == 200
        assert db.positions(0).filter(pl.col("instrument_id") == 0)["quantity"].to_list() == [7.0]
        audit = client.get("/api/v1/audit", headers={"X-API-Key": admin}).json()
        assert [a["action"] for a in audit] == ["api_key.create", "api_key.create", "position.set"]
        assert audit[-1]["after"] == {"quantity": 7.0}
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.transaction() as conn:
            conn.execute(AUDIT_LOG.delete())
    finally:
        db.close()
        next(urls, None)


def test_position_changes_go_to_a_keeper_running_elsewhere_and_503_without_one(db, config) -> None:
    # The route does not write positions: it asks the keeper over topics. A keeper on its own
    # thread (as in another process over NATS) answers; with none, the request times out.
    import threading

    from riskstream.bus.topics import MemoryTopics
    from riskstream.positions import PositionKeeper
    from riskstream.service import create_app

    topics = MemoryTopics()
    app = create_app(config.model_copy(update={"position_reply_timeout_s": 0.3}), db, topics=topics)
    key = app.state.ctx.keys.create("elsewhere", "risk_manager")
    client = TestClient(app)
    h = {"X-API-Key": key}
    body = {"changes": [{"book_id": 0, "instrument_id": 0, "quantity": 5.0}], "reason": "r"}
    r = client.post("/api/v1/positions", json=body, headers=h)
    assert r.status_code == 503 and "did not answer" in r.json()["detail"]
    keeper = PositionKeeper(db, topics)
    stop = threading.Event()
    thread = threading.Thread(target=keeper.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # the keeper drains the request left unanswered too (nothing is lost), then this one
        body["changes"][0]["quantity"] = 6.0
        r = client.post("/api/v1/positions", json=body, headers=h)
        assert r.status_code == 200, r.json()
        assert r.json()["changes"][0]["after"] == 6.0 and r.json()["version"] == 3
        now = client.get("/api/v1/positions?book_id=0&instrument_id=0", headers=h).json()
        assert [p["quantity"] for p in now["items"]] == [6.0]
        # the keeper's own check (all or nothing) reaches the caller as a 422 naming the field
        keeper._book_ids.discard(1)  # a book deleted since the route's view was built
        bad = {"changes": [{"book_id": 1, "instrument_id": 0, "quantity": 1.0}], "reason": "r"}
        r = client.post("/api/v1/positions", json=bad, headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "changes[0].book_id"
    finally:
        stop.set()
        thread.join(5)
    assert db.positions(0).filter(pl.col("instrument_id") == 0)["quantity"].to_list() == [6.0]
