"""``HistoryStage``: the pipeline stage that records the stream in the history store.

Each batch of received events is buffered into ``ticks`` (and so the bars); feature
snapshots are taken from the market state every ``features_every_ns`` of event time, for
the instruments updated since the last snapshot; quarantined events arrive through
:meth:`HistoryStage.add_quarantine` (or a ``quarantine_source`` polled after each batch).
It satisfies :class:`riskstream.pipeline.Stage` structurally (``store`` cannot import the
pipeline).

Given the instruments' ``symbols``, the stage also appends the live market's closes to the
market history (:class:`~riskstream.store.market_history.MarketHistory`, the same folder),
so history accumulates as the system runs:

* daily closes into ``prices`` (source "live"): at each change of UTC date of event time,
  and at :meth:`HistoryStage.close` for the day in progress; upserted like any load, so a
  restart that replays a day corrects its close rather than duplicating it;
* intraday bar closes into ``prices_intraday`` (ts = the bar's end, symbol, close), each
  written when event time passes its bar's end, every ``intraday_bar_ns`` (default 60 s:
  fine enough for intraday risk and realised volatility, coarse enough to stay small:
  10,000 instruments x 1,440 bars = 14M rows a day; the bar in progress at ``close`` is
  not written). They are kept apart from ``prices`` so the daily table stays one row per
  (date, symbol), the sampling every scenario model assumes.

A close is the instrument's mid (the fair value between bid and ask), else its last trade
price when it has no two-sided quote. It is taken from the market state as it stood after
the last batch *before* the boundary (a copy kept per batch), so it never contains an
event from after the close; a boundary is noticed at the first batch past it. Instruments
with no price yet are skipped. Writes go to a writer thread: a MERGE into a long ``prices``
table takes long enough that the pipeline should not wait on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.state import MarketState
from riskstream.store.history import HistoryStore
from riskstream.store.market_history import MarketHistory

QuarantineBatch = tuple[np.ndarray, np.ndarray | int, Sequence[str] | str]

_NOT_FEATURES = {"ts_ns", "seq", "stale", "updated"}  # bookkeeping arrays of MarketState


class HistoryStage:
    """Record events, feature snapshots and quarantine into a :class:`HistoryStore`.

    Parameters
    ----------
    store : HistoryStore
        Where to write (buffered; :meth:`close` flushes).
    state : MarketState, optional
        The market state whose per-instrument float arrays are snapshotted as features.
    features_every_ns : int
        Event-time interval between feature snapshots (default 1 s).
    quarantine_source : callable, optional
        Called after each batch; returns ``(events, reason_codes, reasons)`` of newly
        quarantined events, or None.
    symbols : sequence of str, optional
        Each instrument's symbol, indexed by ``instrument_id`` (length
        ``state.n_instruments``). With them (and ``state``) the stage appends daily and
        intraday closes; without them it appends none.
    market_history : MarketHistory, optional
        Where closes go; default the market history in ``store``'s folder.
    intraday_bar_ns : int
        Event-time width of an intraday bar (default 60 s).
    """

    name = "history"

    def __init__(
        self,
        store: HistoryStore,
        state: MarketState | None = None,
        features_every_ns: int = NS_PER_S,
        quarantine_source: Callable[[], QuarantineBatch | None] | None = None,
        symbols: Sequence[str] | None = None,
        market_history: MarketHistory | None = None,
        intraday_bar_ns: int = 60 * NS_PER_S,
    ):
        self.store = store
        self.state = state
        self.features_every_ns = features_every_ns
        self.quarantine_source = quarantine_source
        self.events = 0
        self.quarantined = 0
        self.snapshots = 0
        self._last_snapshot_ns: int | None = None
        self._snapshot_seen_ts = (
            np.zeros(state.n_instruments, dtype=np.int64) if state is not None else None
        )
        self.daily_closes = 0
        self.intraday_closes = 0
        self.symbols: pl.Series | None = None
        self.market_history: MarketHistory | None = None
        if symbols is not None:
            if state is None:
                raise InputError("state", None, "the market state whose closes are appended")
            if len(symbols) != state.n_instruments:
                raise InputError(
                    "symbols",
                    f"{len(symbols)} symbols",
                    f"one per instrument ({state.n_instruments})",
                )
            if intraday_bar_ns <= 0:
                raise InputError("intraday_bar_ns", intraday_bar_ns, "a positive number of ns")
            self.symbols = pl.Series("symbol", list(symbols), dtype=pl.String)
            self.market_history = market_history or MarketHistory(store.root)
            self.intraday_bar_ns = intraday_bar_ns
            self._marks = np.full(state.n_instruments, np.nan)  # as of the previous batch
            self._day: int | None = None  # UTC day (days since epoch) of the previous batch
            self._bar: int | None = None  # intraday bar index of the previous batch
            self._last_ns = 0  # event time of the latest batch
            self._executor: ThreadPoolExecutor | None = None
            self._pending: list[Future] = []

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        self.store.append_events(events)
        self.events += len(events)
        if self.quarantine_source is not None:
            batch = self.quarantine_source()
            if batch is not None:
                self.add_quarantine(*batch)
        if self.market_history is not None:
            self._append_closes(now_ns)
        if self.state is not None:
            if self._last_snapshot_ns is None:
                self._last_snapshot_ns = now_ns
            elif now_ns - self._last_snapshot_ns >= self.features_every_ns:
                self.snapshot_features(now_ns)

    def add_quarantine(
        self, events: np.ndarray, reason_codes: np.ndarray | int, reasons: Sequence[str] | str
    ) -> None:
        """Record rejected events with their reasons."""
        self.store.append_quarantine(events, reason_codes, reasons)
        self.quarantined += len(events)

    def snapshot_features(self, now_ns: int) -> int:
        """Write the features of instruments updated since the last snapshot, as known at
        ``now_ns``; returns how many instruments were written."""
        assert self.state is not None and self._snapshot_seen_ts is not None
        changed = np.flatnonzero(self.state.ts_ns > self._snapshot_seen_ts)
        self._last_snapshot_ns = now_ns
        if len(changed) == 0:
            return 0
        self._snapshot_seen_ts[changed] = self.state.ts_ns[changed]
        values = {
            name: array[changed]
            for name, array in self.state.arrays().items()
            if name not in _NOT_FEATURES and array.dtype.kind == "f"
        }
        self.store.append_features(now_ns, changed, values)
        self.snapshots += 1
        return len(changed)

    # -- closes into the market history -----------------------------------------------------
    def _current_marks(self) -> np.ndarray:
        """Each instrument's mark: mid, else last trade (NaN if neither is known)."""
        assert self.state is not None
        return np.where(np.isfinite(self.state.mid), self.state.mid, self.state.last)

    def _append_closes(self, now_ns: int) -> None:
        self._last_ns = now_ns
        day, bar = now_ns // NS_PER_DAY, now_ns // self.intraday_bar_ns
        if self._day is not None and day > self._day:
            self._submit_daily(self._day, self._marks.copy(), now_ns)
        if self._bar is not None and bar > self._bar:
            self._submit_intraday(bar * self.intraday_bar_ns, self._marks.copy(), now_ns)
        self._day, self._bar = day, bar
        self._marks = self._current_marks()

    def _close_rows(self, marks: np.ndarray) -> tuple[np.ndarray, pl.Series]:
        known = np.flatnonzero(np.isfinite(marks))
        assert self.symbols is not None
        return marks[known], self.symbols.gather(known)

    def _submit_daily(self, day: int, marks: np.ndarray, now_ns: int) -> None:
        closes, symbols = self._close_rows(marks)
        if len(closes) == 0:
            return
        frame = pl.DataFrame(
            {
                "date": pl.Series(
                    [dt.date(1970, 1, 1) + dt.timedelta(days=int(day))] * len(closes)
                ),
                "symbol": symbols,
                "close": closes,
            }
        )
        history = self.market_history
        assert history is not None
        self._submit(lambda: history.load(frame, "prices", "live", loaded_ns=now_ns))
        self.daily_closes += len(closes)

    def _submit_intraday(self, ts_ns: int, marks: np.ndarray, now_ns: int) -> None:
        closes, symbols = self._close_rows(marks)
        if len(closes) == 0:
            return
        frame = pl.DataFrame(
            {"ts": np.full(len(closes), ts_ns, dtype=np.int64), "symbol": symbols, "close": closes}
        )
        history = self.market_history
        assert history is not None
        self._submit(lambda: history.append_intraday(frame, "live", now_ns))
        self.intraday_closes += len(closes)

    def _submit(self, job: Callable[[], Any]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closes")
        self._pending.append(self._executor.submit(job))
        while self._pending and self._pending[0].done():
            self._pending.pop(0).result()  # re-raise a failed write's error

    def flush_closes(self) -> None:
        """Wait for the close writes submitted so far (re-raising a failed one's error)."""
        if self.market_history is None:
            return
        while self._pending:
            self._pending.pop(0).result()

    def summary(self) -> dict[str, Any]:
        return {
            "history_events": self.events,
            "history_quarantined": self.quarantined,
            "history_feature_snapshots": self.snapshots,
            "history_flushes": self.store.flushes,
            "history_daily_closes": self.daily_closes,
            "history_intraday_closes": self.intraday_closes,
        }

    def view(self) -> list[tuple[str, str]]:
        return [
            ("history rows", f"{self.events:,}"),
            ("history flushes", f"{self.store.flushes:,}"),
        ]

    def close(self) -> None:
        """Flush the tick store; append the day in progress' closes (the state as it is
        now: every event has been seen) and wait for the close writes."""
        if self.market_history is not None and self._day is not None:
            self._submit_daily(self._day, self._current_marks(), self._last_ns)
            self.flush_closes()
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None
        self.store.close()
