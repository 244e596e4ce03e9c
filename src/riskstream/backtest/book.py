"""A simulated option and bond book, for P&L attribution and walk-forward validation.

The setup (documented so any figure can be reproduced):

**Market.** Three risk factors, daily, taken from the simulator's daily history (the one
market model of the project, :mod:`riskstream.feeds.daily_history`; the CLI wires it,
``riskstream.cli.backtest.simulated_book_market``): the equity index :math:`S` — the
close of the universe's most-optioned underlying —, its implied volatility :math:`\\sigma`
(the stored 1-year at-the-money vol, used flat across strikes) and a 10-year yield
:math:`y` (the USD zero rate at 10 years). A :class:`MarketPath` holds them.

**Book.** Constant-maturity positions, re-established each morning so the book's shape does
not drift as contracts age (a common validation device; the day's P&L is still that of
fixed contracts over one day): short 1,000 6-month at-the-money calls, long 1,500 1-year
puts struck 10% out of the money, long 400 shares of the index (a partial delta hedge,
continuous dividend yield 2%), and 100,000 face of a 10-year 4% semi-annual bond. Options
are priced by Black-Scholes-Merton with a 3% rate, the bond from its yield
(:mod:`riskstream.pricing`).

**P&L.** The hypothetical P&L of day :math:`t` is the full revaluation of yesterday's
contracts — one day older — at today's market, plus the dividend income, minus yesterday's
value. It is explained by the Greeks of the same pricers (see
:mod:`riskstream.backtest.attribution`): delta and gamma on the index (and, for the bond,
first and second order in the yield: :math:`-D^* P\\,dy` and :math:`\\tfrac12 C P\\,dy^2`),
vega on the implied volatility, option theta, and carry — the bond's accrual and roll-down at
an unchanged yield plus dividends. The residual holds the cross terms (vanna, volga) and
higher orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskstream.backtest.attribution import PnLAttribution, explain_pnl, taylor_components
from riskstream.core.errors import InputError

DT_YEARS = 1.0 / 252.0
RATE = 0.03
DIVIDEND_YIELD = 0.02


@dataclass(frozen=True)
class Book:
    """The simulated book's positions (constant maturity)."""

    option_quantity: tuple[float, ...] = (-1000.0, 1500.0)
    option_moneyness: tuple[float, ...] = (1.0, 0.9)  # strike / spot
    option_maturity_years: tuple[float, ...] = (0.5, 1.0)
    option_is_call: tuple[bool, ...] = (True, False)
    shares: float = 400.0
    bond_face: float = 100_000.0
    bond_coupon: float = 0.04
    bond_maturity_years: float = 10.0
    bond_frequency: int = 2


@dataclass(frozen=True)
class MarketPath:
    """Simulated risk factors, shape (n_days + 1,) each (day 0 is the start)."""

    dates: np.ndarray
    spot: np.ndarray
    vol: np.ndarray
    yield_: np.ndarray


def book_pnl_attribution(market: MarketPath, book: Book | None = None) -> PnLAttribution:
    """Revalue the book daily along ``market`` and explain its P&L by factor.

    Returns
    -------
    PnLAttribution
        The hypothetical P&L (currency) of every day of ``market`` after the first, with
        delta, gamma, vega, theta, carry and residual components, and the FRTB PLA test of
        RTPL against HPL.
    """
    from riskstream.pricing import bond_price_from_yield, bond_risk, bsm_greeks, bsm_price

    book = book or Book()
    m = market
    if m.spot.size < 3:
        raise InputError("market", f"{m.spot.size} days", "at least 3 days")
    s0, s1 = m.spot[:-1, None], m.spot[1:, None]
    v0, v1 = m.vol[:-1, None], m.vol[1:, None]
    qty = np.asarray(book.option_quantity)
    strike = s0 * np.asarray(book.option_moneyness)  # struck each morning: constant moneyness
    T = np.asarray(book.option_maturity_years)
    is_call = np.asarray(book.option_is_call)

    # Options: yesterday's contracts at yesterday's and today's market, one day older.
    g = bsm_greeks(s0, strike, T, RATE, DIVIDEND_YIELD, v0, is_call)
    value_1 = bsm_price(s1, strike, T - DT_YEARS, RATE, DIVIDEND_YIELD, v1, is_call)
    option_hpl = ((value_1 - g.price) * qty).sum(axis=1)
    option_parts = taylor_components(
        qty, s1 - s0, v1 - v0, DT_YEARS, g.delta, g.gamma, g.vega, g.theta
    )

    # Shares: price move plus the dividend accrued over the day.
    ds = (s1 - s0)[:, 0]
    dividend = book.shares * DIVIDEND_YIELD * m.spot[:-1] * DT_YEARS
    share_hpl = book.shares * ds + dividend

    # Bond: yesterday's bond (one day older) at today's yield; carry at unchanged yield.
    y0, y1 = m.yield_[:-1], m.yield_[1:]
    units = book.bond_face / 100.0
    bond_args = (book.bond_coupon, book.bond_maturity_years, book.bond_frequency)
    risk = bond_risk(y0, *bond_args)
    older = (book.bond_coupon, book.bond_maturity_years - DT_YEARS, book.bond_frequency)
    bond_today = bond_price_from_yield(y1, *older)
    bond_carry = bond_price_from_yield(y0, *older) - risk.dirty_price
    bond_hpl = units * (bond_today - risk.dirty_price)
    dy = y1 - y0
    bond_delta = -units * risk.modified_duration * risk.dirty_price * dy
    bond_gamma = 0.5 * units * risk.convexity * risk.dirty_price * dy * dy

    hpl = option_hpl + share_hpl + bond_hpl
    explained = {
        "delta": option_parts["delta"] + book.shares * ds + bond_delta,
        "gamma": option_parts["gamma"] + bond_gamma,
        "vega": option_parts["vega"],
        "theta": option_parts["theta"],
        "carry": dividend + units * bond_carry,
    }
    return explain_pnl(m.dates[1:], hpl, explained)
