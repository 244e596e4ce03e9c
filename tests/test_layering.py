"""The package layering of docs/architecture.md holds: no package imports one downstream of it.

Data flows one way (feeds → bus → md → risk → limits → service); a package may import only
the packages listed for it here, so, e.g., ``md`` never reaches into ``risk``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "riskstream"

ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "pricing": {"core"},
    "bus": {"core"},
    "feeds": {"core", "bus", "pricing"},
    "md": {"core"},
    "store": {"core"},
    "models": {"core"},
    "risk": {"core", "pricing", "models"},
    "regime": {"core", "models"},
    "positions": {"core", "store"},
    "limits": {"core", "risk", "pricing", "models"},
    "portfolio": {"core", "risk", "models", "pricing", "regime"},
    "stress": {"core", "risk", "pricing", "models"},
    "backtest": {"core", "risk", "models", "pricing"},
    "regulatory": {"core", "risk", "store", "pricing", "models", "backtest"},
    # surveillance reads the L3 book with md's kernels (the market-abuse detectors)
    "surveillance": {"core", "store", "md"},
}


def _riskstream_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "riskstream" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_upstream(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    offending = {
        str(path.relative_to(SRC)): sorted(_riskstream_imports(path) - allowed)
        for path in (SRC / package).rglob("*.py")
    }
    offending = {file: bad for file, bad in offending.items() if bad}
    assert not offending, f"{package} imports packages downstream of it: {offending}"
