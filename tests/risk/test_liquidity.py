"""Liquidity-adjusted VaR parts against worked examples."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.risk.liquidity import (
    AlmgrenChriss,
    bangia_spread_cost,
    funding_cost,
    impact_parameters,
    intraday_multiplier,
    liquidation_days,
)
from riskstream.risk.measures import normal_var_es


def test_constant_spread_lvar_dowd_example():
    # Dowd, Measuring Market Risk (2nd ed.), ch. 14, as set in the GARP FRM Part II
    # reading (Kaplan notes, LO 52.4): price 100, daily sd 2%, spread 1%, 95% (z = 1.65):
    # LVaR = 100 * 1.65 * 0.02 + 0.5 * 100 * 0.01 = 3.80.
    var = 100 * 1.65 * 0.02
    lc = bangia_spread_cost(np.array([100.0]), np.array([0.01]), np.array([0.0]), k=3.0)
    assert var + lc[0] == pytest.approx(3.80, abs=1e-12)


def test_exogenous_spread_bangia_example():
    # Bangia et al. (1999) exogenous spread cost 1/2 V (mu + k sigma), the FRM question
    # discussed by Harper (Bionic Turtle, "FRM Fun 12"): V = 1,000,000, spread mean 0.1%,
    # spread volatility 0.3%, k = 1.96: LC = 0.5 * (0.1% + 1.96 * 0.3%) * 1e6 = 3,440.
    lc = bangia_spread_cost(np.array([-1e6]), np.array([0.001]), np.array([0.003]), k=1.96)
    assert lc[0] == pytest.approx(3440.0, abs=1e-6)
    # and the add-on to a normal VaR is plain addition (Dowd's loss-positive form)
    var, _ = normal_var_es(0.0, 1e6 * 0.01, 0.99)
    assert var + lc[0] > var


def test_negative_spread_is_refused():
    with pytest.raises(InputError):
        bangia_spread_cost(np.array([1.0]), np.array([-0.01]), np.array([0.0]), 3.0)


SIGMA_DRIP = 0.95  # the paper's 0.3 annual on 50, per sqrt(day), as rounded in the paper


def _paper_example(lam: float) -> AlmgrenChriss:
    # Almgren & Chriss (2000), section 4 sample: X = 1e6 shares, S0 = 50, sigma 30%/yr
    # (0.95 $/share/day^0.5), T = 5 days, N = 5, epsilon = 1/16, eta = 2.5e-6, gamma = 2.5e-7.
    eps, eta, gamma = impact_parameters(50.0, 0.125 / 50.0, 5e6)
    return AlmgrenChriss(1e6, SIGMA_DRIP, eta, gamma, eps, 5.0, 5, lam)


def test_impact_calibration_matches_the_paper():
    eps, eta, gamma = impact_parameters(50.0, 0.125 / 50.0, 5e6)
    assert (eps, eta, gamma) == pytest.approx((0.0625, 2.5e-6, 2.5e-7), rel=1e-12)


@pytest.mark.parametrize(
    ("lam", "mean_m", "var_m2", "half_life"),
    # DRIP (Lakshmi Krishnamurthy), org.drip.coverage.execution.AlmgrenChriss output on the
    # paper's example; lambda in 1/$M there (0.001 -> 1e-9 per $): mean ($M), variance
    # ($M^2), half-life (days), printed to 4 significant digits.
    [(1e-9, 0.6625, 1.0812, 51.30), (5e-9, 0.6625, 1.0740, 22.94), (9e-9, 0.6626, 1.0669, 17.10)],
)
def test_almgren_chriss_against_drip_reproduction(lam, mean_m, var_m2, half_life):
    ac = _paper_example(lam)
    mean, variance = ac.cost_mean_variance()
    assert float(mean) / 1e6 == pytest.approx(mean_m, abs=6e-5)
    assert float(variance) / 1e12 == pytest.approx(var_m2, abs=6e-5)
    assert float(ac.half_life_days) == pytest.approx(half_life, abs=0.006)


def test_almgren_chriss_closed_forms():
    # lambda -> 0: the straight-line schedule, E = gamma X^2/2 + eps X + eta~ X^2 / T
    # = 125,000 + 62,500 + 475,000 = 662,500 (paper eq. 20 with n_k = X/N), and
    # V = sigma^2 tau sum x_k^2 = 0.9025 * 1.2e12.
    ac = _paper_example(0.0)
    mean, variance = ac.cost_mean_variance()
    assert float(mean) == pytest.approx(662_500.0, rel=1e-12)
    assert float(variance) == pytest.approx(0.9025 * 1.2e12, rel=1e-12)
    # lambda = 1e-6: kappa~^2 = lambda sigma^2 / eta~ = 0.38, kappa = arccosh(1.19) ~ 0.6/day
    ac = _paper_example(1e-6)
    assert float(ac.kappa) == pytest.approx(np.arccosh(1.19), rel=1e-12)
    x = ac.holdings()
    assert x[0] == pytest.approx(1e6) and x[-1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(x) < 0)  # a sell program only sells
    # more risk aversion: cost up, variance down (the efficient frontier, section 3)
    m1, v1 = _paper_example(1e-7).cost_mean_variance()
    m2, v2 = _paper_example(1e-6).cost_mean_variance()
    assert m2 > m1 and v2 < v1


def test_almgren_chriss_rejects_bad_parameters():
    with pytest.raises(InputError):
        AlmgrenChriss(1e6, -1.0, 2.5e-6, 2.5e-7, 0.06, 5.0, 5, 1e-6)
    with pytest.raises(InputError, match="eta"):
        AlmgrenChriss(1e6, 1.0, 1e-9, 1e-6, 0.06, 5.0, 1, 1e-6)


def test_liquidation_days():
    days = liquidation_days(np.array([0.0, 5e5, -2e6, 1e12]), np.array([1e6] * 4), 0.1, 20)
    np.testing.assert_array_equal(days, [1, 5, 20, 20])


def _funding(**kw):
    """Four positions whose funding parts are worked out by hand in the tests."""
    args = {
        # long equity 1,000,000; long future 500,000; short option -200,000; long future
        # 300,000 (futures at notional)
        "position_value": np.array([1_000_000.0, 500_000.0, -200_000.0, 300_000.0]),
        "stressed_pnl": np.array([-50_000.0, -20_000.0, -10_000.0, 5_000.0]),
        "is_derivative": np.array([False, True, True, True]),
        "haircut": np.array([0.15, 0, 0, 0]),
        "haircut_stressed": np.array([0.25, 0, 0, 0]),
        "initial_margin": 100_000.0,
        "initial_margin_stressed": 180_000.0,
        "funding_spread_annual": 0.02,
        "horizon_days": 10,
        "liquid_buffer": 100_000.0,
        "liquidation_spread_cost": 4_000.0,
        "liquidation_impact_cost": 6_000.0,
    }
    return funding_cost(**{**args, **kw})


def test_funding_cost_parts_by_hand():
    f = _funding()
    # variation margin nets in the clearing account: 20,000 + 10,000 - 5,000
    assert f.variation_margin == pytest.approx(25_000.0)
    assert f.initial_margin == 100_000.0
    assert f.initial_margin_call == pytest.approx(80_000.0)  # SPAN stressed - normal
    # repo haircut 15% -> 25% on a long worth 1,000,000 then 950,000
    assert f.haircut_call == pytest.approx(0.25 * 950_000 - 0.15 * 1_000_000)  # 87,500
    need = 25_000 + 80_000 + 87_500  # 192,500 called
    assert f.forced_sale == pytest.approx(need - 100_000)  # beyond the buffer: 92,500 sold
    # the buffer's 100,000 at 2% for 10 days (ACT/360), plus the sale at the portfolio's
    # liquidation cost rate: spread 4,000 / 2,000,000 gross, impact 6,000 / 2,000,000 x
    # the 4.625% share sold (pro-rata: impact scales with the square of the share)
    financing = 0.02 * 10 / 360 * 100_000
    sale = 92_500 * (4_000 + 6_000 * 92_500 / 2_000_000) / 2_000_000
    assert financing == pytest.approx(55.5556, abs=1e-4)
    assert sale == pytest.approx(197.834375)
    assert f.financing_cost == pytest.approx(financing + sale)


def test_funding_cost_buffer_and_bad_input():
    # a buffer larger than the calls: only the funding spread on what is called
    rich = _funding(liquid_buffer=1e9)
    assert rich.forced_sale == 0.0
    assert rich.financing_cost == pytest.approx(0.02 * 10 / 360 * 192_500)
    # no buffer: everything is sold; a larger sale costs more per unit (impact)
    poor = _funding(liquid_buffer=0.0)
    assert poor.forced_sale == pytest.approx(192_500)
    assert poor.financing_cost > _funding().financing_cost
    # margin that falls under stress is no call
    assert _funding(initial_margin_stressed=50_000.0).initial_margin_call == 0.0
    with pytest.raises(InputError, match="initial_margin"):
        _funding(initial_margin=float("nan"))
    with pytest.raises(InputError, match="liquid_buffer"):
        _funding(liquid_buffer=-1.0)


def test_intraday_multiplier_is_u_shaped_and_averages_one():
    day = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

    def at(hour: float) -> float:
        ts = int((day + dt.timedelta(hours=hour)).timestamp() * 1e9)
        return intraday_multiplier(ts, 14.5, 21.0)

    open_, mid, close = at(14.5), at(17.75), at(21.0)
    assert open_ > mid and close > mid and mid < 1.0
    hours = np.linspace(14.5, 21.0, 651)
    assert np.mean([at(h) for h in hours]) == pytest.approx(1.0, abs=0.01)
