"""How the md kernels are compiled.

The per-event kernels allocate no arrays, so they are compiled without numba's reference-
counting runtime (``_nrt=False``): with it, every call between kernels that passes arrays
pays an atomic increment and decrement per array, which measured ~50x slower than the work
itself on the sequencer's hot path. A kernel compiled this way must not create arrays.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, _nrt=False)
kernel_inline = njit(cache=True, _nrt=False, inline="always")
