"""The book-level commands and routes on a stored universe with simulated daily history:
hedges that do what they say, the risk engine's before/after, the pre-trade gate, and
execution through the position keeper (risk_manager only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from riskstream.cli import app

ENV = {
    "RISKSTREAM_UNIVERSE__INSTRUMENTS": "300",
    "RISKSTREAM_UNIVERSE__HISTORY_DAYS": "260",
    "RISKSTREAM_RISK__N_SCENARIOS": "500",
    "RISKSTREAM_RISK__WINDOW_DAYS": "200",
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory):
    """Settings over a stored 300-instrument universe and its simulated history."""
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.settings import Settings

    data = tmp_path_factory.mktemp("book") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(data))
        for k, v in ENV.items():
            mp.setenv(k, v)
        mp.delenv("RISKSTREAM_CONFIG", raising=False)
        s = load_config(Settings)
        universe = ensure_universe(s)
        yield s, universe, data


def run(stored, *args: str) -> dict:
    _, _, data = stored
    env = {"RISKSTREAM_STORE__DATA_DIR": str(data), **ENV}
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_hedge_book_trades_risk_and_gate(stored):
    _, universe, _ = stored
    out = run(stored, "hedge", "book", "--json")
    trades = out["trades"]
    assert set(trades) == {"delta", "beta", "duration"}
    # delta: each underlying's trade cancels its options' delta to within half a lot
    assert out["figures"]["delta"]["options"] > 0
    beta = out["figures"]["beta"]
    fut = trades["beta"][0]
    # the beta hedge sells index futures worth the dollar beta (Hull §3.5), within one lot
    assert fut["value"] == pytest.approx(
        -beta["dollar_beta_before"], abs=abs(fut["value"] / fut["quantity"])
    )
    for cur in out["figures"]["duration"]["currencies"].values():
        assert abs(cur["dollar_duration_after"]) < abs(cur["dollar_duration_before"])
    # risk: one row before and one after each hedge, from the engine; hedging beta away
    # lowers VaR and ES
    steps = [r["step"] for r in out["risk"]]
    assert steps == ["before", "after delta", "after beta", "after duration"]
    assert out["risk"][2]["var"] < out["risk"][1]["var"]
    assert all(r["es"] >= r["var"] for r in out["risk"])
    every = [t for ts in trades.values() for t in ts]
    assert all(t["expected_cost"] > 0 for t in every)
    assert out["expected_cost"] == pytest.approx(sum(t["expected_cost"] for t in every))
    assert len(out["accepted"]) == len(every) and out["refused"] == []
    lot = universe.instruments["lot_size"].to_numpy()
    for t in every:
        assert t["quantity"] / lot[t["instrument_id"]] == pytest.approx(round(t["lots"]))


def test_refused_trades_name_the_limit_or_switch(stored):
    first = run(stored, "hedge", "book", "--no-risk", "--json")
    fut = first["trades"]["beta"][0]
    delta = first["trades"]["delta"][0]
    run_plain = CliRunner().invoke
    _, _, data = stored
    env = {"RISKSTREAM_STORE__DATA_DIR": str(data), **ENV}
    for args in (
        ["limits", "killswitch", "engage", f"instrument:{fut['instrument_id']}",
         "--as-role", "risk_manager", "--reason", "test halt"],
        ["limits", "set", "--scope", "instrument", "--key", str(delta["instrument_id"]),
         "--type", "position_size", "--soft", "1", "--hard", "2", "--as-role",
         "risk_manager", "--reason", "test"],
    ):  # fmt: skip
        assert run_plain(app, args, env=env).exit_code == 0
    try:
        out = run(stored, "hedge", "book", "--no-risk", "--json")
        refused = {t["instrument_id"]: t for t in out["refused"]}
        assert (
            refused[fut["instrument_id"]]["refused_by"]
            == f"killswitch:instrument:{fut['instrument_id']}"
        )
        limit_id = f"instrument:{delta['instrument_id']}/position_size"
        assert refused[delta["instrument_id"]]["refused_by"] == limit_id
        assert len(out["accepted"]) + len(out["refused"]) == len(first["accepted"])
    finally:
        run_plain(app, ["limits", "killswitch", "release", f"instrument:{fut['instrument_id']}",
                        "--as-role", "risk_manager", "--reason", "done"], env=env)  # fmt: skip
        run_plain(app, ["limits", "delete", "--scope", "instrument", "--key",
                        str(delta["instrument_id"]), "--type", "position_size", "--as-role",
                        "risk_manager", "--reason", "done"], env=env)  # fmt: skip


def test_optimise_book_min_volatility(stored):
    out = run(stored, "optimise", "book", "--objective", "min-volatility", "--no-risk", "--json")
    w0 = np.array(list(out["weights_before"].values()))
    w1 = np.array(list(out["weights_after"].values()))
    assert w1.sum() == pytest.approx(w0.sum(), abs=0.01)  # invested as before, up to lots
    assert out["after"]["volatility"] < out["before"]["volatility"]
    assert out["improvement"]["gross"] > 0
    assert out["improvement"]["net"] <= out["improvement"]["gross"]
    assert out["expected_cost"] > 0
    assert np.all(np.diff(out["frontier"]["volatilities"]) >= -1e-8)


def test_service_book_routes_and_execution(stored):
    from riskstream.cli.universe import open_refdb
    from riskstream.service import KeyStore, Role, ServiceConfig, create_app
    from riskstream.store.market_history import MarketHistory

    s, _, data = stored
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(data))
        db = open_refdb(s)
    api = create_app(ServiceConfig(), db, fx_history=MarketHistory.from_config(s.store))
    api.state.settings = s
    keys = KeyStore(db)
    analyst, manager = keys.create("a", Role.ANALYST), keys.create("m", Role.RISK_MANAGER)
    body = {"book": {"risk": False}, "hedges": ["beta"]}
    with TestClient(api) as client:
        r = client.post("/api/v1/portfolio/hedge", json=body, headers={"X-API-Key": analyst})
        assert r.status_code == 200, r.text
        assert r.json()["executed"] is None and r.json()["trades"]["beta"]
        r = client.post("/api/v1/portfolio/hedge", json={**body, "execute": True, "reason": "x"},
                        headers={"X-API-Key": analyst})  # fmt: skip
        assert r.status_code == 403
        execute = {**body, "execute": True, "reason": "hedge"}
        r = client.post("/api/v1/portfolio/hedge", json=execute, headers={"X-API-Key": manager})
        assert r.status_code == 200, r.text
        assert r.json()["executed"]["changed"] == len(r.json()["accepted"]) >= 1
    db.close()


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_panel_in_chromium(stored):
    """The portfolio panel in headless Chromium: Optimise draws the frontier with the book
    before and after, weights and risk contributions before/after and the trades; Propose
    hedges draws VaR/ES after each hedge and lists the hedge trades with the gate's verdict."""
    import shutil

    from riskstream.cli.universe import open_refdb
    from riskstream.service import KeyStore, Role, ServiceConfig, ServiceRunner, create_app
    from riskstream.store.market_history import MarketHistory
    from tests.servers import free_port, unavailable
    from tests.service.test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    s, _, _ = stored
    db = open_refdb(s)
    config = ServiceConfig()
    api = create_app(config, db, fx_history=MarketHistory.from_config(s.store))
    api.state.settings = s
    key = KeyStore(db).create("panel", Role.ANALYST)
    runner = ServiceRunner(api, config, host="127.0.0.1", port=free_port()).start()
    errors: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(runner.url + "/")
            page.fill("#api-key", key)
            page.click("button[type=submit]")
            page.wait_for_selector("#dash:not([hidden])", timeout=5000)
            page.select_option("#pc-objective", "min-volatility")
            page.click("#pc-optimise")
            page.wait_for_function(
                "document.getElementById('chart-frontier').data?.[0]?.x.length >= 2", timeout=60000
            )
            data = page.evaluate("document.getElementById('chart-frontier').data.map(t => t.name)")
            assert data == ["efficient frontier", "before", "after"]
            assert page.evaluate("document.getElementById('chart-weights').data.length") == 2
            assert page.evaluate("document.getElementById('chart-rc').data[1].y.length") >= 2
            assert page.locator("#pc-trades tbody tr").count() >= 1
            assert "trades, cost" in page.text_content("#pc-status")
            page.click("#pc-hedge")
            steps = "document.getElementById('chart-frontier').data?.[0]?.x || []"
            page.wait_for_function(f"({steps}).includes('after beta')", timeout=120000)
            purposes = page.evaluate(
                "[...document.querySelectorAll('#pc-trades tbody tr td:nth-child(2)')]"
                ".map(td => td.textContent)"
            )
            assert {"delta", "beta", "duration"} <= set(purposes)
            assert "hedge trades" in page.text_content("#pc-status")
            browser.close()
    finally:
        runner.stop()
        db.close()
    assert errors == []


def test_optimise_book_group_bounds(stored):
    _, universe, _ = stored
    out = run(stored, "optimise", "book", "--objective", "max-sharpe", "--group-max",
              "currency=0.4", "--no-risk", "--json")  # fmt: skip
    ccy = dict(zip(universe.instruments["symbol"].to_list(),
                   universe.instruments["currency"].to_list(), strict=True))  # fmt: skip
    totals: dict[str, float] = {}
    for sym, w in out["target_weights"].items():
        totals[ccy[sym]] = totals.get(ccy[sym], 0.0) + w
    assert max(abs(t) for t in totals.values()) <= 0.4 + 1e-6
    assert "--group-max" in str(
        CliRunner().invoke(app, ["optimise", "book", "--group-max", "sector"]).exception
    )


def test_gamma_vega_hedge_of_the_options_book(stored):
    # Hull (9th ed.) §19.8: two traded options zero gamma and vega, then the underlying
    # zeroes delta; on the book, per underlying, up to lot rounding (one option contract)
    from riskstream.cli.engine import book_as_of, load_history
    from riskstream.construction import mark_book, propose_hedges
    from riskstream.construction.hedges import option_greeks

    s, universe, data = stored
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(data))
        history = load_history(s)
    book = mark_book(universe, history, book_as_of(universe, history), 0.0)
    p = propose_hedges(book, history, s.portfolio, ("delta", "gamma_vega"))
    assert p.figures["gamma_vega"]["underlyings"] >= 1
    qty = book.quantity.copy()
    for t in p.trades["gamma_vega"] + p.trades["delta"]:
        qty[t["instrument_id"]] += t["quantity"]
    und_id = universe.instruments["underlying_id"].to_numpy()
    opt = np.flatnonzero((book.column("asset_class") == "option") & (qty != 0))
    opt = opt[np.isfinite(book.implied_vol[opt])]
    d, g, v = option_greeks(book, opt, und_id[opt].astype(np.int64))
    hedged = {int(und_id[t["instrument_id"]]) for t in p.trades["gamma_vega"]}
    traded = {t["instrument_id"]: t["quantity"] for t in p.trades["delta"]}
    for u in hedged:
        mine = und_id[opt] == u
        for greek in (g, v):  # the options' gamma and vega are gone, to lot rounding
            before = np.abs(book.quantity[opt][mine] * greek[mine]).sum()
            assert abs(qty[opt][mine] @ greek[mine]) < 0.01 * before
        # the options' delta (hedge options included) is offset by the underlying's trade
        delta_after = qty[opt][mine] @ d[mine] + traded.get(u, 0.0)
        assert abs(delta_after) <= universe.instruments["lot_size"][u]
