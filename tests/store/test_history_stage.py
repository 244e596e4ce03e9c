"""The history stage appends the live market's daily and intraday closes to market history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from riskstream.core.clock import NS_PER_DAY, NS_PER_S
from riskstream.core.errors import InputError
from riskstream.core.events import empty_events
from riskstream.core.state import MarketState
from riskstream.store.history import HistoryStore
from riskstream.store.market_history import MarketHistory
from riskstream.store.stage import HistoryStage

DAY = 19_723  # 2024-01-01 as days since the epoch
T0 = DAY * NS_PER_DAY
NONE = empty_events(0)


def mark(state: MarketState, mid: list[float], last: list[float]) -> None:
    """What md would have written: the instruments' mids and last trades."""
    state.mid[:] = mid
    state.last[:] = last


def test_daily_and_intraday_closes_never_contain_a_later_event(tmp_path) -> None:
    state = MarketState(4)
    store = HistoryStore(tmp_path / "h", background=False)
    stage = HistoryStage(store, state, symbols=["AAA", "BBB", "CCC", "DDD"])
    nan = np.nan
    # 23:58:30 on 1 Jan: AAA quoted, BBB only traded (mark = last), CCC nothing, DDD -1
    mark(state, [10.0, nan, nan, -1.0], [9.9, 20.0, nan, nan])
    stage.on_batch(NONE, T0 + NS_PER_DAY - 90 * NS_PER_S)
    # 23:59:10: a new 1-minute bar starts; the bar that ended closes at the marks above
    mark(state, [10.5, nan, nan, -1.0], [10.4, 21.0, nan, nan])
    stage.on_batch(NONE, T0 + NS_PER_DAY - 50 * NS_PER_S)
    # 00:00:05 on 2 Jan, after md applied a batch of the new day: 1 Jan closes at the
    # marks of 23:59:10, not at these
    mark(state, [99.0, nan, 7.0, 3.0], [nan, 98.0, nan, nan])
    stage.on_batch(NONE, T0 + NS_PER_DAY + 5 * NS_PER_S)
    mark(state, [11.0, nan, 7.5, 3.0], [nan, 22.0, nan, nan])
    stage.on_batch(NONE, T0 + NS_PER_DAY + 30 * NS_PER_S)
    stage.close()  # 2 Jan closes from the final state
    history = MarketHistory(tmp_path / "h")
    prices = history.prices()
    assert prices.rows() == [
        (dt.date(2024, 1, 1), "AAA", 10.5),
        (dt.date(2024, 1, 2), "AAA", 11.0),
        (dt.date(2024, 1, 1), "BBB", 21.0),  # no mid: its last trade
        (dt.date(2024, 1, 2), "BBB", 22.0),
        (dt.date(2024, 1, 2), "CCC", 7.5),  # no price on 1 Jan: no close then
        (dt.date(2024, 1, 2), "DDD", 3.0),
    ]
    # DDD's -1 on 1 Jan cannot be a price: quarantined through the same load path
    assert history.quarantine().select("series", "value", "source").rows() == [
        ("DDD", -1.0, "live")
    ]
    assert set(history.scan("prices").collect()["source"]) == {"live"}
    intraday = history.intraday()
    minute = 60 * NS_PER_S
    end_of_first_bar = (T0 + NS_PER_DAY - 90 * NS_PER_S) // minute * minute + minute
    assert intraday.filter(intraday["symbol"] == "AAA").rows() == [
        (end_of_first_bar, "AAA", 10.0),  # the bar 23:58-23:59
        (end_of_first_bar + minute, "AAA", 10.5),  # 23:59-00:00
    ]
    assert stage.summary()["history_daily_closes"] == 3 + 4
    assert stage.summary()["history_intraday_closes"] == intraday.height == 3 + 3


def test_without_symbols_no_closes_and_bad_symbols(tmp_path) -> None:
    state = MarketState(2)
    stage = HistoryStage(HistoryStore(tmp_path / "h", background=False), state)
    state.mid[:] = 1.0
    stage.on_batch(NONE, T0)
    stage.on_batch(NONE, T0 + 2 * NS_PER_DAY)
    stage.close()
    history = MarketHistory(tmp_path / "h")
    assert not history.exists("prices") and not history.exists("prices_intraday")
    with pytest.raises(InputError, match="symbols"):
        HistoryStage(HistoryStore(tmp_path / "x"), state, symbols=["A"])
    with pytest.raises(InputError, match="state"):
        HistoryStage(HistoryStore(tmp_path / "x"), symbols=["A", "B"])
