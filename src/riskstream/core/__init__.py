"""Core schemas shared by every stage: events, instruments, configuration, clock, errors.

``core`` imports nothing from the rest of Riskstream.
"""

from riskstream.core.clock import NS_PER_DAY, NS_PER_S, Clock, ManualClock, SystemClock
from riskstream.core.config import ConfigModel, load_config
from riskstream.core.errors import (
    ConfigError,
    InputError,
    LoadError,
    ModelError,
    RiskstreamError,
    ServiceUnavailableError,
    UnknownInstrumentError,
)
from riskstream.core.events import (
    EVENT_ARROW_SCHEMA,
    EVENT_DTYPE,
    PRICE_SCALE,
    EventFlag,
    EventKind,
    Side,
    empty_events,
    events_from_arrow,
    events_to_arrow,
    from_fixed,
    to_fixed,
)
from riskstream.core.instruments import (
    ASSET_CLASSES,
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    AssetClass,
    Book,
    Instrument,
    Position,
    Universe,
    records_to_frame,
)
from riskstream.core.state import MarketState

__all__ = [
    "ASSET_CLASSES",
    "BOOK_SCHEMA",
    "EVENT_ARROW_SCHEMA",
    "EVENT_DTYPE",
    "INSTRUMENT_SCHEMA",
    "NS_PER_DAY",
    "NS_PER_S",
    "POSITION_SCHEMA",
    "PRICE_SCALE",
    "AssetClass",
    "Book",
    "Clock",
    "ConfigError",
    "ConfigModel",
    "EventFlag",
    "EventKind",
    "InputError",
    "Instrument",
    "LoadError",
    "ManualClock",
    "MarketState",
    "ModelError",
    "Position",
    "RiskstreamError",
    "ServiceUnavailableError",
    "Side",
    "SystemClock",
    "Universe",
    "UnknownInstrumentError",
    "empty_events",
    "events_from_arrow",
    "events_to_arrow",
    "from_fixed",
    "load_config",
    "records_to_frame",
    "to_fixed",
]
