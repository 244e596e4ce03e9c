"""FX rate routes (``/api/v1/fx``): the FX rates aggregated from public APIs, with the
provenance of every rate, read from the history store's ``fx_rates`` table (written by
``riskstream fx poll``; :mod:`riskstream.feeds.fx`).

Registered by :func:`attach` (``create_app(..., fx_history=...)``), which also tells the
routes where the history store is.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from pydantic import BaseModel

from riskstream.core.clock import NS_PER_S
from riskstream.service.auth import Principal, Role
from riskstream.service.deps import document_roles, require
from riskstream.store.market_history import MarketHistory

router = APIRouter()

Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Code = Annotated[str, Query(pattern=r"^[A-Z]{3}$", description="A currency code (USD).")]


class FxSourceUsed(BaseModel):
    """One source's rate (in the base) and its normalised weight in the average."""

    rate: float
    weight: float
    age_s: float


class FxExclusion(BaseModel):
    """A source left out of this rate (``currency`` null: of every rate) and why."""

    source: str
    currency: str | None
    reason: str


class FxRate(BaseModel):
    currency: str
    rate: float
    sources: dict[str, FxSourceUsed]
    excluded: list[FxExclusion]


class FxRates(BaseModel):
    """One publication: units of each currency per one unit of ``base``."""

    base: str
    published: str
    as_of: str
    responses: str
    rates: list[FxRate]


class FxRatePoint(BaseModel):
    published: str
    as_of: str
    rate: float
    sources: int


def _iso(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / NS_PER_S, dt.UTC).isoformat()


def history(request: Request) -> MarketHistory:
    store = getattr(request.app.state, "fx_history", None)
    if store is None:
        raise HTTPException(503, "FX rates are not configured on this service")
    return store


Store = Annotated[MarketHistory, Depends(history)]


@router.get("/fx/rates", tags=["fx"])
def latest_rates(store: Store, _who: Viewer, base: Code = "USD") -> FxRates:
    """The latest published FX rates against ``base``, each with the sources used (rate,
    weight, age) and the sources excluded with why."""
    rows = store.fx_rates(base, latest=True)
    if rows.height == 0:
        raise HTTPException(
            404, f"field 'base' has value {base!r}; expected a base with published FX rates"
        )
    first = rows.row(0, named=True)
    rates = []
    for row in rows.iter_rows(named=True):
        prov = json.loads(row["provenance"])
        rates.append(
            FxRate(
                currency=row["currency"],
                rate=row["rate"],
                sources=prov["used"],
                excluded=prov["excluded"],
            )
        )
    return FxRates(
        base=base,
        published=_iso(first["ts"]),
        as_of=_iso(first["as_of_ns"]),
        responses=first["responses"],
        rates=rates,
    )


@router.get("/fx/rates/{currency}", tags=["fx"])
def rate_history(
    store: Store,
    _who: Viewer,
    currency: Annotated[str, Path(pattern=r"^[A-Z]{3}$")],
    base: Code = "USD",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[FxRatePoint]:
    """The last ``limit`` publications of one rate (units of ``currency`` per ``base``),
    oldest first."""
    rows = store.fx_rates(base).filter(pl.col("currency") == currency).tail(limit)
    return [
        FxRatePoint(
            published=_iso(r["ts"]), as_of=_iso(r["as_of_ns"]), rate=r["rate"], sources=r["sources"]
        )
        for r in rows.iter_rows(named=True)
    ]


def attach(app: FastAPI, store: MarketHistory) -> None:
    """Serve the FX routes under ``/api/v1`` from ``store``."""
    app.state.fx_history = store
    document_roles(router)  # each route's least role in its /docs description
    app.include_router(router, prefix="/api/v1")
