"""Wire format of the typed messages between stages (:mod:`riskstream.core.messages`,
``RiskSnapshot`` …): a schema-versioned binary codec, with no pickle.

Why not pickle
--------------
A pickle runs code named by the payload when it is loaded, ties the bytes to the writer's
class layout, and is unreadable outside Python. Here a payload only ever builds *registered*
frozen dataclasses from plain values and numpy arrays, and the document part is JSON that
any language (and a person with ``jq``) can read.

Layout
------
::

    offset 0   magic      b"RSWM"  4 bytes
           4   version    uint16   WIRE_VERSION (the layout of this format)
           6   flags      uint16   0 (reserved)
           8   doc_bytes  uint32   length of the JSON document
          12   reserved   uint32   0
          16   document   UTF-8 JSON, padded with spaces to a multiple of 16 bytes
          ..   buffers    raw array bytes, each starting on a 16-byte boundary

The document is ``{"type": name, "modules": {name: module}, "root": node, "buffers":
[[offset, nbytes], ...]}`` (``modules`` names where each registered type in the message is
defined; buffer offsets are relative to the start of the buffer region). A node is JSON for
``None``, ``bool``, ``int``, ``str`` and finite ``float``; everything else is a one-key
tagged object:

=================  ================================================================
``{"$f": "nan"}``  a non-finite float (``nan``, ``inf``, ``-inf``; JSON has none)
``{"$t": [...]}``  a tuple (a JSON array is a list)
``{"$d": [[k, v], ...]}``  a dict (keys of any encodable type, insertion order kept)
``{"$a": i, "dtype": d, "shape": [...]}``  an ndarray: buffer ``i`` (C order); ``d`` is
                   ``dtype.str`` or, for a structured dtype, its names, formats, offsets
                   and itemsize (padding kept, so ``EVENT_DTYPE`` arrays round-trip)
``{"$g": i, "dtype": d}``  a numpy scalar (``np.float64`` …), its bytes in buffer ``i``
``{"$b": i}``      ``bytes``
``{"$o": name, "f": {field: node}}``  an instance of the registered dataclass ``name``
=================  ================================================================

Schema versions
---------------
``WIRE_VERSION`` changes only with this layout. A message type evolves by fields: the owner
of a message kind may add a field *with a default*; a reader whose class has a field the
payload lacks uses the default (an old payload still reads), and a payload field the
reader's class does not know is an error naming it (the reader is older than the writer:
upgrade it), never silently dropped.

Decoding is zero-copy where it can be: arrays are read-only views of the payload bytes
(the message dataclasses keep arrays read-only anyway). The bytes of a message are not
canonical (a structured array's padding is copied as it is): message ids are built from a
message's identity (its lineage id, order id …), never from a hash of its payload.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import struct
from typing import Any

import numpy as np

from riskstream.core.errors import InputError

WIRE_VERSION = 1
MAGIC = b"RSWM"
HEADER = struct.Struct("<4sHHII")
ALIGN = 16

_REGISTRY: dict[str, type] = {}
_NAMES: dict[type, str] = {}
_MODULES: dict[str, str] = {}


def register(cls: type, name: str | None = None) -> type:
    """Allow instances of the dataclass ``cls`` on the wire, under ``name`` (default: the
    class name). Returns ``cls`` (usable as a decorator). Registering the same class again
    is a no-op; another class under a taken name is an error.
    """
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise InputError("cls", cls, "a dataclass type")
    name = name or cls.__name__
    known = _REGISTRY.get(name)
    # the same class re-created by a module reload keeps its name
    same_place = known is not None and (known.__module__, known.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if known is not None and known is not cls and not same_place:
        raise InputError("name", name, f"a name not taken by {known.__module__}.{name}")
    for f in dataclasses.fields(cls):
        if not f.init:
            raise InputError(f"{name}.{f.name}", "init=False", "fields set by the constructor")
    _REGISTRY[name] = cls
    _NAMES[cls] = name
    _MODULES[name] = cls.__module__
    return cls


def registered(name: str) -> type:
    """The class registered as ``name`` (see :func:`decode` for types not imported yet)."""
    cls = _REGISTRY.get(name)
    if cls is None:
        raise InputError(
            "type", name, f"a registered message type ({', '.join(sorted(_REGISTRY))})"
        )
    return cls


def _dtype_to_json(dtype: np.dtype) -> Any:
    if dtype.hasobject:
        raise InputError("dtype", str(dtype), "a numpy dtype without Python objects")
    if dtype.fields is not None:
        names = list(dtype.names or ())
        return {
            "names": names,
            "formats": [_dtype_to_json(dtype.fields[n][0]) for n in names],
            "offsets": [int(dtype.fields[n][1]) for n in names],
            "itemsize": int(dtype.itemsize),
        }
    if dtype.subdtype is not None:
        base, shape = dtype.subdtype
        return {"base": _dtype_to_json(base), "shape": list(shape)}
    return dtype.str


def _dtype_from_json(doc: Any) -> np.dtype:
    if isinstance(doc, str):
        return np.dtype(doc)
    if isinstance(doc, dict) and "names" in doc:
        return np.dtype(
            {
                "names": doc["names"],
                "formats": [_dtype_from_json(f) for f in doc["formats"]],
                "offsets": doc["offsets"],
                "itemsize": doc["itemsize"],
            }
        )
    if isinstance(doc, dict) and "base" in doc:
        return np.dtype((_dtype_from_json(doc["base"]), tuple(doc["shape"])))
    raise InputError("dtype", doc, "a dtype string or a structured dtype description")


class _Encoder:
    def __init__(self) -> None:
        self.buffers: list[memoryview] = []
        self.modules: dict[str, str] = {}  # registered type name -> its module

    def _buffer(self, data: Any) -> int:
        self.buffers.append(memoryview(data).cast("B"))
        return len(self.buffers) - 1

    def node(self, value: Any, path: str) -> Any:
        # bool before int (bool is an int); numpy scalars before float (np.float64 is one)
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.generic):
            arr = np.asarray(value)
            return {"$g": self._buffer(arr.tobytes()), "dtype": _dtype_to_json(arr.dtype)}
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return {"$f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
        if isinstance(value, np.ndarray):
            try:
                dtype = _dtype_to_json(value.dtype)
            except InputError as exc:
                raise InputError(path, str(value.dtype), exc.expected) from None
            data = np.ascontiguousarray(value)
            return {
                "$a": self._buffer(data.view(np.uint8).reshape(-1) if data.size else b""),
                "dtype": dtype,
                "shape": list(value.shape),
            }
        if isinstance(value, bytes | bytearray):
            return {"$b": self._buffer(bytes(value))}
        if isinstance(value, tuple):
            return {"$t": [self.node(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.node(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {
                "$d": [
                    [self.node(k, f"{path}.<key>"), self.node(v, f"{path}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        name = _NAMES.get(type(value))
        if name is not None:
            self.modules[name] = _MODULES[name]
            return {
                "$o": name,
                "f": {
                    f.name: self.node(getattr(value, f.name), f"{path}.{f.name}")
                    for f in dataclasses.fields(value)
                },
            }
        raise InputError(
            path,
            type(value).__name__,
            "None, bool, int, float, str, bytes, tuple, list, dict, a numpy array or "
            "scalar, or a registered dataclass (riskstream.core.wire.register)",
        )


def _pad(n: int) -> int:
    return -n % ALIGN


def encode(message: Any) -> bytes:
    """The wire bytes of ``message`` (see the module docstring).

    Raises
    ------
    InputError
        Something in ``message`` cannot travel (names where: ``message.valuation.price``).
    """
    enc = _Encoder()
    root = enc.node(message, "message")
    offsets = []
    at = 0
    for buf in enc.buffers:
        offsets.append([at, buf.nbytes])
        at += buf.nbytes + _pad(buf.nbytes)
    type_name = _NAMES.get(type(message), type(message).__name__)
    doc = json.dumps(
        {"type": type_name, "modules": enc.modules, "root": root, "buffers": offsets},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode()
    doc += b" " * _pad(len(doc))
    out = bytearray(HEADER.size + len(doc) + at)
    HEADER.pack_into(out, 0, MAGIC, WIRE_VERSION, 0, len(doc), 0)
    out[HEADER.size : HEADER.size + len(doc)] = doc
    base = HEADER.size + len(doc)
    for (offset, nbytes), buf in zip(offsets, enc.buffers, strict=True):
        out[base + offset : base + offset + nbytes] = buf
    return bytes(out)


class _Decoder:
    def __init__(self, payload: bytes | memoryview, base: int, buffers: list[list[int]]):
        self.payload = payload
        self.base = base
        self.buffers = buffers

    def _span(self, index: Any, path: str) -> tuple[int, int]:
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise InputError(f"{path}.buffer", index, f"a buffer index below {len(self.buffers)}")
        offset, nbytes = self.buffers[index]
        start = self.base + offset
        if start + nbytes > len(self.payload):
            raise InputError(f"{path}.buffer", index, "a buffer inside the payload (truncated?)")
        return start, nbytes

    def node(self, doc: Any, path: str) -> Any:
        if doc is None or isinstance(doc, bool | int | float | str):
            return doc
        if isinstance(doc, list):
            return [self.node(v, f"{path}[{i}]") for i, v in enumerate(doc)]
        if not isinstance(doc, dict) or not doc:
            raise InputError(path, doc, "a wire node")
        if "$f" in doc:
            return float(doc["$f"])
        if "$t" in doc:
            return tuple(self.node(v, f"{path}[{i}]") for i, v in enumerate(doc["$t"]))
        if "$d" in doc:
            return {
                self.node(k, f"{path}.<key>"): self.node(v, f"{path}[{k!r}]") for k, v in doc["$d"]
            }
        if "$a" in doc:
            dtype = _dtype_from_json(doc["dtype"])
            shape = tuple(doc["shape"])
            start, nbytes = self._span(doc["$a"], path)
            count = math.prod(shape)
            if nbytes != count * dtype.itemsize:
                raise InputError(path, nbytes, f"{count * dtype.itemsize} bytes for {shape}")
            arr = np.frombuffer(self.payload, dtype=dtype, count=count, offset=start)
            return arr.reshape(shape)
        if "$g" in doc:
            dtype = _dtype_from_json(doc["dtype"])
            start, nbytes = self._span(doc["$g"], path)
            return np.frombuffer(self.payload, dtype=dtype, count=1, offset=start)[0]
        if "$b" in doc:
            start, nbytes = self._span(doc["$b"], path)
            return bytes(self.payload[start : start + nbytes])
        if "$o" in doc:
            return self.instance(doc["$o"], doc.get("f", {}), path)
        raise InputError(path, sorted(doc), "one of the tags $f $t $d $a $g $b $o")

    def instance(self, name: str, fields: dict[str, Any], path: str) -> Any:
        cls = registered(name)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InputError(
                f"{path}.{unknown[0]}",
                unknown,
                f"fields of {name} in this build ({', '.join(sorted(known))}); the writer is "
                "newer than this reader",
            )
        kwargs = {k: self.node(v, f"{path}.{k}") for k, v in fields.items()}
        return cls(**kwargs)


def decode(payload: bytes | memoryview, expect: type | None = None) -> Any:
    """The message held by ``payload``.

    Parameters
    ----------
    payload : bytes
        Bytes made by :func:`encode`.
    expect : type, optional
        The type the caller expects; another type is an error.

    Raises
    ------
    InputError
        The payload is not a wire message of this version, is truncated, names an
        unregistered type, or carries a field this build's class lacks.
    """
    if len(payload) < HEADER.size:
        raise InputError("payload", f"{len(payload)} bytes", f"at least {HEADER.size} bytes")
    magic, version, _flags, doc_bytes, _reserved = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise InputError("payload.magic", bytes(magic), repr(MAGIC))
    if version != WIRE_VERSION:
        raise InputError("payload.version", version, f"wire version {WIRE_VERSION}")
    base = HEADER.size + doc_bytes
    if base > len(payload):
        raise InputError("payload.length", len(payload), f"at least {base} bytes (truncated?)")
    try:
        doc = json.loads(bytes(payload[HEADER.size : base]))
    except ValueError as exc:
        raise InputError("payload.document", str(exc), "a JSON document") from None
    type_name = doc.get("type")
    _import_for(doc)
    message = _Decoder(payload, base, doc.get("buffers", [])).node(doc.get("root"), "message")
    if expect is not None and not isinstance(message, expect):
        raise InputError("payload.type", type_name, expect.__name__)
    return message


def _import_for(doc: dict[str, Any]) -> None:
    """Import the riskstream modules that register the payload's types, if not yet done.

    A type defined in a module this process has not imported (a ``RiskSnapshot`` read by a
    stage that never imports the risk package) is found by importing the module the writer
    named, which registers it. Only ``riskstream.`` modules are imported, and only
    registered classes are ever built: a payload cannot make the reader run other code.
    """
    modules = doc.get("modules") or {}
    for name, module in modules.items():
        if name not in _REGISTRY and isinstance(module, str) and module.startswith("riskstream."):
            importlib.import_module(module)


def _register_messages() -> None:
    from riskstream.core import messages

    for cls in (
        messages.MarketStateDelta,
        messages.Fill,
        messages.PositionChangeRequest,
        messages.PositionChangeResult,
        messages.PositionsChanged,
        messages.RegimeChanged,
        messages.LimitState,
        messages.FxRates,
        messages.StageStats,
        messages.Quarantined,
        messages.OrderAudit,
        messages.AbuseAlerts,
    ):
        register(cls)


_register_messages()
