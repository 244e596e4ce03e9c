"""``riskstream garch`` and ``riskstream scenarios`` on the S&P 500 returns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.models import GarchVolatility


@pytest.fixture(scope="module")
def returns_csv(tmp_path_factory: pytest.TempPathFactory, sp500_log: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("cli") / "returns.csv"
    rng = np.random.default_rng(0)
    other = 0.5 * sp500_log + rng.standard_t(5, sp500_log.shape) * 0.005
    pl.DataFrame({"day": np.arange(sp500_log.size), "spx": sp500_log, "other": other}).write_csv(
        path
    )
    return path


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_garch_json_matches_the_api(returns_csv: Path, sp500_log: np.ndarray) -> None:
    result = CliRunner().invoke(
        app, ["garch", "--returns", str(returns_csv), "--column", "spx", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = _last_json(result.output)
    model = GarchVolatility().fit(sp500_log)
    assert payload["series"] == "spx"
    assert payload["params_percent"] == pytest.approx(model.params_)
    assert payload["nu"] == pytest.approx(model.nu_)
    assert payload["next_volatility_daily"] == pytest.approx(model.next_volatility_)
    assert payload["horizon_volatility"] == pytest.approx(
        np.sqrt(model.forecast_variance(10).sum())
    )


def test_scenarios_writes_a_file(returns_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "scen.parquet"
    args = ["scenarios", "--returns", str(returns_csv), "--method", "historical"]
    args += ["--scenarios", "250", "--horizon", "5", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = _last_json(result.output)
    assert payload["factors"] == ["spx", "other"]
    frame = pl.read_parquet(out)
    assert frame.shape == (250, 2)
    assert payload["std"][0] == pytest.approx(frame["spx"].to_numpy().std())


def test_missing_column_is_an_input_error(returns_csv: Path) -> None:
    result = CliRunner().invoke(app, ["garch", "--returns", str(returns_csv), "--column", "x"])
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "--column"
