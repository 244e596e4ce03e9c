"""Regulatory routes (``/api/v1/regulatory``): the FRTB internal-models capital and the
BCBS 239 lineage and data-quality KPIs of the recorded runs, read from the reference DB's
lineage records (written by ``riskstream frtb ima``; :mod:`riskstream.regulatory.lineage`).

Every route needs the **risk_manager** role or higher: regulatory capital and the evidence
behind it are for the risk function and the supervisor, not every dashboard viewer.
Re-computing a figure (``riskstream lineage show ID --verify``) reads the history store
and runs the model; it stays a command, not a request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query
from pydantic import BaseModel

from riskstream.core.errors import InputError
from riskstream.regulatory import lineage
from riskstream.service.deps import Ctx, RiskManager, document_roles

router = APIRouter()

LineageId = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,64}$")]


class LineageSummary(BaseModel):
    lineage_id: str
    kind: str
    as_of: str
    created_ns: int
    capital: float | None
    data_quality: dict[str, Any]


class ImaCapital(BaseModel):
    """The newest recorded IMA run: its figures, desks, reconciliation and data quality."""

    lineage_id: str
    as_of: str
    base_currency: str
    capital: float
    ca: float | None
    imcc: float | None
    imcc_avg_60d: float | None
    ses: float | None
    drc: float | None
    multiplier: dict[str, Any] | None
    es_10d_975: float | None
    es_liquidity_adjusted: float | None
    stress_window: dict[str, Any] | None
    by_risk_class: dict[str, Any]
    desks: list[dict[str, Any]]
    reconciliation: list[dict[str, Any]]
    data_quality: dict[str, Any]


@router.get("/regulatory/lineage", tags=["regulatory"])
def lineage_records(
    ctx: Ctx, _who: RiskManager, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[LineageSummary]:
    """The newest lineage records (id, kind, as-of, headline capital, data-quality KPIs)."""
    return [LineageSummary(**r) for r in lineage.recent(ctx.db, limit)]


@router.get("/regulatory/lineage/{lineage_id}", tags=["regulatory"])
def lineage_chain(ctx: Ctx, _who: RiskManager, lineage_id: LineageId) -> dict[str, Any]:
    """The chain of one record: figures, positions version and digest, reference-data
    digest, history table versions, bus sequences, configuration hash, code version."""
    try:
        return lineage.load(ctx.db, lineage_id).chain()
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/regulatory/ima", tags=["regulatory"])
def ima_capital(ctx: Ctx, _who: RiskManager) -> ImaCapital:
    """The newest recorded internal-models capital (``riskstream frtb ima``)."""
    rows = lineage.recent(ctx.db, 1, kind="frtb-ima")
    if not rows:
        raise HTTPException(404, "no IMA capital recorded yet: run `riskstream frtb ima`")
    rec = lineage.load(ctx.db, rows[0]["lineage_id"])
    f = rec.figures
    return ImaCapital(
        lineage_id=rec.lineage_id,
        as_of=rec.as_of,
        base_currency=f.get("base_currency", ""),
        capital=f["capital"],
        **{
            k: f.get(k)
            for k in (
                "ca",
                "imcc",
                "imcc_avg_60d",
                "ses",
                "drc",
                "multiplier",
                "es_10d_975",
                "es_liquidity_adjusted",
                "stress_window",
            )
        },
        by_risk_class={
            k: {"capital_es": v["capital_es"], "explained_ratio": v["explained_ratio"]}
            for k, v in f.get("by_risk_class", {}).items()
        },
        desks=f.get("desks", []),
        reconciliation=f.get("reconciliation", []),
        data_quality=rec.data_quality,
    )


def attach(app: FastAPI) -> None:
    """Serve the regulatory routes under ``/api/v1``."""
    document_roles(router)
    app.include_router(router, prefix="/api/v1")
