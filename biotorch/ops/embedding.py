"""Embedding lookup: rows of a weight matrix picked by integer indices."""

from __future__ import annotations

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module

__all__ = ["embedding"]


class Embedding(Function):
    @staticmethod
    def forward(ctx, indices, weight, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(indices)
        ctx.weight_shape, ctx.weight_dtype = weight.shape, weight.dtype
        ctx.padding_idx, ctx.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return array_module(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        xp = array_module(grad)
        flat = indices.reshape(-1)
        rows = grad.reshape(-1, ctx.weight_shape[1])
        if ctx.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=ctx.weight_shape[0])
            rows = rows / counts[flat][:, None].astype(rows.dtype)
        # Accumulate half precision in float32 (the engine casts back to the weight's dtype).
        acc = np.float32 if ctx.weight_dtype == np.float16 else ctx.weight_dtype
        gw = xp.zeros(ctx.weight_shape, dtype=acc)
        xp.add.at(gw, flat, rows)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return None, gw, None, None


def _check_indices(indices, num_embeddings: int) -> None:
    if indices.dtype.kind not in "iu":
        raise RuntimeError(
            f"embedding: expected integer indices for 'input', got dtype {indices.dtype}"
        )
    if indices.size == 0:
        return
    low, high = int(indices.min()), int(indices.max())
    bad = low if low < 0 else high if high >= num_embeddings else None
    if bad is not None:
        raise IndexError(
            f"embedding: index {bad} is out of range for num_embeddings={num_embeddings} "
            f"(expected 0 to {num_embeddings - 1})"
        )


def _renorm_(weight, indices, max_norm: float, norm_type: float) -> None:
    """Rescale (in place, outside autograd) the looked-up rows whose norm exceeds ``max_norm``."""
    w = weight._data
    xp = array_module(w)
    rows = xp.unique(indices)
    norms = xp.linalg.norm(w[rows].astype(xp.float64), ord=norm_type, axis=1)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    w[rows] *= scale[:, None].astype(w.dtype)
    weight._version_box[0] += 1


def embedding(
    input,
    weight,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
):
    """Look up rows of ``weight`` (num_embeddings, embedding_dim) for integer ``input`` of any
    shape; the result has shape ``input.shape + (embedding_dim,)``.

    Repeated indices accumulate gradient; the row ``padding_idx`` gets none. With ``max_norm``,
    looked-up rows with a larger ``norm_type``-norm are rescaled in place first, as in PyTorch.
    Any integer dtype is accepted for ``input`` (biotorch tokens are often int8/uint8).

    Example
    -------
    >>> tokens = biotorch.tensor([[0, 2, 1, 3]])            # A G C T
    >>> embedding(tokens, biotorch.randn(4, 8)).shape
    (1, 4, 8)
    """
    if weight.ndim != 2:
        raise RuntimeError(
            f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), "
            f"got shape {tuple(weight.shape)}"
        )
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported (no sparse tensors)")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(
                f"embedding: padding_idx={padding_idx} must be within num_embeddings={num} "
                f"(expected {-num} to {num - 1})"
            )
        padding_idx %= num
    _check_indices(input._data, num)
    if max_norm is not None:
        _renorm_(weight, input._data, max_norm, norm_type)
    return Embedding.apply(input, weight, padding_idx, scale_grad_by_freq)
