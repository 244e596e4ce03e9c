"""The Delta Lake history store: writes, range reads, bars, time travel, compaction, as-of."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.events import PRICE_SCALE, EventKind
from riskstream.core.state import MarketState
from riskstream.store.config import StoreConfig
from riskstream.store.history import HistoryStore, partial_bars
from riskstream.store.stage import HistoryStage
from tests.store.data import DAY0, N_INSTRUMENTS, START, make_events


def brute_force_bars(events: np.ndarray, width_ns: int) -> dict:
    """OHLCV + VWAP by plain Python loops: the definition the store must match."""
    bars: dict[tuple[int, int], dict] = {}
    for e in events:
        if e["kind"] != EventKind.TRADE or e["price"] <= 0 or e["size"] <= 0:
            continue
        key = (int(e["instrument_id"]), int(e["ts_event"] - e["ts_event"] % width_ns))
        p, q = e["price"] / PRICE_SCALE, float(e["size"])
        bar = bars.setdefault(key, {"open": p, "high": p, "low": p, "volume": 0.0, "pq": 0.0})
        bar["high"], bar["low"] = max(bar["high"], p), min(bar["low"], p)
        bar["close"] = p
        bar["volume"] += q
        bar["pq"] += p * q
        bar["trades"] = bar.get("trades", 0) + 1
    return bars


@pytest.fixture()
def store(tmp_path) -> HistoryStore:
    return HistoryStore(tmp_path / "history", flush_rows=700)


def test_ticks_round_trip_bit_for_bit_in_arrival_order(store) -> None:
    events = make_events(3000, seed=1)
    for chunk in np.array_split(events, 7):
        store.append_events(chunk)
    store.flush()
    assert store.flushes >= 4  # flush_rows=700: several appends
    back = store.events()
    np.testing.assert_array_equal(back, events)
    assert back.dtype == events.dtype
    dates = store.scan("ticks").select(pl.col("date").unique().sort()).collect()["date"]
    assert dates.to_list() == [dt.date(2023, 12, 9), dt.date(2023, 12, 10)]  # partitioned


def test_range_and_instrument_reads(store) -> None:
    events = make_events(2000, seed=2)
    store.append_events(events)
    store.flush()
    lo, hi = START + 60 * NS_PER_S, START + 120 * NS_PER_S
    got = store.events(lo, hi, instruments=[1, 4])
    mask = (events["ts_event"] >= lo) & (events["ts_event"] < hi)
    mask &= np.isin(events["instrument_id"], [1, 4])
    np.testing.assert_array_equal(got, events[mask])
    assert store.ticks(DAY0 - NS_PER_DAY, DAY0).height == 0


def test_bars_match_brute_force_across_flush_boundaries(store) -> None:
    """Bars are checked against their definition (first/last trade, max/min, Σq, Σpq/Σq),
    computed by plain loops; tolerance 1e-12 relative on the float sums."""
    events = make_events(4000, seed=3)
    for chunk in np.array_split(events, 9):  # bars are cut across flushes
        store.append_events(chunk)
    store.flush()
    for freq, width in (("1s", NS_PER_S), ("1m", 60 * NS_PER_S)):
        expected = brute_force_bars(events, width)
        bars = store.bars(freq)
        assert bars.height == len(expected)
        for row in bars.iter_rows(named=True):
            want = expected[(row["instrument_id"], row["ts"])]
            assert row["open"] == want["open"] and row["close"] == want["close"]
            assert row["high"] == want["high"] and row["low"] == want["low"]
            assert row["trades"] == want["trades"]
            assert row["volume"] == pytest.approx(want["volume"], rel=1e-12)
            assert row["vwap"] == pytest.approx(want["pq"] / want["volume"], rel=1e-12)
    some = store.bars("1m", START + 60 * NS_PER_S, START + 120 * NS_PER_S, instruments=[2])
    assert set(some["instrument_id"]) == {2}
    assert some["ts"].min() >= START + 60 * NS_PER_S and some["ts"].max() < START + 120 * NS_PER_S


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_partial_bars_merge_is_independent_of_flush_cuts(seed: int, cuts: int) -> None:
    """Property: cutting the stream anywhere into flushes gives the same merged bars."""
    from riskstream.store.history import merge_partial_bars

    events = make_events(300, seed=seed)
    ingest = np.arange(len(events))
    whole = merge_partial_bars(partial_bars(events, ingest, "1s").lazy()).collect()
    rng = np.random.default_rng(seed)
    bounds = np.sort(rng.integers(0, len(events), cuts))
    parts = [
        partial_bars(events[a:b], ingest[a:b], "1s")
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(events)], strict=True)
    ]
    merged = merge_partial_bars(pl.concat(parts).lazy()).collect()
    assert merged.drop("notional", "vwap", "volume").equals(
        whole.drop("notional", "vwap", "volume")
    )
    np.testing.assert_allclose(merged["vwap"], whole["vwap"], rtol=1e-12)


def test_time_travel_by_version_and_timestamp(store) -> None:
    first, second = make_events(500, seed=4), make_events(500, seed=5, start=START + 1)
    store.append_events(first)
    store.flush()
    v0 = store.version("ticks")
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    store.append_events(second)
    store.flush()
    assert store.version("ticks") == v0 + 1
    np.testing.assert_array_equal(store.events(version=v0), first)
    np.testing.assert_array_equal(store.events(version=between), first)
    assert len(store.events()) == 1000


def test_compaction_keeps_data_identical_and_vacuum_keeps_current(store) -> None:
    events = make_events(3000, seed=6)
    for chunk in np.array_split(events, 10):
        store.append_events(chunk)
        store.flush()
    features_ts = START + np.arange(5) * NS_PER_S
    for t in features_ts:
        store.append_features(t, np.arange(3), {"spread": np.full(3, float(t % 97))})
    store.flush()
    before_ticks, before_bars = store.events(), store.bars("1s")
    files_before = len(store.scan("ticks").collect())  # noqa: F841 - reads fine before
    from deltalake import DeltaTable

    n_files = len(DeltaTable(store.uri("ticks")).file_uris())
    result = store.compact()
    assert result["ticks"]["numFilesRemoved"] > result["ticks"]["numFilesAdded"]
    assert len(DeltaTable(store.uri("ticks")).file_uris()) < n_files
    np.testing.assert_array_equal(store.events(), before_ticks)
    assert store.bars("1s").equals(before_bars)
    store.compact(["ticks"], zorder=True)
    np.testing.assert_array_equal(store.events(), before_ticks)  # arrival order kept
    removed = store.vacuum(retention_hours=0)
    assert removed["ticks"]  # the pre-compaction files are gone
    np.testing.assert_array_equal(store.events(), before_ticks)


def test_features_asof_never_looks_ahead(store) -> None:
    """A snapshot written at ts=t is invisible to reads as of any instant before t."""
    times = START + np.array([0, 10, 20]) * NS_PER_S
    for k, t in enumerate(times):
        ids = np.array([0, 1]) if k != 1 else np.array([0])  # instrument 1 skips t1
        store.append_features(t, ids, {"ofi": np.full(len(ids), float(k)), "vol": ids * 1.0})
    store.flush()
    asof = store.features_asof(int(times[1]) - 1)
    assert asof["ofi"].to_list() == [0.0, 0.0] and asof["ts"].to_list() == [times[0]] * 2
    asof = store.features_asof(int(times[1]))
    assert asof.filter(pl.col("instrument_id") == 0)["ofi"].item() == 1.0
    assert asof.filter(pl.col("instrument_id") == 1)["ofi"].item() == 0.0  # last known
    assert store.features_asof(int(times[0]) - 1).height == 0
    for query in np.linspace(times[0] - NS_PER_S, times[2] + NS_PER_S, 37).astype(np.int64):
        assert (store.features_asof(int(query))["ts"] <= query).all()
    queries = pl.DataFrame({"ts": [times[0] + 5, times[2]], "instrument_id": [1, 1]})
    joined = store.features_at(queries)
    assert joined["ofi"].to_list() == [0.0, 2.0]
    assert (joined["feature_ts"] <= joined["ts"]).all()


def test_new_feature_columns_merge_into_the_schema(store) -> None:
    store.append_features(START, np.array([0]), {"a": np.array([1.0])})
    store.flush()
    store.append_features(START + 1, np.array([0]), {"a": np.array([2.0]), "b": np.array([3.0])})
    store.flush()
    frame = store.features()
    assert frame["b"].to_list() == [None, 3.0]


def test_quarantine_is_stored_with_reasons(store) -> None:
    bad = make_events(4, seed=7)
    bad["price"][:2] = -1
    store.append_quarantine(bad[:2], 3, "price <= 0")
    store.append_quarantine(bad[2:], np.array([5, 6]), ["size nan", "unknown instrument"])
    store.flush()
    frame = store.quarantine()
    assert frame["reason_code"].to_list() == [3, 3, 5, 6]
    assert frame["reason"].to_list()[-1] == "unknown instrument"
    with pytest.raises(InputError, match="reasons"):
        store.append_quarantine(bad, 1, ["one"])


def test_history_stage_records_events_and_market_state_features(tmp_path) -> None:
    store = HistoryStore.from_config(StoreConfig(history_uri=str(tmp_path / "h")))
    state = MarketState(N_INSTRUMENTS)
    stage = HistoryStage(store, state, features_every_ns=NS_PER_S)
    events = make_events(600, seed=8)
    for chunk in np.array_split(events, 6):
        ids = np.unique(chunk["instrument_id"])
        state.mid[ids] = ids + 0.5
        state.ts_ns[ids] = chunk["ts_event"][-1]
        stage.on_batch(chunk, int(chunk["ts_event"][-1]))
    stage.close()
    assert stage.summary()["history_events"] == 600
    np.testing.assert_array_equal(store.events(), events)
    features = store.features()
    assert stage.snapshots >= 1 and "mid" in features.columns
    assert (features["mid"] == features["instrument_id"] + 0.5).all()


def test_bad_input_names_the_field(store) -> None:
    with pytest.raises(InputError, match="events"):
        store.append_events(np.zeros(3))
    with pytest.raises(InputError, match="table"):
        store.scan("nope")
    with pytest.raises(InputError, match="freq"):
        store.bars("5m")
