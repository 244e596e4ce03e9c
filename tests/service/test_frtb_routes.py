"""The FRTB SA routes: the report by desk and risk class for risk managers and up, the
HTML report, and the dashboard's capital panel in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from riskstream.regulatory.sa.drc import book_exposures
from riskstream.regulatory.sa.report import sa_report
from riskstream.regulatory.sa.rrao import book_rrao
from riskstream.regulatory.sa.sensitivities import book_crif, unit_sensitivities
from riskstream.service import frtb
from tests.risk.helpers import AS_OF
from tests.servers import free_port, unavailable
from tests.service.conftest import auth


def report_of(universe) -> dict:
    """The SA report of the service's universe at its reference prices, options at the
    implied vols of those prices."""
    from riskstream.cli.engine import implied_vols, option_rates

    day = AS_OF.date()
    px = universe.instruments["ref_price"].to_numpy().astype(np.float64)
    rates = option_rates(universe, day)
    iv = implied_vols(universe, day, rates, 0.0)
    unit = unit_sensitivities(universe, "USD", universe.fx_to_base, px, iv, rates, day)
    fx = np.array([universe.fx_to_base[c] for c in universe.instruments["currency"]])
    mult = universe.instruments["multiplier"].to_numpy()
    out = sa_report(
        book_crif(universe, unit),
        book_exposures(universe, px, fx, day),
        book_rrao(universe, np.abs(px * mult * fx), {}),
        "USD",
    )
    return {**out, "as_of": day.isoformat()}


def test_routes_need_a_risk_manager(app, client, keys, universe) -> None:
    assert client.get("/api/v1/frtb/sa").status_code == 404  # not attached yet
    calls = []

    def compute() -> dict:
        calls.append(1)
        return report_of(universe)

    frtb.attach(app, compute)
    assert client.get("/api/v1/frtb/sa").status_code == 401
    assert client.get("/api/v1/frtb/sa", headers=auth(keys, "analyst")).status_code == 403
    r = client.get("/api/v1/frtb/sa", headers=auth(keys, "risk_manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    t = body["total"]
    assert t["capital"] == pytest.approx(t["sbm"] + t["drc"] + t["rrao"])
    assert set(body["by_risk_class"]) == {"GIRR", "CSR_NONSEC", "EQ", "COMM", "FX"}
    assert body["by_risk_class"]["EQ"]["curvature"]["buckets"]  # options' curvature served
    desks = client.get("/api/v1/frtb/sa/desks", headers=auth(keys, "admin")).json()
    assert {d["desk"] for d in desks["by_desk"]} == set(universe.books["desk"].unique())
    assert len(calls) == 1  # kept between requests
    client.get("/api/v1/frtb/sa?refresh=true", headers=auth(keys, "risk_manager"))
    assert len(calls) == 2
    page = client.get("/api/v1/frtb/sa/report.html", headers=auth(keys, "risk_manager"))
    assert page.status_code == 200 and "By desk" in page.text


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_capital_panel_in_chromium(app, config, keys, universe) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from riskstream.service import ServiceRunner

    report = report_of(universe)
    frtb.attach(app, lambda: report)
    runner = ServiceRunner(app, config, host="127.0.0.1", port=free_port()).start()
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.goto(runner.url + "/")
                page.fill("#api-key", keys["risk_manager"])
                page.click("button[type=submit]")
                page.wait_for_function(
                    "document.getElementById('chart-capital').data?.length === 7", timeout=10000
                )
                bars = page.evaluate("document.getElementById('chart-capital').data")
                eq = next(b for b in bars if b["name"] == "EQ")
                want = {d["desk"]: d["by_risk_class"]["EQ"] for d in report["by_desk"]}
                assert dict(zip(eq["x"], eq["y"], strict=True)) == pytest.approx(want)
                assert "SA capital" in page.text_content("#capital-note")
                # an analyst does not see the panel
                page.click("#logout")
                page.fill("#api-key", keys["analyst"])
                page.click("button[type=submit]")
                page.wait_for_selector("#dash:not([hidden])", timeout=5000)
                assert page.is_hidden("#capital-card")
            finally:
                browser.close()
    finally:
        runner.stop()
    assert not problems, problems
