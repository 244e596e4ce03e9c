"""md's warm-up compiles what the live node runs: batches as the bus hands them over."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from riskstream.md import engine
from riskstream.md.config import MdConfig
from riskstream.runtime.md import warm_up

warm_up(MdConfig(), batches=2)
print(sorted({signature[0].mutable for signature in engine._process.signatures}))
"""


def test_warm_up_compiles_md_for_read_only_batches() -> None:
    """A message decoded from the bus is a read-only view of its payload, which numba types
    apart from a writable array: without it in the warm-up, the first live message compiles
    md's kernel again (seconds on a cold cache, found as a stalled first run of the flash
    bench on a fresh machine). In a fresh process, so no other test's compilation counts."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.split("\n")[-2] == "[False, True]"
