"""``riskstream backtest hits``: the JSON shape and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError

SRC = Path(__file__).resolve().parents[2] / "src"


def _write(tmp_path: Path, hits, suffix: str = ".csv", dates=None) -> Path:
    frame = pl.DataFrame({"hit": hits})
    if dates is not None:
        frame = frame.with_columns(pl.Series("date", dates))
    path = tmp_path / f"hits{suffix}"
    frame.write_parquet(path) if suffix == ".parquet" else frame.write_csv(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_json_shape(tmp_path: Path, suffix: str) -> None:
    hits = np.zeros(250, dtype=int)
    hits[[10, 50, 51, 120, 200, 230]] = 1
    path = _write(tmp_path, hits, suffix)
    result = CliRunner().invoke(
        app, ["backtest", "hits", "--input", str(path), "--var-level", "0.99", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(out) == {
        "observations",
        "exceptions",
        "kupiec",
        "christoffersen_ind",
        "christoffersen_cc",
        "traffic_light",
    }
    assert (out["observations"], out["exceptions"]) == (250, 6)
    for key in ("kupiec", "christoffersen_ind", "christoffersen_cc"):
        assert set(out[key]) == {"lr", "p_value"}
    assert out["traffic_light"]["zone"] == "yellow"  # 6 of 250 at 99%: Basel 1996
    assert out["traffic_light"]["plus_factor"] == pytest.approx(0.50)
    assert out["traffic_light"]["cumulative_probability"] == pytest.approx(0.9863, abs=5e-5)


def test_table_output(tmp_path: Path) -> None:
    path = _write(tmp_path, [0, 1, 0, 0])
    result = CliRunner().invoke(app, ["backtest", "hits", "--input", str(path)])
    assert result.exit_code == 0
    assert "Kupiec" in result.stdout


@pytest.mark.parametrize(
    ("hits", "dates", "args", "message"),
    [
        ([0, 2, 0], None, [], "field 'hit' has value 2"),
        ([], None, [], "at least one observation"),
        ([0, 1], None, ["--var-level", "1.5"], "strictly between 0 and 1"),
        ([0, 1, 0], ["2024-01-02", "2024-01-01", "2024-01-03"], [], "strictly increasing"),
    ],
)
def test_bad_input_errors(tmp_path: Path, hits, dates, args, message: str) -> None:
    path = _write(tmp_path, pl.Series("hit", hits, dtype=pl.Int64), dates=dates)
    result = CliRunner().invoke(app, ["backtest", "hits", "--input", str(path), *args])
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)


@pytest.mark.slow
def test_error_exit_code(tmp_path: Path) -> None:
    path = _write(tmp_path, [0, 3])
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-m", "riskstream", "backtest", "hits", "--input", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert "field 'hit' has value 3" in proc.stderr
