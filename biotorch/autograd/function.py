"""The op protocol: :class:`Function`, the node type of the autograd graph.

An op is a small subclass with two static methods that work on raw arrays (NumPy or CuPy):
``forward(ctx, *args)`` returns the output array (or a tuple of them) and
``backward(ctx, *grads)`` returns one gradient per positional forward argument (``None`` where
there is none; keyword arguments get none). ``Function.apply`` unwraps Tensors, runs
``forward`` and, when any input requires grad and grad mode is on, links the outputs into the
graph with ``ctx`` as their ``grad_fn``.
Broadcasting is undone by the engine, so ``backward`` may return gradients in the broadcast
output shape.
"""

from __future__ import annotations

import weakref

import numpy as np

import biotorch.tensor as _tensor_module
from biotorch.autograd.grad_mode import _state as _grad_mode

__all__ = [
    "Function",
    "AccumulateGrad",
    "QUIET_FLOATING_POINT",
    "RETAIN_GRAPH_MESSAGE",
    "quiet_floating_point",
    "restore_floating_point",
]

# As in PyTorch, ops at domain edges give inf/nan silently (log(0), 1/0, inf - inf): the engine
# runs forward and backward with NumPy's floating-point warnings off.
QUIET_FLOATING_POINT = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}

# NumPy keeps its floating-point error state in a context variable; ``np.errstate`` rebuilds the
# state object on every entry (~2 us, as much as a small op). The quiet version of the caller's
# state is built once with ``np.errstate`` and cached against that state, so entering it is one
# ``ContextVar.set``. Falls back to ``np.errstate`` if NumPy no longer has the variable.
_ERRSTATE = getattr(getattr(np, "_core", None), "_ufunc_config", None)
_ERRSTATE = getattr(_ERRSTATE, "_extobj_contextvar", None)
_quiet_of = (None, None)  # (a caller's error state, its quiet version)


def quiet_floating_point():
    """Turn NumPy's divide/invalid/overflow warnings off; pass the result to
    :func:`restore_floating_point` (in a ``finally``)."""
    global _quiet_of
    if _ERRSTATE is None:
        state = np.errstate(**QUIET_FLOATING_POINT)
        state.__enter__()
        return state
    current = _ERRSTATE.get()
    caller, quiet = _quiet_of
    if current is quiet:
        return None
    if current is not caller:
        with np.errstate(**QUIET_FLOATING_POINT):
            quiet = _ERRSTATE.get()
        _quiet_of = (current, quiet)
    return _ERRSTATE.set(quiet)


def restore_floating_point(token) -> None:
    """Undo :func:`quiet_floating_point`."""
    if token is None:
        return
    if _ERRSTATE is None:
        token.__exit__(None, None, None)
    else:
        _ERRSTATE.reset(token)


_NUMBER = int | float | bool
_NO_GRADS = [(False,) * n for n in range(8)]


def _no_grads(n: int) -> tuple:
    return _NO_GRADS[n] if n < 8 else (False,) * n


RETAIN_GRAPH_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved tensors after they "
    "were freed). Saved arrays are freed by .backward() and autograd.grad(); pass "
    "retain_graph=True to the first call if you need to backward through the graph again."
)


class Function:
    """Base class of differentiable operations; also the ``ctx`` that ``forward`` and
    ``backward`` receive.

    Example
    -------
    >>> class Cube(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x**3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x**2 * grad
    >>> y = Cube.apply(biotorch.tensor([2.0], requires_grad=True))
    """

    __slots__ = (
        "needs_input_grad",
        "_next",
        "_saved",
        "_saved_versions",
        "_non_differentiable",
        "_output_meta",
        "_materialize_grads",
        "_hooks",
        "_released",
        "__dict__",
        "__weakref__",
    )

    # Index of the argument whose storage the outputs view, for view ops such as reshape,
    # transpose and split: the outputs then share that tensor's version counter.
    _view_of = None

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grads)")

    # -- ctx API -------------------------------------------------------------------------------
    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for ``backward``; in-place changes to them afterwards are detected."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        """The arrays given to :meth:`save_for_backward`, checked against in-place changes."""
        if self._released:
            raise RuntimeError(RETAIN_GRAPH_MESSAGE)
        versions = getattr(self, "_saved_versions", None)
        if versions:
            for i, entry in enumerate(versions):
                if entry is not None and entry[0][0] != entry[1]:
                    raise RuntimeError(
                        f"one of the tensors needed for gradient computation has been modified "
                        f"by an in-place operation: {type(self).__name__} saved argument {i} at "
                        f"version {entry[1]}, and it is now at version {entry[0][0]}. Use an "
                        f"out-of-place op, or .clone() the tensor before modifying it."
                    )
        return self._saved

    def mark_non_differentiable(self, *arrays) -> None:
        """Declare outputs (given as the returned arrays) that never require grad."""
        self._non_differentiable = arrays

    def set_materialize_grads(self, value: bool) -> None:
        """Whether missing output gradients reach ``backward`` as zeros (default) or ``None``."""
        self._materialize_grads = value

    # -- graph building ------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on Tensors (and plain Python values) and record it for backward."""
        Tensor = _tensor_module.Tensor
        raw = []
        needs = []
        first = None
        record = False
        for a in args:
            if isinstance(a, Tensor):
                data = a._data
                if first is None:
                    first = data
                elif type(data) is not type(first) or (
                    type(data) is not np.ndarray and data.device != first.device
                ):
                    raise _device_mismatch(cls, args)
                raw.append(data)
                need = a._requires_grad
                record = record or need
                needs.append(need)
            else:
                raw.append(a)
                needs.append(False)
        record = record and _grad_mode.enabled
        ctx = cls.__new__(cls)
        ctx._saved = ()
        ctx._non_differentiable = ()
        ctx._released = False
        ctx._hooks = None
        ctx._materialize_grads = True
        ctx._output_meta = None
        ctx.needs_input_grad = tuple(needs) if record else _no_grads(len(needs))
        token = quiet_floating_point()
        try:
            out = cls.forward(ctx, *raw, **kwargs)
        finally:
            restore_floating_point(token)
        make = Tensor._make
        if not isinstance(out, tuple):
            if isinstance(out, np.generic):
                out = np.asarray(out)
            grad_out = record and out.dtype.kind == "f"
            if grad_out and ctx._non_differentiable:
                grad_out = not any(out is nd for nd in ctx._non_differentiable)
            result = make(out, grad_out, ctx if grad_out else None, 0)
            results = (result,)
        else:
            results = []
            for nr, o in enumerate(out):
                if isinstance(o, np.generic):
                    o = np.asarray(o)
                grad_out = record and o.dtype.kind == "f"
                if grad_out and ctx._non_differentiable:
                    grad_out = not any(o is nd for nd in ctx._non_differentiable)
                results.append(make(o, grad_out, ctx if grad_out else None, nr))
            result = tuple(results)
        if cls._view_of is not None:
            base = args[cls._view_of]
            root = base if base._base is None else base._base
            for view in results:
                view._version_box, view._base = base._version_box, root
        if record:
            ctx._next = tuple(
                [a._edge() if need else None for a, need in zip(args, needs, strict=True)]
            )
            if type(result) is tuple:
                ctx._output_meta = tuple([(r._data.shape, r._data.dtype) for r in results])
            if ctx._saved:
                ctx._saved_versions = _saved_versions(ctx._saved, args, results)
        return result

    def _release(self) -> None:
        """Free what backward kept; later use raises the ``retain_graph`` error."""
        if self._saved or self.__dict__:
            self._released = True
        self._saved = ()
        self.__dict__.clear()

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"


class AccumulateGrad:
    """The graph node of a leaf tensor: adds arriving gradients into the leaf's ``.grad``.

    It holds the leaf weakly (the leaf caches this node), so no reference cycle keeps a
    leaf's arrays alive; a leaf that is gone by backward time receives nothing.
    """

    __slots__ = ("_leaf", "_hooks", "_post_hooks", "__weakref__")
    _next = ()
    _released = False
    _output_meta = None

    def __init__(self, variable) -> None:
        self._leaf = weakref.ref(variable)
        self._hooks = None
        self._post_hooks = None  # {id: hook(leaf)} run after the leaf's .grad is updated

    @property
    def variable(self):
        """The leaf tensor, or None if it no longer exists."""
        return self._leaf()

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


def _device_mismatch(cls, args) -> RuntimeError:
    Tensor = _tensor_module.Tensor
    devices = ", ".join(str(a.device) for a in args if isinstance(a, Tensor))
    return RuntimeError(
        f"{cls.__name__}: expected all tensors on the same device, got tensors on {devices}; "
        f"move them with .to(device) first"
    )


def _saved_versions(saved, args, results) -> tuple:
    """For each saved array that is an input's or output's data, its version box and version."""
    Tensor = _tensor_module.Tensor
    entries = []
    for s in saved:
        entry = None
        if s is not None and not isinstance(s, _NUMBER):
            for t in args:
                if isinstance(t, Tensor) and t._data is s:
                    entry = (t._version_box, t._version_box[0])
                    break
            else:
                for t in results:
                    if t._data is s:
                        entry = (t._version_box, t._version_box[0])
                        break
        entries.append(entry)
    return tuple(entries)
