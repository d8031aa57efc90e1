"""Checkpoints without pickle: ``save``/``load`` in the safetensors format, and a restricted
reader for PyTorch ``.pt``/``.pth`` state dicts.

A checkpoint is any nesting of dicts, lists and tuples whose leaves are Tensors, NumPy arrays or
JSON values (None, bool, int, float, str). Tensors go into the safetensors data section; the
nesting, with references to the tensors by name, goes into the header's ``__metadata__`` as
JSON. A flat ``{name: Tensor}`` dict (a ``state_dict``) is stored under its own key names, so
other safetensors readers see an ordinary file. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import pickletools
import reprlib
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from biotorch import backend
from biotorch._atomic import atomic_output
from biotorch.tensor import Tensor

__all__ = ["save", "load", "load_torch_state_dict", "CheckpointError"]

_FORMAT = "biotorch.checkpoint/1"
_TO_SAFETENSORS = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
}
_FROM_SAFETENSORS = {v: np.dtype(k).newbyteorder("<") for k, v in _TO_SAFETENSORS.items()}
_FROM_SAFETENSORS["BF16"] = np.dtype("<u2")  # bfloat16 bits, widened to float32 on reading
_MAX_HEADER = 100 * 1024 * 1024  # bytes of a safetensors header or a PyTorch data.pkl
_MAX_NESTING = 100  # dicts/lists/tuples inside one another in a checkpoint
_MAX_DIMS = 64  # NumPy's limit
_INT64_MAX = 2**63 - 1
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_show = _SHORT.repr  # untrusted values in error messages: bounded length, no deep recursion


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint (truncated, corrupted, or another format)."""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _child_path(path: str, key) -> str:
    """``path.key``: how checkpoints name nested values (in errors and tensor names)."""
    key = key if isinstance(key, str | int) else _show(key)
    return f"{path}.{key}" if path else str(key)


# -- writing ---------------------------------------------------------------------------------------
def _flatten(obj, path: str, tensors: dict, depth: int = 0):
    """The JSON structure of ``obj``, collecting its tensors into ``tensors`` by name."""
    if depth > _MAX_NESTING:
        raise ValueError(
            f"save: {path} is nested more than {_MAX_NESTING} containers deep (a cycle?); "
            f"load would refuse it"
        )
    if isinstance(obj, Tensor | np.ndarray):
        array = obj._data if isinstance(obj, Tensor) else obj
        name = path or "tensor"
        while name in tensors:
            name += "'"
        tensors[name] = array
        device = str(backend.device_of(array))
        return {"__tensor__": name, "device": device, "numpy": not isinstance(obj, Tensor)}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise TypeError(
                    f"save: dict keys must be str or int, got {key!r} at {path or '<root>'}"
                )
            items.append([key, _flatten(value, _child_path(path, key), tensors, depth + 1)])
        return {"__dict__": items}
    if isinstance(obj, list | tuple):
        values = [_flatten(v, _child_path(path, i), tensors, depth + 1) for i, v in enumerate(obj)]
        return {"__tuple__": values} if isinstance(obj, tuple) else values
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} at {path or '<root>'}; checkpoints hold "
        f"tensors, arrays, numbers, strings, None, and dicts/lists/tuples of them"
    )


def save(obj, f) -> None:
    """Write ``obj`` (a state dict or any nesting of tensors and JSON values) to ``f``.

    A path is written all-or-nothing: to a temporary file beside it, flushed to disk and
    renamed, so an interrupted save never leaves a partial file or destroys the previous
    checkpoint at that path. An existing file keeps its permissions; a new one gets those
    ``open()`` would give it (the process umask is never changed). A process killed outright
    (SIGKILL, power loss) mid-save can leave its temporary file behind, named
    ``.<stem>.tmp-<pid>-<random><suffix>`` beside the target; ``find DIR -name '.*.tmp-*'``
    lists them, and they can be deleted once no save is running.
    """
    tensors: dict = {}
    structure = _flatten(obj, "", tensors)
    header: dict = {"__metadata__": {"format": _FORMAT, "structure": json.dumps(structure)}}
    offset = 0
    blobs = []
    for name, array in tensors.items():
        host = np.asarray(backend.to_device(array, backend.CPU), order="C")  # keeps 0-d shape
        dtype = _TO_SAFETENSORS.get(host.dtype.name)
        if dtype is None:
            raise TypeError(f"save: tensor {name!r} has unsupported dtype {host.dtype}")
        data = host.astype(host.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(host.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    if hasattr(f, "write"):
        _write_all(f, encoded, blobs)
        return
    with atomic_output(f) as tmp, open(tmp, "wb") as out:
        _write_all(out, encoded, blobs)


def _write_all(out, header: bytes, blobs: list) -> None:
    out.write(struct.pack("<Q", len(header)))
    out.write(header)
    for blob in blobs:
        out.write(blob)


# -- reading ---------------------------------------------------------------------------------------
def _read_bytes(f) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<stream>")
    path = os.fspath(f)
    with open(path, "rb") as handle:
        return handle.read(), path


def _shape_problem(shape, label: str) -> str | None:
    """Why ``shape`` cannot be an array's shape (Python ints throughout: nothing wraps), or None."""
    if not isinstance(shape, list | tuple) or not all(_is_int(d) for d in shape):
        return f"{label} {_show(shape)} is not a list of integers"
    if len(shape) > _MAX_DIMS:
        return f"{label} has {len(shape)} dimensions, more than {_MAX_DIMS}"
    if any(d < 0 for d in shape):
        return f"{label} {list(shape)} has a negative dimension"
    if math.prod(max(d, 1) for d in shape) > _INT64_MAX:
        return f"{label} {list(shape)} has more elements than an int64 can count"
    return None


def _parse_safetensors(raw: bytes, where: str) -> tuple[dict, dict]:
    """(metadata, {name: numpy array}) from safetensors bytes, validating everything."""
    header, data = _safetensors_header(raw, where)
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(
            f"load: {where}: __metadata__ must map strings to strings, got {_show(metadata)}"
        )
    arrays, spans = {}, []
    for name, info in header.items():
        dtype, shape, begin, end = _safetensors_entry(name, info, len(data), where)
        array = np.frombuffer(data[begin:end], _FROM_SAFETENSORS[dtype])
        if dtype == "BF16":
            array = _bfloat16_to_float32(array)
        arrays[name] = array.reshape(shape)
        spans.append((begin, end, name))
    _check_tiling(spans, len(data), where)
    return metadata, arrays


def _safetensors_header(raw: bytes, where: str) -> tuple[dict, memoryview]:
    """The parsed JSON header of safetensors bytes, and the data section after it."""
    if len(raw) < 8:
        raise CheckpointError(f"load: {where} is too short to be a checkpoint ({len(raw)} bytes)")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > _MAX_HEADER or 8 + size > len(raw):
        raise CheckpointError(
            f"load: {where} is not a safetensors checkpoint, or it is truncated "
            f"(header of {size} bytes declared, file has {len(raw)} bytes)"
        )
    try:
        header = json.loads(raw[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(f"load: {where} has a corrupted header ({str(err)[:200]})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"load: {where} has a corrupted header (not a JSON object)")
    return header, memoryview(raw)[8 + size :]


def _safetensors_entry(name: str, info, data_size: int, where: str):
    """(dtype, shape, begin, end) of one header entry, checked against the data section's size."""

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"load: {where}: tensor {_show(name)}: {problem}")

    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise bad(f"malformed entry {_show(info)} (expected dtype, shape and data_offsets)")
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str) or dtype_name not in _FROM_SAFETENSORS:
        raise bad(f"unsupported dtype {_show(dtype_name)}")
    problem = _shape_problem(shape, "shape")
    if problem:
        raise bad(problem)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))):
        raise bad(f"data_offsets {_show(offsets)} is not a [begin, end] pair of integers")
    begin, end = offsets
    nbytes = math.prod(shape) * _FROM_SAFETENSORS[dtype_name].itemsize
    if not 0 <= begin <= end <= data_size or end - begin != nbytes:
        raise bad(
            f"{dtype_name} of shape {shape} ({nbytes} bytes) does not fit its byte range "
            f"[{begin}, {end}) of a {data_size}-byte data section (truncated?)"
        )
    return dtype_name, shape, begin, end


def _check_tiling(spans: list, data_size: int, where: str) -> None:
    """The tensors' byte ranges must tile the data section exactly, as the format requires."""
    covered, previous = 0, None
    for begin, end, name in sorted(spans):
        if begin < covered:
            raise CheckpointError(
                f"load: {where}: tensor {_show(name)}: bytes [{begin}, {end}) overlap those of "
                f"tensor {_show(previous)}"
            )
        if begin > covered:
            raise CheckpointError(
                f"load: {where}: tensor {_show(name)}: bytes [{covered}, {begin}) before it "
                f"belong to no tensor"
            )
        covered, previous = end, name
    if covered != data_size:
        raise CheckpointError(
            f"load: {where}: {data_size - covered} trailing bytes after the tensor data"
        )


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 (no NumPy dtype) widened exactly to float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _resolve_device(saved: str, map_location):
    if map_location is None:
        return backend.device(saved)
    if callable(map_location):
        return backend.device(map_location(saved))
    if isinstance(map_location, dict):
        return backend.device(map_location.get(saved, saved))
    return backend.device(map_location)


def _place(array: np.ndarray, device) -> Tensor:
    array = array.astype(array.dtype.newbyteorder("="), copy=True)
    if device.type == "cpu":
        return Tensor._make(array, False, None, 0)
    if not backend.cuda_is_available():
        raise RuntimeError(
            f"load: the checkpoint holds tensors saved on {device}, and no CUDA device is "
            f"available; pass map_location='cpu'"
        )
    return Tensor._make(backend.to_device(array, device), False, None, 0)


def _is_device(saved) -> bool:
    if not isinstance(saved, str):
        return False
    try:
        backend.device(saved)
    except ValueError:
        return False
    return True


def _is_pair(item) -> bool:
    return isinstance(item, list) and len(item) == 2 and isinstance(item[0], str | int)


def _rebuild(node, arrays: dict, map_location, where: str, path: str = "", depth: int = 0):
    """The saved object described by the structure ``node`` (``_flatten``'s inverse)."""

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"load: {where}: structure at {path or '<root>'}: {problem}")

    if depth > _MAX_NESTING:
        raise bad(f"nested more than {_MAX_NESTING} containers deep")
    if isinstance(node, list):
        return [
            _rebuild(v, arrays, map_location, where, _child_path(path, i), depth + 1)
            for i, v in enumerate(node)
        ]
    if not isinstance(node, dict):
        return node
    if "__tensor__" in node:
        name, saved = node["__tensor__"], node.get("device", "cpu")
        if not isinstance(name, str) or name not in arrays:
            raise bad(f"names a missing tensor {_show(name)}")
        if not _is_device(saved):
            raise bad(f"tensor {name!r} has an invalid device {_show(saved)}")
        tensor = _place(arrays[name], _resolve_device(saved, map_location))
        return tensor.numpy() if node.get("numpy") else tensor
    if isinstance(node.get("__tuple__"), list):
        return tuple(
            _rebuild(v, arrays, map_location, where, _child_path(path, i), depth + 1)
            for i, v in enumerate(node["__tuple__"])
        )
    items = node.get("__dict__")
    if isinstance(items, list) and all(map(_is_pair, items)):
        return OrderedDict(
            (key, _rebuild(value, arrays, map_location, where, _child_path(path, key), depth + 1))
            for key, value in items
        )
    raise bad(f"unrecognised entry {_show(node)}")


def load(f, map_location=None, *, weights_only: bool = True):
    """Read a checkpoint written by :func:`save`, or any safetensors file (a flat dict).

    ``map_location`` is a device (``"cpu"``), a dict from saved to new device names, or a
    function of the saved device name. Truncated, corrupted, malformed and foreign files raise
    :class:`CheckpointError` naming the file and the tensor; ``weights_only`` is accepted for
    PyTorch compatibility (loading never runs code).
    """
    raw, where = _read_bytes(f)
    if raw[:2] == b"PK":
        raise CheckpointError(
            f"load: {where} is a PyTorch zip checkpoint; read its weights with "
            f"biotorch.load_torch_state_dict({where!r})"
        )
    metadata, arrays = _parse_safetensors(raw, where)
    if metadata.get("format") != _FORMAT:
        return OrderedDict(
            (name, _place(array, _resolve_device("cpu", map_location)))
            for name, array in arrays.items()
        )
    try:
        structure = json.loads(metadata["structure"])
    except (KeyError, json.JSONDecodeError, RecursionError) as err:
        raise CheckpointError(
            f"load: {where}: corrupted structure metadata ({str(err)[:200]})"
        ) from None
    return _rebuild(structure, arrays, map_location, where)


# -- PyTorch zip checkpoints -----------------------------------------------------------------------
_TORCH_STORAGES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16",
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# Everything read or built from one .pt file (decompressed members and copied-out tensors) may
# total at most this many times the file's size, plus the slack: a stored (uncompressed) torch
# archive needs about 2x; zip bombs, overlapping members and storages reused by thousands of
# tensors need far more.
_MAX_EXPANSION = 64
_EXPANSION_SLACK = 64 * 1024 * 1024
_PLAIN = (type(None), bool, int, float, str, bytes)


class _StorageType:
    def __init__(self, name: str, dtype) -> None:
        self.name, self.dtype = name, dtype

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _StorageRef:
    """A storage id from the pickle, checked and read only when a tensor uses it."""

    def __init__(self, pid) -> None:
        self.pid = pid

    def __repr__(self) -> str:
        return f"storage {_show(self.pid)}"


class _TensorRecord:
    """``torch._utils._rebuild_tensor_v2``'s arguments, built once the key naming them is known."""

    def __init__(self, storage, offset, size, stride, *_ignored) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


def _rebuild_parameter(data, requires_grad, *_ignored):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only tensor reconstruction and plain containers; refuses every other global."""

    _ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _TensorRecord,
        ("torch._utils", "_rebuild_tensor"): _TensorRecord,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, data: bytes, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self._where = where

    def find_class(self, module: str, name: str):
        if module == "torch" and name in _TORCH_STORAGES:
            return _StorageType(name, _TORCH_STORAGES[name])
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        raise CheckpointError(
            f"load_torch_state_dict: {self._where} refers to {module}.{name}, which is not a "
            f"tensor or a plain container; refusing to load it (it could run code)"
        )

    def persistent_load(self, pid):
        return _StorageRef(pid)


def _declares_bytearray(data: bytes) -> bool:
    """Whether a pickle has (or may have) a BYTEARRAY8, which CPython's unpickler allocates at its
    declared size before reading it: a few bytes could reserve gigabytes."""
    if b"\x96" not in data:  # the opcode's byte appears nowhere: the usual, fast answer
        return False
    try:
        return any(op.name == "BYTEARRAY8" for op, _, _ in pickletools.genops(data))
    except ValueError:  # unparsable: unpickling would fail too, perhaps after the allocation
        return True


def _strided_problem(offset, size, stride, storage_numel: int) -> str | None:
    """Why a view (offset, size, stride) of a ``storage_numel``-element storage is unsafe, or None.

    Safe means: every element it reaches lies in the storage. (An expanded view, stride 0, may
    hold more elements than its storage; the archive's expansion budget bounds what it costs.)
    """
    if not _is_int(offset) or offset < 0:
        return f"storage offset {_show(offset)} is not an integer >= 0"
    problem = _shape_problem(size, "size")
    if problem:
        return problem
    if not (
        isinstance(stride, list | tuple)
        and len(stride) == len(size)
        and all(_is_int(s) and s >= 0 for s in stride)
    ):
        return f"stride {_show(stride)} is not {len(size)} integers >= 0 (size {list(size)})"
    if offset > storage_numel:
        return f"storage offset {offset} lies past its {storage_numel}-element storage"
    numel = math.prod(size)
    if numel == 0:
        return None
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage_numel:
        return (
            f"offset {offset}, size {list(size)} and stride {list(stride)} reach element {last} "
            f"of its {storage_numel}-element storage"
        )
    return None


class _TorchArchive:
    """An open PyTorch zip checkpoint: its members read within a size budget, and its tensors
    built from its storages after checking every view against the storage it reads."""

    def __init__(self, archive: zipfile.ZipFile, where: str) -> None:
        self.archive, self.where = archive, where
        self.budget = _MAX_EXPANSION * os.path.getsize(where) + _EXPANSION_SLACK
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"load_torch_state_dict: {where} has no single data.pkl")
        self.pickle = pickles[0]
        self.prefix = self.pickle[: -len("data.pkl")]
        self.order = self._byte_order()
        self.last_storage: tuple = (None, None)  # (id, array): views of one storage come together

    def error(self, name: str | None, problem: str) -> CheckpointError:
        subject = f"tensor {_show(name)}: " if name is not None else ""
        return CheckpointError(f"load_torch_state_dict: {self.where}: {subject}{problem}")

    def info(self, member: str, name: str | None, max_size: int | None = None) -> zipfile.ZipInfo:
        """The archive's entry for ``member``, which may declare at most ``max_size`` bytes."""
        try:
            info = self.archive.getinfo(member)
        except KeyError:
            raise self.error(name, f"the archive lacks {member}") from None
        if max_size is not None and info.file_size > max_size:
            raise self.error(name, f"{member} holds {info.file_size} bytes, over {max_size}")
        return info

    def read(self, info: zipfile.ZipInfo, name: str | None) -> bytes:
        """The bytes of a member, decompressing no more than it declares, counted against the
        budget."""
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(name, f"{info.filename} uses zip compression {info.compress_type}")
        self.spend(info.file_size, name)
        try:
            with self.archive.open(info) as handle:
                data = handle.read(info.file_size)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as err:
            raise self.error(name, f"{info.filename} is corrupted or encrypted ({err})") from None
        if len(data) != info.file_size:
            raise self.error(name, f"{info.filename} is truncated")
        return data

    def spend(self, nbytes: int, name: str | None) -> None:
        self.budget -= nbytes
        if self.budget < 0:
            raise self.error(
                name,
                f"expands to more than {_MAX_EXPANSION} times its size on disk (a zip bomb, or "
                f"storages reused by many tensors); refusing to allocate more",
            )

    def _byte_order(self) -> str:
        member = f"{self.prefix}byteorder"
        if member not in self.archive.NameToInfo:
            return "<"  # files from torch < 1.9 have no byteorder record: little-endian
        text = self.read(self.info(member, None, 16), None).strip()
        if text not in (b"little", b"big"):
            raise self.error(None, f"{member} says {_show(text)}, not little or big")
        return "<" if text == b"little" else ">"

    def load_pickle(self):
        data = self.read(self.info(self.pickle, None, _MAX_HEADER), None)
        if _declares_bytearray(data):
            raise self.error(None, "data.pkl declares a bytearray, which no state dict holds")
        try:
            return _RestrictedUnpickler(data, self.where).load()
        except CheckpointError:
            raise
        except Exception as err:  # pickle's own errors are many: any of them means corrupted
            raise self.error(None, f"data.pkl is corrupted ({str(err)[:200]})") from None

    def storage(self, ref, name: str) -> np.ndarray:
        """The whole storage behind a tensor, checked against the size its record states."""
        pid = ref.pid if isinstance(ref, _StorageRef) else None
        if not (
            isinstance(pid, tuple)
            and len(pid) >= 5
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and _is_int(pid[4])
            and pid[4] >= 0
        ):
            raise self.error(name, f"bad storage id {_show(pid if pid is not None else ref)}")
        _, storage_type, key, _location, numel = pid[:5]
        if self.last_storage[0] != (key, storage_type.name, numel):
            bfloat16 = storage_type.dtype == "bfloat16"
            dtype = np.dtype("u2" if bfloat16 else storage_type.dtype).newbyteorder(self.order)
            expected = numel * dtype.itemsize
            info = self.info(f"{self.prefix}data/{key}", name)
            if info.file_size != expected:
                size = info.file_size
                whole = "" if size % dtype.itemsize == 0 else ", not a whole number of elements"
                raise self.error(
                    name,
                    f"storage {key} holds {size} bytes{whole}; its record says {numel} "
                    f"{storage_type!r} elements ({expected} bytes)",
                )
            array = np.frombuffer(self.read(info, name), dtype)
            array = _bfloat16_to_float32(array) if bfloat16 else array
            self.last_storage = ((key, storage_type.name, numel), array)
        return self.last_storage[1]

    def tensor(self, record: _TensorRecord, name: str) -> np.ndarray:
        """A copy of the view ``record`` describes, built only once it is known to be in bounds."""
        storage = self.storage(record.storage, name)
        offset, size, stride = record.offset, record.size, record.stride
        problem = _strided_problem(offset, size, stride, len(storage))
        if problem:
            raise self.error(name, problem)
        native, numel = storage.dtype.newbyteorder("="), math.prod(size)
        self.spend(numel * native.itemsize, name)
        if numel == 0:
            return np.empty(tuple(size), native)
        steps = tuple(
            s * storage.itemsize if n > 1 else 0 for n, s in zip(size, stride, strict=True)
        )
        view = np.lib.stride_tricks.as_strided(
            storage[offset:], shape=tuple(size), strides=steps, writeable=False
        )
        return view.astype(native, order="C")


def load_torch_state_dict(path) -> OrderedDict:
    """Read a PyTorch ``.pt``/``.pth`` state dict (zip format) without PyTorch.

    Only tensors, ``OrderedDict``s and plain containers are admitted; a file that refers to
    anything else (which unpickling could use to run code) is refused. Every tensor's offset,
    size and stride are checked against its storage before anything is read, so a crafted file
    raises :class:`CheckpointError` (naming the file and the tensor's key) instead of reading
    outside its data. A ``.safetensors`` file is read with :func:`load`. bfloat16 tensors are
    widened to float32.
    """
    where = os.fspath(path)
    with open(where, "rb") as handle:
        magic = handle.read(2)
    if magic != b"PK":
        if magic and magic[0] != 0x80:
            return load(where)
        raise CheckpointError(
            f"load_torch_state_dict: {where} is not a zip-format PyTorch checkpoint (the legacy "
            f"pre-1.6 format is not supported; re-save it with a current torch.save)"
        )
    try:
        archive = zipfile.ZipFile(where)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as err:
        raise CheckpointError(f"load_torch_state_dict: {where} is corrupted ({err})") from None
    with archive:
        torch_archive = _TorchArchive(archive, where)
        return _to_tensors(torch_archive.load_pickle(), torch_archive, "", 0, {})


def _is_plain_key(key) -> bool:
    """A dict key or set element that a state dict may hold (no tensor or storage inside)."""
    return isinstance(key, _PLAIN) or (
        isinstance(key, tuple) and all(isinstance(k, _PLAIN) for k in key)
    )


def _to_tensors(obj, archive: _TorchArchive, path: str, depth: int, done: dict):
    """``obj`` with its tensor records built, each named by its key path; shared sub-objects are
    built once (``done``, by id), so a pickle of many references cannot blow up exponentially."""
    if depth > _MAX_NESTING:
        raise archive.error(None, f"{path or '<root>'} is nested over {_MAX_NESTING} deep")
    if isinstance(obj, _PLAIN):
        return obj
    if id(obj) in done:
        return done[id(obj)]
    if isinstance(obj, _TensorRecord):
        built = Tensor._make(archive.tensor(obj, path or "<root>"), False, None, 0)
    elif isinstance(obj, dict) and all(map(_is_plain_key, obj)):
        built = OrderedDict(
            (k, _to_tensors(v, archive, _child_path(path, k), depth + 1, done))
            for k, v in obj.items()
        )
    elif isinstance(obj, list | tuple):
        built = type(obj)(
            _to_tensors(v, archive, _child_path(path, i), depth + 1, done)
            for i, v in enumerate(obj)
        )
    elif isinstance(obj, set | frozenset) and all(map(_is_plain_key, obj)):
        built = obj
    else:
        raise archive.error(None, f"{path or '<root>'} holds {_show(obj)}, not a state dict value")
    done[id(obj)] = built
    return built
