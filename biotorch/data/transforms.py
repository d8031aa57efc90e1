"""Composable sequence transforms (torchvision-style) and augmentations.

Every transform is a callable ``transform(x, rng=None)``. Random transforms draw from ``rng``, a
``numpy.random.Generator``. biotorch's datasets (``FastaDataset``, ``SequenceTableDataset`` ...)
call ``transform(x, rng=current_rng())``, which inside a
:class:`~biotorch.data.loader.DataLoader` is the worker's stream seeded from
``(seed, epoch, worker id)``: augmentations are then reproducible and differ between workers and
epochs. Do the same in your own datasets. Called without ``rng`` a random transform uses its own
generator, seeded by its ``seed=`` argument (unseeded by default); forked workers would each copy
that generator and draw the same numbers, so inside a loader always pass ``rng``.

:func:`apply_transform` calls any callable with ``rng=`` only if it accepts one, so plain
functions mix with these transforms in :class:`Compose`.

Array transforms act on the last axis, the length axis of tokens ``(length,)`` and of
channels-first one-hot arrays ``(channels, length)``; crops and shifts also accept text.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biotorch.data.alphabets import DNA, Alphabet
from biotorch.data.batching import _check_side, pad_sequences
from biotorch.data.encoding import encode, one_hot, reverse_complement
from biotorch.data.tokenizers import KmerTokenizer

__all__ = [
    "Transform",
    "Compose",
    "Encode",
    "OneHot",
    "KmerTokenize",
    "RandomReverseComplement",
    "RandomShift",
    "RandomTranslate",
    "RandomCrop",
    "CenterCrop",
    "PadTo",
    "RandomMutation",
    "ToTensor",
    "apply_transform",
]


def apply_transform(transform: Callable[..., Any], x: Any, rng: Any = None) -> Any:
    """Call ``transform(x, rng=rng)`` if it takes an ``rng`` argument, else ``transform(x)``."""
    if rng is not None and _takes_rng(transform):
        return transform(x, rng=rng)
    return transform(x)


def _takes_rng(fn: Callable[..., Any]) -> bool:
    if isinstance(fn, Transform):
        return True
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "rng" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class Transform:
    """Base class: ``__call__(x, rng=None)``; random subclasses take ``seed=`` for a fallback."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def _generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        return self._rng if rng is None else rng

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms in order, passing ``rng`` to those that take it."""

    def __init__(self, transforms: Sequence[Callable[..., Any]]) -> None:
        super().__init__()
        self.transforms = list(transforms)

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        for t in self.transforms:
            x = apply_transform(t, x, rng)
        return x


class Encode(Transform):
    """Text -> int8 tokens (see :func:`~biotorch.data.encode`)."""

    def __init__(self, alphabet: Alphabet = DNA, iupac: str = "n") -> None:
        super().__init__()
        alphabet._check_policy(iupac)
        self.alphabet = alphabet
        self.iupac = iupac

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        return encode(x, self.alphabet, self.iupac)


class OneHot(Transform):
    """Tokens -> one-hot ``(channels, length)`` (see :func:`~biotorch.data.one_hot`)."""

    def __init__(
        self,
        alphabet: Alphabet = DNA,
        dtype: Any = np.float32,
        n_value: float = 0.0,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.alphabet = alphabet
        self.dtype = dtype
        self.n_value = n_value
        self.channels_last = channels_last

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        return one_hot(x, self.alphabet, self.dtype, self.n_value, self.channels_last)


class KmerTokenize(Transform):
    """Text or tokens -> k-mer ids (see :class:`~biotorch.data.KmerTokenizer`)."""

    def __init__(self, k: int, stride: int = 1, alphabet: Alphabet = DNA) -> None:
        super().__init__()
        self.tokenizer = KmerTokenizer(k, stride, alphabet)

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        return self.tokenizer(x)


def _check_probability(name: str, value: float, caller: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{caller}: {name}={value!r}, expected a probability in [0, 1]")


def _check_length(name: str, value: Any, caller: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{caller}: {name}={value!r}, expected a non-negative integer")


class RandomReverseComplement(Transform):
    """Reverse-complement text, tokens or one-hot with probability ``p`` (strand augmentation)."""

    def __init__(
        self,
        p: float = 0.5,
        alphabet: Alphabet = DNA,
        channels_last: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        _check_probability("p", p, "RandomReverseComplement")
        if not alphabet.has_complement:
            raise ValueError(f"RandomReverseComplement: alphabet {alphabet.name} has no complement")
        self.p = p
        self.alphabet = alphabet
        self.channels_last = channels_last

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        if self._generator(rng).random() < self.p:
            return reverse_complement(x, self.alphabet, channels_last=self.channels_last)
        return x


def _window(x: Any, start: int, length: int, caller: str) -> Any:
    """``x[..., start:start + length]`` for text or arrays."""
    size = len(x) if isinstance(x, (str, bytes, bytearray)) else np.shape(x)[-1]
    if length < 0 or start < 0 or start + length > size:
        raise ValueError(
            f"{caller}: input has length {size}, expected at least {start + length} "
            f"(a window of {length} at offset {start})"
        )
    if isinstance(x, (str, bytes, bytearray)):
        return x[start : start + length]
    return x[..., start : start + length]


def _length(x: Any) -> int:
    return len(x) if isinstance(x, (str, bytes, bytearray)) else np.shape(x)[-1]


class RandomShift(Transform):
    """Jitter a window within its flanks: drop ``s`` from the start and ``2*max_shift - s`` from
    the end, ``s`` uniform in ``[0, 2*max_shift]``.

    Fetch sequences ``2 * max_shift`` longer than the model input (``max_shift`` of flank on
    each side); the output is ``2 * max_shift`` shorter, centred at a shift in
    ``[-max_shift, max_shift]``.
    """

    def __init__(self, max_shift: int, seed: int | None = None) -> None:
        super().__init__(seed)
        _check_length("max_shift", max_shift, "RandomShift")
        self.max_shift = max_shift

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        start = int(self._generator(rng).integers(0, 2 * self.max_shift + 1))
        return _window(x, start, _length(x) - 2 * self.max_shift, "RandomShift")


class RandomTranslate(Transform):
    """Move a token sequence by ``s`` positions, ``s`` uniform in ``[-max_shift, max_shift]``,
    keeping its length: vacated positions get the alphabet's N token and the ``|s|`` tokens
    pushed past the other end are dropped.

    Shift augmentation for sequences without flanks (use :class:`RandomShift` when you can fetch
    ``max_shift`` of real flank on each side). A site within ``max_shift`` of an end can be cut,
    so keep the shift small next to the sequence length. Input: int tokens ``(..., length)``.
    """

    def __init__(self, max_shift: int, alphabet: Alphabet = DNA, seed: int | None = None) -> None:
        super().__init__(seed)
        _check_length("max_shift", max_shift, "RandomTranslate")
        self.max_shift = max_shift
        self.alphabet = alphabet

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"RandomTranslate: input has dtype {x.dtype}, expected int tokens")
        shift = int(self._generator(rng).integers(-self.max_shift, self.max_shift + 1))
        out = np.full_like(x, self.alphabet.unknown_token)
        length = x.shape[-1]
        if abs(shift) < length:
            if shift >= 0:
                out[..., shift:] = x[..., : length - shift]
            else:
                out[..., :shift] = x[..., -shift:]
        return out


class RandomCrop(Transform):
    """A window of ``length`` at a uniformly random offset; shorter input is an error."""

    def __init__(self, length: int, seed: int | None = None) -> None:
        super().__init__(seed)
        _check_length("length", length, "RandomCrop")
        self.length = length

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        space = _length(x) - self.length
        start = int(self._generator(rng).integers(0, space + 1)) if space > 0 else 0
        return _window(x, start, self.length, "RandomCrop")


class CenterCrop(Transform):
    """The central window of ``length`` (an odd excess leaves the extra position on the right)."""

    def __init__(self, length: int) -> None:
        super().__init__()
        _check_length("length", length, "CenterCrop")
        self.length = length

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        return _window(x, max(_length(x) - self.length, 0) // 2, self.length, "CenterCrop")


class PadTo(Transform):
    """Pad a 1-D token array to ``length`` at ``side`` ("right", "left", "center").

    ``value`` defaults to ``alphabet.pad_token``. Longer input is an error (crop it first).
    """

    def __init__(
        self,
        length: int,
        side: str = "right",
        value: int | float | None = None,
        alphabet: Alphabet = DNA,
    ) -> None:
        super().__init__()
        _check_length("length", length, "PadTo")
        _check_side("side", side, "PadTo")
        self.length = length
        self.side = side
        self.value = value
        self.alphabet = alphabet

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 1 or x.size > self.length:
            raise ValueError(
                f"PadTo: input has shape {x.shape}, expected a 1-D array of at most "
                f"length={self.length}"
            )
        return pad_sequences([x], self.side, self.value, self.length, alphabet=self.alphabet)[0][0]


class RandomMutation(Transform):
    """Substitute each letter token with probability ``rate`` by a different random letter.

    N, PAD and ambiguity tokens are left alone. Input: int token array of any shape.
    """

    def __init__(self, rate: float, alphabet: Alphabet = DNA, seed: int | None = None) -> None:
        super().__init__(seed)
        _check_probability("rate", rate, "RandomMutation")
        if len(alphabet) < 2:
            raise ValueError(f"RandomMutation: alphabet {alphabet.name} has fewer than 2 letters")
        self.rate = rate
        self.alphabet = alphabet

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"RandomMutation: input has dtype {x.dtype}, expected int tokens")
        rng = self._generator(rng)
        k = len(self.alphabet)
        hit = (rng.random(x.shape) < self.rate) & (x >= 0) & (x < k)
        out = x.copy()
        out[hit] = (x[hit] + rng.integers(1, k, size=int(hit.sum()))) % k
        return out


class ToTensor(Transform):
    """NumPy array -> biotorch Tensor (``biotorch.from_numpy``, sharing memory)."""

    def __call__(self, x: Any, rng: np.random.Generator | None = None) -> Any:
        import biotorch

        return biotorch.from_numpy(np.ascontiguousarray(x))
