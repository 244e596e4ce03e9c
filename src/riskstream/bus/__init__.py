"""Transport of event batches between stages: ``memory://`` (in process) or ``nats://``
(JetStream).

``open_bus(config)`` picks the backend from ``config.url``; both implement
:class:`riskstream.bus.base.Bus`. :class:`CheckpointedConsumer` applies a bus's messages to
a :class:`Checkpointable` state exactly once.
"""

from __future__ import annotations

from riskstream.bus.base import Bus, Consumer, Message, PublishResult, split_by_partition
from riskstream.bus.checkpoint import (
    Checkpoint,
    Checkpointable,
    CheckpointStore,
    FileCheckpointStore,
    MemoryCheckpointStore,
)
from riskstream.bus.config import BusConfig
from riskstream.bus.consumer import CheckpointedConsumer, ConsumerStats, MessagesLostError
from riskstream.bus.memory import MemoryBus
from riskstream.bus.relay import through_bus


def open_bus(config: BusConfig | str | None = None) -> Bus:
    """The bus named by ``config.url`` (a :class:`BusConfig`, or a URL string).

    ``memory://`` returns a fresh in-process bus; ``nats://host:port`` connects to NATS
    JetStream and creates the partition streams if they do not exist.
    """
    if config is None:
        config = BusConfig()
    elif isinstance(config, str):
        config = BusConfig(url=config)
    if config.url.startswith("nats://"):
        from riskstream.bus.nats import NatsBus  # nats-py is imported only when used

        return NatsBus(config)
    return MemoryBus(config)


__all__ = [
    "Bus",
    "BusConfig",
    "Checkpoint",
    "CheckpointStore",
    "Checkpointable",
    "CheckpointedConsumer",
    "Consumer",
    "ConsumerStats",
    "FileCheckpointStore",
    "MemoryBus",
    "MemoryCheckpointStore",
    "Message",
    "MessagesLostError",
    "PublishResult",
    "open_bus",
    "split_by_partition",
    "through_bus",
]
