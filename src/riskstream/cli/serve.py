"""``riskstream serve`` (the API, stream and dashboard) and ``riskstream keys`` (API keys).

``serve`` runs beside a pipeline that publishes into a shared cache
(``store.cache_url = "redis://..."``): it follows the cache for new snapshots. With the
default in-process cache it serves reference data, positions, limits and the audit log,
and reports risk as unavailable until something publishes. At first start, when no key
exists, it creates an ``admin`` key and prints it once.
"""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn
from rich.console import Console

from riskstream.cli import app, settings

keys_app = typer.Typer(help="Create, list and revoke the service's API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _open(ctx: typer.Context):
    from riskstream.cli.universe import ensure_universe, open_refdb

    cfg = settings(ctx)
    ensure_universe(cfg)
    return cfg, open_refdb(cfg)


@app.command()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Listen address (service.host)."),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help="Listen port (service.port)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML configuration file."),
) -> None:
    """Serve the REST/WebSocket API, the live dashboard at / and /metrics."""
    from riskstream.service import KeyStore, create_app
    from riskstream.service.logs import configure_logging
    from riskstream.service.runner import uvicorn_config
    from riskstream.store.cache import open_cache
    from riskstream.store.market_history import MarketHistory

    if config is not None:
        ctx.find_root().obj = config
    cfg, db = _open(ctx)
    configure_logging(cfg.service.log_json)
    console = Console()
    keys = KeyStore(db)
    if keys.count() == 0:
        key = keys.create("admin", "admin")
        console.print("[bold]No API keys yet: created an admin key (shown once):[/bold]")
        console.print(f"  X-API-Key: {key}")
    follow = not cfg.store.cache_url.startswith("memory://")
    api = create_app(
        cfg.service,
        db,
        cache=open_cache(cfg.store.cache_url),
        follow_cache=follow,
        fx_history=MarketHistory.from_config(cfg.store),
    )
    api.state.settings = cfg  # the portfolio routes value the book as the CLI does
    from riskstream.cli.stress import attach_stress

    attach_stress(api, cfg)

    from riskstream.cli.frtb import book_report
    from riskstream.service import frtb

    frtb.attach(api, lambda: book_report(cfg))  # FRTB SA capital routes, /api/v1/frtb
    scheme = "https" if cfg.service.tls else "http"
    console.print(
        f"Riskstream service on {scheme}://{host or cfg.service.host}:"
        f"{cfg.service.port if port is None else port}/  (API docs at /docs)"
    )
    uvicorn.Server(uvicorn_config(api, cfg.service, host, port)).run()


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Who or what holds the key."),
    role: str = typer.Option("viewer", "--role", help="viewer, analyst, risk_manager or admin."),
) -> None:
    """Create a key and print it (the only time it is shown; it is stored hashed)."""
    from riskstream.service import KeyStore

    _, db = _open(ctx)
    typer.echo(KeyStore(db).create(name, role))


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List keys: id, name, role, revoked (never the secrets)."""
    from riskstream.service import KeyStore

    _, db = _open(ctx)
    for row in KeyStore(db).list():
        typer.echo(
            f"{row['key_id']}  {row['name']:<24} {row['role']:<13} "
            f"{'revoked' if row['revoked'] else 'active'}"
        )
