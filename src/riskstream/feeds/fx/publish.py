"""Hand each poll's aggregate to its outputs: the history store and the bus.

The store is passed in as a function (``MarketHistory.append_fx_rates``), so ``feeds``
does not import ``store`` (docs/architecture.md layering); the bus is any
:class:`~riskstream.bus.topics.Topics`. The message id is the base and publication time,
so a re-published poll (a restart, a standby) is stored on the bus once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from riskstream.bus.topics import Topics
from riskstream.core.clock import Clock
from riskstream.core.messages import SUBJECTS
from riskstream.feeds.fx.poller import PollResult


class FxPublisher:
    """Store and publish every poll result that carries an aggregate.

    Parameters
    ----------
    clock : Clock
        The ``loaded_ns`` stamp of stored rows.
    store : callable, optional
        ``store(rows, loaded_ns)``: writes the ``fx_rates`` rows.
    topics : Topics, optional
        Where :class:`~riskstream.core.messages.FxRates` goes (``SUBJECTS["fx"]``).
    """

    def __init__(
        self,
        clock: Clock,
        store: Callable[[pl.DataFrame, int], Any] | None = None,
        topics: Topics | None = None,
    ):
        self.clock = clock
        self.store = store
        self.topics = topics
        self.published = 0

    def __call__(self, result: PollResult) -> None:
        agg = result.aggregate
        if agg is None or not agg.rates:
            return
        responses = str(result.folder or "")
        if self.store is not None:
            self.store(agg.rows(result.ts_ns, responses), self.clock.now_ns())
        if self.topics is not None:
            self.topics.publish(
                SUBJECTS["fx"], agg.message(responses), msg_id=f"fx:{agg.base}:{result.ts_ns}"
            )
        self.published += 1
