"""What numba has compiled in this process: for tests that a warm-up leaves nothing to
compile on a live path (run them in a fresh process, so no other test's compilation
counts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def compiled_signatures() -> dict[str, int]:
    """Every numba kernel of riskstream imported so far, with its compiled signatures."""
    from numba.core.registry import CPUDispatcher

    return {
        f"{name}.{attr}": len(value.signatures)
        for name, module in list(sys.modules.items())
        if name.startswith("riskstream")
        for attr, value in list(vars(module).items())
        if isinstance(value, CPUDispatcher)
    }


def compiled_since(before: dict[str, int]) -> dict[str, int]:
    """The kernels that gained a signature since ``before``."""
    return {k: n for k, n in compiled_signatures().items() if n > before.get(k, 0)}


def compiled_in_fresh_process(probe: str, *args: str) -> dict[str, int]:
    """Run ``probe`` (Python source that prints :func:`compiled_since` as JSON on its last
    line) in a fresh interpreter from the repository root, and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=Path(__file__).parents[1],  # the repository root: the probe imports tests.kernels
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
