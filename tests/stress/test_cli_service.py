"""The `riskstream stress` commands on a stored book (JSON last line), the Dask cluster run
equal to the local one, and the /api/v1/stress routes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.clock import ManualClock
from riskstream.core.errors import InputError, LoadError


@pytest.fixture(scope="module")
def stored_book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small stored universe (60 instruments, 200 days of simulated history)."""
    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("stress") / "data"
    mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(data))
    mp.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "60")
    mp.setenv("RISKSTREAM_UNIVERSE__HISTORY_DAYS", "200")
    mp.setenv("RISKSTREAM_RISK__WINDOW_DAYS", "120")
    mp.delenv("RISKSTREAM_CONFIG", raising=False)
    yield data
    mp.undo()


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_run_one_scenario_prints_the_contract(stored_book: Path) -> None:
    out = run("stress", "run", "--scenario", "covid-2020", "--json")
    for key in (
        "pnl",
        "by_asset_class",
        "by_desk",
        "top_positions",
        "by_factor",
        "mapping",
        "lineage",
        "carry_theta_included",
    ):
        assert key in out, key
    assert out["pnl"] == pytest.approx(sum(out["by_asset_class"].values()), rel=1e-9)
    assert out["pnl"] == pytest.approx(sum(out["by_desk"].values()), rel=1e-9)
    assert out["pnl"] == pytest.approx(sum(out["by_factor"].values()), rel=1e-9)
    assert out["pnl"] < 0 and all(p["pnl"] < 0 for p in out["top_positions"])
    assert out["carry_theta_included"] is False
    lineage = out["lineage"]
    assert lineage["scenario_versions"]["covid-2020"] == out["version"]
    assert {"positions_version", "market_data_as_of", "market_data_source"} <= set(lineage)
    stored = json.loads(Path(out["stored"]).read_text())
    assert stored["scenarios"][0]["pnl"] == out["pnl"]


def test_list_and_a_hypothetical_file(stored_book: Path, tmp_path: Path) -> None:
    names = {s["name"] for s in run("stress", "list", "--json")["scenarios"]}
    assert {
        "gfc-2008",
        "covid-2020",
        "svb-2023",
        "climate-hot-house",
        "fed-2025-severely-adverse",
    } <= names
    path = tmp_path / "eq.yaml"
    path.write_text(
        "name: eq-down\nshocks:\n  - {asset_class: equity, kind: relative, value: -0.1}\n"
    )
    out = run("stress", "run", "--scenario", str(path), "--json")
    assert out["name"] == "eq-down" and set(out["by_asset_class"]) >= {"equity"}
    # equities only: the equity line is -10 % of their value, the others do not move
    assert out["by_asset_class"].get("bond", 0.0) == 0.0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nshocks:\n  - {sector: Energy, kind: relativ, value: -0.1}\n")
    result = CliRunner().invoke(app, ["stress", "run", "--scenario", str(bad)])
    assert isinstance(result.exception, LoadError)
    assert f"{bad}:3" in str(result.exception) and "'kind'" in str(result.exception)


def test_reverse_from_covariance_and_exposure_files(tmp_path: Path) -> None:
    cov = tmp_path / "cov.csv"
    cov.write_text("factor,SPX,UST10\nSPX,0.0004,-0.00002\nUST10,-0.00002,0.000001\n")
    exposures = tmp_path / "e.csv"
    exposures.write_text("factor,exposure\nSPX,1000000\nUST10,-5000000\n")
    out = run(
        "stress",
        "reverse",
        "--cov",
        str(cov),
        "--exposures",
        str(exposures),
        "--loss",
        "50000",
        "--json",
    )
    e = np.array([1e6, -5e6])
    s = np.array([[0.0004, -0.00002], [-0.00002, 0.000001]])
    x = -50_000 * s @ e / (e @ s @ e)
    assert out["shock"]["SPX"] == pytest.approx(x[0]) and out["shock"]["UST10"] == pytest.approx(
        x[1]
    )
    assert out["mahalanobis"] == pytest.approx(50_000 / np.sqrt(e @ s @ e))
    exposures.write_text("factor,exposure\nSPX,1000000\nGOLD,1\n")
    result = CliRunner().invoke(
        app, ["stress", "reverse", "--cov", str(cov), "--exposures", str(exposures), "--loss", "1"]
    )
    assert isinstance(result.exception, InputError) and result.exception.field == "factor"


def test_reverse_liquidity_and_report_on_the_stored_book(stored_book: Path, tmp_path: Path) -> None:
    run(
        "limits",
        "set",
        "--scope",
        "firm",
        "--type",
        "stress_loss",
        "--soft",
        "1e6",
        "--hard",
        "2e6",
        "--as-role",
        "risk_manager",
        "--reason",
        "stress test",
        "--json",
    )
    rev = run(
        "stress",
        "reverse",
        "--loss",
        "2000000",
        "--limit",
        "firm:firm/stress_loss",
        "--factor-set",
        "EQ:",
        "--json",
    )
    assert rev["pnl"] == pytest.approx(-2e6, rel=1e-3)
    assert rev["mahalanobis"] > 0 and 0 < rev["probability"] < 0.5
    breach = rev["limit_breach"]
    assert breach["hard"] == 2e6 and breach["factors"] > 0
    assert breach["move"] is None or breach["pnl"] <= -2e6
    liq = run("stress", "liquidity", "--redeem", "0.2", "--days", "5", "--json")
    assert liq["requested"] == pytest.approx(0.2 * liq["nav"])
    assert liq["paid"] + liq["deferred"] == pytest.approx(liq["requested"])
    out = run("stress", "report", "--out", str(tmp_path / "r.html"), "--json")
    text = (tmp_path / "r.html").read_text()
    assert out["scenarios"] == 11
    assert "Plotly" in text and "Reverse stress" in text and "Sensitivity ladders" in text


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="2GiB",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_many_scenarios_on_a_cluster_equal_the_local_run(stored_book: Path, scheduler: str) -> None:
    local = run("stress", "run", "--scenario", "all", "--chunk", "3", "--json")
    remote = run(
        "stress", "run", "--scenario", "all", "--chunk", "3", "--json", "--cluster", scheduler
    )
    assert remote["cluster"] == scheduler
    for a, b in zip(local["scenarios"], remote["scenarios"], strict=True):
        assert a["name"] == b["name"]
        assert a["pnl"] == b["pnl"]  # bit for bit
        assert a["by_desk"] == b["by_desk"] and a["by_factor"] == b["by_factor"]


def test_stress_routes_schedule_and_roles(tmp_path: Path) -> None:
    from riskstream.limits.model import Role
    from riskstream.service import create_app
    from riskstream.service.config import ServiceConfig
    from riskstream.service.stress import StressService, attach
    from riskstream.store.refdb import RefDB
    from riskstream.stress.library import builtin_scenarios
    from riskstream.stress.run import ResultStore, run_scenarios

    from .books import book_of, linear_universe

    u = linear_universe()
    db = RefDB(f"sqlite:///{tmp_path / 'ref.db'}")
    db.migrate()
    db.save_universe(u)
    clock = ManualClock(int(dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC).timestamp() * 1e9))
    api = create_app(ServiceConfig(), db, clock=clock)
    keys = {r.label: api.state.ctx.keys.create(f"k-{r.label}", r) for r in Role}
    runs = []

    def runner():
        runs.append(1)
        return run_scenarios(book_of(u), [builtin_scenarios()["gfc-2008"]])

    with TestClient(api) as client:
        analyst = {"X-API-Key": keys["analyst"]}
        got = client.get("/api/v1/stress/latest", headers=analyst).json()
        assert got["configured"] is False  # no service yet: said, not an error
        viewer = client.get("/api/v1/stress/latest", headers={"X-API-Key": keys["viewer"]})
        assert viewer.status_code == 403
        service = StressService(runner, ResultStore(tmp_path / "stress"), clock=clock)
        attach(api, service)
        first = client.get("/api/v1/stress/latest", headers=analyst).json()
        assert first["result"] is None and first["refreshing"] and first["refresh_s"] == 300
        service.wait(60)
        fresh = client.get("/api/v1/stress/latest", headers=analyst).json()
        assert fresh["result"]["scenarios"][0]["name"] == "gfc-2008" and fresh["age_s"] == 0
        assert "mapping" not in fresh["result"]["scenarios"][0]
        assert len(runs) == 1  # fresh: no rerun
        clock.advance(301 * 10**9)  # five minutes on: the schedule reruns it
        stale = client.get("/api/v1/stress/latest", headers=analyst).json()
        assert stale["refreshing"] and stale["age_s"] == pytest.approx(301)
        service.wait(60)
        assert len(runs) == 2
        now = client.post("/api/v1/stress/run", headers=analyst).json()  # on demand
        assert len(runs) == 3 and now["result"]["scenarios"][0]["pnl"] < 0
        assert (
            len(client.get("/api/v1/stress/scenarios", headers=analyst).json()["scenarios"]) == 11
        )
    db.close()
