"""`riskstream var` and `riskstream risk`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.risk.measures import var_es


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RISKSTREAM_UNIVERSE__INSTRUMENTS", "300")
    monkeypatch.setenv("RISKSTREAM_RISK__N_SCENARIOS", "500")
    monkeypatch.setenv("RISKSTREAM_RISK__HISTORY_DAYS", "600")
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    return tmp_path


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


def test_risk_portfolio_file_and_bad_input(env):
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.settings import Settings

    universe = ensure_universe(load_config(Settings))
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


def test_engine_values_options_at_their_quotes(env):
    # Implied vols are solved from the reference prices (riskstream.pricing implied-vol
    # solver) at each option's currency zero rate, so the engine's model value of every
    # option at today's spot reproduces its quote (the grid node at zero move is exact).
    from riskstream.cli.risk import build_engine
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.settings import Settings

    s = load_config(Settings)
    universe = ensure_universe(s)
    engine = build_engine(universe, s.risk)
    inst = universe.instruments
    opts = engine.opt_ids
    quote = inst["ref_price"].to_numpy()[opts] * engine.multiplier[opts] * engine.fx[opts]
    model = engine.unit_value[opts]
    tick = inst["tick_size"].to_numpy()[opts] * engine.multiplier[opts] * engine.fx[opts]
    assert np.all(engine.reason[opts] == "")
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
    from riskstream.cli.risk import build_engine
    from riskstream.cli.universe import ensure_universe
    from riskstream.core.config import load_config
    from riskstream.core.state import MarketState
    from riskstream.risk.stage import RiskStage
    from riskstream.settings import Settings

    cfg = load_config(Settings)
    universe = ensure_universe(cfg)
    state = MarketState(len(universe))
    stage = RiskStage(build_engine(universe, cfg.risk, market=state))
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
