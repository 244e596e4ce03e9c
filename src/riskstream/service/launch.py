"""Start the service beside a running pipeline (``riskstream demo``).

:func:`start_service` opens the service on the configured address in a background thread,
creates one demo key per role (printed once by the caller, stored hashed) and returns a
:class:`RunningService` whose ``feed`` the pipeline pushes into — usually through
``ServiceStage(running.feed, risk_stage, md_stage)`` appended to the stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from riskstream.bus.topics import Topics
from riskstream.service.app import create_app
from riskstream.service.auth import Role
from riskstream.service.config import ServiceConfig
from riskstream.service.feed import SnapshotFeed
from riskstream.service.runner import ServiceRunner
from riskstream.store.cache import Cache, open_cache
from riskstream.store.market_history import MarketHistory
from riskstream.store.refdb import RefDB


@dataclass
class RunningService:
    """A service serving on a background thread."""

    app: FastAPI
    runner: ServiceRunner
    keys: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return self.runner.url

    @property
    def feed(self) -> SnapshotFeed:
        return self.app.state.ctx.feed

    def login_help(self) -> str:
        """What to print for the user: the dashboard URL and how to sign in (the keys are
        shown here once; they are stored hashed)."""
        lines = [
            f"Dashboard: {self.url}/   API reference: {self.url}/docs   "
            f"Metrics: {self.url}/metrics",
            "Sign in with one of these API keys (send as X-API-Key for the REST API):",
        ]
        lines += [f"  {role:<13} {key}" for role, key in self.keys.items()]
        return "\n".join(lines)

    def stop(self) -> None:
        self.runner.stop()


def start_service(
    config: ServiceConfig,
    db: RefDB,
    *,
    cache_url: str = "memory://",
    cache: Cache | None = None,
    host: str | None = None,
    port: int | None = None,
    demo_keys: bool = True,
    topics: Topics | None = None,
    fx_history: MarketHistory | None = None,
) -> RunningService:
    """Serve ``db``'s universe with a feed for the pipeline to push into.

    Parameters
    ----------
    config : ServiceConfig
    db : RefDB
        Migrated, holding the universe the pipeline runs on.
    cache_url : str
        Risk cache backend when ``cache`` is not given (``memory://`` or ``redis://``).
    host, port : optional
        Override ``config.host``/``config.port`` (port 0: any free port).
    demo_keys : bool
        Create one key per role for this session (names ``demo-<role>-<tag>``).
    topics : Topics, optional
        The pipeline's topics, where its position keeper runs (see :func:`create_app`).
    fx_history : MarketHistory, optional
        Serve the aggregated FX rates from this history store (``/api/v1/fx``).
    """
    app = create_app(
        config,
        db,
        cache=cache if cache is not None else open_cache(cache_url),
        topics=topics,
        fx_history=fx_history,
    )
    keys: dict[str, str] = {}
    if demo_keys:
        import secrets

        tag = secrets.token_hex(2)
        store = app.state.ctx.keys
        keys = {r.label: store.create(f"demo-{r.label}-{tag}", r) for r in Role}
    runner = ServiceRunner(app, config, host=host, port=port).start()
    return RunningService(app, runner, keys)
