"""The live implied-vol surface: quotes to vols (Hull's example, QuantLib), each bad-quote
flag, sticky-strike interpolation in strike and across expiries."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.pricing import baw_price, bsm_price
from riskstream.risk.vol_surface import (
    ARBITRAGE,
    CROSSED,
    OK,
    ONE_SIDED,
    OUTSIDE_BOUNDS,
    STALE,
    VolSurface,
)

NOW = 10**18
STALE_NS = 60 * 10**9


def surface(strike, call, american=None, owner=None, expiry_key=None, initial=0.2):
    n = len(strike)
    return VolSurface(
        np.zeros(n, dtype=np.int64) if owner is None else np.asarray(owner),
        np.zeros(n, dtype=np.int64) if expiry_key is None else np.asarray(expiry_key),
        np.asarray(strike, dtype=float),
        np.asarray(call, dtype=bool),
        np.zeros(n, dtype=bool) if american is None else np.asarray(american),
        np.zeros(n, dtype=bool),
        np.full(n, initial),
        STALE_NS,
    )


def read(surf, bid, ask, spot, T, r=0.0, q=0.0, ts=None, changed=None):
    n = surf.n
    full = lambda x: np.broadcast_to(np.asarray(x, dtype=float), (n,)).copy()  # noqa: E731
    return surf.update(
        np.arange(n) if changed is None else np.asarray(changed),
        full(bid),
        full(ask),
        np.full(n, NOW) if ts is None else np.asarray(ts, dtype=np.int64),
        full(spot),
        full(T),
        full(r),
        full(q),
        NOW,
    )


def test_hull_implied_vol_example() -> None:
    # Hull, Options, Futures and Other Derivatives (10th ed.), sec. 15.11: a European call
    # with S = 21, K = 20, r = 10%, T = 0.25 priced 1.875 has an implied volatility of
    # 0.235 (Hull rounds to three decimals: tolerance 5e-4).
    surf = surface([20.0], [True])
    read(surf, 1.875, 1.875, 21.0, 0.25, r=0.10)
    assert surf.flag[0] == OK
    assert surf.vol[0] == pytest.approx(0.235, abs=5e-4)


def test_american_quotes_are_solved_with_the_american_model() -> None:
    # An American put quoted at its Barone-Adesi-Whaley value gives back its vol (the
    # European solver would read the early-exercise premium as extra vol).
    value = float(baw_price(95.0, 100.0, 1.0, 0.08, 0.0, 0.3, False))
    surf = surface([100.0], [False], american=[True])
    read(surf, value, value, 95.0, 1.0, r=0.08)
    assert surf.vol[0] == pytest.approx(0.3, abs=1e-8)
    euro = surface([100.0], [False])
    read(euro, value, value, 95.0, 1.0, r=0.08)
    assert euro.vol[0] > 0.31


def test_each_bad_quote_kind_is_flagged_counted_and_skipped() -> None:
    # Six calls on one expiry, each strike's quote broken a different way; the last one
    # clean. Spot 100, T = 0.5, r = 0: fair values at 25% vol.
    strikes = np.array([80.0, 90.0, 100.0, 110.0, 120.0, 130.0])
    fair = bsm_price(100.0, strikes, 0.5, 0.0, 0.0, 0.25, True)
    bid, ask = fair - 0.05, fair + 0.05
    ts = np.full(6, NOW)
    bid[0] = np.nan  # one-sided: no bid
    bid[1], ask[1] = fair[1] + 0.2, fair[1] - 0.2  # crossed
    ts[2] = NOW - 2 * STALE_NS  # stale
    bid[3] = ask[3] = 0.5 * fair[3]  # fine on its own (a lower vol) ...
    bid[4], ask[4] = 25.0, 25.2  # fine on its own too, but not beside the 110 call
    bid[5] = ask[5] = 120.0  # above the spot: outside the no-arbitrage bound
    surf = surface(strikes, [True] * 6, initial=0.25)
    read(surf, bid, ask, 100.0, 0.5, ts=ts)
    assert surf.flag[0] == ONE_SIDED
    assert surf.flag[1] == CROSSED
    assert surf.flag[2] == STALE
    assert surf.flag[5] == OUTSIDE_BOUNDS
    # a 110 call bought at its ask and a 120 call sold at 25.0: a call spread paying at
    # least nothing, bought for less than nothing (Carr & Madan 2005): both legs flagged
    assert surf.flag[3] == ARBITRAGE and surf.flag[4] == ARBITRAGE
    assert surf.flag_counts == {
        "one_sided": 1,
        "crossed": 1,
        "stale": 1,
        "outside_bounds": 1,
        "arbitrage": 2,
    }
    assert surf.flagged_now() == surf.flag_counts
    # nothing usable left on this expiry: the vols stay at their last values
    np.testing.assert_array_equal(surf.vol, 0.25)


def test_butterfly_arbitrage_flags_the_body() -> None:
    # Convexity: C(100) <= (C(90) + C(110)) / 2. A body bid above the wings' mean ask is a
    # butterfly bought for less than nothing: the body is flagged, the wings kept.
    strikes = np.array([90.0, 100.0, 110.0])
    fair = bsm_price(100.0, strikes, 0.5, 0.0, 0.0, 0.25, True)
    bid, ask = fair - 0.01, fair + 0.01
    bid[1] = 0.5 * (ask[0] + ask[2]) + 0.05
    ask[1] = bid[1] + 0.02
    surf = surface(strikes, [True] * 3)
    read(surf, bid, ask, 100.0, 0.5)
    np.testing.assert_array_equal(surf.flag, [OK, ARBITRAGE, OK])
    # the body takes the surface's vol at its strike (the wings' vols interpolated)
    assert surf.vol[1] == pytest.approx(0.25, abs=2e-3)
    # tick-rounded but arbitrage-free quotes raise nothing
    clean = surface(strikes, [True] * 3)
    read(clean, np.floor(fair * 100) / 100, np.ceil(fair * 100) / 100, 100.0, 0.5)
    np.testing.assert_array_equal(clean.flag, OK)


def test_stale_quotes_age_out_on_a_later_refresh() -> None:
    surf = surface([100.0], [True])
    px = float(bsm_price(100.0, 100.0, 0.5, 0.0, 0.0, 0.3, True))
    surf.update(
        np.array([0]),
        np.array([px]),
        np.array([px]),
        np.array([NOW]),
        np.array([100.0]),
        np.array([0.5]),
        np.zeros(1),
        np.zeros(1),
        NOW,
    )
    assert surf.flag[0] == OK
    later = NOW + STALE_NS + 1
    surf.update(
        np.empty(0, dtype=np.int64),
        np.array([px]),
        np.array([px]),
        np.array([NOW]),
        np.array([100.0]),
        np.array([0.5]),
        np.zeros(1),
        np.zeros(1),
        later,
    )
    assert surf.flag[0] == STALE


def test_sticky_strike_interpolation_in_strike_and_expiry() -> None:
    # Expiry A (T = 0.25): quotes at 90 (30%) and 110 (20%); options at 80, 100, 120 have
    # none. Expiry B (T = 1.0): quote at 100 (26%); an option at 100 on expiry C (T = 0.5)
    # has no quoted expiry of its own.
    S, r = 100.0, 0.0
    strike = np.array([90.0, 110.0, 80.0, 100.0, 120.0, 100.0, 100.0])
    key = np.array([1, 1, 1, 1, 1, 3, 2])  # expiry keys: A = 1, C = 2, B = 3
    T = np.array([0.25, 0.25, 0.25, 0.25, 0.25, 1.0, 0.5])
    vols = np.array([0.30, 0.20, np.nan, np.nan, np.nan, 0.26, np.nan])
    px = bsm_price(S, strike, T, r, 0.0, np.nan_to_num(vols, nan=0.2), True)
    bid = np.where(np.isfinite(vols), px, np.nan)  # no bid: one-sided, no quote
    surf = surface(strike, [True] * 7, expiry_key=key)
    read(surf, bid, np.where(np.isfinite(vols), px, np.nan), S, T)
    v = surf.vol
    assert v[0] == pytest.approx(0.30, abs=1e-8) and v[1] == pytest.approx(0.20, abs=1e-8)
    assert v[2] == pytest.approx(0.30, abs=1e-8)  # flat below the lowest quoted strike
    assert v[3] == pytest.approx(0.25, abs=1e-8)  # linear in strike
    assert v[4] == pytest.approx(0.20, abs=1e-8)  # flat above the highest
    # expiry C: total variance linear in T between A (0.25^2 x 0.25) and B (0.26^2 x 1.0)
    w = 0.25**2 * 0.25 + (0.26**2 * 1.0 - 0.25**2 * 0.25) * (0.5 - 0.25) / (1.0 - 0.25)
    assert v[6] == pytest.approx(np.sqrt(w / 0.5), abs=1e-8)


def test_the_surface_moves_every_option_when_quotes_move() -> None:
    # Raise the two quoted options' vols by 5 points: every option of the underlying moves
    strike = np.array([90.0, 110.0, 100.0])
    T = 0.25
    surf = surface(strike, [True] * 3, initial=0.1)
    for level in (0.20, 0.25):
        px = bsm_price(100.0, strike, T, 0.0, 0.0, level, True)
        bid = np.array([px[0], px[1], np.nan])
        moved = read(surf, bid, np.array([px[0], px[1], np.nan]), 100.0, T)
        assert surf.vol == pytest.approx([level] * 3, abs=1e-8)
        np.testing.assert_array_equal(moved, [0])
