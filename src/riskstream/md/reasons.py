"""Why an event was quarantined: one code per rule, with the text shown to users.

The numba kernels write a ``uint8`` code per event (0 = accepted); the quarantine table
stores the code and its text. Codes are stable (they are stored): append, never renumber.

Since issue 15 the books take what real venues send: a crossing order, traffic for an
unknown order, a duplicate order id, a side mismatch or an overfill are applied (or are
counted no-ops, see :mod:`riskstream.md.books`), no longer quarantined. Their codes
(``CROSSED``, ``UNKNOWN_ORDER``, ``DUPLICATE_ORDER``, ``SIDE_MISMATCH``,
``TRADE_EXCEEDS_ORDER``) stay reserved so stored quarantine rows keep their meaning.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Reason(IntEnum):
    """Quarantine reason of a market event (``ACCEPTED`` = not quarantined)."""

    ACCEPTED = 0
    UNKNOWN_INSTRUMENT = 1
    TOO_MANY_SOURCES = 2
    UNKNOWN_KIND = 3
    BAD_SIDE = 4
    SEQ_ZERO = 5
    DUPLICATE = 6
    OUT_OF_ORDER = 7
    TS_BEFORE_FLOOR = 8
    TS_AHEAD = 9
    SIZE_NOT_FINITE = 10
    SIZE_NOT_POSITIVE = 11
    PRICE_NOT_POSITIVE = 12
    CROSSED = 13
    UNKNOWN_ORDER = 14
    DUPLICATE_ORDER = 15
    SIDE_MISMATCH = 16
    TRADE_EXCEEDS_ORDER = 17
    LEVELS_FULL = 18
    QUOTE_ON_ORDER_BOOK = 19
    ORDER_ON_QUOTE_BOOK = 20


REASON_TEXT: dict[Reason, str] = {
    Reason.ACCEPTED: "accepted",
    Reason.UNKNOWN_INSTRUMENT: "instrument_id is not in the universe",
    Reason.TOO_MANY_SOURCES: "the instrument already has sources_per_instrument other sources",
    Reason.UNKNOWN_KIND: "kind is not an EventKind",
    Reason.BAD_SIDE: "side must be +1 (bid) or -1 (ask) for this kind",
    Reason.SEQ_ZERO: "seq is 0; sequence numbers start at 1",
    Reason.DUPLICATE: "seq already applied for this source and instrument",
    Reason.OUT_OF_ORDER: "seq arrived after later events (inside a recorded gap)",
    Reason.TS_BEFORE_FLOOR: "ts_event is before the configured floor",
    Reason.TS_AHEAD: "ts_event is too far ahead of ts_recv / the clock",
    Reason.SIZE_NOT_FINITE: "size is NaN or infinite",
    Reason.SIZE_NOT_POSITIVE: "size must be > 0 for this kind (>= 0 for a quote or a cancel)",
    Reason.PRICE_NOT_POSITIVE: "price must be > 0 for this instrument",
    Reason.CROSSED: "retired, no longer refused: the event would lock or cross the book",
    Reason.UNKNOWN_ORDER: "retired, no longer refused: order_id is not resting in this book",
    Reason.DUPLICATE_ORDER: "retired, no longer refused: order_id is already resting",
    Reason.SIDE_MISMATCH: "retired, no longer refused: side differs from the resting order's side",
    Reason.TRADE_EXCEEDS_ORDER: "retired, no longer refused: trade size exceeds the resting order",
    Reason.LEVELS_FULL: "the book side already holds max_levels price levels",
    Reason.QUOTE_ON_ORDER_BOOK: "a quote (L1) arrived for an instrument with resting orders",
    Reason.ORDER_ON_QUOTE_BOOK: "an order arrived for a quote-driven (L1) book; clear it first",
}

N_REASONS = len(Reason)


def reason_text(codes: np.ndarray) -> list[str]:
    """The text of each reason code in ``codes`` (array of uint8)."""
    texts = [REASON_TEXT[r] for r in Reason]
    return [texts[int(c)] for c in codes]
