"""The internal models approach's parts against hand computations, the Basel text and real
data (arch's S&P 500 closes)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.regulatory.ima import (
    aggregate_ses,
    capital_multiplier,
    classify_factors,
    desk_eligibility,
    eligibility_test,
    expected_shortfall,
    liquidity_adjusted_es,
    overlapping_moves,
    worst_window,
)
from riskstream.regulatory.ima.stressed import StressedScaling, rolling_es


# ---------------------------------------------------------------- ES at 97.5% (MAR33.2)
def test_es_975_by_hand_on_40_and_250_scenarios() -> None:
    # 40 scenarios: the VaR rank is ceil(40 x 0.975) = 39, so the tail is the 2 largest
    # losses, 40 and 39: ES = 39.5 (hand computation).
    assert expected_shortfall(-np.arange(1.0, 41.0)) == 39.5
    # 250 scenarios: rank ceil(243.75) = 244, tail of 7 losses 244..250: mean 247.
    pnl = -np.random.default_rng(0).permutation(np.arange(1.0, 251.0))
    assert expected_shortfall(pnl) == 247.0


def test_es_975_converges_to_scipy_normal_es() -> None:
    # Peer: the closed-form ES of N(0, 1) at 97.5%, phi(z)/(1 - c) with z = Phi^-1(0.975)
    # (= 2.3378, the figure the Basel Committee quotes as the ES-99%-VaR equivalence).
    from scipy import stats

    z = stats.norm.ppf(0.975)
    exact = stats.norm.pdf(z) / 0.025
    assert exact == pytest.approx(2.3378, abs=1e-4)
    sample = stats.norm.ppf((np.arange(200_000) + 0.5) / 200_000)  # quasi-random N(0, 1)
    assert expected_shortfall(sample) == pytest.approx(exact, rel=2e-3)


def test_overlapping_moves_sum_each_window() -> None:
    daily = np.arange(1.0, 13.0)
    ten = overlapping_moves(daily, 10)
    assert ten.tolist() == [sum(range(1, 11)), sum(range(2, 12)), sum(range(3, 13))]
    with pytest.raises(InputError, match="horizon_days"):
        overlapping_moves(daily[:5], 10)


# ---------------------------------------------------------------- cascade (MAR33.4)
def test_cascade_against_hand_computation() -> None:
    # ES_T(P, j) = 100, 80, 50, 30, 10 on LH = 10, 20, 40, 60, 120, T = 10:
    # sqrt(100^2 + (80 sqrt(10/10))^2 + (50 sqrt(20/10))^2 + (30 sqrt(20/10))^2
    #      + (10 sqrt(60/10))^2) = sqrt(10000 + 6400 + 5000 + 1800 + 600) = sqrt(23800)
    assert liquidity_adjusted_es([100, 80, 50, 30, 10]) == pytest.approx(np.sqrt(23_800), rel=1e-15)


def test_cascade_of_a_single_120_day_factor_is_sqrt_12_times_its_es() -> None:
    # every set holds the factor: ES^2 (1 + 1 + 2 + 2 + 6) = 12 ES^2 (sqrt(120 / 10)).
    assert liquidity_adjusted_es([5.0] * 5) == pytest.approx(5.0 * np.sqrt(12.0))


@given(st.lists(st.floats(0, 1e6), min_size=5, max_size=5), st.integers(0, 4), st.floats(0, 1e6))
@settings(max_examples=100, deadline=None)
def test_cascade_is_monotone_and_at_least_the_base_es(es: list[float], j: int, up: float) -> None:
    base = liquidity_adjusted_es(es)
    assert base >= es[0] - 1e-9
    bigger = list(es)
    bigger[j] += up
    assert liquidity_adjusted_es(bigger) >= base - 1e-9 * max(1.0, base)


def test_cascade_rejects_negative_es() -> None:
    with pytest.raises(InputError, match="non-negative"):
        liquidity_adjusted_es([1, 2, -3, 0, 0])


# ---------------------------------------------------------------- liquidity horizons (MAR33.12)
def test_factors_get_the_mar33_12_horizons() -> None:
    inst = pl.DataFrame(
        {
            "symbol": ["AAPL", "TINY"],
            "adv": [5e7, 1e3],
            "ref_price": [200.0, 3.0],
            "currency": ["USD", "USD"],
        }
    )
    keys = (
        "EQ:AAPL",  # large cap: 10
        "EQ:TINY",  # small cap: 20
        "FUT:index:SPX",  # equity index: 10
        "FUT:commodity:CL",  # energy: 20
        "FUT:commodity:CORN",  # other commodity: 60
        "FX:EUR",  # USD/EUR specified: 10
        "FX:ISK",  # not specified: 20
        "IR:USD:5Y",  # specified currency: 10
        "IR:PLN:5Y",  # unspecified: 20
        "VOL:EQ:AAPL",  # large-cap equity vol: 20
        "VOL:EQ:TINY",  # small-cap equity vol: 60
        "VOL:FUT:commodity:CORN",  # other commodity vol: 120
        "VOL:FX:EUR",  # FX vol: 40
    )
    c = classify_factors(keys, inst, "USD")
    assert c.horizon_days.tolist() == [10, 20, 10, 20, 60, 10, 20, 10, 20, 20, 60, 120, 40]
    assert c.risk_class[3] == "commodity" and c.risk_class[7] == "interest_rate"
    assert c.at_least(60).tolist() == [h >= 60 for h in c.horizon_days]


# ---------------------------------------------------------------- stressed window (MAR33.5)
def test_stressed_search_finds_2008_on_the_sp500() -> None:
    # Real data: arch's S&P 500 closes 1999-2018. A long position of 1 in the index; its
    # 10-day overlapping P&L; the 12-month window of worst ES at 97.5% must hold the
    # crash of October 2008 (the Lehman default, 15 Sep 2008, and its aftermath).
    from arch.data import sp500

    close = sp500.load()["Adj Close"]
    r = np.diff(np.log(close.to_numpy()))
    pnl = np.expm1(overlapping_moves(r, 10))
    ends = close.index[10:].to_numpy().astype("datetime64[D]")
    w = worst_window(pnl, 250)
    start, end = ends[w.start], ends[w.stop - 1]
    assert start <= np.datetime64("2008-10-10") <= end
    # the window found runs from late 2007 (the first subprime losses) to late 2008
    assert np.datetime64("2007-07-01") <= start <= np.datetime64("2008-10-10")
    # the search agrees with a direct ES of each window (peer: the plain function)
    for i in (0, w.start, len(pnl) - 250):
        assert w.rolling_es[i] == pytest.approx(expected_shortfall(pnl[i : i + 250]))
    assert w.es == pytest.approx(w.rolling_es.max())


def test_rolling_es_matches_per_window_es() -> None:
    pnl = np.random.default_rng(3).standard_t(4, 400)
    es = rolling_es(pnl, 120)
    assert es == pytest.approx([expected_shortfall(pnl[i : i + 120]) for i in range(281)])


def test_stressed_scaling_mar33_5() -> None:
    s = StressedScaling(es_full_current=100.0, es_reduced_current=80.0, es_reduced_stressed=200.0)
    assert s.explained == 0.8 and s.sufficient
    assert s.capital_es == pytest.approx(250.0)  # 200 x 100 / 80
    weak = StressedScaling(100.0, 60.0, 150.0)
    assert not weak.sufficient  # 60% < 75% (MAR33.5)
    # the ratio is floored at 1: a reduced set riskier today than the full set
    assert StressedScaling(50.0, 80.0, 200.0).capital_es == 200.0


# ---------------------------------------------------------------- RFET (MAR31.12)
AS_OF = dt.date(2026, 6, 30)


def _days(offsets: list[int]) -> list[dt.date]:
    return [AS_OF - dt.timedelta(days=o) for o in offsets]


def test_rfet_24_observations_spread_evenly_pass() -> None:
    # one observation every 15 days (offsets 0..345): 24 in the year; the sparsest 90-day
    # window is the oldest (offsets 275..364), holding 285, 300, 315, 330, 345: 5
    r = eligibility_test(_days(list(range(0, 360, 15))), AS_OF)
    assert (r.observations, r.min_in_90_days, r.modellable) == (24, 5, True)


def test_rfet_24_observations_with_a_quiet_quarter_fail() -> None:
    # 24 observations all in the last 3 months: the 90 days before them hold none
    r = eligibility_test(_days(list(range(0, 72, 3))), AS_OF)
    assert r.observations == 24 and r.min_in_90_days == 0 and not r.modellable


def test_rfet_100_observations_pass_whatever_the_gaps() -> None:
    r = eligibility_test(_days(list(range(100))), AS_OF)
    assert r.modellable and r.criterion == "100 observations"
    assert not eligibility_test(_days(list(range(99))), AS_OF).modellable


def test_rfet_boundary_of_4_per_90_days() -> None:
    # every 15 days without 345, plus offset 1: 24 observations, the oldest 90-day
    # window holds exactly 4 (285..330): modellable (MAR31.12(1): "fewer than four" fails)
    four = [o for o in range(0, 360, 15) if o != 345] + [1]
    r = eligibility_test(_days(four), AS_OF)
    assert (r.observations, r.min_in_90_days, r.modellable) == (24, 4, True)
    # move 330 to offset 2: still 24, but that window holds 3: not modellable
    three = [o for o in four if o != 330] + [2]
    r = eligibility_test(_days(three), AS_OF)
    assert (r.observations, r.min_in_90_days, r.modellable) == (24, 3, False)
    every_30 = eligibility_test(_days(list(range(0, 365, 30)) * 3), AS_OF)
    assert every_30.observations == 13 and not every_30.modellable  # repeats count once
    assert eligibility_test(_days([400, 500]), AS_OF).observations == 0  # outside the year


# ---------------------------------------------------------------- SES (MAR33.16)
def test_ses_aggregation_by_hand() -> None:
    # idiosyncratic 3, 4 -> sqrt(9 + 16) = 5; others 10, 20 with rho 0.6:
    # sqrt((0.6 x 30)^2 + 0.64 x (100 + 400)) = sqrt(324 + 320) = sqrt(644)
    assert aggregate_ses([3.0, 4.0], [10.0, 20.0]) == pytest.approx(5 + np.sqrt(644.0))
    assert aggregate_ses([], []) == 0.0


# ---------------------------------------------------------------- multiplier (MAR99 Table 2)
@pytest.mark.parametrize(
    ("n", "m_c", "zone"),
    [
        (0, 1.50, "green"),
        (4, 1.50, "green"),
        (5, 1.70, "amber"),
        (6, 1.76, "amber"),
        (7, 1.83, "amber"),
        (8, 1.88, "amber"),
        (9, 1.92, "amber"),
        (10, 2.00, "red"),
        (25, 2.00, "red"),
    ],
)
def test_multiplier_is_mar99_table_2(n: int, m_c: float, zone: str) -> None:
    # Basel MAR99 Table 2 (backtesting-dependent multiplier, 250 days, 99% VaR)
    m = capital_multiplier(n, 250)
    assert m.value == pytest.approx(m_c, abs=1e-12) and m.zone == zone


# ---------------------------------------------------------------- desk eligibility (MAR32)
def test_desk_with_13_exceptions_at_99_leaves_the_ima() -> None:
    rng = np.random.default_rng(5)
    hpl = rng.normal(0, 1, 250)
    rtpl = hpl + rng.normal(0, 0.05, 250)
    var = np.full(250, 10.0)
    hpl_bad = hpl.copy()
    hpl_bad[:13] = -20.0  # 13 exceptions > 12 (MAR32.19)
    ok = desk_eligibility("rates", hpl, rtpl, var, var)
    bad = desk_eligibility("rates", hpl_bad, rtpl, var, var)
    assert ok.eligible and ok.exceptions_99 == 0 and ok.pla["zone"] == "green"
    assert not bad.eligible and bad.exceptions_99 == 13
    assert any("99%" in r for r in bad.reasons)
    # a model P&L unrelated to the desk's: PLA red, out
    noise = desk_eligibility("fx", hpl, rng.normal(0, 1, 250), var, var)
    assert not noise.eligible and noise.pla["zone"] == "red"


# ---------------------------------------------------------------- observations (MAR31.13)
def test_factor_observations_follow_the_series_lineage() -> None:
    from riskstream.regulatory.ima.observations import factor_observations

    d = [dt.date(2026, 1, i) for i in range(1, 6)]
    observed = {
        "prices": pl.DataFrame(
            {
                "series": ["AAPL", "AAPL", "EURUSD", "EURUSD", "USDJPY", "ESH7", "ESM7"],
                "date": [d[0], d[1], d[0], d[2], d[2], d[3], d[4]],
            }
        ),
        "curves": pl.DataFrame({"series": ["USD"], "date": [d[4]]}),
    }
    series = {
        "EQ:AAPL": "prices:AAPL (log return)",
        "FX:EUR": "prices:EURUSD^1 (log return)",  # one pair
        "FX:JPY": "prices:EURUSD^1 x USDJPY^-1 (log return)",  # a cross: both needed
        "FUT:index:SPX": "prices:ESH7,ESM7 (futures chained by nearest expiry, log return)",
        "IR:USD:5Y": "curves:USD (zero rate at 5Y, linear in rate, absolute change)",
        "VOL:EQ:AAPL": "none stored",
    }
    extra = pl.DataFrame({"risk_factor": ["VOL:EQ:AAPL"], "date": [d[1]]})
    obs = factor_observations(series, observed, extra)
    assert obs["EQ:AAPL"] == {d[0], d[1]}
    assert obs["FX:EUR"] == {d[0], d[2]}
    assert obs["FX:JPY"] == {d[2]}  # the only day both pairs have a close
    assert obs["FUT:index:SPX"] == {d[3], d[4]}  # any contract of the chain
    assert obs["IR:USD:5Y"] == {d[4]} and obs["VOL:EQ:AAPL"] == {d[1]}


def test_rolling_var_is_the_previous_windows_var() -> None:
    from riskstream.regulatory.ima.desks import rolling_var
    from riskstream.risk.measures import var_es_from_pnl

    pnl = np.random.default_rng(9).standard_t(3, (320, 2))
    got = rolling_var(pnl, 250, 0.99)
    assert got.shape == (70, 2)
    for t in (0, 33, 69):  # day 250 + t uses days t .. t + 249
        for j in range(2):
            assert got[t, j] == var_es_from_pnl(pnl[t : t + 250, j], 0.99)[0]
