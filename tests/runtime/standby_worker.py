"""One member of a primary/standby pair for the failover tests: a small publishing stage.

Run as ``python -m tests.runtime.standby_worker URL NAME``. It consumes every
``MarketStateDelta`` of ``md.delta`` from the start, folds its event count into a running
total (its state), and for each delta publishes a ``LimitState`` whose identity is the
delta's sequence number (``lineage_id = "d<seq>"``, ``ts_ns = seq``) through
:class:`riskstream.runtime.standby.LeaderTopics`, so only the leader's results are stored.
The state records who published (``by``), so the test sees the takeover. It prints
``ready`` once it is consuming, and stops when it has folded in ``--until`` deltas.
"""

from __future__ import annotations

import argparse

from riskstream.bus import BusConfig
from riskstream.bus.nats_topics import NatsTopics
from riskstream.core.errors import ServiceUnavailableError
from riskstream.core.messages import LimitState
from riskstream.runtime.standby import open_standby


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--until", type=int, default=10**9)
    parser.add_argument("--ttl", type=float, default=1.0)
    args = parser.parse_args()

    bus = BusConfig(url=args.url)
    topics = NatsTopics(bus, timeout_s=1.0)  # a request lost to a broker kill fails fast
    standby = open_standby(topics, bus, "worker", ttl_s=args.ttl, holder=args.name)
    reader = topics.subscribe("md.delta", start_after=0)
    events = 0
    last = 0
    print("ready", flush=True)
    while last < args.until:
        try:
            batch = reader.fetch(64, timeout_s=0.2)
        except ServiceUnavailableError:
            continue
        for _seq, delta in batch:
            events += delta.events
            last = delta.seq
            state = LimitState(delta.seq, f"d{delta.seq}", {"events": events, "by": args.name})
            while True:
                try:
                    standby.topics.publish("limits.state", state)
                    break
                except ServiceUnavailableError:
                    continue
    standby.close()
    topics.close()


if __name__ == "__main__":
    main()
