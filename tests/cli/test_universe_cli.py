"""`riskstream universe generate`, `riskstream positions load` and `ensure_universe`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app, main
from riskstream.cli.universe import ensure_universe
from riskstream.core.config import load_config
from riskstream.core.errors import InputError, LoadError
from riskstream.settings import Settings
from riskstream.store.refdb import RefDB


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def test_generate_json_prints_one_object_and_saves(data_dir: Path) -> None:
    result = run("universe", "generate", "--instruments", "500", "--seed", "7", "--json")
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    summary = json.loads(last)
    assert summary["instruments"] == 500
    assert set(summary["by_asset_class"]) == {"equity", "future", "option", "fx", "bond"}
    assert sum(summary["by_asset_class"].values()) == 500
    assert summary["aum"] >= 500e6
    db = RefDB(f"sqlite:///{data_dir / 'refdata.db'}")
    assert db.load_universe().instruments.height == 500
    assert db.meta()["generator.seed"] == "7"


def test_generate_table_output(data_dir: Path) -> None:
    result = run("universe", "generate", "-n", "200")
    assert result.exit_code == 0, result.output
    assert "option" in result.output and "AUM (gross exposure)" in result.output


def test_generate_rejects_too_few_instruments(data_dir: Path) -> None:
    result = run("universe", "generate", "--instruments", "10")
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "--instruments"


def test_ensure_universe_reuses_only_the_same_settings(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "300")
    settings = load_config(Settings)
    first = ensure_universe(settings)
    db = RefDB(settings.store.refdb)
    # Change the stored positions: a reuse returns them, a regeneration would not.
    db.upsert_positions(first.positions.head(1).with_columns(quantity=pl.lit(42.0)))
    again = ensure_universe(settings)
    assert again.instruments.equals(first.instruments)
    assert 42.0 in again.positions["quantity"].to_list()
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__SEED", "8")
    other = ensure_universe(load_config(Settings))
    assert not other.instruments.equals(first.instruments)
    assert db.meta()["generator.seed"] == "8"


def test_positions_load_good_and_bad(data_dir: Path, tmp_path: Path) -> None:
    assert run("universe", "generate", "-n", "300", "--json").exit_code == 0
    db = RefDB(f"sqlite:///{data_dir / 'refdata.db'}")
    before = db.positions()
    book = db.books()["name"][0]
    symbol = db.instruments()["symbol"][0]
    good = tmp_path / "good.csv"
    good.write_text(f"book,symbol,quantity\n{book},{symbol},100\n")
    result = run("positions", "load", str(good), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["loaded"] == 1
    loaded = db.positions()
    assert loaded.height >= before.height
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"- {{book: {book}, symbol: {symbol}, quantity: 5}}\n"
        f"- {{book: nobody, symbol: {symbol}, quantity: 1}}\n"
    )
    result = run("positions", "load", str(bad))
    assert isinstance(result.exception, LoadError)
    assert result.exception.errors[0].location == f"{bad}:2"
    assert db.positions().equals(loaded)  # not even the good first row of the bad file


def test_main_exits_2_with_the_bad_rows_on_stderr(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("book,symbol,quantity\nX,Y,1\n")
    monkeypatch.setattr(sys, "argv", ["riskstream", "positions", "load", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "holds no reference data" in err  # nothing generated yet
    assert run("universe", "generate", "-n", "100", "--json").exit_code == 0
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: field 'book' has value 'X'" in err
