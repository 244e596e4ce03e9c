"""Settings of the event bus."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from riskstream.core.config import ConfigModel


class BusConfig(ConfigModel):
    """Where event batches travel: ``memory://`` (in process) or ``nats://host:port``."""

    url: str = "memory://"
    stream: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] = "RISKSTREAM"
    partitions: Annotated[int, Field(ge=1, le=1024)] = 4

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("memory://", "nats://")):
            raise ValueError("a URL starting memory:// or nats://")
        return url
