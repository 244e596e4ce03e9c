"""The model inventory: model cards, the documentation checker and the approval workflow.

Supervisory guidance on model risk (Federal Reserve SR 11-7 / OCC 2011-12, "Guidance on
Model Risk Management", section VI; PRA SS1/23, principle 1.3) asks a firm to keep an
inventory of every model in use with its purpose, owner, data, assumptions, limitations,
validation status and approval, to validate each model independently and at least
annually, and to record who approved what. This module keeps that inventory in the
reference DB (table ``model_inventory``, migration 0007) and every change in the audit log
(:mod:`riskstream.store.audit`), in the same transaction.

**Cards** are seeded from ``model_cards.yaml`` (every model of Riskstream: risk, regime,
surveillance); validation status, date and metric values are set by the workflow only.

**Workflow**: ``draft → validated → approved → retired`` (a validated model may be sent
back to ``draft``). Validation needs a validator role (analyst and above, or compliance);
approval and retirement need ``risk_manager`` or ``admin``. Approval also needs a clean
documentation review and a different person from the validator (the "effective challenge"
and independence of SR 11-7 section V). Roles are passed as labels; the service and CLI
authenticate them.

**Documentation checker**: missing sections, validation older than ``max_age_days``
(default 365: annual review), and metrics on the wrong side of their stated thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError
from riskstream.store.audit import append_audit
from riskstream.store.refdb import MODEL_INVENTORY, RefDB

CARDS_FILE = Path(__file__).with_name("model_cards.yaml")
STATES = ("draft", "validated", "approved", "retired")
REQUIRED_SECTIONS = (
    "purpose",
    "owner",
    "data",
    "assumptions",
    "limitations",
    "version",
    "validation",
)
VALIDATOR_ROLES = frozenset({"analyst", "compliance", "risk_manager", "admin"})
APPROVER_ROLES = frozenset({"risk_manager", "admin"})
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("draft", "validated"): VALIDATOR_ROLES,
    ("validated", "draft"): VALIDATOR_ROLES,
    ("validated", "approved"): APPROVER_ROLES,
    ("draft", "retired"): APPROVER_ROLES,
    ("validated", "retired"): APPROVER_ROLES,
    ("approved", "retired"): APPROVER_ROLES,
}


@dataclass(frozen=True)
class Finding:
    """One documentation-review finding: ``severity`` is ``error`` (blocks approval) or
    ``warning``."""

    model_id: str
    check: str
    severity: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def load_cards(path: Path | str = CARDS_FILE) -> list[dict[str, Any]]:
    """The model cards of a YAML file (a list of mappings with ``model_id``)."""
    cards = yaml.safe_load(Path(path).read_text()) or []
    if not isinstance(cards, list) or not all(
        isinstance(c, dict) and c.get("model_id") for c in cards
    ):
        raise InputError("model_cards", str(path), "a YAML list of cards, each with a model_id")
    return cards


def review_card(card: dict[str, Any], today: dt.date, max_age_days: int = 365) -> list[Finding]:
    """The documentation checker on one card."""
    mid = str(card.get("model_id"))
    findings = []
    for section in REQUIRED_SECTIONS:
        value = card.get(section)
        if value in (None, "", [], {}):
            findings.append(Finding(mid, "missing_section", "error", f"'{section}' is missing"))
    validation = card.get("validation") or {}
    date = validation.get("date")
    if validation.get("status") != "passed" or not date:
        findings.append(Finding(mid, "not_validated", "error", "no passed validation on record"))
    else:
        age = (today - dt.date.fromisoformat(str(date))).days
        if age > max_age_days:
            findings.append(
                Finding(
                    mid,
                    "stale_validation",
                    "error",
                    f"validated {date}, {age} days ago (> {max_age_days})",
                )
            )
    for metric in card.get("metrics") or []:
        name, value = metric.get("name"), metric.get("value")
        threshold, direction = metric.get("threshold"), metric.get("direction", "min")
        if value is None:
            findings.append(Finding(mid, "metric_missing", "error", f"{name}: no value measured"))
        elif (direction == "min" and value < threshold) or (
            direction == "max" and value > threshold
        ):
            findings.append(
                Finding(
                    mid,
                    "metric_below_threshold",
                    "error",
                    f"{name} = {value:.4g}, stated {direction} {threshold}",
                )
            )
    return findings


class ModelInventory:
    """The inventory in the reference DB, with audited workflow transitions."""

    def __init__(self, db: RefDB, clock: Clock | None = None):
        self.db = db
        self.clock = clock or SystemClock()

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, dt.UTC).date()

    def seed(self, cards: list[dict[str, Any]] | None = None) -> int:
        """Insert the cards not yet in the inventory (as ``draft``); returns how many."""
        cards = load_cards() if cards is None else cards
        try:
            return self._seed(cards)
        except sa.exc.IntegrityError:  # a concurrent request seeded them first
            return 0

    def _seed(self, cards: list[dict[str, Any]]) -> int:
        now = self.clock.now_ns()
        with self.db.transaction() as conn:
            have = set(conn.execute(sa.select(MODEL_INVENTORY.c.model_id)).scalars())
            new = [c for c in cards if c["model_id"] not in have]
            for card in new:
                conn.execute(
                    MODEL_INVENTORY.insert().values(
                        model_id=card["model_id"],
                        version=str(card.get("version", "")),
                        state="draft",
                        card=json.dumps(card, sort_keys=True),
                        updated_ns=now,
                        updated_by="system",
                        validated_by=None,
                    )
                )
                append_audit(
                    conn,
                    ts_ns=now,
                    actor="system",
                    role="admin",
                    action="model.register",
                    target=f"model:{card['model_id']}",
                    before=None,
                    after={"state": "draft", "version": card.get("version")},
                )
        return len(new)

    def list(self) -> list[dict[str, Any]]:
        with self.db.transaction() as conn:
            rows = conn.execute(sa.select(MODEL_INVENTORY).order_by(MODEL_INVENTORY.c.model_id))
            return [self._row(r) for r in rows.mappings()]

    @staticmethod
    def _row(row: Any) -> dict[str, Any]:
        card = json.loads(row["card"])
        return {
            "model_id": row["model_id"],
            "name": card.get("name"),
            "family": card.get("family"),
            "owner": card.get("owner"),
            "version": row["version"],
            "state": row["state"],
            "validation_status": (card.get("validation") or {}).get("status"),
            "validation_date": (card.get("validation") or {}).get("date"),
            "updated_ns": row["updated_ns"],
            "updated_by": row["updated_by"],
            "validated_by": row["validated_by"],
            "card": card,
        }

    def get(self, model_id: str) -> dict[str, Any]:
        with self.db.transaction() as conn:
            row = (
                conn.execute(
                    sa.select(MODEL_INVENTORY).where(MODEL_INVENTORY.c.model_id == model_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise InputError("model_id", model_id, "the id of a model in the inventory")
        return self._row(row)

    def review(self, max_age_days: int = 365) -> list[Finding]:
        """The documentation checker over every model not retired."""
        today = self._today()
        return [
            f
            for m in self.list()
            if m["state"] != "retired"
            for f in review_card(m["card"], today, max_age_days)
        ]

    def record_validation(
        self,
        model_id: str,
        *,
        user: str,
        role: str,
        metrics: dict[str, float] | None = None,
        evidence: str = "",
    ) -> dict[str, Any]:
        """Record a passed validation today (and measured metric values) and move the
        model to ``validated``."""
        current = self.get(model_id)
        card = dict(current["card"])
        card["validation"] = {
            **(card.get("validation") or {}),
            "status": "passed",
            "date": self._today().isoformat(),
            "by": user,
            "report": evidence,
        }
        if metrics:
            card["metrics"] = [
                {**m, "value": float(metrics[m["name"]])} if m.get("name") in metrics else m
                for m in card.get("metrics") or []
            ]
        return self.transition(
            model_id, "validated", user=user, role=role, card=card, reason=evidence
        )

    def transition(
        self,
        model_id: str,
        to_state: str,
        *,
        user: str,
        role: str,
        reason: str = "",
        card: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Move a model along the workflow (checked, audited)."""
        if to_state not in STATES:
            raise InputError("state", to_state, "one of " + ", ".join(STATES))
        current = self.get(model_id)
        allowed = TRANSITIONS.get((current["state"], to_state))
        if allowed is None:
            raise InputError(
                "state",
                to_state,
                f"a state reachable from {current['state']!r}: "
                + ", ".join(t for (f, t) in TRANSITIONS if f == current["state"]),
            )
        if role not in allowed:
            raise InputError(
                "role",
                role,
                f"one of {sorted(allowed)} to move a model to {to_state!r} (user {user!r})",
            )
        new_card = card or current["card"]
        validated_by = current["validated_by"]
        if to_state == "validated":
            if (new_card.get("validation") or {}).get("status") != "passed":
                raise InputError(
                    "validation",
                    (new_card.get("validation") or {}).get("status"),
                    "a passed validation (use record_validation)",
                )
            validated_by = user
        if to_state == "approved":
            if user == current["validated_by"]:
                raise InputError(
                    "user",
                    user,
                    "an approver other than the validator (independent review, SR 11-7 section V)",
                )
            errors = [f for f in review_card(new_card, self._today()) if f.severity == "error"]
            if errors:
                raise InputError(
                    "documentation",
                    [f.detail for f in errors],
                    "a card with no documentation-review errors",
                )
        if to_state == "draft":
            validated_by = None
        now = self.clock.now_ns()
        with self.db.transaction() as conn:
            conn.execute(
                MODEL_INVENTORY.update()
                .where(MODEL_INVENTORY.c.model_id == model_id)
                .values(
                    state=to_state,
                    card=json.dumps(new_card, sort_keys=True),
                    updated_ns=now,
                    updated_by=user,
                    validated_by=validated_by,
                )
            )
            append_audit(
                conn,
                ts_ns=now,
                actor=user,
                role=role,
                action=f"model.{to_state}",
                target=f"model:{model_id}",
                before={"state": current["state"]},
                after={"state": to_state},
                reason=reason,
            )
        return self.get(model_id)
