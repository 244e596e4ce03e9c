"""The market-event schema: one numpy structured dtype for every market event.

Events travel as columnar batches (a numpy structured array, or the equivalent Arrow record
batch), never as one Python object per tick. The same dtype carries L3 order flow (add,
modify, cancel, trade), L1 quotes and book control messages (clear, snapshot), for every
asset class.

Conventions
-----------
* ``ts_event`` is the venue's timestamp, ``ts_recv`` the time Riskstream received the event;
  both int64 nanoseconds since the Unix epoch, UTC.
* ``seq`` is contiguous per (``source``, ``instrument_id``), starting at 1.
* ``price`` is fixed point: an int64 count of 1e-9 units of the instrument's quote currency
  (``PRICE_SCALE``), so prices compare exactly and sum without rounding drift.
* ``side`` is +1 for the bid (buy) side and -1 for the ask (sell) side. For a ``TRADE`` it
  is the side of the *resting* order that was hit; the aggressor is the opposite side.
* ``size`` is in units of the instrument (shares, contracts, face amount in lots, base
  currency units for FX).
* ``order_id`` identifies a resting order within (``source``, ``instrument_id``); 0 when the
  event carries no order (quotes, clears).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

import numpy as np
import pyarrow as pa

PRICE_SCALE: int = 1_000_000_000
"""Fixed-point scale of ``price``: one unit is 1e-9 of the quote currency."""

EVENT_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),
        ("ts_recv", np.int64),
        ("seq", np.uint64),
        ("instrument_id", np.int32),
        ("source", np.uint16),
        ("kind", np.uint8),
        ("side", np.int8),
        ("price", np.int64),
        ("size", np.float64),
        ("order_id", np.uint64),
        ("flags", np.uint8),
    ],
    align=True,
)
"""The dtype of a batch of market events (see the module docstring for units)."""


class EventKind(IntEnum):
    """What a market event does. 0 is reserved so an all-zero record is recognisably empty."""

    ADD = 1  # a new resting order enters the book
    MODIFY = (
        2  # a resting order changes price or size (loses priority if price moves or size rises)
    )
    CANCEL = 3  # a resting order leaves the book
    TRADE = 4  # `size` executes against resting order `order_id`
    QUOTE = 5  # top-of-book (L1) update of one side: price and total size at the best level
    CLEAR = 6  # the venue resets the instrument's book (e.g. start of a snapshot)
    SNAPSHOT = 7  # one resting order of a book snapshot (same fields as ADD)


class Side(IntEnum):
    """Side of the book: bid (buyers) is +1, ask (sellers) is -1."""

    ASK = -1
    NONE = 0
    BID = 1


class EventFlag(IntFlag):
    """Bit flags on an event."""

    NONE = 0
    LAST_IN_GROUP = 1  # last event of a venue packet: the book is consistent after it
    SNAPSHOT = 2  # part of a recovery snapshot
    REPLAY = 4  # republished from the history store, not live
    SIMULATED = 8  # produced by the market simulator


def empty_events(n: int) -> np.ndarray:
    """A zero-filled event batch of length ``n`` (every ``kind`` is 0, i.e. not yet set)."""
    return np.zeros(n, dtype=EVENT_DTYPE)


def to_fixed(price: np.ndarray | float) -> np.ndarray | int:
    """Convert decimal prices to fixed-point int64 (round half away from zero)."""
    scaled = np.round(np.asarray(price, dtype=np.float64) * PRICE_SCALE)
    if np.ndim(scaled) == 0:
        return int(scaled)
    return scaled.astype(np.int64)


def from_fixed(price: np.ndarray | int) -> np.ndarray | float:
    """Convert fixed-point int64 prices back to float64 decimals."""
    out = np.asarray(price, dtype=np.float64) / PRICE_SCALE
    return float(out) if np.ndim(out) == 0 else out


EVENT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("ts_event", pa.int64(), nullable=False),
        pa.field("ts_recv", pa.int64(), nullable=False),
        pa.field("seq", pa.uint64(), nullable=False),
        pa.field("instrument_id", pa.int32(), nullable=False),
        pa.field("source", pa.uint16(), nullable=False),
        pa.field("kind", pa.uint8(), nullable=False),
        pa.field("side", pa.int8(), nullable=False),
        pa.field("price", pa.int64(), nullable=False),
        pa.field("size", pa.float64(), nullable=False),
        pa.field("order_id", pa.uint64(), nullable=False),
        pa.field("flags", pa.uint8(), nullable=False),
    ]
)
"""The Arrow schema equivalent to :data:`EVENT_DTYPE` (for Parquet, Delta Lake and IPC)."""


def events_to_arrow(batch: np.ndarray) -> pa.RecordBatch:
    """An Arrow record batch holding the same columns as an event array (zero-copy per column
    where numpy's layout allows)."""
    if batch.dtype != EVENT_DTYPE:
        raise TypeError(f"expected an array of EVENT_DTYPE, got {batch.dtype}")
    return pa.RecordBatch.from_arrays(
        [pa.array(np.ascontiguousarray(batch[name])) for name in EVENT_DTYPE.names],
        schema=EVENT_ARROW_SCHEMA,
    )


def events_from_arrow(table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """An event array from an Arrow table or record batch with the event columns."""
    missing = [n for n in EVENT_DTYPE.names if n not in table.schema.names]
    if missing:
        raise ValueError(f"event table lacks columns {missing}")
    out = empty_events(table.num_rows)
    for name in EVENT_DTYPE.names:
        column = table.column(name)
        out[name] = column.to_numpy()
    return out
