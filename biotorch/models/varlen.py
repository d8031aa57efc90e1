"""Variable-length sequence classifiers for DNA, RNA and protein: a CNN with masked global
pooling, a CNN-LSTM over packed sequences, and a small Transformer encoder with padding masks.

All take a :class:`biotorch.data.Batch` (its ``inputs``, ``lengths`` and ``mask``) or tokens
with ``lengths=``/``mask=``, and give a sequence the same output whether it is padded or not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biotorch import nn
from biotorch.data.alphabets import Alphabet
from biotorch.data.batching import Batch
from biotorch.models._common import check_positive, resolve_alphabet
from biotorch.models.registry import Weights, build, register_model
from biotorch.nn import functional as F
from biotorch.nn.utils.rnn import pack_padded_sequence
from biotorch.ops.creation import arange, as_tensor, zeros
from biotorch.ops.elementwise import cos, sin
from biotorch.ops.pooling import masked_amax
from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = [
    "CNNLSTMClassifier",
    "MaskedCNNClassifier",
    "TransformerClassifier",
    "masked_pool",
    "cnn_lstm",
    "masked_cnn",
    "transformer_classifier",
]

_POOLINGS = ("max", "mean", "max_mean")


def _device_of(module: nn.Module):
    return next(iter(module.parameters())).device


def _as_tensor(value: Any, device) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    return as_tensor(np.asarray(value), device=device)


def sequence_inputs(
    module: nn.Module,
    inputs: Any,
    lengths: Any,
    mask: Any,
    pad_token: int,
    caller: str,
    tokens_only: bool = False,
) -> tuple[Tensor, Tensor]:
    """``(inputs, mask)`` as Tensors on the module's device from a Batch or tokens/one-hot with
    ``lengths``/``mask`` (``tokens_only``: one-hot inputs are refused).

    The mask is ``mask`` if given, else ``position < lengths`` (right padding), else
    ``tokens != pad_token`` for tokens, else all True for one-hot input.
    """
    if isinstance(inputs, Batch):
        if lengths is not None or mask is not None:
            raise ValueError(f"{caller}: pass a Batch alone; it carries its lengths and mask")
        inputs, lengths, mask = inputs.inputs, inputs.lengths, inputs.mask
    device = _device_of(module)
    inputs, lengths, mask = (_as_tensor(v, device) for v in (inputs, lengths, mask))
    tokens = not inputs.dtype.is_floating_point
    batch, length = inputs.shape[0], inputs.shape[-1]
    if inputs.ndim != (2 if tokens else 3) or (tokens_only and not tokens):
        expected = "" if tokens_only else " or one-hot (batch, channels, length)"
        raise ValueError(
            f"{caller}: inputs has shape {tuple(inputs.shape)} and dtype {inputs.dtype}; expected "
            f"tokens (batch, length){expected}"
        )
    if mask is None and lengths is not None:
        if tuple(lengths.shape) != (batch,):
            raise ValueError(
                f"{caller}: lengths has shape {tuple(lengths.shape)}, expected ({batch},)"
            )
        mask = arange(length, device=device)[None, :] < lengths[:, None]
    elif mask is None:
        mask = inputs != pad_token if tokens else inputs.new_ones((batch, length)).bool()
    if tuple(mask.shape) != (batch, length) or mask.dtype.is_floating_point:
        raise ValueError(
            f"{caller}: mask has shape {tuple(mask.shape)} and dtype {mask.dtype}, expected bool "
            f"({batch}, {length}), True at real positions"
        )
    return inputs, mask.bool()


def masked_pool(x: Tensor, mask: Tensor, mode: str = "max") -> Tensor:
    """Global pooling of ``x`` ``(batch, channels, length)`` over the positions where ``mask``
    ``(batch, length)`` is True: ``"max"``, ``"mean"`` or ``"max_mean"`` (both, concatenated
    along channels). Every sequence needs at least one real position."""
    if mode not in _POOLINGS:
        raise ValueError(f"masked_pool: mode={mode!r}, expected one of {_POOLINGS}")
    counts = mask.sum(dim=-1, keepdim=True)
    if bool((counts == 0).any()):
        raise ValueError("masked_pool: a sequence has no real positions (length 0 or empty mask)")
    keep = mask[:, None, :]
    pooled = []
    if mode in ("max", "max_mean"):
        pooled.append(masked_amax(x, keep))
    if mode in ("mean", "max_mean"):
        pooled.append(x.masked_fill(~keep, 0.0).sum(dim=-1) / counts)
    return pooled[0] if len(pooled) == 1 else cat(pooled, dim=1)


class MaskedCNNClassifier(nn.Module):
    """A convolutional classifier for sequences of any length, with masked global pooling.

    Input: tokens ``(batch, length)`` (one-hot encoded inside with the alphabet's table, or
    embedded when ``embedding_dim`` is set) or one-hot ``(batch, channels, length)``. Each
    convolution block (``padding="same"``, ReLU, dropout) is followed by zeroing the padding
    positions, so a padded sequence sees exactly the zeros an unpadded one sees at its ends;
    pooling ignores the padding. Outputs ``num_targets`` logits.

    Parameters
    ----------
    num_targets : int
        Outputs.
    alphabet : Alphabet or {"DNA", "RNA", "PROTEIN"}
        Alphabet of the tokens (channels, PAD token, one-hot table).
    embedding_dim : int or None
        Learn a token embedding of this size instead of one-hot encoding (tokens only).
    channels : tuple of int
        Output channels of each convolution.
    kernel_size : int
        Width of every convolution.
    dilation : int or tuple of int
        Dilation of every convolution, or one per convolution.
    pooling : {"max", "mean", "max_mean"}
        Masked global pooling.
    dropout : float
        Dropout after each convolution block and before the output layer.
    n_value : float
        One-hot value of the unknown letter (0, or ``1 / channels`` for a uniform prior).
    """

    def __init__(
        self,
        num_targets: int = 1,
        alphabet: Alphabet | str = "DNA",
        embedding_dim: int | None = None,
        channels: tuple[int, ...] = (128, 128),
        kernel_size: int = 9,
        dilation: int | tuple[int, ...] = 1,
        pooling: str = "max",
        dropout: float = 0.1,
        n_value: float = 0.0,
    ) -> None:
        super().__init__()
        self.alphabet = resolve_alphabet(alphabet, "MaskedCNNClassifier")
        check_positive("MaskedCNNClassifier", num_targets=num_targets, kernel_size=kernel_size)
        channels = tuple(channels)
        dilations = (dilation,) * len(channels) if isinstance(dilation, int) else tuple(dilation)
        if not channels or len(dilations) != len(channels):
            raise ValueError(
                f"MaskedCNNClassifier: channels={channels!r} and dilation={dilation!r}; expected "
                "at least one convolution and one dilation per convolution (or an int)"
            )
        if pooling not in _POOLINGS:
            raise ValueError(
                f"MaskedCNNClassifier: pooling={pooling!r}, expected one of {_POOLINGS}"
            )
        self.pooling = pooling
        if embedding_dim is None:
            self.embedding = None
            table = as_tensor(self.alphabet.one_hot_table(n_value).astype(np.float32))
            self.register_buffer("one_hot_table", table, persistent=False)
            width = len(self.alphabet)
        else:
            check_positive("MaskedCNNClassifier", embedding_dim=embedding_dim)
            self.embedding = nn.Embedding(
                self.alphabet.n_tokens, embedding_dim, padding_idx=self.alphabet.pad_token
            )
            width = embedding_dim
        self.in_channels = width
        blocks = []
        for out, d in zip(channels, dilations, strict=True):
            blocks.append(
                nn.Sequential(
                    nn.Conv1d(width, out, kernel_size, padding="same", dilation=d),
                    nn.ReLU(),
                    nn.Dropout(dropout),
                )
            )
            width = out
        self.blocks = nn.ModuleList(blocks)
        features = width * (2 if pooling == "max_mean" else 1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, num_targets))

    def _encode(self, inputs: Tensor) -> Tensor:
        if inputs.dtype.is_floating_point:
            if self.embedding is not None or inputs.shape[1] != self.in_channels:
                raise ValueError(
                    f"MaskedCNNClassifier: one-hot inputs of shape {tuple(inputs.shape)}; this "
                    f"model takes "
                    + (
                        "tokens (it has an embedding)"
                        if self.embedding is not None
                        else f"{self.in_channels} channels"
                    )
                )
            return inputs
        if self.embedding is None:
            return F.embedding(inputs.long(), self.one_hot_table).permute(0, 2, 1)
        return self.embedding(inputs.long()).permute(0, 2, 1)

    def forward(self, inputs: Any, lengths: Any = None, mask: Any = None) -> Tensor:
        """Logits ``(batch, num_targets)`` for a Batch, or tokens/one-hot with lengths/mask."""
        inputs, mask = sequence_inputs(
            self, inputs, lengths, mask, self.alphabet.pad_token, "MaskedCNNClassifier"
        )
        pad = ~mask[:, None, :]
        h = self._encode(inputs).masked_fill(pad, 0.0)
        for block in self.blocks:
            h = block(h).masked_fill(pad, 0.0)
        return self.classifier(masked_pool(h, mask, self.pooling))


class CNNLSTMClassifier(nn.Module):
    """A CNN-LSTM classifier for token sequences of any length (the AMP Scanner v2 design,
    Veltri et al. 2018: embedding, one convolution, max pooling, LSTM, dense output).

    Real tokens are first moved to the front of each row (left and right padding give the same
    result), embedded, convolved (``padding="same"``, ReLU; padding positions zeroed), max-pooled
    with ``pool_size`` windows (the last one may be partial: a short sequence keeps one step), and
    the pooled
    steps of each sequence, ``ceil(length / pool_size)`` of them, run through an LSTM as a
    :class:`~biotorch.nn.utils.rnn.PackedSequence`; the last hidden state (both directions'
    when ``bidirectional``) goes through dropout to ``num_targets`` logits.

    Parameters
    ----------
    num_targets : int
        Outputs.
    alphabet : Alphabet or {"DNA", "RNA", "PROTEIN"}
        Alphabet of the tokens (vocabulary size and PAD token).
    embedding_dim : int
        Token embedding size (128 in AMP Scanner v2).
    channels : int
        Convolution filters (64).
    kernel_size : int
        Convolution width (17).
    pool_size : int
        Max-pooling window and stride (5).
    hidden_size : int
        LSTM units per direction (100).
    bidirectional : bool
        Run the LSTM both ways.
    dropout : float
        Dropout after the convolution and before the output layer.
    """

    def __init__(
        self,
        num_targets: int = 1,
        alphabet: Alphabet | str = "PROTEIN",
        embedding_dim: int = 128,
        channels: int = 64,
        kernel_size: int = 17,
        pool_size: int = 5,
        hidden_size: int = 100,
        bidirectional: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.alphabet = resolve_alphabet(alphabet, "CNNLSTMClassifier")
        check_positive(
            "CNNLSTMClassifier",
            num_targets=num_targets,
            embedding_dim=embedding_dim,
            channels=channels,
            kernel_size=kernel_size,
            pool_size=pool_size,
            hidden_size=hidden_size,
        )
        self.pool_size = pool_size
        self.embedding = nn.Embedding(
            self.alphabet.n_tokens, embedding_dim, padding_idx=self.alphabet.pad_token
        )
        self.conv = nn.Conv1d(embedding_dim, channels, kernel_size, padding="same")
        self.dropout = nn.Dropout(dropout)
        self.pool = nn.MaxPool1d(pool_size)
        self.lstm = nn.LSTM(channels, hidden_size, batch_first=True, bidirectional=bidirectional)
        features = hidden_size * (2 if bidirectional else 1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(features, num_targets))

    def forward(self, inputs: Any, lengths: Any = None, mask: Any = None) -> Tensor:
        """Logits ``(batch, num_targets)`` for a Batch, or tokens with lengths/mask."""
        tokens, mask = sequence_inputs(
            self,
            inputs,
            lengths,
            mask,
            self.alphabet.pad_token,
            "CNNLSTMClassifier",
            tokens_only=True,
        )
        counts = mask.long().sum(dim=1)
        if bool((counts == 0).any()):
            raise ValueError("CNNLSTMClassifier: a sequence has no real positions")
        # Real tokens to the front: position j of a row reads position j + (its first real one).
        steps = arange(tokens.shape[1], device=tokens.device)
        source = (steps[None, :] + mask.long().argmax(dim=1)[:, None]).clamp(
            max=tokens.shape[1] - 1
        )
        pad = ~(steps[None, :] < counts[:, None])[:, None, :]
        h = self.embedding(tokens.long().gather(1, source)).permute(0, 2, 1)
        h = F.relu(self.conv(h.masked_fill(pad, 0.0))).masked_fill(pad, 0.0)
        # Zero padding up to whole windows leaves the max of the (non-negative) features as is.
        h = F.pad(self.dropout(h), (0, -h.shape[-1] % self.pool_size))
        h = self.pool(h).permute(0, 2, 1)
        pooled = (counts + (self.pool_size - 1)) // self.pool_size
        packed = pack_padded_sequence(h, pooled.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        last = h_n[0] if h_n.shape[0] == 1 else cat([h_n[0], h_n[1]], dim=1)
        return self.classifier(last)


def sinusoidal_encoding(positions: Tensor, dim: int) -> Tensor:
    """Sinusoidal position encodings ``(..., dim)`` of integer ``positions`` (Vaswani et al.):
    sines of ``position / 10000^(2i/dim)`` in the first half, cosines in the second."""
    half = dim // 2
    inv_freq = (arange(half, device=positions.device) * (-2.0 * math.log(10000.0) / dim)).exp()
    angles = positions.float()[..., None] * inv_freq
    return cat([sin(angles), cos(angles)], dim=-1)


class TransformerClassifier(nn.Module):
    """A small Transformer-encoder classifier for token sequences of any length.

    Tokens are embedded (scaled by ``sqrt(d_model)``) and given positions counted from each
    sequence's first real token (so left and right padding give the same positions), either
    sinusoidal or learned; a pre-norm ``TransformerEncoder`` runs with
    ``src_key_padding_mask``; the output pools the real positions (masked mean) or reads a
    learned CLS token put in front. Outputs ``num_targets`` logits.

    Parameters
    ----------
    num_targets : int
        Outputs.
    alphabet : Alphabet or {"DNA", "RNA", "PROTEIN"}
        Alphabet of the tokens (vocabulary size and PAD token).
    d_model, nhead, num_layers, dim_feedforward, dropout :
        As ``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder``.
    positional : {"sinusoidal", "learned"}
        Position encoding.
    max_length : int
        Longest sequence for learned positions.
    pooling : {"mean", "cls"}
        Masked mean over real positions, or a CLS token.
    """

    def __init__(
        self,
        num_targets: int = 1,
        alphabet: Alphabet | str = "DNA",
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        dropout: float = 0.1,
        positional: str = "sinusoidal",
        max_length: int = 2048,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.alphabet = resolve_alphabet(alphabet, "TransformerClassifier")
        check_positive(
            "TransformerClassifier",
            num_targets=num_targets,
            d_model=d_model,
            num_layers=num_layers,
            max_length=max_length,
        )
        if positional not in ("sinusoidal", "learned"):
            raise ValueError(
                f"TransformerClassifier: positional={positional!r}, expected 'sinusoidal' or "
                "'learned'"
            )
        if pooling not in ("mean", "cls"):
            raise ValueError(
                f"TransformerClassifier: pooling={pooling!r}, expected 'mean' or 'cls'"
            )
        self.d_model, self.positional, self.pooling = d_model, positional, pooling
        self.max_length = max_length
        self.embedding = nn.Embedding(
            self.alphabet.n_tokens, d_model, padding_idx=self.alphabet.pad_token
        )
        self.position = nn.Embedding(max_length, d_model) if positional == "learned" else None
        self.cls = nn.Parameter(zeros(1, 1, d_model)) if pooling == "cls" else None
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, num_targets))

    def forward(self, inputs: Any, lengths: Any = None, mask: Any = None) -> Tensor:
        """Logits ``(batch, num_targets)`` for a Batch, or tokens with lengths/mask."""
        tokens, mask = sequence_inputs(
            self,
            inputs,
            lengths,
            mask,
            self.alphabet.pad_token,
            "TransformerClassifier",
            tokens_only=True,
        )
        positions = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        h = self.embedding(tokens.long()) * math.sqrt(self.d_model)
        if self.position is None:
            h = h + sinusoidal_encoding(positions, self.d_model)
        else:
            if tokens.shape[1] > self.max_length:
                raise ValueError(
                    f"TransformerClassifier: inputs have length {tokens.shape[1]} > "
                    f"max_length={self.max_length} of the learned positions"
                )
            h = h + self.position(positions)
        if self.cls is not None:
            h = cat([self.cls.expand(h.shape[0], 1, self.d_model), h], dim=1)
            mask = cat([mask.new_ones((mask.shape[0], 1)), mask], dim=1)
        h = self.encoder(h, src_key_padding_mask=~mask)
        if self.cls is not None:
            pooled = h[:, 0]
        else:
            pooled = masked_pool(h.permute(0, 2, 1), mask, "mean")
        return self.classifier(pooled)


@register_model("masked_cnn")
def masked_cnn(weights: str | Weights | None = None, **kwargs: Any) -> MaskedCNNClassifier:
    """A :class:`MaskedCNNClassifier` (keyword arguments go to it)."""
    return build("masked_cnn", MaskedCNNClassifier, weights, kwargs)


@register_model("cnn_lstm")
def cnn_lstm(weights: str | Weights | None = None, **kwargs: Any) -> CNNLSTMClassifier:
    """A :class:`CNNLSTMClassifier` (keyword arguments go to it)."""
    return build("cnn_lstm", CNNLSTMClassifier, weights, kwargs)


@register_model("transformer_classifier")
def transformer_classifier(
    weights: str | Weights | None = None, **kwargs: Any
) -> TransformerClassifier:
    """A :class:`TransformerClassifier` (keyword arguments go to it)."""
    return build("transformer_classifier", TransformerClassifier, weights, kwargs)
