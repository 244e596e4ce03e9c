"""Configuration machinery: one TOML file plus ``RISKSTREAM_*`` environment overrides.

Each package owns a frozen ``<Package>Config`` (a :class:`ConfigModel`) with every setting
defaulted and units in field names (``window_s``, ``horizon_days``). The application's
:class:`riskstream.settings.Settings` composes them, one TOML table per package::

    [bus]
    url = "nats://127.0.0.1:4222"

An environment variable overrides one setting: ``RISKSTREAM_<TABLE>__<FIELD>``, e.g.
``RISKSTREAM_BUS__URL=memory://``. ``RISKSTREAM_CONFIG`` names the TOML file. Values are
validated once, at load; an invalid one raises :class:`ConfigError` naming the setting, the
value and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from riskstream.core.errors import ConfigError

ENV_PREFIX = "RISKSTREAM_"
CONFIG_PATH_ENV = "RISKSTREAM_CONFIG"


class ConfigModel(BaseModel):
    """Base of every config object: frozen, keyword-only, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def fingerprint(self) -> str:
        """A stable hash of the settings, recorded in every risk snapshot (BCBS 239 lineage)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


C = TypeVar("C", bound=ConfigModel)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict from ``RISKSTREAM_A__B=v`` variables (``a.b = v``)."""
    tree: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == CONFIG_PATH_ENV:
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        if len(path) < 2 or not all(path):
            continue  # RISKSTREAM_REQUIRE_SERVICES and friends are not settings
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {key} conflicts with another override")
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _describe(error: dict[str, Any]) -> str:
    setting = ".".join(str(p) for p in error["loc"]) or "(root)"
    if error["type"] == "extra_forbidden":
        return f"setting '{setting}' is unknown; remove it or check its spelling"
    if error["type"] == "missing":
        return f"setting '{setting}' is required"
    return f"setting '{setting}' has value {error.get('input')!r}; expected {error['msg'].lower()}"


def load_config(
    model: type[C],
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> C:
    """Load ``model`` from a TOML file and environment overrides.

    Parameters
    ----------
    model : type of ConfigModel
        The settings class to build.
    path : str or Path, optional
        The TOML file. Defaults to ``$RISKSTREAM_CONFIG``; without either, only defaults and
        environment overrides apply.
    env : mapping, optional
        Environment to read overrides from (default ``os.environ``), passed in by tests.

    Raises
    ------
    ConfigError
        The file is missing or not valid TOML, or a setting is invalid: the message names the
        setting, the value and what was expected, one line per problem.
    """
    env = os.environ if env is None else env
    path = path if path is not None else env.get(CONFIG_PATH_ENV)
    data: dict[str, Any] = {}
    if path:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    data = _merge(data, _env_overrides(env))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        source = f" (from {path})" if path else ""
        problems = "\n".join(f"  {_describe(e)}" for e in exc.errors())
        raise ConfigError(f"invalid configuration{source}:\n{problems}") from None
