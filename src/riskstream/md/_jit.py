"""How the md kernels are compiled.

The per-event kernels allocate no arrays, so they are compiled without numba's reference-
counting runtime (``_nrt=False``): with it, every call between kernels that passes arrays
pays an atomic increment and decrement per array, which measured ~50x slower than the work
itself on the sequencer's hot path. A kernel compiled this way must not create arrays.

They also release the GIL while they run (``nogil=True``): md's loop applies one batch in
the kernel while the NATS client's thread (Python, so it needs the GIL) receives and
parses the next one (the read-ahead of :class:`~riskstream.bus.consumer.CheckpointedConsumer`).
That is safe because every kernel is nopython code over numpy arrays only: no object mode,
no Python callbacks, no reference counting (``_nrt=False``), and nothing else writes the
arrays they work on while they run (md's state belongs to md's loop thread; the fetch
thread only fills new buffers). A kernel added here must keep to that.

numba's on-disk cache does not key its entries by these flags, only by each kernel's
source file (its modification time and size) and bytecode: after changing them here, the
kernel modules must change too (or their ``__pycache__`` be cleared), else a cached
compilation with the old flags is loaded. ``tests/md/test_nogil.py`` fails if the batch
kernel holds the GIL.
"""

from __future__ import annotations

from numba import njit

kernel = njit(cache=True, _nrt=False, nogil=True)
kernel_inline = njit(cache=True, _nrt=False, nogil=True, inline="always")
