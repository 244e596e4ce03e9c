"""`riskstream simulate`: Parquet events, regime path and scenario log, and a summary."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_ARROW_SCHEMA, events_from_arrow
from tests.feeds.reference_book import Replay


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path / "data"))


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_simulate_writes_events_regimes_and_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSTREAM_SIMULATOR__FLASH_CRASH__AT_S", "1")
    out = tmp_path / "sim"
    result = run(
        "simulate",
        "--instruments",
        "80",
        "--seconds",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
        "--scenario",
        "flash-crash",
        "--events-per-s",
        "20000",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    table = pq.read_table(out / "events.parquet")
    assert table.schema.equals(EVENT_ARROW_SCHEMA)
    assert table.num_rows == summary["events"] > 50_000
    assert summary["instruments"] == 80 and summary["scenario_phases"] == ["fall"]
    events = events_from_arrow(table)
    assert events["ts_event"].max() < events["ts_event"].min() + 3_000_000_000
    instruments = pl.read_parquet(out / "instruments.parquet")
    classes = instruments["asset_class"].to_numpy()
    tick_fixed = (instruments["tick_size"].to_numpy() * 1e9).round().astype("int64")
    replay = Replay(tick_fixed, (classes != "fx") & (classes != "bond"))
    replay.apply(events)  # the file keeps every stream invariant
    regimes = pl.read_parquet(out / "regimes.parquet")
    assert regimes.schema == {"ts": pl.Int64, "regime": pl.Int8}
    assert regimes["regime"].to_list()[:2] == [0, 2]  # calm, then the crash forces crisis
    scenarios = pl.read_parquet(out / "scenarios.parquet")
    assert scenarios.row(0)[:2] == ("flash-crash", "fall")


def test_simulate_table_output_and_determinism(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        result = run(
            "simulate",
            "-n",
            "60",
            "--seconds",
            "1",
            "--seed",
            "2",
            "--out",
            str(tmp_path / name),
            "--events-per-s",
            "5000",
        )
        assert result.exit_code == 0, result.output
        assert "regime change" in result.output and "total" in result.output
        outputs.append(pq.read_table(tmp_path / name / "events.parquet"))
    assert outputs[0].equals(outputs[1])


def test_simulate_rejects_bad_input(tmp_path: Path) -> None:
    result = run(
        "simulate", "-n", "60", "--seconds", "1", "--out", str(tmp_path), "--scenario", "meteor"
    )
    assert isinstance(result.exception, InputError) and result.exception.field == "scenario"
    result = run("simulate", "-n", "10", "--seconds", "1", "--out", str(tmp_path))
    assert isinstance(result.exception, InputError) and result.exception.field == "--instruments"
