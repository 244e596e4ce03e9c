"""The FastAPI service: REST and WebSocket API, dashboard, metrics and authentication.

Wiring for a pipeline (``riskstream demo``)::

    app = create_app(settings.service, refdb, cache=open_cache(settings.store.cache_url))
    feed = app.state.ctx.feed                 # SnapshotFeed
    stages.append(ServiceStage(feed, risk_stage, md_stage))
    runner = ServiceRunner(app, settings.service).start()
    print(runner.url)
"""

from riskstream.service.app import create_app
from riskstream.service.auth import KeyStore, Principal, Role
from riskstream.service.cache import RiskCache
from riskstream.service.config import DeskLimits, ServiceConfig
from riskstream.service.feed import ServiceStage, SnapshotFeed
from riskstream.service.limits import Alert, DeskLimitMonitor, LimitProvider, Utilisation
from riskstream.service.runner import ServiceRunner

__all__ = [
    "Alert",
    "DeskLimitMonitor",
    "DeskLimits",
    "KeyStore",
    "LimitProvider",
    "Principal",
    "RiskCache",
    "Role",
    "ServiceConfig",
    "ServiceRunner",
    "ServiceStage",
    "SnapshotFeed",
    "Utilisation",
    "create_app",
    "demo_keys",
]


def demo_keys(keys: KeyStore) -> dict[str, str]:
    """Create one key per role for a demo session (``demo-<role>-<n>``); returned once,
    to print — they are stored hashed."""
    import secrets

    tag = secrets.token_hex(2)
    return {r.label: keys.create(f"demo-{r.label}-{tag}", r) for r in Role}
