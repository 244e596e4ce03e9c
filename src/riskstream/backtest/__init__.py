"""VaR and ES backtests, rolling model validation, P&L attribution and drift monitoring.

Modules, one idea each:

- :mod:`~riskstream.backtest.var_tests` — Kupiec POF, Christoffersen independence and
  conditional coverage, duration test; :func:`backtest_hits` runs them all;
- :mod:`~riskstream.backtest.traffic_light` — Basel 1996 zones and plus factors, any N;
- :mod:`~riskstream.backtest.es_tests` — Acerbi-Székely Z1/Z2, FRTB exception counts;
- :mod:`~riskstream.backtest.losses` — quantile and FZ0 losses, model confidence set;
- :mod:`~riskstream.backtest.rolling` — walk-forward forecasts of the project's models;
- :mod:`~riskstream.backtest.validation` — every test, loss and monitor of a forecast run;
- :mod:`~riskstream.backtest.attribution`, :mod:`~riskstream.backtest.book` — P&L explain by
  risk factor and the simulated option/bond book;
- :mod:`~riskstream.backtest.pla` — FRTB P&L attribution test;
- :mod:`~riskstream.backtest.drift` — PSI, KS and rolling exception monitors;
- :mod:`~riskstream.backtest.report` — the HTML validation report and its figures as JSON.

Heavy modules (models, pricing, plotly) are imported by the functions that need them, so
``import riskstream.backtest`` stays light.
"""

from riskstream.backtest.config import BacktestConfig
from riskstream.backtest.drift import (
    Alert,
    DriftReport,
    ks_alert,
    monitor_model,
    population_stability_index,
    psi_alert,
    rolling_exception_alerts,
)
from riskstream.backtest.es_tests import (
    AcerbiSzekely,
    FRTBExceptions,
    acerbi_szekely,
    frtb_exception_counts,
)
from riskstream.backtest.losses import (
    ModelConfidenceSet,
    fz0_loss,
    model_confidence_set,
    quantile_loss,
)
from riskstream.backtest.pla import PLATest, pla_test
from riskstream.backtest.traffic_light import TrafficLight, traffic_light, zone_boundaries
from riskstream.backtest.validation import (
    ForecastRun,
    ModelValidation,
    compare_runs,
    validate_run,
)
from riskstream.backtest.var_tests import (
    LRTest,
    VaRBacktest,
    backtest_hits,
    christoffersen_cc,
    christoffersen_independence,
    duration_test,
    exceptions,
    kupiec_pof,
)

__all__ = [
    "AcerbiSzekely",
    "Alert",
    "BacktestConfig",
    "DriftReport",
    "FRTBExceptions",
    "ForecastRun",
    "LRTest",
    "ModelConfidenceSet",
    "ModelValidation",
    "PLATest",
    "TrafficLight",
    "VaRBacktest",
    "acerbi_szekely",
    "backtest_hits",
    "christoffersen_cc",
    "christoffersen_independence",
    "compare_runs",
    "duration_test",
    "exceptions",
    "frtb_exception_counts",
    "fz0_loss",
    "ks_alert",
    "kupiec_pof",
    "model_confidence_set",
    "monitor_model",
    "pla_test",
    "population_stability_index",
    "psi_alert",
    "quantile_loss",
    "rolling_exception_alerts",
    "traffic_light",
    "validate_run",
    "zone_boundaries",
]
