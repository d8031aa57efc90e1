"""Fully connected layers: ``Linear``, ``Bilinear``."""

from __future__ import annotations

import math

from biotorch.nn import functional as F
from biotorch.nn import init
from biotorch.nn.layers._common import add_weight_and_bias, reset_weight_and_bias
from biotorch.nn.module import Module
from biotorch.ops.linalg import einsum
from biotorch.tensor import Tensor

__all__ = ["Linear", "Bilinear"]


class Linear(Module):
    """``y = x @ weight.T + bias`` over the last dimension of ``(*, in_features)`` inputs.

    ``weight`` has shape ``(out_features, in_features)``; both are initialised uniformly in
    ``±1 / sqrt(in_features)``, as PyTorch.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        shape = (out_features, in_features)
        add_weight_and_bias(self, shape, (out_features,), True, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """``y = x1^T A x2 + b`` for inputs ``(*, in1_features)`` and ``(*, in2_features)``.

    ``weight`` has shape ``(out_features, in1_features, in2_features)``; weight and bias are
    initialised uniformly in ``±1 / sqrt(in1_features)``, as PyTorch.
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        shape = (out_features, in1_features, in2_features)
        add_weight_and_bias(self, shape, (out_features,), True, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        if input1.shape[:-1] != input2.shape[:-1]:
            raise RuntimeError(
                f"Bilinear: input1 and input2 must have the same leading dimensions, got "
                f"{tuple(input1.shape)} and {tuple(input2.shape)}"
            )
        out = einsum("...i,oij,...j->...o", input1, self.weight, input2)
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
