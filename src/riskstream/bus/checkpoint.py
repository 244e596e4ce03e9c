"""Checkpoints: what a consumer has applied (per partition) together with the state it built.

A checkpoint is one record ``{partition: last applied sequence}`` + ``{name: ndarray}``
written *atomically*: to a temporary file in the same folder, flushed to disk (``fsync``),
then renamed over the previous one (``os.replace`` is atomic on POSIX), so a crash leaves
either the old or the new checkpoint, never half of one. The state and the positions are
in the same file, so they can never disagree.

Anything with ``state()`` / ``restore()`` (:class:`Checkpointable`) can be checkpointed:
the order books, sequencers and feature accumulators of ``riskstream.md`` do it the same
way.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from riskstream.core.errors import InputError

_POSITIONS = "__positions__"


@runtime_checkable
class Checkpointable(Protocol):
    """State that can be saved as named arrays and restored from them, bit for bit."""

    def state(self) -> dict[str, np.ndarray]:
        """The full state as named arrays (copies or views; they are written at once)."""

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the state with a previously saved one."""


@dataclass
class Checkpoint:
    """A consumer's positions and the state built from exactly those messages."""

    positions: dict[int, int] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)


class CheckpointStore(Protocol):
    def load(self) -> Checkpoint | None:
        """The last saved checkpoint, or None if there is none."""

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the saved checkpoint atomically."""


class MemoryCheckpointStore:
    """Checkpoints kept in memory (copies): for benchmarks and in-process pipelines."""

    def __init__(self) -> None:
        self._saved: Checkpoint | None = None
        self.saves = 0

    def load(self) -> Checkpoint | None:
        return self._saved

    def save(self, checkpoint: Checkpoint) -> None:
        self._saved = Checkpoint(
            dict(checkpoint.positions), {k: np.array(v) for k, v in checkpoint.state.items()}
        )
        self.saves += 1


class FileCheckpointStore:
    """Checkpoints in one ``.npz`` file, replaced atomically (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The checkpoint file; its folder is created.
    fsync : bool
        Force the data to disk before the rename (durable across power loss, not just
        process crashes). Default True.
    """

    def __init__(self, path: str | Path, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.saves = 0

    def load(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        with np.load(self.path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        positions = arrays.pop(_POSITIONS)
        return Checkpoint({int(p): int(s) for p, s in positions}, arrays)

    def save(self, checkpoint: Checkpoint) -> None:
        if _POSITIONS in checkpoint.state:
            raise InputError("state", _POSITIONS, "a state array name other than __positions__")
        positions = np.array(sorted(checkpoint.positions.items()), dtype=np.int64).reshape(-1, 2)
        buffer = io.BytesIO()
        np.savez(buffer, **{_POSITIONS: positions}, **checkpoint.state)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(buffer.getbuffer())
                if self.fsync:
                    file.flush()
                    os.fsync(file.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.fsync:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self.saves += 1
