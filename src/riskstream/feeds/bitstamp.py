"""Bitstamp's public websocket channels → market events: the JSON parser.

Format (Bitstamp "WebSocket API v2", https://www.bitstamp.net/websocket/v2/, and the REST
"Order book" endpoint): every websocket message is one JSON object
``{"event": ..., "channel": ..., "data": {...}}``.

* ``live_orders_<pair>`` (L3, order by order) — events ``order_created``,
  ``order_changed``, ``order_deleted``; ``data`` holds ``id`` (order id), ``order_type``
  (0 buy, 1 sell), ``price``/``price_str``, ``amount``/``amount_str`` (the order's
  remaining size), ``datetime`` (s) and ``microtimestamp`` (µs, a string). A marketable
  order is *created* at its limit price — the book momentarily locks or crosses — and the
  orders it hits are then *changed* (partial fill: the new remaining amount) or *deleted*,
  within the same microseconds: md's crossing policy takes this (``riskstream.md.books``).
* ``live_trades_<pair>`` — event ``trade``: ``price_str``, ``amount_str``, ``type`` (0 buy,
  1 sell: the taker's side), ``microtimestamp``, ``buy_order_id``, ``sell_order_id``.
  Trades are reported apart from the book.
* Control: ``bts:subscription_succeeded``, ``bts:heartbeat``, ``bts:request_reconnect``
  (the server asks the client to reconnect), ``bts:error``.
* Snapshot: ``GET /api/v2/order_book/<pair>/?group=2`` answers ``{"timestamp",
  "microtimestamp", "bids": [[price, amount, order_id], ...], "asks": [...]}`` — every
  resting order, best first.

Mapping: ``order_created`` → ``ADD``, ``order_changed`` → ``MODIFY`` (new price and
remaining size: a partial fill is a modify), ``order_deleted`` → ``CANCEL`` (size 0);
``trade`` → ``TRADE`` with order id 0 (a print apart from the book) on the *resting* side
(the opposite of the taker's); a snapshot → ``CLEAR`` flagged ``SNAPSHOT`` then one
``SNAPSHOT`` event per order, the last flagged ``LAST_IN_GROUP``. Messages older than a
snapshot (``microtimestamp`` <= the snapshot's) that follow it are already in it and are
dropped. Prices and sizes are read from the ``*_str`` text into fixed point exactly
(:func:`riskstream.feeds.venues.decimals_to_fixed`); sizes are fractional (BTC to 1e-8).
``ts_event`` is the microtimestamp in ns; ``seq`` is numbered by the parser, contiguous,
except that every snapshot after the first leaves one number out before its ``CLEAR``: a
resync means messages may have been lost, and md counts the gap and the recovery.

A capture file (``riskstream feed replay --format bitstamp``) holds one such JSON object
per line in the order they were applied: websocket messages as received and the REST
snapshot responses (what :class:`riskstream.feeds.bitstamp_ws.BitstampFeed` records).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, EventFlag, EventKind
from riskstream.feeds.venues import decimals_to_fixed, flag_group_ends

ORDER_EVENTS = {
    "order_created": EventKind.ADD,
    "order_changed": EventKind.MODIFY,
    "order_deleted": EventKind.CANCEL,
}
CONTROL_EVENTS = {"bts:subscription_succeeded", "bts:heartbeat", "bts:request_reconnect",
                  "bts:unsubscription_succeeded"}  # fmt: skip
_SNAP = int(EventFlag.SNAPSHOT)


def is_snapshot(message: dict[str, Any]) -> bool:
    """True for a REST order-book response (``bids``, ``asks``, ``microtimestamp``)."""
    return "bids" in message and "asks" in message and "microtimestamp" in message


@dataclass
class BitstampParser:
    """Stateful parser of one pair's messages into events (see the module docstring).

    Parameters
    ----------
    instrument_id, source : stamped on every event
    next_seq : the next ``seq`` to give
    """

    instrument_id: int = 0
    source: int = 0
    next_seq: int = 1
    snapshots: int = 0
    snapshot_us: int = -1  # microtimestamp of the latest snapshot
    counts: dict[str, int] = field(default_factory=dict)
    malformed: list[str] = field(default_factory=list)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def parse(
        self, messages: Iterable[dict[str, Any] | str | bytes], where: str = ""
    ) -> np.ndarray:
        """Events of ``messages`` (decoded dicts or JSON text), in order."""
        cols: dict[str, list] = {
            k: [] for k in ("ts", "kind", "side", "px", "sz", "oid", "flags", "seq")
        }

        def row(ts: int, kind: int, side: int, px: str, sz: str, oid: int, flags: int) -> None:
            cols["ts"].append(ts)
            cols["kind"].append(kind)
            cols["side"].append(side)
            cols["px"].append(px)
            cols["sz"].append(sz)
            cols["oid"].append(oid)
            cols["flags"].append(flags)
            cols["seq"].append(self.next_seq if not flags & _SNAP or kind == EventKind.CLEAR else 0)
            if not flags & _SNAP or kind == EventKind.CLEAR:
                self.next_seq += 1

        for n, raw in enumerate(messages, 1):
            try:
                m = json.loads(raw) if isinstance(raw, str | bytes) else raw
                if not isinstance(m, dict):
                    raise ValueError("not an object")
                if is_snapshot(m):
                    us = int(m["microtimestamp"])
                    if self.snapshots:
                        self.next_seq += 1  # a resync: leave a gap md will see
                    self.snapshots += 1
                    self.snapshot_us = us
                    orders = [(1, o) for o in m["bids"]] + [(-1, o) for o in m["asks"]]
                    last = int(EventFlag.LAST_IN_GROUP)
                    row(us * 1000, EventKind.CLEAR, 0, "0", "0", 0, _SNAP | (0 if orders else last))
                    for k, (side, o) in enumerate(orders):
                        flags = _SNAP | (last if k == len(orders) - 1 else 0)
                        row(
                            us * 1000,
                            EventKind.SNAPSHOT,
                            side,
                            str(o[0]),
                            str(o[1]),
                            int(o[2]),
                            flags,
                        )
                    continue
                event = m.get("event")
                if event in CONTROL_EVENTS:
                    self._count(event)
                    continue
                d = m["data"]
                us = int(d["microtimestamp"])
                if us <= self.snapshot_us:
                    self._count("covered_by_snapshot")
                    continue
                px = str(d.get("price_str", d.get("price")))
                sz = str(d.get("amount_str", d.get("amount")))
                if event in ORDER_EVENTS:
                    kind = ORDER_EVENTS[event]
                    side = 1 if int(d["order_type"]) == 0 else -1
                    if kind == EventKind.CANCEL:
                        px, sz = "0", "0"
                    row(us * 1000, kind, side, px, sz, int(d["id"]), 0)
                elif event == "trade":
                    side = -1 if int(d["type"]) == 0 else 1  # a buy taker hits the asks
                    row(us * 1000, EventKind.TRADE, side, px, sz, 0, 0)
                else:
                    raise ValueError(f"event {event!r} is not a live_orders/live_trades event")
                self._count(str(event))
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                self._count("malformed")
                if len(self.malformed) < 100:
                    self.malformed.append(f"{where}message {n}: {exc}")
        px, _ = decimals_to_fixed(cols["px"])
        sz_fixed, sz_ok = decimals_to_fixed(cols["sz"])
        events = np.zeros(len(cols["ts"]), dtype=EVENT_DTYPE)
        events["ts_event"] = cols["ts"]
        events["ts_recv"] = events["ts_event"]
        events["instrument_id"] = self.instrument_id
        events["source"] = self.source
        events["kind"] = cols["kind"]
        events["side"] = cols["side"]
        # text that is not a decimal ("NaN", "") becomes price 0 / size NaN, which md
        # quarantines with its reason (PRICE_NOT_POSITIVE, SIZE_NOT_FINITE)
        events["price"] = px
        events["size"] = np.where(sz_ok, sz_fixed / 1e9, np.nan)
        events["order_id"] = cols["oid"]
        events["flags"] = cols["flags"]
        seq = np.asarray(cols["seq"], dtype=np.int64)
        # snapshot orders carry the seq of their clear (md exempts them from sequencing)
        events["seq"] = np.maximum.accumulate(seq) if len(seq) else seq
        return events


def read_capture(
    path: str | Path, *, instrument_id: int = 0, source: int = 0
) -> tuple[np.ndarray, BitstampParser]:
    """Events of a capture file (one JSON message per line) and the parser's counts; the
    last event of each equal-timestamp run is flagged ``LAST_IN_GROUP``."""
    path = Path(path)
    if not path.exists():
        raise InputError("--input", str(path), "an existing Bitstamp capture (JSON lines)")
    parser = BitstampParser(instrument_id, source)
    with path.open("rb") as fh:
        events = parser.parse((line for line in fh if line.strip()), f"{path}:")
    snap = (events["flags"] & _SNAP) != 0
    flags = events["flags"].copy()
    flag_group_ends(events)
    events["flags"][snap] = flags[snap]  # a snapshot's group is its own
    return events, parser
