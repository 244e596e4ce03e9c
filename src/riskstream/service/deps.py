"""The route dependencies: the request's :class:`ServiceContext` and the caller's principal.

Routes (:mod:`riskstream.service.api`, :mod:`riskstream.service.stream`) declare what they
need through these; the application (:mod:`riskstream.service.app`) stores the context on
``app.state``. Keeping them here, not in ``app``, means ``api`` never imports ``app`` (the
import circle ``api`` ↔ ``app`` is gone; FastAPI's own advice: dependencies in a module of
their own).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from riskstream.service.auth import Principal, Role
from riskstream.service.context import ServiceContext

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key (`rsk_<id>_<secret>`); see `riskstream keys create`.",
)


def context(request: Request) -> ServiceContext:
    """The service's shared state (config, reference DB, keeper client, feed ...)."""
    return request.app.state.ctx


def require(role: Role):
    """Dependency: the caller's principal, which must hold at least ``role``
    (401 without a valid key, 403 with a key whose role is too low)."""

    def dependency(request: Request, key: str | None = Depends(api_key_header)) -> Principal:
        principal = request.app.state.ctx.keys.authenticate(key)
        if principal is None:
            raise HTTPException(
                401,
                "missing or invalid API key: send it in the X-API-Key header",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        if not principal.allows(role):
            raise HTTPException(
                403, f"role {principal.role.label} may not do this; needs {role.label}"
            )
        request.state.principal = principal
        return principal

    dependency.required_role = role  # read by document_roles
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Analyst = Annotated[Principal, Depends(require(Role.ANALYST))]
Compliance = Annotated[Principal, Depends(require(Role.COMPLIANCE))]
RiskManager = Annotated[Principal, Depends(require(Role.RISK_MANAGER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Ctx = Annotated[ServiceContext, Depends(context)]


def document_roles(router: Any) -> None:
    """Append each route's least role to its OpenAPI description (shown at ``/docs``);
    idempotent (the routers are module-level, shared by every app)."""
    from fastapi.routing import APIRoute

    def roles(dependant: Any) -> list[Role]:
        found = [getattr(dependant.call, "required_role", None)]
        for sub in dependant.dependencies:
            found += roles(sub)
        return [r for r in found if r is not None]

    for route in router.routes:
        if not isinstance(route, APIRoute) or "Requires the **" in (route.description or ""):
            continue
        if needed := roles(route.dependant):
            role = max(needed)
            route.description = (
                f"{route.description}\n\nRequires the **{role.label}** role or higher."
            ).strip()
