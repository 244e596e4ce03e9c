"""LSTM classifier of regimes over windows of stream features (PyTorch, CPU).

A long short-term memory network (Hochreiter & Schmidhuber 1997, *Neural Computation* 9(8))
reads the last ``window`` rows of :func:`riskstream.regime.features.stream_features`
(log variance at three horizons, average correlation, dispersion) and outputs the regime
probabilities of the last row by a softmax layer. It is supervised: it learns from regime
labels (the simulator's true regimes, or — in the ensemble, without labels — the HMM's
Viterbi path, so the network learns to say online what the smoother says with hindsight).

Kept small and reproducible: one layer, ``hidden`` units, a few epochs of Adam, seeded,
one CPU thread. Windows before the first full one are padded with the calm-market feature
row, so the online filter and the batch path give the same numbers.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from riskstream.core.errors import InputError
from riskstream.models.base import Estimator
from riskstream.regime.base import check_labels, check_returns, check_row, require_fitted
from riskstream.regime.features import stream_features, stream_state

HL_FAST, HL_SLOW = 4.0, 32.0


class _Net(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])  # logits of the window's last row


class LSTMDetector(Estimator):
    """Supervised LSTM regime classifier.

    Parameters
    ----------
    n_regimes : int, default 3
    window : int, default 32
        Rows per input window.
    hidden : int, default 16
        LSTM units.
    epochs : int, default 6
        Passes over the training windows.
    seed : int, default 7
        Seeds torch (weights, batch order): same data and seed, same network bit for bit.

    Attributes
    ----------
    scale_ : ndarray of shape (n_assets,)
    feature_mean_, feature_std_ : ndarray of shape (n_features,)
        Normalisation of the features.
    net_ : torch.nn.Module
    """

    name = "lstm"

    def __init__(
        self, n_regimes: int = 3, window: int = 32, hidden: int = 16, epochs: int = 6, seed: int = 7
    ):
        self.n_regimes = n_regimes
        self.window = window
        self.hidden = hidden
        self.epochs = epochs
        self.seed = seed

    def _features(self, z: np.ndarray, state: np.ndarray) -> np.ndarray:
        f = stream_features(np.ascontiguousarray(z), state, HL_FAST, HL_SLOW)
        return ((f - self.feature_mean_) / self.feature_std_).astype(np.float32)

    def fit(self, returns: ArrayLike, labels: ArrayLike | None = None) -> Self:
        """Train on ``returns`` (n_obs, n_assets) and ``labels`` (n_obs,) in [0, K).

        Raises
        ------
        InputError
            No labels (the LSTM is supervised), or bad returns.
        """
        if labels is None:
            raise InputError("labels", None, "regime labels (the LSTM is supervised)")
        r = check_returns(returns, min_obs=max(200, 4 * self.window))
        lab = check_labels(labels, len(r), self.n_regimes)
        self._start_warnings()  # a fixed number of epochs: no convergence test
        self.scale_ = r.std(axis=0)
        z = r / self.scale_
        raw = stream_features(np.ascontiguousarray(z), stream_state(), HL_FAST, HL_SLOW)
        self.feature_mean_ = raw.mean(axis=0)
        self.feature_std_ = raw.std(axis=0) + 1e-6
        feats = self._features(z, stream_state())
        windows = self._windows(feats)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(self.seed)
            net = _Net(feats.shape[1], self.hidden, self.n_regimes)
            opt = torch.optim.Adam(net.parameters(), lr=1e-2)
            x = torch.from_numpy(windows)
            y = torch.from_numpy(lab)
            # balance the classes: rare crisis rows matter as much as calm ones
            counts = np.bincount(lab, minlength=self.n_regimes).astype(np.float64)
            weight = torch.tensor(
                np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / self.n_regimes, 0),
                dtype=torch.float32,
            )
            loss_fn = nn.CrossEntropyLoss(weight=weight)
            gen = torch.Generator().manual_seed(self.seed)
            batch = 256
            for _ in range(self.epochs):
                perm = torch.randperm(len(x), generator=gen)
                for i in range(0, len(x), batch):
                    idx = perm[i : i + batch]
                    opt.zero_grad()
                    loss = loss_fn(net(x[idx]), y[idx])
                    loss.backward()
                    opt.step()
            net.eval()
        finally:
            torch.set_num_threads(previous_threads)
        self.net_ = net
        self.reset()
        return self

    def _pad_row(self) -> np.ndarray:
        # the features of a market at its training average (unit variance, no correlation)
        return ((np.zeros(5) - self.feature_mean_) / self.feature_std_).astype(np.float32)

    def _windows(self, feats: np.ndarray) -> np.ndarray:
        pad = np.repeat(self._pad_row()[None, :], self.window - 1, axis=0)
        full = np.concatenate([pad, feats])
        view = np.lib.stride_tricks.sliding_window_view(full, self.window, axis=0)
        return np.ascontiguousarray(view.transpose(0, 2, 1))  # (n_obs, window, n_features)

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                out = [
                    torch.softmax(self.net_(torch.from_numpy(windows[i : i + 4096])), dim=1)
                    for i in range(0, len(windows), 4096)
                ]
        finally:
            torch.set_num_threads(previous_threads)
        return torch.cat(out).numpy().astype(np.float64)

    def reset(self) -> None:
        """Start a fresh window (padded with the calm-market row)."""
        require_fitted(self, "net_")
        self._state = stream_state()
        self._buffer = np.repeat(self._pad_row()[None, :], self.window, axis=0)

    def filter(self, r_t: ArrayLike) -> np.ndarray:
        """Absorb one row of returns (n_assets,); regime probabilities now, shape (K,)."""
        require_fitted(self, "net_")
        row = check_row(r_t, len(self.scale_)) / self.scale_
        feats = self._features(row[None, :], self._state)
        self._buffer = np.concatenate([self._buffer[1:], feats])
        return self._predict(self._buffer[None, :, :])[0]

    def predict_proba(self, returns: ArrayLike) -> np.ndarray:
        """Probabilities of every row (n_obs, K), from :meth:`reset`'s state."""
        require_fitted(self, "net_")
        r = check_returns(returns, min_obs=1, n_assets=len(self.scale_))
        return self._predict(self._windows(self._features(r / self.scale_, stream_state())))
