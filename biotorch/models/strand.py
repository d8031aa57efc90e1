"""``StrandAverage``: score a DNA/RNA sequence and its reverse complement, and combine."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from biotorch import nn
from biotorch.data.alphabets import Alphabet
from biotorch.data.batching import Batch
from biotorch.models._common import resolve_alphabet
from biotorch.models.varlen import sequence_inputs
from biotorch.ops.creation import arange, as_tensor
from biotorch.ops.elementwise import maximum, where
from biotorch.tensor import Tensor

__all__ = ["StrandAverage"]

_MODES = ("mean", "max")


class StrandAverage(nn.Module):
    """Wrap ``model`` to score both strands: ``combine(model(x), model(revcomp(x)))``.

    ``x`` is one-hot ``(batch, channels, length)`` (channels complemented, e.g. reversed for
    ``A C G T``, and positions reversed) or tokens ``(batch, length)``, or a
    :class:`~biotorch.data.Batch`. With padding (a Batch, ``lengths=`` or ``mask=``) only the
    real positions of each row are reversed and the padding stays where it is; the other
    arguments are passed on to ``model`` unchanged. Differentiable, so saliency maps work
    through it. The outputs are combined as they are (logits for biotorch models); wrap
    ``Sequential(model, Sigmoid())`` to average probabilities instead.

    Parameters
    ----------
    model : Module
        The network to run on both strands.
    mode : {"mean", "max"}
        Mean or element-wise maximum of the two outputs.
    alphabet : Alphabet or {"DNA", "RNA"}
        Gives the complement of channels and tokens.
    """

    def __init__(self, model: nn.Module, mode: str = "mean", alphabet: Alphabet | str = "DNA"):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"StrandAverage: mode={mode!r}, expected one of {_MODES}")
        self.alphabet = resolve_alphabet(alphabet, "StrandAverage")
        if not self.alphabet.has_complement:
            raise ValueError(f"StrandAverage: alphabet {self.alphabet.name} has no complement")
        self.model, self.mode = model, mode
        device = next(iter(model.parameters()), None)
        device = None if device is None else device.device  # the wrapped model's device
        channels = as_tensor(self.alphabet._channel_complement.astype(np.int64), device=device)
        tokens = as_tensor(self.alphabet._complement_tokens.astype(np.int64), device=device)
        self.register_buffer("channel_complement", channels, persistent=False)
        self.register_buffer("token_complement", tokens, persistent=False)

    def reverse_complement(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Reverse complement of one-hot ``(batch, channels, length)`` or token
        ``(batch, length)`` tensors; with ``mask`` (contiguous True runs), only the real
        positions of each row are reversed."""
        if x.dtype.is_floating_point:
            if x.ndim != 3 or x.shape[1] != len(self.alphabet):
                raise ValueError(
                    f"StrandAverage: one-hot input has shape {tuple(x.shape)}, expected "
                    f"(batch, {len(self.alphabet)}, length)"
                )
            out = x.index_select(1, self.channel_complement)
        else:
            out = self.token_complement[x.long()].to(x.dtype)
        if mask is None:
            return out.flip(-1)
        count = mask.long().sum(dim=1, keepdim=True)
        start = mask.long().argmax(dim=1, keepdim=True)
        j = arange(x.shape[-1], device=x.device)[None, :]
        index = where(mask, 2 * start + count - 1 - j, j)
        if out.ndim == 3:
            index = index[:, None, :].expand(out.shape)
        return out.gather(-1, index)

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Tensor:
        if isinstance(x, Batch):
            inputs, mask = sequence_inputs(
                self.model, x, None, None, self.alphabet.pad_token, "StrandAverage"
            )
            other = replace(x, inputs=self.reverse_complement(inputs, mask), mask=mask)
        else:
            mask = kwargs.get("mask")
            if mask is None and kwargs.get("lengths") is not None:
                _, mask = sequence_inputs(
                    self.model, x, kwargs["lengths"], None, self.alphabet.pad_token, "StrandAverage"
                )
            other = self.reverse_complement(x, mask)
        forward, reverse = self.model(x, *args, **kwargs), self.model(other, *args, **kwargs)
        return (forward + reverse) * 0.5 if self.mode == "mean" else maximum(forward, reverse)
