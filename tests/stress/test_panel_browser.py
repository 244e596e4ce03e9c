"""The dashboard's stress panel in headless Chromium (Debian's ``/usr/bin/chromium``): an
analyst sees the latest results and runs them on demand, without console errors; a viewer
does not see the panel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riskstream.service import ServiceRunner
from tests.servers import free_port, unavailable

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


@pytest.mark.browser
@pytest.mark.slow
def test_stress_panel_in_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

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
    config = ServiceConfig()
    api = create_app(config, db)
    keys = {r.label: api.state.ctx.keys.create(f"k-{r.label}", r) for r in Role}
    scenarios = [builtin_scenarios()[n] for n in ("gfc-2008", "covid-2020")]
    service = StressService(
        lambda: run_scenarios(book_of(u), scenarios), ResultStore(tmp_path / "stress")
    )
    attach(api, service)
    runner = ServiceRunner(api, config, host="127.0.0.1", port=free_port()).start()
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page()
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
                page.goto(runner.url + "/")
                page.fill("#api-key", keys["analyst"])
                page.click("button[type=submit]")
                page.wait_for_selector("#dash:not([hidden])", timeout=10_000)
                # the first read finds no result, starts a run and polls again shortly
                page.wait_for_function(
                    "document.querySelectorAll('#stress-table tr').length === 2", timeout=30_000
                )
                rows = page.eval_on_selector_all(
                    "#stress-table tr", "rs => rs.map(r => r.children[0].textContent)"
                )
                assert rows == ["gfc-2008", "covid-2020"]
                assert "positions v" in page.text_content("#stress-note")
                stored = len(service.store.runs())
                page.click("#stress-run")  # on demand
                page.wait_for_function(
                    "document.getElementById('stress-note').textContent.includes('updated')",
                    timeout=30_000,
                )
                assert len(service.store.runs()) == stored + 1
                viewer = browser.new_page()
                viewer.goto(runner.url + "/")
                viewer.fill("#api-key", keys["viewer"])
                viewer.click("button[type=submit]")
                viewer.wait_for_selector("#dash:not([hidden])", timeout=10_000)
                assert viewer.is_hidden("#stress-card")
            finally:
                browser.close()
    finally:
        runner.stop()
        db.close()
    assert not problems, problems
