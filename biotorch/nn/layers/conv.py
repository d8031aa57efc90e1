"""Convolution layers: ``Conv1d``."""

from __future__ import annotations

from biotorch.nn import functional as F
from biotorch.nn.layers._common import add_weight_and_bias, reset_weight_and_bias, single
from biotorch.nn.module import Module
from biotorch.tensor import Tensor

__all__ = ["Conv1d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv1d(Module):
    """1-D convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``) inputs.

    ``padding`` is an int, ``"valid"`` or ``"same"`` (stride 1 only); ``padding_mode`` other
    than ``"zeros"`` pads with ``F.pad`` first (``"reflect"``, ``"replicate"``, ``"circular"``).
    ``weight`` has shape ``(out_channels, in_channels // groups, kernel_size)``; weight and bias
    are initialised uniformly in ``±1 / sqrt(fan_in)``, as PyTorch.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple,
        stride: int | tuple = 1,
        padding: int | tuple | str = 0,
        dilation: int | tuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError(f"Conv1d: groups must be a positive integer, got {groups}")
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % groups:
                raise ValueError(f"Conv1d: {name}={channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"Conv1d: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = single(kernel_size, "Conv1d: kernel_size")
        self.stride = single(stride, "Conv1d: stride")
        self.dilation = single(dilation, "Conv1d: dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Conv1d: invalid padding string {padding!r}, expected 'same' or 'valid'"
                )
            if padding == "same" and self.stride != (1,):
                raise ValueError(
                    f"Conv1d: padding='same' is not supported for strided convolutions "
                    f"(stride={self.stride})"
                )
            total = self.dilation[0] * (self.kernel_size[0] - 1) if padding == "same" else 0
            self.padding = padding
            self._reversed_padding_repeated_twice = [total // 2, total - total // 2]
        else:
            self.padding = single(padding, "Conv1d: padding")
            self._reversed_padding_repeated_twice = [self.padding[0]] * 2
        self.output_padding, self.transposed = (0,), False
        self.groups, self.padding_mode = groups, padding_mode
        shape = (out_channels, in_channels // groups, self.kernel_size[0])
        add_weight_and_bias(self, shape, (out_channels,), True, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_weight_and_bias(self.weight, self.bias)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.padding_mode == "zeros":
            padding = self.padding
        else:
            input = F.pad(input, tuple(self._reversed_padding_repeated_twice), self.padding_mode)
            padding = 0
        return F.conv1d(input, weight, bias, self.stride, padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
