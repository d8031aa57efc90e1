"""Padding variable-length sequences into batches: ``pad_sequences``, ``Batch``, collation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from biotorch.data.alphabets import DNA, Alphabet
from biotorch.data.encoding import RaggedArray, encode, one_hot

__all__ = ["pad_sequences", "Batch", "SequenceCollator", "collate_sequences"]

_SIDES = ("right", "left", "center")


def _check_side(name: str, value: Any, caller: str) -> None:
    if value not in _SIDES:
        raise ValueError(f"{caller}: {name}={value!r}, expected one of {_SIDES}")


def _offset(space: np.ndarray, side: str) -> np.ndarray:
    """Where a row starts inside ``space`` spare positions when placed at ``side``."""
    if side == "right":
        return np.zeros_like(space)
    return space if side == "left" else space // 2


def pad_sequences(
    seqs: Sequence[Any] | RaggedArray,
    side: str = "right",
    value: int | float | None = None,
    length: int | None = None,
    truncate: str | None = None,
    alphabet: Alphabet = DNA,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad 1-D sequences into one ``(batch, length)`` array.

    Parameters
    ----------
    seqs : list of 1-D arrays (tokens or numbers), or a RaggedArray
        The sequences; their dtype is kept.
    side : {"right", "left", "center"}
        Where the padding goes: ``"right"`` keeps every sequence at the start of its row,
        ``"left"`` at the end, ``"center"`` in the middle (an odd pad puts the extra one on the
        right).
    value : int or float, optional
        Padding value; default ``alphabet.pad_token`` (5 for DNA).
    length : int, optional
        Row length; default the longest sequence. A sequence longer than ``length`` is an
        error unless ``truncate`` says which end to cut.
    truncate : {None, "right", "left", "center"}
        With ``length``: cut too-long sequences at their right end, left end, or both ends
        (keeping the centre). ``None`` (default) raises instead: nothing is cut silently.
    alphabet : Alphabet
        Gives the default ``value``.

    Returns
    -------
    tokens : numpy.ndarray ``(batch, length)``
    lengths : numpy.ndarray ``(batch,)`` int64, real (post-truncation) lengths
    mask : numpy.ndarray ``(batch, length)`` bool, True at real positions
    """
    _check_side("side", side, "pad_sequences")
    if truncate is not None:
        _check_side("truncate", truncate, "pad_sequences")
    rows = seqs if isinstance(seqs, RaggedArray) else [np.asarray(s) for s in seqs]
    for i, row in enumerate(rows):
        if row.ndim != 1:
            raise ValueError(f"pad_sequences: seqs[{i}] has shape {row.shape}, expected 1-D")
    lengths = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
    longest = int(lengths.max()) if lengths.size else 0
    if length is None:
        length = longest
    elif not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"pad_sequences: length={length!r}, expected a non-negative integer")
    elif longest > length and truncate is None:
        i = int(np.argmax(lengths))
        raise ValueError(
            f"pad_sequences: seqs[{i}] has length {longest} > length={length}; pass "
            "truncate='right'|'left'|'center' to cut sequences, or a larger length"
        )
    cut_start = _offset(np.maximum(lengths - length, 0), truncate or "right")
    lengths = np.minimum(lengths, length)
    starts = _offset(length - lengths, side)
    dtype = (
        rows.dtype
        if isinstance(rows, RaggedArray)
        else np.result_type(np.int8, *{r.dtype for r in rows})
    )
    tokens = np.full((len(rows), length), alphabet.pad_token if value is None else value, dtype)
    for i, row in enumerate(rows):
        tokens[i, starts[i] : starts[i] + lengths[i]] = row[
            cut_start[i] : cut_start[i] + lengths[i]
        ]
    position = np.arange(length)
    mask = (position >= starts[:, None]) & (position < (starts + lengths)[:, None])
    return tokens, lengths, mask


@dataclass(eq=False)
class Batch:
    """A padded batch: what a collate function returns and a model consumes.

    Attribute access (``batch.inputs``) and mapping access (``batch["inputs"]``,
    ``model(**batch)``, ``dict(batch)``) both work; the keys are the fields that are not
    ``None``. It is a dataclass (not a ``Mapping``), so loaders convert it field by field.

    Attributes
    ----------
    inputs : array or Tensor
        Tokens ``(batch, length)`` or one-hot ``(batch, channels, length)``.
    lengths : array or Tensor, optional
        Real length of each sequence, ``int64``.
    mask : array or Tensor, optional
        ``(batch, length)`` bool, True at real positions (attention/pooling masks).
    labels : array or Tensor, optional
        Targets, stacked along the first axis.
    ids : list, optional
        Record identifiers, kept as Python objects.
    """

    inputs: Any
    lengths: Any = None
    mask: Any = None
    labels: Any = None
    ids: list | None = None

    def keys(self) -> list[str]:
        """Names of the fields that are not ``None``."""
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def items(self) -> list[tuple[str, Any]]:
        """``(name, value)`` of the fields that are not ``None``."""
        return [(k, getattr(self, k)) for k in self.keys()]

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys():
            raise KeyError(f"Batch: no field {key!r}; fields present: {self.keys()}")
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self.keys()

    @property
    def batch_size(self) -> int:
        """Number of sequences."""
        return len(self.inputs)

    def apply(self, fn: Callable[[Any], Any]) -> Batch:
        """A new Batch with ``fn`` applied to every array field (not to ``ids``)."""
        return replace(self, **{k: fn(v) for k, v in self.items() if k != "ids"})

    def to(self, device: Any) -> Batch:
        """A new Batch whose array fields are biotorch Tensors on ``device``.

        NumPy arrays become Tensors through ``biotorch.from_numpy``; fields that already have a
        ``.to`` method (Tensors) are moved with it. ``ids`` are left as they are.
        """

        def move(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                import biotorch

                value = biotorch.from_numpy(value)
            return value.to(device)

        return self.apply(move)


def _split_sample(sample: Any) -> tuple[Any, Any, Any]:
    """(sequence, label, id) of a sample: an array/str, a tuple ``(x[, y[, id]])`` or a dict."""
    if isinstance(sample, Mapping):
        unknown = set(sample) - {"inputs", "labels", "ids"}
        if unknown or "inputs" not in sample:
            raise ValueError(
                f"collate: sample keys {sorted(sample)}; expected 'inputs' and optionally "
                "'labels' and 'ids'"
            )
        return sample["inputs"], sample.get("labels"), sample.get("ids")
    if isinstance(sample, tuple):
        if not 1 <= len(sample) <= 3:
            raise ValueError(
                f"collate: a sample tuple has {len(sample)} items; expected (inputs[, label[, id]])"
            )
        return tuple(sample) + (None,) * (3 - len(sample))
    return sample, None, None


class SequenceCollator:
    """Collate variable-length sequences into a padded :class:`Batch`.

    Samples are token arrays or text (encoded with ``alphabet``), or tuples
    ``(sequence, label)`` / ``(sequence, label, id)``, or dicts with keys ``inputs``, ``labels``,
    ``ids``. Labels are stacked with ``numpy.stack``; all samples must have one or none.

    Parameters
    ----------
    alphabet : Alphabet
        Alphabet for text samples, the PAD token and one-hot channels.
    side, length, truncate :
        As in :func:`pad_sequences`.
    one_hot : bool
        Return one-hot inputs ``(batch, channels, length)`` instead of tokens (PAD positions
        are zeros).
    dtype, n_value, channels_last :
        As in :func:`~biotorch.data.one_hot`.

    Examples
    --------
    >>> collate = SequenceCollator(one_hot=True)
    >>> batch = collate([("ACGT", 1), ("AC", 0)])
    >>> batch.inputs.shape, batch.lengths.tolist(), batch.labels.tolist()
    ((2, 4, 4), [4, 2], [1, 0])
    """

    def __init__(
        self,
        alphabet: Alphabet = DNA,
        side: str = "right",
        length: int | None = None,
        truncate: str | None = None,
        one_hot: bool = False,
        dtype: Any = np.float32,
        n_value: float = 0.0,
        channels_last: bool = False,
    ) -> None:
        _check_side("side", side, "SequenceCollator")
        self.alphabet = alphabet
        self.side = side
        self.length = length
        self.truncate = truncate
        self.one_hot = one_hot
        self.dtype = dtype
        self.n_value = n_value
        self.channels_last = channels_last

    def __call__(self, samples: Sequence[Any]) -> Batch:
        if len(samples) == 0:
            raise ValueError("collate: samples is empty, expected at least one sample")
        seqs, labels, ids = zip(*(_split_sample(s) for s in samples), strict=True)
        seqs = [
            encode(s, self.alphabet) if isinstance(s, (str, bytes, bytearray)) else s for s in seqs
        ]
        tokens, lengths, mask = pad_sequences(
            seqs, self.side, None, self.length, self.truncate, self.alphabet
        )
        inputs = tokens
        if self.one_hot:
            inputs = one_hot(tokens, self.alphabet, self.dtype, self.n_value, self.channels_last)
        return Batch(
            inputs=inputs,
            lengths=lengths,
            mask=mask,
            labels=_stack("labels", labels),
            ids=_stack("ids", ids, as_list=True),
        )


def _stack(name: str, values: Sequence[Any], as_list: bool = False) -> Any:
    present = [v is not None for v in values]
    if not any(present):
        return None
    if not all(present):
        raise ValueError(
            f"collate: sample {present.index(False)} has no {name} while others do; expected "
            f"every sample to have {name} or none"
        )
    return list(values) if as_list else np.stack([np.asarray(v) for v in values])


def collate_sequences(samples: Sequence[Any], **kwargs: Any) -> Batch:
    """Collate samples into a padded :class:`Batch`; ``kwargs`` go to :class:`SequenceCollator`."""
    return SequenceCollator(**kwargs)(samples)
