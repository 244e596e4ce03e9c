"""A consumer process for the exactly-once test: applies the bus to a Ledger and to real
order books (an md stage), checkpointing both together.

Run as ``python -m tests.bus.consumer_worker URL CHECKPOINT EXPECTED --final FINAL``; stops
when the ledger holds EXPECTED events (or after 30 s idle), then writes the md state to
compare (:func:`tests.bus.books.comparable_state`) to FINAL (``.npz``). ``--sleep-ms``
slows each message so the test can kill it mid-stream; ``--background`` writes the
checkpoints from a forked child while the loop goes on (a kill of the worker then lands
between snapshot and save, and the child dies with it); ``--read-ahead`` sends each fetch
while the previous batch is applied (the kill and the broker's death then also find a batch
read ahead and not applied).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from riskstream.bus import BusConfig, CheckpointedConsumer, FileCheckpointStore, open_bus
from tests.bus.books import LedgerAndBooks, comparable_state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("checkpoint")
    parser.add_argument("expected", type=int)
    parser.add_argument("--final", required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sleep-ms", type=float, default=0.0)
    parser.add_argument("--background", action="store_true", help="checkpoint off the loop")
    parser.add_argument("--read-ahead", action="store_true", help="fetch while applying")
    args = parser.parse_args()

    state = LedgerAndBooks()

    def apply(events):
        state.apply(events)
        if args.sleep_ms:
            time.sleep(args.sleep_ms / 2000)

    class SlowAckStore(FileCheckpointStore):
        """Sleeps after each checkpoint, before the acknowledgement: a kill then lands
        between the two often, the window where redelivery must be skipped."""

        def save(self, checkpoint):
            super().save(checkpoint)
            if args.sleep_ms:
                time.sleep(args.sleep_ms / 2000)

    bus = open_bus(BusConfig(url=args.url, partitions=args.partitions, ack_wait_s=5))
    consumer = CheckpointedConsumer(
        bus,
        "ledger",
        state,
        apply,
        SlowAckStore(args.checkpoint),
        max_messages=8,
        background=args.background,
        read_ahead=args.read_ahead,
    )
    stats = consumer.run(until=lambda: state.ledger.count.sum() >= args.expected, idle_timeout_s=30)
    print(stats, flush=True)
    bus.close()
    np.savez(args.final, **comparable_state(state.md))


if __name__ == "__main__":
    main()
