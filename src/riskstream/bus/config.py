"""Settings of the event bus."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from riskstream.core.config import ConfigModel


class BusConfig(ConfigModel):
    """Where event batches travel: ``memory://`` (in process) or ``nats://host:port``.

    ``stream`` names the log: subjects are ``<stream>.events.<partition>`` and, on NATS, each
    partition is its own JetStream stream ``<stream>_<partition>`` (so its sequence numbers
    have no holes; see ``docs/architecture.md``).
    """

    url: str = "memory://"
    stream: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] = "RISKSTREAM"
    partitions: Annotated[int, Field(ge=1, le=1024)] = 4
    dedup_window_s: Annotated[float, Field(gt=0)] = 120.0  # JetStream duplicate window
    max_age_s: Annotated[float, Field(ge=0)] = 86_400.0  # retention of a message; 0 = forever
    ack_wait_s: Annotated[float, Field(gt=0)] = 60.0  # redelivery after this long unacked
    max_payload_bytes: Annotated[int | None, Field(ge=4096)] = None  # default: server's limit
    memory_retain_messages: Annotated[int, Field(ge=1)] = 65_536  # per partition, memory://

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("memory://", "nats://")):
            raise ValueError("a URL starting memory:// or nats://")
        return url
