"""Data-quality KPIs of a run, per BCBS 239 principles 3-5 (Basel Committee, "Principles for
effective risk data aggregation and risk reporting", January 2013).

* **Accuracy and integrity (principle 3)**: of the book's stored price series over the
  last 12 months, the outlier returns (robust z-score > 10) and stale runs found by the
  history store's own checks (:mod:`riskstream.store.history_quality`), and the rows the
  store quarantined; the KPI is the share of checked closes not flagged.
* **Completeness (principle 4)**: the share of held instruments the run could mark (a
  stored close, or a model price for an option), and the share of factor-days of the
  history used that come from the factor's own series (not a proxy, not a gap).
* **Timeliness (principle 5)**: the age, in business days, of each held instrument's last
  stored close at the as-of date; the KPI is the share no older than
  :data:`TIMELY_BUSINESS_DAYS`.

Each KPI is a share in [0, 1] with the counts it comes from, so a dashboard can show the
figure and a reviewer the evidence.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from riskstream.store.history_quality import LOADED, check_outliers, check_stale

TIMELY_BUSINESS_DAYS = 1
CHECK_DAYS = 365


def _share(good: int, total: int) -> float:
    return 1.0 if total == 0 else good / total


def data_quality(
    held_symbols: list[str],
    unmarked: list[str],
    prices: pl.DataFrame,
    quarantined: int,
    factor_days: int,
    own_factor_days: int,
    as_of: dt.date,
) -> dict[str, Any]:
    """The KPIs of one run (see the module docstring).

    Parameters
    ----------
    held_symbols : list of str
        Symbols of the instruments held.
    unmarked : list of str
        Held symbols the run could not mark.
    prices : polars.DataFrame
        Stored closes ``date, symbol, close`` (the book's series, any dates).
    quarantined : int
        Rows of the book's series the store quarantined.
    factor_days, own_factor_days : int
        Factor-days of the history used, and those from the factor's own series.
    """
    held = sorted(set(held_symbols))
    first = as_of - dt.timedelta(days=CHECK_DAYS)
    book = prices.filter(pl.col("symbol").is_in(held) & (pl.col("date") <= as_of))
    flagged = book.with_columns((pl.col("date") >= first).alias(LOADED))
    checked = int(flagged[LOADED].sum())
    outliers = check_outliers(flagged)
    stale = check_stale(flagged)
    bad = outliers.count + stale.settings["rows"] + quarantined
    last = book.group_by("symbol").agg(pl.col("date").max().alias("last"))
    last_of = dict(zip(last["symbol"].to_list(), last["last"].to_list(), strict=True))
    ages = {s: int(np.busday_count(last_of[s], as_of)) if s in last_of else None for s in held}
    timely = sum(1 for a in ages.values() if a is not None and a <= TIMELY_BUSINESS_DAYS)
    late = sorted(
        ((s, a) for s, a in ages.items() if a is None or a > TIMELY_BUSINESS_DAYS),
        key=lambda x: -(x[1] if x[1] is not None else 10**9),
    )
    marked = len(held) - len(set(unmarked) & set(held))
    return {
        "accuracy": {
            "kpi": max(0.0, _share(checked - bad, checked)),
            "closes_checked": checked,
            "outlier_returns": outliers.count,
            "stale_closes": stale.settings["rows"],
            "quarantined": quarantined,
            "principle": "BCBS 239 principle 3",
        },
        "completeness": {
            "kpi": min(_share(marked, len(held)), _share(own_factor_days, factor_days)),
            "instruments_marked": _share(marked, len(held)),
            "instruments_held": len(held),
            "unmarked": sorted(set(unmarked) & set(held))[:20],
            "factor_days_own_series": _share(own_factor_days, factor_days),
            "principle": "BCBS 239 principle 4",
        },
        "timeliness": {
            "kpi": _share(timely, len(held)),
            "max_age_business_days": max((a for a in ages.values() if a is not None), default=0),
            "late": [{"symbol": s, "age_business_days": a} for s, a in late[:20]],
            "threshold_business_days": TIMELY_BUSINESS_DAYS,
            "principle": "BCBS 239 principle 5",
        },
    }
