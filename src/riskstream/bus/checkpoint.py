"""Checkpoints: what a consumer has applied (per partition) together with the state it built.

A checkpoint is one record ``{partition: last applied sequence}`` + ``{name: ndarray}``
written *atomically*: to a temporary file in the same folder, flushed to disk (``fsync``),
then renamed over the previous one (``os.replace`` is atomic on POSIX), so a crash leaves
either the old or the new checkpoint, never half of one. The state and the positions are
in the same file, so they can never disagree. The checkpoint also names the logs the
positions refer to (each partition's :attr:`~riskstream.bus.base.PartitionLog.identity`
and the bus's partition count), so a consumer can tell a checkpoint of another stream from
its own (:mod:`riskstream.bus.consumer`).

Anything with ``state()`` / ``restore()`` (:class:`Checkpointable`) can be checkpointed:
the order books, sequencers and feature accumulators of ``riskstream.md`` do it the same
way.

Saving off the caller's thread
------------------------------
:meth:`FileCheckpointStore.begin_save` takes the snapshot where it is cheapest and writes
it while the caller goes on applying messages (the caller acknowledges the bus only once
:meth:`PendingSave.done` says the file is in place):

* ``snapshot="copy"`` (the default): the arrays are copied on the caller's thread, as
  bytes (one memory copy per array, into buffers taken before the loop started —
  :meth:`FileCheckpointStore.reserve` — or by the previous save once it is written), and
  a thread writes them (the CRC and the file writes release the GIL). Once the file is
  written the thread also makes room for an array that grew (:func:`_with_room`), so the
  loop's next copy finds its memory there. md's state (152 MB, and its VWAP pool besides
  while the window fills): a stall of 17 ms on a quiet machine, 15–55 ms inside the loaded
  ``bench/e2e.py`` run (36–200 ms before the room was made off the loop), once per
  checkpoint; md applies at 89% of its rate while the thread writes.
* ``snapshot="fork"``: ``os.fork()`` — the child process holds a copy-on-write image of
  the whole state as it was at the fork (the kernel copies a page only when the parent
  next writes it) and writes it from there, as Redis's ``BGSAVE`` does; the caller's
  thread pays the fork (page tables: milliseconds) and, while the child runs, a page fault
  and a 4 KB copy on the first write of each page. md writes most of its ~37,000 state
  pages within a save (1–2 s on a loaded 2-core machine, where the child waits for a
  core too) and applies at a quarter of its rate meanwhile (``bench/md_checkpoint.py``),
  against the copy's one short stall. In ``bench/e2e.py`` (3 runs each,
  docs/benchmarks.md) tick → risk p99 was 476–676 ms with ``fork`` and 279–338 ms with
  ``copy``. It costs no second copy of the state in memory (``copy`` keeps its buffers, as
  large as the state, between saves).

Either way the writer runs at a lower CPU priority (``WRITER_NICE``): its work (the CRC,
the kernel's copies into the page cache) can wait, the consumer's loop cannot, and on a
machine whose cores are all busy the scheduler otherwise shares a core evenly between
them for the second or so a save takes.

``bench/md_checkpoint.py`` measures both against the synchronous save.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from riskstream.core.errors import InputError, RiskstreamError

_POSITIONS = "__positions__"
_LOGS = "__logs__"  # the identity of each partition's log, in the order of __positions__
_LAYOUT = "__layout__"  # [the bus's partition count]
_RESERVED = (_POSITIONS, _LOGS, _LAYOUT)

WRITER_NICE = 10
"""The nice value a background checkpoint writer takes (the consumer's loop runs at 0).
Linux's scheduler weighs a nice-10 thread at about a tenth of a nice-0 one on a shared
core (weights 110 and 1024): the writer gets what the loop leaves, and no more than it
takes when the core is free."""


def lower_priority() -> None:
    """Give the calling thread (on Linux a thread has its own nice value; elsewhere the
    process) the priority :data:`WRITER_NICE`. Raising a nice value needs no privilege."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)


class CheckpointSaveError(RiskstreamError):
    """A checkpoint could not be written (the previous one stays in place)."""


@runtime_checkable
class Checkpointable(Protocol):
    """State that can be saved as named arrays and restored from them, bit for bit."""

    def state(self) -> dict[str, np.ndarray]:
        """The full state as named arrays (copies or views; they are written at once)."""

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Replace the state with a previously saved one."""


def state_views(state: Checkpointable) -> dict[str, np.ndarray]:
    """The state's arrays without copying them, where it offers ``state_views()`` (a
    forked child writes its frozen image, copying would only cost memory), else
    ``state()``."""
    views = getattr(state, "state_views", None)
    return views() if views is not None else state.state()


def copy_bytes(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src`` for arrays of one dtype and shape, as one memory copy where both
    are contiguous. numpy copies a structured array field by field: md's order table (64-byte
    records of 13 fields, 67 MB) took 45 ms that way against 6 ms as bytes, and the whole
    checkpoint's copy ~95 ms against ~15 ms. The bytes copied are the same (alignment padding
    included)."""
    if dst.flags.c_contiguous and src.flags.c_contiguous and dst.dtype == src.dtype:
        np.copyto(dst.reshape(-1).view(np.uint8), src.reshape(-1).view(np.uint8))
    else:
        np.copyto(dst, src)


@dataclass
class Checkpoint:
    """A consumer's positions and the state built from exactly those messages.

    ``logs`` names the log each position counts in (partition → ``name@incarnation``,
    :attr:`~riskstream.bus.base.PartitionLog.identity`) and ``bus_partitions`` how many
    partitions the bus had (instruments are spread ``instrument_id % partitions``): with
    another count the same positions mean other events. Both are empty / 0 in checkpoints
    written before they were recorded.
    """

    positions: dict[int, int] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    logs: dict[int, str] = field(default_factory=dict)
    bus_partitions: int = 0


class PendingSave(Protocol):
    """A checkpoint being written off the caller's thread."""

    positions: dict[int, int]  # what the checkpoint holds: acknowledge up to these once done

    def done(self) -> bool:
        """True once the checkpoint is in place. Raises :class:`CheckpointSaveError` if
        writing it failed."""

    def wait(self) -> None:
        """Block until :meth:`done`."""


class CheckpointStore(Protocol):
    def load(self) -> Checkpoint | None:
        """The last saved checkpoint, or None if there is none."""

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the saved checkpoint atomically."""


def begin_save(
    store: CheckpointStore,
    positions: Mapping[int, int],
    state: Checkpointable,
    logs: Mapping[int, str] | None = None,
    bus_partitions: int = 0,
) -> PendingSave:
    """Start saving ``state`` at ``positions``: the store's own :meth:`begin_save` where it
    has one (:class:`FileCheckpointStore`), else a synchronous save."""
    starter = getattr(store, "begin_save", None)
    if starter is not None:
        return starter(positions, state, logs, bus_partitions)
    checkpoint = Checkpoint(dict(positions), state.state(), dict(logs or {}), bus_partitions)
    store.save(checkpoint)
    return SavedAlready(checkpoint.positions)


class SavedAlready:
    """A :class:`PendingSave` that completed before it was returned."""

    def __init__(self, positions: dict[int, int]):
        self.positions = positions

    def done(self) -> bool:
        return True

    def wait(self) -> None:
        """Nothing to wait for."""


class _ThreadSave:
    """A checkpoint (its arrays already copied) written by a daemon thread."""

    def __init__(
        self,
        store: FileCheckpointStore,
        checkpoint: Checkpoint,
        buffers: dict[str, np.ndarray],
        room: dict[str, int],
    ):
        self.positions = checkpoint.positions
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(store, checkpoint, buffers, room), name="checkpoint-save",
            daemon=True,
        )  # fmt: skip
        self._thread.start()

    def _run(
        self,
        store: FileCheckpointStore,
        checkpoint: Checkpoint,
        buffers: dict[str, np.ndarray],
        room: dict[str, int],
    ) -> None:
        try:
            lower_priority()
            store.save(checkpoint)
            store._buffers = _with_room(buffers, room)  # written: the next copy reuses them
        except BaseException as exc:  # reported to the consuming thread by done()
            self._error = exc

    def done(self) -> bool:
        if self._thread.is_alive():
            return False
        if self._error is not None:
            raise CheckpointSaveError(f"writing the checkpoint failed: {self._error!r}")
        return True

    def wait(self) -> None:
        self._thread.join()
        self.done()


_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


class _ForkSave:
    """A checkpoint written by a forked child from its copy-on-write image of the state."""

    def __init__(
        self,
        store: FileCheckpointStore,
        positions: dict[int, int],
        state: Checkpointable,
        logs: dict[int, str],
        bus_partitions: int,
    ):
        self.positions = positions
        read_end, write_end = os.pipe()
        parent = os.getpid()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: write, report any error through the pipe, never return
            status = 1
            try:
                os.close(read_end)
                for signum in (signal.SIGINT, signal.SIGTERM):  # not the parent's handlers
                    signal.signal(signum, signal.SIG_DFL)
                _die_with_parent(parent)
                lower_priority()
                store.save(Checkpoint(positions, state_views(state), logs, bus_partitions))
                status = 0
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    os.write(write_end, repr(exc).encode()[:4000])
            finally:
                os._exit(status)  # no atexit handlers, no flushing of the parent's buffers
        os.close(write_end)
        self._pid = pid
        self._errors = read_end
        self._status: int | None = None
        self._message = ""

    def _finish(self, status: int) -> None:
        self._status = os.waitstatus_to_exitcode(status)
        with os.fdopen(self._errors, "rb") as errors:
            self._message = errors.read().decode(errors="replace")

    def _result(self) -> bool:
        if self._status != 0:
            raise CheckpointSaveError(
                f"the checkpoint writer (pid {self._pid}) exited with {self._status}: "
                f"{self._message or 'no error reported (killed?)'}"
            )
        return True

    def done(self) -> bool:
        if self._status is None:
            pid, status = os.waitpid(self._pid, os.WNOHANG)
            if pid == 0:
                return False
            self._finish(status)
        return self._result()

    def wait(self) -> None:
        if self._status is None:
            _, status = os.waitpid(self._pid, 0)
            self._finish(status)
        self._result()


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this (forked) process when its parent dies (Linux), so a
    crashed consumer leaves no writer behind to rename an old checkpoint over a newer one."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class MemoryCheckpointStore:
    """Checkpoints kept in memory (copies): for benchmarks and in-process pipelines."""

    def __init__(self) -> None:
        self._saved: Checkpoint | None = None
        self.saves = 0

    def __str__(self) -> str:
        return "the in-memory checkpoint"

    def load(self) -> Checkpoint | None:
        return self._saved

    def save(self, checkpoint: Checkpoint) -> None:
        self._saved = Checkpoint(
            dict(checkpoint.positions),
            {k: np.array(v) for k, v in checkpoint.state.items()},
            dict(checkpoint.logs),
            checkpoint.bus_partitions,
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
    snapshot : {"fork", "copy"}
        How :meth:`begin_save` takes the snapshot it writes in the background (see the
        module docstring); default ``"copy"``, always ``"copy"`` where there is no
        ``os.fork``.
    """

    def __init__(
        self,
        path: str | Path,
        fsync: bool = True,
        snapshot: Literal["fork", "copy"] | None = None,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        if snapshot not in (None, "fork", "copy"):
            raise InputError("snapshot", snapshot, "'fork' or 'copy'")
        if snapshot is None or not hasattr(os, "fork"):  # no fork (Windows): copy
            snapshot = "copy"
        self.snapshot = snapshot
        self.saves = 0
        self.last_save_s = 0.0  # how long the last save took (serialise, write, fsync)
        self._buffers: dict[str, np.ndarray] = {}  # "copy": the last written save's arrays
        self._rows: dict[str, int] = {}  # "copy": each array's rows at the last copy

    def __str__(self) -> str:
        return str(self.path)

    def load(self) -> Checkpoint | None:
        # a writer killed mid-save leaves its temporary file: never read, removed here
        for stale in self.path.parent.glob(f"{self.path.name}*.tmp"):
            stale.unlink(missing_ok=True)
        if not self.path.exists():
            return None
        with np.load(self.path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        positions = arrays.pop(_POSITIONS)
        identities = arrays.pop(_LOGS, np.zeros(0, dtype=str))
        layout = arrays.pop(_LAYOUT, np.zeros(1, dtype=np.int64))
        logs = {int(p): str(i) for (p, _), i in zip(positions, identities, strict=False) if i}
        return Checkpoint({int(p): int(s) for p, s in positions}, arrays, logs, int(layout[0]))

    def begin_save(
        self,
        positions: Mapping[int, int],
        state: Checkpointable,
        logs: Mapping[int, str] | None = None,
        bus_partitions: int = 0,
    ) -> PendingSave:
        """Snapshot ``state`` and write it in the background (see the module docstring)."""
        positions, logs = dict(positions), dict(logs or {})
        if self.snapshot == "fork":
            self.saves += 1  # the child's own count is lost with it
            return _ForkSave(self, positions, state, logs, bus_partitions)
        arrays, bases, room = self._copy(state)
        return _ThreadSave(self, Checkpoint(positions, arrays, logs, bus_partitions), bases, room)

    def reserve(self, state: Checkpointable) -> None:
        """``"copy"``: take the copy buffers now (a consumer calls it before consuming), so
        that its first checkpoint copies into memory already written, not page by page
        into fresh memory in the middle of its loop (370 ms for md's 152 MB here, against
        18 ms for the copy itself)."""
        if self.snapshot == "copy":
            self._buffers = self._copy(state)[1]
            self._rows.clear()  # a reservation is no growth

    def _copy(
        self, state: Checkpointable
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, int]]:
        """The state's arrays copied into this store's buffers (allocated where missing or
        too small): the copies, the buffers they lie in, and the rows each array that grew
        since the previous copy may need by the next but one (its rows now and twice that
        growth: the writer makes the room, :func:`_with_room`).

        ``state_views()`` hands out views (the Checkpointable contract): what is written is
        copied, into the previous save's buffers where it fits (the first ``n`` rows of a
        buffer hold an array of ``n`` rows, as md's VWAP pool up to its high-water mark: a
        buffer that must grow takes a quarter more), so that the copy is a memory copy,
        not a page fault per 4 KB of fresh memory (~10 µs each in a VM)."""
        buffers, self._buffers = self._buffers, {}
        arrays, bases, room = {}, {}, {}
        for name, a in state_views(state).items():
            buf = buffers.get(name)
            if a.ndim == 0 or buf is None or buf.dtype != a.dtype or buf.shape[1:] != a.shape[1:]:
                buf = np.empty_like(a, order="C")
            elif buf.shape[0] < a.shape[0]:
                buf = np.empty((a.shape[0] + a.shape[0] // 4, *a.shape[1:]), dtype=a.dtype)
            copy = buf if a.ndim == 0 else buf[: a.shape[0]]
            copy_bytes(copy, a)
            arrays[name], bases[name] = copy, buf
            if a.ndim:
                grew = a.shape[0] - self._rows.get(name, a.shape[0])
                self._rows[name] = a.shape[0]
                if grew > 0:
                    room[name] = a.shape[0] + 2 * grew
        return arrays, bases, room

    def save(self, checkpoint: Checkpoint) -> None:
        started = time.perf_counter()
        for name in _RESERVED:
            if name in checkpoint.state:
                raise InputError("state", name, f"a state array name other than {name}")
        order = sorted(checkpoint.positions)
        reserved = {
            _POSITIONS: np.array(
                [(p, checkpoint.positions[p]) for p in order], dtype=np.int64
            ).reshape(-1, 2),
            _LOGS: np.array([checkpoint.logs.get(p, "") for p in order], dtype=str),
            _LAYOUT: np.array([checkpoint.bus_partitions], dtype=np.int64),
        }
        fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                _write_npz(file, {**reserved, **checkpoint.state})
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
        self.last_save_s = time.perf_counter() - started


_PAGE = 4096


def _with_room(buffers: dict[str, np.ndarray], room: Mapping[str, int]) -> dict[str, np.ndarray]:
    """``buffers``, each one short of the rows ``room`` names replaced by one that has them,
    its pages written once here (on the writer's thread, at low priority).

    An array that grows between saves (md's VWAP pool while its window fills: ~30 MB per
    15 s at 500,000 events/s) outgrew its buffer at every save, and the loop's copy then
    faulted in fresh memory — 40-120 ms of md's loop under load (the kernel zeroes each
    page it hands out). Made here, the buffer is in memory before the loop's next copy;
    an array that stops growing keeps the buffer it has."""
    out = dict(buffers)
    for name, rows in room.items():  # arrays of one or more dimensions, each in `buffers`
        buf = out[name]
        if buf.shape[0] >= rows:
            continue
        bigger = np.empty((rows, *buf.shape[1:]), dtype=buf.dtype)
        bigger.reshape(-1).view(np.uint8)[::_PAGE] = 0  # fault every page in now
        out[name] = bigger
    return out


def _write_npz(file: object, arrays: Mapping[str, np.ndarray]) -> None:
    """``arrays`` as an uncompressed ``.npz`` (what ``np.load`` reads), each array's bytes
    handed to the file as they are in memory: no serialised copy, and the CRC and the write
    run without holding the GIL (``zlib.crc32`` and file writes release it), so a writer
    thread barely slows the thread that applies messages."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[arg-type]
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            with archive.open(f"{name}.npy", mode="w", force_zip64=True) as entry:
                header = np.lib.format.header_data_from_array_1_0(array)
                np.lib.format.write_array_header_2_0(entry, header)
                entry.write(array.reshape(-1).view(np.uint8).data)
