"""Attention and transformer layers: ``MultiheadAttention``, ``TransformerEncoderLayer``,
``TransformerEncoder``, with PyTorch's arguments, parameter names, initialisation and masks."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

from biotorch.nn import functional as F
from biotorch.nn import init
from biotorch.nn.containers import ModuleList
from biotorch.nn.layers._common import new_parameter
from biotorch.nn.layers.dropout import Dropout
from biotorch.nn.layers.linear import Linear
from biotorch.nn.layers.normalization import LayerNorm
from biotorch.nn.module import Module
from biotorch.ops.creation import zeros
from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


def _additive(mask: Tensor | None, name: str, like: Tensor) -> Tensor | None:
    """A boolean mask (True = not allowed to attend) as a float mask of ``-inf``/0; a float
    mask of the query's dtype as is."""
    if mask is None:
        return None
    if mask.dtype.name == "bool":
        return zeros(*mask.shape, dtype=like.dtype, device=like.device).masked_fill(mask, -math.inf)
    if mask.dtype != like.dtype:
        raise TypeError(
            f"MultiheadAttention: {name} must be bool or of the query's dtype {like.dtype}, "
            f"got {mask.dtype}"
        )
    return mask


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """One more key position that every query may attend to."""
    if mask is None:
        return None
    return cat([mask, zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], -1)


class MultiheadAttention(Module):
    """Multi-head attention ``softmax(Q K^T / sqrt(head_dim) + mask) V`` over ``num_heads``
    heads, as ``torch.nn.MultiheadAttention``.

    Inputs are ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``.
    ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``
    are boolean (True = ignore that key) or float (added to the scores). Returns
    ``(attn_output, attn_weights)``; the weights (averaged over heads with
    ``average_attn_weights``) are None unless ``need_weights``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first, self.head_dim = batch_first, embed_dim // num_heads
        e = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter((3 * e, e), device, dtype)
            for key in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(key, None)
        else:
            self.q_proj_weight = new_parameter((e, e), device, dtype)
            self.k_proj_weight = new_parameter((e, self.kdim), device, dtype)
            self.v_proj_weight = new_parameter((e, self.vdim), device, dtype)
            self.register_parameter("in_proj_weight", None)
        self.register_parameter(
            "in_proj_bias", new_parameter((3 * e,), device, dtype) if bias else None
        )
        self.out_proj = Linear(e, e, bias=bias, device=device, dtype=dtype)
        for key in ("bias_k", "bias_v"):
            self.register_parameter(
                key, new_parameter((1, 1, e), device, dtype) if add_bias_kv else None
            )
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for weight in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight):
            if weight is not None:
                init.xavier_uniform_(weight)
        if self.v_proj_weight is not None:
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for extra in (self.bias_k, self.bias_v):
            if extra is not None:
                init.xavier_normal_(extra)

    def _project(self, query: Tensor, key: Tensor, value: Tensor, same: bool) -> tuple:
        """Input projections; one GEMM for self-attention (``same``: query is key is value)."""
        e = self.embed_dim
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        if self._qkv_same_embed_dim:
            if same:
                return F.linear(query, self.in_proj_weight, b).chunk(3, -1)
            w = self.in_proj_weight
            weights = (w[:e], w[e : 2 * e], w[2 * e :])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(
            F.linear(x, w, bias)
            for x, w, bias in zip((query, key, value), weights, biases, strict=True)
        )

    def _check(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Shape checks; returns whether the input is unbatched."""
        name = "MultiheadAttention"
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise RuntimeError(
                f"{name}: query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                f"got {query.ndim}-D, {key.ndim}-D and {value.ndim}-D"
            )
        for arg, t, size in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if t.shape[-1] != size:
                raise RuntimeError(
                    f"{name}: was expecting embedding dimension of {size} for {arg}, but got "
                    f"{t.shape[-1]}"
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise RuntimeError(
                f"{name}: key shape {tuple(key.shape)} does not match value shape "
                f"{tuple(value.shape)}"
            )
        unbatched = query.ndim == 2
        if not unbatched:
            batch_dim = 0 if self.batch_first else 1
            if key.shape[batch_dim] != query.shape[batch_dim]:
                raise RuntimeError(
                    f"{name}: query has batch size {query.shape[batch_dim]}, key has "
                    f"{key.shape[batch_dim]}"
                )
        return unbatched

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        name = "MultiheadAttention"
        unbatched = self._check(query, key, value)
        same = query is key and key is value
        if is_causal and attn_mask is None:
            raise RuntimeError(
                f"{name}: Need attn_mask if specifying the is_causal hint (pass the causal "
                f"(L, S) mask as attn_mask)"
            )
        if unbatched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        q, k, v = self._project(query, key, value, same)
        n, length, e = q.shape
        kpm = _additive(key_padding_mask, "key_padding_mask", q)
        mask = _additive(attn_mask, "attn_mask", q)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(n, 1, e)], 1)
            v = cat([v, self.bias_v.expand(n, 1, e)], 1)
            kpm, mask = _pad_last(kpm), _pad_last(mask)
        heads, d = self.num_heads, self.head_dim
        q, k, v = (t.reshape(n, t.shape[1], heads, d).transpose(1, 2) for t in (q, k, v))
        if self.add_zero_attn:
            k, v = (
                cat([t, zeros(n, heads, 1, d, dtype=t.dtype, device=t.device)], 2) for t in (k, v)
            )
            kpm, mask = _pad_last(kpm), _pad_last(mask)
        source = k.shape[2]
        mask = self._merge_masks(mask, kpm, n, length, source)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(d))) @ k.transpose(-2, -1)
            weights = F.softmax(scores if mask is None else scores + mask, -1)
            if p > 0.0:
                weights = F.dropout(weights, p)
            out = weights @ v
            if average_attn_weights:
                weights = weights.mean(1)
            if unbatched:
                weights = weights.squeeze(0)
        else:
            out = F.scaled_dot_product_attention(q, k, v, mask, p)
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, e))
        if unbatched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _merge_masks(self, mask, kpm, n: int, length: int, source: int) -> Tensor | None:
        """``attn_mask`` and ``key_padding_mask`` as one additive mask broadcastable to
        ``(N, heads, L, S)``, after checking their shapes."""
        name = "MultiheadAttention"
        if mask is not None:
            if mask.ndim == 2:
                if tuple(mask.shape) != (length, source):
                    raise RuntimeError(
                        f"{name}: The shape of the 2D attn_mask is {tuple(mask.shape)}, but "
                        f"should be {(length, source)}."
                    )
            elif mask.ndim == 3:
                expected = (n * self.num_heads, length, source)
                if tuple(mask.shape) != expected:
                    raise RuntimeError(
                        f"{name}: The shape of the 3D attn_mask is {tuple(mask.shape)}, but "
                        f"should be {expected}."
                    )
                mask = mask.reshape(n, self.num_heads, length, source)
            else:
                raise RuntimeError(
                    f"{name}: attn_mask's dimension {mask.ndim} is not supported (2 or 3)"
                )
        if kpm is not None:
            if tuple(kpm.shape) != (n, source):
                raise RuntimeError(
                    f"{name}: expecting key_padding_mask shape of {(n, source)}, but got "
                    f"{tuple(kpm.shape)}"
                )
            kpm = kpm.reshape(n, 1, 1, source)
            mask = kpm if mask is None else mask + kpm
        return mask


def _activation(activation) -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(
        f"TransformerEncoderLayer: activation should be relu/gelu or a callable, not {activation!r}"
    )


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and layer
    norm (after, or before with ``norm_first``), as ``torch.nn.TransformerEncoderLayer``."""

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **factory
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal) -> Tensor:
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (in ``layers``), then ``norm``.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for compatibility; padded
    positions are computed like the others (PyTorch's nested-tensor fast path zeroes them).
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(
        self,
        src: Tensor,
        mask: Tensor | None = None,
        src_key_padding_mask: Tensor | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, bool(is_causal))
        return x if self.norm is None else self.norm(x)
