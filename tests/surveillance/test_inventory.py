"""The model inventory: every Riskstream model has a card; the documentation checker; the
approval workflow with roles, independence and the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from riskstream.core.clock import ManualClock
from riskstream.core.errors import InputError
from riskstream.store.audit import read_audit
from riskstream.store.refdb import RefDB
from riskstream.surveillance.inventory import ModelInventory, load_cards, review_card

DAY_NS = 86_400 * 10**9


@pytest.fixture()
def inventory(tmp_path: Path) -> ModelInventory:
    db = RefDB(f"sqlite:///{tmp_path / 'ref.db'}")
    assert db.migrate() == "0007"
    clock = ManualClock(int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp() * 1e9))
    inv = ModelInventory(db, clock)
    assert inv.seed() == len(load_cards())
    assert inv.seed() == 0  # idempotent
    return inv


def test_every_model_family_is_in_the_inventory(inventory: ModelInventory) -> None:
    rows = inventory.list()
    families = {r["family"] for r in rows}
    assert families == {"risk", "regime", "surveillance"}
    impl = " ".join(r["card"]["implementation"] for r in rows)
    for name in (
        "GarchVolatility",
        "EWMACovariance",
        "HMMDetector",
        "RegimeEnsemble",
        "ParametricVaR",
        "AmlModel",
    ):
        assert name in impl


def test_checker_flags_missing_sections_stale_validation_and_weak_metrics() -> None:
    card = {
        "model_id": "m",
        "purpose": "p",
        "owner": "",
        "data": "d",
        "assumptions": "a",
        "limitations": "l",
        "version": "1",
        "validation": {"status": "passed", "date": "2025-01-01"},
        "metrics": [{"name": "recall", "threshold": 0.8, "direction": "min", "value": 0.7}],
    }
    checks = {f.check for f in review_card(card, dt.date(2026, 6, 1), max_age_days=365)}
    assert checks == {"missing_section", "stale_validation", "metric_below_threshold"}
    card["owner"], card["metrics"][0]["value"] = "x", 0.85
    assert review_card(card, dt.date(2025, 6, 1)) == []


def test_workflow_roles_independence_staleness_and_audit(inventory: ModelInventory) -> None:
    with pytest.raises(InputError, match="role"):
        inventory.record_validation("garch", user="vic", role="viewer")
    inventory.record_validation("garch", user="val", role="analyst", evidence="tests")
    with pytest.raises(InputError, match="other than the validator"):
        inventory.transition("garch", "approved", user="val", role="risk_manager")
    with pytest.raises(InputError, match="risk_manager"):
        inventory.transition("garch", "approved", user="cc", role="compliance")
    assert (
        inventory.transition("garch", "approved", user="meg", role="risk_manager")["state"]
        == "approved"
    )
    with pytest.raises(InputError, match="reachable"):
        inventory.transition("garch", "validated", user="meg", role="admin")
    assert not [f for f in inventory.review() if f.model_id == "garch"]
    inventory.clock.advance(400 * DAY_NS)  # a year later the validation is stale
    assert {f.check for f in inventory.review() if f.model_id == "garch"} == {"stale_validation"}
    inventory.transition("garch", "retired", user="meg", role="risk_manager")
    log = [(e.action, e.actor) for e in read_audit(inventory.db) if e.target == "model:garch"]
    assert log == [
        ("model.register", "system"),
        ("model.validated", "val"),
        ("model.approved", "meg"),
        ("model.retired", "meg"),
    ]
