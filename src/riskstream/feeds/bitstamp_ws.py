"""A Bitstamp websocket client: subscribe, resync from a snapshot, reconnect — and publish
the decoded events on the bus like any other feed.

Per connection (Bitstamp "WebSocket API v2"):

1. connect to ``ws_url`` and send ``{"event": "bts:subscribe", "data": {"channel": C}}``
   for ``live_orders_<pair>`` and ``live_trades_<pair>``; a reader task queues every
   message from now on, so nothing is missed while the snapshot is fetched;
2. fetch the order-book snapshot (``GET <book_url>``, the REST ``order_book`` with
   ``group=2``: every order with its id) and publish it as a recovery group (``CLEAR`` +
   ``SNAPSHOT`` events, see :mod:`riskstream.feeds.bitstamp`);
3. publish the queued and then the live messages; those the snapshot already holds
   (``microtimestamp`` <= the snapshot's) are dropped, so none is applied twice;
4. on a disconnect, a ``bts:request_reconnect`` or an error: wait (exponential backoff from
   ``reconnect_s`` to ``max_backoff_s``, reset by a successful resync) and start again at 1.
   Messages sent while the client was away are lost, and the next snapshot covers them; its
   ``CLEAR`` leaves one ``seq`` out, so md marks the book stale and counts the gap, then
   the recovery when the snapshot's last order is applied.

Every message applied is handed, as the JSON text received (snapshots included), to the
optional ``record`` callable: the lines of a capture file that ``riskstream feed replay
--format bitstamp`` and ``riskstream book replay --format bitstamp`` read back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from riskstream.feeds.bitstamp import BitstampParser

WS_URL = "wss://ws.bitstamp.net"
BOOK_URL = "https://www.bitstamp.net/api/v2/order_book/{pair}/?group=2"
log = logging.getLogger(__name__)


@dataclass
class FeedStats:
    """What a :class:`BitstampFeed` did."""

    connections: int = 0
    resyncs: int = 0
    messages: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list)


class BitstampFeed:
    """One pair's L3 order flow and trades from Bitstamp, published as event batches.

    Parameters
    ----------
    pair : str
        Bitstamp's pair name, e.g. ``"btcusd"``.
    publish : callable
        Takes each EVENT_DTYPE batch (``bus.publish``).
    instrument_id, source : int
        Stamped on every event.
    ws_url, book_url : str
        The websocket and the REST order-book URLs (``{pair}`` is filled in).
    reconnect_s, max_backoff_s : float
        First and largest wait before a reconnect.
    max_batch : int
        Most messages decoded into one published batch.
    record : callable, optional
        Receives the JSON text of every applied message and snapshot (a capture line).
    """

    def __init__(
        self,
        pair: str,
        publish: Callable[[np.ndarray], Any],
        *,
        instrument_id: int = 0,
        source: int = 0,
        ws_url: str = WS_URL,
        book_url: str = BOOK_URL,
        reconnect_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_batch: int = 4096,
        record: Callable[[str], Any] | None = None,
    ):
        self.pair = pair.lower()
        self.channels = [f"live_orders_{self.pair}", f"live_trades_{self.pair}"]
        self.publish = publish
        self.parser = BitstampParser(instrument_id, source)
        self.ws_url = ws_url
        self.book_url = book_url.format(pair=self.pair)
        self.reconnect_s = reconnect_s
        self.max_backoff_s = max_backoff_s
        self.max_batch = max_batch
        self.record = record
        self.stats = FeedStats()

    async def run(self, stop: asyncio.Event) -> FeedStats:
        """Stream until ``stop`` is set, reconnecting and resyncing as needed."""
        wait = self.reconnect_s
        async with httpx.AsyncClient(timeout=10.0) as http:
            while not stop.is_set():
                try:
                    if await self._session(http, stop):
                        wait = self.reconnect_s  # it resynced: start the backoff afresh
                except (OSError, WebSocketException, httpx.HTTPError, ValueError) as exc:
                    self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                    log.warning("bitstamp %s: %s; reconnecting in %.1fs", self.pair, exc, wait)
                if stop.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                wait = min(wait * 2, self.max_backoff_s)
        return self.stats

    async def _session(self, http: httpx.AsyncClient, stop: asyncio.Event) -> bool:
        """One connection: subscribe, resync, stream. True once it had resynced."""
        resynced = False
        async with connect(self.ws_url) as ws:
            self.stats.connections += 1
            for channel in self.channels:
                await ws.send(json.dumps({"event": "bts:subscribe", "data": {"channel": channel}}))
            queue: asyncio.Queue[str | None] = asyncio.Queue()

            async def read() -> None:
                try:
                    async for text in ws:
                        queue.put_nowait(text if isinstance(text, str) else text.decode())
                finally:
                    queue.put_nowait(None)  # the connection ended

            reader = asyncio.create_task(read())
            stopper = asyncio.create_task(stop.wait())
            try:
                response = await http.get(self.book_url)
                response.raise_for_status()
                self._apply([response.text])
                self.stats.resyncs += 1
                resynced = True
                while not stop.is_set():
                    getter = asyncio.create_task(queue.get())
                    await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    texts = [getter.result()]
                    while len(texts) < self.max_batch and not queue.empty():
                        texts.append(queue.get_nowait())
                    ended = None in texts
                    texts = [t for t in texts if t is not None]
                    again = any('"bts:request_reconnect"' in t for t in texts)
                    self._apply(texts)
                    if ended or again:
                        break
            finally:
                stopper.cancel()
                reader.cancel()
                await asyncio.gather(reader, stopper, return_exceptions=True)
        return resynced

    def _apply(self, texts: list[str]) -> None:
        events = self.parser.parse(texts)
        self.stats.messages += len(texts)
        if self.record is not None:
            for text in texts:
                self.record(text)
        if len(events):
            self.publish(events)
            self.stats.events += len(events)


def run_feed(feed: BitstampFeed, stop: asyncio.Event | None = None) -> FeedStats:
    """Run ``feed`` on a fresh event loop until ``stop`` (or Ctrl-C)."""

    async def main() -> FeedStats:
        return await feed.run(stop or asyncio.Event())

    return asyncio.run(main())
