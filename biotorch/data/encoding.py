"""Encode sequences to int8 tokens, decode them, one-hot encode, reverse-complement.

Policies (see :mod:`biotorch.data.alphabets` for the token layout):

- lowercase letters get the same token as uppercase ones (``return_soft_mask=True`` also
  returns where they were);
- the unknown letter (``N``/``X``) gets its own token, one-hot zeros by default (``n_value``);
- IUPAC ambiguity codes follow ``iupac=``: ``"n"`` (default) encodes them as the unknown token,
  ``"fractional"`` keeps their own tokens so :func:`one_hot` spreads 1 over the letters they
  stand for (``R`` -> ``A = G = 0.5``), ``"error"`` raises;
- any other character raises a ``ValueError`` naming the sequence, position and character.

Encoding is a byte lookup table over one joined buffer (``bytes.translate``), with no Python loop
over characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from biotorch.backend import array_module
from biotorch.data.alphabets import DNA, FORBIDDEN, Alphabet

__all__ = ["RaggedArray", "encode", "decode", "one_hot", "reverse_complement"]


class RaggedArray:
    """A batch of variable-length 1-D arrays stored as one flat buffer plus offsets.

    Row ``i`` is ``data[offsets[i]:offsets[i + 1]]``. :func:`encode` returns one for a batch of
    sequences of different lengths; :func:`~biotorch.data.pad_sequences` pads it.

    Parameters
    ----------
    data : numpy.ndarray
        Flat 1-D buffer of all rows, concatenated.
    offsets : numpy.ndarray
        ``int64`` array of ``len(self) + 1`` non-decreasing offsets, from 0 to ``len(data)``.
    """

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        data = np.asarray(data)
        offsets = np.asarray(offsets, dtype=np.int64)
        if data.ndim != 1:
            raise ValueError(f"RaggedArray: data has shape {data.shape}, expected a 1-D array")
        if (
            offsets.ndim != 1
            or offsets.size == 0
            or offsets[0] != 0
            or offsets[-1] != data.size
            or (np.diff(offsets) < 0).any()
        ):
            raise ValueError(
                f"RaggedArray: offsets {offsets!r} must be 1-D, non-decreasing, from 0 to "
                f"len(data)={data.size}"
            )
        self.data = data
        self.offsets = offsets

    @classmethod
    def from_arrays(cls, arrays: Iterable[Any]) -> RaggedArray:
        """Concatenate 1-D arrays into a ragged array."""
        arrays = [np.asarray(a) for a in arrays]
        for i, a in enumerate(arrays):
            if a.ndim != 1:
                raise ValueError(f"RaggedArray: row {i} has shape {a.shape}, expected 1-D")
        lengths = np.array([a.size for a in arrays], dtype=np.int64)
        data = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int8)
        return cls(data, np.concatenate([[0], np.cumsum(lengths)]))

    @property
    def lengths(self) -> np.ndarray:
        """Row lengths, ``int64``."""
        return np.diff(self.offsets)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, index: int) -> np.ndarray:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(
                f"RaggedArray: index is {type(index).__name__}, expected an int (one row)"
            )
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"RaggedArray: index {index} out of range for {n} rows")
        index %= n
        return self.data[self.offsets[index] : self.offsets[index + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"RaggedArray(rows={len(self)}, total={self.data.size}, dtype={self.data.dtype})"


_SINGLE = (str, bytes, bytearray, memoryview)


def _is_biopython(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "Bio"


def _is_single(seqs: Any) -> bool:
    if isinstance(seqs, np.ndarray):
        return seqs.ndim == 1
    return isinstance(seqs, _SINGLE) or _is_biopython(seqs)


def _as_bytes(seq: Any, index: int | None) -> bytes | bytearray | memoryview | np.ndarray:
    """One sequence as a bytes-like object of ASCII characters."""
    if _is_biopython(seq):
        seq = bytes(getattr(seq, "seq", seq))
    if isinstance(seq, str):
        try:
            return seq.encode("ascii")
        except UnicodeEncodeError as err:
            raise _bad_char(index, err.start, seq[err.start], None) from None
    if isinstance(seq, (bytes, bytearray, memoryview)):
        return seq
    if isinstance(seq, np.ndarray) and seq.dtype == np.uint8 and seq.ndim == 1:
        return np.ascontiguousarray(seq)
    where = "seqs" if index is None else f"seqs[{index}]"
    raise TypeError(
        f"encode: {where} is {type(seq).__name__}"
        + (f" of dtype {seq.dtype} and shape {seq.shape}" if isinstance(seq, np.ndarray) else "")
        + "; expected str, bytes, bytearray, a 1-D uint8 array of ASCII codes or a Biopython "
        "Seq/SeqRecord (to turn tokens back into text use decode)"
    )


def _bad_char(index: int | None, position: int, char: str, alphabet: Alphabet | None) -> ValueError:
    where = "" if index is None else f"sequence {index}: "
    if alphabet is None:
        expected = "expected ASCII letters"
    else:
        expected = (
            f"expected {alphabet.name} letters {alphabet.letters!r}, unknown "
            f"{alphabet.unknown!r} or IUPAC codes {alphabet.ambiguity_codes!r} (any case)"
        )
    return ValueError(
        f"encode: {where}invalid character {char!r} at position {position}; {expected}"
    )


def _join(seqs: list[Any]) -> tuple[bytes | bytearray, np.ndarray]:
    """All sequences in one buffer, and their offsets."""
    kinds = set(map(type, seqs))
    if kinds <= {str}:
        text = "".join(seqs)
        if text.isascii():
            lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
            return text.encode("ascii"), np.concatenate([[0], np.cumsum(lengths)])
    if kinds <= {bytes, bytearray}:
        parts = seqs
    else:
        parts = [_as_bytes(s, i) for i, s in enumerate(seqs)]
    lengths = np.fromiter((memoryview(p).nbytes for p in parts), dtype=np.int64, count=len(parts))
    return bytearray().join(parts), np.concatenate([[0], np.cumsum(lengths)])


def _translate_bytes(buffer: Any, table: bytes) -> bytearray:
    """``table[byte]`` for every byte, as a new (so writable) bytearray."""
    return (buffer if isinstance(buffer, bytearray) else bytearray(buffer)).translate(table)


def _lookup(
    buffer: bytes | bytearray | memoryview | np.ndarray,
    offsets: np.ndarray | None,
    alphabet: Alphabet,
    iupac: str,
    single: bool,
) -> np.ndarray:
    """Bytes -> int8 tokens through the alphabet's table; raise at the first bad character."""
    table = alphabet._check_policy(iupac)
    tokens = np.frombuffer(_translate_bytes(buffer, table), dtype=np.int8)
    if tokens.size and tokens.min() < 0:
        pos = int(np.flatnonzero(tokens < 0)[0])
        index, start = None, 0
        if not single:
            index = int(np.searchsorted(offsets, pos, side="right")) - 1
            start = int(offsets[index])
        char = chr(memoryview(buffer).cast("B")[pos])
        if tokens[pos] == FORBIDDEN:
            where = "" if index is None else f"sequence {index}: "
            raise ValueError(
                f"encode: {where}IUPAC ambiguity code {char!r} at position {pos - start} is not "
                f"allowed with iupac='error'; use iupac='n' (encode as {alphabet.unknown!r}) or "
                "iupac='fractional'"
            )
        raise _bad_char(index, pos - start, char, alphabet)
    return tokens


def encode(
    seqs: Any,
    alphabet: Alphabet = DNA,
    iupac: str = "n",
    return_soft_mask: bool = False,
) -> Any:
    """Encode one sequence or a batch of sequences to ``int8`` tokens.

    Parameters
    ----------
    seqs : str, bytes, bytearray, uint8 array, Biopython Seq/SeqRecord, or an iterable of them
        One sequence, or a batch (a list, tuple, any iterable such as ``SeqIO.parse(...)``, or a
        2-D ``uint8`` array of ASCII codes, one row per sequence).
    alphabet : Alphabet
        ``DNA`` (default), ``RNA``, ``PROTEIN`` or a user-defined alphabet.
    iupac : {"n", "fractional", "error"}
        Policy for IUPAC ambiguity codes (see the module docstring).
    return_soft_mask : bool
        Also return a boolean array, True where the input letter was lowercase.

    Returns
    -------
    tokens : numpy.ndarray or RaggedArray
        A single sequence gives a 1-D array; a batch of equal-length sequences a 2-D array
        ``(batch, length)``; a batch of different lengths a :class:`RaggedArray` (one flat
        token buffer plus offsets).
    soft_mask : same structure as ``tokens``, bool
        Only with ``return_soft_mask=True``.

    Examples
    --------
    >>> encode("ACGTNacgtn")
    array([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], dtype=int8)
    """
    single = _is_single(seqs)
    if single:
        buffer, offsets = _as_bytes(seqs, None), None
    elif isinstance(seqs, np.ndarray):
        if seqs.ndim != 2 or seqs.dtype != np.uint8:
            raise TypeError(
                f"encode: seqs is an array of dtype {seqs.dtype} and shape {seqs.shape}; expected "
                "uint8 ASCII codes, 1-D (one sequence) or 2-D (a batch)"
            )
        buffer = np.ascontiguousarray(seqs).tobytes()
        offsets = np.arange(seqs.shape[0] + 1, dtype=np.int64) * seqs.shape[1]
    elif isinstance(seqs, Iterable):
        buffer, offsets = _join(list(seqs))
    else:
        raise TypeError(
            f"encode: seqs is {type(seqs).__name__}; expected a sequence (str, bytes, uint8 "
            "array, Biopython Seq/SeqRecord) or an iterable of them"
        )
    tokens = _lookup(buffer, offsets, alphabet, iupac, single)
    soft_mask = None
    if return_soft_mask:
        soft_mask = np.frombuffer(_translate_bytes(buffer, alphabet._lower), dtype=bool)
    if not single:
        lengths = np.diff(offsets)
        if lengths.size == 0 or (lengths == lengths[0]).all():
            shape = (lengths.size, int(lengths[0]) if lengths.size else 0)
            tokens = tokens.reshape(shape)
            soft_mask = None if soft_mask is None else soft_mask.reshape(shape)
        else:
            tokens = RaggedArray(tokens, offsets)
            soft_mask = None if soft_mask is None else RaggedArray(soft_mask, offsets)
    return (tokens, soft_mask) if return_soft_mask else tokens


def _xp(array: Any, caller: str) -> Any:
    """NumPy or CuPy, whichever ``array`` belongs to; a TypeError for anything else."""
    if type(array).__module__.split(".")[0] not in ("numpy", "cupy"):
        raise TypeError(f"{caller}: got {type(array).__name__}, expected a NumPy or CuPy array")
    return array_module(array)


def _to_numpy(array: Any) -> np.ndarray:
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else array


def _check_tokens(tokens: Any, alphabet: Alphabet, caller: str) -> None:
    """Raise unless ``tokens`` is an integer array with values in ``[0, alphabet.n_tokens)``."""
    if not hasattr(tokens, "dtype") or tokens.dtype.kind not in "iu":
        raise TypeError(
            f"{caller}: tokens has dtype {getattr(tokens, 'dtype', type(tokens).__name__)}; "
            "expected an integer array of tokens (see encode)"
        )
    xp = _xp(tokens, caller)
    if tokens.size == 0:
        return
    if tokens.dtype == np.int8:
        bad = bool((tokens.view(xp.uint8) >= alphabet.n_tokens).any())
    else:
        bad = bool(tokens.min() < 0) or bool(tokens.max() >= alphabet.n_tokens)
    if bad:
        flat = _to_numpy(tokens).ravel()
        pos = int(np.flatnonzero((flat < 0) | (flat >= alphabet.n_tokens))[0])
        raise ValueError(
            f"{caller}: token {int(flat[pos])} at flat position {pos} is not a {alphabet.name} "
            f"token; expected 0 <= token < {alphabet.n_tokens}"
        )


def decode(tokens: Any, alphabet: Alphabet = DNA) -> str | list[str]:
    """Turn tokens back into uppercase text; PAD tokens are dropped.

    A 1-D array gives a string; a 2-D array, a :class:`RaggedArray` or a list of 1-D arrays
    gives a list of strings. CuPy arrays are copied to the host.
    """
    if isinstance(tokens, RaggedArray):
        flat, lengths = tokens.data, tokens.lengths
    elif isinstance(tokens, (list, tuple)):
        ragged = RaggedArray.from_arrays(_to_numpy(t) for t in tokens)
        flat, lengths = ragged.data, ragged.lengths
    else:
        tokens = np.asarray(_to_numpy(tokens))
        if tokens.ndim not in (1, 2):
            raise ValueError(f"decode: tokens has shape {tokens.shape}, expected 1-D or 2-D")
        flat = tokens.ravel()
        lengths = None if tokens.ndim == 1 else np.full(tokens.shape[0], tokens.shape[1])
    _check_tokens(flat, alphabet, "decode")
    keep = flat != alphabet.pad_token
    text = alphabet._decode[flat[keep]].tobytes().decode("ascii")
    if lengths is None:
        return text
    row = np.repeat(np.arange(lengths.size), lengths)
    ends = np.cumsum(np.bincount(row[keep], minlength=lengths.size))
    return [text[a:b] for a, b in zip(np.concatenate([[0], ends[:-1]]), ends, strict=True)]


def one_hot(
    tokens: Any,
    alphabet: Alphabet = DNA,
    dtype: Any = np.float32,
    n_value: float = 0.0,
    channels_last: bool = False,
) -> Any:
    """One-hot encode tokens on the device they live on (NumPy or CuPy).

    Parameters
    ----------
    tokens : integer array, shape ``(..., length)``
        Tokens from :func:`encode` (expand int8 tokens on the GPU to save transfers).
    alphabet : Alphabet
        Alphabet of the tokens; ``len(alphabet)`` channels in its letter order.
    dtype : dtype
        Output dtype, float32 by default.
    n_value : float
        Value of every channel at unknown (``N``) positions: 0 (default) or ``1 / len(alphabet)``
        (0.25 for DNA) for a uniform prior. PAD positions are always zeros; ambiguity tokens
        (``iupac="fractional"``) spread 1 over their letters.
    channels_last : bool
        Return ``(..., length, channels)`` instead of ``(..., channels, length)``.

    Returns
    -------
    array of shape ``(..., channels, length)`` (or channels last), C-contiguous.
    """
    _check_tokens(tokens, alphabet, "one_hot")
    xp = _xp(tokens, "one_hot")
    if tokens.ndim == 0:
        raise ValueError("one_hot: tokens is 0-d, expected shape (..., length)")
    k = len(alphabet)
    if channels_last:
        return xp.asarray(alphabet.one_hot_table(n_value), dtype=dtype)[tokens]
    out = xp.empty(tokens.shape[:-1] + (k,) + tokens.shape[-1:], dtype=dtype)
    for c in range(k):
        xp.equal(tokens, c, out=out[..., c, :])
    # (tokens == c) is already right for letters, PAD, and N when n_value == 0
    other = (tokens.view(xp.uint8) if tokens.dtype == np.int8 else tokens) > alphabet.pad_token
    if n_value != 0:
        other |= tokens == alphabet.unknown_token
    if other.any():
        where = xp.nonzero(other)
        rows = xp.asarray(alphabet.one_hot_table(n_value), dtype=dtype)[tokens[where]]
        out[where[:-1] + (slice(None), where[-1])] = rows.T if len(where) == 1 else rows
    return out


def _translate(tokens: Any, table: np.ndarray) -> Any:
    """``table[tokens]`` for a small int8 table: ``bytes.translate`` for NumPy 1-byte tokens
    (several times faster than fancy indexing), fancy indexing otherwise (CuPy, wider ints)."""
    xp = array_module(tokens)
    if xp is not np or tokens.dtype.itemsize != 1:
        return xp.asarray(table)[tokens]
    lut = np.zeros(256, dtype=np.uint8)
    lut[: table.size] = table.view(np.uint8)
    out = bytearray(np.ascontiguousarray(tokens)).translate(lut.tobytes())
    return np.frombuffer(out, dtype=tokens.dtype).reshape(tokens.shape)


def _flip_index(lengths: Any, length: int, side: str, xp: Any) -> Any:
    """Gather index reversing the first (``side="right"``) or last ``lengths`` positions."""
    lengths = xp.asarray(lengths).reshape(-1, 1)
    j = xp.arange(length).reshape(1, -1)
    if side == "right":
        return xp.where(j < lengths, lengths - 1 - j, j)
    if side == "left":
        start = length - lengths
        return xp.where(j >= start, start + length - 1 - j, j)
    raise ValueError(f"reverse_complement: side={side!r}, expected 'right' or 'left'")


def reverse_complement(
    x: Any,
    alphabet: Alphabet = DNA,
    lengths: Any = None,
    side: str = "right",
    channels_last: bool = False,
) -> Any:
    """Reverse complement of text, tokens or one-hot arrays (an involution).

    Parameters
    ----------
    x : str, bytes, list of str, integer token array or float one-hot array
        Text keeps its case (``"acgN"`` -> ``"Ncgt"``); tokens have shape ``(..., length)``;
        one-hot arrays ``(..., channels, length)`` (or ``(..., length, channels)`` with
        ``channels_last=True``). N stays N, PAD stays PAD, ambiguity codes map to their
        complements (``R`` <-> ``Y``).
    alphabet : Alphabet
        An alphabet with a complement (DNA or RNA).
    lengths : array of int, optional
        For a padded batch ``(batch, ..., length)``: the real length of each row. Only those
        positions are reversed and the padding stays where it was (see ``side``).
    side : {"right", "left"}
        Where the padding is, with ``lengths``.
    channels_last : bool
        Layout of one-hot input.
    """
    if not alphabet.has_complement:
        raise ValueError(f"reverse_complement: alphabet {alphabet.name} has no complement")
    if isinstance(x, (list, tuple)):
        return [reverse_complement(s, alphabet) for s in x]
    if isinstance(x, (str, bytes, bytearray)):
        raw = x.encode("ascii", errors="replace") if isinstance(x, str) else bytes(x)
        out = raw.translate(alphabet._complement_bytes)[::-1]
        if 0 in out:
            pos = len(raw) - 1 - out.index(0)
            raise ValueError(
                f"reverse_complement: invalid character {x[pos : pos + 1]!r} at position {pos}; "
                f"expected {alphabet.name} letters, {alphabet.unknown!r} or IUPAC codes"
            )
        return out.decode("ascii") if isinstance(x, str) else out
    xp = _xp(x, "reverse_complement")
    if x.dtype.kind in "iu":
        _check_tokens(x, alphabet, "reverse_complement")
        out = _translate(x, alphabet._complement_tokens)
        axis = -1
    elif x.dtype.kind == "f":
        axis, channel_axis = (-2, -1) if channels_last else (-1, -2)
        if x.ndim < 2 or x.shape[channel_axis] != len(alphabet):
            raise ValueError(
                f"reverse_complement: one-hot x has shape {x.shape}, expected {len(alphabet)} "
                f"channels on axis {channel_axis} (channels_last={channels_last})"
            )
        out = xp.take(x, xp.asarray(alphabet._channel_complement), axis=channel_axis)
    else:
        raise TypeError(f"reverse_complement: x has dtype {x.dtype}, expected int or float")
    if lengths is None:
        return xp.ascontiguousarray(xp.flip(out, axis=axis))
    n = out.shape[axis]
    index = _flip_index(lengths, n, side, xp)
    if index.shape[0] != out.shape[0]:
        raise ValueError(
            f"reverse_complement: lengths has {index.shape[0]} entries, x has batch size "
            f"{out.shape[0]}"
        )
    if ((index < 0) | (index >= n)).any():
        raise ValueError(f"reverse_complement: lengths must lie in [0, {n}]")
    shape = (out.shape[0],) + (1,) * (out.ndim - 1)
    shape = shape[: axis % out.ndim] + (n,) + shape[axis % out.ndim + 1 :]
    return xp.take_along_axis(out, index.reshape(shape), axis=axis)
