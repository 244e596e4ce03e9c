"""LSTM classifier: learns simulated regimes, reproducible bit for bit, online = batch."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.regime import LSTMDetector


@pytest.fixture(scope="module")
def lstm(regime_data) -> LSTMDetector:
    x, s, _, _ = regime_data
    return LSTMDetector(n_regimes=3, window=16, hidden=8, epochs=4, seed=3).fit(x, s)


def test_learns_regimes_out_of_sample(lstm, regime_data) -> None:
    _, _, xt, st = regime_data
    assert (lstm.predict_proba(xt).argmax(axis=1) == st).mean() > 0.8


def test_same_seed_same_network(lstm, regime_data) -> None:
    x, s, xt, _ = regime_data
    again = LSTMDetector(n_regimes=3, window=16, hidden=8, epochs=4, seed=3).fit(x, s)
    np.testing.assert_array_equal(again.predict_proba(xt[:500]), lstm.predict_proba(xt[:500]))


def test_online_equals_batch(lstm, regime_data) -> None:
    _, _, xt, _ = regime_data
    batch = lstm.predict_proba(xt[:100])
    lstm.reset()
    online = np.array([lstm.filter(row) for row in xt[:100]])
    np.testing.assert_allclose(online, batch, atol=1e-5)  # float32 network


def test_needs_labels(regime_data) -> None:
    x, _, _, _ = regime_data
    with pytest.raises(InputError, match="labels"):
        LSTMDetector().fit(x)
