"""A consumer process for the exactly-once test: applies the bus to a Ledger, checkpointing.

Run as ``python -m tests.bus.consumer_worker URL CHECKPOINT N_INSTRUMENTS EXPECTED``; stops
when the ledger holds EXPECTED events (or after 30 s idle). ``--sleep-ms`` slows each message
so the test can kill it mid-stream.
"""

from __future__ import annotations

import argparse
import time

from riskstream.bus import BusConfig, CheckpointedConsumer, FileCheckpointStore, open_bus
from tests.bus.ledger import Ledger


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("checkpoint")
    parser.add_argument("n_instruments", type=int)
    parser.add_argument("expected", type=int)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--sleep-ms", type=float, default=0.0)
    args = parser.parse_args()

    ledger = Ledger(args.n_instruments)

    def apply(events):
        ledger.apply(events)
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
        bus, "ledger", ledger, apply, SlowAckStore(args.checkpoint), max_messages=8
    )
    stats = consumer.run(until=lambda: ledger.count.sum() >= args.expected, idle_timeout_s=30)
    print(stats, flush=True)
    bus.close()


if __name__ == "__main__":
    main()
