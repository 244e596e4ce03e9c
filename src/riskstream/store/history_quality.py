"""Data-quality checks of market history: gaps, stale prices, outlier returns, non-positive.

Each check flags and counts; none changes the data. The one adjustment, a forward fill of
the gaps, happens only when asked (``fill="forward"``) and its rows are marked.

Checks (per series: a symbol, a currency or an underlying)
-----------------------------------------------------------
Each check sees a series as it will be stored: the loaded rows (column :data:`LOADED`
True) with the stored rows around them (False), so a one-day live append is checked against
its history. Only findings that involve a loaded row are reported.

gaps
    Business days missing inside a series' span that border a loaded row (the
    observation before or after the missing day is one). The
    calendar is Monday to Friday: exchange holidays (Good Friday, 25 December, ...) are
    reported as gaps too, since a user holiday calendar is out of scope; read them as
    "no observation on a weekday". Counted per missing (series, day).
stale (prices)
    The same close on consecutive observations: a run of ``length >= 2`` equal closes is
    one finding (a feed that stopped updating repeats its last value). Counted per run;
    ``rows`` sums the runs' lengths.
outliers (prices)
    Daily log returns :math:`r_t = \\ln(c_t / c_{t-1})` between consecutive observations,
    scored by the robust z-score

    .. math:: z_t = \\frac{|r_t - \\operatorname{median}(r)|}{1.4826\\,\\operatorname{MAD}(r)},
       \\qquad \\operatorname{MAD}(r) = \\operatorname{median}|r - \\operatorname{median}(r)|,

    flagged when :math:`z_t >` ``outlier_z`` (default 10). 1.4826 = 1/Φ⁻¹(3/4) makes
    1.4826·MAD a consistent estimator of the standard deviation for normal data (Hampel
    1974, JASA 69; Rousseeuw & Croux 1993, JASA 88, "Alternatives to the median absolute
    deviation"); the median and MAD have a 50% breakdown point, so a few bad prints cannot
    hide themselves by inflating the scale, as they would with a mean and standard
    deviation. Daily returns are fat-tailed (a 1987-style -20% day is about 19 robust
    standard deviations of a 1.2%-vol index), so the threshold is set far out, at 10, to
    flag likely bad prints (a missing decimal, a wrong currency), not merely big market
    days. A series with fewer than ``min_returns`` returns, or a MAD of zero (mostly
    unchanged closes), has no reliable scale: it is listed under ``skipped``, not scored.
non_positive (prices)
    A close ``<= 0``: its log return is undefined, so it cannot be stored as a price; it is
    quarantined (``history_quarantine`` table, with reason and source) and counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from riskstream.store.history_files import SERIES

MAD_TO_SIGMA = 1.4826
"""1/Φ⁻¹(3/4) to 4 decimals: σ ≈ 1.4826·MAD for normal data (Rousseeuw & Croux 1993)."""
OUTLIER_Z = 10.0
MIN_RETURNS = 20
MAX_LISTED = 20
CALENDAR = "Monday-Friday (no holiday calendar)"


@dataclass
class QualityCheck:
    """One check's result: how many findings, the first ``MAX_LISTED`` of them, settings."""

    count: int
    flagged: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "flagged": self.flagged, **self.settings}


@dataclass
class HistoryLoadReport:
    """What a :meth:`~riskstream.store.market_history.MarketHistory.load` did and found.

    ``rows_loaded`` counts rows written (including forward-filled ones, excluding
    quarantined ones); ``series``, ``first_date`` and ``last_date`` describe those rows;
    ``version`` is the table's Delta version after the write (-1 if nothing was ever
    written). ``quality`` maps each check name (gaps, stale, outliers, non_positive,
    filled) to its :class:`QualityCheck`.
    """

    kind: str
    source: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    series: int
    first_date: dt.date | None
    last_date: dt.date | None
    version: int
    quality: dict[str, QualityCheck]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able record (dates as ISO strings)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "series": self.series,
            "first_date": _iso(self.first_date),
            "last_date": _iso(self.last_date),
            "version": self.version,
            "quality": {name: check.as_dict() for name, check in self.quality.items()},
        }


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def records(frame: pl.DataFrame, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows as JSON-able dicts (dates as ISO strings)."""
    head = frame.head(limit)
    return [
        {k: (_iso(v) if isinstance(v, dt.date) else v) for k, v in row.items()}
        for row in head.iter_rows(named=True)
    ]


LOADED = "loaded"
"""Boolean column marking the rows of the load among the stored context rows."""


def _flagged(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the :data:`LOADED` column (all True when absent: all rows are new)."""
    return frame if LOADED in frame.columns else frame.with_columns(pl.lit(True).alias(LOADED))


def missing_business_days(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Every Monday-Friday day without an observation inside a series' first-to-last-date
    span that borders a loaded row (its previous or next observation date is one).

    Returns columns (series, date, from_date), sorted; ``from_date`` is the series' latest
    observation date before the missing day (what a forward fill copies).
    """
    series = SERIES[kind]
    frame = _flagged(frame)
    # one row per observed (series, date): loaded if any of its rows is (a curve's tenors)
    present = frame.group_by(series, "date").agg(pl.col(LOADED).any()).sort(series, "date")
    same_series = (pl.col(series) == pl.col(series).shift(1)).fill_null(False)
    pairs = present.select(
        series,
        pl.col("date").shift(1).alias("from_date"),
        pl.col("date").alias("to_date"),
        (same_series & (pl.col(LOADED) | pl.col(LOADED).shift(1))).alias("_borders"),
    ).filter(pl.col("_borders"))
    # weekdays strictly between consecutive observations (numpy's Monday-Friday calendar)
    first = pairs["from_date"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
    stop = pairs["to_date"].to_numpy().astype("datetime64[D]")
    count = np.busday_count(first, stop)
    has_gap = count > 0
    first, count = first[has_gap], count[has_gap]
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    days = np.busday_offset(np.repeat(first, count), step, roll="forward")
    gapped = pairs.filter(pl.Series(has_gap))
    return pl.DataFrame(
        {
            series: gapped[series].gather(np.repeat(np.arange(len(count)), count)),
            "date": pl.Series(days, dtype=pl.Date),
            "from_date": gapped["from_date"].gather(np.repeat(np.arange(len(count)), count)),
        },
        schema={series: pl.String, "date": pl.Date, "from_date": pl.Date},
    )


def check_gaps(frame: pl.DataFrame, kind: str, max_listed: int = MAX_LISTED) -> QualityCheck:
    """Missing business days next to loaded rows (:func:`missing_business_days`)."""
    missing = missing_business_days(frame, kind).drop("from_date")
    return QualityCheck(missing.height, records(missing, max_listed), {"calendar": CALENDAR})


def check_stale(prices: pl.DataFrame, max_listed: int = MAX_LISTED) -> QualityCheck:
    """Runs of >= 2 equal consecutive closes per symbol that contain a loaded row."""
    ordered = _flagged(prices).sort("symbol", "date")
    same_series = (pl.col("symbol") == pl.col("symbol").shift(1)).fill_null(False)
    repeat = same_series & (pl.col("close") == pl.col("close").shift(1)).fill_null(False)
    runs = (
        ordered.with_columns((~repeat).cum_sum().alias("_run"))  # a run id, global
        .group_by("_run", maintain_order=True)
        .agg(
            pl.col("symbol").first(),
            pl.col("date").first().alias("first_date"),
            pl.col("date").last().alias("last_date"),
            pl.len().alias("length"),
            pl.col("close").first(),
            pl.col(LOADED).any().alias("_loaded"),
        )
        .filter((pl.col("length") >= 2) & pl.col("_loaded"))
        .drop("_run", "_loaded")
    )
    return QualityCheck(
        runs.height,
        records(runs, max_listed),
        {"rows": int(runs["length"].sum()) if runs.height else 0, "min_run": 2},
    )


def log_returns(prices: pl.DataFrame) -> pl.DataFrame:
    """Per symbol, ``log_return = ln(close / previous close)`` between consecutive
    observations (sorted by symbol, date; the first observation has none and is left out).
    Closes must be positive. A return is *loaded* when either of its closes is."""
    prices = _flagged(prices)
    same_series = pl.col("symbol") == pl.col("symbol").shift(1)
    return (
        prices.sort("symbol", "date")
        .with_columns(
            pl.when(same_series).then(pl.col("close").shift(1)).alias("prev_close"),
            (pl.col(LOADED) | pl.col(LOADED).shift(1)).alias(LOADED),
        )
        .filter(pl.col("prev_close").is_not_null())
        .with_columns((pl.col("close") / pl.col("prev_close")).log().alias("log_return"))
    )


def check_outliers(
    prices: pl.DataFrame,
    outlier_z: float = OUTLIER_Z,
    min_returns: int = MIN_RETURNS,
    max_listed: int = MAX_LISTED,
) -> QualityCheck:
    """Loaded returns with robust z-score above ``outlier_z``, the median and MAD taken
    over all of the series' returns given (stored context and load; see the module
    docstring)."""
    returns = log_returns(prices)
    r = pl.col("log_return")
    scored = returns.with_columns(
        r.median().over("symbol").alias("_median"), pl.len().over("symbol").alias("_n")
    ).with_columns((r - pl.col("_median")).abs().median().over("symbol").alias("_mad"))
    usable = (pl.col("_n") >= min_returns) & (pl.col("_mad") > 0)
    skipped = (
        scored.filter(~usable & pl.col(LOADED))
        .group_by("symbol", maintain_order=True)
        .agg(pl.col("_n").first().alias("returns"), pl.col("_mad").first().alias("mad"))
        .sort("symbol")
    )
    flagged = (
        scored.filter(usable & pl.col(LOADED))
        .with_columns(
            ((r - pl.col("_median")).abs() / (MAD_TO_SIGMA * pl.col("_mad"))).alias("robust_z")
        )
        .filter(pl.col("robust_z") > outlier_z)
        .select("symbol", "date", "close", "prev_close", "log_return", "robust_z")
    )
    return QualityCheck(
        flagged.height,
        records(flagged, max_listed),
        {
            "threshold_z": outlier_z,
            "mad_to_sigma": MAD_TO_SIGMA,
            "min_returns": min_returns,
            "skipped": records(skipped, max_listed),
        },
    )


def split_non_positive(prices: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with close > 0, rows with close <= 0)."""
    positive = pl.col("close") > 0
    return prices.filter(positive), prices.filter(~positive)


def forward_fill_rows(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Rows for every reported gap (:func:`missing_business_days`), copying the series'
    latest earlier observation date (stored or loaded): its close, or its whole curve or
    surface (every tenor, or every expiry × moneyness, of that date). Returns the
    canonical columns of ``kind`` (without :data:`LOADED`)."""
    series = SERIES[kind]
    columns = [c for c in frame.columns if c != LOADED]
    missing = missing_business_days(frame, kind)
    if missing.height == 0:
        return frame.select(columns).clear()
    filled = missing.join(
        frame.select(columns).rename({"date": "from_date"}), on=[series, "from_date"]
    )
    return filled.select(columns).sort(series, "date")
