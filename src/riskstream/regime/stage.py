"""The real-time regime stage: samples prices every ``bar_s`` of event time, feeds the
log returns to the ensemble one row at a time, and publishes the regime probabilities at
every update.

Its inputs are injected (the wiring lives in ``riskstream.cli``): ``prices`` returns the
current prices of the tracked instruments (e.g. mids from the market state, or the
simulator's fair mids), ``publish`` receives each update. The stage never reads a clock: time
is the event time ``now_ns`` each batch arrives with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from riskstream.core.errors import InputError

REGIME_NAMES = {0: "calm", 1: "volatile", 2: "crisis"}

Publish = Callable[[int, int, np.ndarray], None]
"""``publish(ts_ns, regime, probabilities)`` — called at every regime update."""


def warm_up(model: Any, n_assets: int, bars: int = 32) -> None:
    """Run ``bars`` small seeded returns through ``model`` and reset it, so that its compiled
    parts (numba kernels, torch) are built — or loaded from numba's cache — before a live
    stage's first bar: compiled on the first live bar instead, the regime node of a fresh
    install spends seconds of market time blind (seen in the flash-crash bench's first
    windows on a cold cache)."""
    rng = np.random.default_rng(0)
    for row in rng.normal(0.0, 1e-4, size=(bars, n_assets)):
        model.filter(row)
    model.reset()


class RegimeStage:
    """Pipeline stage (:class:`riskstream.pipeline.Stage`) running a fitted regime model.

    Parameters
    ----------
    model : RegimeEnsemble (or any detector with ``reset``/``filter``/``regime``)
        Fitted on returns sampled at the same ``bar_s``.
    prices : callable () -> ndarray of shape (n_assets,)
        Current prices of the modelled assets, in the model's column order.
    bar_s : float
        Event-time sampling interval in seconds.
    publish : callable, optional
        Receives ``(ts_ns, regime, probabilities)`` at every update.

    Attributes
    ----------
    updates : int
        Regime updates so far.
    skipped : int
        Bars skipped because a price was missing or not positive (counted, never silent).
    """

    name = "regime"

    def __init__(
        self,
        model: Any,
        prices: Callable[[], np.ndarray],
        bar_s: float,
        publish: Publish | None = None,
    ):
        if not bar_s > 0:
            raise InputError("bar_s", bar_s, "a positive number of seconds")
        self.model = model
        self.prices = prices
        self.bar_ns = round(bar_s * 1e9)
        self.publish = publish
        self.updates = 0
        self.skipped = 0
        self.probabilities = np.full(model.n_regimes, np.nan)
        self.regime = -1
        self._ts: list[int] = []
        self._regimes: list[int] = []
        self._last_px: np.ndarray | None = None
        self._last_ns = 0
        self._next_ns: int | None = None
        model.reset()

    def on_batch(self, events: np.ndarray, now_ns: int) -> None:
        """Update once when ``now_ns`` has passed the next bar time."""
        if self._next_ns is not None and now_ns < self._next_ns:
            return
        px = np.array(self.prices(), dtype=np.float64)
        if not (np.isfinite(px).all() and (px > 0).all()):
            self.skipped += 1
            return
        if self._last_px is None:
            self._last_px, self._next_ns, self._last_ns = px, now_ns + self.bar_ns, now_ns
            return
        # The model is fitted on returns over one bar. When prices arrive more sparsely
        # than bars (md's deltas every 1.2 s of market time in a run sped up 240x, a slow
        # feed), a return spans k = elapsed / bar bars and has k times a bar's variance;
        # scaled by 1/sqrt(k) it is the per-bar return of the same Brownian variance (the
        # square-root-of-time rule), instead of reading as a k-fold volatility burst.
        # elapsed >= one bar: the next update is due a whole bar after this one
        elapsed = now_ns - self._last_ns
        returns = np.log(px / self._last_px) * np.sqrt(self.bar_ns / elapsed)
        self._last_px, self._last_ns = px, now_ns
        # the next bar one bar after this update: no backlog of bars after a late update, and
        # never a return over less than a bar — scaled by sqrt(bar / elapsed), a tick's move
        # over a millisecond (two deltas of one md round) would read as a 16-fold burst
        self._next_ns = now_ns + self.bar_ns
        self.probabilities = self.model.filter(returns)
        self.regime = int(self.model.regime)
        self.updates += 1
        self._ts.append(now_ns)
        self._regimes.append(self.regime)
        if self.publish is not None:
            self.publish(now_ns, self.regime, self.probabilities)

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """(ts_ns, regime) of every update so far."""
        return np.array(self._ts, dtype=np.int64), np.array(self._regimes, dtype=np.int64)

    def summary(self) -> dict[str, Any]:
        p = None if self.regime < 0 else round(float(self.probabilities[self.regime]), 4)
        return {
            "regime": REGIME_NAMES.get(self.regime, str(self.regime)) if self.regime >= 0 else None,
            "regime_probability": p,
            "regime_updates": self.updates,
            "regime_skipped_bars": self.skipped,
        }

    def view(self) -> list[tuple[str, str]]:
        if self.regime < 0:
            return [("regime", "warming up")]
        name = REGIME_NAMES.get(self.regime, str(self.regime))
        probs = " ".join(f"{p:.2f}" for p in self.probabilities)
        return [
            ("regime", f"{name} (p={self.probabilities[self.regime]:.2f})"),
            ("regime probabilities", probs),
        ]

    def close(self) -> None:
        pass
