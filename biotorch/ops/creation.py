"""Factories: tensors from data, filled tensors, ranges and random tensors (torch's names)."""

from __future__ import annotations

import numbers

import numpy as np

from biotorch import backend
from biotorch.dtypes import get_default_dtype, to_dtype
from biotorch.tensor import Tensor

__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "from_dlpack",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "eye",
    "rand",
    "randn",
    "randint",
    "randperm",
    "rand_like",
    "randn_like",
    "randint_like",
]


def _size(size) -> tuple:
    """Accept ``zeros(2, 3)``, ``zeros((2, 3))`` and ``zeros([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], list | tuple):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"size: expected non-negative integers, got {size!r}")
    return tuple(int(n) for n in size)


def _xp(device):
    dev = backend.device("cpu" if device is None else device)
    return (np if dev.type == "cpu" else backend.cupy()), dev


def _place(array: np.ndarray, device) -> object:
    return array if device is None else backend.to_device(array, backend.device(device))


def _wrap(data, requires_grad: bool) -> Tensor:
    t = Tensor._make(data, False, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or a Tensor).

    Python floats become the default dtype (float32), ints int64 and bools bool, as in PyTorch.
    """
    if isinstance(data, Tensor):
        data = data._data
    if hasattr(data, "__cuda_array_interface__"):
        array = data.astype(to_dtype(dtype).numpy if dtype else data.dtype, copy=True)
        return _wrap(_place(array, device), requires_grad)
    array = np.array(data, dtype=None if dtype is None else to_dtype(dtype).numpy, copy=True)
    if dtype is None and array.dtype == np.float64 and not _has_float64(data):
        array = array.astype(get_default_dtype().numpy)
    to_dtype(array.dtype)
    return _wrap(_place(array, device), requires_grad)


def _has_float64(data) -> bool:
    """NumPy float64 arrays keep their dtype; Python floats follow the default dtype."""
    return isinstance(data, np.ndarray | np.floating) and data.dtype == np.float64


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, but shares memory with a NumPy/CuPy array or Tensor when it can."""
    if isinstance(data, Tensor):
        return data.to(*(a for a in (device, dtype) if a is not None))
    if hasattr(data, "__array_interface__") or hasattr(data, "__cuda_array_interface__"):
        out = Tensor(data)
        return out.to(*(a for a in (device, dtype) if a is not None))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array`` (dtype kept, float64 included)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    to_dtype(array.dtype)
    return Tensor._make(array, False, None, 0)


def from_dlpack(ext) -> Tensor:
    """A tensor sharing memory with any DLPack producer (NumPy, CuPy, PyTorch, …)."""
    device_type, device_id = ext.__dlpack_device__()
    if int(device_type) == 1:
        return Tensor._make(np.from_dlpack(ext), False, None, 0)
    cp = backend.cupy()
    with cp.cuda.Device(device_id):
        return Tensor._make(cp.from_dlpack(ext), False, None, 0)


def _filled(kind: str, size, fill_value, dtype, device, requires_grad) -> Tensor:
    xp, _ = _xp(device)
    if dtype is None:
        dtype = get_default_dtype() if kind != "full" else _scalar_dtype(fill_value)
    np_dtype = to_dtype(dtype).numpy
    if kind == "empty":
        data = xp.empty(size, dtype=np_dtype)
    else:
        data = xp.full(size, fill_value, dtype=np_dtype)
    return _wrap(data, requires_grad)


def _scalar_dtype(value):
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int64"
    return get_default_dtype()


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", _size(size), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", _size(size), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("empty", _size(size), None, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("full", _size((size,)), fill_value, dtype, device, requires_grad)


def _like(fn, input: Tensor, *args, dtype=None, device=None, requires_grad=False, **kw):
    return fn(
        *args,
        dtype=input.dtype if dtype is None else dtype,
        device=input.device if device is None else device,
        requires_grad=requires_grad,
        **kw,
    )


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(empty, input, input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(
        full,
        input,
        input.shape,
        fill_value,
        dtype=dtype,
        device=device,
        requires_grad=requires_grad,
    )


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = "int64" if ints else get_default_dtype()
    xp, _ = _xp(device)
    return _wrap(xp.arange(start, end, step, dtype=to_dtype(dtype).numpy), requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    xp, _ = _xp(device)
    data = xp.linspace(start, end, steps, dtype=np.float64)
    return _wrap(data.astype(to_dtype(dtype or get_default_dtype()).numpy), requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (``n`` x ``m``)."""
    xp, _ = _xp(device)
    return _wrap(xp.eye(n, m, dtype=to_dtype(dtype or get_default_dtype()).numpy), requires_grad)


def _random(kind, size, generator, dtype, device, requires_grad, **kw) -> Tensor:
    _, dev = _xp(device)
    gen = backend.generator_for(dev, generator)
    np_dtype = to_dtype(dtype or get_default_dtype()).numpy
    if kind == "integers":
        data = gen.integers(kw["low"], kw["high"], size, np_dtype)
    else:
        if np_dtype.kind != "f":
            raise TypeError(f"{kind}: expected a floating-point dtype, got {dtype}")
        data = getattr(gen, kind)(size, np_dtype)
    return _wrap(data, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform [0, 1) random values."""
    return _random("random", _size(size), generator, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard-normal random values."""
    return _random("normal", _size(size), generator, dtype, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Random integers in [low, high) (``randint(high, size)`` also works); int64 by default."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(low=0, high, size)")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = dtype or "int64"
    return _random("integers", _size((size,)), generator, dtype, device, False, low=low, high=high)


def randperm(n: int, *, generator=None, dtype=None, device=None) -> Tensor:
    """A random permutation of ``0 … n-1``."""
    _, dev = _xp(device)
    data = backend.generator_for(dev, generator).permutation(n)
    return _wrap(data.astype(to_dtype(dtype or "int64").numpy, copy=False), False)


def rand_like(input: Tensor, *, generator=None, dtype=None, device=None) -> Tensor:
    return _like(rand, input, input.shape, generator=generator, dtype=dtype, device=device)


def randn_like(input: Tensor, *, generator=None, dtype=None, device=None) -> Tensor:
    return _like(randn, input, input.shape, generator=generator, dtype=dtype, device=device)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return randint(
        low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device
    )
