"""Hedges against Hull's worked examples, and the band policy."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.portfolio.hedging import (
    band_rehedge,
    beta_hedge_contracts,
    book_greeks,
    duration_hedge,
    greek_hedge,
    min_variance_hedge,
    round_to_lots,
)

# Hull, Options, Futures and Other Derivatives (9th ed.), §3.4, Table 3.3: fifteen monthly
# changes of the heating-oil futures price (F) and of the jet-fuel price per gallon (S)
HULL_DF = [0.021, 0.035, -0.046, 0.001, 0.044, -0.029, -0.026, -0.029, 0.048, -0.006,
           -0.036, -0.011, 0.019, -0.027, 0.029]  # fmt: skip
HULL_DS = [0.029, 0.020, -0.044, 0.008, 0.026, -0.019, -0.010, -0.007, 0.043, 0.011,
           -0.036, -0.018, 0.009, -0.032, 0.023]  # fmt: skip


def test_min_variance_hedge_matches_hull_example_3_3():
    # Hull §3.4, Example 3.3: sigma_F = 0.0313, sigma_S = 0.0263, rho = 0.928, so
    # h* = 0.928 * 0.0263 / 0.0313 = 0.778; an airline buying 2 million gallons hedges with
    # 0.778 * 2,000,000 / 42,000 = 37.03 -> 37 heating-oil contracts (42,000 gallons each).
    h = min_variance_hedge(HULL_DS, HULL_DF, 2_000_000, 42_000)
    assert h.sigma_futures == pytest.approx(0.0313, abs=5e-5)
    assert h.sigma_spot == pytest.approx(0.0263, abs=5e-5)
    assert h.correlation == pytest.approx(0.928, abs=5e-4)
    assert h.hedge_ratio == pytest.approx(0.778, abs=5e-4)
    assert h.contracts_exact == pytest.approx(37.03, abs=0.01)
    assert h.contracts == 37


def test_tailing_matches_hull():
    # Hull §3.4, "Tailing the hedge": spot 1.94, futures 1.99 per gallon,
    # N* = 0.778 * (2,000,000 * 1.94) / (42,000 * 1.99) = 36.12 -> 36 contracts (Hull rounds
    # h* to 0.778 first; from the data h* = 0.7777 gives 36.10).
    h = min_variance_hedge(HULL_DS, HULL_DF, 2_000_000, 42_000, spot_price=1.94, futures_price=1.99)
    assert h.contracts_exact == pytest.approx(36.12, abs=0.03)
    assert h.contracts == 36


def test_beta_hedge_matches_hull_section_3_5():
    # Hull §3.5: portfolio $5,050,000 with beta 1.5; S&P 500 futures at 1,010 on $250 times
    # the index, so one contract is worth 252,500: hedging (beta 0) sells 1.5 * 20 = 30;
    # reducing beta to 0.75 sells 15; raising it to 2.0 buys 10.
    fv = 250 * 1_010
    assert beta_hedge_contracts(5_050_000, 1.5, fv) == pytest.approx(-30.0)
    assert beta_hedge_contracts(5_050_000, 1.5, fv, 0.75) == pytest.approx(-15.0)
    assert beta_hedge_contracts(5_050_000, 1.5, fv, 2.0) == pytest.approx(10.0)
    # per position: the dollar beta adds up
    v, b = np.array([2_000_000, 3_050_000]), np.array([1.2, (1.5 * 5_050_000 - 2.4e6) / 3.05e6])
    assert beta_hedge_contracts(v, b, fv) == pytest.approx(-30.0)


def test_duration_hedge_matches_hull_example_6_5():
    # Hull §6.4, Example 6.5: $10 million of bonds with duration 6.80 years hedged with
    # Treasury bond futures at 93-02 (93,062.50 per contract) whose CTD has duration 9.20:
    # N* = 10,000,000 * 6.80 / (93,062.50 * 9.20) = 79.42 -> sell 79 contracts.
    h = duration_hedge([10_000_000 * 6.80], [[93_062.50 * 9.20]])
    assert h.quantity[0] == pytest.approx(-79.42, abs=0.005)
    assert round_to_lots(h.quantity)[0] == -79
    assert h.residual_krd[0] == pytest.approx(0.0, abs=1e-6)


def test_key_rate_hedge_zeroes_every_bucket_and_convexity():
    book = np.array([4e5, 9e5, 2e5])  # dollar durations at 2y, 5y, 10y
    hedges = np.array([[1.9, 0.1, 0.0], [0.1, 4.6, 0.3], [0.0, 0.4, 8.5]])  # per unit
    h = duration_hedge(book, hedges)
    np.testing.assert_allclose(h.residual_krd, 0.0, atol=1e-6)
    # four hedges and the convexity row: every bucket and the convexity are matched
    hedges4 = np.vstack([hedges, [0.5, 0.5, 0.5]])
    h = duration_hedge(book, hedges4, book_convexity=5e6, hedge_convexity=[4.0, 25.0, 80.0, 10.0])
    np.testing.assert_allclose(h.residual_krd, 0.0, atol=1e-4)
    assert h.residual_convexity == pytest.approx(0.0, abs=1e-3)


def test_gamma_hedge_matches_hull():
    # Hull (9th ed.) §19.6: a delta-neutral portfolio with gamma -3,000; a traded call has
    # delta 0.62 and gamma 1.50: buy 3,000 / 1.5 = 2,000 calls, then sell 1,240 of the
    # underlying to restore delta neutrality.
    h = greek_hedge([0.0], [-3_000.0], None, [[0.62]], [[1.50]])
    assert h.options[0, 0] == pytest.approx(2_000.0)
    assert h.underlying[0] == pytest.approx(-1_240.0)


def test_gamma_vega_hedge_matches_hull():
    # Hull (9th ed.) §19.8: delta-neutral, gamma -5,000, vega -8,000; option 1 (delta 0.6,
    # gamma 0.5, vega 2.0) and option 2 (0.5, 0.8, 1.2): 400 of option 1 and 6,000 of
    # option 2, then sell 0.6*400 + 0.5*6,000 = 3,240 units of the asset.
    h = greek_hedge([0.0], [-5_000.0], [-8_000.0], [[0.6, 0.5]], [[0.5, 0.8]], [[2.0, 1.2]])
    np.testing.assert_allclose(h.options[0], [400.0, 6_000.0])
    assert h.underlying[0] == pytest.approx(-3_240.0)
    assert h.residual_delta[0] == h.residual_gamma[0] == h.residual_vega[0] == 0.0


def test_delta_hedge_with_futures_and_book_greeks():
    # two underlyings; positions: 100 calls (delta 0.5) on 0, -300 shares of 0, 50 puts
    # (delta -0.4) on 1
    d, g, v = book_greeks([0, 0, 1], [100, -300, 50], [0.5, 1.0, -0.4], [0.02, 0, 0.03],
                          [0.1, 0, 0.2], 2)  # fmt: skip
    np.testing.assert_allclose(d, [-250.0, -20.0])
    np.testing.assert_allclose(g, [2.0, 1.5])
    np.testing.assert_allclose(v, [10.0, 10.0])
    # futures with delta e^{(r-q)T} = 1.01 per unit and 10 units a contract
    h = greek_hedge(d, hedge_delta=10 * 1.01)
    np.testing.assert_allclose(h.underlying, [250 / 10.1, 20 / 10.1])
    np.testing.assert_allclose(h.residual_delta, 0.0, atol=1e-12)


def test_band_rehedge_trades_only_outside_the_band():
    path = np.array([100.0, 104.0, 109.0, 111.0, 95.0, 96.0])
    s = band_rehedge(path, band=8.0)
    # t0 hedge to -100; 104 and 109 stay within 8 ... 109 is 9 out -> rehedge to -109;
    # 111 (2) stays; 95 (14) rehedges; 96 stays
    np.testing.assert_allclose(s.hedge, [-100, -100, -109, -109, -95, -95])
    assert s.n_rehedges == 3 and s.max_open_exposure == pytest.approx(4.0)
    edge = band_rehedge(path, band=8.0, full=False)
    assert edge.hedge[2] == pytest.approx(-101.0)  # only back to the band's edge
    with pytest.raises(InputError, match="band"):
        band_rehedge(path, band=-1.0)


def test_lot_rounding_and_bad_input():
    np.testing.assert_array_equal(
        round_to_lots([149.0, 150.0, -250.0, 49.0], 100), [100, 200, -300, 0]
    )
    with pytest.raises(InputError, match="lot_size"):
        round_to_lots([1.0], 0.0)
    with pytest.raises(InputError, match="futures_change"):
        min_variance_hedge([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], 1.0, 1.0)
