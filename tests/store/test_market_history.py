"""Market history in the store: round trips, upserts, time travel, as-of closes, real data."""

from __future__ import annotations

import datetime as dt
import tempfile

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.store.config import StoreConfig
from riskstream.store.history import TABLES, HistoryStore
from riskstream.store.history_files import SCHEMAS, read_history_file
from riskstream.store.market_history import MARKET_TABLES, MarketHistory

D = dt.date


def prices_frame(rows: list[tuple[dt.date, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMAS["prices"], orient="row")


@pytest.fixture()
def history(tmp_path) -> MarketHistory:
    return MarketHistory(tmp_path / "history")


def test_empty_store_reads_empty_frames_with_the_schema(history) -> None:
    assert history.prices().schema == pl.Schema(SCHEMAS["prices"])
    assert history.curves().schema == pl.Schema(SCHEMAS["curves"])
    assert history.vols().schema == pl.Schema(SCHEMAS["vols"])
    assert history.last_closes().columns == ["symbol", "date", "close"]
    assert history.last_closes().height == 0
    assert history.intraday().height == 0
    assert history.quarantine().height == 0
    assert not history.exists("prices") and history.version("prices") == -1
    summary = history.summary()
    assert set(summary) == {"prices", "curves", "vols"}
    assert summary["prices"] == {
        "rows": 0,
        "series": 0,
        "first_date": None,
        "last_date": None,
        "version": -1,
    }


def test_tables_share_the_tick_store_folder_without_collisions(tmp_path) -> None:
    assert not set(MARKET_TABLES) & set(TABLES)
    config = StoreConfig(data_dir=tmp_path)
    market, ticks = MarketHistory.from_config(config), HistoryStore.from_config(config)
    assert market.root == ticks.root == str(tmp_path / "history")


def test_round_trip_of_each_kind_sorted_without_provenance(history) -> None:
    prices = prices_frame(
        [(D(2024, 1, 3), "B", 20.5), (D(2024, 1, 2), "B", 20.0), (D(2024, 1, 2), "A", 1.25)]
    )
    report = history.load(prices, "prices", "file:p.csv")
    assert (report.rows_loaded, report.series, report.version) == (3, 2, 0)
    assert (report.first_date, report.last_date) == (D(2024, 1, 2), D(2024, 1, 3))
    assert history.prices().equals(prices.sort("symbol", "date"))
    curves = pl.DataFrame(
        {
            "date": [D(2024, 1, 2)] * 3,
            "currency": ["USD", "EUR", "USD"],
            "tenor_years": [2.0, 1.0, 0.25],
            "zero_rate": [0.041, -0.002, 0.052],  # a negative (EUR) rate is a valid rate
        }
    )
    history.load(curves, "curves", "file:c.csv")
    assert history.curves().equals(curves.sort("currency", "date", "tenor_years"))
    assert history.curves(["EUR"])["zero_rate"].to_list() == [-0.002]
    vols = pl.DataFrame(
        {
            "date": [D(2024, 1, 2)] * 3,
            "underlying": ["SPX", "SPX", "NDX"],
            "expiry_years": [0.5, 0.25, 0.25],
            "moneyness": [1.0, 0.9, 1.0],
            "implied_vol": [0.15, 0.19, 0.21],
        }
    )
    history.load(vols, "vols", "file:v.csv")
    assert history.vols().equals(vols.sort("underlying", "date", "expiry_years", "moneyness"))
    # provenance is stored, though reads drop it
    raw = history.scan("prices").collect()
    assert set(raw.columns) == {"date", "symbol", "close", "source", "loaded_ns"}
    assert set(raw["source"]) == {"file:p.csv"}
    summary = history.summary()
    assert summary["prices"] == {
        "rows": 3,
        "series": 2,
        "first_date": "2024-01-02",
        "last_date": "2024-01-03",
        "version": 0,
    }
    assert summary["curves"]["series"] == 2 and summary["vols"]["series"] == 2


def test_filters_by_series_and_inclusive_date_range(history) -> None:
    days = [D(2024, 1, 1) + dt.timedelta(days=i) for i in range(10)]
    rows = [(d, s, float(i)) for i, d in enumerate(days) for s in ("A", "B", "C")]
    history.load(prices_frame(rows), "prices", "t")
    got = history.prices(["C", "A"], start=days[2], end=days[4])
    assert got["symbol"].to_list() == ["A"] * 3 + ["C"] * 3
    assert got["date"].to_list() == days[2:5] * 2
    with pytest.raises(InputError, match="symbols"):
        history.prices("A")  # one string is not a list of symbols


def test_upsert_is_idempotent_and_corrects_and_keeps_time_travel(history) -> None:
    first = prices_frame([(D(2024, 1, 2), "A", 10.0), (D(2024, 1, 3), "A", 11.0)])
    history.load(first, "prices", "file:a.csv", loaded_ns=1)
    history.load(first, "prices", "file:a.csv", loaded_ns=2)  # the same file again
    assert history.version("prices") == 1  # a new version ...
    assert history.prices().equals(first)  # ... and the same rows, not duplicates
    corrected = prices_frame([(D(2024, 1, 3), "A", 11.5), (D(2024, 1, 4), "A", 12.0)])
    report = history.load(corrected, "prices", "file:fix.csv", loaded_ns=3)
    assert report.version == 2
    assert history.prices()["close"].to_list() == [10.0, 11.5, 12.0]
    raw = history.scan("prices").collect().sort("date")
    assert raw["source"].to_list() == ["file:a.csv", "file:fix.csv", "file:fix.csv"]
    assert raw["loaded_ns"].to_list() == [2, 3, 3]
    # time travel: the table as it was before the correction
    assert history.prices(version=1).equals(first)
    assert history.prices(version=0).equals(first)
    assert history.last_closes(version=1)["close"].to_list() == [11.0]


def test_load_refuses_malformed_frames(history) -> None:
    with pytest.raises(InputError, match="kind"):
        history.load(prices_frame([]), "bonds", "t")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="columns"):
        history.load(pl.DataFrame({"date": [D(2024, 1, 2)], "close": [1.0]}), "prices", "t")
    twice = prices_frame([(D(2024, 1, 2), "A", 1.0), (D(2024, 1, 2), "A", 2.0)])
    with pytest.raises(InputError, match="once"):
        history.load(twice, "prices", "t")
    with pytest.raises(InputError, match="fill"):
        history.load(prices_frame([]), "prices", "t", fill="backward")  # type: ignore[arg-type]
    assert not history.exists("prices")


def test_last_closes_as_of(history) -> None:
    rows = [
        (D(2024, 1, 2), "A", 1.0),
        (D(2024, 1, 5), "A", 2.0),
        (D(2024, 1, 3), "B", 10.0),
        (D(2024, 1, 4), "B", 11.0),
        (D(2024, 1, 10), "C", 100.0),
    ]
    history.load(prices_frame(rows), "prices", "t")
    on_4th = history.last_closes(as_of=D(2024, 1, 4))
    # A's latest on or before the 4th is the 2nd (the 5th is later); C has nothing yet
    assert on_4th.rows() == [("A", D(2024, 1, 2), 1.0), ("B", D(2024, 1, 4), 11.0)]
    latest = history.last_closes(["C", "A"])
    assert latest.rows() == [("A", D(2024, 1, 5), 2.0), ("C", D(2024, 1, 10), 100.0)]


def test_sp500_closes_stored_bit_for_bit(history, tmp_path) -> None:
    """Real data: arch.data's S&P 500 daily adjusted closes (1999-2018, 5,031 days)
    through a CSV file and the store, compared bit for bit with the source."""
    from arch.data import sp500

    source = sp500.load()["Adj Close"]
    frame = pl.DataFrame(
        {
            "date": source.index.to_numpy().astype("datetime64[D]"),
            "symbol": "SPX",
            "close": source.to_numpy(),
        }
    )
    path = tmp_path / "spx.csv"
    frame.write_csv(path)  # shortest round-trip float text
    read = read_history_file(path, "prices")
    report = history.load(read, "prices", f"file:{path.name}")
    stored = history.prices(["SPX"])
    assert stored.height == len(source) == report.rows_loaded
    expected = source.to_numpy()
    np.testing.assert_array_equal(
        stored["close"].to_numpy().view(np.int64), expected.view(np.int64)
    )
    assert stored["date"].to_list() == list(source.index.date)
    # gaps: every weekday in the span without a close (exchange holidays, as the calendar
    # is Monday-Friday), counted independently with numpy's business-day calendar
    first, last = np.datetime64(source.index[0], "D"), np.datetime64(source.index[-1], "D")
    weekdays = np.busday_count(first, last + 1)
    assert report.quality["gaps"].count == weekdays - len(source)
    assert report.quality["non_positive"].count == 0
    # Parquet gives the same table
    parquet = tmp_path / "spx.parquet"
    frame.write_parquet(parquet)
    assert read_history_file(parquet, "prices").equals(read)


@st.composite
def partitions(draw):
    """A set of price rows (distinct keys) and chunks covering it, overlapping, shuffled."""
    n = draw(st.integers(1, 12))
    keys = draw(
        st.lists(
            st.tuples(st.integers(0, 9), st.sampled_from(["A", "B", "C"])),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    closes = draw(st.lists(st.floats(0.01, 1e6), min_size=n, max_size=n))
    rows = [
        (D(2024, 1, 1) + dt.timedelta(days=d), s, c) for (d, s), c in zip(keys, closes, strict=True)
    ]
    n_chunks = draw(st.integers(1, 3))
    owner = draw(st.lists(st.integers(0, n_chunks - 1), min_size=n, max_size=n))
    chunks = [[r for r, o in zip(rows, owner, strict=True) if o == k] for k in range(n_chunks)]
    # overlaps: some rows loaded again in another chunk (an upsert of the same value)
    again = draw(st.lists(st.integers(0, n - 1), max_size=4))
    for i in again:
        target = draw(st.integers(0, n_chunks - 1))
        if rows[i] not in chunks[target]:
            chunks[target].append(rows[i])
    order = draw(st.permutations(range(n_chunks)))
    return rows, [chunks[k] for k in order]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(partitions())
def test_any_partition_in_any_order_gives_the_same_table(case) -> None:
    rows, chunks = case
    with tempfile.TemporaryDirectory() as folder:
        history = MarketHistory(folder)
        for chunk in chunks:
            history.load(prices_frame(chunk), "prices", "t")
        assert history.prices().equals(prices_frame(rows).sort("symbol", "date"))


def test_an_empty_load_writes_nothing(history) -> None:
    for kind in ("prices", "curves", "vols"):
        report = history.load(pl.DataFrame(schema=SCHEMAS[kind]), kind, "t", fill="forward")
        assert (report.rows_loaded, report.version, report.first_date) == (0, -1, None)
        assert not history.exists(kind)


def test_compact_keeps_the_data_and_vacuum_ends_time_travel(history) -> None:
    for day in range(1, 6):  # five loads, five versions, many small files
        history.load(prices_frame([(D(2024, 1, day), "A", float(day))]), "prices", "t")
    before = history.prices()
    assert history.compact()["prices"]["numFilesRemoved"] >= 2
    assert history.prices().equals(before)
    assert history.version("prices") == 5  # the rewrite is a version of its own
    removed = history.vacuum(retention_hours=0)["prices"]
    assert len(removed) >= 2
    assert history.prices().equals(before)
    with pytest.raises(FileNotFoundError):  # the files of version 0 are gone
        history.prices(version=0)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["SPX", "NDX"]),
            st.sampled_from([1 / 12, 0.25, 1 / 3, 1.0]),  # floats with no exact decimal form
            st.sampled_from([0.8, 0.9, 1.0, 1.1]),
        ),
        min_size=1,
        max_size=10,
        unique=True,
    ),
    st.data(),
)
def test_vol_surfaces_upsert_by_float_keys_in_any_order(keys, data) -> None:
    """The same property for vols, whose key holds floats (expiry 1/3 year): MERGE matches
    them exactly, so a reload in any split updates, never duplicates."""
    rows = pl.DataFrame(
        {
            "date": [D(2024, 1, 1) + dt.timedelta(days=k[0]) for k in keys],
            "underlying": [k[1] for k in keys],
            "expiry_years": [k[2] for k in keys],
            "moneyness": [k[3] for k in keys],
            "implied_vol": [0.1 + 0.01 * i for i in range(len(keys))],
        }
    )
    order = data.draw(st.permutations(range(len(keys))))
    cut = data.draw(st.integers(0, len(keys)))
    with tempfile.TemporaryDirectory() as folder:
        history = MarketHistory(folder)
        for part in (order[:cut], order[cut:], list(range(len(keys)))):  # then all again
            history.load(rows[part], "vols", "t")
        expected = rows.sort("underlying", "date", "expiry_years", "moneyness")
        assert history.vols().equals(expected)
