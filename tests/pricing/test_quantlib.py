"""Riskstream's pricers against QuantLib (a test dependency only) on thousands of random
contracts: European options (AnalyticEuropeanEngine, BlackCalculator), American options
(BinomialVanillaEngine with the Leisen-Reimer tree, FdBlackScholesVanillaEngine) and
fixed-rate bonds (FixedRateBond, BondFunctions, ZeroCurve + DiscountingBondEngine).

Times are whole days on Actual/365 Fixed (so T = days / 365 exactly on both sides), and the
random generators are seeded.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import QuantLib as ql  # noqa: N813 (QuantLib's own documented alias)

from riskstream.pricing import (
    FixedRateBond,
    ZeroCurve,
    american_greeks,
    american_price,
    black76_greeks,
    bond_price_from_curve,
    bsm_greeks,
    bsm_implied_vol,
)

TODAY = ql.Date(15, 1, 2025)
DC = ql.Actual365Fixed()


class BsmMarket:
    """A QuantLib Black-Scholes-Merton process whose quotes the tests move."""

    def __init__(self) -> None:
        ql.Settings.instance().evaluationDate = TODAY
        self.spot, self.r, self.q, self.vol = (ql.SimpleQuote(x) for x in (100, 0.05, 0.0, 0.2))
        curve = lambda quote: ql.YieldTermStructureHandle(  # noqa: E731
            ql.FlatForward(TODAY, ql.QuoteHandle(quote), DC)
        )
        vol = ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(TODAY, ql.NullCalendar(), ql.QuoteHandle(self.vol), DC)
        )
        self.process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(self.spot), curve(self.q), curve(self.r), vol
        )

    def set(self, S: float, r: float, q: float, sigma: float) -> None:
        self.spot.setValue(S)
        self.r.setValue(r)
        self.q.setValue(q)
        self.vol.setValue(sigma)


def assert_close(actual, expected, rtol: float, atol, name: str = "") -> None:
    """|actual - expected| <= atol + rtol |expected| element-wise (atol may be an array)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    bad = ~(np.abs(actual - expected) <= atol + rtol * np.abs(expected))
    assert not bad.any(), (
        f"{name}: {bad.sum()} of {bad.size} differ, first at {np.flatnonzero(bad)[0]}: "
        f"{actual[bad][0]!r} vs {expected[bad][0]!r}"
    )


def random_contracts(n: int, seed: int, max_days: int = 1825) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    S = rng.uniform(10.0, 500.0, n)
    return {
        "S": S,
        "K": S * rng.uniform(0.6, 1.5, n),
        "days": rng.integers(7, max_days, n),
        "r": rng.uniform(-0.01, 0.10, n),
        "q": rng.uniform(0.0, 0.08, n),
        "sigma": rng.uniform(0.05, 0.80, n),
        "is_call": rng.random(n) < 0.5,
    }


def _option(K: float, is_call: bool, days: int, american: bool):
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, K)
    expiry = TODAY + int(days)
    exercise = ql.AmericanExercise(TODAY, expiry) if american else ql.EuropeanExercise(expiry)
    return ql.VanillaOption(payoff, exercise)


def test_european_bsm_against_quantlib_3000_random_contracts() -> None:
    c = random_contracts(3000, seed=11)
    T = c["days"] / 365.0
    mine = bsm_greeks(c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"])
    market = BsmMarket()
    engine = ql.AnalyticEuropeanEngine(market.process)
    theirs = {name: np.empty(3000) for name in ("price", "delta", "gamma", "vega", "theta", "rho")}
    for i in range(3000):
        market.set(c["S"][i], c["r"][i], c["q"][i], c["sigma"][i])
        option = _option(c["K"][i], bool(c["is_call"][i]), c["days"][i], american=False)
        option.setPricingEngine(engine)
        theirs["price"][i] = option.NPV()
        theirs["delta"][i] = option.delta()
        theirs["gamma"][i] = option.gamma()
        theirs["vega"][i] = option.vega()  # per 1.00 of vol
        theirs["theta"][i] = option.theta()  # per year, dV/dt
        theirs["rho"][i] = option.rho()  # per 1.00 of rate
    # Same closed form; differences are floating-point only (QuantLib's normal CDF is
    # accurate to ~1e-15): 1e-9 relative, with an absolute floor of 1e-10 of the spot.
    for name, expected in theirs.items():
        atol = 1e-10 * (c["S"] if name not in ("delta", "gamma") else 1.0)
        assert_close(getattr(mine, name), expected, rtol=1e-9, atol=atol, name=name)


def test_black76_against_quantlib_black_calculator() -> None:
    c = random_contracts(1000, seed=12)
    T = c["days"] / 365.0
    mine = black76_greeks(c["S"], c["K"], T, c["r"], c["sigma"], c["is_call"])
    for i in range(1000):
        payoff = ql.PlainVanillaPayoff(
            ql.Option.Call if c["is_call"][i] else ql.Option.Put, c["K"][i]
        )
        calc = ql.BlackCalculator(
            payoff, c["S"][i], c["sigma"][i] * np.sqrt(T[i]), np.exp(-c["r"][i] * T[i])
        )
        assert mine.price[i] == pytest.approx(calc.value(), rel=1e-9, abs=1e-10 * c["S"][i])
        assert mine.delta[i] == pytest.approx(calc.deltaForward(), rel=1e-9, abs=1e-10)
        assert mine.gamma[i] == pytest.approx(calc.gammaForward(), rel=1e-9, abs=1e-12)
        assert mine.vega[i] == pytest.approx(calc.vega(T[i]), rel=1e-9, abs=1e-10 * c["S"][i])


def test_implied_vol_against_quantlib_and_round_trip() -> None:
    c = random_contracts(2000, seed=13)
    T = c["days"] / 365.0
    price = bsm_greeks(c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"]).price
    vol = bsm_implied_vol(price, c["S"], c["K"], T, c["r"], c["q"], c["is_call"])
    # Round trip: every contract whose vega is not negligible recovers σ to 1e-8; deep
    # out-of-the-money prices carry little information about σ (the price moves < 1e-10).
    vega = bsm_greeks(c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"]).vega
    informative = vega * 1e-8 > 1e-12 * c["S"]
    assert informative.mean() > 0.95
    np.testing.assert_allclose(vol[informative], c["sigma"][informative], rtol=1e-8)
    market = BsmMarket()
    for i in np.flatnonzero(informative)[:200]:
        market.set(c["S"][i], c["r"][i], c["q"][i], 0.3)
        option = _option(c["K"][i], bool(c["is_call"][i]), c["days"][i], american=False)
        option.setPricingEngine(ql.AnalyticEuropeanEngine(market.process))
        theirs = option.impliedVolatility(price[i], market.process, 1e-12, 500, 1e-4, 5.0)
        assert vol[i] == pytest.approx(theirs, rel=1e-7)


def test_leisen_reimer_tree_matches_quantlib_tree_2000_european_contracts() -> None:
    # The same Leisen-Reimer tree (201 steps) without early exercise: same number to rounding.
    c = random_contracts(2000, seed=14, max_days=730)
    T = c["days"] / 365.0
    mine = american_price(
        c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"], steps=201, american=False
    )
    market = BsmMarket()
    engine = ql.BinomialVanillaEngine(market.process, "lr", 201)
    theirs = np.empty(2000)
    for i in range(2000):
        market.set(c["S"][i], c["r"][i], c["q"][i], c["sigma"][i])
        option = _option(c["K"][i], bool(c["is_call"][i]), c["days"][i], american=False)
        option.setPricingEngine(engine)
        theirs[i] = option.NPV()
    assert_close(mine, theirs, rtol=1e-9, atol=1e-9 * c["S"], name="price")


def test_american_leisen_reimer_against_quantlib_tree_and_pde_600_contracts() -> None:
    # With early exercise, QuantLib 1.44's BinomialVanillaEngine("lr", 201) agrees with ours
    # to rounding on ~95 % of random contracts; on the rest it differs by O(1/n) (it agrees
    # again at other step counts, e.g. 203 or 1001, so it is a quirk of its exercise time
    # grid). On every such contract our price is the closer of the two to QuantLib's
    # Crank-Nicolson PDE solution on an 800 x 800 grid, and within 2e-4 of spot of it.
    c = random_contracts(600, seed=14, max_days=730)
    T = c["days"] / 365.0
    mine = american_price(c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"], steps=201)
    market = BsmMarket()
    tree = ql.BinomialVanillaEngine(market.process, "lr", 201)
    pde = ql.FdBlackScholesVanillaEngine(market.process, 800, 800)
    same = 0
    for i in range(600):
        market.set(c["S"][i], c["r"][i], c["q"][i], c["sigma"][i])
        option = _option(c["K"][i], bool(c["is_call"][i]), c["days"][i], american=True)
        option.setPricingEngine(tree)
        theirs = option.NPV()
        if abs(mine[i] - theirs) <= 1e-9 * c["S"][i]:
            same += 1
            continue
        option.setPricingEngine(pde)
        reference = option.NPV()
        assert abs(mine[i] - reference) < abs(theirs - reference)
        assert abs(mine[i] - reference) < 2e-4 * c["S"][i]
    assert same >= 540


@pytest.mark.slow
def test_american_greeks_against_quantlib_pde_40_contracts() -> None:
    # An independent implementation: QuantLib's FdBlackScholesVanillaEngine (800 x 800 grid)
    # for price, delta, gamma and theta; its vega, rho, vanna and volga by central
    # differences of its prices and deltas (σ ± 0.01, r ± 1 bp). Tolerances,
    # |error| <= rel |reference| + abs, cover both solvers' discretisation errors (ours: 400
    # time steps x 800 spot intervals, theirs 800 x 800); the absolute floors are small
    # against typical at-the-money magnitudes (delta 0.5, gamma ~5/S, vanna ~0.1-1). The
    # engine's own vanna/volga tolerances here are those of 400 time steps.
    n = 40
    c = random_contracts(n, seed=15, max_days=730)
    T = c["days"] / 365.0
    mine = american_greeks(c["S"], c["K"], T, c["r"], c["q"], c["sigma"], c["is_call"])
    market = BsmMarket()
    engine = ql.FdBlackScholesVanillaEngine(market.process, 800, 800)
    tolerance = {  # greek: (rel, abs as a function of spot)
        "price": (1e-3, lambda S: 2e-4 * S),
        "delta": (1e-3, lambda S: 5e-4),
        "gamma": (5e-3, lambda S: 1e-3 / S),
        "theta": (2e-2, lambda S: 1e-3 * S),
        "vega": (5e-3, lambda S: 1e-4 * S),
        "rho": (2e-2, lambda S: 1e-4 * S),
        "vanna": (1e-2, lambda S: 1e-3),
        "volga": (3e-2, lambda S: 1e-2 * S),  # volga is O(0.1 - 1) x S
    }
    h_vol, h_rate = 0.01, 1e-4
    misses = dict.fromkeys(tolerance, 0)
    for i in range(n):
        S, r, q, sigma = c["S"][i], c["r"][i], c["q"][i], c["sigma"][i]
        option = _option(c["K"][i], bool(c["is_call"][i]), c["days"][i], american=True)
        option.setPricingEngine(engine)

        def value_delta(s=sigma, rate=r, option=option, S=S, q=q):
            market.set(S, rate, q, s)
            return option.NPV(), option.delta()

        price, delta = value_delta()
        ref = {"price": price, "delta": delta, "gamma": option.gamma(), "theta": option.theta()}
        (up, delta_up), (down, delta_down) = value_delta(sigma + h_vol), value_delta(sigma - h_vol)
        ref["vega"] = (up - down) / (2 * h_vol)
        ref["volga"] = (up - 2 * price + down) / h_vol**2
        ref["vanna"] = (delta_up - delta_down) / (2 * h_vol)
        ref["rho"] = (value_delta(rate=r + h_rate)[0] - value_delta(rate=r - h_rate)[0]) / (
            2 * h_rate
        )
        for name, (rel, abs_of) in tolerance.items():
            got = float(getattr(mine, name)[i])
            error = abs(got - ref[name])
            misses[name] += error > rel * abs(ref[name]) + abs_of(S)
            assert error <= 10 * (rel * abs(ref[name]) + abs_of(S)), (name, i, got, ref)
    # Near the early-exercise boundary (deep in-the-money, where the grid's exercised nodes
    # change with a bump) both solvers' finite differences are rougher: the tight tolerance
    # holds for at least 95 % of contracts, ten times it for all.
    assert all(count <= 0.05 * n for count in misses.values()), misses


def _ql_date(day: dt.date):
    return ql.Date(day.day, day.month, day.year)


def _ql_bond(bond: FixedRateBond):
    tenor = ql.Period(
        {1: ql.Annual, 2: ql.Semiannual, 4: ql.Quarterly, 12: ql.Monthly}[bond.frequency]
    )
    maturity = _ql_date(bond.maturity)
    issue = maturity - ql.Period(40, ql.Years)
    schedule = ql.Schedule(
        issue,
        maturity,
        tenor,
        ql.NullCalendar(),
        ql.Unadjusted,
        ql.Unadjusted,
        ql.DateGeneration.Backward,
        False,
    )
    return ql.FixedRateBond(0, 100.0, schedule, [bond.coupon], ql.Thirty360(ql.Thirty360.BondBasis))


def _random_bonds(n: int, seed: int):
    rng = np.random.default_rng(seed)
    settlement = dt.date(2025, 1, 15)
    bonds = []
    for _ in range(n):
        years = int(rng.integers(0, 30))
        maturity = dt.date(2025 + years + 1, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        bonds.append(
            FixedRateBond(
                maturity,
                float(np.round(rng.uniform(0, 0.1), 4)),
                int(rng.choice([1, 2, 4, 12])),
                "30/360",
            )
        )
    return settlement, bonds, rng.uniform(0.0, 0.12, n)


def test_bonds_30_360_against_quantlib_fixed_rate_bond() -> None:
    # Clean price, accrued interest, yield from price, Macaulay and modified duration,
    # convexity and DV01 of 300 random bonds, 30/360 with yields compounded at the coupon
    # frequency. Same conventions on both sides: agreement to rounding (1e-9).
    settlement, bonds, yields = _random_bonds(300, seed=16)
    ql.Settings.instance().evaluationDate = _ql_date(settlement)
    dc = ql.Thirty360(ql.Thirty360.BondBasis)
    settle = _ql_date(settlement)
    for bond, y in zip(bonds, yields, strict=True):
        qb = _ql_bond(bond)
        freq = qb.frequency()
        clean = ql.BondFunctions.cleanPrice(qb, y, dc, ql.Compounded, freq, settle)
        assert float(bond.clean_price(settlement, y)) == pytest.approx(clean, rel=1e-10)
        assert bond.accrued_interest(settlement) == pytest.approx(
            ql.BondFunctions.accruedAmount(qb, settle), abs=1e-10
        )
        assert float(bond.yield_from_clean_price(settlement, clean)) == pytest.approx(y, abs=1e-10)
        risk = bond.risk(settlement, y)
        rate = ql.InterestRate(y, dc, ql.Compounded, freq)
        assert float(risk.modified_duration) == pytest.approx(
            ql.BondFunctions.duration(qb, rate, ql.Duration.Modified, settle), rel=1e-9
        )
        assert float(risk.macaulay_duration) == pytest.approx(
            ql.BondFunctions.duration(qb, rate, ql.Duration.Macaulay, settle), rel=1e-9
        )
        assert float(risk.convexity) == pytest.approx(
            ql.BondFunctions.convexity(qb, rate, settle), rel=1e-9
        )

        # DV01 against QuantLib's own price function over +-0.5 bp (central difference,
        # error ~ convexity x h² / 24, far below 1e-7 relative). QuantLib's basisPointValue
        # adds a convexity term, so it is not this first-order figure.
        def dirty(yy: float, qb=qb, freq=freq) -> float:
            clean = ql.BondFunctions.cleanPrice(qb, yy, dc, ql.Compounded, freq, settle)
            return clean + ql.BondFunctions.accruedAmount(qb, settle)

        assert float(risk.dv01) == pytest.approx(dirty(y - 0.5e-4) - dirty(y + 0.5e-4), rel=1e-6)


def test_bond_price_from_zero_curve_against_quantlib() -> None:
    # A zero curve linear in continuously compounded zero rates, on a 30/360 time axis so
    # that QuantLib's times equal the bond's period-based times; bonds mature inside it.
    settlement, bonds, _ = _random_bonds(200, seed=17)
    ql.Settings.instance().evaluationDate = _ql_date(settlement)
    dc = ql.Thirty360(ql.Thirty360.BondBasis)
    pillars_m = [3, 6, 12, 24, 36, 60, 84, 120, 240, 372]
    rates = [0.030, 0.032, 0.035, 0.037, 0.038, 0.040, 0.041, 0.043, 0.046, 0.045]
    curve = ZeroCurve(np.array(pillars_m) / 12.0, rates)
    dates = [_ql_date(settlement)] + [
        _ql_date(settlement) + ql.Period(m, ql.Months) for m in pillars_m
    ]
    ql_curve = ql.ZeroCurve(
        dates, [rates[0], *rates], dc, ql.NullCalendar(), ql.Linear(), ql.Continuous
    )
    engine = ql.DiscountingBondEngine(ql.YieldTermStructureHandle(ql_curve))
    for bond in bonds:
        qb = _ql_bond(bond)
        qb.setPricingEngine(engine)
        years = bond.maturity_years(settlement)
        mine = float(bond_price_from_curve(curve, bond.coupon, years, bond.frequency))
        assert mine == pytest.approx(qb.dirtyPrice(), rel=1e-10)
