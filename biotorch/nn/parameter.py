"""``Parameter``: a leaf tensor that a ``Module`` registers as one of its trainable weights."""

from __future__ import annotations

from biotorch.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A tensor that is registered by a ``Module`` when assigned as an attribute.

    It is a leaf and requires grad by default; ops on it return plain tensors.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor([])
        source = data._data if isinstance(data, Tensor) else data
        super().__init__(source)
        if isinstance(data, Tensor):
            self._version_box = data._version_box
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
