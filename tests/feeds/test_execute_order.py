"""Outside orders in the simulated venue: they take the book's depth (TRADE events md
reconstructs), move the price, and the simulated participants react."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskstream.core.errors import InputError
from riskstream.core.events import EventKind
from riskstream.feeds.config import SimulatorConfig
from riskstream.feeds.simulator import ORDER_COLLAR, PERMANENT_IMPACT, MarketSimulator
from riskstream.md.engine import MarketDataEngine


def _id(universe, symbol: str) -> int:
    return int(np.flatnonzero(universe.instruments["symbol"].to_numpy() == symbol)[0])


def _warm(universe, seconds: float = 20.0) -> tuple[MarketSimulator, MarketDataEngine]:
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, events_per_s=2000, batch_events=128))
    md = MarketDataEngine(len(universe))
    for batch, now in sim.batches(seconds):
        md.process(batch, now)
    return sim, md


def _bid_depth(sim: MarketSimulator, i: int) -> tuple[int, int]:
    """(resting bid orders, lots on the bid) of the simulator's book."""
    _, _, lots, _, count, _, _ = sim._book
    n = int(count[i, 0])
    return n, int(lots[i, 0, :n].sum())


def test_a_sell_takes_bids_moves_md_price_and_the_book_refills(universe) -> None:
    sim, md = _warm(universe)
    i = _id(universe, "AAA US")
    _, px, lots, _, count, _, _ = sim._book
    n = int(count[i, 0])
    best = px[i, 0, :n].max()
    at_best = int(lots[i, 0, :n][px[i, 0, :n] == best].sum())
    orders0, lots0 = _bid_depth(sim, i)
    fair0 = float(sim.model.fair[i])
    sell = -(at_best + 1.0)  # the whole best level and one lot more (lot size 1)
    done = sim.execute_order(i, sell)
    assert done.filled == pytest.approx(sell)
    assert done.avg_price < done.mid_before  # paid the spread and the depth taken
    # permanent impact: gamma x daily vol x X / V, down (Almgren et al. 2005)
    sigma = float(sim.model.daily_vol()[i])
    adv = float(universe.instruments["adv"][i])
    expected = PERMANENT_IMPACT * sigma * abs(done.filled) / adv
    assert math.log(done.mid_after / fair0) == pytest.approx(-expected, rel=1e-9)
    orders1, lots1 = _bid_depth(sim, i)
    assert lots1 == lots0 - round(-sell)
    # the trades are in the stream at the order's time, after the events generated before
    # it: md's book loses exactly that depth and its best bid is lower
    batch = np.concatenate([b for b, now in sim.batches(0.5)])
    ours = np.flatnonzero((batch["ts_event"] == done.ts_ns) & (batch["instrument_id"] == i))
    assert (batch["kind"][ours] == EventKind.TRADE).all()
    assert batch["size"][ours].sum() == pytest.approx(-done.filled)
    assert len(ours) >= orders0 - orders1
    md.process(batch[: ours[0]], int(batch["ts_event"][ours[0] - 1]))
    bid_before = float(md.market_state.bid[i])
    depth_before = float(md.levels(i)["bid_sz"].sum())
    md.process(batch[ours[0] : ours[-1] + 1], done.ts_ns)
    assert float(md.market_state.bid[i]) < bid_before == pytest.approx(best * sim._tick[i])
    assert float(md.levels(i)["bid_sz"].sum()) == pytest.approx(depth_before + done.filled)
    # participants react: liquidity providers refill the bid within a minute
    for b, now in sim.batches(60.0):
        md.process(b, now)
    assert _bid_depth(sim, i)[0] >= max(orders1, 2)


def test_the_collar_leaves_the_rest_unfilled(universe) -> None:
    sim, _ = _warm(universe)
    i = _id(universe, "CCC US")
    done = sim.execute_order(i, -1e9)  # far more than the book holds
    assert 0 < -done.filled < 1e9
    assert done.avg_price >= done.mid_before * (1 - ORDER_COLLAR) - 0.01


def test_an_otc_order_fills_at_the_dealer_quotes(universe) -> None:
    sim, _ = _warm(universe)
    i = int(np.flatnonzero(universe.instruments["asset_class"].to_numpy() == "fx")[0])
    q_px, q_lots = sim._quotes
    lot, tick = sim._lot[i], sim._tick[i]
    size = int(q_lots[i, 1]) * lot
    done = sim.execute_order(i, 3 * size)  # three dealer quotes: at the ask, +1, +2 spreads
    ask, bid = q_px[i, 1] * tick, q_px[i, 0] * tick
    assert done.filled == pytest.approx(3 * size)
    assert done.avg_price == pytest.approx(ask + (ask - bid), rel=1e-12)
    assert done.mid_after > float(sim.model.fair[i]) - 1e-15  # bought: the fair moved up


def test_bad_orders_name_the_field(universe) -> None:
    sim, _ = _warm(universe, 1.0)
    with pytest.raises(InputError, match="quantity"):
        sim.execute_order(0, 0.0)
    with pytest.raises(InputError, match="instrument_id"):
        sim.execute_order(10_000, 1.0)


def test_the_market_without_our_orders_is_the_same_seed_never_traded(universe) -> None:
    """The bench's policy-off counterfactual: the fair values with the impact of our orders
    taken out equal those of the same seed's market model stepped with no order at all."""
    sim, _ = _warm(universe, 5.0)
    bond = int(np.flatnonzero(universe.instruments["asset_class"].to_numpy() == "bond")[0])
    for k, i in enumerate((_id(universe, "AAA US"), _id(universe, "ESU24"), bond)):
        for _ in sim.batches(0.37 * (k + 1)):  # off the bonds' once-a-second repricing
            pass
        sim.execute_order(i, -50.0 * (k + 1))
    for _ in sim.batches(30.0):
        pass
    with_orders = sim.model.fair.copy()
    without = sim.model.fair_without_impact()
    np.testing.assert_array_equal(sim.model.fair, with_orders)  # left as it was
    alone = MarketSimulator(universe, SimulatorConfig(seed=5, events_per_s=2000, batch_events=128))
    step = int(alone.config.step_ms * 1e6)
    t = alone.start_ns + step
    while t <= sim.model.t_ns:
        alone.model.step(t)
        t += step
    assert alone.model.t_ns == sim.model.t_ns
    bonds = alone.model.bonds
    other = np.setdiff1d(np.arange(len(universe)), bonds)
    np.testing.assert_allclose(without[other], alone.model.fair[other], rtol=1e-12)
    # bonds reprice once a second on both, from the same yields
    np.testing.assert_allclose(without[bonds], alone.model.fair[bonds], rtol=1e-12)
    assert with_orders[0] < without[0] and with_orders[bond] < without[bond]  # our sells' mark
