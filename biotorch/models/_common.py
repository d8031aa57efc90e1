"""Helpers shared by the model families: feature lengths of conv/pool stacks, input checks,
alphabet names."""

from __future__ import annotations

from collections.abc import Iterable

from biotorch.data.alphabets import DNA, PROTEIN, RNA, Alphabet
from biotorch.nn.module import Module
from biotorch.tensor import Tensor

ALPHABETS = {"DNA": DNA, "RNA": RNA, "PROTEIN": PROTEIN}


def resolve_alphabet(alphabet: Alphabet | str, caller: str) -> Alphabet:
    """An :class:`Alphabet` from itself or its name (``"DNA"``, ``"RNA"``, ``"PROTEIN"``)."""
    if isinstance(alphabet, Alphabet):
        return alphabet
    if isinstance(alphabet, str) and alphabet.upper() in ALPHABETS:
        return ALPHABETS[alphabet.upper()]
    raise ValueError(
        f"{caller}: alphabet={alphabet!r}, expected an Alphabet or one of {sorted(ALPHABETS)}"
    )


def _first(value) -> int:
    return int(value[0]) if isinstance(value, tuple | list) else int(value)


def _stage_length(module: Module, length: int) -> int:
    """Output length of one Conv1d/MaxPool1d/AvgPool1d for an input of ``length``; other
    modules keep the length."""
    name = type(module).__name__
    if name not in ("Conv1d", "MaxPool1d", "AvgPool1d"):
        return length
    kernel, stride = _first(module.kernel_size), _first(module.stride)
    dilation = _first(getattr(module, "dilation", 1))
    padding = module.padding
    if padding == "same":
        return length
    padding = 0 if padding == "valid" else _first(padding)
    span = length + 2 * padding - dilation * (kernel - 1) - 1
    ceil_mode = getattr(module, "ceil_mode", False)
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1  # as PyTorch: the last window must start inside the input or left padding
    return max(out, 0) if span >= 0 or ceil_mode else 0


def feature_length(modules: Iterable[Module], length: int) -> int:
    """Length after the Conv1d/pooling layers among ``modules`` (applied in order)."""
    for module in modules:
        length = _stage_length(module, length)
    return length


def minimum_length(modules: Iterable[Module]) -> int:
    """The shortest input for which ``modules`` leave at least one position."""
    modules = list(modules)
    high = 1
    while feature_length(modules, high) < 1:
        high *= 2
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if feature_length(modules, mid) < 1 else (low, mid)
    return low


def checked_feature_length(modules: Iterable[Module], input_length: int, caller: str) -> int:
    """:func:`feature_length` of ``input_length``; ValueError naming the minimum if it is too
    short for the stack."""
    modules = list(modules)
    if not isinstance(input_length, int) or isinstance(input_length, bool) or input_length < 1:
        raise ValueError(f"{caller}: input_length={input_length!r}, expected a positive integer")
    length = feature_length(modules, input_length)
    if length < 1:
        raise ValueError(
            f"{caller}: input_length={input_length} is too short; its convolution and pooling "
            f"layers need at least {minimum_length(modules)} positions"
        )
    return length


def check_positive(caller: str, **values: int) -> None:
    """ValueError unless every named value is a positive integer."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{caller}: {name}={value!r}, expected a positive integer")


def check_one_hot(x: Tensor, channels: int, length: int | None, caller: str) -> None:
    """ValueError unless ``x`` is a ``(batch, channels, length)`` tensor (any length when
    ``length`` is None)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{caller}: input is a {type(x).__name__}, expected a Tensor")
    if x.ndim != 3 or x.shape[1] != channels or (length is not None and x.shape[2] != length):
        want = f"(batch, {channels}, {length if length is not None else 'length'})"
        raise ValueError(
            f"{caller}: input has shape {tuple(x.shape)}, expected one-hot {want} "
            f"(layout (batch, channels, length))"
        )


class FixedLengthModel(Module):
    """Base of the one-hot models with a fixed input length (DeepSEA, Basset, DanQ): a
    ``features`` conv/pool stack whose output length sets the width of the first dense layer.

    Parameters
    ----------
    num_targets : int
        Outputs (logits).
    input_length : int
        Sequence length; the first dense layer's width depends on it.
    in_channels : int
        One-hot channels (4: A, C, G, T).
    """

    def __init__(self, num_targets: int, input_length: int, in_channels: int) -> None:
        super().__init__()
        check_positive(type(self).__name__, num_targets=num_targets, in_channels=in_channels)
        self.num_targets, self.input_length, self.in_channels = (
            num_targets,
            input_length,
            in_channels,
        )

    def feature_length(self) -> int:
        """Positions left by ``self.features`` (ValueError naming the minimum input length)."""
        return checked_feature_length(self.features, self.input_length, type(self).__name__)

    def check_input(self, x: Tensor) -> None:
        """ValueError unless ``x`` is ``(batch, in_channels, input_length)``."""
        check_one_hot(x, self.in_channels, self.input_length, type(self).__name__)
