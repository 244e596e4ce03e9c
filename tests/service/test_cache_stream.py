"""The risk cache (in process and on a real Redis: TTL and staleness), the WebSocket
stream (authentication, live snapshots, limits, alerts), following a shared cache (the
limits stage's state travels with the snapshot), and TLS."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from riskstream.core.clock import ManualClock
from riskstream.limits.model import Actor, Role
from riskstream.service import RiskCache, ServiceConfig, ServiceRunner, create_app
from riskstream.service.cache import finite
from riskstream.store.cache import MemoryCache, RedisCache
from tests.servers import free_port
from tests.service.conftest import LimitsPipeline, MovingMarket, auth

SNAP = {
    "ts_ns": 1,
    "var": 10.0,
    "es": 12.0,
    "lvar": float("nan"),
    "aggregates": {"desk": {"macro": {"component_var": 10.0, "component_es": 12.0}}},
}


def _check_staleness_and_ttl(cache, clock: ManualClock, wait) -> None:
    risk = RiskCache(cache, ttl_s=1.0, stale_after_s=0.5, clock=clock, prefix="t")
    assert risk.latest() is None
    cvar, ces = np.array([1.5, -2.0, np.nan]), np.array([2.5, -1.0, 0.0])
    published = risk.publish(SNAP, cvar, ces)
    got = risk.latest()
    assert got.stale is False and got.published_ns == published and got.age_s == 0.0
    assert got.value["var"] == 10.0 and got.value["lvar"] is None  # NaN -> null (strict JSON)
    assert risk.aggregates("desk").value == SNAP["aggregates"]["desk"]
    parts = risk.contributions()
    assert parts.published_ns == published and not parts.stale
    np.testing.assert_array_equal(parts.value[0], cvar)  # bit for bit, NaN kept
    np.testing.assert_array_equal(parts.value[1], ces)
    assert 0 < cache.ttl_s("t:snapshot") <= 1.0 and 0 < cache.ttl_s("t:contributions") <= 1.0
    clock.advance(600_000_000)  # 0.6 s later: past stale_after_s, inside the TTL
    got = risk.latest()
    assert got.stale is True and got.age_s == pytest.approx(0.6)
    wait()  # past the TTL: gone, never served as current
    assert risk.latest() is None and risk.aggregates("desk") is None
    assert risk.contributions() is None


def test_memory_risk_cache_ttl_and_staleness() -> None:
    clock = ManualClock(10**18)
    _check_staleness_and_ttl(MemoryCache(clock), clock, lambda: clock.advance(500_000_000))


@pytest.mark.services
def test_redis_risk_cache_ttl_and_staleness(redis_url: str) -> None:
    # Redis expires the keys itself (PX); staleness is judged on the injected clock.
    clock = ManualClock(time.time_ns())
    cache = RedisCache(redis_url)
    try:
        cache.delete(["t:snapshot", "t:aggregates:desk", "t:contributions"])
        _check_staleness_and_ttl(cache, clock, lambda: time.sleep(1.1))
    finally:
        cache.close()


def _follow(publisher, server, market: MovingMarket, db, client: TestClient, key: str) -> None:
    """The pipeline's process (``publisher``, with a limits stage) publishes; ``server``
    follows the shared cache and shows the same risk, limits, alerts and switches."""
    pipeline = LimitsPipeline(publisher, market, db)
    snap = pipeline.step()
    h = {"X-API-Key": key}

    def follow() -> None:
        deadline = time.monotonic() + 5
        while server.state.ctx.feed.latest_summary()["lineage_id"] != pipeline.risk.last.lineage_id:
            assert time.monotonic() < deadline
            time.sleep(0.05)

    deadline = time.monotonic() + 5
    while server.state.ctx.feed.latest_summary() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    follow()
    latest = client.get("/api/v1/risk/latest", headers=h).json()
    assert latest["snapshot"]["lineage_id"] == snap.lineage_id
    got = client.get("/api/v1/limits", headers=h).json()
    assert got["available"] is True
    assert got["utilisation"] == finite(pipeline.limits.controller.last.rows())
    # a limit set in the pipeline's process (its registry) breaches there and the follower
    # shows the alert and the halted desk
    exposure = snap.aggregates["desk"]["macro"]["component_var"]
    publisher.state.ctx.limits.set_limit(
        Actor("meg", Role.RISK_MANAGER),
        {"scope": "desk", "key": "macro", "limit_type": "var", "soft": exposure / 4,
         "hard": exposure / 2},
        "cut",
    )  # fmt: skip
    pipeline.step()
    follow()
    alerts = client.get("/api/v1/alerts", headers=h).json()
    # the new limit's breach is among the critical alerts (the same step may also breach
    # others, e.g. the firm drawdown on the moving market with live FX, in either order)
    assert "desk:macro/var" in [a["limit_id"] for a in alerts if a["severity"] == "critical"]
    mine = [a.message for a in publisher.state.ctx.limits.alerts()]
    assert [a["message"] for a in alerts] == mine  # the same alerts on both sides
    switches = {
        s["scope_id"]: s["state"] for s in client.get("/api/v1/killswitches", headers=h).json()
    }
    assert switches["desk:macro"] == "halted"


def test_service_follows_a_shared_cache_with_the_limits_state(db, market: MovingMarket) -> None:
    cache = MemoryCache()  # what Redis is between two processes, in one
    publisher = create_app(ServiceConfig(), db, cache=cache)
    server = create_app(ServiceConfig(), db, cache=cache, follow_cache=True)
    key = server.state.ctx.keys.create("follower", "viewer")
    with TestClient(server) as client:
        _follow(publisher, server, market, db, client, key)


@pytest.mark.services
def test_service_follows_snapshots_published_to_redis(
    db, universe, market: MovingMarket, redis_url: str
) -> None:
    # The pipeline's process publishes; a separate `riskstream serve` follows Redis.
    config = ServiceConfig()
    RedisCache(redis_url).delete(["risk:snapshot", "risk:limits"])
    publisher = create_app(config, db, cache=RedisCache(redis_url))
    server = create_app(config, db, cache=RedisCache(redis_url), follow_cache=True)
    key = server.state.ctx.keys.create("follower", "viewer")
    with TestClient(server) as client:
        _follow(publisher, server, market, db, client, key)


def test_stale_snapshot_is_flagged_by_the_api(db, market: MovingMarket) -> None:
    clock = ManualClock(10**18)
    app = create_app(ServiceConfig(stale_after_s=2.0, snapshot_ttl_s=10.0), db, clock=clock)
    key = app.state.ctx.keys.create("v", "viewer")
    app.state.ctx.feed.push(market.step())
    with TestClient(app) as client:
        h = {"X-API-Key": key}
        assert client.get("/api/v1/risk/latest", headers=h).json()["stale"] is False
        clock.advance(3_000_000_000)
        body = client.get("/api/v1/risk/latest", headers=h).json()
        assert body["stale"] is True and body["age_s"] == pytest.approx(3.0)
        assert client.get("/health").json()["snapshot"]["stale"] is True
        clock.advance(8_000_000_000)  # past the TTL
        assert client.get("/api/v1/risk/latest", headers=h).status_code == 503


def test_stream_requires_a_key(client: TestClient, keys) -> None:
    with client.websocket_connect("/api/v1/stream") as ws:
        ws.send_text(json.dumps({"type": "auth", "api_key": "rsk_00000000_" + "x" * 43}))
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_stream_pushes_snapshots_limits_and_alerts(
    client: TestClient, app, keys, pipeline: LimitsPipeline
) -> None:
    pipeline.step()
    with client.websocket_connect("/api/v1/stream", headers=auth(keys, "viewer")) as ws:
        assert ws.receive_json() == {"type": "hello", "name": "test-viewer", "role": "viewer"}
        history = ws.receive_json()
        assert history["type"] == "history" and len(history["items"]) == 1
        seen_alerts = set()
        while True:  # the alerts the first snapshot raised (the reference set's breaches)
            message = ws.receive_json()
            if message["type"] != "alert":
                break
            seen_alerts.add(message["alert_id"])
        app.state.ctx.limits.set_limit(
            Actor("ada", Role.ADMIN),
            {"scope": "desk", "key": "macro", "limit_type": "gross_notional", "soft": 0.5,
             "hard": 1.0},
            "test",
        )  # fmt: skip
        snap = pipeline.step()
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + 5
        while not {"snapshot", "alert"} <= set(seen) and time.monotonic() < deadline:
            message = ws.receive_json()
            if message.get("alert_id") not in seen_alerts:
                seen.setdefault(message["type"], message)
        assert seen["snapshot"]["lineage_id"] == snap.lineage_id
        assert seen["snapshot"]["stale"] is False and seen["snapshot"]["limits_available"]
        assert seen["snapshot"]["utilisation"] == finite(pipeline.limits.controller.last.rows())
        switches = {s["scope_id"]: s["state"] for s in seen["snapshot"]["kill_switches"]}
        assert switches["desk:macro"] == "halted"
        assert seen["alert"]["severity"] == "critical"
        assert seen["alert"]["limit_id"] == "desk:macro/gross_notional"
        # then no second snapshot: a heartbeat within push_interval_ms, after any other
        # alert the same check raised (the moving market's firm drawdown nears its limit),
        # never the macro alert again
        beat = ws.receive_json()
        while beat["type"] == "alert":
            assert beat["limit_id"] != "desk:macro/gross_notional"
            beat = ws.receive_json()
        assert beat["type"] == "heartbeat" and beat["stale"] is False


@pytest.mark.slow
def test_tls(tmp_path: Path, db) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    config = ServiceConfig(tls_certfile=cert, tls_keyfile=key)
    runner = ServiceRunner(create_app(config, db), config, port=free_port()).start()
    try:
        assert runner.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(runner.url + "/health", verify=context).json()["status"] == "ok"
        with pytest.raises(httpx.HTTPError):
            httpx.get(runner.url.replace("https", "http") + "/health")
    finally:
        runner.stop()
    with pytest.raises(ValueError, match="together"):
        ServiceConfig(tls_certfile=cert)
