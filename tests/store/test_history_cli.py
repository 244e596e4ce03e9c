"""`riskstream history load|show`: the JSON contract, fill, bad files (exit 2, nothing loaded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from riskstream.cli import app, main
from riskstream.core.errors import InputError, LoadError
from riskstream.store.market_history import MarketHistory
from tests.store.test_history_quality import crafted_file


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_load_json_report_and_show(data_dir: Path, tmp_path: Path) -> None:
    path = crafted_file(tmp_path)
    result = run("history", "load", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = last_json(result.output)
    assert report["kind"] == "prices"
    assert report["rows_loaded"] == 36 and report["series"] == 4  # see test_history_quality
    assert (report["first_date"], report["last_date"]) == ("2024-01-01", "2024-02-09")
    assert report["version"] == 0
    counts = {name: check["count"] for name, check in report["quality"].items()}
    assert counts == {"non_positive": 2, "gaps": 5, "stale": 1, "outliers": 2, "filled": 0}
    assert report["quality"]["gaps"]["calendar"].startswith("Monday-Friday")
    shown = run("history", "show", "--json")
    assert shown.exit_code == 0, shown.output
    summary = last_json(shown.output)
    assert summary["prices"]["rows"] == 36 and summary["prices"]["version"] == 0
    assert summary["curves"]["rows"] == 0
    assert summary["root"] == str(data_dir / "history")
    # the tables also print
    table = run("history", "show")
    assert table.exit_code == 0 and "prices" in table.output


def test_fill_forward_and_rich_report(data_dir: Path, tmp_path: Path) -> None:
    path = crafted_file(tmp_path)
    result = run("history", "load", str(path), "--fill", "forward")
    assert result.exit_code == 0, result.output
    assert "filled" in result.output and "Monday-Friday" in result.output
    history = MarketHistory(data_dir / "history")
    assert history.prices().height == 41
    assert set(history.scan("prices").collect()["source"]) == {
        "file:crafted.csv",
        "fill:forward",
    }


def test_curves_and_vols_kinds(data_dir: Path, tmp_path: Path) -> None:
    curves = tmp_path / "curves.csv"
    curves.write_text("date,currency,tenor_years,zero_rate\n2024-01-02,USD,1,0.05\n")
    vols = tmp_path / "vols.csv"
    vols.write_text("date,underlying,expiry_years,moneyness,implied_vol\n2024-01-02,SPX,1,1,0.2\n")
    for kind, path in (("curves", curves), ("vols", vols)):
        result = run("history", "load", str(path), "--kind", kind, "--json")
        assert result.exit_code == 0, result.output
        assert last_json(result.output)["rows_loaded"] == 1
    assert MarketHistory(data_dir / "history").summary()["vols"]["series"] == 1
    bad = run("history", "load", str(curves), "--kind", "bonds")
    assert isinstance(bad.exception, InputError) and bad.exception.field == "--kind"
    bad = run("history", "load", str(curves), "--fill", "backward")
    assert isinstance(bad.exception, InputError) and bad.exception.field == "--fill"


def test_bad_file_exits_2_with_every_bad_row_and_loads_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,symbol,close\n2024-01-02,A,1\n2024-01-03,A,x\n2024-01-04,A,inf\n")
    result = run("history", "load", str(bad))
    assert isinstance(result.exception, LoadError)
    monkeypatch.setattr(sys, "argv", ["riskstream", "history", "load", str(bad), "--json"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: field 'close' has value 'x'; expected a finite number" in err
    assert f"{bad}:4: field 'close' has value 'inf'" in err
    history = MarketHistory(data_dir / "history")
    assert not history.exists("prices")  # not even the good first row
