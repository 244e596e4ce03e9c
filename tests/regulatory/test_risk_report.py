"""`riskstream report risk`: the daily management risk report of a user's loaded book, its
figures those of `riskstream risk`, stored limits checked at the close, HTML and PDF."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app

INSTRUMENTS = """\
symbol,asset_class,currency,multiplier,ref_price
AAA,equity,USD,1,
BBB,equity,USD,1,
"""
POSITIONS = """\
book,symbol,quantity,desk,strategy,trader
EQ1,AAA,10000,Equities,Core,ann
EQ2,BBB,-4000,Arbitrage,Pairs,bob
"""
LAST = dt.date(2026, 11, 30)


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture()
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    rng = np.random.default_rng(11)
    days = pl.date_range(dt.date(2023, 1, 2), LAST, eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    frames = [
        pl.DataFrame(
            {
                "date": days,
                "symbol": s,
                "close": p * np.exp(np.cumsum(rng.normal(0, 0.015, days.len()))),
            }
        )
        for s, p in (("AAA", 100.0), ("BBB", 50.0))
    ]
    pl.concat(frames).write_csv(tmp_path / "prices.csv")
    (tmp_path / "instruments.csv").write_text(INSTRUMENTS)
    (tmp_path / "positions.csv").write_text(POSITIONS)
    run("history", "load", str(tmp_path / "prices.csv"), "--json")
    run("instruments", "load", str(tmp_path / "instruments.csv"), "--json")
    run("positions", "load", str(tmp_path / "positions.csv"), "--json")
    return tmp_path


def test_report_shows_the_books_figures_and_breaches(book: Path) -> None:
    risk = run("risk", "--json", "--by", "desk")
    # a stored firm VaR limit the book breaches: hard below today's 99% VaR
    run(
        "limits",
        "set",
        "--scope",
        "firm",
        "--type",
        "var",
        "--soft",
        str(risk["var"] * 0.5),
        "--hard",
        str(risk["var"] * 0.8),
        "--as-role",
        "risk_manager",
        "--reason",
        "test",
        "--json",
    )
    pdf = book / "report.pdf" if shutil.which("chromium") else None
    args = ["report", "risk", "--out", str(book / "report.html"), "--json"]
    out = run(*args, *(["--pdf", str(pdf)] if pdf else []))
    head = out["measures"][0]
    assert (head["confidence"], head["horizon_days"]) == (0.99, 1)
    assert head["var"] == pytest.approx(risk["var"], rel=1e-9)  # the same engine path
    assert head["es"] >= head["var"]
    assert set(out["by_desk"]) == {"Equities", "Arbitrage"}
    assert sum(d["var"] for d in out["by_desk"].values()) == pytest.approx(head["var"], rel=1e-9)
    assert out["limits_source"] == "stored limits"
    (limit,) = out["limits"]
    assert limit["status"] == "breach" and limit["utilisation"] == pytest.approx(1.25, rel=1e-6)
    stress = {r["scenario"]: r["pnl"] for r in out["stress"]}
    covid = run("stress", "run", "--scenario", "covid-2020", "--json")
    assert stress["covid-2020"] == pytest.approx(covid["pnl"], rel=1e-12)  # the stress path
    page = (book / "report.html").read_text()
    assert "1 breached" in page and f"{head['var']:,.0f}" in page
    if pdf is not None:
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
