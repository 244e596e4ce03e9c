"""Historical episodes: moves from the stored history they came from, else the documented
levels mapped onto every factor (directly, by beta, by proxy), with the mapping shown."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from riskstream.risk.factor_history import MarketHistoryFrames
from riskstream.stress.historical import StressContext, history_betas, load_episodes
from riskstream.stress.library import builtin_scenarios, climate_scenarios, supervisory_scenarios

from .books import book_of, inst, linear_universe, universe


def us_book():
    u = universe(
        [
            inst(0, "AAA", "equity", 50.0, sector="Financials"),
            inst(1, "BBB", "equity", 20.0, sector="Energy"),
            inst(
                2,
                "ESH0",
                "future",
                3000.0,
                multiplier=50.0,
                sector="index:SPX",
                expiry=dt.date(2020, 6, 19),
            ),
        ],
        [100.0, 200.0, 1.0],
    )
    return u, book_of(u)


def stored_history(start: str, end: str, seed: int = 4) -> MarketHistoryFrames:
    """Business-day closes of AAA, BBB and the SPX index series (a seeded random walk)."""
    days = pl.date_range(dt.date.fromisoformat(start), dt.date.fromisoformat(end), eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    rng = np.random.default_rng(seed)
    frames = []
    for sym, p0 in (("AAA", 50.0), ("BBB", 20.0), ("SPX", 3000.0)):
        closes = p0 * np.exp(np.cumsum(rng.normal(0, 0.02, days.len())))
        frames.append(pl.DataFrame({"date": days, "symbol": [sym] * days.len(), "close": closes}))
    empty = MarketHistoryFrames.empty()
    return MarketHistoryFrames(pl.concat(frames), empty.curves, empty.vols, "test history")


def test_moves_are_the_stored_change_over_the_window() -> None:
    u, book = us_book()
    history = stored_history("2020-01-02", "2020-04-30")
    covid = load_episodes()["covid-2020"]
    moves, _, mapping = covid.resolve(book, StressContext(u.instruments, history))
    closes = history.prices.pivot(on="symbol", index="date", values="close")

    def close(sym: str, day: str) -> float:
        return closes.filter(pl.col("date") == dt.date.fromisoformat(day))[sym].item()

    for key, sym in (("EQ:AAA", "AAA"), ("EQ:BBB", "BBB"), ("FUT:index:SPX", "SPX")):
        stored = close(sym, "2020-03-23") / close(sym, "2020-02-19") - 1.0
        assert moves[book.index(key)] == pytest.approx(stored, rel=1e-12)
    rows = {m["factor"]: m for m in mapping}
    assert rows["EQ:AAA"]["method"] == "history"
    assert "2020-02-19 to 2020-03-23" in rows["EQ:AAA"]["source"]


def test_documented_levels_when_the_store_does_not_hold_the_window() -> None:
    u, book = us_book()
    history = stored_history("2023-01-02", "2023-12-29")  # not 2020
    covid = load_episodes()["covid-2020"]
    moves, _, mapping = covid.resolve(book, StressContext(u.instruments, history))
    spx = 2237.40 / 3386.15 - 1.0  # S&P 500 closes 19 Feb and 23 Mar 2020 (the data file)
    assert moves[book.index("FUT:index:SPX")] == pytest.approx(spx, rel=1e-12)
    rows = {m["factor"]: m for m in mapping}
    assert rows["FUT:index:SPX"]["method"] == "direct"
    # betas from the stored year: OLS slope of the last 250 daily log returns on the index's
    closes = history.prices.pivot(on="symbol", index="date", values="close").sort("date")
    closes = closes.tail(251)
    ra = np.diff(np.log(closes["AAA"].to_numpy()))
    rm = np.diff(np.log(closes["SPX"].to_numpy()))
    beta = np.polyfit(rm, ra, 1)[0]
    assert history_betas(book, history)["EQ:AAA"] == pytest.approx(beta, rel=1e-9)
    assert moves[book.index("EQ:AAA")] == pytest.approx(beta * spx, rel=1e-9)
    assert rows["EQ:AAA"]["method"].startswith("beta")


def test_every_factor_of_a_book_is_mapped_and_said_how() -> None:
    book = book_of(linear_universe())
    gfc = load_episodes()["gfc-2008"]
    _, _, mapping = gfc.resolve(book)
    assert [m["factor"] for m in mapping] == list(book.keys)
    rows = {m["factor"]: m for m in mapping}
    assert rows["EQ:SAP"]["method"] == "beta 1 (no history)" and rows["EQ:SAP"]["source"] == "SX5E"
    assert rows["EQ:SAP"]["move"] == pytest.approx(2188.0 / 3348.9 - 1)  # DAX -> SX5E proxy
    assert rows["FX:EUR"]["move"] == pytest.approx(1.2496 / 1.4214 - 1)


def test_episode_windows_and_sources() -> None:
    episodes = load_episodes()
    assert set(episodes) == {
        "black-monday-1987",
        "gfc-2008",
        "flash-crash-2010",
        "taper-2013",
        "covid-2020",
        "rates-2022",
        "svb-2023",
    }
    assert (episodes["covid-2020"].start, episodes["covid-2020"].end) == (
        dt.date(2020, 2, 19),
        dt.date(2020, 3, 23),
    )
    assert (episodes["svb-2023"].start, episodes["svb-2023"].end) == (
        dt.date(2023, 3, 8),
        dt.date(2023, 3, 13),
    )
    assert all(
        "FRED" in s or "Ltd" in s or "Inc" in s or "Russell" in s or "LBMA" in s
        for s in episodes["gfc-2008"].shocks.sources.values()
    )
    # rates by tenor are absolute changes in decimal: the 2-year fell 104 bp in SVB's week
    assert episodes["svb-2023"].shocks.rates["USD"][2.0] == pytest.approx(-0.0104)


def test_climate_carbon_price_through_intensity() -> None:
    # Utilities: 1,400 tCO2 per $m revenue, 12 % margin, half passed on, $200/t shock:
    # profit falls by 200 x 1400 x 0.5 / (1e6 x 0.12) = 116.7 % -> floored at -95 %
    disorderly = climate_scenarios()["climate-disorderly"].shocks
    expected = (1 - 0.10) * (1 - 0.12) * (1 - 0.95) - 1
    assert disorderly.sectors["Utilities"] == pytest.approx(expected)
    # Financials: 3 t/$m at 18 %: 200 x 3 x 0.5 / (1e6 x 0.18) = 0.17 %
    assert disorderly.sectors["Financials"] == pytest.approx(0.9 * (1 - 600 * 0.5 / 180_000) - 1)
    assert set(climate_scenarios()) == {
        "climate-orderly",
        "climate-disorderly",
        "climate-hot-house",
    }


def test_supervisory_variables_map_onto_the_book() -> None:
    fed = supervisory_scenarios()["fed-2025-severely-adverse"]
    assert fed.shocks.equity["SPX"] == pytest.approx(-0.5)
    assert fed.shocks.vol == pytest.approx(65.0 / 17.4 - 1)
    assert fed.shocks.rates["USD"][10.0] == pytest.approx(-0.026)
    assert fed.shocks.credit["IG"] == pytest.approx(0.023 + 0.026)  # BBB yield minus 10y
    assert fed.shocks.sectors["Real Estate"] == pytest.approx(-0.33)
    assert len(builtin_scenarios()) == 11
