"""The ``[fx]`` settings: a source overridden in part keeps its other defaults, and the
access key never shows in a repr, a dump or the settings fingerprint."""

from __future__ import annotations

import pytest

from riskstream.core.config import load_config
from riskstream.core.errors import ConfigError
from riskstream.settings import Settings


def test_one_environment_variable_overrides_one_source_field() -> None:
    env = {
        "RISKSTREAM_FX__ECB__URL": "http://127.0.0.1:9/ecb",
        "RISKSTREAM_FX__EXCHANGERATE_HOST_ACCESS_KEY": "secret-key-123",
    }
    settings = load_config(Settings, env=env)
    assert settings.fx.ecb.url == "http://127.0.0.1:9/ecb"
    assert settings.fx.ecb.quality == 1.0 and settings.fx.frankfurter.quality == 0.8
    assert settings.fx.exchangerate_host_access_key.get_secret_value() == "secret-key-123"
    shown = repr(settings) + settings.model_dump_json() + settings.fingerprint()
    assert "secret-key-123" not in shown
    assert settings.fingerprint() == load_config(Settings, env={
        **env, "RISKSTREAM_FX__EXCHANGERATE_HOST_ACCESS_KEY": "another"
    }).fingerprint()  # fmt: skip


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [
        ("RISKSTREAM_FX__BASE", "usd", "fx.base"),
        ("RISKSTREAM_FX__OPEN_ER_API__URL", "ftp://x", "fx.open_er_api.url"),
        ("RISKSTREAM_FX__OUTLIER_PCT", "0", "fx.outlier_pct"),
    ],
)
def test_a_bad_setting_is_named(var: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(Settings, env={var: value})
