"""Real order books for the exactly-once test: a simulated L3/L1 stream, the Ledger and an
:class:`~riskstream.md.MdStage` checkpointed together, and the part of the md state that
an undisturbed run must reproduce exactly.

The bus delivers each partition in order (``instrument_id % partitions``), so every
instrument's events arrive in their original order, but the *interleaving* of partitions
(and so of instruments) depends on fetch timing, crashes and redeliveries. Hence the
comparison is of per-instrument state and of order-independent counts only:

* compared: the L2 levels, epochs, order counts and the L3 orders of each book (each
  instrument's queue order included, see :func:`comparable_state`); the sequencer's feeds
  and gap/duplicate counters; every per-instrument feature except the VWAP pool links; the
  spread profiles and realised-variance rings; the whole market state (bid/ask/mid/last,
  sizes, depth, ...); accepted (feature updates), quarantined and seen event counts;
* not compared (interleaving-dependent, not market state): the order hash table's slot
  layout and the global priority clock (the stamps of orders of different instruments
  interleave; within an instrument their order is what :meth:`MarketDataEngine.orders`
  sorts by, so it is compared through the row order); the VWAP trade pool's layout and the
  ``vw_head``/``vw_tail`` indices into it; the used-slot counters of both; the stage's
  batch count (compared against the bus's message count instead) and latency ring.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from riskstream.feeds.config import SimulatorConfig, UniverseConfig
from riskstream.feeds.simulator import MarketSimulator
from riskstream.feeds.universe import generate_universe
from riskstream.md import MdConfig, MdStage
from riskstream.md import books as bk
from riskstream.md import features as ft
from tests.bus.ledger import Ledger

N_INSTRUMENTS = 200
SEED = 11
EVENTS_PER_S = 10_000.0  # 60,000 events: about 2.6 simulated seconds (a busy open)
# small initial capacities: the state is checkpointed after every message (both grow
# between batches when needed)
MD_CONFIG = MdConfig(order_capacity=1 << 13, vwap_capacity=1 << 12)
_POOL_LINKS = ("vw_head", "vw_tail")


def simulated_stream(n_batches: int, batch: int, seed: int = SEED) -> list[np.ndarray]:
    """``n_batches`` batches of ``batch`` events from the market simulator on a universe of
    :data:`N_INSTRUMENTS` (L3 order flow for listed instruments, L1 quotes for OTC ones;
    each instrument opens with a clear and its initial book). Deterministic by seed."""
    universe = generate_universe(UniverseConfig(instruments=N_INSTRUMENTS, seed=seed))
    config = SimulatorConfig(seed=seed, batch_events=batch, events_per_s=EVENTS_PER_S)
    sim = MarketSimulator(universe, config)
    return [sim.next_batch() for _ in range(n_batches)]


def new_stage() -> MdStage:
    return MdStage(N_INSTRUMENTS, MD_CONFIG)


def apply_md(stage: MdStage, events: np.ndarray) -> None:
    """Apply one batch; the clock at receipt is the batch's latest ``ts_recv`` (so the
    result depends on the events only, not on the wall clock)."""
    stage.on_batch(events, int(events["ts_recv"].max()))


def _columns(prefix: str, array: np.ndarray) -> dict[str, np.ndarray]:
    """A structured array as one plain array per field (NaN-aware comparisons)."""
    if array.dtype.names is None:
        return {prefix: np.array(array, copy=True)}
    return {f"{prefix}.{name}": np.array(array[name], copy=True) for name in array.dtype.names}


def comparable_state(stage: MdStage) -> dict[str, np.ndarray]:
    """The md state an undisturbed run must equal array by array, whatever the interleaving
    of partitions (see the module docstring for what is left out and why)."""
    e = stage.engine
    b, f, s = e.books, e._features, e.seq
    out: dict[str, np.ndarray] = {}
    for name in ("epoch", "n_orders", "lv", "lv_cnt"):
        out.update(_columns(f"books.{name}", getattr(b, name)))
    out["books.live"] = b.counters[bk.LIVE : bk.LIVE + 1].copy()
    # L3: sorted by instrument, side, price priority, queue position; the global priority
    # stamps themselves are dropped (the row order keeps each queue's order)
    orders = e.orders()
    out.update(_columns("orders", orders[[n for n in orders.dtype.names if n != "priority"]]))
    features = f.s[[n for n in f.s.dtype.names if n not in _POOL_LINKS]]
    out.update(_columns("features.s", features))
    out.update(_columns("features.profile", f.profile))
    out["features.rv_ring"] = f.rv_ring.copy()
    out["features.updates"] = f.counters[ft.UPDATES : ft.UPDATES + 1].copy()
    out.update(_columns("seq.feeds", s.feeds))
    out["seq.recovering"] = s.recovering.copy()
    out["seq.counters"] = s.counters.copy()
    for name, array in stage.market_state.arrays().items():
        out[f"market.{name}"] = array.copy()
    out["engine.quarantine_counts"] = e.quarantine_counts.copy()
    out["engine.events_seen"] = e.events_seen.copy()
    out["stage.events"] = np.array([stage.events], dtype=np.int64)
    return out


class LedgerAndBooks:
    """The Ledger and the md stage as one :class:`~riskstream.bus.Checkpointable`: both are
    saved in the same checkpoint (keys prefixed ``ledger.`` and ``md.``), so they can never
    disagree about which messages they hold."""

    def __init__(self) -> None:
        self.ledger = Ledger(N_INSTRUMENTS)
        self.md = new_stage()

    def apply(self, events: np.ndarray) -> None:
        self.ledger.apply(events)
        apply_md(self.md, events)

    def state(self) -> dict[str, np.ndarray]:
        out = {f"ledger.{k}": v for k, v in self.ledger.state().items()}
        out.update({f"md.{k}": v for k, v in self.md.state().items()})
        return out

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        parts: dict[str, dict[str, np.ndarray]] = {"ledger": {}, "md": {}}
        for key, array in state.items():
            part, _, name = key.partition(".")
            parts[part][name] = array
        self.ledger.restore(parts["ledger"])
        self.md.restore(parts["md"])
