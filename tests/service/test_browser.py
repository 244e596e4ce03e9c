"""The real dashboard in headless Chromium (Debian's ``/usr/bin/chromium`` driven by
playwright): it loads without console errors, its charts fill with live data that changes,
and a forced limit breach shows in the alert panel within two seconds."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from riskstream.service import ServiceRunner
from tests.servers import free_port, unavailable
from tests.service.conftest import MovingMarket

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


@pytest.fixture()
def live_service(app, config, market: MovingMarket):
    """The app on a free port with the risk engine publishing ~5 snapshots a second."""
    runner = ServiceRunner(app, config, host="127.0.0.1", port=free_port()).start()
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            app.state.ctx.feed.push(market.step(200), cycle_s=0.01)
            stop.wait(0.2)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    yield runner.url
    stop.set()
    thread.join(5)
    runner.stop()


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_live_in_chromium(live_service: str, keys) -> None:
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
            page.goto(live_service + "/")
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
            heat = page.evaluate("document.getElementById('chart-heatmap').data[0]")
            assert heat["y"] == ["equities", "macro"]
            assert heat["x"] == ["var", "es", "lvar", "gross_notional"]
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

            # A risk manager lowers macro's VaR limit below its exposure: the next
            # snapshot breaches it, and the alert panel shows it within two seconds.
            manager = {"X-API-Key": keys["risk_manager"]}
            util = httpx.get(f"{live_service}/api/v1/limits", headers=manager).json()
            macro = next(
                u for u in util["utilisation"] if u["scope"] == "macro" and u["limit_type"] == "var"
            )
            assert macro["status"] == "ok" and macro["exposure"] > 0
            started = time.monotonic()
            r = httpx.put(
                f"{live_service}/api/v1/limits/macro/var",
                json={"limit": macro["exposure"] * 0.5, "reason": "browser test breach"},
                headers=manager,
            )
            assert r.status_code == 200
            page.wait_for_selector(
                '#alerts li.critical[data-scope="macro"][data-limit-type="var"]', timeout=2000
            )
            assert time.monotonic() - started < 2.0
            text = page.text_content('#alerts li.critical[data-scope="macro"]')
            assert "BREACH" in text and "macro" in text
        finally:
            browser.close()
    assert problems == [], sorted(set(problems))[:5]
