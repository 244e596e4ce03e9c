"""Transport of event batches between stages: ``memory://`` (in process) or ``nats://``
(JetStream).
"""
