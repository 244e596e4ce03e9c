"""The demo's cached regime model: trained when missing, trained again when an earlier
release saved it (its file version is refused by this one), never overwritten when the
file is not a regime model at all."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from riskstream.cli import regime as cli_regime
from riskstream.core.errors import InputError
from riskstream.regime.io import FORMAT, VERSION
from riskstream.settings import Settings


def _settings(path: Path) -> Settings:
    return Settings.model_validate({"regime": {"model_path": str(path)}})


def _fits(monkeypatch) -> list[Path]:
    calls: list[Path] = []
    monkeypatch.setattr(
        cli_regime, "fit_demo_model", lambda cfg, u, s, minutes, speed, path: calls.append(path)
    )
    return calls


def _model_file(path: Path, header: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(header))
    return path


def test_a_model_of_an_earlier_release_is_trained_again(tmp_path: Path, monkeypatch) -> None:
    calls = _fits(monkeypatch)
    path = _model_file(tmp_path / "regime.model", {"format": FORMAT, "version": VERSION - 1})
    said: list[str] = []
    cli_regime.ensure_demo_model(_settings(path), None, None, said.append)
    assert calls == [path] and "another release" in said[0]


def test_a_current_model_is_kept_and_a_missing_one_trained(tmp_path: Path, monkeypatch) -> None:
    calls = _fits(monkeypatch)
    current = _model_file(tmp_path / "a.model", {"format": FORMAT, "version": VERSION})
    cli_regime.ensure_demo_model(_settings(current), None, None, lambda _: None)
    assert calls == []
    missing = tmp_path / "b.model"
    cli_regime.ensure_demo_model(_settings(missing), None, None, lambda _: None)
    assert calls == [missing]


def test_a_file_that_is_not_a_regime_model_is_never_overwritten(
    tmp_path: Path, monkeypatch
) -> None:
    calls = _fits(monkeypatch)
    path = tmp_path / "mine.model"
    path.write_text("my notes")
    with pytest.raises(InputError, match="model"):
        cli_regime.ensure_demo_model(_settings(path), None, None, lambda _: None)
    assert calls == [] and path.read_text() == "my notes"
