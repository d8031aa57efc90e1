"""Automatic differentiation: the op protocol, the backward engine, grad modes, gradcheck."""

from biotorch.autograd.engine import backward, grad
from biotorch.autograd.function import Function
from biotorch.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from biotorch.autograd.gradcheck import gradcheck

__all__ = [
    "Function",
    "backward",
    "grad",
    "gradcheck",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
]
