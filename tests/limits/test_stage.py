"""The limits stage behind a real risk engine: a breach on the first snapshot engages the
kill switch and reduces the engine's own positions; the summary carries the demo's keys.
Stored limits overlay the reference ones and reach a running stage (on request, or by
polling the store for another process's changes); the stage publishes its state."""

from __future__ import annotations

from typing import Any

import pytest

from riskstream.bus.topics import MemoryTopics
from riskstream.cli.engine import build_engine, simulated_history
from riskstream.core.events import empty_events
from riskstream.core.instruments import Universe
from riskstream.core.messages import SUBJECTS, Fill
from riskstream.feeds.config import UniverseConfig
from riskstream.feeds.universe import generate_universe
from riskstream.limits.config import LimitsConfig
from riskstream.limits.killswitch import KillSwitchBoard
from riskstream.limits.model import Actor, LimitDefinition, Role
from riskstream.limits.registry import LimitRegistry, MemoryLimitStore
from riskstream.limits.stage import build_limits_stage
from riskstream.positions import PositionKeeper, PositionRequester
from riskstream.risk.config import RiskConfig
from riskstream.risk.stage import RiskStage
from riskstream.service.portfolio import PortfolioView
from riskstream.store.audit import read_audit
from riskstream.store.refdb import RefDB


@pytest.fixture(scope="module")
def universe() -> Universe:
    return generate_universe(UniverseConfig(instruments=300, seed=3))


@pytest.fixture(scope="module")
def risk_stage(universe: Universe) -> RiskStage:
    config = RiskConfig(window_days=250, horizons_days=(1,), confidence_levels=(0.99,))
    history = simulated_history(universe, config.window_days + 1, seed=3)
    stage = RiskStage(build_engine(universe, config, history=history))
    stage.last = stage.engine.refresh(0)
    return stage


def _held(message) -> dict[tuple[int, int], float]:
    return {
        (int(b), int(i)): float(q)
        for b, i, q in zip(message.book_id, message.instrument_id, message.quantity, strict=True)
    }


def test_a_reduction_goes_through_the_keeper_and_an_api_change_during_it_keeps_both(
    risk_stage: RiskStage, universe: Universe, tmp_path
) -> None:
    # keeper -> risk -> limits on one bus: the limits stage publishes its fills, the keeper
    # persists them (audited as the system's), the engine learns of them by the keeper's
    # version; a position the API inserts between two child orders shifts every row after
    # it, yet each fill lands on its own (book, instrument) and both changes persist.
    db = RefDB(f"sqlite:///{tmp_path / 'ref.db'}")
    db.migrate()
    db.save_universe(universe)
    topics = MemoryTopics()
    keeper = PositionKeeper(db, topics)
    engine = risk_stage.engine
    risk = RiskStage(engine, positions=topics.subscribe(SUBJECTS["positions"], start_after=0))
    risk.last = risk_stage.last
    var = risk.last.headline.var
    before = _held(keeper.latest)
    limit = LimitDefinition("firm", "firm", "var", 0.5 * var, 0.8 * var)  # breached now
    config = LimitsConfig(schedule_periods=3, schedule_horizon_s=3.0)
    stage = build_limits_stage(risk, None, [limit], config, universe=universe, topics=topics)
    stage.on_batch(empty_events(0), 1)
    assert stage.controller.board.state("firm").value == "reducing"
    (prog,) = stage.controller.programmes.values()
    keys = set(zip(prog.book_id.tolist(), prog.instrument_id.tolist(), strict=True))
    first_orders = len(stage.controller.actions)
    assert first_orders > 0 and stage.ledger.pending == first_orders
    # the API adds a position that sorts before every row of the programme
    free = next(i for i in range(len(universe)) if (0, i) not in before)
    api = PositionRequester(topics, timeout_s=2.0, keeper=keeper)
    answer = api.request([(0, free, 77.0)], actor="meg", role="risk_manager", reason="new")
    assert answer.ok and keeper.latest.fills_seq == first_orders  # the fills went first
    for t in (10**9, 2 * 10**9, 3 * 10**9):
        stage.on_batch(empty_events(0), t)  # takes the newest version: rows re-keyed
        keeper.poll()
    actions = stage.controller.actions
    assert len(actions) > first_orders
    assert {(a["book_id"], a["instrument_id"]) for a in actions} <= keys
    expected = dict(before)
    expected[(0, free)] = 77.0
    for a in actions:
        expected[(a["book_id"], a["instrument_id"])] += a["quantity"]
    expected = {k: q for k, q in expected.items() if q != 0}
    final = _held(keeper.latest)
    assert final.keys() == expected.keys()
    assert all(final[k] == pytest.approx(q, rel=1e-12) for k, q in expected.items())
    assert final == {(b, i): q for b, i, q in db.positions().iter_rows()}
    # the service's portfolio view follows the same final version
    newest = topics.subscribe(SUBJECTS["positions"], start_after=0).latest()
    view = PortfolioView(universe).with_positions(newest[1])
    shown = view.positions.select("book_id", "instrument_id", "quantity").iter_rows()
    assert view.version == keeper.version and {(b, i): q for b, i, q in shown} == final
    fills = read_audit(db, action="position.fill", limit=10_000)
    assert len(fills) == len(actions) and {f.actor for f in fills} == {"system:limits"}
    assert len(read_audit(db, action="position.set")) == 1
    # the engine values the keeper's final version; VaR came down with the cuts
    risk.on_batch(empty_events(0), 4 * 10**9)
    assert engine.positions_version == keeper.version
    assert risk.last.valuation.positions_version == keeper.version
    assert risk.last.headline.var < var
    stage.on_batch(empty_events(0), 4 * 10**9)
    assert stage.ledger.version == keeper.version and stage.ledger.pending == 0
    summary = stage.summary()
    for key in ("loss_avoided_usd", "reduction_trades", "reduction_cost_usd",
                "breach_to_action_ms", "kill_switches"):  # fmt: skip
        assert key in summary
    assert summary["reduction_trades"] == len(actions) == summary["reduction_fills_published"]
    assert summary["kill_switches"] == {"firm:firm": "reducing"}
    assert summary["breach_to_action_ms"] is not None and summary["breach_to_action_ms"] > 0
    # A standby re-sending the same orders (same ids) doubles nothing.
    for a in actions:
        again = Fill(a["order_id"], a["book_id"], a["instrument_id"], a["quantity"], 1.0, 0)
        topics.publish(SUBJECTS["fills"], again)
    version = keeper.version
    keeper.poll()
    assert keeper.version == version and keeper.duplicates == len(actions)
    # the shared engine goes back to the universe's positions for the module's other tests
    engine.set_positions(universe.positions, universe.books)
    engine.positions_version = 0
    db.close()


def _stage(risk_stage: RiskStage, store: Any, switches: Any = None, **config: Any) -> Any:
    """Reference limits sized on the first snapshot, overlaid by ``store``'s; breaches halt
    (no reduction: the module's engine keeps its positions)."""
    cfg = LimitsConfig(auto_reduce=False, **config)
    return build_limits_stage(risk_stage, None, None, cfg, switch_store=switches, limit_store=store)


def _check(stage, risk_stage: RiskStage, ts_ns: int) -> None:
    risk_stage.last = risk_stage.engine.refresh(ts_ns)  # a new lineage: the stage checks it
    stage.on_batch(empty_events(0), ts_ns)


def _desk_var(stage: Any, desk: str) -> dict[str, Any]:
    rows = stage.published()["utilisation"]
    return next(r for r in rows if r["limit_id"] == f"desk:{desk}/var")


def test_stored_limits_overlay_the_reference_ones_and_reload_on_request(
    risk_stage: RiskStage,
) -> None:
    store = MemoryLimitStore()
    registry = LimitRegistry(store)
    manager = Actor("meg", Role.RISK_MANAGER)
    var = risk_stage.last.headline.var
    desk = str(risk_stage.engine.pos_labels["desk"][0])
    # stored before the run: the firm VaR limit replaces the reference one (same id), the
    # desk VaR limit adds one the reference set lacks
    registry.set_limit(manager, LimitDefinition("firm", "firm", "var", 3 * var, 4 * var), "r")
    registry.set_limit(manager, LimitDefinition("desk", desk, "var", 2 * var, 3 * var), "r")
    stage = _stage(risk_stage, store, store_poll_s=1e9)  # no polling: only on request
    assert len(stage.limits_in_force()) == 2  # the reference set is not sized yet
    _check(stage, risk_stage, 1)
    in_force = {x.limit_id: x for x in stage.limits_in_force()}
    # the reference set was sized on the first full snapshot (firm VaR hard 1.5x VaR) ...
    assert {"firm:firm/drawdown", "firm:firm/position_size", "firm:firm/var"} <= set(in_force)
    assert f"desk:{desk}/gross_notional" in in_force and f"desk:{desk}/var" in in_force
    # ... but the stored firm VaR limit takes precedence over the reference one
    assert in_force["firm:firm/var"].hard == 4 * var
    published = stage.published()
    source = {x["limit_id"]: x["source"] for x in published["limits"]}
    assert source["firm:firm/var"] == "stored" and source["firm:firm/drawdown"] == "reference"
    firm_var = next(r for r in published["utilisation"] if r["limit_id"] == "firm:firm/var")
    assert firm_var["utilisation"] == pytest.approx(0.25, rel=1e-9)  # VaR / (4 VaR)
    exposure = _desk_var(stage, desk)["exposure"]  # the desk's Euler VaR contribution
    assert exposure == pytest.approx(risk_stage.last.aggregates["desk"][desk]["component_var"])

    # Another writer lowers the desk's limit below its exposure: nothing changes until a
    # reload ...
    limit = LimitDefinition("desk", desk, "var", exposure / 4, exposure / 2)
    registry.set_limit(manager, limit, "cut")
    _check(stage, risk_stage, 2)
    assert _desk_var(stage, desk)["status"] == "ok"
    assert f"desk:{desk}" not in stage.controller.board.engaged()
    # ... which the service asks for after a change: the next snapshot breaches it
    stage.request_reload()
    _check(stage, risk_stage, 3)
    assert _desk_var(stage, desk)["status"] == "breach"
    assert stage.controller.board.state(f"desk:{desk}").value == "halted"  # auto_reduce off
    alerts = stage.published()["alerts"]
    assert alerts[-1]["limit_id"] == f"desk:{desk}/var" and alerts[-1]["severity"] == "critical"
    # Deleting the stored firm limit brings the reference one (1.5x VaR) back.
    registry.delete_limit(manager, "firm:firm/var", "back to reference")
    stage.request_reload()
    _check(stage, risk_stage, 4)
    firm_var = next(x for x in stage.limits_in_force() if x.limit_id == "firm:firm/var")
    assert firm_var.hard == pytest.approx(1.5 * var)


def test_stage_polls_the_store_for_changes_made_by_another_process(
    risk_stage: RiskStage, tmp_path
) -> None:
    from riskstream.store.limits_repo import LimitRepository
    from riskstream.store.refdb import RefDB

    db = RefDB(f"sqlite:///{tmp_path / 'ref.db'}")
    db.migrate()
    desk = str(risk_stage.engine.pos_labels["desk"][0])
    manager = Actor("meg", Role.RISK_MANAGER)
    try:
        repo = LimitRepository(db)
        stage = _stage(risk_stage, repo, repo, store_poll_s=1e-9)  # polls every snapshot
        _check(stage, risk_stage, 1)
        # "riskstream serve" in another process: its own repository, registry and board
        other = LimitRepository(db)
        exposure = risk_stage.last.aggregates["desk"][desk]["component_var"]
        limit = LimitDefinition("desk", desk, "var", exposure / 4, exposure / 2)
        LimitRegistry(other).set_limit(manager, limit, "tighten")
        _check(stage, risk_stage, 2)
        assert _desk_var(stage, desk)["status"] == "breach"
        assert stage.controller.board.state(f"desk:{desk}").value == "halted"
        KillSwitchBoard(other).release(manager, f"desk:{desk}", "reviewed")
        _check(stage, risk_stage, 3)  # the pipeline's board takes the release in
        assert stage.controller.board.state(f"desk:{desk}").value == "active"
        published = stage.published()
        states = {s["scope_id"]: s["state"] for s in published["switches"]}
        assert states[f"desk:{desk}"] == "active"
        # alert ids rise within a run; run_id tells a reader a new run from this one
        ids = [a["alert_id"] for a in published["alerts"]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert published["run_id"] != _stage(risk_stage, MemoryLimitStore()).run_id
    finally:
        db.close()
