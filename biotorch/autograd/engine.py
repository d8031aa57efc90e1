"""The backward engine: iterative, dependency-counted traversal of the graph.

No recursion (graphs of any depth), each node runs once after all its consumers have delivered
their gradients, broadcasting is undone here for every op, and saved arrays are freed node by
node unless ``retain_graph=True``.
"""

from __future__ import annotations

import numpy as np

import biotorch.tensor as _tensor_module
from biotorch.autograd.function import (
    RETAIN_GRAPH_MESSAGE,
    AccumulateGrad,
    quiet_floating_point,
    restore_floating_point,
)
from biotorch.backend import array_module

__all__ = ["backward", "grad", "sum_to_shape"]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    _refuse_create_graph(create_graph)
    tensors = _as_list(tensors)
    roots = _roots(tensors, grad_tensors, "backward")
    only = None if inputs is None else {t._edge()[0] for t in _as_list(inputs)}
    _execute(roots, bool(retain_graph), accumulate=True, only=only)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=False,
):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is untouched)."""
    _refuse_create_graph(create_graph)
    Tensor = _tensor_module.Tensor
    inputs = _as_list(inputs)
    capture = {}
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
        node, nr = t._edge()[:2]
        capture.setdefault((node, nr), []).append(i)
    results = [None] * len(inputs)
    roots = _roots(_as_list(outputs), grad_outputs, "grad")
    _execute(roots, bool(retain_graph), accumulate=False, capture=capture, results=results)
    for i, r in enumerate(results):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{i}] was not used to compute the outputs; "
                f"pass allow_unused=True to get None for it"
            )
    return tuple(None if r is None else Tensor._make(r, False, None, 0) for r in results)


def sum_to_shape(g, shape: tuple):
    """Sum a broadcast gradient ``g`` back down to ``shape`` (the input's shape)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        xp = array_module(g)
        return xp.ascontiguousarray(xp.broadcast_to(g, shape))
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _refuse_create_graph(create_graph: bool) -> None:
    if create_graph:
        raise NotImplementedError(
            "create_graph=True: biotorch's backward formulas work on arrays, so higher-order "
            "gradients are not supported"
        )


def _as_list(x) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


def _roots(tensors, grads, caller: str) -> list:
    """(node, output_nr, gradient array) for each output tensor we differentiate."""
    Tensor = _tensor_module.Tensor
    grads = [None] * len(tensors) if grads is None else _as_list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"{caller}: got {len(tensors)} tensors but {len(grads)} gradients")
    roots = []
    for i, (t, g) in enumerate(zip(tensors, grads, strict=True)):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(
                f"{caller}: element {i} of tensors does not require grad and has no grad_fn"
            )
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs; "
                    f"element {i} has shape {tuple(t.shape)}, so pass gradient=…"
                )
            data = array_module(t._data).ones_like(t._data)
        else:
            data = g._data if isinstance(g, Tensor) else g
            if tuple(data.shape) != tuple(t.shape):
                raise RuntimeError(
                    f"{caller}: gradient {i} has shape {tuple(data.shape)}, "
                    f"expected the output's shape {tuple(t.shape)}"
                )
            data = data.astype(t._data.dtype, copy=True)
        node, nr = t._edge()[:2]
        roots.append((node, nr, data))
    return roots


def _dependencies(roots) -> dict:
    """How many edges from reachable nodes point at each node."""
    deps = {}
    roots = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for edge in node._next:
            if edge is None:
                continue
            nxt = edge[0]
            if nxt in deps:
                deps[nxt] += 1
            else:
                deps[nxt] = 1
                if nxt not in roots:
                    stack.append(nxt)
    return deps


def _num_outputs(node) -> int:
    meta = node._output_meta
    return 1 if meta is None else len(meta)


def _add_to_buffer(buffers: dict, node, nr: int, g) -> None:
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * _num_outputs(node)
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def _execute(roots, retain_graph, accumulate, only=None, capture=None, results=None) -> None:
    Tensor = _tensor_module.Tensor
    deps = _dependencies([node for node, _, _ in roots])
    buffers: dict = {}
    for node, nr, g in roots:
        _add_to_buffer(buffers, node, nr, g)
    ready = [node for node in buffers if deps.get(node, 0) == 0]
    token = quiet_floating_point()
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None) or [None] * _num_outputs(node)
            if node._hooks:
                _run_hooks(node, grads, Tensor)
            if capture:
                for nr, g in enumerate(grads):
                    for i in capture.get((node, nr), ()):
                        results[i] = g
            if type(node) is AccumulateGrad:
                leaf = node.variable
                if accumulate and leaf is not None and grads[0] is not None:
                    if only is None or node in only:
                        _accumulate_leaf(leaf, grads[0], Tensor)
                        for hook in list((node._post_hooks or {}).values()):
                            hook(leaf)
                continue
            input_grads = _call_backward(node, grads)
            delivered = []  # one array must not reach two inputs (leaves add into .grad in place)
            for edge, g in zip(node._next, input_grads, strict=True):
                if edge is None:
                    continue
                nxt, nr, shape, dtype = edge
                if g is not None:
                    if g.shape != shape or g.dtype != dtype or isinstance(g, np.generic):
                        g = _fit(g, shape, dtype, node)
                    for earlier in delivered:
                        if earlier is g:
                            g = g.copy()
                            break
                    delivered.append(g)
                    slots = buffers.get(nxt)
                    if slots is None and nxt._output_meta is None:  # one output: no list to grow
                        buffers[nxt] = [g]
                    else:
                        _add_to_buffer(buffers, nxt, nr, g)
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    ready.append(nxt)
            if not retain_graph:
                node._release()
    finally:
        restore_floating_point(token)


def _call_backward(node, grads) -> tuple:
    """Run one node's backward; ``None`` for every input when no gradient reached it."""
    n_inputs = len(node._next)
    for g in grads:
        if g is not None:
            break
    else:
        return (None,) * n_inputs
    if node._released:
        raise RuntimeError(RETAIN_GRAPH_MESSAGE)
    if node._materialize_grads and len(grads) > 1:
        xp = array_module(next(g for g in grads if g is not None))
        grads = [
            xp.zeros(shape, dtype) if g is None else g
            for g, (shape, dtype) in zip(grads, node._output_meta, strict=True)
        ]
    out = type(node).backward(node, *grads)
    out = out if isinstance(out, tuple) else (out,)
    if len(out) != n_inputs:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned {len(out)} gradients, "
            f"expected {n_inputs} (one per forward argument, None for non-tensors)"
        )
    return out


def _fit(g, shape, dtype, node):
    """Undo broadcasting and match the input's dtype (called when either differs)."""
    if isinstance(g, np.generic):
        g = np.asarray(g)
    if g.shape != shape:
        try:
            g = sum_to_shape(g, shape)
        except ValueError:
            raise RuntimeError(
                f"{type(node).__name__}.backward returned a gradient of shape {g.shape} "
                f"for an input of shape {shape}"
            ) from None
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _run_hooks(node, grads: list, Tensor) -> None:
    for nr, hooks in node._hooks.items():
        if grads[nr] is None:
            continue
        for hook in list(hooks.values()):
            result = hook(Tensor._make(grads[nr], False, None, 0))
            if result is not None:
                grads[nr] = result._data


def _accumulate_leaf(leaf, g, Tensor) -> None:
    if leaf._grad is None:
        if not g.flags.c_contiguous or (isinstance(g, np.ndarray) and not g.flags.writeable):
            g = g.copy()
        leaf._grad = Tensor._make(g, False, None, 0)
    else:
        leaf._grad._data += g
        leaf._grad._version_box[0] += 1
