"""Kill switches and limit changes: the state machine, role checks, audit, and persistence
across a restart on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import numpy as np
import pytest

from riskstream.core.clock import ManualClock
from riskstream.core.errors import InputError
from riskstream.limits.killswitch import (
    GLOBAL,
    CircuitBreaker,
    KillSwitchBoard,
    MemorySwitchStore,
    TradingState,
)
from riskstream.limits.model import Actor, LimitDefinition, PermissionDeniedError, Role
from riskstream.limits.registry import LimitRegistry, MemoryLimitStore
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.refdb import RefDB

VIEWER = Actor("vic", Role.VIEWER)
ANALYST = Actor("ann", Role.ANALYST)
MANAGER = Actor("meg", Role.RISK_MANAGER)
ADMIN = Actor("ada", "admin")


def test_state_machine_blocks_risk_increasing_orders_and_publishes() -> None:
    seen = []
    board = KillSwitchBoard(MemorySwitchStore(), ManualClock(5), publish=seen.append)
    desks = {"desk": np.array(["A", "A", "B", "B"])}
    position = np.array([100.0, 100.0, 100.0, -50.0])
    order = np.array([-10.0, 10.0, 10.0, 20.0])  # reduce A, add to A, add to B, reduce B
    assert board.check_orders(desks, position, order).all()
    t = board.trip("desk:A", "hard_breach", "VaR 120% of limit", TradingState.REDUCING)
    assert (t.before, t.after) == (TradingState.ACTIVE, TradingState.REDUCING)
    assert board.check_orders(desks, position, order).tolist() == [True, False, True, True]
    # flipping sides increases risk: selling 250 of a 100 long is refused while reducing
    one = {"desk": np.array(["A"])}
    assert not board.check_orders(one, position[:1], np.array([-250.0]))[0]
    board.engage(MANAGER, "firm", "manual stop", TradingState.HALTED)
    assert not board.check_orders(desks, position, order).any()
    # an automatic trigger never loosens: a breach while halted keeps the halt
    board.trip(GLOBAL, "hard_breach", "again", TradingState.REDUCING)
    assert board.state("firm") is TradingState.HALTED
    board.release(MANAGER, "firm", "market orderly again")
    assert board.check_orders(desks, position, order).tolist() == [True, False, True, True]
    assert [(x.scope_id, x.after.value) for x in seen] == [
        ("desk:A", "reducing"),
        (GLOBAL, "halted"),
        (GLOBAL, "active"),
    ]


@pytest.mark.parametrize("actor", [VIEWER, ANALYST])
def test_release_and_engage_need_a_risk_manager(actor: Actor) -> None:
    store = MemorySwitchStore()
    board = KillSwitchBoard(store)
    board.engage(MANAGER, "desk:A", "test")
    before = dict(store.records)
    with pytest.raises(PermissionDeniedError, match="risk_manager"):
        board.release(actor, "desk:A", "please")
    with pytest.raises(PermissionDeniedError):
        board.engage(actor, "desk:B", "please")
    assert store.records == before and board.state("desk:A") is TradingState.HALTED
    assert len(store.audit) == 1


@pytest.mark.parametrize(
    ("scope", "field"), [("galaxy:x", "scope"), ("desk:", "scope"), ("desk", "scope")]
)
def test_unknown_scopes_are_refused(scope: str, field: str) -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    with pytest.raises(InputError) as err:
        board.engage(ADMIN, scope, "x")
    assert err.value.field == field
    assert board.engaged() == {}


def test_release_needs_a_reason_and_an_engaged_switch() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    with pytest.raises(InputError, match="engaged"):
        board.release(ADMIN, "desk:A", "why not")
    board.engage(ADMIN, "desk:A", "x")
    with pytest.raises(InputError, match="reason"):
        board.release(ADMIN, "desk:A", " ")


def test_circuit_breakers_halt_on_a_price_gap_and_a_stale_feed() -> None:
    board = KillSwitchBoard(MemorySwitchStore())
    breaker = CircuitBreaker(gap_fraction=0.1, stale_s=30, stale_share=0.5)
    held = np.array([True, True, False])
    now = 100 * 10**9
    assert breaker.check(board, np.array([10.0, 20, 30]), np.full(3, now), held, now) == []
    out = breaker.check(board, np.array([10.5, 15, 1]), np.full(3, now), held, now)
    assert [(t.scope_id, t.trigger) for t in out] == [("instrument:1", "price_gap")]
    stale = np.array([now - 31 * 10**9, now, now])
    out = breaker.check(board, np.array([10.5, 15, 1]), stale, held, now)
    assert [(t.scope_id, t.trigger, t.after.value) for t in out] == [
        (GLOBAL, "stale_feed", "halted")
    ]


def test_limit_changes_need_a_risk_manager_and_are_audited() -> None:
    store = MemoryLimitStore()
    registry = LimitRegistry(store, ManualClock(7))
    var_limit = LimitDefinition("desk", "Rates", "var", 8e6, 1e7)
    for actor in (VIEWER, ANALYST):
        with pytest.raises(PermissionDeniedError):
            registry.set_limit(actor, var_limit, "raise")
    assert store.rows == {} and store.audit == []
    registry.set_limit(MANAGER, var_limit, "annual review")
    change = registry.set_limit(ADMIN, {**var_limit.as_dict(), "hard": 1.2e7}, "temporary increase")
    assert change["before"]["hard"] == 1e7 and change["after"]["hard"] == 1.2e7
    assert [(a["actor"], a["role"], a["action"]) for a in store.audit] == [
        ("meg", "risk_manager", "limit.set"),
        ("ada", "admin", "limit.set"),
    ]
    with pytest.raises(InputError, match="soft"):
        registry.set_limit(MANAGER, {**var_limit.as_dict(), "soft": -5.0}, "oops")
    with pytest.raises(InputError, match="reason"):
        registry.set_limit(MANAGER, var_limit, "")
    assert registry.get(var_limit.limit_id).hard == 1.2e7 and len(store.audit) == 2
    registry.delete_limit(MANAGER, var_limit.limit_id, "desk closed")
    assert registry.limits() == [] and store.audit[-1]["action"] == "limit.delete"


def test_roles_parse_and_order() -> None:
    assert Role.VIEWER < Role.ANALYST < Role.RISK_MANAGER < Role.ADMIN
    assert Role.parse("Risk_Manager") is Role.RISK_MANAGER
    with pytest.raises(InputError, match="role"):
        Role.parse("superuser")
    with pytest.raises(InputError, match="user"):
        Actor("", Role.ADMIN)


def test_limits_and_switches_survive_a_restart(refdb_url: str) -> None:
    db = RefDB(refdb_url)
    db.migrate()
    repo = LimitRepository(db)
    registry = LimitRegistry(repo, ManualClock(1))
    registry.set_limit(MANAGER, LimitDefinition("firm", "firm", "var", 8e6, 1e7), "set")
    board = KillSwitchBoard(repo, ManualClock(2))
    board.trip("desk:Rates", "hard_breach", "VaR breach", TradingState.REDUCING)
    board.engage(MANAGER, "firm", "manual", TradingState.HALTED)
    with pytest.raises(PermissionDeniedError):
        board.release(VIEWER, "firm", "let me trade")
    db.close()

    # a new process: everything comes back from the database
    db2 = RefDB(refdb_url)
    repo2 = LimitRepository(db2)
    board2 = KillSwitchBoard(repo2)
    assert board2.state("desk:Rates") is TradingState.REDUCING
    assert board2.state("firm") is TradingState.HALTED
    assert LimitRegistry(repo2).limits()[0].hard == 1e7
    board2.release(ADMIN, "firm", "resolved")
    assert KillSwitchBoard(LimitRepository(db2)).state("firm") is TradingState.ACTIVE
    actions = [(a["action"], a["actor"]) for a in repo2.audit()]
    assert actions == [
        ("limit.set", "meg"),
        ("killswitch.engage", "riskstream"),
        ("killswitch.engage", "meg"),
        ("killswitch.release", "ada"),
    ]
    db2.close()
