"""FX rates from several free public APIs, polled, normalised and combined into one
weighted rate per currency with provenance (:mod:`.sources`, :mod:`.poller`,
:mod:`.aggregate`, :mod:`.responses`)."""

from riskstream.feeds.fx.aggregate import Exclusion, FxAggregate, aggregate
from riskstream.feeds.fx.config import FxConfig, FxSourceConfig
from riskstream.feeds.fx.poller import CircuitBreaker, FxPoller, PollResult
from riskstream.feeds.fx.responses import RawResponse, load_set, save_set
from riskstream.feeds.fx.sources import SOURCES, SourceQuotes, parse

__all__ = [
    "SOURCES",
    "CircuitBreaker",
    "Exclusion",
    "FxAggregate",
    "FxConfig",
    "FxPoller",
    "FxSourceConfig",
    "PollResult",
    "RawResponse",
    "SourceQuotes",
    "aggregate",
    "load_set",
    "parse",
    "save_set",
]
