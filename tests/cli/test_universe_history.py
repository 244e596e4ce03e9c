"""`riskstream universe generate` and `ensure_universe` write the simulated daily history into
the market history store; a regeneration replaces the simulated rows and keeps a user's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.cli.universe import ensure_universe
from riskstream.core.config import load_config
from riskstream.settings import Settings
from riskstream.store.market_history import MarketHistory
from riskstream.store.refdb import RefDB

DAYS = 30


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def generate(*args: str) -> dict:
    result = CliRunner().invoke(
        app,
        ["universe", "generate", "-n", "120", "--history-days", str(DAYS), "--json", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_generate_writes_the_daily_history_and_reports_it(data_dir: Path) -> None:
    summary = generate()
    history = summary["history"]
    db = RefDB(f"sqlite:///{data_dir / 'refdata.db'}")
    universe = db.load_universe()
    non_options = universe.instruments.filter(pl.col("asset_class") != "option")
    assert history["days"] == DAYS
    assert history["last_date"] == universe.as_of.isoformat()
    assert history["rows"]["prices"] == DAYS * (non_options.height + len(history["added_pairs"]))
    store = MarketHistory(data_dir / "history")
    stored = store.summary()
    for kind, rows in history["rows"].items():
        assert stored[kind]["rows"] == rows
        assert stored[kind]["first_date"] == history["first_date"]
        assert stored[kind]["last_date"] == history["last_date"]
    # the engine reads it back as it reads a user's: the latest closes are the references
    last = store.scan("prices").filter(pl.col("date") == universe.as_of).collect()
    ref = non_options.select("symbol", "ref_price").join(last, on="symbol")
    assert ref.height == non_options.height and (ref["close"] == ref["ref_price"]).all()
    assert set(store.scan("prices").select("source").unique().collect()["source"]) == {"simulator"}


def test_regeneration_replaces_simulated_rows_and_keeps_a_users(data_dir: Path) -> None:
    first = generate("--seed", "7")
    store = MarketHistory(data_dir / "history")
    old = store.scan("prices").select("symbol").unique().collect()["symbol"].to_list()
    last = dt.date.fromisoformat(first["history"]["last_date"])
    mine = pl.DataFrame(
        {
            "date": [last, last],
            "symbol": [old[0], "MYSTOCK"],  # one key the simulator also writes, one of mine
            "close": [123.0, 45.0],
        }
    )
    store.load(mine, "prices", source="file:mine.csv")
    second = generate("--seed", "8", "--history-days", str(DAYS + 5))
    prices = store.scan("prices").collect()
    # the user's rows are kept, and win where they meet a simulated key
    kept = prices.filter(pl.col("source") == "file:mine.csv").sort("symbol")
    assert kept.select("symbol", "close").rows() == sorted([(old[0], 123.0), ("MYSTOCK", 45.0)])
    assert prices.filter((pl.col("symbol") == old[0]) & (pl.col("date") == last)).height == 1
    # every simulated row is the new universe's: the old history is gone
    simulated = prices.filter(pl.col("source") == "simulator")
    assert simulated.height == second["history"]["rows"]["prices"]
    assert simulated["date"].n_unique() == DAYS + 5
    universe = RefDB(f"sqlite:///{data_dir / 'refdata.db'}").load_universe()
    symbols = set(universe.instruments["symbol"]) | set(second["history"]["added_pairs"])
    assert set(simulated["symbol"]) <= symbols


def test_ensure_universe_redraws_only_the_history_when_the_simulator_changes(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "120")
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__HISTORY_DAYS", str(DAYS))
    first = ensure_universe(load_config(Settings))
    db = RefDB(load_config(Settings).store.refdb)
    db.upsert_positions(first.positions.head(1).with_columns(quantity=pl.lit(42.0)))
    store = MarketHistory(data_dir / "history")
    version = store.version("prices")
    ensure_universe(load_config(Settings))  # same settings: nothing rewritten
    assert store.version("prices") == version
    before = store.prices()
    monkeypatch.setenv("RISKSTREAM_SIMULATOR__SEED", "99")  # other betas: another history
    again = ensure_universe(load_config(Settings))
    assert store.version("prices") > version
    after = store.prices()
    assert after.height == before.height and not after.equals(before)
    # the reference data and the positions loaded since are kept
    assert again.instruments.equals(first.instruments)
    assert 42.0 in again.positions["quantity"].to_list()
    redrawn = store.version("prices")
    assert ensure_universe(load_config(Settings)).positions.equals(again.positions)
    assert store.version("prices") == redrawn  # settled: the meta records the new settings
