"""``/metrics`` in Prometheus exposition format; Grafana dashboards and alert rules that
name only metrics the service exports; structured logs that never contain a secret."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from riskstream.limits.model import Actor, LimitDefinition, Role
from riskstream.limits.registry import LimitRegistry
from riskstream.service.logs import JsonFormatter, RedactSecrets, configure_logging
from riskstream.service.metrics import METRIC_NAMES
from riskstream.store.limits_repo import LimitRepository
from tests.service.conftest import LimitsPipeline, MovingMarket, auth

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC_IN_QUERY = re.compile(r"\briskstream_[a-z0-9_]+\b")


def test_metrics_parse_as_prometheus_exposition(
    client: TestClient, app, market: MovingMarket
) -> None:
    feed = app.state.ctx.feed
    feed.push(market.step(), cycle_s=0.012, regime_probabilities={"calm": 0.9, "crisis": 0.1})
    feed.observe_pipeline(
        {"events": 5000, "events_per_s": 2500.0, "quarantine_by_reason": {"crossed": 3}}
    )
    feed.metrics.md_latency.observe(2e-4)
    client.get("/health")
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.name: s for f in families.values() for s in f.samples}
    assert set(samples) <= METRIC_NAMES
    assert samples["riskstream_events_ingested_total"].value == 5000
    assert samples["riskstream_risk_snapshots_total"].value == 1
    assert samples["riskstream_risk_cycle_seconds_count"].value == 1
    var = [s for s in families["riskstream_risk_measure"].samples if s.labels["measure"] == "var"]
    assert {s.labels["confidence"] for s in var} == {"0.99", "0.975"}
    assert families["riskstream_quarantined_events"].samples[0].labels == {"reason": "crossed"}
    http = families["riskstream_http_requests"].samples
    assert any(s.labels["route"] == "/health" for s in http)


def test_limit_metrics_are_the_limits_stages_figures(
    client: TestClient, app, pipeline: LimitsPipeline, db
) -> None:
    # a stored firm VaR limit far below the book's VaR: a breach from the first snapshot
    # (the reference limits leave the book they are sized on inside them)
    manager = Actor("meg", Role.RISK_MANAGER)
    limit = LimitDefinition("firm", "firm", "var", 1.0, 2.0)
    LimitRegistry(LimitRepository(db)).set_limit(manager, limit, "test")
    pipeline.limits.request_reload()
    pipeline.step()
    pipeline.step()
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    rows = pipeline.limits.controller.last.rows()
    expected = {(f"{r['scope']}:{r['key']}", r["limit_type"]): r for r in rows}

    def gauge(name: str) -> dict:
        return {
            (s.labels["scope"], s.labels["limit_type"]): s.value for s in families[name].samples
        }

    util = gauge("riskstream_limit_utilisation")
    assert util.keys() == expected.keys()
    for key, value in util.items():
        assert value == expected[key]["utilisation"]
    states = gauge("riskstream_limit_state")
    assert {k: ("ok", "warning", "breach")[int(v)] for k, v in states.items()} == {
        k: r["status"] for k, r in expected.items()
    }
    board = pipeline.limits.controller.board
    switches = {
        s.labels["scope"]: s.value for s in families["riskstream_kill_switch_state"].samples
    }
    assert switches == {
        r["scope_id"]: ["active", "reducing", "halted"].index(r["state"]) for r in board.status()
    }
    breaches = families["riskstream_limit_breaches"].samples
    critical = {s.labels["scope"] for s in breaches if s.labels["severity"] == "critical"}
    assert critical == {k[0] for k, r in expected.items() if r["status"] == "breach"}
    assert critical == {"firm:firm"}  # the stored firm VaR limit is breached


def _queries(node) -> list[str]:
    if isinstance(node, dict):
        out = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return out + [q for v in node.values() for q in _queries(v)]
    if isinstance(node, list):
        return [q for v in node for q in _queries(v)]
    return []


def _exported(name: str) -> bool:
    return name in METRIC_NAMES


def test_grafana_dashboards_are_valid_and_use_exported_metrics() -> None:
    files = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert files
    for file in files:
        dash = json.loads(file.read_text())
        assert dash["uid"] and dash["title"] and dash["panels"]
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dash["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                names = METRIC_IN_QUERY.findall(target["expr"])
                assert names, (panel["title"], target["expr"])
                unknown = [n for n in names if not _exported(n)]
                assert not unknown, (panel["title"], unknown)
        titles = " ".join(p["title"] for p in dash["panels"]).lower()
        for shown in (
            "p&l",
            "var",
            "regime",
            "limit utilisation",
            "breach",
            "latency",
            "quarantine",
        ):
            assert shown in titles  # mirrors the built-in dashboard's panels
    provisioning = DEPLOY / "grafana" / "provisioning"
    for file in provisioning.rglob("*.yaml"):
        assert yaml.safe_load(file.read_text())["apiVersion"] == 1


def test_prometheus_alert_rules_cover_breaches_and_stalls() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert {"RiskLimitBreach", "KillSwitchEngaged", "RiskSnapshotStalled", "IngestStalled"} <= set(
        alerts
    )
    for name, rule in alerts.items():
        names = METRIC_IN_QUERY.findall(rule["expr"])
        assert names and all(_exported(n) for n in names), (name, names)
        assert rule["labels"]["severity"] in ("warning", "critical")


def test_logs_are_json_and_never_contain_a_key(client: TestClient, keys) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("riskstream")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        h = auth(keys, "admin")
        client.get("/api/v1/whoami", headers=h)
        client.get("/api/v1/whoami", headers={"X-API-Key": keys["viewer"] + "x"})
        created = client.post("/api/v1/keys", json={"name": "n1", "role": "viewer"}, headers=h)
        # Even a key pasted where it does not belong is redacted before it is written.
        client.get(f"/api/v1/instruments?symbol={keys['analyst']}", headers=h)
        logging.getLogger("riskstream.test").warning(
            "client sent X-API-Key: %s and password=%s", keys["admin"], "hunter2"
        )
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(r.get("route") == "/api/v1/whoami" and r["principal"] == "test-admin" for r in lines)
    assert any(r.get("status") == 401 for r in lines)
    for secret in (*keys.values(), created.json()["api_key"], "hunter2"):
        assert secret not in text
        # the random part of a key (``rsk_<id>_<token>``; the token itself may contain "_")
        assert secret.split("_", 2)[-1] not in text
    assert "[REDACTED]" in text


def test_configure_logging_installs_redaction(capsys) -> None:
    handler = configure_logging(json_lines=True)
    try:
        logging.getLogger("riskstream.x").info("token=%s", "rsk_0123abcd_" + "A" * 43)
        err = capsys.readouterr().err
    finally:
        logging.getLogger("riskstream").removeHandler(handler)
    assert "AAAA" not in err and json.loads(err.strip().splitlines()[-1])["level"] == "info"
