"""`riskstream var` and `riskstream risk` (on stored market history, real data included)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.risk.measures import var_es
from riskstream.risk.valuation import VALUED


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "300")
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__HISTORY_DAYS", "200")
    monkeypatch.setenv("RISKSTREAM_RISK__N_SCENARIOS", "500")
    monkeypatch.setenv("RISKSTREAM_RISK__WINDOW_DAYS", "150")
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return tmp_path


def stored_universe():
    """The configured reference universe; ``ensure_universe`` stores its simulated daily
    history (``universe.history_days`` business days of the simulator's market model) in
    the history store, which the risk command reads."""
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.settings import Settings

    s = load_config(Settings)
    return s, ensure_universe(s)


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


@pytest.fixture()
def pnl_csv(tmp_path: Path) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(4).standard_t(4, 1500) * 1e4
    path = tmp_path / "pnl.csv"
    pl.DataFrame({"date": [f"d{i}" for i in range(x.size)], "pnl": x}).write_csv(path)
    return path, x


@pytest.mark.parametrize("method", ["historical", "parametric", "cornish_fisher"])
def test_var_prints_positive_losses_matching_the_library(pnl_csv, method):
    path, x = pnl_csv
    result = run(
        "var", "--returns", str(path), "--confidence", "0.99", "--method", method, "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    expected = var_es(x, 0.99, method)
    assert out["var"] == pytest.approx(expected.var, rel=1e-12)
    assert out["es"] == pytest.approx(expected.es, rel=1e-12)
    assert out["var"] > 0 and out["es"] >= out["var"]


def test_var_multi_day_historical_uses_overlapping_windows(pnl_csv, tmp_path):
    path, x = pnl_csv
    pq = tmp_path / "pnl.parquet"
    pl.read_csv(path).write_parquet(pq)
    result = run("var", "--returns", str(pq), "--horizon", "10", "--column", "pnl", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    windows = np.convolve(x, np.ones(10), mode="valid")  # every overlapping 10-day sum
    expected = np.quantile(-windows, 0.99, method="inverted_cdf")
    assert out["var"] == pytest.approx(expected, rel=1e-9)


def test_var_rejects_nan_and_ambiguous_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n0.01,1\n,2\n0.03,3\n")
    result = run("var", "--returns", str(path), "--column", "a")
    assert isinstance(result.exception, InputError)
    assert "first at position 1" in str(result.exception)
    result = run("var", "--returns", str(path))
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "--column"


def test_risk_universe_json(env):
    stored_universe()
    result = run("risk", "--universe", "--confidence", "0.975", "--by", "desk", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    m = out["measures"][0]
    assert m["confidence"] == 0.975 and m["horizon_days"] == 1
    assert out["es"] >= out["var"] > 0
    assert out["lvar"] == pytest.approx(
        m["var"] + m["spread_cost"] + m["impact_cost"] + m["funding_cost"]
    )
    desks = out["by"]["desk"]
    assert sum(d["component_es"] for d in desks.values()) == pytest.approx(out["es"], rel=1e-9)
    again = json.loads(
        run("risk", "--universe", "--confidence", "0.975", "--by", "desk", "--json")
        .output.strip()
        .splitlines()[-1]
    )
    assert again["lineage_id"] == out["lineage_id"] and again["var"] == out["var"]
    # the history used: the last 150 daily moves of the stored simulated history
    hist = out["history"]
    assert hist["observations"] == 150 and hist["window_days"] == 150
    assert hist["source"].startswith("history store") and hist["last_date"] == out["as_of"]
    assert out["as_of"] == "2024-06-28" and hist["proxies"] == []


def test_risk_portfolio_file_and_bad_input(env):
    _, universe = stored_universe()
    sym = universe.instruments["symbol"].to_list()
    book = universe.books["name"][0]
    path = env / "pos.csv"
    path.write_text(f"book,symbol,quantity\n{book},{sym[0]},1000\n{book},{sym[1]},-500\n")
    result = run(
        "risk", "--portfolio", str(path), "--horizon", "10", "--by", "instrument", "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["positions"] == 2 and out["measures"][0]["horizon_days"] == 10
    assert {r["symbol"] for r in out["by_instrument"]} == {sym[0], sym[1]}
    bad = env / "bad.csv"
    bad.write_text(f"book,symbol,quantity\n{book},NOPE,1\n")
    result = run("risk", "--portfolio", str(bad), "--json")
    assert result.exception is not None and "NOPE" in str(result.exception)
    result = run("risk", "--universe", "--method", "magic")
    assert isinstance(result.exception, InputError) and result.exception.field == "--method"
    # 199 stored moves: a 195-day window at a 10-day horizon needs 204, never shortened
    result = run("risk", "--window", "195", "--horizon", "10", "--json")
    assert isinstance(result.exception, InputError) and result.exception.field == "window_days"
    assert "195 + 10 - 1 = 204 daily moves" in str(result.exception)
    assert "holds 199 (2023-09-25 to 2024-06-28)" in str(result.exception)
    result = run("risk", "--as-of", "2024-13-01")
    assert isinstance(result.exception, InputError) and result.exception.field == "--as-of"


def test_engine_values_options_at_their_quotes(env):
    # Implied vols are solved from the reference prices (riskstream.pricing implied-vol
    # solver) at each option's currency zero rate, so the engine's model value of every
    # option at today's spot reproduces its quote (the grid node at zero move is exact).
    from riskstream.cli.engine import build_engine, load_history

    s, universe = stored_universe()
    engine = build_engine(universe, s.risk, history=load_history(s))
    inst = universe.instruments
    opts = engine.opt_ids
    quote = inst["ref_price"].to_numpy()[opts] * engine.multiplier[opts] * engine.fx[opts]
    model = engine.unit_value[opts]
    tick = inst["tick_size"].to_numpy()[opts] * engine.multiplier[opts] * engine.fx[opts]
    assert np.all(engine.reason[opts] == VALUED)
    # American options are valued American (Barone-Adesi-Whaley) and their vols solved by
    # the same model; a reference price below the exercise value (the simulator prices
    # them European) has no American vol: such an option keeps its European vol and is
    # worth its quote plus the early-exercise premium, never less
    am = engine.american[opts]
    spot = engine.price[engine.underlying[opts]]
    k = engine.strike[opts]
    exercise = np.where(engine.is_call[opts], spot - k, k - spot) * (
        engine.multiplier[opts] * engine.fx[opts]
    )
    below = am & (quote <= exercise + 0.5 * tick)
    assert np.all(model[below] >= quote[below] - 1e-6 * quote[below])
    # the rest exact, except quotes rounded up to a tick below the zero-vol bound, which are
    # read half a tick above it (at most 1.5 ticks from the quote); the BAW grid node is
    # the BAW value to 1e-9 (its exercise-boundary iteration's tolerance)
    rest = ~below
    assert np.all(np.abs(model - quote)[rest] <= 1.5 * tick[rest] + 1e-6 * np.abs(quote[rest]))
    assert np.median(np.abs(model - quote)[rest] / quote[rest]) < 1e-9


def test_demo_risk_stage_reads_the_md_market_state(env):
    # The demo's risk stage runs on the live MarketState that md writes: until quotes
    # arrive every position is excluded (no made-up prices), then VaR is live.
    from riskstream.cli.engine import build_engine, load_history
    from riskstream.core.state import MarketState
    from riskstream.risk.stage import RiskStage

    cfg, universe = stored_universe()
    state = MarketState(len(universe))
    stage = RiskStage(build_engine(universe, cfg.risk, history=load_history(cfg), market=state))
    t0 = 1_719_590_400_000_000_000
    stage.on_batch(np.zeros(0), t0)  # no quotes yet: every position excluded, VaR 0
    assert stage.last.headline.var == 0.0 and len(stage.last.excluded) == universe.positions.height
    px = universe.instruments["ref_price"].to_numpy()
    state.mid[:] = px
    state.seq[:] = 1
    state.updated[:] = True
    stage.on_batch(np.zeros(0), t0 + 200_000_000)
    summary = stage.summary()
    assert summary["var"] > 0 and summary["risk_excluded_positions"] == 0
    assert summary["top_contributors"]


# ------------------------------------------------------------- real data, independently


REAL_BOOK = {"SPX": 40.0, "NASDAQ": -12.0, "AAPL": 3000.0, "JNJ": 800.0, "XOM": -1500.0}


@pytest.fixture()
def real_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, pl.DataFrame]:
    """A USD book of two indices (arch.data's S&P 500 and NASDAQ Composite adjusted
    closes, 1999-2018) and three stocks (skfolio's bundled S&P 500 adjusted closes, the
    same exchange calendar), loaded as a user would: history, instruments, positions."""
    import arch.data.nasdaq
    import arch.data.sp500
    from skfolio.datasets import load_sp500_dataset

    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    stocks = load_sp500_dataset()
    series = {
        "SPX": arch.data.sp500.load()["Adj Close"],
        "NASDAQ": arch.data.nasdaq.load()["Adj Close"],
        **{s: stocks[s] for s in ("AAPL", "JNJ", "XOM")},
    }
    frames = [
        pl.DataFrame(
            {"date": list(x.index.date), "symbol": sym, "close": x.to_numpy(dtype=float)},
            schema={"date": pl.Date, "symbol": pl.String, "close": pl.Float64},
        ).filter(
            (pl.col("date") >= dt.date(2015, 1, 1)) & (pl.col("date") <= dt.date(2018, 12, 31))
        )
        for sym, x in series.items()
    ]
    prices = pl.concat(frames)
    (tmp_path / "prices.csv").write_text(prices.write_csv())
    lines = ["symbol,asset_class,currency,multiplier,sector"]
    lines += [f"{s},equity,USD,1,{'index' if s in ('SPX', 'NASDAQ') else 'stock'}" for s in series]
    (tmp_path / "instruments.csv").write_text("\n".join(lines) + "\n")
    pos = ["book,symbol,quantity,desk,strategy,trader"]
    pos += [f"real,{s},{q},equities,index-stocks,ann" for s, q in REAL_BOOK.items()]
    (tmp_path / "positions.csv").write_text("\n".join(pos) + "\n")
    for args in (
        ("history", "load", str(tmp_path / "prices.csv"), "--json"),
        ("instruments", "load", str(tmp_path / "instruments.csv"), "--json"),
        ("positions", "load", str(tmp_path / "positions.csv"), "--json"),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output
    return tmp_path, prices


def test_historical_var_es_of_a_real_book_match_an_independent_computation(real_book):
    # The contract: `riskstream risk --method historical --confidence 0.99 --horizon 1
    # --window 500 --json` is the historical-simulation VaR and ES of today's positions,
    # revalued in full under each of the last 500 daily moves of their stored closes.
    result = run(
        "risk", "--method", "historical", "--confidence", "0.99", "--horizon", "1",
        "--window", "500", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])

    # Independently, in numpy from the closes: r_t = log(C_t / C_{t-1}) for the last 500
    # dates; the P&L of today's holding q C_T under move t is q C_T (exp(r_t) - 1)
    # (Jorion, Value at Risk, 3rd ed., ch. 12: historical simulation revalues today's
    # portfolio under past returns). VaR: the inverted-CDF empirical quantile of the
    # losses (numpy's method="inverted_cdf", Hyndman & Fan definition 1, the ceil(n c)-th
    # smallest, 495th of 500); ES: the mean of the n - ceil(n c) + 1 = 6 largest losses.
    _, prices = real_book
    wide = prices.pivot(on="symbol", index="date", values="close").sort("date")
    closes = wide.select(list(REAL_BOOK)).to_numpy()
    assert not np.isnan(closes).any()  # one exchange calendar: no gaps to bridge
    r = np.diff(np.log(closes), axis=0)[-500:]
    q = np.array(list(REAL_BOOK.values()))
    pnl = (q * closes[-1] * np.expm1(r)).sum(axis=1)
    losses = -pnl
    var = np.quantile(losses, 0.99, method="inverted_cdf")
    es = np.sort(losses)[-6:].mean()
    assert np.sort(losses)[494] == var
    # The engine stores scenario moves as float32 (2^-24 relative, ~1e-9 on a 1% move),
    # and sums position P&L in a different order: agreement to 1e-6 relative is rounding.
    assert out["var"] == pytest.approx(var, rel=1e-6)
    assert out["es"] == pytest.approx(es, rel=1e-6)
    hist = out["history"]
    assert hist["observations"] == 500 and hist["window_days"] == 500
    assert hist["last_date"] == "2018-12-31" == out["as_of"]
    assert hist["first_date"] == str(wide["date"][-500]) and hist["proxies"] == []
    assert out["positions"] == 5 and out["excluded"] == []


def test_risk_lists_proxies_marks_options_on_the_stored_surface_and_fx_from_pairs(
    real_book,
):
    # Add to the real book: MSFT with only its last 300 closes (proxied by its sector's
    # equal-weighted move before), a EUR stock with EURUSD closes (translation at the
    # stored rate), and an AAPL call without a close of its own (priced by the model at
    # the vol read off AAPL's stored surface).
    from skfolio.datasets import load_sp500_dataset

    from riskstream.pricing import bsm_price

    tmp, prices = real_book
    dates = prices.filter(pl.col("symbol") == "SPX")["date"]
    n = dates.len()
    msft = load_sp500_dataset()["MSFT"]
    msft = msft[msft.index <= "2018-12-31"].iloc[-300:]
    eurusd = 1.10 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.005, n)))
    extra = pl.concat(
        [
            pl.DataFrame(
                {"date": list(msft.index.date), "symbol": "MSFT", "close": msft.to_numpy()},
                schema={"date": pl.Date, "symbol": pl.String, "close": pl.Float64},
            ),
            pl.DataFrame({"date": dates, "symbol": "EURUSD", "close": eurusd}),
            pl.DataFrame({"date": dates, "symbol": "SAP", "close": np.linspace(90, 110, n)}),
        ]
    )
    (tmp / "extra.csv").write_text(extra.write_csv())
    atm = 0.25 + 0.05 * np.sin(np.arange(n) / 40)
    vols = pl.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), 4),
            "underlying": "AAPL",
            "expiry_years": np.tile([0.1, 0.1, 0.5, 0.5], n),
            "moneyness": np.tile([0.9, 1.1, 0.9, 1.1], n),
            "implied_vol": np.repeat(atm, 4),
        }
    )
    (tmp / "vols.csv").write_text(vols.write_csv())
    (tmp / "more.csv").write_text(
        "symbol,asset_class,currency,multiplier,sector,underlying,strike,expiry,right,"
        "exercise,ref_price\n"
        "MSFT,equity,USD,1,stock,,,,,,\n"
        "SAP,equity,EUR,1,,,,,,,\n"
        "AAPL 190315C40,option,USD,100,,AAPL,40,2019-03-15,call,european,1.0\n"
    )
    (tmp / "more_pos.csv").write_text(
        "book,symbol,quantity\nreal,MSFT,500\nreal,SAP,100\nreal,AAPL 190315C40,10\n"
    )
    for args in (
        ("history", "load", str(tmp / "extra.csv")),
        ("history", "load", str(tmp / "vols.csv"), "--kind", "vols"),
        ("instruments", "load", str(tmp / "more.csv")),
        ("positions", "load", str(tmp / "more_pos.csv")),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output
    result = run("risk", "--window", "500", "--by", "instrument", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["excluded"] == [] and out["positions"] == 8
    (proxy,) = out["history"]["proxies"]
    assert proxy["factor"] == "EQ:MSFT" and proxy["days"] == 201
    assert proxy["proxy"].startswith("sector stock (3 equities")
    assert "299 overlapping days" in proxy["reason"]
    assert out["history"]["series"]["VOL:EQ:AAPL"].startswith("vols:AAPL (ATM 30-day")
    assert out["history"]["series"]["FX:EUR"] == "prices:EURUSD^1 (log return)"
    assert out["fx_to_base"]["EUR"] == pytest.approx(eurusd[-1], rel=1e-12)
    marks = out["marks"]
    assert marks["option_vols_from_surface"] == 1 and marks["options_priced_by_model"] == 1
    # the option's model value at the stored surface's vol (flat in strike: atm[-1])
    from riskstream.cli.engine import build_engine, load_history, mark_to_history
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.settings import Settings

    s = load_config(Settings)
    universe = ensure_universe(s)
    history = load_history(s)
    day = dt.date(2018, 12, 31)
    marked, market, iv, _ = mark_to_history(universe, history, day, 0.0)
    engine = build_engine(
        marked,
        s.risk.model_copy(update={"window_days": 500}),
        history=history,
        market=market,
        implied_vol=iv,
        as_of=day,
    )
    opt = int(np.flatnonzero(engine.symbol == "AAPL 190315C40")[0])
    assert iv[opt] == pytest.approx(atm[-1], rel=1e-12)
    aapl = prices.filter((pl.col("symbol") == "AAPL") & (pl.col("date") == day))["close"][0]
    years = (dt.date(2019, 3, 15) - day).days / 365.0
    price = bsm_price(aapl, 40.0, years, engine.rate[opt], 0.0, atm[-1], True)
    assert market.mid[opt] == pytest.approx(float(price), rel=1e-12)


def test_a_book_of_every_class_runs_on_its_stored_history(real_book):
    # Equities and indices (real closes), a future on the S&P 500 instrument, an FX
    # forward-free spot pair, a bond on a stored USD zero curve and an option on a stored
    # surface: every factor kind comes from the store, nothing is excluded.
    tmp, prices = real_book
    dates = prices.filter(pl.col("symbol") == "SPX")["date"]
    n = dates.len()
    rng = np.random.default_rng(3)
    level = 0.02 + np.cumsum(rng.normal(0, 0.0004, n))
    curves = pl.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), 3),
            "currency": "USD",
            "tenor_years": np.tile([1.0, 5.0, 10.0], n),
            "zero_rate": np.repeat(level, 3) + np.tile([0.0, 0.004, 0.008], n),
        }
    )
    (tmp / "curves.csv").write_text(curves.write_csv())
    vols = pl.DataFrame(
        {"date": dates, "underlying": "SPX", "expiry_years": 0.25, "moneyness": 1.0}
    ).with_columns(implied_vol=pl.lit(0.18) + pl.Series(rng.normal(0, 0.005, n)))
    (tmp / "vols.csv").write_text(vols.write_csv())
    eurgbp = 0.88 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    gbpusd = 1.30 * np.exp(np.cumsum(rng.normal(0, 0.005, n)))
    closes = pl.concat(
        [
            pl.DataFrame({"date": dates, "symbol": "EURGBP", "close": eurgbp}),
            pl.DataFrame({"date": dates, "symbol": "GBPUSD", "close": gbpusd}),
            pl.DataFrame({"date": dates, "symbol": "UST5", "close": np.full(n, 98.0)}),
            pl.DataFrame({"date": dates, "symbol": "ESH9", "close": 2500 + np.arange(n) * 0.1}),
            pl.DataFrame({"date": dates[-5:], "symbol": "AAPL 190315C40", "close": [1.5] * 5}),
        ]
    )
    (tmp / "more_prices.csv").write_text(closes.write_csv())
    (tmp / "more.csv").write_text(
        "symbol,asset_class,currency,multiplier,underlying,strike,expiry,right,exercise,"
        "base,quote,coupon,maturity,frequency,ref_price\n"
        "ESH9,future,USD,50,SPX,,2019-03-15,,,,,,,,\n"
        "EURGBP,fx,GBP,1,,,,,,EUR,GBP,,,,\n"
        "UST5,bond,USD,10,,,,,,,,0.03,2023-12-31,2,\n"
        "SPX 190315P2400,option,USD,100,SPX,2400,2019-03-15,put,european,,,,,,50\n"
        "AAPL 190315C40,option,USD,100,AAPL,40,2019-03-15,call,european,,,,,,\n"
    )
    (tmp / "more_pos.csv").write_text(
        "book,symbol,quantity\nreal,ESH9,-2\nreal,EURGBP,100000\nreal,UST5,1000\n"
        "real,SPX 190315P2400,5\nreal,AAPL 190315C40,-3\n"
    )
    for args in (
        ("history", "load", str(tmp / "curves.csv"), "--kind", "curves"),
        ("history", "load", str(tmp / "vols.csv"), "--kind", "vols"),
        ("history", "load", str(tmp / "more_prices.csv")),
        ("instruments", "load", str(tmp / "more.csv")),
        ("positions", "load", str(tmp / "more_pos.csv")),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output
    result = run("risk", "--window", "250", "--horizon", "10", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["excluded"] == [] and out["es"] >= out["var"] > 0
    series = out["history"]["series"]
    assert series["IR:USD:5Y"].startswith("curves:USD") and "VOL:EQ:SPX" in series
    assert series["FX:EUR"] == "prices:EURGBP^1 x GBPUSD^1 (log return)"  # a cross rate
    assert out["fx_to_base"]["GBP"] == pytest.approx(gbpusd[-1], rel=1e-12)
    # key tenors outside the stored 1Y-10Y move with the nearest stored tenor, listed
    flat = {p["factor"]: p for p in out["history"]["proxies"]}
    assert flat["IR:USD:30Y"]["proxy"] == "curves:USD 10Y" and "IR:USD:5Y" not in flat
    assert out["history"]["observations"] == 259
    # AAPL has no stored vols: its option's vol is solved from its own close, and its vol
    # factor moves with the stored one of the underlying with the most options (beta 1:
    # no overlap to estimate one on)
    marks = out["marks"]
    assert marks["option_vols_from_surface"] == 1 and marks["option_vols_from_close"] == 1
    assert marks["options_priced_by_model"] == 1
    vol = flat["VOL:EQ:AAPL"]
    assert vol["proxy"] == "VOL:EQ:SPX" and vol["beta"] == 1.0 and vol["days"] == 259
    table = run("risk", "--window", "250")  # the human-readable report says the same
    assert table.exit_code == 0, table.output
    assert "history: 250 daily moves" in table.output and "factor(s) proxied" in table.output


def test_historical_scenarios_are_the_last_window_overlapping_windows_at_every_horizon():
    # window_days scenarios per horizon: for h days, the sums of the moves over the last
    # window_days overlapping h-day windows (the h = 10 set reaches 9 days further back);
    # mc/fhs fit on the last window_days moves and draw n_scenarios.
    from riskstream.cli.engine import draw_scenarios, simulated_history
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe
    from riskstream.risk.config import RiskConfig
    from riskstream.risk.factors import PRICE, build_factor_space

    universe = generate_universe(UniverseConfig(instruments=60, seed=2))
    history = simulated_history(universe, 120, seed=2)
    space = build_factor_space(universe.instruments, universe.base_currency)
    config = RiskConfig(window_days=100, horizons_days=(1, 10))
    fh, scen = draw_scenarios(space, universe, config, history, None)
    assert fh.n_moves == 109 and scen.n_scenarios == 100
    price = space.kind == PRICE
    for h in (1, 10):
        sums = np.stack([fh.moves[t : t + h].sum(axis=0) for t in range(fh.n_moves - h + 1)])
        sums = sums[-100:]
        sums[:, price] = np.expm1(sums[:, price])
        # scenarios are stored as float32: 2^-24 relative, 1e-9 absolute on ~1% moves
        np.testing.assert_allclose(scen.shocks[h], sums, rtol=1e-6, atol=1e-9)
    with pytest.raises(InputError, match="100 \\+ 30 - 1 = 129 daily moves"):
        draw_scenarios(
            space, universe, config.model_copy(update={"horizons_days": (30,)}), history, None
        )


@pytest.mark.parametrize("method", ["parametric", "fhs", "mc"])
def test_every_method_fits_on_the_window_of_stored_moves(real_book, method):
    # fhs and mc fit their GARCH filters on the last --window daily moves (500) and draw
    # --scenarios paths of h days; parametric reads the historical windows.
    result = run(
        "risk", "--method", method, "--window", "500", "--horizon", "5",
        "--scenarios", "2000", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    expected = 504 if method == "parametric" else 500  # window + h - 1 for the windows
    assert out["history"]["observations"] == expected
    assert out["n_scenarios"] == (500 if method == "parametric" else 2000)
    assert out["es"] >= out["var"] > 0
