"""Surveillance routes: the model inventory, its documentation review and workflow, and the
live market-abuse alerts (``GET /surveillance/abuse/alerts``, fed by the surveillance stage).

Readable by the ``compliance`` role and above (surveillance is need-to-know: AML findings
must not reach people who could tip off a customer, 31 U.S.C. 5318(g)(2)); the workflow
itself checks who may validate (compliance, analyst and above) and approve or retire
(``risk_manager``, ``admin``), and writes every change to the audit log.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from riskstream.core.audit import TYPOLOGY_NAMES
from riskstream.service.deps import Compliance, Ctx
from riskstream.surveillance.inventory import ModelInventory

router = APIRouter(tags=["surveillance"])


class ModelSummary(BaseModel):
    model_id: str
    name: str | None
    family: str | None
    owner: str | None
    version: str
    state: str
    validation_status: str | None
    validation_date: str | None
    updated_ns: int
    updated_by: str
    validated_by: str | None


class ModelDetail(ModelSummary):
    card: dict[str, Any]


class ReviewFinding(BaseModel):
    model_id: str
    check: str
    severity: str
    detail: str


class Transition(BaseModel):
    state: str = Field(description="approved, retired or draft")
    reason: str = ""


class Validation(BaseModel):
    evidence: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)


class AbuseAlertRow(BaseModel):
    """One market-abuse alert with its evidence (:data:`riskstream.surveillance.
    market_abuse.ALERT_DTYPE`): the orders (ids, space-separated), the times (ns) and the top
    book levels at the alert (prices in the quote currency; None where the book had none)."""

    typology: str
    participant_id: int
    owner_id: int
    instrument_id: int
    day: int
    ts_start: int
    ts_alert: int
    value: float
    n_orders: int
    order_ids: str
    bid_px: list[float | None]
    bid_sz: list[float | None]
    ask_px: list[float | None]
    ask_sz: list[float | None]


def _abuse_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not k.rsplit("_", 1)[-1].isdigit()}
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        levels = [row[k] for k in sorted(row) if k.startswith(name + "_")]
        out[name] = [None if v is None or math.isnan(v) else float(v) for v in levels]
    return out


@router.get("/surveillance/abuse/alerts", response_model=list[AbuseAlertRow])
def abuse_alerts(
    ctx: Ctx, _who: Compliance, limit: int = 100, typology: str | None = None
) -> list[dict[str, Any]]:
    """The newest market-abuse alerts of the live surveillance stage, newest first
    (``typology``: spoofing, layering, wash_trade, marking_close, momentum_ignition)."""
    if typology is not None and typology not in TYPOLOGY_NAMES.values():
        raise HTTPException(
            422, f"typology {typology!r}: expected one of {', '.join(TYPOLOGY_NAMES.values())}"
        )
    rows = [r for r in reversed(ctx.feed.abuse_alerts) if typology in (None, r["typology"])]
    return [_abuse_row(r) for r in rows[: max(limit, 0)]]


def _inventory(ctx: Any) -> ModelInventory:
    inventory = ModelInventory(ctx.db, ctx.clock)
    inventory.seed()
    return inventory


@router.get("/models", response_model=list[ModelSummary])
def list_models(ctx: Ctx, _who: Compliance) -> list[dict[str, Any]]:
    """Every model in the inventory with its approval state."""
    return [{k: v for k, v in m.items() if k != "card"} for m in _inventory(ctx).list()]


@router.get("/models/review", response_model=list[ReviewFinding])
def review_models(ctx: Ctx, _who: Compliance, max_age_days: int = 365) -> list[dict[str, str]]:
    """Documentation review: missing sections, stale validation, metrics off threshold."""
    return [f.as_dict() for f in _inventory(ctx).review(max_age_days)]


@router.get("/models/{model_id}", response_model=ModelDetail)
def show_model(model_id: str, ctx: Ctx, _who: Compliance) -> dict[str, Any]:
    """One model's card."""
    return _inventory(ctx).get(model_id)


@router.post("/models/{model_id}/validate", response_model=ModelDetail)
def validate_model(model_id: str, body: Validation, ctx: Ctx, who: Compliance) -> dict[str, Any]:
    """Record a passed validation today and move the model to ``validated``."""
    return _inventory(ctx).record_validation(
        model_id,
        user=who.name,
        role=who.role.label,
        metrics=body.metrics or None,
        evidence=body.evidence,
    )


@router.post("/models/{model_id}/state", response_model=ModelDetail)
def set_model_state(model_id: str, body: Transition, ctx: Ctx, who: Compliance) -> dict[str, Any]:
    """Approve (risk_manager or admin, not the validator), retire or send back a model."""
    return _inventory(ctx).transition(
        model_id, body.state, user=who.name, role=who.role.label, reason=body.reason
    )
