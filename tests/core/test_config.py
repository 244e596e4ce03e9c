"""Configuration: TOML file, RISKSTREAM_* environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskstream.core.config import load_config
from riskstream.core.errors import ConfigError
from riskstream.settings import Settings


def test_every_setting_has_a_default_on_embedded_backends() -> None:
    settings = load_config(Settings, env={})
    assert settings.bus.url == "memory://"
    assert settings.store.cache_url == "memory://"
    assert settings.store.refdb.startswith("sqlite:///")


def test_file_then_environment_override(tmp_path: Path) -> None:
    file = tmp_path / "riskstream.toml"
    file.write_text('[bus]\nurl = "nats://127.0.0.1:4222"\npartitions = 8\n')
    settings = load_config(Settings, file, env={"RISKSTREAM_BUS__PARTITIONS": "16"})
    assert settings.bus.url == "nats://127.0.0.1:4222"
    assert settings.bus.partitions == 16  # environment beats file


def test_config_path_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text("[universe]\ninstruments = 500\n")
    settings = load_config(Settings, env={"RISKSTREAM_CONFIG": str(file)})
    assert settings.universe.instruments == 500


def test_unrelated_riskstream_variables_are_not_settings() -> None:
    load_config(Settings, env={"RISKSTREAM_REQUIRE_SERVICES": "1"})


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"RISKSTREAM_BUS__URL": "kafka://x"}, ["bus.url", "'kafka://x'", "memory:// or nats://"]),
        ({"RISKSTREAM_BUS__PARTITIONS": "0"}, ["bus.partitions", "'0'", "greater than or equal"]),
        ({"RISKSTREAM_UNIVERSE__SEED": "seven"}, ["universe.seed", "'seven'", "integer"]),
        ({"RISKSTREAM_BUS__TYPO": "1"}, ["bus.typo", "unknown"]),
    ],
)
def test_invalid_setting_names_setting_value_and_expectation(
    env: dict[str, str], fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(Settings, env=env)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Settings, tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[bus\nurl=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(Settings, bad, env={})


def test_settings_are_frozen_and_fingerprinted() -> None:
    a = load_config(Settings, env={})
    b = load_config(Settings, env={"RISKSTREAM_BUS__PARTITIONS": "9"})
    with pytest.raises(ValueError, match="frozen"):
        a.bus.url = "nats://x"  # type: ignore[misc]
    assert a.fingerprint() == load_config(Settings, env={}).fingerprint()
    assert a.fingerprint() != b.fingerprint()
