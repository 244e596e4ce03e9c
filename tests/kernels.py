"""What numba has compiled in this process: for tests that a warm-up leaves nothing to
compile on a live path (run them in a fresh process, so no other test's compilation
counts)."""

from __future__ import annotations

import sys


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
