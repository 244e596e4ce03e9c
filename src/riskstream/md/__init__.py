"""Market data: sequencing and validation, order books, microstructure features, market state.

``md`` imports only :mod:`riskstream.core`. The entry points are
:class:`MarketDataEngine` (numpy API over event batches) and :class:`MdStage` (the
pipeline stage around it).
"""

from riskstream.md.config import MdConfig
from riskstream.md.engine import BatchResult, MarketDataEngine, Quarantine
from riskstream.md.reasons import REASON_TEXT, Reason
from riskstream.md.stage import MdStage

__all__ = [
    "REASON_TEXT",
    "BatchResult",
    "MarketDataEngine",
    "MdConfig",
    "MdStage",
    "Quarantine",
    "Reason",
]
