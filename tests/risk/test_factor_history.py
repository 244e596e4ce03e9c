"""Factor history from stored market history: each factor's series, proxies, windows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskstream.core.errors import InputError
from riskstream.core.instruments import INSTRUMENT_SCHEMA, records_to_frame
from riskstream.risk.factor_history import (
    MIN_OVERLAP_DAYS,
    REFERENCE_VOL_EXPIRY_YEARS,
    MarketHistoryFrames,
    build_factor_history,
)
from riskstream.risk.factors import build_factor_space
from riskstream.risk.market_series import (
    TRAILING_GAP_DAYS,
    atm_vol_levels,
    chained_moves,
    series_moves,
    surface_vols,
)
from tests.risk.helpers import _inst

D0 = dt.date(2024, 1, 1)


def _days(n: int, start: dt.date = D0) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def _prices(series: dict[str, tuple[list[dt.date], np.ndarray]]) -> pl.DataFrame:
    frames = [
        pl.DataFrame(
            {"date": dates, "symbol": [sym] * len(dates), "close": np.asarray(close, float)},
            schema={"date": pl.Date, "symbol": pl.String, "close": pl.Float64},
        )
        for sym, (dates, close) in series.items()
    ]
    return pl.concat(frames)


def _history(prices=None, curves=None, vols=None) -> MarketHistoryFrames:
    empty = MarketHistoryFrames.empty("test")
    return MarketHistoryFrames(
        prices if prices is not None else empty.prices,
        curves if curves is not None else empty.curves,
        vols if vols is not None else empty.vols,
        "test",
    )


def _build(recs, history, window, horizon=1, base="USD", as_of=None):
    inst = records_to_frame(recs, INSTRUMENT_SCHEMA)
    space = build_factor_space(inst, base)
    return space, build_factor_history(space, inst, base, history, window, horizon, as_of)


# ------------------------------------------------------------------ series rules


@given(
    st.lists(st.floats(-0.2, 0.2), min_size=3, max_size=40),
    st.lists(st.booleans(), min_size=3, max_size=40),
)
def test_price_factor_moves_are_log_returns_on_any_calendar(returns, traded):
    # A price factor's moves are diff(log(close)) between consecutive observations, dated
    # on the later one; a calendar date the series misses (another series trades) has a
    # zero move; the moves sum to log(last / first) whatever the calendar.
    n = min(len(returns), len(traded))
    close = 100.0 * np.exp(np.cumsum(returns[:n]))
    days = _days(n + 1)
    mask = np.asarray(traded[:n]).copy()
    mask[0] = mask[-1] = True  # the series lives over the whole calendar
    own = [d for d, m in zip(days[1:], mask, strict=True) if m]
    prices = _prices({"A": (own, close[mask]), "CAL": (days, np.ones(n + 1))})
    recs = [_inst(0, "A", "equity", 100.0), _inst(1, "CAL", "equity", 1.0)]
    _, fh = _build(recs, _history(prices), window=n - 1)
    a = fh.moves[:, fh.keys.index("EQ:A")]
    expect = np.zeros(n - 1)
    obs = np.flatnonzero(mask[1:]) + 1
    logs = np.log(close[mask])
    expect[obs - 1] = np.diff(logs)
    np.testing.assert_allclose(a, expect, atol=1e-12)
    assert a.sum() == pytest.approx(np.log(close[-1] / close[0]), abs=1e-12)
    assert fh.gaps.get("EQ:A", 0) == int((~mask).sum())


def test_series_moves_missing_before_and_after_the_series():
    lv = np.array([[np.nan], [1.0], [np.nan], [1.5], [np.nan], [np.nan], [np.nan], [np.nan]])
    moves, gaps = series_moves(lv)
    # date 1 is the first observation (no move), date 2 a gap, date 3 the move since 1;
    # dates 4-7, more than TRAILING_GAP_DAYS after the last observation: the series ended
    assert TRAILING_GAP_DAYS == 3
    np.testing.assert_array_equal(moves[:, 0], [np.nan, 0.0, 0.5, *[np.nan] * 4])
    np.testing.assert_array_equal(gaps[:, 0], [False, True, False, *[False] * 4])


def test_a_holiday_of_its_own_market_at_the_end_of_the_calendar_is_a_gap():
    # The US markets closed on 5 December 2018 while the ECB fixed EURUSD: a US stock has
    # no close on the calendar's last date but is alive, with a zero move counted as a gap.
    lv = np.array([[1.0], [1.2], [np.nan]])
    moves, gaps = series_moves(lv)
    np.testing.assert_array_equal(moves[:, 0], [pytest.approx(0.2), 0.0])
    np.testing.assert_array_equal(gaps[:, 0], [False, True])
    # a futures chain the same
    chain, chain_gaps = chained_moves(np.log([[100.0], [101.0], [np.nan]]), np.array([1]))
    np.testing.assert_allclose(chain, [np.log(1.01), 0.0])
    np.testing.assert_array_equal(chain_gaps, [False, True])


def test_futures_chain_never_returns_across_a_roll():
    # Front month H trades to day 4; M from day 2 at a 10% contango. The chained move on day
    # 5 is M's own move (day 4 to 5), never log(M_5 / H_4), and on days 2-4 it is H's.
    h = np.log([100, 101, 102, 103, np.nan, np.nan])
    m = np.log([np.nan, np.nan, 112, 113.5, 114, 113])
    moves, gaps = chained_moves(np.stack([m, h], axis=1), np.array([200, 100]))
    expect = [np.log(101 / 100), np.log(102 / 101), np.log(103 / 102), np.log(114 / 113.5)]
    np.testing.assert_allclose(moves[:4], expect, atol=1e-12)
    assert moves[4] == pytest.approx(np.log(113 / 114))
    assert not gaps.any()


def test_futures_factor_from_stored_contracts_and_from_a_named_index():
    days = _days(8)
    recs = [
        _inst(0, "ESH4", "future", 100.0, expiry=days[4], sector="index:SPX"),
        _inst(1, "ESM4", "future", 110.0, expiry=days[7] + dt.timedelta(90), sector="index:SPX"),
    ]
    h = [100, 101, 99, 100, 102]
    m = [111, 112, 110, 111, 113, 115, 114, 116]
    prices = _prices({"ESH4": (days[:5], h), "ESM4": (days, m)})
    _, fh = _build(recs, _history(prices), window=7)
    got = fh.moves[:, fh.keys.index("FUT:index:SPX")]
    expect = np.r_[np.diff(np.log(h)), np.diff(np.log(m))[4:]]
    np.testing.assert_allclose(got, expect, atol=1e-12)
    assert "chained" in fh.series["FUT:index:SPX"]
    # with the index itself stored, the factor is the index
    spx = 4000 * np.exp(np.linspace(0, 0.07, 8))
    _, fh = _build(recs, _history(pl.concat([prices, _prices({"SPX": (days, spx)})])), 7)
    np.testing.assert_allclose(fh.moves[:, 0], np.diff(np.log(spx)), atol=1e-12)
    assert fh.series["FUT:index:SPX"].startswith("prices:SPX")


def test_fx_factor_is_a_cross_rate_through_eur():
    # ECB-style quotes, all against EUR: the JPY factor of a USD book is EURUSD / EURJPY.
    days = _days(6)
    eurusd = np.array([1.10, 1.11, 1.09, 1.12, 1.10, 1.08])
    eurjpy = np.array([160.0, 161.0, 158.0, 159.0, 162.0, 160.5])
    prices = _prices({"EURUSD": (days, eurusd), "EURJPY": (days, eurjpy)})
    recs = [_inst(0, "TOYOTA", "equity", 2500.0, currency="JPY")]
    prices = pl.concat([prices, _prices({"TOYOTA": (days, np.full(6, 2500.0))})])
    _, fh = _build(recs, _history(prices), window=5)
    jpy_in_usd = eurusd / eurjpy
    np.testing.assert_allclose(
        fh.moves[:, fh.keys.index("FX:JPY")], np.diff(np.log(jpy_in_usd)), atol=1e-12
    )
    assert "EURJPY^-1" in fh.series["FX:JPY"] and "EURUSD^1" in fh.series["FX:JPY"]


def _bond(i: int, years: int, currency: str = "USD"):
    return _inst(
        i,
        f"B{years}{currency}",
        "bond",
        100.0,
        currency=currency,
        coupon=0.04,
        maturity=D0 + dt.timedelta(days=365 * years),
        coupon_frequency=2,
    )


def test_curve_key_tenor_interpolated_between_stored_tenors_and_flat_beyond():
    # Stored tenors 2Y and 10Y: the 5Y key rate is 5/8 of the way (linear in zero rate,
    # pricing.curves.ZeroCurve's convention), the 30Y key is the 10Y (flat), listed as a
    # proxy.
    days = _days(5)
    r2 = np.array([0.040, 0.041, 0.043, 0.042, 0.044])
    r10 = np.array([0.045, 0.045, 0.047, 0.049, 0.046])
    curves = pl.DataFrame(
        {
            "date": days * 2,
            "currency": ["USD"] * 10,
            "tenor_years": [2.0] * 5 + [10.0] * 5,
            "zero_rate": np.r_[r2, r10],
        },
        schema={
            "date": pl.Date,
            "currency": pl.String,
            "tenor_years": pl.Float64,
            "zero_rate": pl.Float64,
        },
    )
    _, fh = _build([_bond(0, 5)], _history(curves=curves), window=4)
    r5 = r2 + (r10 - r2) * (5 - 2) / (10 - 2)
    np.testing.assert_allclose(fh.moves[:, fh.keys.index("IR:USD:5Y")], np.diff(r5), atol=1e-15)
    np.testing.assert_allclose(fh.moves[:, fh.keys.index("IR:USD:30Y")], np.diff(r10), atol=0)
    flat = {p.factor: p for p in fh.proxies}
    assert flat["IR:USD:30Y"].proxy == "curves:USD 10Y" and flat["IR:USD:30Y"].beta == 1.0
    assert "IR:USD:5Y" not in flat


def test_a_tenor_added_to_the_stored_curve_is_not_a_jump():
    # 2Y and 10Y stored every day, 30Y from day 3 at a higher level: on day 3 the 30Y key
    # moves with the tenors stored on both days (the 10Y, flat beyond), not by the 80 bp
    # difference between the 30Y and the 10Y level; from day 4 with the 30Y itself.
    days = _days(5)
    r10 = np.array([0.045, 0.046, 0.044, 0.047, 0.046])
    r30 = np.array([np.nan, np.nan, 0.052, 0.050, 0.053])
    rows = [(d, "USD", 2.0, 0.04) for d in days]
    rows += [(d, "USD", 10.0, r) for d, r in zip(days, r10, strict=True)]
    rows += [(d, "USD", 30.0, r) for d, r in zip(days, r30, strict=True) if np.isfinite(r)]
    curves = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "currency": pl.String,
            "tenor_years": pl.Float64,
            "zero_rate": pl.Float64,
        },
        orient="row",
    )
    _, fh = _build([_bond(0, 30)], _history(curves=curves), window=4)
    got = fh.moves[:, fh.keys.index("IR:USD:30Y")]
    np.testing.assert_allclose(got, [0.001, -0.002, -0.002, 0.003], atol=1e-15)
    assert "IR:USD:30Y" not in {p.factor for p in fh.proxies}  # 30Y is within 2Y-30Y


def test_vol_factor_is_the_30_day_atm_vol_interpolated():
    # Two expiries around 30 days, two strikes around ATM: moneyness 1 linear in vol,
    # then total variance linear in expiry.
    t1, t2 = 14 / 365, 60 / 365
    rows = []
    levels = []
    days = _days(4)
    for k, d in enumerate(days):
        base = 0.20 + 0.01 * k
        # (expiry, moneyness, vol): smile slope -0.5 per unit moneyness
        for t, shift in ((t1, 0.0), (t2, 0.02)):
            for m in (0.9, 1.05):
                rows.append((d, "ACME", t, m, base + shift - 0.5 * (m - 1.0)))
        v1, v2 = base, base + 0.02  # ATM vols at each expiry
        te = REFERENCE_VOL_EXPIRY_YEARS
        w = v1**2 * t1 + (v2**2 * t2 - v1**2 * t1) * (te - t1) / (t2 - t1)
        levels.append(np.sqrt(w / te))
    vols = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "underlying": pl.String,
            "expiry_years": pl.Float64,
            "moneyness": pl.Float64,
            "implied_vol": pl.Float64,
        },
        orient="row",
    )
    atm = atm_vol_levels(vols, REFERENCE_VOL_EXPIRY_YEARS).sort("date")
    np.testing.assert_allclose(atm["atm_vol"].to_numpy(), levels, rtol=1e-12)
    recs = [
        _inst(0, "ACME", "equity", 50.0),
        _inst(
            1,
            "ACME-C",
            "option",
            2.0,
            underlying_id=0,
            expiry=D0 + dt.timedelta(60),
            strike=50.0,
            right="C",
            exercise="european",
        ),
    ]
    prices = _prices({"ACME": (days, [50, 51, 50, 52])})
    _, fh = _build(recs, _history(prices, vols=vols), window=3)
    np.testing.assert_allclose(
        fh.moves[:, fh.keys.index("VOL:EQ:ACME")], np.diff(np.log(levels)), atol=1e-12
    )


def test_surface_vols_read_the_latest_surface_at_each_options_strike_and_expiry():
    # A stored grid of 2 expiries x 3 moneyness on two dates; options read the latest
    # date's: exact at nodes, linear in moneyness, linear in total variance across
    # expiries, flat beyond the ends; an unknown underlying gets NaN.
    t1, t2 = 0.25, 1.0
    grid = {(t1, 0.9): 0.30, (t1, 1.0): 0.25, (t1, 1.1): 0.22}
    grid |= {(t2, 0.9): 0.28, (t2, 1.0): 0.26, (t2, 1.1): 0.25}
    rows = [(D0, "X", t, m, v + 0.5) for (t, m), v in grid.items()]  # older, ignored
    rows += [(D0 + dt.timedelta(1), "X", t, m, v) for (t, m), v in grid.items()]
    vols = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "underlying": pl.String,
            "expiry_years": pl.Float64,
            "moneyness": pl.Float64,
            "implied_vol": pl.Float64,
        },
        orient="row",
    )
    m = np.array([1.0, 0.95, 1.0, 1.0, 0.8, 1.0])
    t = np.array([t1, t1, 0.5, 2.0, 0.1, 0.5])
    got = surface_vols(vols, ["X", "X", "X", "X", "X", "Y"], m, t, D0 + dt.timedelta(5))
    w = 0.25**2 * t1 + (0.26**2 * t2 - 0.25**2 * t1) * (0.5 - t1) / (t2 - t1)
    expect = [0.25, 0.275, np.sqrt(w / 0.5), 0.26, 0.30, np.nan]
    np.testing.assert_allclose(got, expect, rtol=1e-12)
    # as of the first date, the older surface
    assert surface_vols(vols, ["X"], np.ones(1), np.full(1, t1), D0)[0] == pytest.approx(0.75)


# ------------------------------------------------------------------------ proxies


def _sector_book(n_days: int, start_short: int, beta: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    days = _days(n_days + 1)
    sector = rng.normal(0, 0.01, n_days)
    peers = sector[:, None] + rng.normal(0, 0.004, (n_days, 3))
    short = beta * sector + rng.normal(0, 0.005, n_days)
    series = {f"P{j}": (days, 100 * np.exp(np.r_[0, np.cumsum(peers[:, j])])) for j in range(3)}
    series["NEW"] = (days[start_short:], 100 * np.exp(np.r_[0, np.cumsum(short)])[start_short:])
    series["OTHER"] = (days, 100 * np.exp(np.r_[0, np.cumsum(rng.normal(0, 0.02, n_days))]))
    recs = [_inst(j, f"P{j}", "equity", 100.0, sector="Energy") for j in range(3)]
    recs += [
        _inst(3, "NEW", "equity", 100.0, sector="Energy"),
        _inst(4, "OTHER", "equity", 100.0, sector="Utilities"),
    ]
    return recs, _prices(series), peers, short


def test_short_history_equity_gets_beta_times_its_sector_on_missing_days():
    recs, prices, peers, short = _sector_book(400, start_short=150, beta=1.3)
    _, fh = _build(recs, _history(prices), window=400)
    f = fh.keys.index("EQ:NEW")
    (proxy,) = [p for p in fh.proxies if p.factor == "EQ:NEW"]
    sector = peers.mean(axis=1)  # the equal-weighted sector move (OTHER is another sector)
    # the series starts on day 150: its first move is on day 151, days 1..150 are proxied
    assert proxy.days == 150 and proxy.proxy.startswith("sector Energy (3 equities")
    np.testing.assert_allclose(fh.moves[:150, f], proxy.beta * sector[:150], atol=1e-12)
    np.testing.assert_allclose(fh.moves[150:, f], short[150:], atol=1e-12)
    # OLS on the 250-day overlap recovers beta 1.3: the slope's standard error is about
    # sigma_e / (sigma_x sqrt(n)) = 0.005 / (0.0101 * sqrt(250)) = 0.031; 4 SE = 0.125
    assert proxy.beta == pytest.approx(1.3, abs=0.125)
    assert "250 overlapping days" in proxy.reason


def test_beta_is_one_with_too_little_overlap_and_market_proxy_without_sector():
    recs, prices, _, _ = _sector_book(200, start_short=200 - MIN_OVERLAP_DAYS + 10, beta=2)
    recs = [r.model_copy(update={"sector": None}) if r.symbol == "NEW" else r for r in recs]
    _, fh = _build(recs, _history(prices), window=200)
    (proxy,) = [p for p in fh.proxies if p.factor == "EQ:NEW"]
    assert proxy.beta == 1.0 and "beta 1" in proxy.reason
    assert proxy.proxy.startswith("market (4 equities")


def test_equity_with_no_data_is_proxied_and_a_currency_with_none_is_an_error():
    recs, prices, _, _ = _sector_book(100, start_short=0, beta=1)
    recs.append(_inst(5, "GHOST", "equity", 10.0, sector="Energy"))
    _, fh = _build(recs, _history(prices), window=100)
    (proxy,) = [p for p in fh.proxies if p.factor == "EQ:GHOST"]
    assert proxy.days == 100 and proxy.beta == 1.0 and "no stored history" in proxy.reason
    recs.append(_inst(6, "VW", "equity", 10.0, currency="EUR"))
    with pytest.raises(InputError, match="FX:EUR"):
        _build(recs, _history(prices), window=100)


def test_curve_without_history_uses_the_base_currency_curve():
    days = _days(300)
    rng = np.random.default_rng(5)
    usd = 0.04 + np.cumsum(rng.normal(0, 0.0005, 300))
    gbp = 0.05 + np.cumsum(0.8 * np.diff(np.r_[0.04, usd]) + rng.normal(0, 0.0001, 300))
    rows = [(d, "USD", 5.0, r) for d, r in zip(days, usd, strict=True)]
    rows += [(d, "GBP", 5.0, r) for d, r in zip(days[100:], gbp[100:], strict=True)]
    curves = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "currency": pl.String,
            "tenor_years": pl.Float64,
            "zero_rate": pl.Float64,
        },
        orient="row",
    )
    fx = _prices({"GBPUSD": (days, np.full(300, 1.25))})
    _, fh = _build([_bond(0, 5, "GBP")], _history(fx, curves), window=299)
    p = {x.factor: x for x in fh.proxies}["IR:GBP:5Y"]
    assert p.proxy == "curves:USD 5Y" and p.days == 100
    # beta 0.8 by construction; se ~ 0.0001 / (0.0005 sqrt(199)) = 0.014, 4 SE = 0.06
    assert p.beta == pytest.approx(0.8, abs=0.06)


# ------------------------------------------------------------------ windows, lineage


def test_window_longer_than_the_history_names_both_lengths():
    days = _days(301)
    prices = _prices({"A": (days, np.linspace(100, 130, 301))})
    recs = [_inst(0, "A", "equity", 100.0)]
    with pytest.raises(InputError) as err:
        _build(recs, _history(prices), window=500, horizon=10)
    msg = str(err.value)
    assert "500 + 10 - 1 = 509 daily moves" in msg
    assert "holds 300 (2024-01-01 to 2024-10-27)" in msg
    _, fh = _build(recs, _history(prices), window=291, horizon=10)  # exactly enough
    assert fh.n_moves == 300


def test_as_of_cuts_the_history_and_lineage_reports_it():
    days = _days(50)
    prices = _prices({"A": (days, np.linspace(100, 150, 50)), "B": (days[10:], np.ones(40))})
    recs = [_inst(0, "A", "equity", 100.0), _inst(1, "B", "equity", 1.0)]
    _, fh = _build(recs, _history(prices), window=20, as_of=days[39])
    out = fh.as_dict()
    assert out["source"] == "test" and out["observations"] == 20
    assert out["first_date"] == str(days[20]) and out["last_date"] == str(days[39])
    assert out["series"]["EQ:A"] == "prices:A (log return)"
    assert out["proxies"] == [] and out["gaps"] == {}
    np.testing.assert_allclose(
        fh.moves[:, 0], np.diff(np.log(np.linspace(100, 150, 50)))[19:39], atol=1e-12
    )


def test_realised_vol_proxy_is_the_riskmetrics_recursion():
    # RiskMetrics Technical Document (1996) §5.2: sigma^2_t+1 = l sigma^2_t + (1 - l) r_t^2;
    # the proxy's move is the log change of sigma once r_t is known, checked here against
    # the recursion written out from the EWMA's own start value.
    from riskstream.models import EWMACovariance
    from riskstream.risk.factor_history import realised_vol_moves

    r = np.random.default_rng(3).standard_t(5, 300) * 0.01
    var0 = EWMACovariance(0.94).fit(r).volatility_path_[0, 0] ** 2
    var = [var0]
    for x in r:
        var.append(0.94 * var[-1] + 0.06 * x * x)
    expect = 0.5 * np.diff(np.log(var))
    np.testing.assert_allclose(realised_vol_moves(r), expect, rtol=1e-10)
    # a jump in the returns raises the proxy vol: the move that day is positive
    r[150] = 0.08
    assert realised_vol_moves(r)[150] > 0.1


def test_a_curve_missing_on_the_calendars_last_date_is_alive_like_a_series():
    # the curve convention follows series_moves: a missing last date is a zero move, a gap
    from riskstream.risk.market_series import curve_moves

    days = _days(4)
    curves = pl.DataFrame(
        {
            "date": days[:3] * 2,
            "currency": "USD",
            "tenor_years": [1.0] * 3 + [10.0] * 3,
            "zero_rate": [0.040, 0.041, 0.043, 0.045, 0.046, 0.047],
        }
    )
    calendar = np.array([(d - dt.date(1970, 1, 1)).days for d in days])
    moves, gaps, _ = curve_moves(curves, "USD", (1.0, 10.0), calendar)
    np.testing.assert_allclose(moves[:2, 0], [0.001, 0.002], atol=1e-15)
    np.testing.assert_array_equal(moves[2], [0.0, 0.0])
    np.testing.assert_array_equal(gaps[:, 0], [False, False, True])
