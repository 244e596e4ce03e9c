"""`riskstream limits`: set/list limits and kill switches through the CLI, with role checks
and clear refusals that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskstream.cli import app


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_set_and_list_limits_with_roles(data_dir: Path) -> None:
    base = ["limits", "set", "--scope", "desk", "--key", "Rates", "--type", "var"]
    denied = run(*base, "--soft", "8e6", "--hard", "1e7", "--as-role", "analyst", "--reason", "x")
    assert denied.exit_code != 0 and "risk_manager" in str(denied.exception)
    bad = run(*base, "--soft", "-1", "--hard", "1e7", "--as-role", "risk_manager", "--reason", "x")
    assert bad.exit_code != 0 and "soft" in str(bad.exception)
    unknown = run("limits", "set", "--scope", "galaxy", "--type", "var", "--soft", "1",
                  "--hard", "2", "--as-role", "admin", "--reason", "x")  # fmt: skip
    assert unknown.exit_code != 0 and "scope" in str(unknown.exception)
    assert json.loads(run("limits", "list", "--json").output.splitlines()[-1]) == {"limits": []}
    ok = run(*base, "--soft", "8e6", "--hard", "1e7", "--user", "meg", "--as-role",
             "risk_manager", "--reason", "annual review", "--json")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    listed = json.loads(run("limits", "list", "--json").output.splitlines()[-1])["limits"]
    assert [(x["limit_id"], x["hard"]) for x in listed] == [("desk:Rates/var", 1e7)]


def test_kill_switch_engage_status_release(data_dir: Path) -> None:
    engaged = run("limits", "killswitch", "engage", "desk:Rates", "--as-role", "risk_manager",
                  "--user", "meg", "--reason", "desk gone wild")  # fmt: skip
    assert engaged.exit_code == 0, engaged.output
    assert "active -> halted" in engaged.output
    refused = run("limits", "killswitch", "release", "desk:Rates", "--as-role", "viewer",
                  "--reason", "let me trade")  # fmt: skip
    assert refused.exit_code != 0 and "risk_manager" in str(refused.exception)
    status = json.loads(run("limits", "killswitch", "status", "--json").output.splitlines()[-1])
    assert [(s["scope_id"], s["state"]) for s in status["kill_switches"]] == [
        ("desk:Rates", "halted")
    ]
    released = run("limits", "killswitch", "release", "desk:Rates", "--as-role", "admin",
                   "--reason", "reviewed")  # fmt: skip
    assert released.exit_code == 0 and "halted -> active" in released.output


def test_budgets_allocate_the_firm_var_limit_by_euler_contribution(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "300")
    monkeypatch.setenv("RISKSTREAM_RISK__N_SCENARIOS", "500")
    out = run("limits", "budgets", "--by", "desk", "--total", "1000000", "--json")
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output.splitlines()[-1])
    lines = payload["lines"]
    assert sum(x["allocation"] for x in lines) == pytest.approx(1e6)
    # allocated in proportion to today's (positive) contributions, so at allocation time
    # every book consumes the same share of its budget: sum of positive parts / total
    positive = sum(x["contribution"] for x in lines if x["contribution"] > 0)
    used = {round(x["consumption"], 9) for x in lines if x["allocation"] > 0}
    assert used == {round(positive / 1e6, 9)}
    # and the Euler parts of all books add up to the portfolio VaR
    assert sum(x["contribution"] for x in lines) == pytest.approx(payload["var"], rel=1e-9)
    bad = run("limits", "budgets", "--by", "galaxy")
    assert bad.exit_code != 0 and "--by" in str(bad.exception)
