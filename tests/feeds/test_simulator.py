"""The market simulator's event stream and public API: determinism, batching, venues,
activity (ADV, U-shape), the flash-crash scenario, and quotes that agree with the model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from riskstream.core.config import load_config
from riskstream.core.errors import ConfigError, InputError
from riskstream.core.events import EVENT_DTYPE, EventFlag, EventKind
from riskstream.feeds.config import FlashCrashConfig, RegimeConfig, SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import UNKNOWN_VENUE_BASE, VENUES, MarketSimulator, venue_ids
from riskstream.feeds.universe import generate_universe
from riskstream.pricing import bond_yield_from_price
from riskstream.settings import Settings
from tests.feeds.conftest import collect
from tests.feeds.reference_book import Replay

MIDDAY = dt.datetime(2024, 6, 28, 16, 45)
CALM = RegimeConfig(transition_per_min=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)))


def _index(universe, symbol: str) -> int:
    return int(np.flatnonzero(universe.instruments["symbol"].to_numpy() == symbol)[0])


def test_same_seed_same_stream_bit_for_bit(universe):
    config = SimulatorConfig(seed=42, events_per_s=5000, batch_events=4096)
    runs = []
    for seed in (42, 42, 43):
        sim = MarketSimulator(universe, config.model_copy(update={"seed": seed}), "flash-crash")
        events = np.concatenate([sim.next_batch() for _ in range(40)])
        # compare field by field: tobytes() would also compare the dtype's padding bytes
        fields = b"".join(np.ascontiguousarray(events[f]).tobytes() for f in EVENT_DTYPE.names)
        runs.append((fields, sim.regime_log(), sim.fair_mid.copy()))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1].equals(runs[1][1])
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    assert runs[0][0] != runs[2][0]


def test_batches_api(universe):
    """Batches have EVENT_DTYPE and batch_events rows; batches(seconds) covers exactly
    [now, now + seconds) and the next call continues where it stopped; logs have their
    documented schemas; fair_mid is read-only."""
    sim = MarketSimulator(universe, SimulatorConfig(seed=1, events_per_s=3000, batch_events=100))
    first = sim.next_batch()
    assert first.dtype == EVENT_DTYPE and len(first) == 100
    assert sim.now_ns == sim.start_ns  # the opening snapshot is stamped at the start
    start = sim.now_ns
    chunks = list(sim.batches(2.5))
    events = np.concatenate([e for e, _ in chunks])
    assert events["ts_event"].min() >= start and events["ts_event"].max() < start + 2_500_000_000
    assert chunks[-1][1] == sim.now_ns == start + 2_500_000_000
    following = next(sim.batches(1.0))[0]
    assert following["ts_event"].min() >= start + 2_500_000_000
    both = np.concatenate([first, events, following])
    Replay(sim._sim[2], sim._is_l3).apply(both)  # nothing lost or duplicated at the cut
    assert sim.regime_log().schema == {"ts": pl.Int64, "regime": pl.Int8}
    assert sim.regime_log().row(0) == (sim.start_ns, 0)
    assert sim.scenario_log().schema == {
        "name": pl.String, "phase": pl.String, "start_ns": pl.Int64, "end_ns": pl.Int64
    }  # fmt: skip
    assert sim.elapsed_ns == int(following["ts_event"][-1]) - sim.start_ns
    assert sim.scenario_phase() is None
    with pytest.raises(ValueError):
        sim.fair_mid[0] = 1.0


def test_venue_ids_follow_the_documented_table(universe):
    sim = MarketSimulator(universe, SimulatorConfig(seed=1, events_per_s=2000))
    events = sim.next_batch()
    exchange = universe.instruments["exchange"].to_numpy()
    expected = np.array([VENUES[x][0] for x in exchange], dtype=np.uint16)
    np.testing.assert_array_equal(events["source"], expected[events["instrument_id"]])
    ids, regions = venue_ids(["XNYS", "ZZZZ", "AAAA", "OTC", "ZZZZ"])
    assert ids.tolist() == [1, UNKNOWN_VENUE_BASE + 1, UNKNOWN_VENUE_BASE, 100, 1001]
    assert regions.tolist() == ["americas", "other", "other", "otc", "other"]
    assert len({v for v, _ in VENUES.values()}) == len(VENUES)


def test_event_rates_follow_adv_and_the_intraday_u_shape(universe):
    """Within an asset class, arrivals are proportional to ADV (AAA trades 2e7 a day, CCC
    5e6: four times the events, within 20 %); over a session (compressed to 200 s here)
    trades are busier in the first and last tenths than in the middle ones (counts of about
    7,000 trades a bucket: Poisson noise about 1 %)."""
    config = SimulatorConfig(
        seed=2, events_per_s=3000, session_s=200.0, regimes=CALM, batch_events=4096
    )
    sim = MarketSimulator(universe, config)
    events = collect(sim, 200.0)
    live = events[(events["flags"] & EventFlag.SNAPSHOT) == 0]
    per = np.bincount(live["instrument_id"], minlength=len(universe))
    aaa, ccc = _index(universe, "AAA US"), _index(universe, "CCC US")
    assert per[aaa] / per[ccc] == pytest.approx(4.0, rel=0.2)
    trades = live[live["kind"] == EventKind.TRADE]
    bucket = ((trades["ts_event"] - sim.start_ns) // 20_000_000_000).clip(0, 9)
    counts = np.bincount(bucket, minlength=10)
    middle = counts[3:7].mean()
    # intraday_activity averaged over the first / last tenth is 1.6x / 1.4x its midday level
    assert counts[0] > 1.4 * middle and counts[9] > 1.25 * middle, counts


def _book_series(events, universe, sim, instrument: int, every_ns: int):
    """Spread (bps of mid), depth (top 5 levels) and mid of one instrument's book, sampled
    every ``every_ns`` of event time by replaying the stream through the reference book."""
    replay = Replay(sim._sim[2], sim._is_l3)
    scale = 1e-9
    out, next_t = [], sim.start_ns
    for e in events.tolist():
        replay.apply_one(*e)
        if e[0] >= next_t and instrument in replay.books:
            book = replay.books[instrument]
            bid, ask = book.best()
            if bid is not None and ask is not None:
                mid = 0.5 * (bid + ask) * scale
                out.append((e[0], 1e4 * (ask - bid) * scale / mid, book.depth(5), mid))
                next_t = e[0] + every_ns
    return np.array(out)


def test_flash_crash_falls_thins_and_partly_recovers(universe):
    """The flash crash (at 30 s: 60 s fall, 20 s trough, 60 s recovery, default 9 % drop):
    the S&P future falls 7.5-10.5 % in the stream and the model, spreads widen at least 5x
    and depth thins at least 4x at the trough, the regime is forced to crisis, and a quarter
    of the fall is won back; every phase is logged."""
    crash = FlashCrashConfig(at_s=30.0, fall_s=60.0, trough_s=20.0, recovery_s=60.0)
    config = SimulatorConfig(
        seed=4, events_per_s=1500, start=MIDDAY, regimes=CALM, flash_crash=crash,
        batch_events=4096,
    )  # fmt: skip
    sim = MarketSimulator(universe, config, scenario="flash-crash")
    es = _index(universe, "ESU24")
    fair = []
    events = []
    for batch, now in sim.batches(200.0):
        events.append(batch)
        fair.append((now, sim.fair_mid[es]))
    events = np.concatenate(events)
    t0 = sim.start_ns
    fair = np.array(fair)
    before = fair[fair[:, 0] < t0 + 30e9, 1].mean()
    trough = fair[(fair[:, 0] > t0 + 85e9) & (fair[:, 0] < t0 + 110e9), 1].min()
    after = fair[fair[:, 0] > t0 + 175e9, 1].mean()
    assert 0.895 < trough / before < 0.925
    assert (after - trough) / (before - trough) == pytest.approx(0.25, abs=0.1)

    series = _book_series(events, universe, sim, es, 500_000_000)
    t = series[:, 0]
    calm = series[t < t0 + 28e9]
    low = series[(t > t0 + 92e9) & (t < t0 + 110e9)]
    assert low[:, 1].mean() > 5 * calm[:, 1].mean()  # spreads
    assert low[:, 2].mean() < calm[:, 2].mean() / 4  # depth
    assert 0.895 < low[:, 3].min() / calm[:, 3].mean() < 0.93  # the book follows the fall

    log = sim.scenario_log()
    assert log["phase"].to_list() == ["fall", "trough", "recovery"]
    assert log["start_ns"].to_list() == [t0 + 30 * 10**9, t0 + 90 * 10**9, t0 + 110 * 10**9]
    regimes = sim.regime_log()
    crisis_at = regimes.filter(pl.col("regime") == 2)["ts"].to_list()
    assert crisis_at and t0 + 30e9 <= crisis_at[0] <= t0 + 30.2e9
    assert regimes["regime"][-1] == 1  # the recovery runs in the volatile regime


def test_flash_crash_marks_the_reference_portfolio_by_its_market_beta():
    """On the generated reference universe, the crash marks every equity and future down by
    its market beta times the 9 % fall (idiosyncratic noise over four minutes is a small
    fraction of that), so the portfolio's equity and futures P&L is its beta-weighted net
    exposure times the fall, within 20 %. (The reference portfolio is close to market
    neutral, so that is a few million on $500M gross; a directional book loses more.)"""
    universe = generate_universe(UniverseConfig(instruments=2000, seed=7))
    config = SimulatorConfig(seed=7, regimes=CALM)
    sim = MarketSimulator(universe, config, scenario="flash-crash")
    model = sim.model
    inst = universe.instruments
    fx = np.array([universe.fx_to_base[c] for c in inst["currency"]])
    pos = universe.positions
    ids = pos["instrument_id"].to_numpy()
    linear = np.isin(inst["asset_class"].to_numpy()[ids], ["equity", "future"])
    ids = ids[linear]
    units = pos["quantity"].to_numpy()[linear] * inst["multiplier"].to_numpy()[ids] * fx[ids]
    start = model.fair.copy()
    crash = config.flash_crash
    while model.t_ns < sim.start_ns + (crash.at_s + crash.fall_s + 1) * 1e9:
        model.step(model.t_ns + 10**9)
    beta = model.factors.loadings[model.driver_of[ids], model.market]
    moves = model.fair[ids] / start[ids] - 1.0
    expected = np.expm1(beta * np.log(1.0 - crash.drop))
    assert np.median(np.abs(moves - expected)) < 0.01
    assert expected.min() < -0.07 and np.median(expected) < -0.07
    pnl = float(units @ (model.fair[ids] - start[ids]))
    predicted = float(units @ (start[ids] * expected))
    assert pnl == pytest.approx(predicted, rel=0.2)
    assert pnl < -1e6


def test_option_and_bond_quotes_agree_with_the_model(universe):
    """At the end of a run, every option's quoted book straddles its model value (bids below,
    asks above: implied volatilities from the quotes bracket the surface), and every bond's
    quoted mid is within its quoted half-spread (plus a tick) of the model price, i.e. its
    yield is the model's yield."""
    config = SimulatorConfig(seed=9, events_per_s=4000, start=MIDDAY, regimes=CALM)
    sim = MarketSimulator(universe, config)
    events = collect(sim, 30.0)
    replay = Replay(sim._sim[2], sim._is_l3)
    replay.apply(events)
    model = sim.model
    inst = universe.instruments
    tick = inst["tick_size"].to_numpy()
    straddled = 0
    for i in model.options:
        bid, ask = replay.books[int(i)].best()
        if bid is not None and ask is not None:
            straddled += (
                bid * 1e-9 < model.fair[i] + tick[i] and ask * 1e-9 > model.fair[i] - tick[i]
            )
    assert straddled >= 0.9 * len(model.options)
    for k, i in enumerate(model.bonds):
        bid, ask = replay.books[int(i)].best()
        mid, half = 0.5e-9 * (bid + ask), 0.5e-9 * (ask - bid)
        assert abs(mid - model.fair[i]) <= half + tick[i]
        years = model._years(model.bond_maturity_ns)[k]
        y = bond_yield_from_price(mid, model.bond_coupon[k], years, model.bond_freq[k])
        assert abs(y - model.bond_yields()[k]) < 0.0005  # 5 bp: half a spread at most


def test_bad_settings_are_rejected_with_the_field_named(universe, tmp_path):
    toml = tmp_path / "riskstream.toml"
    toml.write_text(
        "[simulator.regimes]\ntransition_per_min = [[0.5, 0.4, 0.0], [0, 1, 0], [0, 0, 1]]\n"
    )
    with pytest.raises(ConfigError, match=r"simulator.regimes.*transition_per_min row 0"):
        load_config(Settings, toml, env={})
    toml.write_text("[simulator.flash_crash]\ndrop = 0.9\n")
    with pytest.raises(ConfigError, match=r"simulator.flash_crash.drop"):
        load_config(Settings, toml, env={})
    with pytest.raises(InputError, match="scenario"):
        MarketSimulator(universe, SimulatorConfig(), scenario="meteor-strike")


def test_spreads_widen_and_depth_thins_in_a_crisis(universe):
    """The same market frozen in the calm and in the crisis regime: the crisis book of a large
    stock quotes wider (regime spread multiplier 3.5: at least 2.5x here) and thinner (depth
    multiplier 0.3: at most half here) — measured from the stream, after 45 s to settle."""
    aaa = _index(universe, "AAA US")
    stats = []
    for regime in (0, 2):
        regimes = CALM.model_copy(update={"initial": regime})
        config = SimulatorConfig(seed=6, events_per_s=1000, start=MIDDAY, regimes=regimes)
        sim = MarketSimulator(universe, config)
        series = _book_series(collect(sim, 75.0), universe, sim, aaa, 250_000_000)
        settled = series[series[:, 0] > sim.start_ns + 45e9]
        stats.append((settled[:, 1].mean(), settled[:, 2].mean()))
    (calm_spread, calm_depth), (crisis_spread, crisis_depth) = stats
    assert crisis_spread > 2.5 * calm_spread, stats
    assert crisis_depth < 0.5 * calm_depth, stats
