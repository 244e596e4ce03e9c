"""A toy matching venue that writes its traffic the way an L3 feed such as Bitstamp's
``live_orders`` does: an aggressive order is announced as an add at its limit price (the
book momentarily locks or crosses), then each resting order it hit is reduced (a modify to
its new size) or deleted, a trade is printed apart from the book, and the aggressor is
reduced to what rests or deleted — all with the same timestamp, the group's last message
flagged ``LAST_IN_GROUP``. The venue's own book is a :class:`ReferenceBooks` in match mode.
"""

from __future__ import annotations

import copy

import numpy as np

from riskstream.core.events import EventFlag, EventKind, from_fixed, to_fixed
from tests.md.helpers import T0, make_events
from tests.md.reference import ReferenceBooks

LAST = int(EventFlag.LAST_IN_GROUP)


def venue_stream(ops: list[tuple], max_levels: int = 64) -> tuple[np.ndarray, list[int]]:
    """Events for ``ops`` = [(side ±1, price, size, cancel_pick or None)], and the index of
    each group's last event. A pick cancels the ``pick % n``-th resting order instead."""
    venue = ReferenceBooks(1, max_levels, crossing="match")
    rows: list[dict] = []
    ends: list[int] = []
    oid = 0
    for g, (side, price, size, pick) in enumerate(ops):
        ts = T0 + g * 1_000_000
        group: list[dict] = []
        if pick is not None and venue.orders:
            key = sorted(venue.orders)[pick % len(venue.orders)]
            group.append(dict(kind=EventKind.CANCEL, oid=key[2], ts=ts))
            venue._book(0, 0, EventKind.CANCEL, 0, 0, 0.0, key[2])
        else:
            oid += 1
            before = copy.deepcopy(venue.orders)
            add = dict(kind=EventKind.ADD, side=side, price=price, size=size, oid=oid, ts=ts)
            venue._book(0, 0, EventKind.ADD, side, to_fixed(price), size, oid)
            group.append(add)
            for key, (s, px, sz, _) in sorted(before.items(), key=lambda kv: kv[1][3]):
                now = venue.orders.get(key)
                if now is not None and now[2] == sz:
                    continue
                done = sz - (now[2] if now else 0.0)
                osd = 1 if s == 0 else -1
                group.append(dict(kind=EventKind.TRADE, side=osd, price=from_fixed(px),
                                  size=done, oid=0, ts=ts))  # fmt: skip
                if now is None:
                    group.append(dict(kind=EventKind.CANCEL, oid=key[2], ts=ts))
                else:
                    group.append(dict(kind=EventKind.MODIFY, side=osd, price=from_fixed(px),
                                      size=now[2], oid=key[2], ts=ts))  # fmt: skip
            mine = venue.orders.get((0, 0, oid))
            if len(group) > 1:  # it executed: the aggressor's own update closes the group
                if mine is None:
                    group.append(dict(kind=EventKind.CANCEL, oid=oid, ts=ts))
                elif mine[2] != size:
                    group.append(dict(kind=EventKind.MODIFY, side=side, price=price,
                                      size=mine[2], oid=oid, ts=ts))  # fmt: skip
        group[-1]["flags"] = LAST
        rows += group
        ends.append(len(rows) - 1)
    return make_events(rows), ends
