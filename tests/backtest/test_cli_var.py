"""``riskstream backtest var``: JSON shape, report, FILE input and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError

KEYS = {"observations", "exceptions", "kupiec", "christoffersen_cc", "traffic_light"}


def _invoke(*args: str) -> dict:
    result = CliRunner().invoke(app, ["backtest", "var", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_sp500_json_and_report(tmp_path: Path) -> None:
    report = tmp_path / "out.html"
    out = _invoke(
        "--data",
        "sp500",
        "--models",
        "hs,ewma",
        "--confidence",
        "0.99",
        "--window",
        "500",
        "--es-simulations",
        "500",
        "--report",
        str(report),
    )
    assert set(out["models"]) == {"hs", "ewma"}
    for block in out["models"].values():
        assert set(block) >= KEYS
        # arch.data's S&P 500 has 5031 prices (1999-2018): 5030 returns, 4530 forecasts
        assert block["observations"] == 4530
        assert block["traffic_light"]["zone"] in ("green", "yellow", "red")
        assert {"z1", "z2"} == set(block["acerbi_szekely"])
        assert {"quantile", "fz0"} == set(block["losses"])
        assert block["frtb_exceptions"]["exceptions_975"] >= block["exceptions"]
    assert out["model_confidence_set"]["included"]
    assert report.exists() and Path(out["figures"]).exists()


def test_file_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(400)))
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 400)
    path = tmp_path / "prices.parquet"
    pl.DataFrame({"date": dates, "price": prices}).write_parquet(path)
    out = _invoke(
        "--data", str(path), "--models", "hs,garch-t", "--window", "200", "--es-simulations", "200"
    )
    assert out["data"] == "prices"
    assert out["models"]["hs"]["observations"] == 199  # 399 returns, first 200 fit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "hs,nope"], "comma-separated list"),
        (["--confidence", "0"], "strictly between 0 and 1"),
        (["--window", "20"], "field 'window'"),
    ],
)
def test_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["backtest", "var", "--data", "sp500", *args])
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)


def test_misaligned_dates_in_file(tmp_path: Path) -> None:
    path = tmp_path / "returns.csv"
    pl.DataFrame(
        {"date": ["2020-01-01", "2020-01-03", "2020-01-02"], "return": [0.01, -0.02, 0.0]}
    ).write_csv(path)
    result = CliRunner().invoke(app, ["backtest", "var", "--data", str(path)])
    assert isinstance(result.exception, InputError)
    assert "strictly increasing" in str(result.exception)
