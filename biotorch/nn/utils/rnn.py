"""Variable-length batches for recurrent layers, as ``torch.nn.utils.rnn``: ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence`` and ``pad_sequence``.

A packed sequence stores the valid time steps of a batch time-major: the rows of step ``t`` are
the ``batch_sizes[t]`` longest sequences, longest first, so recurrent layers never see padding.
Every conversion here is one differentiable gather (``index_select``) with an index built on
the host.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from biotorch.ops.creation import full, tensor
from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pack_sequence",
    "pad_sequence",
]


class PackedSequence(NamedTuple):
    """A packed batch of variable-length sequences (build it with :func:`pack_padded_sequence`
    or :func:`pack_sequence`, not by hand).

    ``data`` is ``(sum(lengths), *)``; ``batch_sizes`` (int64, CPU) holds the number of
    sequences active at each time step; ``sorted_indices`` maps the packed (length-sorted)
    order to the original batch order and ``unsorted_indices`` is its inverse (both None when
    the batch was already sorted).
    """

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        """Move ``data`` (and the index tensors, to the same device) like ``Tensor.to``."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def move(index):
            return None if index is None else index.to(data.device)

        return self._replace(
            data=data,
            sorted_indices=move(self.sorted_indices),
            unsorted_indices=move(self.unsorted_indices),
        )

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device=None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    @property
    def is_cuda(self) -> bool:
        return self.data.device.type == "cuda"


def _int_array(values, name: str, fn: str) -> np.ndarray:
    """``values`` (list, array or CPU tensor of ints) as a 1-d int64 NumPy array."""
    if isinstance(values, Tensor):
        if values.device.type != "cpu":
            raise ValueError(
                f"{fn}: '{name}' must be a 1D CPU int64 tensor (or a list), got a tensor on "
                f"{values.device}"
            )
        values = values.numpy()
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{fn}: '{name}' must be a 1-D sequence of integers, got {values!r}")
    return arr.astype(np.int64)


def _index(positions: np.ndarray, like: Tensor) -> Tensor:
    return tensor(positions, dtype="int64", device=like.device)


def _steps_mask(lengths: np.ndarray, steps: int) -> np.ndarray:
    """``(steps, len(lengths))`` bool: is time step t valid for sequence j."""
    return np.arange(steps)[:, None] < lengths[None, :]


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) of sequences with
    the given ``lengths``.

    With ``enforce_sorted`` the lengths must be in decreasing order; otherwise the batch is
    sorted by length (stable), and ``sorted_indices``/``unsorted_indices`` record the order.
    """
    fn = "pack_padded_sequence"
    lengths = _int_array(lengths, "lengths", fn)
    if input.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dimensions, got {input.ndim}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if len(lengths) != batch:
        raise ValueError(
            f"{fn}: Expected `len(lengths)` to be equal to batch_size, but got "
            f"{len(lengths)} (batch_size={batch})"
        )
    if batch and lengths.min() <= 0:
        raise RuntimeError(
            f"{fn}: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0 (lengths={lengths.tolist()})"
        )
    if batch and lengths.max() > steps:
        raise RuntimeError(
            f"{fn}: a length of {lengths.max()} exceeds the input's {steps} time steps"
        )
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(
                f"{fn}: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True (got {lengths.tolist()}). You can pass "
                f"`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                f"sidestep this requirement if you do not need ONNX exportability."
            )
        order = np.arange(batch)
        sorted_indices = unsorted_indices = None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _index(order, input)
        unsorted_indices = _index(np.argsort(order), input)
    sorted_lengths = lengths[order]
    valid = _steps_mask(sorted_lengths, int(sorted_lengths[0]) if batch else 0)
    t, j = np.nonzero(valid)
    b = order[j]
    rows = b * steps + t if batch_first else t * batch + b
    flat = input.reshape(steps * batch, *input.shape[2:])
    data = flat.index_select(0, _index(rows, input))
    batch_sizes = tensor(valid.sum(axis=1), dtype="int64")
    return PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: the padded batch ``(T, B, *)`` (``(B, T, *)`` with
    ``batch_first``) in the original batch order, and the lengths (int64) in that order.

    ``T`` is the longest length, or ``total_length`` when given.
    """
    fn = "pad_packed_sequence"
    data = sequence.data
    batch_sizes = _int_array(sequence.batch_sizes, "batch_sizes", fn)
    steps, batch = len(batch_sizes), int(batch_sizes[0]) if len(batch_sizes) else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"{fn}: Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {steps}"
            )
        steps = total_length
    valid = np.arange(batch)[None, :] < batch_sizes[:, None]
    sorted_lengths = valid.sum(axis=0)
    order = np.arange(batch)
    if sequence.sorted_indices is not None:
        order = sequence.sorted_indices.cpu().numpy()
    # Output position of each packed row, and a gather index pointing padding at an extra row.
    t, j = np.nonzero(valid)
    b = order[j]
    source = np.full(steps * batch, len(t), dtype=np.int64)
    source[b * steps + t if batch_first else t * batch + b] = np.arange(len(t))
    pad_row = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, pad_row]).index_select(0, _index(source, data))
    shape = (batch, steps) if batch_first else (steps, batch)
    lengths = np.empty(batch, dtype=np.int64)
    lengths[order] = sorted_lengths
    return padded.reshape(*shape, *data.shape[1:]), tensor(lengths, dtype="int64")


def pad_sequence(
    sequences,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``),
    padding with ``padding_value`` on the ``padding_side`` ("right" or "left")."""
    fn = "pad_sequence"
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"{fn}: Expected padding_side to be one of left or right, but got {padding_side!r}"
        )
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"{fn}: received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise RuntimeError(
                f"{fn}: sequence {i} has shape {tuple(s.shape)}; expected (L, *{trailing})"
            )
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    batch, steps = len(sequences), int(lengths.max())
    first = sequences[0]
    valid = _steps_mask(lengths, steps).T  # (B, T)
    if padding_side == "left":
        valid = valid[:, ::-1]
    b, t = np.nonzero(valid)
    source = np.full(steps * batch, int(lengths.sum()), dtype=np.int64)
    source[b * steps + t if batch_first else t * batch + b] = np.arange(len(b))
    pad_row = full((1, *trailing), padding_value, dtype=first.dtype, device=first.device)
    padded = cat([*sequences, pad_row]).index_select(0, _index(source, first))
    shape = (batch, steps) if batch_first else (steps, batch)
    return padded.reshape(*shape, *trailing)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences ``(L_i, *)`` (in decreasing length unless
    ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
