"""The order audit trail: who sent each order event, kept apart from the anonymous public feed.

Public market data is anonymous: an L3 feed (:data:`riskstream.core.events.EVENT_DTYPE`)
tells the order id, side, price and size of every add, modify, cancel and trade, never the
member that sent it. A venue, and the regulator, also keep a **member-level audit trail**:
the US Consolidated Audit Trail (SEC Rule 613, "CAT"; FINRA CAT NMS Plan) and the EU's
order-record keeping (MiFIR Art. 25(2), Commission Delegated Regulation (EU) 2017/580, "RTS
24") record, for every order event, the member, the client (the beneficial owner's
identifier) and the trading capacity. Market-abuse surveillance (MAR Art. 16) runs on that
record, since manipulation is a matter of *who* placed and pulled the orders.

:data:`ORDER_AUDIT_DTYPE` is that record, one row per event of the stream it describes
(aligned 1:1: row ``k`` describes event ``k``): the event's own fields, plus

* ``participant_id`` — the trading account that owns ``order_id`` (for a ``TRADE``, the
  owner of the *resting* order that was hit), -1 for events without an order (quotes,
  clears);
* ``owner_id`` — that account's beneficial owner (several accounts may share one: two desks
  of one firm, a client and its nominee);
* ``contra_participant_id`` / ``contra_owner_id`` — for a ``TRADE``, the aggressor (the
  account whose marketable order took the resting one) and its beneficial owner; -1 else.

The ground truth of a labelled data set (:mod:`riskstream.feeds.manipulation`) is kept apart
again, as no venue has it: :data:`ORDER_LABEL_DTYPE` per order and :data:`DAY_LABEL_DTYPE`
per (participant, day, typology).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

NO_PARTICIPANT = -1
"""``participant_id`` / ``owner_id`` of an event that carries no order (quote, clear)."""

ORDER_AUDIT_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),
        ("instrument_id", np.int32),
        ("kind", np.uint8),
        ("side", np.int8),
        ("order_id", np.uint64),
        ("price", np.int64),
        ("size", np.float64),
        ("participant_id", np.int32),
        ("owner_id", np.int32),
        ("contra_participant_id", np.int32),
        ("contra_owner_id", np.int32),
    ],
    align=True,
)
"""One audit record per event (see the module docstring; units as in ``EVENT_DTYPE``)."""


class Typology(IntEnum):
    """Market-manipulation typologies (MAR Art. 12 and Annex I; ESMA's MAR guidelines)."""

    NONE = 0
    SPOOFING = 1  # one large order away from the touch, pulled after an opposite execution
    LAYERING = 2  # the same with orders on several price levels
    WASH_TRADE = 3  # both sides of a trade with the same beneficial owner
    MARKING_CLOSE = 4  # aggressive trades in the last minutes moving the closing price
    MOMENTUM_IGNITION = 5  # a burst of aggressive orders to start a move, then trading against it


TYPOLOGY_NAMES: dict[int, str] = {
    int(t): t.name.lower() for t in Typology if t is not Typology.NONE
}
"""Typology code → name (``spoofing``, ``layering``, ``wash_trade``, ``marking_close``,
``momentum_ignition``)."""

ORDER_LABEL_DTYPE = np.dtype(
    [
        ("instrument_id", np.int32),
        ("order_id", np.uint64),
        ("seq", np.uint64),
        ("participant_id", np.int32),
        ("day", np.int32),
        ("typology", np.uint8),
    ]
)
"""Ground truth per manipulative order: a resting order (``order_id``, ``seq`` 0), or one
fill of a marketable order (``seq`` of the TRADE event, ``order_id`` the resting order it
took); its owner, the day and the typology."""

DAY_LABEL_DTYPE = np.dtype(
    [
        ("participant_id", np.int32),
        ("day", np.int32),
        ("typology", np.uint8),
        ("episodes", np.int32),
    ]
)
"""Ground truth per (participant, day, typology): how many episodes were injected."""


def empty_audit(n: int) -> np.ndarray:
    """An audit batch of ``n`` records with no participants (-1 everywhere)."""
    out = np.zeros(n, dtype=ORDER_AUDIT_DTYPE)
    for name in ("participant_id", "owner_id", "contra_participant_id", "contra_owner_id"):
        out[name] = NO_PARTICIPANT
    return out


def audit_from_events(events: np.ndarray) -> np.ndarray:
    """An audit batch carrying the events' own fields and no participants (to be filled)."""
    out = empty_audit(len(events))
    for name in ("ts_event", "instrument_id", "kind", "side", "order_id", "price", "size"):
        out[name] = events[name]
    return out
