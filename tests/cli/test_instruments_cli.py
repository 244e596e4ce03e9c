"""`riskstream instruments load`: a new user's path, history → instruments → positions → risk,
through the CLI; a user's universe is never regenerated over."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app, main
from riskstream.cli.universe import GENERATOR_KEY, ensure_universe
from riskstream.core.config import load_config
from riskstream.settings import Settings
from riskstream.store.instrument_loader import SOURCE_KEY, USER_SOURCE
from riskstream.store.refdb import RefDB

INSTRUMENTS = """\
symbol,asset_class,currency,multiplier,underlying,strike,expiry,right,exercise,base,quote,coupon,maturity,frequency,ref_price,dividend_yield
AAPL,equity,USD,1,,,,,,,,,,,,0.005
SONY,equity,JPY,1,,,,,,,,,,,,
AAPL 280115C200,option,USD,100,AAPL,200,2028-01-15,C,american,,,,,,30,
ESH8,future,USD,50,SPX,,2028-03-17,,,,,,,,,
EURUSD,fx,USD,1,,,,,,EUR,USD,,,,,
T 4 02/15/34,bond,USD,10,,,,,,,,0.04,2034-02-15,2,,
"""
POSITIONS = """\
book,symbol,quantity,desk,strategy,trader
MYBOOK,AAPL,1000,Equities,Core,me
MYBOOK,AAPL 280115C200,-5,,,
MYBOOK,SONY,200,,,
MYBOOK,EURUSD,1000000,,,
MYBOOK,T 4 02/15/34,100,,,
MYBOOK,ESH8,2,,,
"""
LAST = dt.date(2026, 11, 30)


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(folder))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return folder


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


def last_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture()
def history_file(tmp_path: Path) -> Path:
    """Two years of business-day closes (a seeded random walk) of the book's series."""
    rng = np.random.default_rng(5)
    days = pl.date_range(dt.date(2025, 1, 1), LAST, eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    start = {"AAPL": 200.0, "SPX": 5000.0, "EURUSD": 1.08, "USDJPY": 150.0,
             "T 4 02/15/34": 98.0, "SONY": 3000.0}  # fmt: skip
    frames = [
        pl.DataFrame(
            {
                "date": days,
                "symbol": symbol,
                "close": p0 * np.exp(np.cumsum(rng.normal(0, 0.01, days.len()))),
            }
        )
        for symbol, p0 in start.items()
    ]
    f = tmp_path / "prices.csv"
    pl.concat(frames).write_csv(f)
    return f


def test_a_new_users_book_loads_in_order(data_dir: Path, tmp_path: Path, history_file) -> None:
    inst, pos = tmp_path / "instruments.csv", tmp_path / "positions.csv"
    inst.write_text(INSTRUMENTS)
    pos.write_text(POSITIONS)
    # Instruments before history: reference prices and FX rates cannot be found.
    result = run("instruments", "load", str(inst))
    assert result.exit_code != 0
    expected = (
        "field 'ref_price' has value None; expected a positive price, or a stored close for "
        "AAPL: load its history first (riskstream history load)"
    )
    assert expected in str(result.exception)

    assert run("history", "load", str(history_file), "--json").exit_code == 0
    out = last_json(run("instruments", "load", str(inst), "--json"))
    assert out["instruments"] == 6 and out["replaced"] is False
    assert out["by_asset_class"] == {"equity": 2, "future": 1, "option": 1, "fx": 1, "bond": 1}
    assert out["currencies"] == ["JPY", "USD"]
    assert out["defaults_applied"]["ref_price"] == 5  # all but the option
    assert out["fx_rates"]["JPY"]["pairs"] == ["USDJPY"] and out["as_of"] == LAST.isoformat()
    closes = pl.read_csv(history_file, try_parse_dates=True).filter(pl.col("date") == LAST)
    close = dict(closes.select("symbol", "close").iter_rows())
    assert out["fx_rates"]["JPY"]["rate"] == pytest.approx(1 / close["USDJPY"], rel=1e-12)

    db = RefDB(f"sqlite:///{data_dir / 'refdata.db'}")
    stored = db.load_universe()
    assert stored.instruments["ref_price"][0] == pytest.approx(close["AAPL"], rel=1e-12)
    assert stored.as_of == LAST and db.meta()[SOURCE_KEY] == USER_SOURCE

    out = last_json(run("positions", "load", str(pos), "--json"))
    assert out == {"file": str(pos), "loaded": 6, "replace": False, "positions": 6,
                   "books_created": 1}  # fmt: skip
    assert db.books().rows() == [(0, "MYBOOK", "Equities", "Core", "me")]
    # The risk command needs the bond's curve: without one stored it names the factor.
    result = run("risk", "--portfolio", str(pos), "--window", "400", "--json")
    assert result.exit_code != 0 and "IR:USD:" in str(result.exception)
    # With a (flat, randomly moving) USD curve it runs on the loaded book (its figures are
    # tested with the engine); with no implied vols stored, the option's vol factor is
    # proxied by the underlying's realised vol, and the output says so.
    rng = np.random.default_rng(6)
    days = pl.date_range(dt.date(2025, 1, 1), LAST, eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    level = 0.04 + np.cumsum(rng.normal(0, 0.0005, days.len()))
    curves = pl.concat(
        pl.DataFrame({"date": days, "currency": "USD", "tenor_years": t, "zero_rate": level})
        for t in (0.25, 2.0, 10.0, 30.0)
    )
    curves.write_csv(tmp_path / "curves.csv")
    assert run("history", "load", str(tmp_path / "curves.csv"), "--kind", "curves").exit_code == 0
    out = last_json(run("risk", "--portfolio", str(pos), "--window", "400", "--json"))
    assert out["instruments"] == 6 and out["positions"] == 6
    proxies = {p["factor"]: p["proxy"] for p in out["history"]["proxies"]}
    assert proxies["VOL:EQ:AAPL"].startswith("EQ:AAPL realised vol")
    assert set(out["aggregates"]["desk"]) == {"Equities"}  # of the book the file created


def test_ensure_universe_keeps_the_users_universe(
    data_dir: Path, tmp_path: Path, history_file, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "200")
    settings = load_config(Settings)
    generated = ensure_universe(settings)
    assert len(generated) == 200
    assert run("history", "load", str(history_file)).exit_code == 0
    inst = tmp_path / "instruments.csv"
    inst.write_text(INSTRUMENTS)
    out = last_json(run("instruments", "load", str(inst), "--replace", "--json"))
    symbols = [line.split(",")[0] for line in INSTRUMENTS.splitlines()[1:]]
    # Positions in generated instruments the file also lists (EURUSD spot) are kept, at
    # their new ids; the others are dropped and counted.
    held = generated.positions.join(generated.instruments, on="instrument_id")
    kept = held.filter(pl.col("symbol").is_in(symbols))
    assert out["replaced"] and out["positions_dropped"] == held.height - kept.height
    db = RefDB(settings.store.refdb)
    assert GENERATOR_KEY not in db.meta()
    for _ in range(2):  # not regenerated, whatever the settings say
        mine = ensure_universe(load_config(Settings))
        assert mine.instruments["symbol"].to_list() == symbols
        assert mine.books.equals(generated.books)  # books are kept
        remapped = mine.positions.join(mine.instruments, on="instrument_id")
        assert (
            remapped.select("book_id", "symbol", "quantity")
            .sort("book_id", "symbol")
            .equals(kept.select("book_id", "symbol", "quantity").sort("book_id", "symbol"))
        )


def test_a_bad_file_exits_2_and_lists_every_bad_row(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "instruments:\n"
        "  - {symbol: X, asset_class: option, currency: USD, multiplier: 100, ref_price: 1}\n"
        "  - {symbol: Y, asset_class: bond, currency: USD, multiplier: 10, ref_price: 99,\n"
        "     coupon: 0.04, maturity: 2030-01-01, frequency: 3}\n"
    )
    monkeypatch.setattr(sys, "argv", ["riskstream", "instruments", "load", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: field 'underlying' has value None; expected the symbol of an " in err
    assert f"{bad}:3: field 'frequency' has value 3; expected coupons a year: 1, 2, 4 or 12" in err
    assert (
        not (data_dir / "refdata.db").exists()
        or not RefDB(f"sqlite:///{data_dir / 'refdata.db'}").has_universe()
    )


def test_as_of_picks_the_closes_of_that_date(data_dir: Path, tmp_path: Path, history_file) -> None:
    assert run("history", "load", str(history_file)).exit_code == 0
    inst = tmp_path / "eq.csv"
    inst.write_text("symbol,asset_class,currency,multiplier\nAAPL,equity,USD,1\n")
    out = last_json(run("instruments", "load", str(inst), "--as-of", "2026-05-31", "--json"))
    assert out["as_of"] == "2026-05-31"  # a Sunday: the Friday's close is the latest
    closes = pl.read_csv(history_file, try_parse_dates=True)
    friday = closes.filter((pl.col("symbol") == "AAPL") & (pl.col("date") == dt.date(2026, 5, 29)))
    stored = RefDB(f"sqlite:///{data_dir / 'refdata.db'}").instruments()
    assert stored["ref_price"][0] == pytest.approx(friday["close"][0], rel=1e-12)
    result = run("instruments", "load", str(inst), "--as-of", "31/05/2026")
    assert result.exception.field == "--as-of"
