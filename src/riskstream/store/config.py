"""Settings of the stores: reference database, history tables, cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from riskstream.core.config import ConfigModel


class StoreConfig(ConfigModel):
    """Where data lives. Defaults are embedded: a SQLite file, local Delta tables, an
    in-process cache, all under ``data_dir``."""

    data_dir: Path = Path(".riskstream")
    refdb_url: str | None = None  # default: sqlite:///<data_dir>/refdata.db; or postgresql://...
    history_uri: str | None = None  # default: <data_dir>/history (a folder of Delta tables)
    cache_url: str = "memory://"  # or redis://host:port/db
    history_flush_rows: Annotated[int, Field(ge=1)] = 1_000_000  # events buffered per write
    history_retention_hours: Annotated[int, Field(ge=0)] = 168  # vacuum: time travel window
    cache_ttl_s: Annotated[float, Field(gt=0)] = 60.0  # online features expire after this

    @field_validator("cache_url")
    @classmethod
    def _known_cache(cls, url: str) -> str:
        if not url.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("a URL starting memory://, redis:// or rediss://")
        return url

    @property
    def refdb(self) -> str:
        """The reference database's SQLAlchemy URL."""
        return self.refdb_url or f"sqlite:///{self.data_dir / 'refdata.db'}"

    @property
    def history(self) -> str:
        """The root of the history store's Delta tables."""
        return self.history_uri or str(self.data_dir / "history")
