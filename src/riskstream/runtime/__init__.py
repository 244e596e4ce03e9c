"""The stages as independent consumers: nodes, their wiring, and the ways to host them.

Each stage of the pipeline is a *node* (:mod:`riskstream.runtime.node`) that owns its state,
reads its inputs from the bus (event batches) or from typed-message topics
(:mod:`riskstream.bus.topics`), and publishes downstream:

* ``feed``: the simulator (or a replay) on the wall clock → event batches (the bus);
* ``md``: event partitions (durable, checkpointed) → ``MarketStateDelta``;
* ``risk``: deltas, ``PositionsChanged``, ``RegimeChanged`` → ``RiskSnapshot``;
* ``limits``: snapshots, deltas, ``PositionsChanged`` → ``LimitState`` and reductions'
  ``Fill`` (to ``positions``, the keeper, which publishes ``PositionsChanged``);
* ``regime``: deltas → ``RegimeChanged``;
* ``history``: event partitions and deltas → the Delta tables;
* ``service``: snapshots, limit state, stage statistics, deltas → dashboard, API, metrics.

Every node reports :class:`~riskstream.core.messages.StageStats` (counters and per-event
latency histograms, :mod:`riskstream.runtime.latency`) every second.

Hosting: :class:`~riskstream.runtime.local.LocalRuntime` runs them on threads of one
process over the in-memory bus (``riskstream demo``); ``riskstream run --stage NAME`` runs
one as a process over NATS, and ``riskstream up`` all of them under
:class:`~riskstream.runtime.supervisor.Supervisor`. A hot-standby pair of a publishing
stage: :mod:`riskstream.runtime.standby`.

A wiring package (like ``cli``): it may import every other package.
"""
