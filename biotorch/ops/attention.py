"""Scaled dot-product attention as one fused op (scores, masked softmax, dropout, values)."""

from __future__ import annotations

import math

import numpy as np

from biotorch.autograd.function import Function
from biotorch.backend import array_module, device_of, generator_for

__all__ = ["scaled_dot_product_attention"]


def _swap(a):
    return a.swapaxes(-1, -2)


def _masked_softmax(s):
    """Softmax over the last axis in place; a row that is entirely ``-inf`` gives zeros (as
    PyTorch's attention does) instead of NaN."""
    xp = array_module(s)
    m = s.max(axis=-1, keepdims=True)
    m[~xp.isfinite(m)] = 0
    s -= m
    xp.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    z += z == 0
    s /= z
    return s


class ScaledDotProductAttention(Function):
    """``dropout(softmax(q @ k^T * scale + mask)) @ v`` with batch dimensions broadcast.

    ``mask`` is None, a boolean keep-mask, or an additive float mask (differentiable).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, is_causal, dropout_p):
        xp = array_module(q)
        s = q @ _swap(k)
        s *= scale
        if is_causal:
            mask = xp.tril(xp.ones(s.shape[-2:], dtype=bool))
        if mask is not None:
            bias = xp.where(mask, 0.0, -math.inf).astype(s.dtype) if mask.dtype == bool else mask
            if np.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        p = _masked_softmax(s)
        ctx.scale, ctx.drop = scale, None
        pd = p
        if dropout_p > 0.0:
            keep = generator_for(device_of(q)).random(p.shape, np.float32) >= dropout_p
            ctx.drop = keep, (0.0 if dropout_p == 1.0 else 1.0 / (1.0 - dropout_p))
            pd = p * keep
            pd *= ctx.drop[1]
        ctx.save_for_backward(q, k, v, p, pd)
        return pd @ v

    @staticmethod
    def backward(ctx, grad):
        q, k, v, p, pd = ctx.saved_tensors
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad[:4]
        gv = _swap(pd) @ grad if need_v else None
        gq = gk = gs = None
        if need_q or need_k or need_mask:
            gp = grad @ _swap(v)
            if ctx.drop is not None:
                gp *= ctx.drop[0]
                gp *= ctx.drop[1]
            gs = gp - (gp * p).sum(axis=-1, keepdims=True)
            gs *= p
            if need_q:
                gq = gs @ k
                gq *= ctx.scale
            if need_k:
                gk = _swap(gs) @ q
                gk *= ctx.scale
        return gq, gk, gv, (gs if need_mask else None), None, None, None


def _check(query, key, value, attn_mask, dropout_p, is_causal) -> None:
    name = "scaled_dot_product_attention"
    for arg, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2:
            raise RuntimeError(f"{name}: '{arg}' must have at least 2 dimensions, got {t.ndim}")
    if not (query.dtype == key.dtype == value.dtype) or not query.is_floating_point():
        raise RuntimeError(
            f"{name}: expected query, key and value of the same floating dtype, got "
            f"{query.dtype}, {key.dtype} and {value.dtype}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"{name}: query has embedding size {query.shape[-1]}, key has {key.shape[-1]}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"{name}: key has sequence length {key.shape[-2]}, value has {value.shape[-2]}"
        )
    shapes = [query.shape[:-2], key.shape[:-2], value.shape[:-2]]
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError(f"{name}: pass either attn_mask or is_causal=True, not both")
        if attn_mask.dtype.name != "bool" and attn_mask.dtype != query.dtype:
            raise RuntimeError(
                f"{name}: attn_mask must be bool or of the query's dtype {query.dtype}, "
                f"got {attn_mask.dtype}"
            )
        shapes.append(attn_mask.shape[:-2])
    try:
        np.broadcast_shapes(*shapes)
        if attn_mask is not None:
            scores = (query.shape[-2], key.shape[-2])
            if np.broadcast_shapes(attn_mask.shape[-2:], scores) != scores:
                raise ValueError
    except ValueError:
        raise RuntimeError(
            f"{name}: shapes do not broadcast: query {tuple(query.shape)}, key "
            f"{tuple(key.shape)}, value {tuple(value.shape)}"
            + ("" if attn_mask is None else f", attn_mask {tuple(attn_mask.shape)}")
        ) from None
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{name}: dropout_p has to be between 0 and 1, but got {dropout_p}")


def scaled_dot_product_attention(
    query,
    key,
    value,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
):
    """Attention ``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's.

    Parameters
    ----------
    query, key, value : Tensor
        Shapes ``(..., L, E)``, ``(..., S, E)`` and ``(..., S, Ev)``; the leading (batch, head)
        dimensions broadcast. The result has shape ``(..., L, Ev)``.
    attn_mask : Tensor, optional
        Broadcastable to ``(..., L, S)``: boolean (True = the position takes part) or a float
        mask added to the scores. A query whose keys are all masked out gets a zero output and
        zero gradients, as in PyTorch.
    dropout_p : float
        Dropout probability on the attention weights (applied whenever > 0, as PyTorch's).
    is_causal : bool
        Use the lower-triangular ``(L, S)`` mask (query i sees keys 0..i).
    scale : float, optional
        Defaults to ``1 / sqrt(E)``.
    """
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa=True is not supported")
    _check(query, key, value, attn_mask, dropout_p, is_causal)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return ScaledDotProductAttention.apply(
        query, key, value, attn_mask, scale, bool(is_causal), float(dropout_p)
    )
