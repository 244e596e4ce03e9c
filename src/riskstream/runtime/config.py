"""Settings of the runtime: how often nodes publish, checkpoint and report, and how the
supervisor restarts them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from riskstream.core.config import ConfigModel


class RuntimeConfig(ConfigModel):
    """The stages as nodes (:mod:`riskstream.runtime`).

    ``feed_tick_ms``: wall time between two publications of the feed (the events whose
    market time fell due in between go out together). ``delta_interval_ms``: md publishes
    the changed rows of its market state this often; ``keyframe_s``: and all of them this
    often. ``delta_max_rows``: rows per delta message (larger changes go as several, so a
    message stays under the bus's payload limit). ``recv_samples``: receipt times carried
    per delta for the tick-to-risk latency. ``checkpoint_s``: md saves its books and
    acknowledges the bus this often. ``stats_interval_s``: every node reports its figures
    this often. ``restart_backoff_s`` / ``restart_backoff_max_s``: the supervisor waits this
    long before restarting a dead stage, doubling per quick death up to the maximum.
    ``checkpoint_dir``: default ``<store.data_dir>/checkpoints``. ``checkpoint_mode``:
    how md (and every stage process that checkpoints) writes a checkpoint — off its loop,
    from a ``copy`` (the loop copies the arrays as bytes into buffers kept between saves, a
    thread writes them: one short stall) or a ``fork`` (a copy-on-write child writes it;
    the loop pays the fork and a page fault per page it writes while the child runs, which
    cost md more in ``bench/e2e.py``), or ``inline`` (the loop copies and writes; the bus
    is acknowledged after the write in every mode); see :mod:`riskstream.bus.checkpoint`.
    ``md_read_ahead``: md sends its next fetch before applying the current batch, so the
    pull's round trip through the broker and the decoding (the bus client's thread)
    overlap md's kernel, which releases the GIL
    (:class:`~riskstream.bus.consumer.CheckpointedConsumer`; the checkpoint and
    acknowledgements still cover only what was applied; off: fetch and apply take turns,
    as before). ``standby_ttl_s``: the lease
    of a hot-standby pair (``run --replica``): a standby takes over this long (plus an
    eighth) after the primary's last renewal. ``feed_seconds``: the feed publishes this many
    seconds of market time and stops (a finite, replayable run: same seed, same events);
    None runs until stopped. ``feed_checkpoint_s``: a feed process saves its position (its
    simulator's state) this often; a restarted feed regenerates, without publishing, at most
    this much wall time of events (:mod:`riskstream.runtime.feed`). ``reconnect_s``: a stage
    process whose broker goes away keeps its state and retries in place (reads, and
    publishes under the same message id) for this long before it gives up and exits (the
    supervisor then restarts it: the last resort). Keep it under ``bus.dedup_window_s``
    (120 s): a publish retried later than that after its first attempt was stored would no
    longer be recognised as a duplicate.

    Costs behind the defaults: a publication is one confirmed JetStream round trip per
    partition, so a 10 ms tick keeps the feed near the rate of the ingest bench's batches
    at 500,000 events/s (~1,250 events a message); at that rate most rows of a 10,000
    instrument state change within a delta interval, so a delta's size (about 60 bytes a
    row) barely shrinks with a shorter one while its count grows; md's checkpoint of
    10,000 books is ~140 MB (``md.order_capacity`` order slots), written every 15 s, well
    inside ``bus.ack_wait_s`` (the bus redelivers what stays unacknowledged longer).
    """

    feed_tick_ms: Annotated[float, Field(gt=0, le=1000)] = 10.0
    delta_interval_ms: Annotated[float, Field(gt=0, le=10_000)] = 20.0
    keyframe_s: Annotated[float, Field(gt=0)] = 2.0
    delta_max_rows: Annotated[int, Field(ge=16)] = 4096
    recv_samples: Annotated[int, Field(ge=1, le=1_000_000)] = 512
    checkpoint_s: Annotated[float, Field(gt=0)] = 15.0
    stats_interval_s: Annotated[float, Field(gt=0)] = 1.0
    restart_backoff_s: Annotated[float, Field(gt=0)] = 0.5
    restart_backoff_max_s: Annotated[float, Field(gt=0)] = 30.0
    checkpoint_dir: Path | None = None
    checkpoint_mode: Literal["fork", "copy", "inline"] = "copy"
    md_read_ahead: bool = True
    standby_ttl_s: Annotated[float, Field(gt=0)] = 2.0
    feed_seconds: Annotated[float, Field(gt=0)] | None = None
    feed_checkpoint_s: Annotated[float, Field(gt=0)] = 5.0
    reconnect_s: Annotated[float, Field(gt=0)] = 60.0
