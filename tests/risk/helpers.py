"""Hand-built inputs for the risk tests: small universes, market states and scenarios.

``BootstrapGenerator`` is a test double of the models package's scenario-generator
contract (``fit(history) -> self``, ``generate(n, horizon_days, seed)``): it sums
``horizon_days`` daily rows drawn with replacement. Tests of the engine use it so they do
not depend on the models package's estimators. ``factor_moves`` is the daily factor
history they draw from: a seeded one-factor Student-t model (test input, not a market
model; real runs read stored history through :mod:`riskstream.risk.factor_history`).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from riskstream.core.clock import ManualClock
from riskstream.core.instruments import (
    BOOK_SCHEMA,
    INSTRUMENT_SCHEMA,
    POSITION_SCHEMA,
    Book,
    Instrument,
    Position,
    Universe,
    records_to_frame,
)
from riskstream.core.state import MarketState
from riskstream.risk.config import RiskConfig
from riskstream.risk.engine import RiskEngine
from riskstream.risk.factors import FactorSpace, build_factor_space
from riskstream.risk.scenarios import ScenarioSet

AS_OF = dt.datetime(2026, 6, 1, 15, 0, tzinfo=dt.UTC)
AS_OF_NS = int(AS_OF.timestamp() * 1e9)


def factor_moves(space: FactorSpace, n_days: int, seed: int) -> np.ndarray:
    """Daily factor moves (n_days, n_factors) in generator units, for engine tests.

    One common Student-t(5) shock with loading 0.6 plus independent t(5) noise, scaled per
    kind: 1.5% daily for price factors (log returns), 5 bp for rate factors (absolute),
    4% for vol factors (log changes), whose common loading is negative (vols rise when
    prices fall).
    """
    rng = np.random.default_rng(seed)
    t5 = np.sqrt(3.0 / 5.0)  # unit-variance Student-t(5)
    common = rng.standard_t(5, n_days)[:, None] * t5
    noise = rng.standard_t(5, (n_days, space.n_factors)) * t5
    scale = np.array([0.015, 0.0005, 0.04])[space.kind]
    load = np.where(space.kind == 2, -0.6, 0.6)
    return (load * common + np.sqrt(1 - 0.36) * noise) * scale


class BootstrapGenerator:
    """Test double of a historical-simulation generator (i.i.d. bootstrap of days)."""

    def fit(self, history: np.ndarray) -> BootstrapGenerator:
        self.history_ = np.asarray(history, dtype=np.float64)
        return self

    def generate(self, n_scenarios: int, horizon_days: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, self.history_.shape[0], size=(n_scenarios, horizon_days))
        return self.history_[idx].sum(axis=1)


def _inst(i: int, symbol: str, asset: str, price: float, **kw) -> Instrument:
    base = {
        "instrument_id": i,
        "symbol": symbol,
        "asset_class": asset,
        "currency": kw.pop("currency", "USD"),
        "exchange": "X",
        "country": "US",
        "ref_price": price,
        "adv": kw.pop("adv", 1_000_000.0),
        "spread_bps": kw.pop("spread_bps", 5.0),
    }
    base.update(kw)
    return Instrument(**base)


def make_universe(n_equity: int = 6, n_options_per: int = 3, seed: int = 1) -> Universe:
    """A small multi-asset universe: equities, options on the first two, a future, an
    option on the future, an FX pair, a EUR equity and two bonds; one position each."""
    rng = np.random.default_rng(seed)
    recs: list[Instrument] = []
    for i in range(n_equity):
        recs.append(_inst(len(recs), f"EQ{i}", "equity", float(rng.uniform(20, 200))))
    expiry = (AS_OF + dt.timedelta(days=90)).date()
    for u in range(min(2, n_equity)):
        s0 = recs[u].ref_price
        for j in range(n_options_per):
            k = round(s0 * (0.9 + 0.1 * j), 2)
            recs.append(
                _inst(
                    len(recs),
                    f"EQ{u}-{j}{'C' if j % 2 == 0 else 'P'}",
                    "option",
                    max(0.5, s0 * 0.05),
                    multiplier=100.0,
                    underlying_id=u,
                    expiry=expiry,
                    strike=k,
                    right="C" if j % 2 == 0 else "P",
                    exercise="european",
                )
            )
    fut = len(recs)
    recs.append(_inst(fut, "ESZ6", "future", 5000.0, multiplier=50.0, expiry=expiry))
    recs.append(
        _inst(
            len(recs),
            "ESZ6-C",
            "option",
            120.0,
            multiplier=50.0,
            underlying_id=fut,
            expiry=expiry,
            strike=5000.0,
            right="C",
            exercise="european",
        )
    )
    recs.append(_inst(len(recs), "EURUSD", "fx", 1.10, base_currency="EUR", spread_bps=1.0))
    recs.append(_inst(len(recs), "SAP", "equity", 150.0, currency="EUR"))
    recs.append(
        _inst(
            len(recs),
            "UST5",
            "bond",
            98.0,
            multiplier=10.0,
            coupon=0.04,
            maturity=(AS_OF + dt.timedelta(days=5 * 365)).date(),
            coupon_frequency=2,
        )
    )
    recs.append(
        _inst(
            len(recs),
            "UST20",
            "bond",
            95.0,
            multiplier=10.0,
            coupon=0.045,
            maturity=(AS_OF + dt.timedelta(days=20 * 365)).date(),
            coupon_frequency=2,
        )
    )
    books = [
        Book(book_id=0, name="b0", desk="equities", strategy="long-short", trader="ann"),
        Book(book_id=1, name="b1", desk="macro", strategy="rates", trader="bob"),
    ]
    positions = []
    for inst in recs:
        q = float(rng.choice([-1, 1]) * rng.uniform(100, 2000))
        if inst.asset_class == "option":
            q = float(rng.choice([-1, 1]) * rng.uniform(10, 50))
        if inst.asset_class == "future":
            q = 20.0
        if inst.asset_class == "bond":
            q = 5000.0
        if inst.asset_class == "fx":
            q = 2_000_000.0
        book = 0 if inst.asset_class in ("equity", "option") else 1
        positions.append(Position(book_id=book, instrument_id=inst.instrument_id, quantity=q))
    return Universe(
        records_to_frame(recs, INSTRUMENT_SCHEMA),
        records_to_frame(books, BOOK_SCHEMA),
        records_to_frame(positions, POSITION_SCHEMA),
        "USD",
        {"USD": 1.0, "EUR": 1.10},
    )


def market_from_ref(universe: Universe) -> MarketState:
    """A market state quoting every instrument at its reference price (no live spread)."""
    n = len(universe)
    state = MarketState(n)
    px = universe.instruments["ref_price"].to_numpy()
    state.mid[:] = px
    state.last[:] = px
    state.seq[:] = np.arange(1, n + 1, dtype=np.uint64)
    return state


def implied_vols(universe: Universe, vol: float = 0.25) -> np.ndarray:
    iv = np.full(len(universe), np.nan)
    iv[(universe.instruments["asset_class"] == "option").to_numpy()] = vol
    return iv


def make_engine(
    universe: Universe | None = None,
    config: RiskConfig | None = None,
    n_scenarios: int = 2000,
    seed: int = 3,
    **kw,
) -> RiskEngine:
    universe = universe or make_universe()
    config = config or RiskConfig(n_scenarios=n_scenarios, horizons_days=(1, 10))
    space = build_factor_space(universe.instruments, universe.base_currency)
    history = factor_moves(space, 500, seed)
    scen = ScenarioSet.from_generator(
        BootstrapGenerator().fit(history),
        space.kind,
        config.horizons_days,
        config.n_scenarios,
        config.seed,
    )
    return RiskEngine(
        universe,
        kw.pop("market", None) or market_from_ref(universe),
        scen,
        kw.pop("implied_vol", None) if "implied_vol" in kw else implied_vols(universe),
        config,
        kw.pop("clock", None) or ManualClock(AS_OF_NS),
        **kw,
    )
