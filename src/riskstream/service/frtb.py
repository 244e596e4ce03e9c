"""FRTB standardised-approach routes (``/api/v1/frtb``): the SA capital of the book by desk
and risk class (:mod:`riskstream.regulatory.sa.report`), for risk managers and up.

Registered by :func:`attach` with the function that computes the report (``riskstream
serve`` passes the book's computation of ``riskstream frtb sa``,
:func:`riskstream.cli.frtb.book_report`). The report is computed on the first request and
kept for ``ttl_s`` seconds (a full SA run revalues every option three times); ``?refresh=
true`` recomputes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from riskstream.service.auth import Principal, Role
from riskstream.service.deps import document_roles, require

router = APIRouter()

RiskManager = Annotated[Principal, Depends(require(Role.RISK_MANAGER))]
Refresh = Annotated[bool, Query(description="Recompute instead of the kept report.")]


class SaTotal(BaseModel):
    """Bank-level figures (reporting currency): the three SBM correlation-scenario totals,
    the SBM (their maximum), DRC, RRAO and the SA capital (their sum)."""

    low: float
    medium: float
    high: float
    sbm: float
    drc: float
    rrao: float
    capital: float


class DeskCapital(BaseModel):
    """One desk's stand-alone figures; ``by_risk_class`` maps GIRR, CSR_NONSEC, EQ, COMM,
    FX to the largest scenario total of that class's delta, vega and curvature."""

    desk: str
    by_risk_class: dict[str, float]
    sbm: float
    drc: float
    rrao: float
    capital: float


class SaDesks(BaseModel):
    as_of: str
    reporting_currency: str
    total: SaTotal
    by_desk: list[DeskCapital]


class SaReport(SaDesks):
    """The whole report: ``by_risk_class`` is risk class -> measure -> ``low``/``medium``/
    ``high`` and ``buckets``; ``drc`` and ``rrao`` their breakdowns; ``excluded`` the held
    instruments without sensitivities, with the reason."""

    by_risk_class: dict[str, dict[str, dict[str, Any]]]
    drc: dict[str, Any]
    rrao: dict[str, Any]
    excluded: list[dict[str, Any]] = []


class ReportCache:
    """The last computed report and when; one computation at a time."""

    def __init__(self, compute: Callable[[], dict[str, Any]], ttl_s: float):
        self.compute = compute
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._report: dict[str, Any] | None = None
        self._at = 0.0

    def get(self, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            stale = time.monotonic() - self._at > self.ttl_s
            if self._report is None or refresh or stale:
                self._report = self.compute()
                self._at = time.monotonic()
            return self._report


def _cache(request: Request) -> ReportCache:
    cache = getattr(request.app.state, "frtb_reports", None)
    if cache is None:
        raise HTTPException(404, "FRTB capital is not configured on this service")
    return cache


Reports = Annotated[ReportCache, Depends(_cache)]


@router.get("/frtb/sa", tags=["frtb"])
def sa(reports: Reports, _who: RiskManager, refresh: Refresh = False) -> SaReport:
    """The FRTB standardised-approach capital of the book: SBM (MAR21, three correlation
    scenarios), DRC (MAR22), RRAO (MAR23), by risk class, measure, bucket and desk."""
    return SaReport.model_validate(reports.get(refresh))


@router.get("/frtb/sa/desks", tags=["frtb"])
def sa_desks(reports: Reports, _who: RiskManager, refresh: Refresh = False) -> SaDesks:
    """Capital by desk and risk class (the dashboard's panel)."""
    return SaDesks.model_validate(reports.get(refresh))


@router.get("/frtb/sa/report.html", tags=["frtb"], response_class=HTMLResponse)
def sa_html(reports: Reports, _who: RiskManager, refresh: Refresh = False) -> HTMLResponse:
    """The regulatory report as an HTML page."""
    from riskstream.regulatory.sa.report import render_html

    return HTMLResponse(render_html(reports.get(refresh)))


def attach(app: FastAPI, compute: Callable[[], dict[str, Any]], ttl_s: float = 300.0) -> None:
    """Serve the FRTB routes under ``/api/v1``, reports from ``compute`` kept ``ttl_s``."""
    app.state.frtb_reports = ReportCache(compute, ttl_s)
    document_roles(router)
    app.include_router(router, prefix="/api/v1")
