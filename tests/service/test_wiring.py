"""Wiring the service to a pipeline (ServiceStage, start_service), the offline dashboard
and docs, and the ``riskstream serve`` / ``riskstream keys`` commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskstream.core.events import EVENT_DTYPE
from riskstream.core.messages import SUBJECTS
from riskstream.limits.config import LimitsConfig
from riskstream.limits.model import Actor, Role
from riskstream.limits.stage import build_limits_stage
from riskstream.pipeline import Pipeline
from riskstream.risk.stage import RiskStage
from riskstream.service import ServiceConfig, ServiceStage, start_service
from riskstream.service.app import STATIC
from riskstream.store.limits_repo import LimitRepository
from tests.servers import free_port, wait_for_port
from tests.service.conftest import MovingMarket, auth


def test_service_stage_pushes_risk_snapshots_from_the_pipeline(
    app, market: MovingMarket, keys, universe, db
) -> None:
    # the engine follows the position keeper's versions on the app's topics
    topics = app.state.ctx.positions.topics
    risk = RiskStage(market.engine, positions=topics.subscribe(SUBJECTS["positions"], 0))
    repo = LimitRepository(db)
    limits = build_limits_stage(
        risk,
        None,
        config=LimitsConfig(auto_reduce=False),
        switch_store=repo,
        limit_store=repo,
        universe=universe,
        topics=topics,
    )
    stage = ServiceStage(app.state.ctx.feed, risk, min_interval_s=0.0, limits_stage=limits)

    def source():
        for _ in range(5):
            market.clock.advance(200_000_000)
            yield np.zeros(3, dtype=EVENT_DTYPE), market.clock.now_ns()

    pipeline = Pipeline(source(), [risk, limits, stage], n_instruments=market.engine.n)
    while pipeline.step():
        pass
    assert stage.pushed == risk.snapshots == limits.snapshots_checked == 5
    assert app.state.ctx.feed.latest_summary()["lineage_id"] == risk.last.lineage_id
    # the service shows the limits stage's figures and works on its kill-switch board
    provider = app.state.ctx.limits
    assert provider.available()
    assert provider.utilisation() == limits.controller.last.rows()
    assert limits.published()["lineage_id"] == risk.last.lineage_id
    manager = Actor("meg", Role.RISK_MANAGER)
    provider.engage(manager, "desk:equities", "reducing", "test")
    assert limits.controller.board.state("desk:equities").value == "reducing"
    client = TestClient(app)
    text = client.get("/metrics").text
    assert "riskstream_events_ingested_total 15.0" in text
    assert "riskstream_risk_cycle_seconds_count 5.0" in text

    # A position changed through the API reaches the engine as the keeper's next version,
    # sent by the risk stage before its next refresh (on the pipeline's thread).
    digest = risk.last.positions_digest
    body = {"changes": [{"book_id": 1, "instrument_id": 12, "quantity": 0}], "reason": "flat"}
    r = client.post("/api/v1/positions", json=body, headers=auth(keys, "admin"))
    assert r.is_success
    pipeline.source = source()
    try:
        assert pipeline.step()
        assert market.engine.positions_version == r.json()["version"]
        assert risk.last.valuation.positions_version == r.json()["version"]
        assert risk.last.positions_digest != digest
        assert risk.last.component_var[12] == 0.0  # the future is flat now
        assert limits.ledger.version == r.json()["version"]  # limits follow the same version
    finally:  # the engine is shared by the session's tests
        market.engine.set_positions(universe.positions, universe.books)
        market.engine.positions_version = 0


def test_start_service_serves_and_prints_how_to_sign_in(db, market: MovingMarket) -> None:
    service = start_service(ServiceConfig(), db, host="127.0.0.1", port=0)
    try:
        help_text = service.login_help()
        assert service.url in help_text and set(service.keys) == {
            "viewer",
            "analyst",
            "compliance",
            "risk_manager",
            "admin",
        }
        for key in service.keys.values():
            assert key in help_text
        service.feed.push(market.step())
        who = httpx.get(
            f"{service.url}/api/v1/whoami", headers={"X-API-Key": service.keys["admin"]}
        )
        assert who.json()["role"] == "admin"
        latest = httpx.get(
            f"{service.url}/api/v1/risk/latest", headers={"X-API-Key": service.keys["viewer"]}
        )
        assert latest.json()["stale"] is False
    finally:
        service.stop()


def test_dashboard_and_docs_work_offline(client: TestClient, keys) -> None:
    external = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""")
    for page in ("index.html", "docs.html"):
        assert not external.search((STATIC / page).read_text()), page
    assert "http" not in (STATIC / "dashboard.js").read_text().replace("https:", "")
    for path in ("/", "/docs", "/static/dashboard.js", "/static/dashboard.css"):
        assert client.get(path).status_code == 200, path
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    spec = client.get("/openapi.json").json()
    assert "/api/v1/positions" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    post = spec["paths"]["/api/v1/positions"]["post"]["description"]
    assert post.endswith("Requires the **risk_manager** role or higher.")
    assert "analyst" in spec["paths"]["/api/v1/risk/drilldown"]["get"]["description"]


@pytest.fixture()
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "RISKSTREAM_STORE__DATA_DIR": str(tmp_path / "data"),
        "RISKSTREAM_UNIVERSE__INSTRUMENTS": "60",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return env


def test_keys_commands(cli_env) -> None:
    from riskstream.cli import app

    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--name", "carol", "--role", "analyst"])
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert re.fullmatch(r"rsk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    listed = runner.invoke(app, ["keys", "list"])
    assert "carol" in listed.output and "analyst" in listed.output and key not in listed.output
    bad = runner.invoke(app, ["keys", "create", "--name", "dave", "--role", "boss"])
    assert bad.exit_code != 0 and "role" in str(bad.exception or bad.output)


@pytest.mark.slow
def test_serve_command(cli_env, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **cli_env, "PYTHONPATH": "src"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskstream", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        wait_for_port(port, timeout_s=180)  # generous: a loaded CI machine
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/health").json()["status"] == "ok"
        assert httpx.get(base + "/api/v1/whoami").status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    key = re.search(r"rsk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", out)
    assert key, out  # the first start creates and prints an admin key, once
    assert key.group(0) not in err  # ...and never logs it
    assert '"route": "/api/v1/whoami"' in err and '"status": 401' in err


def test_role_names_in_help(client: TestClient, keys) -> None:
    r = client.post("/api/v1/keys", json={"name": "x", "role": "boss"}, headers=auth(keys, "admin"))
    assert r.status_code == 422 and "role" in r.json()["detail"]
