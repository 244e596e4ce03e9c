"""Every setting is read by something: a config field nothing reads is a promise the code
does not keep (issue 12, part 7).

A static check over the source tree's syntax (not its text, so docstrings and comments do
not count): a field ``f`` of a ``*Config`` model counts as read when the code outside the
config modules accesses an attribute ``.f`` or uses the string ``"f"`` (``getattr``,
``model_dump`` keys). Properties defined in a config module (``StoreConfig.history`` reads
``history_uri``) are consumers too. Limitation, stated honestly: the check is by name, so a
field sharing its name with another config's read field (``seed``) passes on that read.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from pathlib import Path

import pytest

import riskstream
from riskstream.core.config import ConfigModel

SRC = Path(riskstream.__file__).parent
CONFIG_FILES = {"config.py", "settings.py"}


def _config_classes() -> list[type[ConfigModel]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name not in CONFIG_FILES:
            continue
        module = importlib.import_module(
            ".".join(("riskstream", *path.relative_to(SRC).with_suffix("").parts))
        )
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, ConfigModel)
                and obj is not ConfigModel
                and obj.__module__ == module.__name__
            ):
                out.append(obj)
    return out


def _is_property(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
    )


@functools.cache
def _names_read() -> frozenset[str]:
    """Attribute names accessed and string constants used in the non-config source, plus
    those inside config modules' properties."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        roots = (
            [n for n in ast.walk(tree) if _is_property(n)] if path.name in CONFIG_FILES else [tree]
        )
        for root in roots:
            docstrings = {
                id(n.body[0].value)
                for n in ast.walk(root)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                and n.body
                and isinstance(n.body[0], ast.Expr)
                and isinstance(n.body[0].value, ast.Constant)
            }
            for node in ast.walk(root):
                if isinstance(node, ast.Attribute):
                    names.add(node.attr)
                elif (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and id(node) not in docstrings
                ):
                    names.add(node.value)
    return frozenset(names)


CLASSES = _config_classes()


def test_the_check_finds_the_config_models() -> None:
    found = {c.__name__ for c in CLASSES}
    assert {"ModelsConfig", "LimitsConfig", "PricingConfig", "RiskConfig", "Settings"} <= found


@pytest.mark.parametrize("config", CLASSES, ids=lambda c: c.__name__)
def test_every_setting_is_read(config: type[ConfigModel]) -> None:
    read = _names_read()
    unused = [f for f in config.model_fields if f not in read]
    assert not unused, f"{config.__name__} fields nothing reads: {unused}; wire them or delete them"


def test_the_check_would_catch_an_unused_field() -> None:
    """The check is not vacuous: a made-up field name is not found in the source."""
    assert "reduction_max_rounds_never_read" not in _names_read()
