"""``riskstream frtb``: the CLI contracts of issue 18 (JSON shapes and flags)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskstream.cli import app

CRIF = """\
risk_type,qualifier,bucket,label1,label2,amount,amount_currency
GIRR_DELTA,EUR,,5y,ESTR,1000000,EUR
EQ_DELTA,ACME,5,spot,,2000000,USD
EQ_DELTA,BAD,99,spot,,1,USD
"""


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "300")
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__HISTORY_DAYS", "30")
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_sa_on_a_crif_file(tmp_path: Path, data_dir: Path) -> None:
    crif = tmp_path / "crif.csv"
    crif.write_text(CRIF)
    fx = tmp_path / "fx.csv"
    fx.write_text("symbol,price\nEURUSD,1.10\n")
    out = run("frtb", "sa", "--crif", str(crif), "--reporting-currency", "USD",
              "--fx-quotes", str(fx), "--json")  # fmt: skip
    assert set(out["total"]) >= {"low", "medium", "high", "capital"}
    girr = out["by_risk_class"]["GIRR"]["delta"]
    # 1,000,000 EUR x 1.10 x 1.1 % / sqrt(2) (EUR is a specified currency, MAR21.44)
    assert girr["medium"] == pytest.approx(1.1e6 * 0.011 / math.sqrt(2))
    assert girr["buckets"][0]["bucket"] == "EUR" and "K_b" in girr["buckets"][0]["low"]
    assert out["by_risk_class"]["EQ"]["delta"]["high"] == pytest.approx(0.30 * 2e6)
    assert out["total"]["capital"] == max(out["total"][s] for s in ("low", "medium", "high"))
    assert [q["field"] for q in out["quarantined"]] == ["bucket"]
    off = run("frtb", "sa", "--crif", str(crif), "--reporting-currency", "USD",
              "--fx-quotes", str(fx), "--no-specified-currency-reduction", "--json")  # fmt: skip
    assert off["by_risk_class"]["GIRR"]["delta"]["medium"] == pytest.approx(1.1e6 * 0.011)


def test_lh_cascade() -> None:
    out = run("frtb", "lh-cascade", "--es", "100,80,60,40,20", "--json")
    assert out["es"] == pytest.approx(math.sqrt(29200))  # hand computation, MAR33.4
    bad = CliRunner().invoke(app, ["frtb", "lh-cascade", "--es", "1,x"])
    assert bad.exit_code != 0


def test_sa_on_the_loaded_book(tmp_path: Path, data_dir: Path) -> None:
    html = tmp_path / "sa.html"
    out = run("frtb", "sa", "--json", "--report", str(html))
    t = out["total"]
    assert t["capital"] == pytest.approx(t["sbm"] + t["drc"] + t["rrao"])
    assert t["sbm"] == max(t["low"], t["medium"], t["high"]) > 0
    assert {d["desk"] for d in out["by_desk"]} and out["sensitivity_rows"] > 0
    assert isinstance(out["excluded"], list)
    assert "FRTB standardised approach" in html.read_text()


def test_the_example_crif_file_reads_whole(data_dir: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "frtb"
    out = run("frtb", "sa", "--crif", str(root / "crif_sample.csv"), "--reporting-currency",
              "USD", "--fx-quotes", str(root / "fx_quotes.csv"), "--json")  # fmt: skip
    assert out["quarantined"] == []
    for rc, measures in out["by_risk_class"].items():
        for m, v in measures.items():
            assert v["medium"] > 0, (rc, m)
    # Under the other reporting currency the capital changes by the FX rate and by which
    # currencies are 'specified' (EUR is specified under MAR21.44 either way).
    eur = run("frtb", "sa", "--crif", str(root / "crif_sample.csv"), "--reporting-currency",
              "EUR", "--fx-quotes", str(root / "fx_quotes.csv"), "--json")  # fmt: skip
    assert eur["total"]["capital"] > 0 and eur["reporting_currency"] == "EUR"
