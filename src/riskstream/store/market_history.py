"""Market history: daily closes, zero curves and implied vols as Delta tables.

Tables (under the history store's root, beside :data:`riskstream.store.history.TABLES`)
----------------------------------------------------------------------------------------
``prices``             date (date32), symbol, close (float64, the instrument's currency; an
                       FX pair's rate), source, loaded_ns
``curves``             date, currency, tenor_years, zero_rate (continuously compounded
                       decimal), source, loaded_ns
``vols``               date, underlying, expiry_years, moneyness (K/S), implied_vol (annual
                       decimal), source, loaded_ns
``history_quarantine`` rows refused by the data-quality checks (non-positive closes): kind,
                       date, series, value, reason, source, loaded_ns
``prices_intraday``    ts (int64 ns, bar end), symbol, close, source, loaded_ns, date: the
                       live pipeline's intraday bar closes, apart so the daily table stays
                       one row per (date, symbol)
``fx_rates``           ts (int64 ns, when published), as_of_ns (the time the rates are for),
                       base, currency, rate (units of currency per one base), sources (how
                       many were averaged), provenance (JSON: sources used with rate and
                       weight, sources excluded and why), responses (the saved raw response
                       set), source ("fx-aggregate"), loaded_ns, date: the FX rates aggregated
                       from public APIs (:mod:`riskstream.feeds.fx`), every publication kept

Provenance: ``source`` says where a row came from ("file:prices.csv", "simulator", "live",
"fill:forward" for rows the user asked to fill) and ``loaded_ns`` when it was written (int64
ns since the epoch, UTC).

Writes upsert: a load MERGEs on the kind's key (prices: date + symbol; curves: + tenor;
vols: + expiry + moneyness), updating matched rows and inserting the others, so loading a
file twice changes nothing but the version, and a corrected close replaces the old one.
Every write is a new Delta version; every read takes ``version=`` (an int, an ISO timestamp
or a datetime) for time travel, as in :class:`~riskstream.store.history.HistoryStore`. The
daily tables are not partitioned (a few million rows; a merge reads the whole table, which
``optimize``/compaction keeps to a few files). ``prices_intraday`` is appended (not merged:
its rows are unique by construction) and partitioned by date, like the tick tables.

Why aggregated FX rates have their own table rather than rows of ``prices`` with source
"fx-aggregate": ``prices`` holds one close per (date, symbol) and a load replaces the row
of that key whatever its source, so a 5-minute aggregate would overwrite a user's loaded
EURUSD close (the series the scenarios are fitted on would then mix two fixings, and the
jump between them would look like a return); it has nowhere to keep the provenance each
published rate must carry; and it would keep only the day's last publication, not each one.
``fx_rates`` keeps every publication with its provenance; daily closes stay the user's.

Each load comes with a :class:`~riskstream.store.history_quality.HistoryLoadReport`
(gaps, stale prices, outlier returns, non-positive prices; see
:mod:`riskstream.store.history_quality`). The checks see each touched series as it will be
stored, the load among up to ``context_days`` of stored rows on each side, and report
what involves a loaded row: a one-day append is checked against its history.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from riskstream.core.errors import InputError
from riskstream.store.history import _WRITER, TABLES, TimeTravel
from riskstream.store.history_files import (
    KEYS,
    KINDS,
    SCHEMAS,
    SERIES,
    Kind,
    check_kind,
    empty_frame,
)
from riskstream.store.history_quality import (
    LOADED,
    MAX_LISTED,
    MIN_RETURNS,
    OUTLIER_Z,
    HistoryLoadReport,
    QualityCheck,
    check_gaps,
    check_outliers,
    check_stale,
    forward_fill_rows,
    records,
    split_non_positive,
)

__all__ = ["MARKET_TABLES", "HistoryLoadReport", "MarketHistory", "QualityCheck"]

MARKET_TABLES = (
    "prices",
    "curves",
    "vols",
    "history_quarantine",
    "prices_intraday",
    "fx_rates",
)
assert not set(MARKET_TABLES) & set(TABLES)  # one folder holds both stores' tables

FILL_SOURCE = "fill:forward"

_ARROW_TYPES = {pl.Date(): pa.date32(), pl.String(): pa.string(), pl.Float64(): pa.float64()}
_PROVENANCE = {"source": pl.String(), "loaded_ns": pl.Int64()}
_QUARANTINE_SCHEMA = {
    "kind": pl.String(),
    "date": pl.Date(),
    "series": pl.String(),
    "value": pl.Float64(),
    "reason": pl.String(),
    **_PROVENANCE,
}
_INTRADAY_SCHEMA = {
    "ts": pl.Int64(),
    "symbol": pl.String(),
    "close": pl.Float64(),
    **_PROVENANCE,
    "date": pl.Date(),
}

FX_SOURCE = "fx-aggregate"
_FX_SCHEMA = {
    "ts": pl.Int64(),
    "as_of_ns": pl.Int64(),
    "base": pl.String(),
    "currency": pl.String(),
    "rate": pl.Float64(),
    "sources": pl.Int64(),
    "provenance": pl.String(),
    "responses": pl.String(),
}


def _arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Arrow with plain types (string, not string_view) for Delta."""
    fields = []
    for name, dtype in frame.schema.items():
        arrow_type = _ARROW_TYPES.get(dtype)
        if arrow_type is None:
            arrow_type = pa.int64() if dtype == pl.Int64 else None
        if arrow_type is None:
            raise InputError(name, str(dtype), "a date, string, float64 or int64 column")
        fields.append(pa.field(name, arrow_type))
    return frame.to_arrow().cast(pa.schema(fields))


class MarketHistory:
    """Daily market history in Delta tables under ``root`` (see the module docstring).

    Parameters
    ----------
    root : str or Path
        The history store's folder (or object-store URI); the same one as the tick
        :class:`~riskstream.store.history.HistoryStore`, whose table names it never uses.
    outlier_z : float
        Robust z-score above which a daily log return is flagged (default 10).
    min_returns : int
        Fewest returns a series needs for its outliers to be scored (default 20).
    max_listed : int
        Findings listed per check in a report (all are counted).
    context_days : int
        Calendar days of stored history on each side of a load that its checks see
        (default 366: a year of returns sets the outlier scale of a one-day append).
    """

    def __init__(
        self,
        root: str | Path,
        outlier_z: float = OUTLIER_Z,
        min_returns: int = MIN_RETURNS,
        max_listed: int = MAX_LISTED,
        context_days: int = 366,
    ):
        self.root = str(root)
        if "://" not in self.root:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        self.outlier_z = outlier_z
        self.min_returns = min_returns
        self.max_listed = max_listed
        self.context_days = context_days

    @classmethod
    def from_config(cls, store_config: Any) -> MarketHistory:
        """From a :class:`riskstream.store.config.StoreConfig` (its ``history`` folder)."""
        return cls(store_config.history)

    def uri(self, table: str) -> str:
        if table not in MARKET_TABLES:
            raise InputError("table", table, f"one of {', '.join(MARKET_TABLES)}")
        return f"{self.root.rstrip('/')}/{table}"

    def exists(self, kind: str) -> bool:
        """Whether table ``kind`` (a kind or another of :data:`MARKET_TABLES`) exists."""
        return DeltaTable.is_deltatable(self.uri(kind))

    def version(self, kind: str) -> int:
        """The table's current Delta version (-1 if it does not exist yet)."""
        return DeltaTable(self.uri(kind)).version() if self.exists(kind) else -1

    # -- writing ---------------------------------------------------------------------------
    def load(
        self,
        frame: pl.DataFrame,
        kind: Literal["prices", "curves", "vols"],
        source: str,
        *,
        fill: Literal["forward"] | None = None,
        loaded_ns: int | None = None,
    ) -> HistoryLoadReport:
        """Check and upsert validated rows of ``kind`` (one Delta version per table written).

        Parameters
        ----------
        frame : polars.DataFrame
            The canonical columns of ``kind`` (``read_history_file``'s output), each key
            once.
        kind : {"prices", "curves", "vols"}
        source : str
            Provenance written with every row ("file:prices.csv", "simulator", "live").
        fill : {"forward"}, optional
            Also write the gaps filled by carrying the last observation forward (source
            "fill:forward"). Default: gaps are only reported.
        loaded_ns : int, optional
            The ``loaded_ns`` stamp (ns since the epoch, UTC); default the wall clock.

        Returns
        -------
        HistoryLoadReport
            Rows written and quarantined, the series and dates written, the new version
            and every quality check.

        Raises
        ------
        InputError
            Wrong columns, a null, a repeated key, or an unknown ``kind`` or ``fill``.
        """
        kind = check_kind(kind)
        if fill not in (None, "forward"):
            raise InputError("fill", fill, "None or 'forward'")
        rows = self._canonical(frame, kind)
        stamp = time.time_ns() if loaded_ns is None else int(loaded_ns)
        quality: dict[str, QualityCheck] = {}
        quarantined = rows.clear()
        if kind == "prices":
            rows, quarantined = split_non_positive(rows)
            quality["non_positive"] = QualityCheck(
                quarantined.height,
                records(quarantined.select("symbol", "date", "close"), self.max_listed),
                {"action": "quarantined"},
            )
        # the checks see each touched series as it will be stored: the load among its
        # stored neighbours (the load wins where keys meet)
        combined = pl.concat(
            [
                rows.with_columns(pl.lit(True).alias(LOADED)),
                self._context(kind, rows).with_columns(pl.lit(False).alias(LOADED)),
            ]
        )
        quality["gaps"] = check_gaps(combined, kind, self.max_listed)
        if kind == "prices":
            quality["stale"] = check_stale(combined, self.max_listed)
            quality["outliers"] = check_outliers(
                combined, self.outlier_z, self.min_returns, self.max_listed
            )
        filled = forward_fill_rows(combined, kind) if fill == "forward" else rows.clear()
        quality["filled"] = QualityCheck(
            filled.height,
            records(
                filled.select(SERIES[kind], "date").unique(maintain_order=True), self.max_listed
            ),
            {"method": fill, "source": FILL_SOURCE},
        )
        written = pl.concat(
            [
                rows.with_columns(source=pl.lit(source), loaded_ns=pl.lit(stamp, pl.Int64)),
                filled.with_columns(source=pl.lit(FILL_SOURCE), loaded_ns=pl.lit(stamp, pl.Int64)),
            ]
        )
        if quarantined.height:
            self._append(
                "history_quarantine",
                quarantined.select(
                    kind=pl.lit(kind),
                    date="date",
                    series=SERIES[kind],
                    value="close",
                    reason=pl.lit("non-positive close: its log return is undefined"),
                    source=pl.lit(source),
                    loaded_ns=pl.lit(stamp, pl.Int64),
                ),
            )
        if written.height:
            self._upsert(kind, written)
        return HistoryLoadReport(
            kind=kind,
            source=source,
            rows_in=frame.height,
            rows_loaded=written.height,
            rows_quarantined=quarantined.height,
            series=written[SERIES[kind]].n_unique(),
            first_date=written["date"].min() if written.height else None,
            last_date=written["date"].max() if written.height else None,
            version=self.version(kind),
            quality=quality,
        )

    def replace_source(self, frame: pl.DataFrame, kind: Kind, source: str) -> HistoryLoadReport:
        """Replace every row of ``source`` in ``kind`` by ``frame`` (a regenerated simulated
        history): the old rows of that source are deleted, and where ``frame`` meets a key
        another source holds (a user's loaded closes), the other source's row is kept.
        Both steps are Delta versions, so the previous history stays readable by time
        travel."""
        kind = check_kind(kind)
        if self.exists(kind):
            DeltaTable(self.uri(kind)).delete(f"source = '{source.replace(chr(39), chr(39) * 2)}'")
            held = self.scan(kind)
            if held is not None:
                keys = list(KEYS[kind])
                frame = frame.join(held.select(keys).collect(), on=keys, how="anti")
        return self.load(frame, kind, source=source)

    def append_intraday(self, bars: pl.DataFrame, source: str, loaded_ns: int) -> int:
        """Append intraday bar closes (columns ts [int64 ns], symbol, close) to
        ``prices_intraday``; returns the rows written."""
        if bars.height == 0:
            return 0
        rows = bars.select(
            pl.col("ts").cast(pl.Int64),
            pl.col("symbol").cast(pl.String),
            pl.col("close").cast(pl.Float64),
            source=pl.lit(source),
            loaded_ns=pl.lit(loaded_ns, pl.Int64),
        ).with_columns(date=pl.from_epoch("ts", time_unit="ns").dt.date())
        self._append("prices_intraday", rows, partition_by=["date"])
        return rows.height

    def append_fx_rates(self, rates: pl.DataFrame, loaded_ns: int) -> int:
        """Append one or more publications of aggregated FX rates to ``fx_rates``.

        Parameters
        ----------
        rates : polars.DataFrame
            Columns ts, as_of_ns, base, currency, rate, sources, provenance, responses (see
            the module docstring); rates must be positive and finite.
        loaded_ns : int
            The ``loaded_ns`` stamp.

        Returns
        -------
        int
            Rows written.
        """
        if sorted(rates.columns) != sorted(_FX_SCHEMA):
            raise InputError("columns", rates.columns, f"exactly {', '.join(_FX_SCHEMA)}")
        if rates.height == 0:
            return 0
        rows = rates.select(pl.col(n).cast(t) for n, t in _FX_SCHEMA.items())
        bad = rows.filter(~(pl.col("rate").is_finite() & (pl.col("rate") > 0)))
        if bad.height:
            raise InputError(
                "rate", bad["rate"][0], f"a positive finite rate ({bad['currency'][0]})"
            )
        rows = rows.with_columns(
            source=pl.lit(FX_SOURCE),
            loaded_ns=pl.lit(loaded_ns, pl.Int64),
            date=pl.from_epoch("ts", time_unit="ns").dt.date(),
        )
        self._append("fx_rates", rows, partition_by=["date"])
        return rows.height

    def fx_rates(
        self,
        base: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        latest: bool = False,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Published FX rates with ``start_ns <= ts < end_ns`` (columns of
        :data:`_FX_SCHEMA`), sorted by ts, base, currency; ``latest`` keeps only each
        base's newest publication in that window."""
        scan = self.scan("fx_rates", version)
        if scan is None:
            return pl.DataFrame(schema=_FX_SCHEMA)
        if base is not None:
            scan = scan.filter(pl.col("base") == base)
        if start_ns is not None:
            scan = scan.filter(pl.col("ts") >= start_ns)
        if end_ns is not None:
            scan = scan.filter(pl.col("ts") < end_ns)
        if latest:
            scan = scan.filter(pl.col("ts") == pl.col("ts").max().over("base"))
        return scan.select(list(_FX_SCHEMA)).sort("ts", "base", "currency").collect()

    def _context(self, kind: str, rows: pl.DataFrame) -> pl.DataFrame:
        """Stored rows of the series in ``rows`` within ``context_days`` of its dates, less
        the keys ``rows`` replaces."""
        scan = self.scan(kind)
        if scan is None or rows.height == 0:
            return rows.clear()
        margin = dt.timedelta(days=self.context_days)
        series = SERIES[kind]
        stored = (
            scan.filter(
                pl.col(series).is_in(rows[series].unique().to_list()),
                pl.col("date") >= rows["date"].min() - margin,
                pl.col("date") <= rows["date"].max() + margin,
            )
            .select(list(SCHEMAS[kind]))
            .collect()
        )
        return stored.join(rows.select(KEYS[kind]), on=list(KEYS[kind]), how="anti")

    def _canonical(self, frame: pl.DataFrame, kind: str) -> pl.DataFrame:
        schema = SCHEMAS[kind]
        if sorted(frame.columns) != sorted(schema):
            raise InputError("columns", frame.columns, f"exactly {', '.join(schema)}")
        rows = frame.select(pl.col(n).cast(t) for n, t in schema.items())
        nulls = [n for n in schema if rows[n].null_count()]
        if nulls:
            raise InputError("columns", nulls, "no missing values")
        keys = list(KEYS[kind])
        if rows.select(keys).is_duplicated().any():
            raise InputError("key", keys, f"each ({', '.join(keys)}) once in a load")
        return rows

    def _upsert(self, kind: str, rows: pl.DataFrame) -> None:
        data = _arrow(rows.sort(list(KEYS[kind])))
        if not self.exists(kind):
            write_deltalake(self.uri(kind), data, mode="append", writer_properties=_WRITER)
            return
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in KEYS[kind])
        (
            DeltaTable(self.uri(kind))
            .merge(
                data,
                predicate,
                source_alias="s",
                target_alias="t",
                writer_properties=_WRITER,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )

    def _append(
        self, table: str, rows: pl.DataFrame, partition_by: list[str] | None = None
    ) -> None:
        write_deltalake(
            self.uri(table),
            _arrow(rows),
            mode="append",
            partition_by=partition_by,
            writer_properties=_WRITER,
        )

    # -- maintenance -----------------------------------------------------------------------
    def compact(self) -> dict[str, Any]:
        """Rewrite each table's small files into large ones (Delta OPTIMIZE; each MERGE or
        live append adds files). The data, and every read's result, is unchanged; the
        rewrite is a new version."""
        return {
            table: DeltaTable(self.uri(table)).optimize.compact(writer_properties=_WRITER)
            for table in MARKET_TABLES
            if self.exists(table)
        }

    def vacuum(self, retention_hours: int = 168, dry_run: bool = False) -> dict[str, list[str]]:
        """Delete files no version younger than ``retention_hours`` references (time travel
        before that window stops working); returns the files per table."""
        return {
            table: DeltaTable(self.uri(table)).vacuum(
                retention_hours=retention_hours,
                dry_run=dry_run,
                enforce_retention_duration=False,
            )
            for table in MARKET_TABLES
            if self.exists(table)
        }

    # -- reading ---------------------------------------------------------------------------
    def scan(self, table: str, version: TimeTravel = None) -> pl.LazyFrame | None:
        """A lazy scan of ``table`` at ``version`` (None if the table does not exist)."""
        if not self.exists(table):
            return None
        return pl.scan_delta(self.uri(table), version=version)

    def _read(
        self,
        kind: Kind,
        series: Sequence[str] | None,
        start: dt.date | None,
        end: dt.date | None,
        version: TimeTravel,
    ) -> pl.DataFrame:
        scan = self.scan(kind, version)
        if scan is None:
            return empty_frame(kind)
        columns = list(SCHEMAS[kind])
        name = SERIES[kind]
        if series is not None:
            if isinstance(series, str):
                raise InputError(name + "s", series, "a sequence of names, not one string")
            scan = scan.filter(pl.col(name).is_in(list(series)))
        if start is not None:
            scan = scan.filter(pl.col("date") >= start)
        if end is not None:
            scan = scan.filter(pl.col("date") <= end)
        order = [name, "date", *columns[2:-1]] if kind != "prices" else ["symbol", "date"]
        return scan.select(columns).sort(order).collect()

    def prices(
        self,
        symbols: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Daily closes (date, symbol, close) with ``start <= date <= end``, sorted by
        symbol, date; all symbols when ``symbols`` is None."""
        return self._read("prices", symbols, start, end, version)

    def curves(
        self,
        currencies: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Zero curves (date, currency, tenor_years, zero_rate), sorted by currency, date,
        tenor_years."""
        return self._read("curves", currencies, start, end, version)

    def vols(
        self,
        underlyings: Sequence[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Implied vols (date, underlying, expiry_years, moneyness, implied_vol), sorted by
        underlying, date, expiry_years, moneyness."""
        return self._read("vols", underlyings, start, end, version)

    def last_closes(
        self,
        symbols: Sequence[str] | None = None,
        as_of: dt.date | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Each symbol's latest close on or before ``as_of`` (default: the latest stored):
        columns symbol, date, close, sorted by symbol. Symbols with no close then are
        absent."""
        closes = self.prices(symbols, end=as_of, version=version)
        return (
            closes.group_by("symbol", maintain_order=True)
            .last()  # sorted by symbol, date: the last row is the latest date
            .select("symbol", "date", "close")
        )

    def intraday(
        self,
        symbols: Sequence[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        version: TimeTravel = None,
    ) -> pl.DataFrame:
        """Intraday bar closes (ts, symbol, close) with ``start_ns <= ts < end_ns``, sorted
        by symbol, ts."""
        scan = self.scan("prices_intraday", version)
        if scan is None:
            return pl.DataFrame(schema={"ts": pl.Int64, "symbol": pl.String, "close": pl.Float64})
        if symbols is not None:
            scan = scan.filter(pl.col("symbol").is_in(list(symbols)))
        if start_ns is not None:
            scan = scan.filter(pl.col("ts") >= start_ns)
        if end_ns is not None:
            scan = scan.filter(pl.col("ts") < end_ns)
        return scan.select("ts", "symbol", "close").sort("symbol", "ts").collect()

    def quarantine(self, version: TimeTravel = None) -> pl.DataFrame:
        """Quarantined rows with their reason and source, sorted by kind, series, date."""
        scan = self.scan("history_quarantine", version)
        if scan is None:
            return pl.DataFrame(schema=_QUARANTINE_SCHEMA)
        return scan.sort("kind", "series", "date").collect()

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per kind: rows, series (distinct symbols / currencies / underlyings), first_date,
        last_date (ISO strings or None), version (-1 if never written)."""
        out: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            scan = self.scan(kind)
            if scan is None:
                out[kind] = {
                    "rows": 0,
                    "series": 0,
                    "first_date": None,
                    "last_date": None,
                    "version": -1,
                }
                continue
            stats = scan.select(
                pl.len().alias("rows"),
                pl.col(SERIES[kind]).n_unique().alias("series"),
                pl.col("date").min().alias("first_date"),
                pl.col("date").max().alias("last_date"),
            ).collect()
            row = stats.row(0, named=True)
            out[kind] = {
                "rows": int(row["rows"]),
                "series": int(row["series"]) if row["rows"] else 0,
                "first_date": row["first_date"].isoformat() if row["first_date"] else None,
                "last_date": row["last_date"].isoformat() if row["last_date"] else None,
                "version": self.version(kind),
            }
        return out
