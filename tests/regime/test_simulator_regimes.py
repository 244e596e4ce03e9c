"""The ensemble on the market simulator's own regimes: fitted on one seed's fair mids,
scored on another seed streamed through the RegimeStage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm, logm

from riskstream.cli.regime import simulator_bars, tracked_instruments
from riskstream.feeds.config import RegimeConfig as ChainConfig
from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.regime import RegimeConfig, RegimeEnsemble, RegimeStage

SPEED = 40.0  # the simulator's regime chain, 40x faster: dwell times of seconds to a minute
BAR_S = 0.5


def _simulator(universe, seed: int) -> MarketSimulator:
    per_min = np.array(ChainConfig().transition_per_min)
    fast = np.clip(np.real(expm(logm(per_min) * SPEED)), 0, None)
    fast /= fast.sum(axis=1, keepdims=True)
    chain = ChainConfig(transition_per_min=tuple(tuple(float(v) for v in r) for r in fast))
    cfg = SimulatorConfig(seed=seed, events_per_s=2000.0, batch_events=256, regimes=chain)
    return MarketSimulator(universe, cfg)


@pytest.mark.slow
def test_ensemble_detects_simulator_regimes_out_of_sample() -> None:
    universe = generate_universe(UniverseConfig(instruments=100, seed=7))
    ids = tracked_instruments(universe, 6)
    x, labels = simulator_bars(_simulator(universe, 3), ids, BAR_S, minutes=12)
    assert len(np.unique(labels)) == 3
    cfg = RegimeConfig(bar_s=BAR_S, lstm_window=16, lstm_hidden=8, lstm_epochs=4)
    model = RegimeEnsemble.from_config(cfg, ["hmm", "msgarch", "cusum", "lstm"]).fit(x, labels)

    sim = _simulator(universe, 2)  # a seed never used for fitting
    detected, truth = [], []

    def publish(ts: int, regime: int, probs: np.ndarray) -> None:
        detected.append(regime)
        truth.append(sim.regime)

    stage = RegimeStage(model, lambda: np.asarray(sim.fair_mid[ids]), BAR_S, publish=publish)
    for events, now_ns in sim.batches(300.0):
        stage.on_batch(events, now_ns)
    assert stage.updates > 500
    assert len(set(truth)) >= 2
    assert (np.array(detected) == np.array(truth)).mean() > 0.85
