"""`riskstream regime fit/detect` round trip, and the real-time RegimeStage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from riskstream.cli import app
from riskstream.core.errors import InputError
from riskstream.regime import RegimeConfig, RegimeEnsemble, RegimeStage, simulate_regime_returns

FAST_DETECTORS = "hmm,cusum,mosum"


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("regime_cli")
    x, s = simulate_regime_returns(2500, n_assets=4, seed=5)
    ts = np.arange(len(x), dtype=np.int64) * 250_000_000
    frame = pl.DataFrame({"ts": ts, **{f"a{i}": x[:, i] for i in range(4)}, "truth": s})
    frame.write_parquet(folder / "returns.parquet")
    frame.head(1200).write_parquet(folder / "head.parquet")
    return {"dir": folder, "returns": folder / "returns.parquet",
            "head": folder / "head.parquet", "model": folder / "m.regime"}  # fmt: skip


def test_fit_then_detect(files, monkeypatch) -> None:
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    result = run("regime", "fit", "--input", str(files["returns"]), "--regimes", "3",
                 "--model", str(files["model"]), "--labels", "truth",
                 "--detectors", FAST_DETECTORS)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["assets"] == 4 and summary["labels"] == "given"

    out = files["dir"] / "regimes.parquet"
    result = run("regime", "detect", "--model", str(files["model"]),
                 "--input", str(files["returns"]), "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.columns == ["ts", "regime", "p_0", "p_1", "p_2"]
    probs = frame.select("p_0", "p_1", "p_2").to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    truth = pl.read_parquet(files["returns"])["truth"].to_numpy()
    assert (frame["regime"].to_numpy() == truth).mean() > 0.75

    # filtered, never smoothed: detecting on the first 1200 rows gives the same rows
    head_out = files["dir"] / "head_regimes.parquet"
    result = run("regime", "detect", "--model", str(files["model"]),
                 "--input", str(files["head"]), "--out", str(head_out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(head_out).equals(frame.head(1200))


def test_detect_errors(files, monkeypatch) -> None:
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    if not files["model"].exists():
        pytest.skip("needs the model of test_fit_then_detect")
    bad = files["dir"] / "bad.parquet"
    pl.DataFrame({"ts": [1, 2], "a0": [0.1, 0.2]}).write_parquet(bad)
    result = run("regime", "detect", "--model", str(files["model"]), "--input", str(bad),
                 "--out", str(files["dir"] / "x.parquet"))  # fmt: skip
    assert isinstance(result.exception, InputError)
    assert "a1" in str(result.exception)
    result = run("regime", "fit", "--input", str(bad), "--model", str(files["dir"] / "y"))
    assert isinstance(result.exception, InputError)
    assert "rows" in str(result.exception)


class _Prices:
    """Replays simulated returns as prices, one row per call (an injected price source)."""

    def __init__(self, returns: np.ndarray):
        self.px = 100.0 * np.exp(np.vstack([np.zeros(returns.shape[1]), returns]).cumsum(0))
        self.i = -1

    def __call__(self) -> np.ndarray:
        self.i += 1
        return self.px[self.i]


def test_stage_publishes_every_update() -> None:
    x, s = simulate_regime_returns(2000, n_assets=4, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    xt, _ = simulate_regime_returns(300, n_assets=4, seed=9)
    published: list[tuple[int, int, np.ndarray]] = []
    stage = RegimeStage(model, _Prices(xt), bar_s=0.25,
                        publish=lambda ts, r, p: published.append((ts, r, p)))  # fmt: skip
    assert stage.view() == [("regime", "warming up")]
    for i in range(301):  # a batch every 0.25 s of event time
        stage.on_batch(np.empty(0), 1_000_000_000 + i * 250_000_000)
    assert stage.updates == 300 == len(published)
    _, want = model.predict(xt)
    np.testing.assert_allclose(np.array([p for _, _, p in published]), want, atol=1e-5)
    summary = stage.summary()
    assert summary["regime"] in {"calm", "volatile", "crisis"}
    assert 0.0 < summary["regime_probability"] <= 1.0
    assert stage.view()[0][0] == "regime"


def test_stage_counts_missing_prices() -> None:
    x, s = simulate_regime_returns(2000, n_assets=2, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    stage = RegimeStage(model, lambda: np.array([np.nan, 1.0]), bar_s=1.0)
    stage.on_batch(np.empty(0), 0)
    assert stage.skipped == 1 and stage.updates == 0


def test_demo_regime_stage_from_model_file(tmp_path, monkeypatch) -> None:
    from riskstream.cli.regime import demo_regime_stage, tracked_instruments
    from riskstream.core import MarketState
    from riskstream.core.config import load_config
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe
    from riskstream.regime import save_model
    from riskstream.settings import Settings

    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path))
    monkeypatch.delenv("RISKSTREAM_CONFIG", raising=False)
    cfg = load_config(Settings, None)
    universe = generate_universe(UniverseConfig(instruments=100, seed=3))

    state = MarketState(len(universe))  # md's observed mids: NaN until the first quotes
    assert demo_regime_stage(cfg, universe, state) is None  # no model yet
    ids = tracked_instruments(universe, 3)
    assert set(universe.instruments["asset_class"].to_numpy()[ids]) <= {"equity", "future", "fx"}
    x, s = simulate_regime_returns(2000, n_assets=3, seed=4)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    symbols = universe.instruments["symbol"].to_numpy()[ids].tolist()
    save_model(tmp_path / "regime.model", model, symbols)
    stage = demo_regime_stage(cfg, universe, state)
    assert isinstance(stage, RegimeStage)
    stage.on_batch(np.empty(0), 0)  # no quotes yet: the bar is skipped, not an error
    assert stage.skipped == 1 and stage.updates == 0
    state.mid[:] = universe.instruments["ref_price"].to_numpy()
    stage.on_batch(np.empty(0), 250_000_000)
    state.mid[ids] *= 1.001
    stage.on_batch(np.empty(0), 500_000_000)
    assert stage.updates == 1


def test_regime_switch_conditions_the_risk_engine() -> None:
    # The regime stage's publications become RegimeChanged messages on a change of the
    # reported regime with probability >= regime.switch_probability; calm is the
    # unconditional law. The engine applies them at the top of its next refresh.
    from riskstream.cli.regime import RegimeSwitch
    from riskstream.risk.config import RiskConfig
    from tests.risk.helpers import make_engine

    x, s = simulate_regime_returns(2000, n_assets=4, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    engine = make_engine(config=RiskConfig(n_scenarios=500, horizons_days=(1,),
                                           regime_conditional=True))  # fmt: skip
    base = engine.refresh().headline.var
    sent = []
    switch = RegimeSwitch(lambda m: (sent.append(m), engine.send(m)), model,
                          RegimeConfig(switch_probability=0.6))  # fmt: skip
    vol, theta = switch.table[2]
    assert switch.table[0] == (1.0, 1.0) and vol > 1.2 and theta > 1.0
    switch(0, 2, np.array([0.3, 0.2, 0.5]))  # crisis, not probable enough: no switch
    assert not sent and switch.switches == 0
    switch(1, 2, np.array([0.1, 0.2, 0.7]))
    assert (sent[-1].name, sent[-1].vol_multiplier, sent[-1].market_variance_ratio) == (
        "crisis", vol, theta)  # fmt: skip
    assert engine.regime_conditioning is None  # not before the engine's next refresh
    snap = engine.refresh()
    want = {"regime": "crisis", "vol_multiplier": vol, "market_variance_ratio": theta}
    assert snap.regime_conditioning == {**want, "probability": 0.7}
    assert snap.headline.var > 1.2 * base
    switch(2, 2, np.array([0.0, 0.1, 0.9]))  # same regime: nothing to do
    assert switch.switches == 1 and len(sent) == 1
    switch(3, 0, np.array([0.8, 0.1, 0.1]))  # calm: back to the unconditional scenarios
    assert switch.switches == 2
    assert engine.refresh().headline.var == base
    assert engine.regime_conditioning is None
    assert switch.log == [(1, "crisis"), (3, "unconditional")]  # when, and to what
    summary = switch.summary()
    assert summary["risk_regime_switches"] == 2
    assert set(summary["risk_regime_table"]) == {"calm", "volatile", "crisis"}
    # wired as the stage's publish: a stream through a crisis switches the engine
    xt, st_ = simulate_regime_returns(400, n_assets=4, seed=11)
    assert (st_ == 2).any()
    stage = RegimeStage(model, _Prices(xt), bar_s=0.25, publish=switch)
    seen = set()
    for i in range(401):
        stage.on_batch(np.empty(0), 1_000_000_000 + i * 250_000_000)
        engine.refresh()
        seen.add(None if engine.regime_conditioning is None else engine.regime_conditioning.regime)
    assert "crisis" in seen or "volatile" in seen


def test_stage_scales_a_return_spanning_several_bars_to_one_bar() -> None:
    # Prices that arrive every 4 bars (md's deltas sparser than bar_s, as in a run sped up
    # 240x) give returns with 4x a bar's variance; the stage hands the model the per-bar
    # return of the same variance, r / sqrt(4) (square-root-of-time rule), so a calm market
    # sampled sparsely does not read as volatile. Exact: one multiplication.
    x, s = simulate_regime_returns(2000, n_assets=2, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    seen: list[np.ndarray] = []
    real_filter = model.filter
    model.filter = lambda row: (seen.append(np.array(row)), real_filter(row))[1]
    px = iter([np.array([100.0, 50.0]), np.array([104.0, 49.0]), np.array([102.0, 49.5])])
    stage = RegimeStage(model, lambda: next(px), bar_s=0.25)
    stage.on_batch(np.empty(0), 0)
    stage.on_batch(np.empty(0), 1_000_000_000)  # 4 bars later
    stage.on_batch(np.empty(0), 1_250_000_000)  # 1 bar later: unscaled
    np.testing.assert_allclose(seen[0], np.log([104.0 / 100.0, 49.0 / 50.0]) / 2.0, rtol=1e-12)
    np.testing.assert_allclose(seen[1], np.log([102.0 / 104.0, 49.5 / 49.0]), rtol=1e-12)


def test_warm_up_leaves_the_model_as_fresh() -> None:
    # warm_up runs throw-away returns through the model to compile its kernels before the
    # live clock starts; it must leave no trace: the same rows filtered after it give the
    # same probabilities, bit for bit, as a copy of the model never warmed.
    import copy

    from riskstream.regime.stage import warm_up

    x, s = simulate_regime_returns(2000, n_assets=3, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum", "mosum"]).fit(x, s)
    cold = copy.deepcopy(model)
    xt, _ = simulate_regime_returns(200, n_assets=3, seed=9)
    warm_up(model, 3, bars=64)
    warmed = np.array([model.filter(r) for r in xt])
    fresh = np.array([cold.filter(r) for r in xt])
    np.testing.assert_array_equal(warmed, fresh)
    assert model.regime == cold.regime


def test_stage_never_takes_a_return_over_less_than_a_bar() -> None:
    # After a late update (prices 4 bars apart), the next delta may come a millisecond of
    # market time later (md sends a delta that falls due inside a long round at once). A
    # return over 1 ms scaled to a bar by sqrt(250) would read a one-tick move as a burst;
    # the stage waits a bar after each update instead.
    x, s = simulate_regime_returns(2000, n_assets=2, seed=8)
    model = RegimeEnsemble.from_config(RegimeConfig(), ["hmm", "cusum"]).fit(x, s)
    px = iter([np.array([100.0, 50.0]), np.array([100.1, 50.0]), np.array([100.2, 50.0]),
               np.array([100.3, 50.0])])  # fmt: skip
    stage = RegimeStage(model, lambda: next(px), bar_s=0.25)
    stage.on_batch(np.empty(0), 0)
    stage.on_batch(np.empty(0), 1_000_000_000)  # late: 4 bars
    stage.on_batch(np.empty(0), 1_001_000_000)  # 1 ms later: no update
    assert stage.updates == 1
    stage.on_batch(np.empty(0), 1_250_000_000)  # a bar after the update
    assert stage.updates == 2
