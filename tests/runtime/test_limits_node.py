"""The limits node (`riskstream run --stage limits`): it checks every risk snapshot read from
the bus, publishes its LimitState and sends reductions' fills to the position keeper; as a
hot-standby pair, a takeover in the middle of a reduction programme doubles no order and
loses none (the final positions equal an undisturbed run's)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from riskstream.bus.lease import Lease, MemoryLeaseStore
from riskstream.bus.topics import MemoryTopics
from riskstream.cli.engine import build_engine, simulated_history
from riskstream.core.instruments import Universe
from riskstream.core.messages import SUBJECTS
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.model import LimitDefinition
from riskstream.limits.stage import build_limits_stage
from riskstream.positions import PositionKeeper
from riskstream.risk.config import RiskConfig
from riskstream.runtime.limits import LimitsNode
from riskstream.runtime.readers import DeltaReader
from riskstream.runtime.standby import LeaderTopics
from riskstream.store.refdb import RefDB

NS = 10**9


@pytest.fixture(scope="module")
def universe() -> Universe:
    return generate_universe(UniverseConfig(instruments=120, seed=11))


@pytest.fixture(scope="module")
def snapshot(universe: Universe) -> Any:
    config = RiskConfig(window_days=250, horizons_days=(1,), confidence_levels=(0.99,))
    history = simulated_history(universe, config.window_days + 1, seed=11)
    return build_engine(universe, config, history=history).refresh(0)


def _snapshots(snapshot: Any, n: int) -> list[Any]:
    """The same valuation as of successive seconds (as the risk node stamps them)."""
    return [
        dataclasses.replace(snapshot, ts_ns=k * NS + 1, lineage_id=f"{snapshot.lineage_id}-{k}")
        for k in range(n)
    ]


def _node(topics: Any, universe: Universe, limit: LimitDefinition) -> LimitsNode:
    config = LimitsConfig(schedule_periods=3, schedule_horizon_s=3.0, circuit_breakers=False)

    def stage(holder: Any, market: Any) -> Any:
        return build_limits_stage(
            holder, None, [limit], config, universe=universe, market=market, topics=topics
        )

    return LimitsNode(topics, DeltaReader(topics, len(universe)), stage)


def _keeper(tmp_path, name: str, universe: Universe, topics: Any) -> PositionKeeper:
    db = RefDB(f"sqlite:///{tmp_path / name}")
    db.migrate()
    db.save_universe(universe)
    return PositionKeeper(db, topics)


def _positions(keeper: PositionKeeper) -> dict[tuple[int, int], float]:
    s = keeper.latest
    keys = zip(s.book_id.tolist(), s.instrument_id.tolist(), strict=True)
    return dict(zip(keys, s.quantity.tolist(), strict=True))


def _run_alone(tmp_path, universe: Universe, snaps: list[Any], limit: LimitDefinition):
    topics = MemoryTopics()
    keeper = _keeper(tmp_path, "alone.db", universe, topics)
    node = _node(topics, universe, limit)
    for snap in snaps:
        topics.publish(SUBJECTS["snapshot"], snap)
        node.step()
        keeper.poll()
    return topics, keeper, node


def test_the_node_checks_every_snapshot_publishes_state_and_fills(
    tmp_path, universe: Universe, snapshot: Any
) -> None:
    var = snapshot.headline.var
    limit = LimitDefinition("firm", "firm", "var", 0.5 * var, 0.8 * var)  # breached
    snaps = _snapshots(snapshot, 5)
    topics, keeper, node = _run_alone(tmp_path, universe, snaps, limit)
    states = [m for _, m in topics.subscribe(SUBJECTS["limits"], start_after=0).fetch(100)]
    # one LimitState per snapshot, in order, naming the snapshot it checked
    assert [s.lineage_id for s in states] == [s.lineage_id for s in snaps]
    assert states[-1].state["switches"][0]["state"] == "reducing"
    fills = [m for _, m in topics.subscribe(SUBJECTS["fills"], start_after=0).fetch(10_000)]
    actions = node.stage.controller.actions
    assert fills and [f.order_id for f in fills] == [a["order_id"] for a in actions]
    assert len({f.order_id for f in fills}) == len(fills)
    # each order id names the programme's start (the snapshot's as-of time) and period
    assert all(f.order_id.startswith("reduce:firm:firm/var:1:") for f in fills[:3])
    assert keeper.applied_fills == len(fills) and keeper.duplicates == 0
    summary = node.summary()
    assert summary["limit_snapshots_checked"] == 5 and summary["limit_states_published"] == 5
    assert summary["reduction_fills_published"] == len(fills)
    assert node.idle()


def test_a_takeover_mid_programme_doubles_and_loses_no_order(
    tmp_path, universe: Universe, snapshot: Any
) -> None:
    var = snapshot.headline.var
    limit = LimitDefinition("firm", "firm", "var", 0.5 * var, 0.8 * var)
    snaps = _snapshots(snapshot, 6)
    _, alone, node_alone = _run_alone(tmp_path, universe, snaps, limit)
    expected_orders = [a["order_id"] for a in node_alone.stage.controller.actions]

    topics, store = MemoryTopics(), MemoryLeaseStore()
    now = {"t": 0.0}
    leases = {k: Lease(store, "limits", k, ttl_s=2.0, clock=lambda: now["t"]) for k in "ab"}
    keeper = _keeper(tmp_path, "pair.db", universe, topics)
    members = {k: LeaderTopics(topics, lease) for k, lease in leases.items()}
    nodes = {k: _node(members[k], universe, limit) for k in "ab"}
    leases["a"].tick()
    leases["b"].tick()
    assert members["a"].is_leader and not members["b"].is_leader
    for k, snap in enumerate(snaps):
        now["t"] += 0.5
        topics.publish(SUBJECTS["snapshot"], snap)
        alive = "ab" if k < 2 else "b"  # a is killed (-9) after its second snapshot
        for name in alive:
            leases[name].tick()
            nodes[name].step()
        keeper.poll()
        if k == 2:
            now["t"] += 2.5  # a's lease runs out while b keeps computing
            assert leases["b"].tick()
    assert members["b"].is_leader and members["b"].published > 0
    # every order of the undisturbed run was sent, once; the keeper applied each once
    fills = [m for _, m in topics.subscribe(SUBJECTS["fills"], start_after=0).fetch(10_000)]
    assert sorted(f.order_id for f in fills) == sorted(expected_orders)
    assert keeper.applied_fills == len(expected_orders)
    assert _positions(keeper) == pytest.approx(_positions(alone))
    # a re-sent order (the backlog of b holds a's last ones) reaches the keeper's journal
    # at most as a duplicate, never as a second change
    for f in fills[:3]:
        topics.publish(SUBJECTS["fills"], f)  # no message id: stored again on purpose
    version = keeper.version
    keeper.poll()
    assert keeper.version == version and keeper.duplicates == 3
    states = [m for _, m in topics.subscribe(SUBJECTS["limits"], start_after=0).fetch(100)]
    assert [s.lineage_id for s in states] == [s.lineage_id for s in snaps]  # none lost


def test_only_the_leader_writes_kill_switches_and_a_takeover_writes_what_it_held() -> None:
    from riskstream.limits.killswitch import KillSwitchBoard, MemorySwitchStore, TradingState
    from riskstream.runtime.limits import LeaderSwitchStore

    store, leases, now = MemorySwitchStore(), MemoryLeaseStore(), {"t": 0.0}
    a = Lease(leases, "limits", "a", ttl_s=2.0, clock=lambda: now["t"])
    b = Lease(leases, "limits", "b", ttl_s=2.0, clock=lambda: now["t"])
    a.tick()
    b.tick()
    boards = {
        k: KillSwitchBoard(LeaderSwitchStore(store, lease))
        for k, lease in zip("ab", (a, b), strict=True)
    }
    for board in boards.values():  # both members see the same breach
        board.trip("firm:firm", "hard_breach", "VaR over its hard limit", TradingState.REDUCING)
    assert [r["state"] for r in store.load_switches()] == ["reducing"]
    assert len(store.audit) == 1  # one trip, audited once
    # the standby re-reads the store: the truth; what it held is dropped
    boards["b"].reload()
    assert boards["b"].state("firm:firm") is TradingState.REDUCING
    # a dies; b trips a desk before the lease expires, then takes over and writes it
    boards["b"].trip("desk:rates", "hard_breach", "desk gross", TradingState.REDUCING)
    assert len(store.audit) == 1
    now["t"] += 0.5
    b.tick()
    now["t"] += 2.5
    assert b.tick()
    boards["b"].reload()
    assert {r["scope_id"]: r["state"] for r in store.load_switches()} == {
        "firm:firm": "reducing",
        "desk:rates": "reducing",
    }
    assert len(store.audit) == 2


def test_only_risk_and_limits_run_as_replicas(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from riskstream.cli import app
    from riskstream.core.errors import InputError

    monkeypatch.setenv("RISKSTREAM_STORE__DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app, ["run", "--stage", "md", "--replica", "md-b", "--bus", "nats://127.0.0.1:1"]
    )
    assert isinstance(result.exception, InputError)
    assert "--replica" in str(result.exception) and "risk or limits" in str(result.exception)


def test_stage_statistics_go_out_plainly_from_the_leader_only() -> None:
    from riskstream.core.messages import StageStats

    topics, store = MemoryTopics(), MemoryLeaseStore()
    a = LeaderTopics(topics, Lease(store, "limits", "a", ttl_s=2.0, clock=lambda: 0.0))
    b = LeaderTopics(topics, Lease(store, "limits", "b", ttl_s=2.0, clock=lambda: 0.0))
    a.lease.tick()
    b.lease.tick()
    stats = StageStats(stage="limits", ts_ns=1, figures={}, histograms={}, started_ns=0)
    topics.publish(SUBJECTS["stats"], StageStats("md", 1, {}, {}, 0))  # another stage's
    assert a.publish(SUBJECTS["stats"], stats) == 2
    assert b.publish(SUBJECTS["stats"], stats) == 0
    assert b.suppressed == 0 and not b._backlog  # a report of itself: not kept for later


def test_breakers_check_the_replica_caught_up_with_the_snapshot(
    universe: Universe, snapshot: Any
) -> None:
    """A snapshot can arrive before the node has read the deltas risk computed it from (the
    node's thread behind risk's): checked at the snapshot's market time against the older
    replica, every held instrument looked un-updated for the gap, and the stale-feed
    breaker (30 s) halted the firm — at the flash bench's 240x, 125 ms of wall. The node
    now reads the deltas up to the snapshot's time first."""
    import numpy as np

    from riskstream.core.messages import MarketStateDelta

    topics = MemoryTopics()
    var = snapshot.headline.var
    limit = LimitDefinition("firm", "firm", "var", 10 * var, 20 * var)  # never breached
    config = LimitsConfig(circuit_breakers=True)  # stale feed: 30 s, half of the held

    def stage(holder: Any, market: Any) -> Any:
        return build_limits_stage(
            holder, None, [limit], config, universe=universe, market=market, topics=topics
        )

    node = LimitsNode(topics, DeltaReader(topics, len(universe)), stage)
    n = len(universe)
    mid = np.asarray(universe.instruments["ref_price"], dtype=np.float64)

    def delta(seq: int, ts_ns: int) -> MarketStateDelta:
        """Every instrument quoted at its reference price, updated at ``ts_ns``."""
        columns = {"mid": mid, "bid": mid * 0.999, "ask": mid * 1.001,
                   "ts_ns": np.full(n, ts_ns, dtype=np.int64)}  # fmt: skip
        return MarketStateDelta(seq, ts_ns, np.arange(n), columns, events=1, full=seq == 1)

    t0 = 1_000 * NS
    topics.publish(SUBJECTS["market"], delta(1, t0))
    topics.publish(SUBJECTS["snapshot"], dataclasses.replace(snapshot, ts_ns=t0))
    node.step()
    # a minute of market time later: md's delta and risk's snapshot of it are both out, but
    # the node's first read of the step comes before the delta (its thread was behind)
    topics.publish(SUBJECTS["market"], delta(2, t0 + 60 * NS))
    topics.publish(
        SUBJECTS["snapshot"],
        dataclasses.replace(snapshot, ts_ns=t0 + 60 * NS, lineage_id="later"),
    )
    real_read, calls = node.reader.read, []

    def behind(timeout_s: float) -> list:
        calls.append(timeout_s)
        return [] if len(calls) == 1 else real_read(timeout_s)

    node.reader.read = behind  # type: ignore[method-assign]
    node.step()
    breaker = node.stage.breaker
    assert node.stage.snapshots_checked == 2
    assert breaker.trips["stale_feed"] == 0 and breaker.stale_share_now == 0.0
