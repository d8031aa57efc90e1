"""Flattening parameters to one vector and back: ``parameters_to_vector``,
``vector_to_parameters``."""

from __future__ import annotations

from collections.abc import Iterable

from biotorch.ops.shape import cat
from biotorch.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _same_device(name: str, parameters: list) -> None:
    devices = {p.device for p in parameters}
    if len(devices) > 1:
        raise TypeError(
            f"{name}: found parameters on different devices ({sorted(map(str, devices))}); "
            f"all must be on one device"
        )


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable)."""
    parameters = list(parameters)
    _same_device("parameters_to_vector", parameters)
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (replacing their data,
    outside autograd); the inverse of :func:`parameters_to_vector`."""
    if not isinstance(vec, Tensor):
        raise TypeError(
            f"vector_to_parameters: expected a Tensor for vec, got {type(vec).__name__}"
        )
    parameters = list(parameters)
    _same_device("vector_to_parameters", parameters)
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: vec has shape {tuple(vec.shape)}, expected ({total},) for "
            f"{len(parameters)} parameters"
        )
    offset = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[offset : offset + n].view_as(p).data
        offset += n
