"""Build each node from the settings: the same code for the demo's threads and for
``riskstream run --stage NAME`` processes.

:data:`STAGES` names the nodes in data-flow order. :func:`build_node` builds one over a
:class:`Wiring` (settings, universe, the event bus and the typed-message topics, and —
where the node needs it — the simulator or the running service). Nothing built here is
shared between two nodes except the bus and the topics (and, immutable, the universe and
settings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskstream.bus.base import Bus
from riskstream.bus.checkpoint import CheckpointStore, FileCheckpointStore, MemoryCheckpointStore
from riskstream.bus.topics import Topics
from riskstream.core.errors import InputError
from riskstream.settings import Settings

STAGES: tuple[str, ...] = (
    "feed", "md", "risk", "limits", "positions", "regime", "surveillance", "history", "service",
)  # fmt: skip
"""Every node, in data-flow order."""

REPLICATED: tuple[str, ...] = ("risk", "limits")
"""The stages that may run as a hot-standby pair (``riskstream run --replica``): the
publishing stages whose outputs are functions of their inputs (:mod:`riskstream.runtime.
standby`). The others are restarted by the supervisor and resume from their checkpoint
(md, history) or their persisted state (positions)."""


@dataclass
class Wiring:
    """What the nodes are built over.

    Attributes
    ----------
    cfg : Settings
    universe : Universe
    bus : Bus
        Event batches (``cfg.bus``).
    topics : Topics
        Typed messages (MemoryTopics in one process; JetStream between processes).
    simulator : MarketSimulator, optional
        The feed's source (built by the feed node when absent).
    scenario : str, optional
        A market scenario for the simulator.
    service : RunningService, optional
        The service node pushes into its feed (started by the service node when absent).
    speed : float or None
        Market seconds per wall second for the feed (None: as fast as possible).
    backlog : callable, optional
        For ``speed=None``: messages published and not yet consumed by md.
    durable : bool
        Checkpoints on disk (processes) rather than in memory (the demo).
    say : callable
        Where nodes announce things (the service's address).
    """

    cfg: Settings
    universe: Any
    bus: Bus
    topics: Topics
    simulator: Any = None
    scenario: str | None = None
    service: Any = None
    speed: float | None = 1.0
    backlog: Callable[[], int] | None = None
    durable: bool = False
    say: Callable[[str], None] = print

    def checkpoint_store(self, name: str) -> CheckpointStore:
        if not self.durable:
            return MemoryCheckpointStore()
        folder = self.cfg.runtime.checkpoint_dir or Path(self.cfg.store.data_dir) / "checkpoints"
        return FileCheckpointStore(
            Path(folder) / f"{self.cfg.bus.stream}-{name}.npz",
            snapshot="copy" if self.cfg.runtime.checkpoint_mode == "copy" else "fork",
        )


def build_node(name: str, w: Wiring) -> Any:
    """The node ``name`` (one of :data:`STAGES`) over ``w``."""
    if name not in STAGES:
        raise InputError("stage", name, f"one of {', '.join(STAGES)}")
    return _BUILDERS[name](w)


def _feed(w: Wiring) -> Any:
    from riskstream.feeds.simulator import MarketSimulator
    from riskstream.runtime.feed import FeedNode, SimulatorSource

    simulator = w.simulator or MarketSimulator(w.universe, w.cfg.simulator, scenario=w.scenario)
    runtime = w.cfg.runtime
    # a process resumes where it stopped (its checkpoint); the demo's feed starts afresh
    fingerprint = (
        f"simulator={w.cfg.simulator.model_dump_json()};instruments={len(w.universe)};"
        f"as_of={getattr(w.universe, 'as_of', None)};scenario={w.scenario};"
        f"seconds={runtime.feed_seconds}"
    )

    def audit(events: Any) -> Any:
        # the venue's member-level audit trail, from the simulator the node runs now (a
        # resumed feed runs the one restored from its checkpoint)
        return node.source.simulator.audit(events)

    node = FeedNode(
        SimulatorSource(simulator, runtime.feed_seconds),
        w.bus,
        speed=w.speed,
        tick_ms=runtime.feed_tick_ms,
        backlog=w.backlog,
        audit=audit if getattr(simulator, "manipulators", None) else None,
        topics=w.topics,
        store=w.checkpoint_store("feed") if w.durable else None,
        checkpoint_s=runtime.feed_checkpoint_s,
        fingerprint=fingerprint,
    )
    return node


def _surveillance(w: Wiring) -> Any:
    from riskstream.runtime.surveillance import SurveillanceNode

    return SurveillanceNode(w.topics, len(w.universe), w.cfg.surveillance.abuse)


def _md(w: Wiring) -> Any:
    from riskstream.runtime.md import MdNode, warm_up

    warm_up(w.cfg.md)
    return MdNode(
        len(w.universe), w.cfg.md, w.cfg.runtime, w.bus, w.topics, w.checkpoint_store("md")
    )


def _positions(w: Wiring) -> Any:
    from riskstream.cli.universe import open_refdb
    from riskstream.positions import PositionKeeper
    from riskstream.runtime.readers import KeeperNode

    return KeeperNode(PositionKeeper(open_refdb(w.cfg), w.topics))


def _risk(w: Wiring) -> Any:
    from riskstream.cli.engine import build_engine, load_history
    from riskstream.core.state import MarketState
    from riskstream.risk.stage import RiskStage
    from riskstream.runtime.risk import MarketClock, RiskNode, warm_up

    cfg = w.cfg
    state = MarketState(len(w.universe))  # the node's own replica, written by md's deltas
    # Live: a regime switch and SPAN are computed on the engine's background worker and
    # swapped in atomically, so no refresh waits for them (risk.background_recompute)
    live = cfg.risk.model_copy(update={"background_recompute": True})
    warm_up(live)
    engine = build_engine(
        w.universe, live, history=load_history(cfg), market=state, models=cfg.models
    )
    engine.clock = clock = MarketClock(engine.clock.now_ns())  # market time of the deltas
    engine.refresh()  # the book's first full refresh before the node reports ready (not a snapshot)
    return RiskNode(
        RiskStage(engine),
        clock,
        w.topics,
        regime_conditional=cfg.risk.regime_conditional,
        delta_wait_ns=round(1.25 * cfg.runtime.delta_interval_ms * 1e6),
    )


def _limits(w: Wiring) -> Any:
    from riskstream.cli.universe import open_refdb
    from riskstream.limits.stage import build_limits_stage
    from riskstream.runtime.limits import LeaderSwitchStore, LimitsNode
    from riskstream.runtime.readers import DeltaReader
    from riskstream.store.limits_repo import LimitRepository

    # Limits act on every snapshot: stored limits (API or `riskstream limits set`) overlay
    # the reference ones sized on the first full snapshot; kill switches persist in the
    # reference DB; reductions fill against a synthetic ladder around the node's quotes.
    repo = LimitRepository(open_refdb(w.cfg))
    lease = getattr(w.topics, "lease", None)  # a member of a hot-standby pair
    switches = repo if lease is None else LeaderSwitchStore(repo, lease)

    def stage(snapshots: Any, market: Any) -> Any:
        return build_limits_stage(
            snapshots, None, config=w.cfg.limits, switch_store=switches, limit_store=repo,
            universe=w.universe, market=market, topics=w.topics,
        )  # fmt: skip

    return LimitsNode(w.topics, DeltaReader(w.topics, len(w.universe)), stage)


def _regime(w: Wiring) -> Any:
    from riskstream.cli.regime import RegimeSwitch, default_model_path, demo_regime_stage
    from riskstream.core.messages import SUBJECTS
    from riskstream.regime import load_model
    from riskstream.runtime.readers import RegimeNode

    path = default_model_path(w.cfg)
    if not path.is_file():
        raise InputError(
            "regime model", str(path), "a model file (`riskstream regime fit-sim`, or a demo run)"
        )
    switch = None
    if w.cfg.risk.regime_conditional:
        model, _ = load_model(path)
        switch = RegimeSwitch(
            lambda m: w.topics.publish(SUBJECTS["regime"], m), model, w.cfg.regime
        )
    return RegimeNode(
        w.topics,
        len(w.universe),
        lambda state: demo_regime_stage(w.cfg, w.universe, state),
        switch=switch,
    )


def _history(w: Wiring) -> Any:
    from riskstream.runtime.readers import HistoryNode
    from riskstream.store.history import HistoryStore
    from riskstream.store.stage import HistoryStage

    cfg = w.cfg

    def stage(state: Any) -> HistoryStage:
        return HistoryStage(
            HistoryStore(
                cfg.store.history,
                flush_rows=cfg.store.history_flush_rows,
                retention_hours=cfg.store.history_retention_hours,
            ),
            state=state,
            symbols=w.universe.instruments["symbol"].to_list(),
        )

    return HistoryNode(w.bus, w.topics, len(w.universe), stage)


def _service(w: Wiring) -> Any:
    from riskstream.runtime.readers import ServiceNode

    kept = w.cfg.surveillance.alerts_kept
    if w.service is not None:
        return ServiceNode(w.service.feed, w.topics, len(w.universe), abuse_alerts_kept=kept)
    from riskstream.cli.universe import open_refdb
    from riskstream.service.launch import start_service

    service = start_service(
        w.cfg.service, open_refdb(w.cfg), cache_url=w.cfg.store.cache_url, topics=w.topics
    )
    w.say(service.login_help())
    node = ServiceNode(service.feed, w.topics, len(w.universe), abuse_alerts_kept=kept)
    node.running = service  # started here: stopped with the node
    return node


_BUILDERS: dict[str, Callable[[Wiring], Any]] = {
    "feed": _feed,
    "md": _md,
    "positions": _positions,
    "risk": _risk,
    "limits": _limits,
    "regime": _regime,
    "surveillance": _surveillance,
    "history": _history,
    "service": _service,
}
