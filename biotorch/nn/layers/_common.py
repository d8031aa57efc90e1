"""Helpers shared by the layers: parameter allocation, tuples of one, PyTorch's default init."""

from __future__ import annotations

import math

from biotorch.nn import init
from biotorch.nn.parameter import Parameter
from biotorch.ops.creation import empty


def new_parameter(shape: tuple, device=None, dtype=None, requires_grad: bool = True) -> Parameter:
    """An uninitialised parameter (layers fill it in ``reset_parameters``)."""
    return Parameter(empty(*shape, dtype=dtype, device=device), requires_grad=requires_grad)


def add_weight_and_bias(
    module, weight_shape: tuple, bias_shape: tuple, affine: bool, bias: bool, device, dtype
) -> None:
    """Register ``weight`` (None unless ``affine``) and ``bias`` (None unless ``affine`` and
    ``bias``) on ``module``, uninitialised."""
    weight = new_parameter(weight_shape, device, dtype) if affine else None
    module.register_parameter("weight", weight)
    with_bias = affine and bias
    module.register_parameter(
        "bias", new_parameter(bias_shape, device, dtype) if with_bias else None
    )


def single(value, name: str) -> tuple:
    """``value`` as a 1-tuple of int (a layer argument given as an int or a 1-tuple)."""
    if isinstance(value, tuple | list):
        if len(value) != 1:
            raise ValueError(f"{name}: expected an int or a 1-tuple, got {value!r}")
        return (int(value[0]),)
    return (int(value),)


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default for Linear and Conv: ``kaiming_uniform_(weight, a=sqrt(5))`` (bound
    ``1 / sqrt(fan_in)``) and bias uniform in ``±1 / sqrt(fan_in)``."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)
