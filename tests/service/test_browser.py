"""The real dashboard in headless Chromium (Debian's ``/usr/bin/chromium`` driven by
playwright): it loads without console errors, its charts fill with live data that changes,
the limit heatmap and the kill-switch panel show the limits stage's figures, a forced limit
breach shows in the alert panel within two seconds and halts the desk, and a risk manager
releases the switch from the panel (a viewer cannot)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from riskstream.service import ServiceRunner
from tests.servers import free_port, unavailable
from tests.service.conftest import LimitsPipeline

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Live:
    """The served app's URL and its publisher (``paused`` holds the pipeline still)."""

    def __init__(self, url: str, pipeline: LimitsPipeline):
        self.url = url
        self.pipeline = pipeline
        self.paused = threading.Event()


@pytest.fixture()
def live_service(app, config, pipeline: LimitsPipeline):
    """The app on a free port with the pipeline's risk → limits → service stages
    publishing ~5 snapshots a second."""
    runner = ServiceRunner(app, config, host="127.0.0.1", port=free_port()).start()
    live = Live(runner.url, pipeline)
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            if not live.paused.is_set():
                pipeline.step(200)
            stop.wait(0.2)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    yield live
    stop.set()
    thread.join(5)
    runner.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_live_in_chromium(live_service: Live, keys) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            base = live_service.url
            page.goto(base + "/")
            page.fill("#api-key", keys["analyst"])
            page.click("button[type=submit]")
            page.wait_for_selector("#dash:not([hidden])", timeout=5000)
            assert page.text_content("#who").endswith("analyst")

            # Charts fill from the stream and keep moving (no reload).
            page.wait_for_function(
                "document.getElementById('chart-risk').data?.[0]?.x.length >= 3", timeout=5000
            )
            drawn = "document.querySelector('#chart-risk .scatterlayer .trace path.js-line')"
            path0 = page.evaluate(f"{drawn}?.getAttribute('d')")
            n0 = page.evaluate("document.getElementById('chart-risk').data[0].x.length")
            var0 = page.text_content("#t-var")
            last0 = page.evaluate("document.getElementById('chart-risk').data[0].y.at(-1)")
            time.sleep(1.5)
            n1 = page.evaluate("document.getElementById('chart-risk').data[0].x.length")
            last1 = page.evaluate("document.getElementById('chart-risk').data[0].y.at(-1)")
            assert n1 >= n0 + 3, (n0, n1)  # at least two updates a second
            assert path0 and page.evaluate(f"{drawn}.getAttribute('d')") != path0  # redrawn
            assert last1 != last0 and page.text_content("#t-var") not in ("—", "")
            assert var0 not in ("—", "")
            assert page.text_content("#status") == "live"
            _heatmap_and_switches_show_the_limits_stage(page, live_service)
            page.wait_for_function(
                "document.getElementById('chart-drill').data?.[0]?.x.length >= 2", timeout=5000
            )

            # Drill-down: click the macro desk bar, land on its traders' contributions.
            bars = page.evaluate("document.getElementById('chart-drill').data[0].x")
            assert set(bars) == {"equities", "macro"}
            bar = (
                page.locator("#chart-drill .trace.bars")
                .first.locator(".point")
                .nth(bars.index("macro"))
            )
            page.locator("#chart-drill").scroll_into_view_if_needed()
            box = bar.bounding_box()  # viewport coordinates, after scrolling
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function(
                "document.getElementById('crumbs').textContent.includes('desk=macro')",
                timeout=3000,
            )
            assert page.input_value("#drill-by") == "trader"
            assert page.evaluate("document.getElementById('chart-drill').data[0].x") == ["bob"]

            # A risk manager sets macro's VaR limit below its exposure (the desk's Euler
            # contribution): the next snapshot breaches it, the alert panel shows it
            # within two seconds, and the kill-switch panel shows the desk halted.
            manager = {"X-API-Key": keys["risk_manager"]}
            desks = httpx.get(f"{base}/api/v1/risk/aggregates/desk", headers=manager).json()
            exposure = desks["rows"]["macro"]["component_var"]
            assert exposure > 0
            started = time.monotonic()
            r = httpx.put(
                f"{base}/api/v1/limits/desk/macro/var",
                json={"soft": exposure / 4, "hard": exposure / 2, "reason": "browser test"},
                headers=manager,
            )
            assert r.status_code == 200
            page.wait_for_selector(
                '#alerts li.critical[data-scope="desk:macro"][data-limit-type="var"]',
                timeout=2000,
            )
            assert time.monotonic() - started < 2.0
            text = page.text_content('#alerts li.critical[data-scope="desk:macro"]')
            assert "BREACH" in text and "macro" in text
            halted = '#switches tr[data-scope="desk:macro"][data-state="halted"]'
            page.wait_for_selector(halted, timeout=2000)
            assert page.locator("#switches button.release").count() == 0  # an analyst
            heat = page.evaluate("document.getElementById('chart-heatmap').data[0]")
            assert "desk:macro" in heat["y"] and "var" in heat["x"]

            # A viewer may not release it (403, nothing changes); a risk manager does,
            # from the panel, giving a reason.
            release = f"{base}/api/v1/killswitches/desk:macro/release"
            viewer = {"X-API-Key": keys["viewer"]}
            refused = httpx.post(release, json={"reason": "please"}, headers=viewer)
            assert refused.status_code == 403 and "risk_manager" in refused.json()["detail"]
            board = live_service.pipeline.limits.controller.board
            assert board.state("desk:macro").value == "halted"
            mgr = browser.new_page(viewport={"width": 1400, "height": 1000})
            mgr.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            mgr.on("dialog", lambda d: d.accept("reviewed in the browser test"))
            mgr.goto(base + "/")
            mgr.fill("#api-key", keys["risk_manager"])
            mgr.click("button[type=submit]")
            mgr.locator(halted + " button.release").click(timeout=5000)
            mgr.wait_for_selector(
                '#switches tr[data-scope="desk:macro"][data-state="active"]', timeout=3000
            )
            assert board.state("desk:macro").value == "active"
            assert "released" in mgr.text_content("#switch-note")
            admin = {"X-API-Key": keys["admin"]}
            audit = httpx.get(
                f"{base}/api/v1/audit?action=killswitch.release", headers=admin
            ).json()
            assert [(a["actor"], a["reason"]) for a in audit] == [
                ("test-risk_manager", "reviewed in the browser test")
            ]
        finally:
            browser.close()
    assert problems == [], sorted(set(problems))[:5]


def _heatmap_and_switches_show_the_limits_stage(page, live: Live) -> None:
    """With the pipeline held still, the heatmap's cells are the limits stage's utilisation
    (rows scope:key, columns limit type) and the panel its kill switches."""
    live.paused.set()
    try:
        time.sleep(0.5)  # the last push has reached the page (pushes every 100 ms)
        rows = live.pipeline.limits.published()["utilisation"]
        heat = page.evaluate("document.getElementById('chart-heatmap').data[0]")
        cells = {
            (y, x): heat["z"][i][j]
            for i, y in enumerate(heat["y"])
            for j, x in enumerate(heat["x"])
            if heat["z"][i][j] is not None
        }
        label = {"firm": lambda r: "firm"}.get
        expected = {
            ((label(r["scope"]) or (lambda r: f"{r['scope']}:{r['key']}"))(r), r["limit_type"]): r[
                "utilisation"
            ]
            for r in rows
        }
        assert cells == pytest.approx(expected)
        assert heat["y"][0] == "firm" and {"desk:equities", "desk:macro"} <= set(heat["y"])
        assert heat["x"] == ["var", "gross_notional", "position_size", "drawdown"]
        switches = live.pipeline.limits.controller.board.status()
        shown = page.evaluate(
            "[...document.querySelectorAll('#switches tr')].map(r => [r.dataset.scope,"
            " r.dataset.state])"
        )
        assert shown[0][0] == "firm:firm"
        assert {s["scope_id"]: s["state"] for s in switches}.items() <= dict(shown).items()
    finally:
        live.paused.clear()


@pytest.mark.browser
@pytest.mark.slow
def test_regulatory_panel_in_chromium(app, config, keys, db, universe) -> None:
    """The regulatory panel shows the newest recorded IMA capital and the run's data-quality
    KPIs to a risk manager, and tells an analyst it needs that role."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    from tests.service.test_regulatory_api import record_run

    lineage_id = record_run(db, universe)
    runner = ServiceRunner(app, config, host="127.0.0.1", port=free_port()).start()
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.goto(runner.url + "/")
                page.fill("#api-key", keys["risk_manager"])
                page.click("button[type=submit]")
                page.wait_for_selector("#reg-figures tr", timeout=5000)
                cells = page.evaluate(
                    "[...document.querySelectorAll('#reg-figures tr')]"
                    ".map(r => [...r.cells].map(c => c.textContent))"
                )
                shown = dict(cells)
                assert shown["capital"] == "1.2k" and shown["lineage"] == lineage_id
                assert shown["m_c (backtesting zone)"].startswith("1.83 (amber")
                page.wait_for_function(
                    "document.getElementById('chart-dq').data?.[0]?.x.length === 3", timeout=3000
                )
                assert page.evaluate("document.getElementById('chart-dq').data[0].x") == [0.99] * 3
                analyst = browser.new_page()
                analyst.goto(runner.url + "/")
                analyst.fill("#api-key", keys["analyst"])
                analyst.click("button[type=submit]")
                analyst.wait_for_function(
                    "document.getElementById('reg-note').textContent.includes('risk_manager')",
                    timeout=3000,
                )
            finally:
                browser.close()
    finally:
        runner.stop()
    assert problems == []
