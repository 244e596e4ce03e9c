"""BCBS 239 parts on hand-built inputs: data-quality KPIs, reconciliation breaks, the
lineage snapshots' round trip and exact comparison."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from riskstream.core.instruments import Universe
from riskstream.regulatory.data_quality import data_quality
from riskstream.regulatory.lineage import (
    canonical_json,
    differences,
    positions_snapshot,
    reference_snapshot,
    universe_from_snapshots,
)
from riskstream.regulatory.reconciliation import reconcile

AS_OF = dt.date(2026, 6, 30)  # a Tuesday


def _closes(symbol: str, days: int, end: dt.date, start_price: float = 100.0) -> pl.DataFrame:
    dates = pl.date_range(end - dt.timedelta(days=days), end, eager=True)
    dates = dates.filter(dates.dt.weekday() <= 5)
    rng = np.random.default_rng(len(symbol))
    close = start_price * np.exp(np.cumsum(rng.normal(0, 0.01, dates.len())))
    return pl.DataFrame({"date": dates, "symbol": symbol, "close": close})


def test_data_quality_kpis_by_hand() -> None:
    # A: a full year to the as-of date; B: stops 10 days early (late: 6 business days,
    # 2026-06-19 Fri to 2026-06-29 Mon counted by numpy.busday_count = 6); C: no close at
    # all (unmarked). A carries one bad print (x 10) and a stale run of 3 equal closes.
    a = _closes("A", 400, AS_OF)
    close = a["close"].to_numpy().copy()
    close[-50] *= 10.0
    close[-20:-17] = close[-20]
    a = a.with_columns(pl.Series("close", close))
    b = _closes("B", 400, dt.date(2026, 6, 20))
    q = data_quality(["A", "B", "C"], ["C"], pl.concat([a, b]), 2, 1000, 950, AS_OF)
    tl = q["timeliness"]
    assert tl["kpi"] == pytest.approx(1 / 3)  # A only; B is late, C has no close
    late = {x["symbol"]: x["age_business_days"] for x in tl["late"]}
    assert late == {"B": int(np.busday_count(dt.date(2026, 6, 19), AS_OF)), "C": None}
    comp = q["completeness"]
    assert comp["instruments_marked"] == pytest.approx(2 / 3)
    assert comp["factor_days_own_series"] == 0.95 and comp["kpi"] == pytest.approx(2 / 3)
    acc = q["accuracy"]
    # the x10 print makes two outlier returns (up and back down); the stale run 3 closes
    assert acc["outlier_returns"] == 2 and acc["stale_closes"] == 3 and acc["quarantined"] == 2
    checked = acc["closes_checked"]
    assert acc["kpi"] == pytest.approx((checked - 7) / checked)


def test_reconciliation_lists_every_break() -> None:
    agg = {"AAPL": 100.0, "MSFT": 50.0, "TSLA": 10.0}
    books = {"b1": {"AAPL": 60.0, "MSFT": 50.0}, "b2": {"AAPL": 40.0, "GOOG": 5.0}}
    out = reconcile("quantity", agg, books)
    assert not out["ok"] and out["keys"] == 4
    assert [(b["key"], b["aggregate"], b["sum_of_books"]) for b in out["breaks"]] == [
        ("GOOG", None, 5.0),
        ("TSLA", 10.0, None),
    ]
    assert reconcile("q", {"A": 1.0}, {"x": {"A": 0.25}, "y": {"A": 0.75}})["ok"]


def test_snapshots_round_trip_exactly() -> None:
    from riskstream.feeds.config import UniverseConfig
    from riskstream.feeds.universe import generate_universe

    u: Universe = generate_universe(UniverseConfig(instruments=60, seed=3))
    p_digest, p_body = positions_snapshot(u)
    r_digest, r_body = reference_snapshot(u, "0006")
    back = universe_from_snapshots(p_body, r_body)
    assert back.instruments.equals(u.instruments) and back.positions.equals(
        u.positions.sort("book_id", "instrument_id")
    )
    assert back.fx_to_base == u.fx_to_base and back.base_currency == u.base_currency
    assert positions_snapshot(back)[0] == p_digest
    assert reference_snapshot(back, "0006")[0] == r_digest


def test_differences_are_exact_to_the_last_bit() -> None:
    x = {"a": 0.1 + 0.2, "b": [1.0, {"c": 2}], "d": {10: 1}}
    assert differences(x, x) == []
    assert differences(x, {**x, "a": 0.3}) == ["/a"]  # 0.30000000000000004 != 0.3
    assert differences(x, {**x, "b": [1.0]}) == ["/b (length 2 != 1)"]
    assert canonical_json({"d": {10: 1}}) == '{"d":{"10":1}}'
