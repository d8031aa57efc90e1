"""``Tensor``: an array (NumPy or CuPy) plus the autograd state; its methods dispatch to ``ops``."""

from __future__ import annotations

import numpy as np

from biotorch import backend
from biotorch.autograd.grad_mode import is_grad_enabled
from biotorch.dtypes import _BY_NUMPY, get_default_dtype, to_dtype

__all__ = ["Tensor"]


class Tensor:
    """A multi-dimensional array on a device, with gradient tracking (``requires_grad``)."""

    __slots__ = (
        "_data",
        "_requires_grad",
        "_grad",
        "_grad_fn",
        "_output_nr",
        "_version_box",
        "_accumulator",
        "_base",
        "__weakref__",
    )
    # NumPy defers to Tensor's reflected operators (np.float32(2) * t is a Tensor).
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data._data
        elif not hasattr(data, "__array_interface__") and not hasattr(
            data, "__cuda_array_interface__"
        ):
            data = np.asarray(data)
            if data.dtype == np.float64 and get_default_dtype().numpy != np.float64:
                data = data.astype(get_default_dtype().numpy)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        to_dtype(data.dtype)
        self._init(data, False, None, 0)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data, requires_grad, grad_fn, output_nr) -> None:
        self._data = data
        self._requires_grad = requires_grad
        self._grad = None
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._version_box = [0]
        self._accumulator = None
        self._base = None

    @classmethod
    def _make(cls, data, requires_grad: bool, grad_fn, output_nr: int) -> Tensor:
        """Wrap an array without checks (used by ops)."""
        t = cls.__new__(cls)
        t._init(data, requires_grad, grad_fn, output_nr)
        return t

    # -- attributes ----------------------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a new tensor that shares storage but not the graph."""
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self):
        return _BY_NUMPY[self._data.dtype]

    @property
    def device(self) -> backend.device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return not isinstance(self._data, np.ndarray)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and tuple(value.shape) != tuple(self.shape):
            raise RuntimeError(
                f"grad: assigned a gradient of shape {tuple(value.shape)} "
                f"to a tensor of shape {tuple(self.shape)}"
            )
        self._grad = value

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def _version(self) -> int:
        return self._version_box[0]

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.itemsize

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __hash__(self) -> int:
        return id(self)

    # -- autograd ------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf tensor (floating point only); returns self."""
        if not self.is_leaf:
            raise RuntimeError(
                "requires_grad_: only leaf tensors can change requires_grad; "
                "use .detach() to make a leaf from this result"
            )
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"this one is {self.dtype}"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def _edge(self) -> tuple:
        """(graph node, output index, shape, NumPy dtype) that gradients for this tensor go to."""
        if self._grad_fn is not None:
            return (self._grad_fn, self._output_nr, self._data.shape, self._data.dtype)
        if self._accumulator is None:
            from biotorch.autograd.function import AccumulateGrad

            self._accumulator = AccumulateGrad(self)
        return (self._accumulator, 0, self._data.shape, self._data.dtype)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd.backward``)."""
        from biotorch.autograd.engine import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require grad"
            )
        node, nr = self._edge()[:2]
        if node._hooks is None:
            node._hooks = {}
        return _HookHandle(node._hooks.setdefault(nr, {}), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` after backward has added this leaf's gradient into ``.grad``.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.is_leaf or not self._requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: only leaf tensors that require grad "
                "accumulate gradients"
            )
        node = self._edge()[0]
        if node._post_hooks is None:
            node._post_hooks = {}
        return _HookHandle(node._post_hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self.is_leaf:
            return

        def store(grad):
            self._grad = (
                grad
                if self._grad is None
                else Tensor._make(self._grad._data + grad._data, False, None, 0)
            )

        self.register_hook(store)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's storage (and version counter), cut from the graph."""
        t = Tensor._make(self._data, False, None, 0)
        t._version_box = self._version_box
        t._base = self
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place."""
        self._grad_fn, self._requires_grad = None, False
        return self

    # -- conversion ----------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors have an item; this one has shape "
                f"{tuple(self.shape)}"
            )
        return self._data.item()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The CPU data as a NumPy array sharing storage (``force=True`` copies from a GPU)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use .detach().numpy()"
            )
        if not isinstance(self._data, np.ndarray):
            if not force:
                raise TypeError(
                    f"numpy: tensor is on {self.device}; use .cpu().numpy() (or numpy(force=True))"
                )
            return self._data.get()
        return self._data

    def tolist(self):
        return backend.to_device(self._data, backend.CPU).tolist()

    def __array__(self, dtype=None, copy=None):
        if not isinstance(self._data, np.ndarray):
            raise TypeError(f"__array__: tensor is on {self.device}; move it with .cpu() first")
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(other)``; differentiable."""
        copy = kwargs.pop("copy", False)
        dev, dt = parse_to_args(args, kwargs)
        out = self
        if dt is not None and dt.numpy != self._data.dtype:
            out = _ops.cast(out, dt)
        if dev is not None and dev != self.device:
            out = _ops.to_device(out, dev)
        if copy and out is self:
            out = out.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to(backend.device("cuda" if device is None else device))

    def where(self, condition: Tensor, other) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (``biotorch.where(condition, self,
        other)``)."""
        return _ops.where(condition, self, other)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to("float32")

    def double(self) -> Tensor:
        return self.to("float64")

    def half(self) -> Tensor:
        return self.to("float16")

    def long(self) -> Tensor:
        return self.to("int64")

    def int(self) -> Tensor:
        return self.to("int32")

    def bool(self) -> Tensor:
        return self.to("bool")

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def contiguous(self) -> Tensor:
        return self if self.is_contiguous() else self.clone()

    def new_tensor(self, data) -> Tensor:
        return Tensor(backend.to_device(np.asarray(data, dtype=self._data.dtype), self.device))

    def new_zeros(self, *size) -> Tensor:
        return _ops.zeros(*size, dtype=self.dtype, device=self.device)

    def new_ones(self, *size) -> Tensor:
        return _ops.ones(*size, dtype=self.dtype, device=self.device)

    def new_full(self, size, fill_value) -> Tensor:
        return _ops.full(size, fill_value, dtype=self.dtype, device=self.device)

    def new_empty(self, *size) -> Tensor:
        return _ops.empty(*size, dtype=self.dtype, device=self.device)

    # -- printing ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        data = backend.to_device(self._data, backend.CPU)
        finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
        integral = finite.size == 0 or bool(np.all(finite == np.round(finite)))
        values = np.array2string(
            data,
            separator=", ",
            prefix="tensor(",
            precision=4,
            floatmode="maxprec" if integral else "fixed",
            threshold=200,
            edgeitems=3,
        )
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self._data.dtype not in (get_default_dtype().numpy, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self._grad_fn is not None:
            extras.append(f"grad_fn={self._grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self._data.size == 0:
            extras.insert(0, f"size={tuple(self.shape)}")
        return "tensor(" + ", ".join([values] + extras) + ")"

    def __format__(self, spec: str) -> str:
        if self._data.size == 1 and spec:
            return format(self.item(), spec)
        return repr(self)

    # -- Python protocols ----------------------------------------------------------------------
    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool: a tensor of shape {tuple(self.shape)} is ambiguous; use .any() or .all()"
            )
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, index) -> Tensor:
        return _ops.index(self, index)

    def __setitem__(self, index, value) -> None:
        is_tensor = isinstance(value, Tensor)
        recording = is_grad_enabled() and (
            self._requires_grad or (is_tensor and value._requires_grad)
        )
        same_device = not is_tensor or type(value._data) is type(self._data)
        if not recording and same_device and _is_basic_index(index):
            self._check_writeable()
            self._data[index] = value._data if is_tensor else value
            self._version_box[0] += 1
            return
        self._inplace(_ops.index_put, index, value)

    # -- in-place operations -------------------------------------------------------------------
    def _inplace(self, op, *args, **kwargs) -> Tensor:
        """Compute ``op(self, *args)`` out of place, write it into self's storage, and let self
        stand for the result in the graph. Saved copies of self's old values stay valid."""
        recording = is_grad_enabled()
        if recording and self._requires_grad and self.is_leaf:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap it in `with biotorch.no_grad():` (as optimizers do) or use an out-of-place op"
            )
        self._check_writeable()
        result = op(self, *args, **kwargs)
        if (
            recording
            and result._requires_grad
            and self._base is not None
            and self._base._requires_grad
        ):
            raise RuntimeError(
                "in-place operation on a view of a tensor that requires grad is not supported; "
                "use index assignment on the base tensor (x[idx] = value) or an out-of-place op"
            )
        data = result._data
        if data.dtype != self._data.dtype:
            if data.dtype.kind == "f" and self._data.dtype.kind != "f":
                raise RuntimeError(
                    f"in-place: result type {_BY_NUMPY[data.dtype]} can't be cast to the "
                    f"tensor's type {self.dtype}"
                )
            data = data.astype(self._data.dtype)
        if data.shape != self._data.shape:
            raise RuntimeError(
                f"in-place: the result has shape {data.shape}, which can't be written into a "
                f"tensor of shape {self._data.shape}"
            )
        node = result._grad_fn
        if node is not None and any(s is self._data for s in node._saved):
            versions = node._saved_versions
            node._saved_versions = tuple(
                None if s is self._data else v for s, v in zip(node._saved, versions, strict=True)
            )
            node._saved = tuple(s.copy() if s is self._data else s for s in node._saved)
        self._data[...] = data
        self._version_box[0] += 1
        if result._requires_grad:
            self._grad_fn, self._output_nr, self._requires_grad = node, result._output_nr, True
        return self

    def _check_writeable(self) -> None:
        if isinstance(self._data, np.ndarray) and not self._data.flags.writeable:
            raise RuntimeError(
                "in-place: this tensor is a read-only view (e.g. from expand(), whose elements "
                "share memory); clone() it before modifying it"
            )

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(_ops.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._inplace(_ops.sub, other, alpha=alpha)

    def mul_(self, other) -> Tensor:
        return self._inplace(_ops.mul, other)

    def div_(self, other) -> Tensor:
        return self._inplace(_ops.div, other)

    def pow_(self, exponent) -> Tensor:
        return self._inplace(_ops.pow, exponent)

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._inplace(_ops.clamp, min, max)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._inplace(_ops.masked_fill, mask, value)

    def copy_(self, src) -> Tensor:
        return self._inplace(_ops.copy_from, src)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        return self._inplace(_ops.full_like_from, value)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
        return self._inplace(_ops.uniform_like, a, b, generator=generator)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
        return self._inplace(_ops.normal_like, mean, std, generator=generator)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # -- arithmetic and comparison operators ---------------------------------------------------
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.logical_not(self) if self._data.dtype == np.bool_ else _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, registry: dict, hook) -> None:
        _HookHandle._next_id += 1
        self._registry, self._id = registry, _HookHandle._next_id
        registry[self._id] = hook

    def remove(self) -> None:
        self._registry.pop(self._id, None)


def _is_basic_index(index) -> bool:
    """True for keys of ints, forward slices, None and Ellipsis (NumPy and PyTorch agree)."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, slice):
            if part.step is not None and (not isinstance(part.step, int) or part.step <= 0):
                return False
        elif not (part is None or part is Ellipsis or type(part) is int):
            return False
    return True


def parse_to_args(args: tuple, kwargs: dict) -> tuple:
    """(device or None, dtype or None) from the arguments of ``Tensor.to``/``Module.to``."""
    kwargs = dict(kwargs)
    dev, dt = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to: unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, str | backend.device | int) and not _is_dtype_name(a):
            dev = a
        else:
            dt = a
    return (None if dev is None else backend.device(dev)), (None if dt is None else to_dtype(dt))


def _is_dtype_name(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        to_dtype(value)
    except TypeError:
        return False
    return True


# Method-style access to ops, generated from one table so Tensor stays a thin dispatcher:
# ``x.exp()`` is ``biotorch.ops.exp(x)``.
_METHODS = """
abs sign neg exp log log1p expm1 log2 sqrt rsqrt reciprocal square sin cos tanh sigmoid relu
floor ceil round trunc clamp clip maximum minimum isnan isfinite isinf
add sub mul div floor_divide remainder pow eq ne lt le gt ge logical_and logical_or logical_not
logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not lerp
sum mean var std max min amax amin argmax argmin prod logsumexp cumsum norm all any
reshape view flatten unflatten squeeze unsqueeze transpose swapaxes permute expand expand_as
repeat flip roll split chunk tril triu movedim narrow t view_as reshape_as
gather scatter scatter_add index_select index_put masked_fill take_along_dim masked_select nonzero
matmul mm bmm dot outer softmax log_softmax
"""


def _dispatcher(name: str):
    def method(self, *args, **kwargs):
        return getattr(_ops, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__qualname__ = f"Tensor.{name}"
    method.__doc__ = f"See :func:`biotorch.{name}`."
    return method


for _name in _METHODS.split():
    setattr(Tensor, _name, _dispatcher(_name))

from biotorch import ops as _ops  # noqa: E402  (ops build on Tensor, so they load after it)
