"""Stress routes (``/api/v1/stress``): the latest stress results, refreshed on a schedule and
on demand, and the scenario library (analyst role and up).

The service does not build books itself: :func:`attach` takes a ``runner`` — a callable
returning a :class:`riskstream.stress.run.StressRun` of the book in force (``riskstream
serve`` passes one that marks the stored book as ``riskstream stress run`` does) — and a
:class:`~riskstream.stress.run.ResultStore` where every run is kept with its lineage.

**Schedule.** The latest result is recomputed when it is older than ``refresh_s`` (5
minutes by default): a read of ``/stress/latest`` finding it stale starts one run in the
background and answers with the result in hand (``refreshing: true``); the dashboard
panel polls at that cadence. ``POST /stress/run`` runs at once (on demand) and answers
with the new result. One run at a time. Every app has the routes
(:func:`include`); until a service is attached they answer ``configured: false``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from riskstream.core.clock import Clock, SystemClock
from riskstream.service.auth import Principal, Role
from riskstream.service.deps import document_roles, require
from riskstream.stress.run import ResultStore, StressRun

router = APIRouter()
Analyst = Annotated[Principal, Depends(require(Role.ANALYST))]
DEFAULT_REFRESH_S = 300.0


class StressService:
    """Runs, stores and serves stress results (see the module docstring).

    Parameters
    ----------
    runner : callable
        Returns a :class:`StressRun` of the book in force.
    store : ResultStore
    refresh_s : float
        Age after which the latest result is recomputed.
    clock : Clock, optional
    """

    def __init__(
        self,
        runner: Callable[[], StressRun],
        store: ResultStore,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Clock | None = None,
    ) -> None:
        self.runner = runner
        self.store = store
        self.refresh_s = float(refresh_s)
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.now_ns() / 1e9, tz=dt.UTC)

    def run_now(self) -> dict[str, Any]:
        """Run the scenarios now, store and return the result (waits for a run under way)."""
        with self._lock:
            try:
                run = self.runner()
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                raise
            self.last_error = None
            self.store.save(run, self._now())
        latest = self.store.latest()
        assert latest is not None
        return latest

    def age_s(self, latest: dict[str, Any] | None) -> float | None:
        if latest is None:
            return None
        stored = dt.datetime.fromisoformat(latest["stored_at"])
        return (self._now() - stored).total_seconds()

    def latest(self) -> dict[str, Any]:
        """The latest stored result, starting a background refresh when it is stale."""
        latest = self.store.latest()
        age = self.age_s(latest)
        with self._start_lock:  # one background run, however many readers find it stale
            refreshing = self._thread is not None and self._thread.is_alive()
            if (age is None or age >= self.refresh_s) and not refreshing:
                self._thread = threading.Thread(target=self._refresh, daemon=True)
                self._thread.start()
                refreshing = True
        return {
            "result": latest,
            "age_s": age,
            "refresh_s": self.refresh_s,
            "refreshing": refreshing,
            "last_error": self.last_error,
        }

    def _refresh(self) -> None:
        with contextlib.suppress(Exception):  # kept in last_error, shown by the panel
            self.run_now()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background refresh (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)


def service_of(request: Request) -> StressService | None:
    """The app's stress service, None when none is attached (the routes then answer
    ``configured: false``, so the dashboard's panel says so without a failed request)."""
    return getattr(request.app.state, "stress", None)


Service = Annotated[StressService | None, Depends(service_of)]
NOT_CONFIGURED = {"configured": False, "result": None, "refresh_s": DEFAULT_REFRESH_S}


def _summary(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The result without the per-factor mappings (the panel's payload)."""
    if result is None:
        return None
    out = dict(result)
    out["scenarios"] = [
        {k: v for k, v in s.items() if k != "mapping"} for s in result.get("scenarios", [])
    ]
    return out


@router.get("/stress/latest", tags=["stress"])
def latest(service: Service, _who: Analyst, mapping: bool = False) -> dict[str, Any]:
    """The latest stress results (P&L per scenario by asset class, desk and factor, top
    positions, lineage), recomputed in the background when older than ``refresh_s``."""
    if service is None:
        return dict(NOT_CONFIGURED)
    out = {"configured": True, **service.latest()}
    if not mapping:
        out["result"] = _summary(out["result"])
    return out


@router.post("/stress/run", tags=["stress"])
def run(service: Service, _who: Analyst) -> dict[str, Any]:
    """Run every scenario now (on demand) and return the stored result."""
    if service is None:
        raise HTTPException(503, "stress testing is not configured on this service")
    return {
        "configured": True,
        "result": _summary(service.run_now()),
        "age_s": 0.0,
        "refresh_s": service.refresh_s,
        "refreshing": False,
    }


@router.get("/stress/scenarios", tags=["stress"])
def scenarios(_who: Analyst) -> dict[str, Any]:
    """The packaged scenarios: name, kind, version, source, description."""
    from riskstream.stress.library import scenario_list

    return {"scenarios": scenario_list()}


def include(app: FastAPI) -> None:
    """Add the ``/api/v1/stress`` routes (the service creates every app with them; they
    answer ``configured: false`` until :func:`attach` gives them a service)."""
    document_roles(router)
    app.include_router(router, prefix="/api/v1")


def attach(app: FastAPI, service: StressService) -> None:
    """Serve ``/api/v1/stress`` from ``service`` (the routes are included if not yet)."""
    app.state.stress = service
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/stress/latest" not in paths:
        include(app)
