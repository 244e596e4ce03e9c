"""The history store: Delta Lake tables of ticks, bars, features and quarantine.

Tables (each a Delta table under ``root``, partitioned by UTC ``date``)
-------------------------------------------------------------------------
``ticks``       every received event, as received (the replay source), plus ``ingest_seq``,
                a store-wide arrival counter that fixes the original order.
``bars_1s``,    OHLCV + VWAP per instrument and bar, from trades (``kind == TRADE`` with
``bars_1m``     positive price and size): ``open``/``close`` are the first/last trade in
                arrival order, ``vwap = Σ pᵢ qᵢ / Σ qᵢ`` (the volume-weighted average price).
``features``    wide per-instrument feature snapshots: ``ts`` (when the values were known),
                ``instrument_id`` and one float64 column per feature (new features add
                columns: the schema merges).
``quarantine``  rejected events with ``reason_code`` and ``reason`` text.

Writing is buffered: rows accumulate in memory and go to Delta in one append per
``flush_rows`` events (large Parquet files), on a writer thread so ingestion does not wait
for Parquet encoding. Many small appends still make many files — Delta's small-file problem
— which :meth:`HistoryStore.compact` fixes by rewriting a partition's files into a few big
ones, the data unchanged. :meth:`HistoryStore.vacuum` deletes files no version younger than the
retention needs, which bounds time travel to that window.

A bar spanning two flushes is written as two *partial* rows (with the arrival index of its
first and last trade); reads merge them (``open`` from the earliest, ``close`` from the
latest, ``high``/``low`` extremes, sums of volume, notional and trades), so bars are exact
whatever the flush boundaries, and no watermark or late-trade policy is needed.

Reading
-------
Every read takes a time range ``[start_ns, end_ns)`` and optional instruments; the date
partitions outside the range are never opened and the other predicates are pushed down to
Parquet statistics (polars' Delta scanner). Every read takes ``version`` (an int, an ISO
timestamp or a ``datetime``) for time travel: the table as it was then.
:meth:`HistoryStore.features_asof` gives the features *as known* at an instant — the last
snapshot with ``ts <= t`` per instrument, never a later one (no look-ahead, for training
models on history).

Delta has no unsigned integers: ``seq`` and ``order_id`` (uint64) are stored as int64 with
the same bits, ``source`` (uint16) as int32, ``kind`` and ``flags`` (uint8) as int16; reads
back to :data:`~riskstream.core.events.EVENT_DTYPE` restore them bit for bit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.events import EVENT_DTYPE, PRICE_SCALE, EventKind, empty_events

TABLES = ("ticks", "bars_1s", "bars_1m", "features", "quarantine")
BAR_WIDTH_NS = {"1s": NS_PER_S, "1m": 60 * NS_PER_S}

# Event columns in Delta (no unsigned types there): name -> (Arrow type, numpy dtype)
_EVENT_COLUMNS: dict[str, tuple[pa.DataType, type]] = {
    "ts_event": (pa.int64(), np.int64),
    "ts_recv": (pa.int64(), np.int64),
    "seq": (pa.int64(), np.int64),
    "instrument_id": (pa.int32(), np.int32),
    "source": (pa.int32(), np.int32),
    "kind": (pa.int16(), np.int16),
    "side": (pa.int8(), np.int8),
    "price": (pa.int64(), np.int64),
    "size": (pa.float64(), np.float64),
    "order_id": (pa.int64(), np.int64),
    "flags": (pa.int16(), np.int16),
}
_BITCAST = {"seq", "order_id"}  # uint64 stored as int64 with the same bits

TimeTravel = int | str | dt.datetime | None

# ZSTD level 1: measured on 1M ticks, the fastest write of the codecs tried and the smallest
# files (about 15 bytes an event), so it is both the ingest and the storage choice.
_WRITER = WriterProperties(compression="ZSTD", compression_level=1)


def _date_column(ts_ns: np.ndarray) -> pa.Array:
    """UTC calendar day of each timestamp, as Arrow date32 (days since the epoch)."""
    return pa.array(np.floor_divide(ts_ns, NS_PER_DAY).astype(np.int32), type=pa.date32())


def _day(ts_ns: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(ts_ns // NS_PER_DAY))


def _event_arrays(events: np.ndarray) -> dict[str, pa.Array]:
    out = {}
    for name, (arrow_type, np_type) in _EVENT_COLUMNS.items():
        column = np.ascontiguousarray(events[name])
        bits = column.view(np.int64) if name in _BITCAST else column.astype(np_type, copy=False)
        out[name] = pa.array(bits, type=arrow_type)
    return out


def frame_to_events(frame: pl.DataFrame) -> np.ndarray:
    """Event columns of a ticks/quarantine frame as an EVENT_DTYPE array (bit for bit)."""
    out = empty_events(frame.height)
    for name in EVENT_DTYPE.names:
        column = frame.get_column(name).to_numpy()
        out[name] = column.view(np.uint64) if name in _BITCAST else column
    return out


def _check_events(events: np.ndarray, field: str = "events") -> np.ndarray:
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        got = getattr(events, "dtype", type(events).__name__)
        raise InputError(field, str(got), "a numpy array of EVENT_DTYPE")
    return events


class HistoryStore:
    """Delta Lake history tables under one root (see the module docstring).

    Parameters
    ----------
    root : str or Path
        Folder (or object-store URI) holding one Delta table per name in :data:`TABLES`.
    flush_rows : int
        Events buffered before a write (bigger means fewer, larger files).
    retention_hours : int
        Default retention of :meth:`vacuum` (how far back time travel keeps working).
    background : bool
        Write automatic flushes on a writer thread (Delta's Parquet writer runs in Rust
        without the GIL, so ingestion goes on meanwhile); :meth:`flush` always waits.
    max_pending : int
        Background writes allowed in the queue before :meth:`append_events` waits.
    """

    def __init__(
        self,
        root: str | Path,
        flush_rows: int = 1_000_000,
        retention_hours: int = 168,
        background: bool = True,
        max_pending: int = 2,
    ):
        self.root = str(root)
        self.background = background
        self.max_pending = max_pending
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        if "://" not in self.root:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        self.flush_rows = flush_rows
        self.retention_hours = retention_hours
        self._events: list[np.ndarray] = []
        self._buffered = 0
        self._quarantine: list[pa.Table] = []
        self._features: list[pa.Table] = []
        self._next_ingest: int | None = None
        self.rows_written: dict[str, int] = dict.fromkeys(TABLES, 0)
        self.flushes = 0

    @classmethod
    def from_config(cls, config: Any) -> HistoryStore:
        """From a :class:`riskstream.store.config.StoreConfig`."""
        return cls(config.history, config.history_flush_rows, config.history_retention_hours)

    def uri(self, table: str) -> str:
        if table not in TABLES:
            raise InputError("table", table, f"one of {', '.join(TABLES)}")
        return f"{self.root.rstrip('/')}/{table}"

    def exists(self, table: str) -> bool:
        return DeltaTable.is_deltatable(self.uri(table))

    # -- writing ---------------------------------------------------------------------------
    def append_events(self, events: np.ndarray) -> None:
        """Buffer received events (written to ``ticks`` and the bars on flush)."""
        _check_events(events)
        if len(events):
            self._events.append(events.copy())  # the caller may reuse its buffer
            self._buffered += len(events)
            if self._buffered >= self.flush_rows:
                self._flush_behind()

    def append_quarantine(
        self, events: np.ndarray, reason_codes: np.ndarray | int, reasons: Sequence[str] | str
    ) -> None:
        """Buffer rejected events with their reason code and text (one per event, or one
        for all)."""
        _check_events(events)
        n = len(events)
        if n == 0:
            return
        codes = np.broadcast_to(np.asarray(reason_codes, dtype=np.int32), (n,))
        texts = [reasons] * n if isinstance(reasons, str) else list(reasons)
        if len(texts) != n:
            raise InputError("reasons", f"{len(texts)} reasons", f"one per event ({n})")
        arrays = _event_arrays(events)
        arrays["reason_code"] = pa.array(codes, type=pa.int32())
        arrays["reason"] = pa.array(texts, type=pa.string())
        arrays["date"] = _date_column(events["ts_event"])
        self._quarantine.append(pa.table(arrays))

    def append_features(
        self,
        ts_ns: int | np.ndarray,
        instrument_ids: np.ndarray,
        values: Mapping[str, np.ndarray],
    ) -> None:
        """Buffer a feature snapshot: ``values[name][i]`` of instrument ``instrument_ids[i]``
        as known at ``ts_ns`` (int64 ns; one for all or one per row)."""
        ids = np.asarray(instrument_ids, dtype=np.int32)
        n = len(ids)
        if n == 0:
            return
        ts = np.broadcast_to(np.asarray(ts_ns, dtype=np.int64), (n,))
        arrays: dict[str, pa.Array] = {
            "ts": pa.array(np.ascontiguousarray(ts)),
            "instrument_id": pa.array(ids),
        }
        for name, column in values.items():
            if name in arrays or name == "date":
                raise InputError("features", name, "a feature name other than ts/instrument_id")
            column = np.asarray(column, dtype=np.float64)
            if column.shape != (n,):
                raise InputError(f"features[{name}]", column.shape, f"shape ({n},)")
            arrays[name] = pa.array(column)
        arrays["date"] = _date_column(ts)
        self._features.append(pa.table(arrays))

    def _ingest_start(self) -> int:
        if self._next_ingest is None:
            self._next_ingest = 0
            if self.exists("ticks"):
                top = pl.scan_delta(self.uri("ticks")).select(pl.col("ingest_seq").max())
                found = top.collect().item()
                self._next_ingest = 0 if found is None else int(found) + 1
        return self._next_ingest

    def _take(self) -> Callable[[], dict[str, int]]:
        """Move the buffers into a write job (run here or on the writer thread). Arrival
        numbers are assigned now, in the caller's thread, so they follow the call order."""
        events, quarantine, features = self._events, self._quarantine, self._features
        self._events, self._buffered, self._quarantine, self._features = [], 0, [], []
        ingest_start = 0
        if events:
            ingest_start = self._ingest_start()
            self._next_ingest = ingest_start + sum(len(e) for e in events)

        def job() -> dict[str, int]:
            written: dict[str, int] = {}
            if events:
                batch = np.concatenate(events)
                ingest = np.arange(ingest_start, ingest_start + len(batch), dtype=np.int64)
                arrays = _event_arrays(batch)
                arrays["ingest_seq"] = pa.array(ingest)
                arrays["date"] = _date_column(batch["ts_event"])
                written["ticks"] = self._write("ticks", pa.table(arrays))
                for freq in BAR_WIDTH_NS:
                    bars = partial_bars(batch, ingest, freq)
                    if bars.height:
                        written[f"bars_{freq}"] = self._write(f"bars_{freq}", bars.to_arrow())
            if quarantine:
                written["quarantine"] = self._write("quarantine", pa.concat_tables(quarantine))
            if features:
                table = pa.concat_tables(features, promote_options="default")
                written["features"] = self._write("features", table, merge_schema=True)
            if written:
                self.flushes += 1
            return written

        return job

    def _flush_behind(self) -> None:
        """Automatic flush: on the writer thread when ``background`` (at most
        ``max_pending`` writes queued; beyond that the caller waits: back-pressure)."""
        job = self._take()
        if not self.background:
            job()
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._pending.append(self._executor.submit(job))
        while len(self._pending) > self.max_pending:
            self._pending.pop(0).result()

    def wait(self) -> None:
        """Wait for background writes (re-raising a failed one's error)."""
        while self._pending:
            self._pending.pop(0).result()

    def flush(self) -> dict[str, int]:
        """Write everything buffered and wait for every pending write; returns the rows
        this call wrote per table (one Delta commit per table)."""
        self.wait()
        return self._take()()

    def close(self) -> None:
        """Flush and stop the writer thread."""
        self.flush()
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def _write(self, table: str, data: pa.Table, merge_schema: bool = False) -> int:
        write_deltalake(
            self.uri(table),
            data,
            partition_by=["date"],
            mode="append",
            schema_mode="merge" if merge_schema else None,
            writer_properties=_WRITER,
        )
        self.rows_written[table] += data.num_rows
        return data.num_rows

    # -- maintenance -----------------------------------------------------------------------
    def compact(self, tables: Sequence[str] | None = None, zorder: bool = False) -> dict:
        """Rewrite each partition's small files into large ones (Delta ``OPTIMIZE``); with
        ``zorder`` the ticks are also clustered by (instrument_id, ts_event) so reads of a
        few instruments skip most files. The data (and each read's result) is unchanged."""
        out = {}
        for table in tables or TABLES:
            if not self.exists(table):
                continue
            delta = DeltaTable(self.uri(table))
            if zorder and table == "ticks":
                out[table] = delta.optimize.z_order(
                    ["instrument_id", "ts_event"], writer_properties=_WRITER
                )
            else:
                out[table] = delta.optimize.compact(writer_properties=_WRITER)
        return out

    def vacuum(self, retention_hours: int | None = None, dry_run: bool = False) -> dict:
        """Delete files that no table version within ``retention_hours`` (default the
        store's) still references; time travel before that window stops working."""
        hours = self.retention_hours if retention_hours is None else retention_hours
        out = {}
        for table in TABLES:
            if self.exists(table):
                out[table] = DeltaTable(self.uri(table)).vacuum(
                    retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False
                )
        return out

    def version(self, table: str) -> int:
        """The table's current version (-1 if it does not exist yet)."""
        return DeltaTable(self.uri(table)).version() if self.exists(table) else -1

    # -- reading ---------------------------------------------------------------------------
    def scan(self, table: str, version: TimeTravel = None) -> pl.LazyFrame:
        """A lazy scan of ``table`` (at ``version``: int, ISO timestamp or datetime)."""
        self.wait()  # read your own writes
        if not self.exists(table):
            raise InputError("table", table, f"an existing table under {self.root}")
        return pl.scan_delta(self.uri(table), version=version)

    def _range(
        self,
        table: str,
        column: str,
        start_ns: int | None,
        end_ns: int | None,
        instruments: Sequence[int] | np.ndarray | None,
        version: TimeTravel,
    ) -> pl.LazyFrame:
        frame = self.scan(table, version)
        if start_ns is not None:  # partition pruning first, then the exact bound
            frame = frame.filter(pl.col("date") >= _day(start_ns), pl.col(column) >= start_ns)
        if end_ns is not None:
            frame = frame.filter(pl.col("date") <= _day(end_ns), pl.col(column) < end_ns)
        if instruments is not None:
            ids = np.asarray(instruments, dtype=np.int32).tolist()
            frame = frame.filter(pl.col("instrument_id").is_in(ids))
        return frame

    def ticks(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        instruments: Sequence[int] | np.ndarray | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Stored events with ``start_ns <= ts_event < end_ns``, in arrival order."""
        frame = self._range("ticks", "ts_event", start_ns, end_ns, instruments, version)
        return frame.sort("ingest_seq").collect()

    def events(self, *args: Any, **kwargs: Any) -> np.ndarray:
        """:meth:`ticks` as an EVENT_DTYPE array (bit for bit what was received)."""
        return frame_to_events(self.ticks(*args, **kwargs))

    def iter_events(
        self,
        start_ns: int,
        end_ns: int,
        batch_rows: int = 65_536,
        instruments: Sequence[int] | np.ndarray | None = None,
        version: TimeTravel = None,
    ) -> Iterator[np.ndarray]:
        """Stored events of ``[start_ns, end_ns)`` in arrival order (``ingest_seq``, global,
        so exact across midnight too), as EVENT_DTYPE batches of at most ``batch_rows``.
        The range is read at once (one sort), so replay spans of at most a day or so."""
        frame = self.ticks(start_ns, end_ns, instruments, version)
        for offset in range(0, frame.height, batch_rows):
            yield frame_to_events(frame.slice(offset, batch_rows))

    def bars(
        self,
        freq: str = "1m",
        start_ns: int | None = None,
        end_ns: int | None = None,
        instruments: Sequence[int] | np.ndarray | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """OHLCV + VWAP bars (``freq`` "1s" or "1m") whose start ``ts`` is in the range,
        sorted by (instrument_id, ts). Prices are decimals (``price / PRICE_SCALE``)."""
        if freq not in BAR_WIDTH_NS:
            raise InputError("freq", freq, f"one of {', '.join(BAR_WIDTH_NS)}")
        table = f"bars_{freq}"
        if not self.exists(table):
            return _empty_bars()
        partial = self._range(table, "ts", start_ns, end_ns, instruments, version)
        return merge_partial_bars(partial).collect()

    def features(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        instruments: Sequence[int] | np.ndarray | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Feature snapshots with ``start_ns <= ts < end_ns``, sorted by (ts, instrument_id)."""
        frame = self._range("features", "ts", start_ns, end_ns, instruments, version)
        return frame.sort("ts", "instrument_id", maintain_order=True).collect()

    def features_asof(
        self,
        ts_ns: int,
        instruments: Sequence[int] | np.ndarray | None = None,
        lookback_days: int = 7,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Each instrument's latest feature snapshot with ``ts <= ts_ns`` (as known at
        ``ts_ns``: nothing later is ever returned), looking back at most ``lookback_days``.

        Returns one row per instrument that had a snapshot, sorted by instrument_id; its
        ``ts`` says when the values were known.
        """
        start = ts_ns - lookback_days * NS_PER_DAY
        frame = self._range("features", "ts", start, ts_ns + 1, instruments, version)
        return (
            frame.sort("ts", maintain_order=True)
            .group_by("instrument_id")
            .last()
            .sort("instrument_id")
            .drop("date")
            .collect()
        )

    def features_at(
        self, queries: pl.DataFrame, lookback_days: int = 7, version: TimeTravel = None
    ) -> pl.DataFrame:
        """Point-in-time join: for each row of ``queries`` (columns ``ts``, ``instrument_id``)
        the features as known at its ``ts`` (backward as-of join; nulls where none)."""
        if queries.height == 0:
            return queries
        lo = int(queries["ts"].min()) - lookback_days * NS_PER_DAY
        hi = int(queries["ts"].max()) + 1
        known = (
            self._range("features", "ts", lo, hi, None, version)
            .drop("date")
            .sort("ts")
            .rename({"ts": "feature_ts"})
            .collect()
        )
        left = queries.with_columns(
            pl.col("ts").cast(pl.Int64), pl.col("instrument_id").cast(pl.Int32)
        ).sort("ts")
        return left.join_asof(
            known,
            left_on="ts",
            right_on="feature_ts",
            by="instrument_id",
            strategy="backward",
            check_sortedness=False,  # both sides sorted by time above
        )

    def quarantine(
        self,
        start_ns: int | None = None,
        end_ns: int | None = None,
        instruments: Sequence[int] | np.ndarray | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Quarantined events of the range with ``reason_code`` and ``reason``, by time."""
        frame = self._range("quarantine", "ts_event", start_ns, end_ns, instruments, version)
        return frame.sort("ts_event", "instrument_id", "seq", maintain_order=True).collect()


def partial_bars(events: np.ndarray, ingest_seq: np.ndarray, freq: str) -> pl.DataFrame:
    """Bars of one flush: per (instrument, bar start) the OHLC, volume, notional and trade
    count of the trades in ``events``, with the arrival index of the first and last trade
    (so bars cut by a flush boundary merge exactly; see :func:`merge_partial_bars`)."""
    width = BAR_WIDTH_NS[freq]
    trade = (
        (events["kind"] == EventKind.TRADE)
        & (events["price"] > 0)
        & (events["size"] > 0)
        & np.isfinite(events["size"])
    )
    trades = events[trade]
    frame = pl.DataFrame(
        {
            "ts": trades["ts_event"] - trades["ts_event"] % width,
            "instrument_id": trades["instrument_id"],
            "price": trades["price"].astype(np.float64) / PRICE_SCALE,
            "size": trades["size"],
            "ingest": ingest_seq[trade],
        }
    )
    return (
        frame.group_by("instrument_id", "ts", maintain_order=True)
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("size").sum(),
            notional=(pl.col("price") * pl.col("size")).sum(),
            trades=pl.len().cast(pl.Int64),
            first_ingest=pl.col("ingest").first(),
            last_ingest=pl.col("ingest").last(),
        )
        .with_columns(date=pl.from_epoch("ts", time_unit="ns").dt.date())
    )


def merge_partial_bars(partial: pl.LazyFrame) -> pl.LazyFrame:
    """Combine partial bars of the same (instrument, ts) into final bars with VWAP."""
    return (
        partial.group_by("instrument_id", "ts")
        .agg(
            open=pl.col("open").sort_by("first_ingest").first(),
            high=pl.col("high").max(),
            low=pl.col("low").min(),
            close=pl.col("close").sort_by("last_ingest").last(),
            volume=pl.col("volume").sum(),
            notional=pl.col("notional").sum(),
            trades=pl.col("trades").sum(),
        )
        .with_columns(vwap=pl.col("notional") / pl.col("volume"))
        .sort("instrument_id", "ts")
    )


def _empty_bars() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "instrument_id": pl.Int32,
            "ts": pl.Int64,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "notional": pl.Float64,
            "trades": pl.Int64,
            "vwap": pl.Float64,
        }
    )
