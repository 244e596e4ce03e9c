"""Market-regime detectors and their ensemble.

Regimes are ordered by volatility: label 0 is the calmest (with three: 0 calm, 1 volatile,
2 crisis). Every detector has ``fit(returns, labels=None)`` / ``reset()`` / ``filter(r_t)``
(online, one row at a time) / ``predict_proba(returns)`` (filtered, never smoothed over the
future); :class:`RegimeEnsemble` stacks them and Kalman-smooths the probabilities;
:class:`RegimeStage` runs it in the real-time pipeline.
"""

from riskstream.regime.changepoint import CusumDetector, MosumDetector
from riskstream.regime.config import RegimeConfig
from riskstream.regime.dfm import DynamicFactorDetector
from riskstream.regime.ensemble import DETECTORS, RegimeEnsemble, make_detector
from riskstream.regime.hmm import HMMDetector, StudentTHMMDetector
from riskstream.regime.io import load_model, read_header, save_model
from riskstream.regime.lstm import LSTMDetector
from riskstream.regime.msgarch import MSGarchDetector, simulate_msgarch
from riskstream.regime.simulate import (
    SwitchingStudentT,
    hard_regime_model,
    simulate_regime_returns,
)
from riskstream.regime.stage import REGIME_NAMES, RegimeStage

__all__ = [
    "DETECTORS",
    "REGIME_NAMES",
    "CusumDetector",
    "DynamicFactorDetector",
    "HMMDetector",
    "LSTMDetector",
    "MSGarchDetector",
    "MosumDetector",
    "RegimeConfig",
    "RegimeEnsemble",
    "RegimeStage",
    "StudentTHMMDetector",
    "SwitchingStudentT",
    "hard_regime_model",
    "load_model",
    "make_detector",
    "read_header",
    "save_model",
    "simulate_msgarch",
    "simulate_regime_returns",
]
