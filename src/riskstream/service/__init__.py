"""The FastAPI service: REST and WebSocket API, dashboard, metrics and authentication.

Wiring for a pipeline (``riskstream demo``)::

    service = start_service(settings.service, refdb, cache_url=settings.store.cache_url)
    stages.append(ServiceStage(service.feed, risk_stage, md_stage, regime_stage,
                               limits_stage=limits_stage))
    print(service.login_help())       # dashboard URL and one demo key per role, once
    ...
    service.stop()
"""

from riskstream.service.app import create_app
from riskstream.service.auth import KeyStore, Principal, Role
from riskstream.service.cache import RiskCache
from riskstream.service.config import ServiceConfig
from riskstream.service.feed import ServiceStage, SnapshotFeed
from riskstream.service.launch import RunningService, start_service
from riskstream.service.limits import LimitProvider, LimitService
from riskstream.service.runner import ServiceRunner

__all__ = [
    "KeyStore",
    "LimitProvider",
    "LimitService",
    "Principal",
    "RiskCache",
    "Role",
    "RunningService",
    "ServiceConfig",
    "ServiceRunner",
    "ServiceStage",
    "SnapshotFeed",
    "create_app",
    "start_service",
]
