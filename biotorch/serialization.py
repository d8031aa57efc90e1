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
import os
import pickle
import struct
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from biotorch import backend
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
_FROM_SAFETENSORS = {v: np.dtype(k) for k, v in _TO_SAFETENSORS.items()}
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(ValueError):
    """A file that is not a valid checkpoint (truncated, corrupted, or another format)."""


# -- writing ---------------------------------------------------------------------------------------
def _flatten(obj, path: str, tensors: dict):
    """The JSON structure of ``obj``, collecting its tensors into ``tensors`` by name."""
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
            items.append([key, _flatten(value, f"{path}.{key}" if path else str(key), tensors)])
        return {"__dict__": items}
    if isinstance(obj, list | tuple):
        values = [
            _flatten(v, f"{path}.{i}" if path else str(i), tensors) for i, v in enumerate(obj)
        ]
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

    The file is written to a temporary name, flushed to disk and renamed, so an interrupted save
    never leaves a partial file or destroys the previous checkpoint at that path.
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
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_all(out, encoded, blobs)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_all(out, header: bytes, blobs: list) -> None:
    out.write(struct.pack("<Q", len(header)))
    out.write(header)
    for blob in blobs:
        out.write(blob)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------------
def _read_bytes(f) -> tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<stream>")
    path = os.fspath(f)
    with open(path, "rb") as handle:
        return handle.read(), path


def _parse_safetensors(raw: bytes, where: str) -> tuple[dict, dict]:
    """(metadata, {name: numpy array}) from safetensors bytes, validating everything."""
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
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"load: {where} has a corrupted header ({err})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"load: {where} has a corrupted header (not a JSON object)")
    data = memoryview(raw)[8 + size :]
    metadata = header.pop("__metadata__", None) or {}
    arrays, spans = {}, []
    for name, info in header.items():
        try:
            dtype_name, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"load: {where}: entry {name!r} is malformed") from None
        count = int(np.prod(shape, dtype=np.int64))
        itemsize = 2 if dtype_name == "BF16" else _dtype(dtype_name, name, where).itemsize
        if not 0 <= begin <= end <= len(data) or end - begin != count * itemsize:
            raise CheckpointError(
                f"load: {where}: tensor {name!r} ({dtype_name}, shape {shape}) does not fit its "
                f"byte range [{begin}, {end}) of a {len(data)}-byte data section (truncated?)"
            )
        spans.append((begin, end))
        chunk = data[begin:end]
        if dtype_name == "BF16":
            arrays[name] = _bfloat16_to_float32(np.frombuffer(chunk, "<u2")).reshape(shape)
        else:
            arrays[name] = np.frombuffer(chunk, _dtype(dtype_name, name, where)).reshape(shape)
    covered = 0
    for begin, end in sorted(spans):
        if begin != covered:
            raise CheckpointError(f"load: {where}: tensor data overlaps or leaves gaps")
        covered = end
    if covered != len(data):
        raise CheckpointError(
            f"load: {where}: {len(data) - covered} trailing bytes after the tensor data"
        )
    return metadata, arrays


def _dtype(name: str, tensor: str, where: str) -> np.dtype:
    if name not in _FROM_SAFETENSORS:
        raise CheckpointError(f"load: {where}: tensor {tensor!r} has unsupported dtype {name}")
    return _FROM_SAFETENSORS[name].newbyteorder("<")


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


def _rebuild(node, arrays: dict, map_location, where: str):
    if isinstance(node, list):
        return [_rebuild(v, arrays, map_location, where) for v in node]
    if not isinstance(node, dict):
        return node
    if "__tensor__" in node:
        name = node["__tensor__"]
        if name not in arrays:
            raise CheckpointError(f"load: {where}: the structure names a missing tensor {name!r}")
        tensor = _place(arrays[name], _resolve_device(node.get("device", "cpu"), map_location))
        return tensor.numpy() if node.get("numpy") else tensor
    if "__tuple__" in node:
        return tuple(_rebuild(v, arrays, map_location, where) for v in node["__tuple__"])
    if "__dict__" in node:
        return OrderedDict(
            (key, _rebuild(value, arrays, map_location, where)) for key, value in node["__dict__"]
        )
    raise CheckpointError(f"load: {where}: unrecognised structure entry {sorted(node)}")


def load(f, map_location=None, *, weights_only: bool = True):
    """Read a checkpoint written by :func:`save`, or any safetensors file (a flat dict).

    ``map_location`` is a device (``"cpu"``), a dict from saved to new device names, or a
    function of the saved device name. Truncated, corrupted and foreign files raise
    :class:`CheckpointError`; ``weights_only`` is accepted for PyTorch compatibility (loading
    never runs code).
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
    except (KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"load: {where}: corrupted structure metadata ({err})") from None
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


class _StorageType:
    def __init__(self, dtype) -> None:
        self.dtype = dtype


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, copied out."""
    array = storage
    itemsize = array.itemsize
    if not size:
        return array[offset : offset + 1].reshape(()).copy()
    view = np.lib.stride_tricks.as_strided(
        array[offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride)
    )
    return view.copy()


def _rebuild_parameter(data, requires_grad, *_ignored):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only tensor reconstruction and plain containers; refuses every other global."""

    _ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, data: bytes, storages, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self._storages, self._where = storages, where

    def find_class(self, module: str, name: str):
        if module == "torch" and name in _TORCH_STORAGES:
            return _StorageType(_TORCH_STORAGES[name])
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        raise CheckpointError(
            f"load_torch_state_dict: {self._where} refers to {module}.{name}, which is not a "
            f"tensor or a plain container; refusing to load it (it could run code)"
        )

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise CheckpointError(f"load_torch_state_dict: {self._where}: bad storage id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"load_torch_state_dict: {self._where}: unknown storage type")
        return self._storages(str(key), storage_type.dtype, int(numel))


def load_torch_state_dict(path) -> OrderedDict:
    """Read a PyTorch ``.pt``/``.pth`` state dict (zip format) without PyTorch.

    Only tensors, ``OrderedDict``s and plain containers are admitted; a file that refers to
    anything else (which unpickling could use to run code) is refused. A ``.safetensors`` file
    is read with :func:`load`. bfloat16 tensors are widened to float32.
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
    except zipfile.BadZipFile as err:
        raise CheckpointError(f"load_torch_state_dict: {where} is corrupted ({err})") from None
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise CheckpointError(f"load_torch_state_dict: {where} has no single data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        order = f"{prefix}byteorder"
        little = order not in names or archive.read(order).strip() == b"little"

        def storage(key: str, dtype, numel: int) -> np.ndarray:
            member = f"{prefix}data/{key}"
            if member not in names:
                raise CheckpointError(f"load_torch_state_dict: {where} lacks storage {key}")
            raw = archive.read(member)
            if dtype == "bfloat16":
                bits = np.frombuffer(raw, "<u2" if little else ">u2")[:numel]
                return _bfloat16_to_float32(bits)
            np_dtype = np.dtype(dtype).newbyteorder("<" if little else ">")
            if len(raw) < numel * np_dtype.itemsize:
                raise CheckpointError(f"load_torch_state_dict: {where}: storage {key} truncated")
            return np.frombuffer(raw, np_dtype, count=numel).astype(np_dtype.newbyteorder("="))

        try:
            obj = _RestrictedUnpickler(archive.read(pickles[0]), storage, where).load()
        except CheckpointError:
            raise
        except Exception as err:
            raise CheckpointError(f"load_torch_state_dict: {where} is corrupted ({err})") from None
    return _to_tensors(obj, where)


def _to_tensors(obj, where: str):
    if isinstance(obj, np.ndarray):
        return Tensor._make(obj, False, None, 0)
    if isinstance(obj, dict):
        out = OrderedDict((k, _to_tensors(v, where)) for k, v in obj.items())
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(_to_tensors(v, where) for v in obj)
    return obj
