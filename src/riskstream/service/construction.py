"""Portfolio construction and hedging routes: ``POST /api/v1/portfolio/optimise`` and
``POST /api/v1/portfolio/hedge`` (role analyst and up; ``execute`` needs risk_manager).

Each body takes one of:

* **arrays** — the CLI's file contracts as JSON (:mod:`riskstream.portfolio.requests`, the
  same answers as ``riskstream optimise`` / ``riskstream hedge ratio``): ``prices``
  (``{"asset": [closes oldest first]}``), ``covariance`` (``{"assets": [...], "matrix":
  [[...]]}``) with ``objective: "erc"``, or ``black_litterman`` with ``covariance``; for the
  hedge, ``ratio`` (``spot_change``, ``futures_change``, ``exposure``, ``contract_size``);
* **book** — the served book (the service's positions, marked at the history store's
  closes): trades in lots with costs, risk before/after from the risk engine and the limits'
  pre-trade gate (:mod:`riskstream.construction`, as ``riskstream optimise book`` /
  ``riskstream hedge book``). With ``execute: true`` (risk_manager) the trades the gate
  accepted go to the position keeper, audited with ``reason`` — as ``POST /positions``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from riskstream.core.errors import InputError
from riskstream.service.auth import Principal, Role
from riskstream.service.deps import Ctx, require

router = APIRouter()
Analyst = Annotated[Principal, Depends(require(Role.ANALYST))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Covariance(_Body):
    assets: Annotated[list[str], Field(min_length=1, max_length=5_000)]
    matrix: list[list[float]]


class View(_Body):
    picks: dict[str, float]  # asset -> weight in the view (P's row)
    q: float
    confidence: Annotated[float, Field(gt=0, le=1)] | None = None


class BlackLitterman(_Body):
    market_weights: dict[str, float]
    views: Annotated[list[View], Field(min_length=1)]
    delta: Annotated[float, Field(gt=0)] = 2.5
    tau: Annotated[float, Field(gt=0)] = 0.05


class BookRequest(_Body):
    as_of: str | None = None
    window: Annotated[int, Field(ge=20, le=5_000)] = 250
    max_weight: Annotated[float, Field(gt=0, le=1)] = 1.0
    max_turnover: Annotated[float, Field(gt=0)] | None = None
    book_id: int | None = None
    group_max: dict[str, Annotated[float, Field(gt=0)]] = {}  # e.g. {"sector": 0.3}
    risk: bool = True  # the risk engine's before/after (slower on a large book)


class OptimiseRequest(_Body):
    objective: Literal[
        "max-sharpe", "min-volatility", "erc", "efficient-risk", "efficient-return", "max-utility"
    ] = "max-sharpe"
    prices: dict[str, list[float]] | None = None
    covariance: Covariance | None = None
    black_litterman: BlackLitterman | None = None
    book: BookRequest | None = None
    risk_free: float = 0.0
    max_weight: Annotated[float, Field(gt=0)] = 1.0
    long_short: bool = False
    target_volatility: Annotated[float, Field(gt=0)] | None = None
    target_return: float | None = None
    risk_aversion: Annotated[float, Field(gt=0)] = 1.0
    financing_spread: Annotated[float, Field(ge=0)] = 0.0
    frontier: Annotated[int, Field(ge=0, le=200)] = 20
    execute: bool = False
    reason: Annotated[str, Field(max_length=500)] = ""


class HedgeRatio(_Body):
    spot_change: Annotated[list[float], Field(min_length=3)]
    futures_change: Annotated[list[float], Field(min_length=3)]
    exposure: float
    contract_size: Annotated[float, Field(gt=0)]
    spot_price: Annotated[float, Field(gt=0)] | None = None
    futures_price: Annotated[float, Field(gt=0)] | None = None


class HedgeRequest(_Body):
    ratio: HedgeRatio | None = None
    book: BookRequest | None = None
    hedges: list[Literal["delta", "gamma_vega", "beta", "duration"]] = [
        "delta",
        "beta",
        "duration",
    ]
    index: str = "SPX"
    target_beta: float = 0.0
    execute: bool = False
    reason: Annotated[str, Field(max_length=500)] = ""


def _square(cov: Covariance) -> np.ndarray:
    m = np.asarray(cov.matrix, dtype=np.float64)
    n = len(cov.assets)
    if m.shape != (n, n):
        raise InputError("covariance.matrix", f"shape {m.shape}", f"({n}, {n}) for the assets")
    return m


def _one_of(body: BaseModel, fields: tuple[str, ...]) -> str:
    given = [f for f in fields if getattr(body, f) is not None]
    if len(given) != 1:
        raise InputError("body", given, f"exactly one of {', '.join(fields)}")
    return given[0]


@router.post("/portfolio/optimise", tags=["portfolio"])
def optimise(ctx: Ctx, request: Request, who: Analyst, body: OptimiseRequest) -> dict[str, Any]:
    """Optimal weights (mean-variance, risk parity, Black-Litterman) of given prices or
    covariance, or a rebalance of the served book with costs, risk and the pre-trade gate."""
    from riskstream.portfolio import requests

    # one source: prices, the book, or a covariance (alone for erc, or with black_litterman)
    sources = [body.prices, body.book, body.covariance or body.black_litterman]
    if sum(x is not None for x in sources) != 1:
        raise InputError("body", None, "exactly one of prices, book, covariance")
    if body.black_litterman is not None and body.covariance is None:
        raise InputError("covariance", None, "the covariance of the Black-Litterman assets")
    if body.covariance is not None and body.black_litterman is None:
        if body.objective != "erc":
            raise InputError("objective", body.objective, "erc with a covariance (no returns)")
        assert body.covariance is not None
        return requests.erc_from_covariance(body.covariance.assets, _square(body.covariance))
    if body.black_litterman is not None:
        assert body.covariance is not None
        bl, names = body.black_litterman, body.covariance.assets
        unknown = sorted({a for v in bl.views for a in v.picks} - set(names))
        if unknown or set(bl.market_weights) != set(names):
            raise InputError(
                "black_litterman", unknown or sorted(bl.market_weights), f"the assets {names}"
            )
        picks = np.array([[v.picks.get(a, 0.0) for a in names] for v in bl.views])
        conf = [v.confidence for v in bl.views]
        confidences = None if all(c is None for c in conf) else np.array(conf, dtype=float)
        if confidences is not None and np.isnan(confidences).any():
            raise InputError("views.confidence", conf, "a confidence on every view or none")
        return requests.black_litterman_named(
            names, _square(body.covariance), np.array([bl.market_weights[a] for a in names]),
            picks, np.array([v.q for v in bl.views]), confidences, bl.delta, bl.tau,
        )  # fmt: skip
    if body.prices is not None:
        names = list(body.prices)
        lengths = {len(v) for v in body.prices.values()}
        if len(lengths) != 1:
            raise InputError("prices", sorted(lengths), "the same number of closes per asset")
        px = np.array([body.prices[a] for a in names], dtype=np.float64).T
        return requests.optimise_prices(
            names, px, body.objective, body.risk_free, body.max_weight, body.long_short,
            body.target_volatility, body.target_return, body.risk_aversion,
            body.financing_spread, body.frontier,
        )  # fmt: skip
    from riskstream.construction import run_optimise_book

    assert body.book is not None
    if body.objective not in ("max-sharpe", "min-volatility", "erc", "max-utility"):
        raise InputError(
            "objective", body.objective, "max-sharpe, min-volatility, erc, max-utility"
        )
    s, book, history, board, limits = _served_book(ctx, request, body.book)
    out = run_optimise_book(
        book, s, history, board, limits, body.objective.replace("-", "_"), body.book.window,
        body.book.max_weight, body.book.max_turnover, body.book.book_id, body.book.risk,
        body.book.group_max,
    )  # fmt: skip
    return _maybe_execute(ctx, request, out, body.execute, body.reason)


@router.post("/portfolio/hedge", tags=["portfolio"])
def hedge(ctx: Ctx, request: Request, who: Analyst, body: HedgeRequest) -> dict[str, Any]:
    """A minimum-variance hedge ratio of given changes, or the served book's delta, beta and
    duration hedges with costs, risk after each hedge and the pre-trade gate."""
    from riskstream.portfolio import requests

    _one_of(body, ("ratio", "book"))
    if body.ratio is not None:
        r = body.ratio
        if len(r.spot_change) != len(r.futures_change):
            raise InputError("ratio.futures_change", len(r.futures_change), "one per spot change")
        return requests.hedge_ratio(
            np.array(r.spot_change), np.array(r.futures_change), r.exposure, r.contract_size,
            r.spot_price, r.futures_price,
        )  # fmt: skip
    from riskstream.construction import run_hedge_book

    assert body.book is not None
    s, book, history, board, limits = _served_book(ctx, request, body.book)
    out = run_hedge_book(
        book, s, history, board, limits, tuple(body.hedges), body.index, body.target_beta,
        body.book.book_id, body.book.risk,
    )  # fmt: skip
    return _maybe_execute(ctx, request, out, body.execute, body.reason)


def _served_book(ctx: Ctx, request: Request, req: BookRequest) -> tuple[Any, ...]:
    """Settings, the served book marked at the history store's closes, the history, the
    kill-switch board and the limits in force."""
    import datetime as dt

    from riskstream.cli.engine import book_as_of
    from riskstream.construction import mark_book
    from riskstream.limits.killswitch import KillSwitchBoard
    from riskstream.limits.model import LimitDefinition
    from riskstream.risk.factor_history import MarketHistoryFrames

    store = getattr(request.app.state, "fx_history", None)
    if store is None:
        raise HTTPException(503, "no history store attached to the service (riskstream serve)")
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        from riskstream.settings import Settings

        settings = Settings()
    history = MarketHistoryFrames(store.prices(), store.curves(), store.vols(), str(store.root))
    universe = ctx.portfolio.universe
    if req.as_of is None:
        day = book_as_of(universe, history)
    else:
        try:
            day = dt.date.fromisoformat(req.as_of)
        except ValueError:
            raise InputError("book.as_of", req.as_of, "a date as YYYY-MM-DD") from None
    book = mark_book(universe, history, day, settings.risk.dividend_yield)
    switch_store = getattr(ctx.limits, "store", None)
    if switch_store is None:
        raise HTTPException(503, "the limits provider has no kill-switch store to gate trades")
    limits = [LimitDefinition.from_dict(row) for row in ctx.limits.limits()]
    return settings, book, history, KillSwitchBoard(switch_store), limits


def _maybe_execute(
    ctx: Ctx, request: Request, out: dict[str, Any], execute: bool, reason: str
) -> dict[str, Any]:
    """Send the accepted trades to the position keeper (risk_manager; audited)."""
    out["executed"] = None
    if not execute:
        return out
    principal = require(Role.RISK_MANAGER)(request, request.headers.get("X-API-Key"))
    if not reason.strip():
        raise InputError("reason", reason, "a reason for executing the trades (audited)")
    # one change per (book, instrument): two hedges may trade the same position
    target: dict[tuple[int, int], float] = {}
    for t in out["accepted"]:
        key = (int(t["book_id"]), int(t["instrument_id"]))
        target[key] = target.get(key, float(t["position_before"])) + float(t["quantity"])
    changes = [(b, i, q) for (b, i), q in target.items()]
    if not changes:
        out["executed"] = {"changed": 0, "version": None}
        return out
    answer = ctx.positions.request(
        changes,
        actor=principal.name,
        role=principal.role.label,
        reason=reason,
        ts_ns=ctx.clock.now_ns(),
    )
    if not answer.ok:
        raise InputError(answer.field, answer.error, "a change the position keeper accepts")
    out["executed"] = {"changed": len(answer.changes), "version": answer.version}
    return out
