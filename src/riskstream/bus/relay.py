"""Run a batch source through a bus: publish each batch, yield what a consumer receives.

For a single-process pipeline (``riskstream demo``, the ingest benchmark) that still goes
through the bus: ``Pipeline(through_bus(simulator_batches, bus), stages, ...)``. The
consumer starts at the partitions' current ends, so it sees exactly this run's batches;
each received message (one partition's slice of a batch, instrument order preserved) is
yielded with the ``now_ns`` of the batch it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from riskstream.bus.base import Bus


def through_bus(
    source: Iterable[tuple[np.ndarray, int]],
    bus: Bus,
    name: str = "pipeline",
    fetch_timeout_s: float = 1.0,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(events, now_ns)`` as received from ``bus`` after publishing ``source``.

    Every published event is yielded once (the consumer waits up to ``fetch_timeout_s``
    for a batch's messages to arrive; a ``nats://`` bus may deliver them a moment later).
    """
    partitions = range(bus.partitions)
    consumer = bus.consumer(name, start_after={p: bus.last_seq(p) for p in partitions})
    try:
        for events, now_ns in source:
            expected = bus.publish(events).events
            received = 0
            while received < expected:
                messages = consumer.fetch(1024, fetch_timeout_s)
                if not messages:
                    raise TimeoutError(
                        f"bus delivered {received} of {expected} events within {fetch_timeout_s}s"
                    )
                for message in messages:
                    received += len(message.events)
                    yield message.events, now_ns
                consumer.commit({m.partition: m.seq for m in messages})
    finally:
        consumer.close()
