"""Transport of event batches between stages: ``memory://`` (in process) or ``nats://``
(JetStream).

``open_bus(config)`` picks the backend from ``config.url``; both implement
:class:`riskstream.bus.base.Bus`. ``open_topics(config)`` does the same for the typed
messages between stages (:class:`riskstream.bus.topics.Topics`).
:class:`CheckpointedConsumer` applies a bus's messages to a :class:`Checkpointable` state
exactly once.
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
from riskstream.bus.topics import MemoryTopics, Subscription, Topics


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


def open_topics(config: BusConfig | str | None = None, retry_s: float = 0.0) -> Topics:
    """The typed-message topics named by ``config.url`` (:mod:`riskstream.bus.topics`).

    ``memory://`` returns fresh in-process topics (keeping ``memory_retain_messages`` per
    subject); ``nats://host:port`` connects to NATS JetStream (one stream per subject,
    created on first use; :mod:`riskstream.bus.nats_topics`), whose publishes are retried
    in place for ``retry_s`` while the broker is away.
    """
    if config is None:
        config = BusConfig()
    elif isinstance(config, str):
        config = BusConfig(url=config)
    if config.url.startswith("nats://"):
        from riskstream.bus.nats_topics import NatsTopics  # nats-py is imported only when used

        return NatsTopics(config, retry_s=retry_s)
    return MemoryTopics(retention=config.memory_retain_messages)


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
    "MemoryTopics",
    "Message",
    "MessagesLostError",
    "PublishResult",
    "Subscription",
    "Topics",
    "open_bus",
    "open_topics",
    "split_by_partition",
    "through_bus",
]
