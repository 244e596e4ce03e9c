"""The real-data example (examples/real_book): built from the histories installed packages
ship, loaded through the CLI as a user would, measured and backtested.

The backtest's realised side is the book's hypothetical P&L from its stored closes and the
VIX-implied option values, computed without the engine; here it is also checked, on the
linear part of the book, against a plain numpy revaluation of the stored closes.
"""

import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("real_book")
    spec = importlib.util.spec_from_file_location(
        "build_files", ROOT / "examples" / "real_book" / "build_files.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp / "files")
    mp = pytest.MonkeyPatch()
    mp.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp / "data"))
    mp.delenv("RISKSTREAM_CONFIG", raising=False)
    files = tmp / "files"
    run("history", "load", str(files / "prices.csv"), "--json")
    run("history", "load", str(files / "vols.csv"), "--kind", "vols", "--json")
    run("instruments", "load", str(files / "instruments.csv"), "--replace", "--json")
    run("positions", "load", str(files / "positions.csv"), "--replace", "--json")
    yield module, files
    mp.undo()


def test_the_real_book_is_measured_whole(example):
    module, _ = example
    out = run("risk", "--universe", "--method", "historical", "--window", "500", "--json")
    assert out["as_of"] == module.AS_OF.isoformat()
    assert out["excluded"] == []  # every position marked: futures at their index, options
    assert out["marks"]["option_vols_from_surface"] == 2  # at the VIX of the as-of date
    h = out["history"]
    assert h["observations"] == 500 and h["last_date"] == "2018-12-31"
    assert set(out["fx_to_base"]) >= {"EUR", "GBP", "JPY"}
    m = out["measures"][0]
    assert 0 < m["var"] <= m["es"] <= m["lvar"]


def test_the_backtest_of_the_engine_var(example):
    module, files = example
    days = 30
    out = run("backtest", "book", "--window", "500", "--days", str(days), "--json")
    v = out["validation"]
    assert v["observations"] == days and out["end"] == "2018-12-31"
    assert 0 <= v["exceptions"] <= days
    assert v["traffic_light"]["zone"] in ("green", "yellow", "red")
    # The realised side, recomputed here from the files: stocks, futures (marked at their
    # index) and FX pairs revalued from the stored closes, the two index options by
    # Black-76 at the day's VIX (30-day ATM, flat in strike and expiry) and the reference
    # USD curve, as the marks are documented.
    from riskstream.feeds.markets import zero_rate
    from riskstream.pricing import black76_price

    prices = pl.read_csv(files / "prices.csv", try_parse_dates=True)
    vix = pl.read_csv(files / "vols.csv", try_parse_dates=True)
    wide = (
        prices.pivot("symbol", index="date", values="close")
        .join(vix.select("date", "implied_vol"), on="date", how="full", coalesce=True)
        .sort("date")
        .fill_null(strategy="forward")
    )
    q = dict(pl.read_csv(files / "positions.csv").select("symbol", "quantity").iter_rows())
    by_date = {d: i for i, d in enumerate(wide["date"].to_list())}
    col = {c: wide[c].to_numpy() for c in wide.columns if c != "date"}

    def value(i: int) -> float:
        total = sum(q[s] * col[s][i] for s in module.STOCKS)
        total += q["EURUSD"] * col["EURUSD"][i] + q["GBPUSD"] * col["GBPUSD"][i]
        for row in module.INSTRUMENTS:
            if row["asset_class"] != "option":
                continue
            t = (module.ES_EXPIRY - wide["date"][i]).days / 365.0
            v = black76_price(
                col["SPX"][i], float(row["strike"]), t, float(zero_rate("USD", t)),
                col["implied_vol"][i], row["right"] == "call",
            )  # fmt: skip
            total += q[str(row["symbol"])] * 50 * float(v)
        return float(total)

    for day in out["daily"]:
        i = by_date[__import__("datetime").date.fromisoformat(day["date"])]
        expect = value(i) - value(i - 1)
        # futures settle their price change; USDJPY is short yen against dollars
        expect += q["ESH9"] * 50 * (col["SPX"][i] - col["SPX"][i - 1])
        expect += q["CLG9"] * 1000 * (col["WTI"][i] - col["WTI"][i - 1])
        expect += q["USDJPY"] * (1 - col["USDJPY"][i - 1] / col["USDJPY"][i])
        # relative 1e-9: the same arithmetic in another order (float64)
        assert day["pnl"] == pytest.approx(expect, rel=1e-9, abs=1e-6), day
