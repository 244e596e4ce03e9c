"""Run the service in a background thread (``riskstream demo``, tests) or in the
foreground (``riskstream serve``), with optional TLS."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from riskstream.core.errors import ServiceUnavailableError
from riskstream.service.config import ServiceConfig


def uvicorn_config(
    app: FastAPI, config: ServiceConfig, host: str | None = None, port: int | None = None
) -> uvicorn.Config:
    """Uvicorn settings: our structured logging (no access log: the app logs requests
    without secrets), TLS when ``tls_certfile``/``tls_keyfile`` are set."""
    return uvicorn.Config(
        app,
        host=host or config.host,
        port=config.port if port is None else port,
        log_config=None,
        access_log=False,
        ssl_certfile=str(config.tls_certfile) if config.tls_certfile else None,
        ssl_keyfile=str(config.tls_keyfile) if config.tls_keyfile else None,
        ws_ping_interval=20.0,
        timeout_graceful_shutdown=2,
    )


class ServiceRunner:
    """The service on a background thread.

    Example
    -------
    >>> runner = ServiceRunner(app, config).start()   # doctest: +SKIP
    >>> print(runner.url)                              # doctest: +SKIP
    >>> runner.stop()                                  # doctest: +SKIP
    """

    def __init__(
        self, app: FastAPI, config: ServiceConfig, host: str | None = None, port: int | None = None
    ):
        self.config = config
        self.server = uvicorn.Server(uvicorn_config(app, config, host, port))
        self.thread = threading.Thread(
            target=self.server.run, name="riskstream-service", daemon=True
        )

    @property
    def url(self) -> str:
        """The base URL (the dashboard)."""
        scheme = "https" if self.config.tls else "http"
        host = self.server.config.host
        port = (
            self.server.servers[0].sockets[0].getsockname()[1]
            if self.server.servers
            else self.server.config.port
        )
        return f"{scheme}://{host}:{port}"

    def start(self, timeout_s: float = 15.0) -> ServiceRunner:
        """Start serving; returns once the socket listens.

        Raises
        ------
        ServiceUnavailableError
            The server did not come up (port taken, bad certificate).
        """
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServiceUnavailableError(
                    f"service did not start on {self.server.config.host}:{self.server.config.port}"
                )
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)
