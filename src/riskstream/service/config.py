"""Settings of the service: listening address, TLS, cache freshness, limits shown on the
dashboard until the limits package provides its own, and bounds on position changes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from riskstream.core.config import ConfigModel

PositiveAmount = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class DeskLimits(ConfigModel):
    """Per-desk risk limits in base currency (headline confidence and horizon).

    ``var``, ``es`` and ``lvar`` bound the desk's Euler contribution to the portfolio's
    VaR, ES and L-VaR; ``gross_notional`` bounds the sum of ``|quantity x price x
    multiplier x fx|`` over the desk's positions.

    The defaults suit the generated reference fund ($500M gross over six desks, 99% 1-day
    VaR near $4M, most of it the equity desk's): the equity desk runs at about 75% of each
    limit, the others well inside theirs.
    """

    var: PositiveAmount = 5_000_000.0
    es: PositiveAmount = 6_500_000.0
    lvar: PositiveAmount = 10_000_000.0
    gross_notional: PositiveAmount = 300_000_000.0


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
    warn_utilisation : float
        Utilisation at or above this raises a ``warning`` alert; at or above 1.0 a
        ``breach`` (critical).
    default_limits : DeskLimits
        Limits of every desk not named in ``desk_limits``.
    desk_limits : dict of str to DeskLimits
        Per-desk overrides.
    max_abs_quantity : float
        A position change whose ``|quantity|`` exceeds this is rejected as out of range.
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
    warn_utilisation: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8
    default_limits: DeskLimits = DeskLimits()
    desk_limits: dict[str, DeskLimits] = Field(default_factory=dict)
    max_abs_quantity: PositiveAmount = 1e9
    log_json: bool = True

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceConfig:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile must be set together")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_certfile is not None
