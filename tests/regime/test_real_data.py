"""Real data: detected high-volatility regimes of the S&P 500 (arch.data, 1999-2018) line up
with the known stress episodes — 2008-09 (Lehman to the March 2009 low), the August 2011 US
downgrade, the August 2015 China devaluation, the fourth quarter of 2018 — and stay out of
the calm years 2005-06 and 2017; on VIX data (2014-2018) they coincide with a high VIX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskstream.regime import HMMDetector, MSGarchDetector, RegimeConfig, RegimeEnsemble

EPISODES = {
    "2008-09": ("2008-09-15", "2009-03-31"),
    "2011": ("2011-08-04", "2011-10-31"),
    "2015": ("2015-08-21", "2015-09-30"),
    "late 2018": ("2018-10-10", "2018-12-31"),
}
CALM = {"2005-06": ("2005-01-01", "2006-12-31"), "2017": ("2017-01-01", "2017-12-31")}


@pytest.fixture(scope="module")
def sp500() -> pd.Series:
    import arch.data.sp500

    px = arch.data.sp500.load()["Adj Close"]
    return np.log(px).diff().dropna()


def _share_high(returns: pd.Series, regime: np.ndarray) -> dict[str, float]:
    s = pd.Series(regime >= 1, index=returns.index)
    return {name: float(s[a:b].mean()) for name, (a, b) in {**EPISODES, **CALM}.items()}


@pytest.mark.parametrize(
    "make", [lambda: HMMDetector(3), lambda: MSGarchDetector(3, n_starts=1)], ids=["hmm", "msgarch"]
)
def test_detectors_flag_known_episodes(make, sp500) -> None:
    # Filtered (online) regimes: at least 60% of each episode's days flagged volatile or
    # crisis, at most 30% of the calm years' days.
    model = make().fit(sp500.to_numpy())
    share = _share_high(sp500, model.predict_proba(sp500.to_numpy()).argmax(axis=1))
    for name in EPISODES:
        assert share[name] >= 0.6, (name, share)
    for name in CALM:
        assert share[name] <= 0.3, (name, share)


@pytest.mark.slow
def test_ensemble_flags_known_episodes_and_high_vix(sp500) -> None:
    import arch.data.vix

    cfg = RegimeConfig(lstm_window=16, lstm_hidden=8, lstm_epochs=4)
    model = RegimeEnsemble.from_config(cfg, ["hmm", "msgarch", "cusum", "lstm"]).fit(
        sp500.to_numpy()
    )
    regime, _ = model.predict(sp500.to_numpy())
    share = _share_high(sp500, regime)
    for name in EPISODES:
        assert share[name] >= 0.85, (name, share)
    for name in CALM:
        assert share[name] <= 0.1, (name, share)
    vix = arch.data.vix.load()["vix"]
    joined = pd.concat(
        [pd.Series(regime, index=sp500.index, name="r"), vix], axis=1, sort=True
    ).dropna()
    by_regime = joined.groupby("r")["vix"].mean()
    assert by_regime.is_monotonic_increasing, by_regime  # calmer regime, lower VIX
    assert by_regime.iloc[-1] > 1.5 * by_regime.iloc[0]
