"""Data-quality checks of a history load, on a crafted file whose answers are worked by hand."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import median_abs_deviation, norm

from riskstream.store.history_files import SCHEMAS, read_history_file
from riskstream.store.history_quality import (
    MAD_TO_SIGMA,
    check_outliers,
    check_stale,
    forward_fill_rows,
    log_returns,
    missing_business_days,
)
from riskstream.store.market_history import FILL_SOURCE, MarketHistory

D = dt.date

# AAA: 28 observations on the weekdays of 2024-01-01 (Mon) .. 2024-02-09 (Fri) except
# Wed 10 and Thu 11 January (2 gaps). Closes alternate 100/101, with a stale run
# 100, 100, 100 on 9, 12, 15 January and a bad print 1010 (a slipped decimal) on 19 January.
AAA_CLOSES = [100, 101, 100, 101, 100, 101, 100, 100, 100, 101, 100, 101, 1010, 101]
AAA_CLOSES += [100 if i % 2 == 0 else 101 for i in range(14, 28)]
AAA_DAYS = [
    d
    for d in (D(2024, 1, 1) + dt.timedelta(days=i) for i in range(40))
    if d.weekday() < 5 and d not in (D(2024, 1, 10), D(2024, 1, 11))
]
# BBB: Mon-Fri 1-5 January with a zero and a negative close (quarantined; their days
# become gaps). CCC: Fri 5, Mon 8, Wed 10 January (the weekend is no gap; Tue 9 is).
# DDD: a Saturday then a Monday (no weekday missing in between).
OTHER_ROWS = [
    ("2024-01-01", "BBB", "50"),
    ("2024-01-02", "BBB", "0"),
    ("2024-01-03", "BBB", "51"),
    ("2024-01-04", "BBB", "-5"),
    ("2024-01-05", "BBB", "52"),
    ("2024-01-05", "CCC", "10.0"),
    ("2024-01-08", "CCC", "10.5"),
    ("2024-01-10", "CCC", "11.0"),
    ("2024-01-06", "DDD", "5.0"),
    ("2024-01-08", "DDD", "5.5"),
]


def crafted_file(folder: Path) -> Path:
    assert len(AAA_DAYS) == len(AAA_CLOSES) == 28
    lines = ["date,symbol,close"]
    lines += [f"{d.isoformat()},AAA,{c}" for d, c in zip(AAA_DAYS, AAA_CLOSES, strict=True)]
    lines += [",".join(row) for row in OTHER_ROWS]
    path = folder / "crafted.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def history(tmp_path) -> MarketHistory:
    return MarketHistory(tmp_path / "history")


def test_crafted_file_counts_worked_by_hand(history, tmp_path) -> None:
    frame = read_history_file(crafted_file(tmp_path), "prices")
    report = history.load(frame, "prices", "file:crafted.csv")
    q = report.quality
    assert report.rows_in == 38  # 28 AAA + 5 BBB + 3 CCC + 2 DDD
    # non-positive: BBB's 0 (2 Jan) and -5 (4 Jan), quarantined, not stored
    assert q["non_positive"].count == report.rows_quarantined == 2
    assert report.rows_loaded == 36
    assert history.prices(["BBB"])["close"].to_list() == [50.0, 51.0, 52.0]
    quarantine = history.quarantine()
    assert quarantine.select("date", "series", "value", "source").rows() == [
        (D(2024, 1, 2), "BBB", 0.0, "file:crafted.csv"),
        (D(2024, 1, 4), "BBB", -5.0, "file:crafted.csv"),
    ]
    assert quarantine["reason"].str.contains("non-positive").all()
    # gaps: AAA 10 and 11 Jan, BBB 2 and 4 Jan (the quarantined days), CCC 9 Jan = 5;
    # DDD's Saturday-to-Monday and CCC's weekend are not gaps (Monday-Friday calendar)
    assert q["gaps"].count == 5
    assert [(g["symbol"], g["date"]) for g in q["gaps"].flagged] == [
        ("AAA", "2024-01-10"),
        ("AAA", "2024-01-11"),
        ("BBB", "2024-01-02"),
        ("BBB", "2024-01-04"),
        ("CCC", "2024-01-09"),
    ]
    # stale: one run, AAA's 100 on 9, 12 and 15 January (3 rows); nothing else repeats
    assert q["stale"].count == 1
    assert q["stale"].settings["rows"] == 3
    assert q["stale"].flagged == [
        {
            "symbol": "AAA",
            "first_date": "2024-01-09",
            "last_date": "2024-01-15",
            "length": 3,
            "close": 100.0,
        }
    ]
    # outliers: AAA's 27 returns are 12 x +a, 11 x -a (a = ln 1.01), two zeros (the stale
    # run) and +-ln 10 (into and out of the bad print). Sorted, the 14th of 27 is 0: the
    # median. The 14th smallest |r| is a: MAD = a. So z(+-a) = 1/1.4826 = 0.67, z(0) = 0,
    # and z(+-ln 10) = ln 10 / (1.4826 ln 1.01) = 156.1 > 10: exactly 2 outliers.
    outliers = q["outliers"]
    assert outliers.count == 2
    assert [(o["date"], o["close"]) for o in outliers.flagged] == [
        ("2024-01-19", 1010.0),
        ("2024-01-22", 101.0),
    ]
    hand_z = math.log(10) / (1.4826 * math.log(1.01))
    for o in outliers.flagged:
        # tolerance: ln(101/100) and -ln(100/101) differ in the last bits only
        assert o["robust_z"] == pytest.approx(hand_z, rel=1e-12)
    # BBB, CCC, DDD have 1-2 returns each: too few to score (min_returns = 20)
    assert {s["symbol"] for s in outliers.settings["skipped"]} == {"BBB", "CCC", "DDD"}
    assert q["filled"].count == 0
    assert history.prices(["AAA"]).height == 28  # flagged, never changed


def test_fill_forward_writes_marked_rows_for_each_gap(history, tmp_path) -> None:
    frame = read_history_file(crafted_file(tmp_path), "prices")
    report = history.load(frame, "prices", "file:crafted.csv", fill="forward")
    assert report.quality["gaps"].count == 5
    assert report.quality["filled"].count == 5
    assert report.rows_loaded == 36 + 5
    raw = history.scan("prices").collect()
    filled = raw.filter(pl.col("source") == FILL_SOURCE).sort("symbol", "date")
    # each missing weekday takes the series' last earlier close
    assert filled.select("symbol", "date", "close").rows() == [
        ("AAA", D(2024, 1, 10), 100.0),  # 9 Jan's close
        ("AAA", D(2024, 1, 11), 100.0),
        ("BBB", D(2024, 1, 2), 50.0),  # 1 Jan's
        ("BBB", D(2024, 1, 4), 51.0),  # 3 Jan's
        ("CCC", D(2024, 1, 9), 10.5),  # 8 Jan's
    ]
    assert (raw["source"] == "file:crafted.csv").sum() == 36


def test_fill_forward_copies_a_whole_curve(history) -> None:
    curves = pl.DataFrame(
        {
            "date": [D(2024, 1, 5)] * 2 + [D(2024, 1, 9)] * 2,  # Fri, then Tue: Mon missing
            "currency": ["USD"] * 4,
            "tenor_years": [1.0, 10.0, 1.0, 10.0],
            "zero_rate": [0.05, 0.04, 0.051, 0.041],
        }
    )
    report = history.load(curves, "curves", "t", fill="forward")
    assert report.quality["gaps"].count == 1  # (USD, Mon 8 Jan)
    assert report.quality["filled"].count == 2  # both tenors of Friday's curve
    monday = history.curves(start=D(2024, 1, 8), end=D(2024, 1, 8))
    assert monday.select("tenor_years", "zero_rate").rows() == [(1.0, 0.05), (10.0, 0.04)]


def test_robust_z_agrees_with_scipy() -> None:
    """The score against scipy's MAD with scale="normal" (1/Φ⁻¹(3/4)): 1.4826 is that
    constant to 4 decimals, so scores agree to 2e-5 relative (|1.4826 Φ⁻¹(3/4) - 1| =
    1.5e-6)."""
    assert pytest.approx(1 / norm.ppf(0.75), rel=2e-6) == MAD_TO_SIGMA
    rng = np.random.default_rng(3)
    closes = 100 * np.exp(np.cumsum(rng.standard_t(3, 300) * 0.01))
    closes[150] *= 1.6  # a bad print
    frame = pl.DataFrame(
        {
            "date": np.datetime64("2020-01-01") + np.arange(300),
            "symbol": "X",
            "close": closes,
        }
    )
    check = check_outliers(frame, outlier_z=10.0, min_returns=20, max_listed=1000)
    r = log_returns(frame)["log_return"].to_numpy()
    z = np.abs(r - np.median(r)) / median_abs_deviation(r, scale="normal")
    expected = np.flatnonzero(z > 10.0)
    assert check.count == len(expected) >= 2  # into and out of the bad print at least
    got = np.array([o["robust_z"] for o in check.flagged])
    np.testing.assert_allclose(got, z[expected], rtol=2e-5)


def test_a_small_append_is_checked_against_the_stored_history(history) -> None:
    """A one-day load is scored with the stored series around it (``context_days``)."""
    days = [d for d in (D(2024, 1, 1) + dt.timedelta(days=i) for i in range(33)) if d.weekday() < 5]
    assert len(days) == 25 and days[-1] == D(2024, 2, 2)  # Mon 1 Jan .. Fri 2 Feb
    closes = [100.0 if i % 2 == 0 else 101.0 for i in range(25)]
    first = history.load(
        pl.DataFrame({"date": days, "symbol": "X", "close": closes}), "prices", "file:x.csv"
    )
    assert [first.quality[c].count for c in ("gaps", "stale", "outliers")] == [0, 0, 0]
    # Wed 7 Feb at 1010 (a slipped decimal); Mon 5 and Tue 6 missing
    append = pl.DataFrame({"date": [D(2024, 2, 7)], "symbol": "X", "close": [1010.0]})
    report = history.load(append, "prices", "live", fill="forward")
    q = report.quality
    # gaps: 5 and 6 Feb, between the stored 2 Feb and the loaded 7 Feb; filled with 2 Feb's 100
    assert [g["date"] for g in q["gaps"].flagged] == ["2024-02-05", "2024-02-06"]
    assert q["filled"].count == 2
    assert history.prices(start=D(2024, 2, 5), end=D(2024, 2, 6))["close"].to_list() == [
        100.0,
        100.0,
    ]
    # outliers, worked by hand: the 25 returns are 12 x -a, 12 x +a (a = ln 1.01) and
    # ln(1010/100). Median = 13th smallest = +a; |r - a| is 0 (12x), 2a (12x) and
    # ln 10.1 - a = ln 10, so MAD = 2a and z = ln 10 / (1.4826 * 2 ln 1.01) = 78.0 > 10.
    # Only that return involves the load, so only it is reported.
    assert q["outliers"].count == 1
    (outlier,) = q["outliers"].flagged
    assert (outlier["date"], outlier["prev_close"]) == ("2024-02-07", 100.0)
    # tolerance: ln(101/100) and -ln(100/101) differ in the last bits only
    assert outlier["robust_z"] == pytest.approx(
        math.log(10) / (1.4826 * 2 * math.log(1.01)), rel=1e-12
    )
    # stale: 2, 5 and 6 Feb (the fill) repeat 100 but involve no loaded row; the run that
    # does is 7-8 Feb at 1010
    again = pl.DataFrame({"date": [D(2024, 2, 8)], "symbol": "X", "close": [1010.0]})
    stale = history.load(again, "prices", "live").quality["stale"]
    assert stale.count == 1 and stale.flagged[0]["first_date"] == "2024-02-07"


@st.composite
def series_frames(draw):
    """Price rows of 1-3 symbols on random calendar days (weekends included), each row
    loaded or stored context at random, with a few repeated closes."""
    rows = []
    for symbol in draw(st.lists(st.sampled_from("ABC"), min_size=1, max_size=3, unique=True)):
        offsets = draw(st.lists(st.integers(0, 40), min_size=1, max_size=15, unique=True))
        for offset in sorted(offsets):
            rows.append(
                {
                    "date": D(2024, 3, 1) + dt.timedelta(days=offset),
                    "symbol": symbol,
                    "close": float(draw(st.sampled_from([1, 2, 2, 3]))),
                    "loaded": draw(st.booleans()),
                }
            )
    return pl.DataFrame(rows, schema={**SCHEMAS["prices"], "loaded": pl.Boolean})


@settings(max_examples=60, deadline=None)
@given(series_frames())
def test_gaps_stale_and_fill_match_brute_force(frame: pl.DataFrame) -> None:
    """The vectorised checks against their definitions, by plain loops over each series."""
    gaps, runs = set(), set()
    for (symbol,), rows in frame.sort("date").group_by(["symbol"]):
        days, closes, loaded = (
            rows["date"].to_list(),
            rows["close"].to_list(),
            rows["loaded"].to_list(),
        )
        for i in range(1, len(days)):
            day = days[i - 1] + dt.timedelta(days=1)
            while day < days[i]:
                if day.weekday() < 5 and (loaded[i - 1] or loaded[i]):
                    gaps.add((symbol, day))
                day += dt.timedelta(days=1)
        start = 0
        for i in range(1, len(days) + 1):
            if i == len(days) or closes[i] != closes[start]:
                if i - start >= 2 and any(loaded[start:i]):
                    runs.add((symbol, days[start], i - start))
                start = i
    missing = missing_business_days(frame, "prices")
    assert set(missing.select("symbol", "date").iter_rows()) == gaps
    stale = check_stale(frame, max_listed=1000)
    assert {
        (r["symbol"], D.fromisoformat(r["first_date"]), r["length"]) for r in stale.flagged
    } == runs
    # a forward fill leaves no gap next to the loaded rows
    filled = forward_fill_rows(frame, "prices").with_columns(pl.lit(False).alias("loaded"))
    assert missing_business_days(pl.concat([frame, filled]), "prices").height == 0
