"""A process hosting stages keeps numpy's BLAS on its own thread (``limit_native_threads``).

OpenBLAS hands a long dot product to a worker per core and the workers then spin-wait for
the next call: in an md process at 500,000 events/s that burnt up to 0.6 of a core of a
2-core machine (docs/benchmarks.md, ``bench/e2e.py``). The check: the CPU the process's
other threads spend while its main thread does long dot products, with and without the
limit (each in a fresh interpreter, so this process's pools stay as they are).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
import sys, time
import numpy as np
if sys.argv[1] == "limited":
    from riskstream.runtime.node import limit_native_threads
    limit_native_threads(1)
x = np.ones(200_000)  # well above OpenBLAS's 10,000-element threshold for a threaded dot
process, thread = time.process_time(), time.thread_time()
for _ in range(500):
    float(x @ x)
    time.sleep(0.0005)  # a loop that does other things between calls, as a stage does
print(time.process_time() - process - (time.thread_time() - thread))
"""


def other_threads_cpu_s(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip())


def test_limited_process_spends_no_cpu_on_blas_workers() -> None:
    assert other_threads_cpu_s("limited") < 0.02


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS runs one thread on one core")
def test_unlimited_blas_workers_do_spend_cpu() -> None:
    """The control: without the limit the workers do burn CPU here, so the test above can
    fail."""
    assert other_threads_cpu_s("unlimited") > 0.1
