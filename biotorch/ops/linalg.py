"""Matrix products (``matmul``, ``mm``, ``bmm``, ``dot``, ``outer``, ``einsum``) and ``linear``."""

from __future__ import annotations

import string
from collections import Counter

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module
from biotorch.ops.promotion import promote
from biotorch.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "dot", "outer", "einsum", "linear"]


def _swap_last(x):
    return x.swapaxes(-1, -2)


def _rows_times(x, w):
    """``x @ w`` for a 2-D ``w``, with all of ``x``'s leading dimensions folded into one GEMM
    (NumPy runs a stacked ``@`` as many small products, several times slower)."""
    if x.ndim == 2:
        return x @ w
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(x.shape[:-1] + (w.shape[-1],))


class MatMul(Function):
    """Batched ``a @ b`` with NumPy's 1-D and broadcasting rules."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _rows_times(a, b) if b.ndim == 2 else a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1:
            g2 = grad.reshape(1, 1) if b.ndim == 1 else grad[..., None, :]
        else:
            g2 = grad[..., None] if b.ndim == 1 else grad
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _rows_times(g2, b2.T) if b2.ndim == 2 else g2 @ _swap_last(b2)
            ga = ga.reshape(ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                gb = a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])
            else:
                gb = _swap_last(a2) @ g2
            gb = gb.reshape(gb.shape[:-2] + (gb.shape[-2],)) if b.ndim == 1 else gb
        return ga, gb


class Outer(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a[:, None] * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad @ b if ctx.needs_input_grad[0] else None
        gb = a @ grad if ctx.needs_input_grad[1] else None
        return ga, gb


class Linear(Function):
    """``x @ weight.T + bias`` as one GEMM over all leading dimensions of ``x``."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = _rows_times(x.reshape(1, -1) if x.ndim == 1 else x, weight.T)
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        g2 = grad.reshape(-1, weight.shape[0])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (g2 @ weight).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            gw = g2.T @ x.reshape(-1, weight.shape[1])
        if ctx.needs_input_grad[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


class Einsum(Function):
    """``einsum`` with explicit subscripts (one letter per dimension, no ellipsis); the gradient
    of each operand is an einsum of the output gradient with the other operands."""

    @staticmethod
    def forward(ctx, *operands, terms, output, fresh):
        ctx.terms, ctx.output, ctx.fresh = terms, output, fresh
        ctx.save_for_backward(*operands)
        xp = array_module(operands[0])
        out = xp.einsum(",".join(terms) + "->" + output, *operands, optimize=len(operands) > 1)
        return out.copy() if len(operands) == 1 else out  # a one-operand einsum may be a view

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        return tuple(
            _einsum_grad(grad, i, operands, ctx.terms, ctx.output, ctx.fresh) if need else None
            for i, need in enumerate(ctx.needs_input_grad)
        )


def _einsum_grad(grad, i, operands, terms, output, fresh):
    xp = array_module(grad)
    term, sizes = terms[i], dict(zip(terms[i], operands[i].shape, strict=True))
    others = [t for j, t in enumerate(terms) if j != i]
    unique = "".join(dict.fromkeys(term))
    kept = "".join(c for c in unique if c in output or any(c in t for t in others))
    inputs = [grad] + [op for j, op in enumerate(operands) if j != i]
    g = xp.einsum(",".join([output, *others]) + "->" + kept, *inputs, optimize=True)
    # Letters summed within this operand alone, or broadcast from size 1 elsewhere: the
    # gradient is constant along them.
    shape = [g.shape[kept.index(c)] if c in kept else 1 for c in unique]
    full = [sizes[c] if n == 1 else n for c, n in zip(unique, shape, strict=True)]
    if shape != full:
        g = xp.broadcast_to(g.reshape(shape), full)
    if unique != term:  # repeated letters (a diagonal): place the gradient on it
        renamed, deltas, seen, spare = "", [], set(), list(fresh)
        for c in term:
            if c in seen:
                renamed += spare[0]
                deltas.append((c + spare.pop(0), xp.eye(sizes[c], dtype=g.dtype)))
            else:
                renamed += c
                seen.add(c)
        subscripts = ",".join([unique] + [d for d, _ in deltas]) + "->" + renamed
        g = xp.einsum(subscripts, g, *[e for _, e in deltas])
    return g


def _einsum_subscripts(equation: str, operands) -> tuple:
    """(one explicit term per operand, the output term, unused letters) with ``...`` expanded."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(
            f"einsum: equation {equation!r} has {len(terms)} operands, got {len(operands)} tensors"
        )
    fresh = [c for c in string.ascii_letters if c not in eq]
    spans = [op.ndim - len(t.replace("...", "")) for t, op in zip(terms, operands, strict=True)]
    n_ell = max([n for n, t in zip(spans, terms, strict=True) if "..." in t], default=0)
    ell = "".join(fresh[:n_ell])
    expanded = []
    for k, (t, op, n) in enumerate(zip(terms, operands, spans, strict=True)):
        t = t.replace("...", ell[n_ell - n :]) if "..." in t and n >= 0 else t
        if len(t) != op.ndim or not all(c in string.ascii_letters for c in t):
            raise ValueError(
                f"einsum: subscripts {terms[k]!r} do not match operand {k} of shape "
                f"{tuple(op.shape)}"
            )
        expanded.append(t)
    if arrow:
        output = rhs.replace("...", ell)
    else:
        counts = Counter("".join(expanded))
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    if len(set(output)) != len(output) or any(c not in lhs + ell for c in output):
        raise ValueError(f"einsum: output subscripts {rhs!r} must be distinct input subscripts")
    return expanded, output, fresh[n_ell:]


def _check(name: str, ndim: int | None = None, same_dtype: bool = True, **operands) -> None:
    """Every operand is a Tensor (with ``ndim`` dimensions, if given), and all share one dtype
    unless ``same_dtype`` is False (PyTorch's products do not promote)."""
    for arg, t in operands.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a Tensor for '{arg}', got {type(t).__name__}")
        if ndim is not None:
            _check_ndim(name, arg, t, ndim)
    dtypes = {arg: t.dtype for arg, t in operands.items()}
    if same_dtype and len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{arg} is {d}" for arg, d in dtypes.items())
        raise RuntimeError(f"{name}: expected operands of the same dtype, but {listed}")


def _check_ndim(name: str, arg: str, t, ndim: int) -> None:
    if t.ndim != ndim:
        raise RuntimeError(
            f"{name}: expected '{arg}' to be a {ndim}-D tensor, got shape {tuple(t.shape)}"
        )


def matmul(input, other):
    """Matrix product with batching and broadcasting, as ``torch.matmul`` (1-D operands are
    treated as vectors; leading dimensions broadcast)."""
    _check("matmul", input=input, other=other)
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(
            f"matmul: both arguments need at least 1 dimension, got shapes {tuple(input.shape)} "
            f"and {tuple(other.shape)}"
        )
    inner = other.shape[-2 if other.ndim > 1 else 0]
    if input.shape[-1] != inner:
        raise RuntimeError(
            f"matmul: shapes {tuple(input.shape)} and {tuple(other.shape)} cannot be multiplied "
            f"(input's last dimension {input.shape[-1]} != {inner})"
        )
    try:
        np.broadcast_shapes(input.shape[:-2], other.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"matmul: the batch dimensions of shapes {tuple(input.shape)} and "
            f"{tuple(other.shape)} do not broadcast"
        ) from None
    return MatMul.apply(input, other)


def mm(input, mat2):
    """Product of two matrices, ``(n, k) @ (k, m)``; no broadcasting."""
    _check("mm", 2, input=input, mat2=mat2)
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mm: input and mat2 shapes cannot be multiplied "
            f"({input.shape[0]}x{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})"
        )
    return MatMul.apply(input, mat2)


def bmm(input, mat2):
    """Batched product of matrices, ``(b, n, k) @ (b, k, m)``; no broadcasting."""
    _check("bmm", 3, input=input, mat2=mat2)
    b, n, k = input.shape
    if mat2.shape[:2] != (b, k):
        raise RuntimeError(
            f"bmm: expected mat2 of shape ({b}, {k}, m) for input of shape {(b, n, k)}, "
            f"got {tuple(mat2.shape)}"
        )
    return MatMul.apply(input, mat2)


def dot(input, tensor):
    """Inner product of two 1-D tensors of the same length (a 0-d result)."""
    _check("dot", 1, input=input, tensor=tensor)
    if input.shape != tensor.shape:
        raise RuntimeError(
            f"dot: input and tensor must have the same length, got {input.shape[0]} and "
            f"{tensor.shape[0]}"
        )
    return MatMul.apply(input, tensor)


def outer(input, vec2):
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    _check("outer", 1, False, input=input, vec2=vec2)
    return Outer.apply(*promote("outer", input, vec2))


def einsum(equation: str, *operands):
    """Sum of products over the subscripts in ``equation``, as ``torch.einsum`` (``...``
    broadcasts; without ``->`` the output is the letters used once, in alphabetical order).

    Example
    -------
    >>> einsum("bij,bjk->bik", a, b)  # batched matrix product
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError(f"einsum: equation {equation!r} was given no operands")
    _check("einsum", **{f"operands[{i}]": op for i, op in enumerate(operands)})
    terms, output, fresh = _einsum_subscripts(equation, operands)
    for c in set(output).union(*terms):
        sizes = {op.shape[t.index(c)] for t, op in zip(terms, operands, strict=True) if c in t} - {
            1
        }
        if len(sizes) > 1:
            raise ValueError(f"einsum: subscript {c!r} has sizes {sorted(sizes)} in {equation!r}")
    return Einsum.apply(*operands, terms=tuple(terms), output=output, fresh=tuple(fresh))


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, as ``torch.nn.functional.linear``: ``input`` is
    ``(*, in_features)``, ``weight`` ``(out_features, in_features)``, ``bias`` ``(out_features,)``.
    """
    operands = {"input": input, "weight": weight}
    if bias is not None:
        operands["bias"] = bias
    _check("linear", **operands)
    _check_ndim("linear", "weight", weight, 2)
    features = input.shape[-1] if input.ndim else 0
    if features != weight.shape[1]:
        raise RuntimeError(
            f"linear: input of shape {tuple(input.shape)} has {features} features, weight of "
            f"shape {tuple(weight.shape)} expects {weight.shape[1]}"
        )
    if bias is not None and bias.shape not in ((weight.shape[0],), (1,), ()):
        raise RuntimeError(
            f"linear: bias of shape {tuple(bias.shape)} does not match {weight.shape[0]} "
            f"output features"
        )
    return Linear.apply(input, weight, bias)
