"""REST routes (``/api/v1``): reference data, positions, risk, limits, alerts, kill
switches, regimes, audit and keys. Reads answer from the risk cache, the in-memory history
and the position keeper's latest version, never from the engine; changes are validated
whole, applied in one transaction with their audit entries, or not at all. Position changes
are requests to the position keeper (the one writer of positions), answered over topics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from riskstream.core.errors import InputError
from riskstream.limits.model import LimitType
from riskstream.service.cache import Cached, finite
from riskstream.service.context import ServiceContext
from riskstream.service.deps import Admin, Analyst, Ctx, RiskManager, Viewer
from riskstream.store.audit import read_audit

router = APIRouter()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- identity


@router.get("/whoami", tags=["auth"])
def whoami(who: Viewer) -> dict[str, str]:
    """The caller's key id, name and role."""
    return {"key_id": who.key_id, "name": who.name, "role": who.role.label}


# ---------------------------------------------------------------- reference data


def _frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


@router.get("/instruments", tags=["reference data"])
def instruments(
    ctx: Ctx,
    _who: Viewer,
    asset_class: str | None = None,
    symbol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Instruments, optionally by asset class or exact symbol (paged)."""
    frame = ctx.portfolio.universe.instruments
    if asset_class is not None:
        frame = frame.filter(pl.col("asset_class") == asset_class)
    if symbol is not None:
        frame = frame.filter(pl.col("symbol") == symbol)
    return {"total": frame.height, "items": _frame_rows(frame.slice(offset, limit))}


def _instrument_row(ctx: ServiceContext, instrument_id: int, field: str) -> dict[str, Any]:
    inst = ctx.portfolio.universe.instruments
    if not 0 <= instrument_id < inst.height:
        raise HTTPException(
            404,
            f"field '{field}' has value {instrument_id}; expected an instrument in the "
            f"reference data (0 to {inst.height - 1})",
        )
    return inst.row(instrument_id, named=True)


@router.get("/instruments/{instrument_id}", tags=["reference data"])
def instrument(ctx: Ctx, _who: Viewer, instrument_id: Annotated[int, Path(ge=0)]) -> dict[str, Any]:
    """One instrument (404 if unknown)."""
    return _instrument_row(ctx, instrument_id, "instrument_id")


@router.get("/books", tags=["reference data"])
def books(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    """Books with their desk, strategy and trader."""
    return _frame_rows(ctx.portfolio.universe.books)


@router.get("/positions", tags=["positions"])
def positions(
    ctx: Ctx,
    _who: Viewer,
    book_id: int | None = None,
    desk: str | None = None,
    instrument_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 10_000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Positions with their book's desk/strategy/trader and the instrument's symbol."""
    frame = ctx.portfolio.positions
    for column, value in (("book_id", book_id), ("desk", desk), ("instrument_id", instrument_id)):
        if value is not None:
            frame = frame.filter(pl.col(column) == value)
    columns = [
        "book_id",
        "instrument_id",
        "symbol",
        "asset_class",
        "quantity",
        "desk",
        "strategy",
        "trader",
    ]
    return {"total": frame.height, "items": _frame_rows(frame.select(columns).slice(offset, limit))}


class PositionChange(_Body):
    book_id: Annotated[int, Field(ge=0)]
    instrument_id: Annotated[int, Field(ge=0)]
    quantity: Annotated[
        float, Field(allow_inf_nan=False, description="new signed quantity; 0 closes")
    ]


class PositionChanges(_Body):
    changes: Annotated[list[PositionChange], Field(min_length=1, max_length=100_000)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post("/positions", tags=["positions"])
def change_positions(ctx: Ctx, who: RiskManager, body: PositionChanges) -> dict[str, Any]:
    """Set the quantity of each (book, instrument) given — all or nothing, audited.

    Every change is checked first (book and instrument exist, quantity within
    ``max_abs_quantity``, each pair once); one bad change rejects the whole request with
    a 422 naming the field (``changes[i].<field>``), and nothing is written. The request
    then goes to the position keeper, which writes the changes and one audit entry per
    change (before/after quantity) in one transaction and publishes the new positions
    version (``version`` in the answer); 503 when the keeper does not answer in time.
    """
    universe = ctx.portfolio.universe
    book_ids = set(universe.books["book_id"].to_list())
    n_inst = universe.instruments.height
    seen: set[tuple[int, int]] = set()
    for i, c in enumerate(body.changes):
        where = f"changes[{i}]"
        if c.book_id not in book_ids:
            raise InputError(f"{where}.book_id", c.book_id, "the id of an existing book")
        if c.instrument_id >= n_inst:
            raise InputError(
                f"{where}.instrument_id", c.instrument_id, "an instrument in the reference data"
            )
        if abs(c.quantity) > ctx.config.max_abs_quantity:
            raise InputError(
                f"{where}.quantity",
                c.quantity,
                f"an absolute quantity at most {ctx.config.max_abs_quantity:g}",
            )
        if (c.book_id, c.instrument_id) in seen:
            raise InputError(where, (c.book_id, c.instrument_id), "each (book, instrument) once")
        seen.add((c.book_id, c.instrument_id))

    answer = ctx.positions.request(
        [(c.book_id, c.instrument_id, c.quantity) for c in body.changes],
        actor=who.name,
        role=who.role.label,
        reason=body.reason,
        ts_ns=ctx.clock.now_ns(),
    )
    if not answer.ok:  # the keeper's own check (e.g. a book deleted since): nothing written
        return _keeper_refusal(answer.field, answer.error)  # type: ignore[return-value]
    return {
        "changed": len(answer.changes),
        "version": answer.version,
        "changes": list(answer.changes),
    }


def _keeper_refusal(field: str, message: str) -> JSONResponse:
    """The keeper refused the request (422, the same shape as the route's own checks)."""
    return JSONResponse(
        {"detail": message, "errors": [{"field": field, "message": message}]}, status_code=422
    )


# ---------------------------------------------------------------- risk


def _latest(ctx: ServiceContext) -> Cached:
    cached = ctx.cache.latest()
    if cached is None:
        raise HTTPException(
            503, "no risk snapshot in the cache: none published yet, or it expired (TTL)"
        )
    return cached


def _contributions(ctx: ServiceContext) -> Cached:
    cached = ctx.cache.contributions()
    if cached is None:
        raise HTTPException(
            503, "no risk contributions in the cache: none published yet, or they expired"
        )
    return cached


@router.get("/risk/latest", tags=["risk"])
def risk_latest(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    """The latest snapshot from the cache, flagged ``stale`` when older than
    ``stale_after_s`` (per-instrument arrays left out; see ``/risk/drilldown``)."""
    cached = _latest(ctx)
    return {
        "stale": cached.stale,
        "age_s": cached.age_s,
        "published_ns": cached.published_ns,
        "snapshot": cached.value,
    }


@router.get("/risk/aggregates/{level}", tags=["risk"])
def risk_aggregates(
    ctx: Ctx, _who: Viewer, level: Literal["asset_class", "desk", "strategy", "trader"]
) -> dict[str, Any]:
    """Component VaR/ES per label at one level, from the cache."""
    cached = ctx.cache.aggregates(level)
    if cached is None:
        raise HTTPException(503, f"no {level} aggregates in the cache (none yet, or expired)")
    return {"level": level, "stale": cached.stale, "age_s": cached.age_s, "rows": cached.value}


@router.get("/risk/history", tags=["risk"])
def risk_history(
    ctx: Ctx,
    _who: Analyst,
    since_ns: Annotated[int | None, Query(ge=0)] = None,
    until_ns: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 10_000,
) -> dict[str, Any]:
    """Compact snapshots (headline and all measures, P&L, aggregates, regimes) with
    event time in ``[since_ns, until_ns]``, oldest first."""
    if since_ns is not None and until_ns is not None and until_ns < since_ns:
        raise InputError("until_ns", until_ns, f"a time at or after since_ns ({since_ns})")
    rows = ctx.feed.history_between(since_ns, until_ns, limit)
    return {"count": len(rows), "items": rows}


@router.get("/risk/drilldown", tags=["risk"])
def risk_drilldown(
    ctx: Ctx,
    _who: Analyst,
    by: Literal["asset_class", "desk", "strategy", "trader", "instrument"] = "desk",
    asset_class: str | None = None,
    desk: str | None = None,
    strategy: str | None = None,
    trader: str | None = None,
) -> dict[str, Any]:
    """Euler contributions grouped ``by`` a level, within the filters given — from the
    portfolio down to a single instrument's contribution (parts sum to the whole)."""
    cached = _contributions(ctx)
    filters = {
        k: v
        for k, v in (
            ("asset_class", asset_class),
            ("desk", desk),
            ("strategy", strategy),
            ("trader", trader),
        )
        if v is not None
    }
    cvar, ces = cached.value
    return {
        "by": by,
        "filters": filters,
        "stale": cached.stale,
        "age_s": cached.age_s,
        "published_ns": cached.published_ns,
        "rows": finite(ctx.portfolio.contributions(cvar, ces, by, filters)),
    }


@router.get("/risk/instruments/{instrument_id}", tags=["risk"])
def risk_instrument(
    ctx: Ctx, _who: Analyst, instrument_id: Annotated[int, Path(ge=0)]
) -> dict[str, Any]:
    """One instrument's component VaR/ES and its split over the books holding it."""
    row = _instrument_row(ctx, instrument_id, "instrument_id")
    cached = _contributions(ctx)
    cvar, ces = cached.value
    by_book = ctx.portfolio.contributions(cvar, ces, "book_id", {"instrument_id": instrument_id})
    return finite(
        {
            "instrument": row,
            "stale": cached.stale,
            "published_ns": cached.published_ns,
            "component_var": float(cvar[instrument_id]),
            "component_es": float(ces[instrument_id]),
            "books": by_book,
        }
    )


# ---------------------------------------------------------------- limits, alerts, regimes


def _limit_types(rows: list[dict[str, Any]]) -> list[str]:
    """The limit types in use, in the limits package's order (the heatmap's columns)."""
    used = {r["limit_type"] for r in rows}
    return [t.value for t in LimitType if t.value in used]


@router.get("/limits", tags=["limits"])
def limits(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    """Every limit in force (``source``: the stage's reference set or stored in the
    reference DB), each monitored limit's latest utilisation — exposure over the hard
    threshold, status ok / warning / breach from the limits stage's monitor — and the
    kill switches. ``available`` is false when no limits stage publishes: utilisation
    is then null with status ``n/a``."""
    rows = ctx.limits.utilisation()
    return finite(
        {
            "available": ctx.limits.available(),
            "limit_types": _limit_types(rows),
            "limits": ctx.limits.limits(),
            "utilisation": rows,
            "kill_switches": ctx.limits.switches(),
        }
    )


class LimitChange(_Body):
    soft: Annotated[
        float, Field(allow_inf_nan=False, description="warning threshold, the type's unit")
    ]
    hard: Annotated[float, Field(allow_inf_nan=False, description="breach threshold")]
    enabled: bool = True
    reason: Annotated[str, Field(min_length=1, max_length=500)]


LimitPath = Annotated[str, Path(min_length=1, max_length=128)]


@router.put("/limits/{scope}/{key}/{limit_type}", tags=["limits"])
def set_limit(
    ctx: Ctx,
    who: RiskManager,
    scope: LimitPath,
    key: LimitPath,
    limit_type: LimitPath,
    body: LimitChange,
) -> dict[str, Any]:
    """Create or change a limit — ``scope`` firm, desk, strategy, trader, instrument or
    asset_class; ``key`` its member (``firm`` for the firm); ``limit_type`` one of the
    limits package's types — stored in the reference DB with its audit entry. The
    limits package validates it (0 < soft <= hard, known scope and type: 422 naming the
    field otherwise); the running limits stage checks it from the next snapshot."""
    limit = {"scope": scope, "key": key, "limit_type": limit_type}
    limit |= body.model_dump(exclude={"reason"})
    with ctx.write_lock:
        return ctx.limits.set_limit(who.actor, limit, body.reason)


@router.delete("/limits/{scope}/{key}/{limit_type}", tags=["limits"])
def delete_limit(
    ctx: Ctx,
    who: RiskManager,
    scope: LimitPath,
    key: LimitPath,
    limit_type: LimitPath,
    reason: Annotated[str, Query(min_length=1, max_length=500)],
) -> dict[str, Any]:
    """Remove a stored limit (audited); a reference limit of the same id applies again."""
    with ctx.write_lock:
        return ctx.limits.delete_limit(who.actor, f"{scope}:{key}/{limit_type}", reason)


@router.get("/alerts", tags=["limits"])
def alerts(
    ctx: Ctx, _who: Viewer, since_id: Annotated[int, Query(ge=0)] = 0
) -> list[dict[str, Any]]:
    """Limit alerts from the limits stage's monitor (critical on a breach, warning past
    the soft threshold, info when a limit clears; raised on state changes only, with
    hysteresis), oldest first."""
    return [a.as_dict() for a in ctx.limits.alerts(since_id)]


@router.get("/killswitches", tags=["limits"])
def kill_switches(ctx: Ctx, _who: Viewer) -> list[dict[str, Any]]:
    """Kill-switch states: the global one (``firm:firm``) first, then every scope whose
    switch has moved (``active``, ``reducing``: risk-increasing orders refused,
    ``halted``: all orders refused), with trigger, reason, actor and time."""
    return ctx.limits.switches()


class SwitchEngage(_Body):
    state: Literal["halted", "reducing"] = "halted"
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class SwitchRelease(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


ScopePath = Annotated[
    str, Path(min_length=1, max_length=160, description="firm, or scope:key (desk:Rates)")
]


@router.post("/killswitches/{scope_id}/engage", tags=["limits"])
def engage_switch(
    ctx: Ctx, who: RiskManager, scope_id: ScopePath, body: SwitchEngage
) -> dict[str, Any]:
    """Engage a kill switch by hand (audited); the pipeline refuses orders at once."""
    with ctx.write_lock:
        return ctx.limits.engage(who.actor, scope_id, body.state, body.reason)


@router.post("/killswitches/{scope_id}/release", tags=["limits"])
def release_switch(
    ctx: Ctx, who: RiskManager, scope_id: ScopePath, body: SwitchRelease
) -> dict[str, Any]:
    """Release a kill switch, resuming trading in the scope (audited; 422 when it is not
    engaged)."""
    with ctx.write_lock:
        return ctx.limits.release(who.actor, scope_id, body.reason)


@router.get("/regimes", tags=["regimes"])
def regimes(ctx: Ctx, _who: Viewer) -> dict[str, Any]:
    """The latest regime probabilities (null until the regime stage is wired) and their
    recent history."""
    history = [
        {"ts_ns": r["ts_ns"], "probabilities": r["regime_probabilities"]}
        for r in ctx.feed.history_between()
        if r.get("regime_probabilities")
    ]
    return {"latest": history[-1]["probabilities"] if history else None, "history": history[-600:]}


# ---------------------------------------------------------------- governance


@router.get("/audit", tags=["governance"])
def audit(
    ctx: Ctx,
    _who: Admin,
    since_ns: Annotated[int | None, Query(ge=0)] = None,
    until_ns: Annotated[int | None, Query(ge=0)] = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[dict[str, Any]]:
    """The append-only audit log (who, what, when, before/after), oldest first."""
    return [
        e.as_dict()
        for e in read_audit(
            ctx.db, since_ns=since_ns, until_ns=until_ns, action=action, limit=limit
        )
    ]


class KeyRequest(_Body):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Literal["viewer", "analyst", "risk_manager", "admin"]


@router.get("/keys", tags=["governance"])
def list_keys(ctx: Ctx, _who: Admin) -> list[dict[str, Any]]:
    """API keys (ids, names, roles; never secrets or hashes)."""
    return ctx.keys.list()


@router.post("/keys", tags=["governance"], status_code=201)
def create_key(ctx: Ctx, who: Admin, body: KeyRequest) -> dict[str, str]:
    """Create a key; the response is the only time it is shown."""
    key = ctx.keys.create(body.name, body.role, actor=who)
    return {"name": body.name, "role": body.role, "api_key": key}


@router.delete("/keys/{key_id}", tags=["governance"], status_code=204)
def revoke_key(ctx: Ctx, who: Admin, key_id: str) -> None:
    """Revoke a key (audited)."""
    ctx.keys.revoke(key_id, who)
