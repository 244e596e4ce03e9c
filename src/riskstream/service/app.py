"""The FastAPI application: :func:`create_app` wires the API, the stream, the dashboard,
``/metrics``, ``/health`` and the offline API documentation at ``/docs``.

Authentication and roles are in :mod:`riskstream.service.auth`; every ``/api`` route and
the stream require a key. ``/health`` and ``/metrics`` are open (probes and Prometheus);
so are the static shells of the dashboard (``/``) and of the documentation (``/docs``,
``/openapi.json``), which hold code, not data — the dashboard asks for a key before it
reads anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import plotly
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from riskstream.bus.topics import MemoryTopics, Topics
from riskstream.core.clock import Clock, SystemClock
from riskstream.core.errors import InputError, RiskstreamError
from riskstream.core.messages import SUBJECTS
from riskstream.limits.model import PermissionDeniedError
from riskstream.positions import PositionKeeper, PositionRequester
from riskstream.service import api, construction, fx, regulatory, stream, stress
from riskstream.service.auth import KeyStore
from riskstream.service.cache import RiskCache
from riskstream.service.config import ServiceConfig
from riskstream.service.context import ServiceContext
from riskstream.service.deps import document_roles
from riskstream.service.feed import SnapshotFeed
from riskstream.service.limits import LimitProvider, LimitService
from riskstream.service.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from riskstream.service.portfolio import PortfolioView
from riskstream.store.cache import Cache, MemoryCache
from riskstream.store.limits_repo import LimitRepository
from riskstream.store.market_history import MarketHistory
from riskstream.store.refdb import RefDB

log = logging.getLogger("riskstream.service")

STATIC = Path(__file__).with_name("static")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
"""plotly.js ships inside the ``plotly`` Python package: the dashboard serves it from
there, so it works with no network."""


def _route_template(request: Request) -> str:
    """The matched route's template (``/api/v1/instruments/{instrument_id}``), so metric
    labels stay few; ``unmatched`` for 404s on unknown paths."""
    if request.scope.get("route") is None:
        return "unmatched"
    path = request.url.path
    for name, value in request.path_params.items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    name = ""
    for p in parts:
        name += f"[{p}]" if isinstance(p, int) else (f".{p}" if name else str(p))
    return name or "body"


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for e in exc.errors():
        if e["type"] == "json_invalid" or isinstance(e.get("input"), bytes):
            field, message = (
                "body",
                f"request body is not valid JSON ({e.get('ctx', {}).get('error', e['msg'])})",
            )
        else:
            field = _field_name(tuple(e["loc"]))
            value = e.get("input")
            shown = "" if isinstance(value, dict | list) or value is None else f" {value!r}"
            message = f"field '{field}' has value{shown}; expected: {e['msg'].lower()}"
            if e["type"] == "missing":
                message = f"field '{field}' is required"
        errors.append({"field": field, "message": message})
    return JSONResponse(
        {"detail": "; ".join(x["message"] for x in errors), "errors": errors}, status_code=422
    )


def _input_error(_request: Request, exc: InputError) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "errors": [{"field": exc.field, "message": str(exc)}]},
        status_code=422,
    )


def _permission_denied(_request: Request, exc: PermissionDeniedError) -> JSONResponse:
    """The limits package's own role check refused (nothing was changed): 403."""
    return JSONResponse({"detail": str(exc)}, status_code=403)


def create_app(
    config: ServiceConfig,
    db: RefDB,
    *,
    cache: Cache | None = None,
    limits: LimitProvider | None = None,
    clock: Clock | None = None,
    follow_cache: bool = False,
    topics: Topics | None = None,
    fx_history: MarketHistory | None = None,
) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    config : ServiceConfig
    db : RefDB
        Migrated reference DB holding a universe (instruments, books, positions), the
        API keys and the audit log.
    cache : Cache, optional
        Risk cache backend (default an in-process :class:`MemoryCache`).
    limits : LimitProvider, optional
        Default :class:`LimitService` over the limits and kill switches in ``db``.
    clock : Clock, optional
        Wall clock (publication times, staleness, audit timestamps).
    follow_cache : bool
        Poll the cache for snapshots another process published (``riskstream serve``
        beside a pipeline, sharing Redis) instead of being pushed to.
    topics : Topics, optional
        Where the position keeper runs: position changes are requests on these topics and
        the portfolio view follows its published versions. Default: in-process topics
        with a keeper of the service's own, driven by each request (``riskstream serve``
        alone); given (the demo's pipeline, NATS), the keeper runs elsewhere.
    fx_history : MarketHistory, optional
        The history store holding the aggregated FX rates (``riskstream fx poll``): serves
        the ``/api/v1/fx`` routes (:mod:`riskstream.service.fx`).

    Returns
    -------
    FastAPI
        ``app.state.ctx`` is the :class:`ServiceContext`; ``app.state.ctx.feed`` is the
        :class:`SnapshotFeed` a pipeline pushes into.
    """
    clock = clock or SystemClock()
    metrics = ServiceMetrics()
    risk_cache = RiskCache(
        cache if cache is not None else MemoryCache(clock),
        ttl_s=config.snapshot_ttl_s,
        stale_after_s=config.stale_after_s,
        clock=clock,
    )
    limits = limits if limits is not None else LimitService(LimitRepository(db), clock)
    keeper = None
    if topics is None:  # no keeper elsewhere: the service keeps positions itself
        topics = MemoryTopics()
        keeper = PositionKeeper(db, topics, clock=clock, max_abs_quantity=config.max_abs_quantity)
    feed = SnapshotFeed(
        risk_cache, limits, metrics, PortfolioView(db.load_universe()), config.history_size, clock
    )
    # the portfolio view follows the keeper's versions (from the first one retained)
    feed.follow_positions(topics.subscribe(SUBJECTS["positions"], start_after=0))
    positions = PositionRequester(topics, config.position_reply_timeout_s, keeper=keeper)
    ctx = ServiceContext(
        config,
        db,
        KeyStore(db, clock),
        risk_cache,
        feed,
        limits,
        metrics,
        clock,
        positions,
        follow_cache,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_follow(ctx)) if follow_cache else None
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        title="Riskstream",
        version="0.1.0",
        description=(
            "Real-time, liquidity-adjusted market risk. Authenticate with an API key in the "
            "`X-API-Key` header. Roles: viewer < analyst < risk_manager < admin."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(PermissionDeniedError, _permission_denied)

    @app.exception_handler(RiskstreamError)
    def _riskstream_error(_request: Request, exc: RiskstreamError) -> JSONResponse:
        metrics.errors.labels("api").inc()
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            template = _route_template(request)
            elapsed = time.perf_counter() - started
            metrics.http_requests.labels(request.method, template, str(status)).inc()
            metrics.http_latency.labels(template).observe(elapsed)
            if status >= 500:
                metrics.errors.labels("http").inc()
            principal = getattr(request.state, "principal", None)
            log.info(
                "%s %s %d",
                request.method,
                template,
                status,
                extra={
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1e3, 2),
                    "principal": principal.name if principal else None,
                },
            )

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Liveness and freshness (no authentication)."""
        cached = ctx.cache.latest()
        snap = None if cached is None else {"age_s": cached.age_s, "stale": cached.stale}
        return {"status": "ok", "snapshot": snap}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus exposition format (no authentication)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    document_roles(api.router)
    app.include_router(api.router, prefix="/api/v1")
    if fx_history is not None:
        fx.attach(app, fx_history)
    regulatory.attach(app)
    app.include_router(stream.router, prefix="/api/v1")
    document_roles(construction.router)
    app.include_router(construction.router, prefix="/api/v1")
    stress.include(app)  # /api/v1/stress: configured by stress.attach (riskstream serve)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html")

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _follow(ctx: ServiceContext) -> None:
    """Poll the shared cache for snapshots published by another process."""
    while True:
        try:
            await asyncio.to_thread(ctx.feed.follow_cache)
        except Exception:
            ctx.metrics.errors.labels("cache").inc()
            log.exception("reading the risk cache failed")
        await asyncio.sleep(0.25)
