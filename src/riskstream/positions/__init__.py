"""The position keeper: the one writer of positions, versioned and audited
(:mod:`riskstream.positions.keeper`), and the request/reply client that asks it for
changes (:mod:`riskstream.positions.client`)."""

from riskstream.positions.client import PositionRequester
from riskstream.positions.keeper import PositionKeeper

__all__ = ["PositionKeeper", "PositionRequester"]
