"""Settings of the service: listening address, TLS, cache freshness and bounds on position
changes (limits and their thresholds belong to ``riskstream.limits``: ``[limits]`` and the
reference DB)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from riskstream.core.config import ConfigModel

PositiveAmount = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class ServiceConfig(ConfigModel):
    """The ``[service]`` table.

    Attributes
    ----------
    host, port : str, int
        Where ``riskstream serve`` (and the demo) listen.
    tls_certfile, tls_keyfile : Path, optional
        PEM certificate chain and private key; both set turns HTTPS (and WSS) on.
    snapshot_ttl_s : float
        The cached latest snapshot expires after this long (then the API answers 503).
    stale_after_s : float
        A cached snapshot older than this (wall clock since it was published) is served
        flagged ``stale: true``, never as current.
    history_size : int
        Snapshots kept in memory for ``/api/v1/risk/history`` and the dashboard's charts.
    push_interval_ms : int
        The WebSocket pushes the latest state this often (a heartbeat when nothing changed).
    max_abs_quantity : float
        A position change whose ``|quantity|`` exceeds this is rejected as out of range.
    position_reply_timeout_s : float
        How long a position change waits for the position keeper's answer (then 503).
    log_json : bool
        Structured (one JSON object per line) logs; plain text otherwise.
    """

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8765
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    snapshot_ttl_s: PositiveAmount = 300.0
    stale_after_s: PositiveAmount = 5.0
    history_size: Annotated[int, Field(ge=10, le=1_000_000)] = 3600
    push_interval_ms: Annotated[int, Field(ge=50, le=1000)] = 250
    max_abs_quantity: PositiveAmount = 1e9
    position_reply_timeout_s: PositiveAmount = 5.0
    log_json: bool = True

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceConfig:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile must be set together")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_certfile is not None
