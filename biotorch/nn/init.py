"""``biotorch.nn.init``: in-place weight initialisation, as ``torch.nn.init``.

Every function fills its tensor in place without recording gradients and returns it; the random
ones draw from ``generator`` (default: the device's default generator, which
``biotorch.manual_seed`` seeds).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from biotorch import backend
from biotorch.autograd.grad_mode import no_grad
from biotorch.backend import array_module
from biotorch.tensor import Tensor

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]

_LINEAR = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (``param``: leaky_relu's negative slope).

    ``linear``/conv/``sigmoid`` 1, ``tanh`` 5/3, ``relu`` sqrt(2),
    ``leaky_relu`` sqrt(2 / (1 + slope^2)), ``selu`` 3/4.
    """
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(size(1) * receptive field, size(0) * receptive field)`` of a weight with >= 2 dims."""
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions, got shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with values drawn uniformly from ``[a, b)``."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with values drawn from ``N(mean, std^2)``."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


_MAX_PROPOSALS = 1 << 22  # per round, to bound memory for intervals that are hard to hit


def _phi(z: float) -> float:
    return (1.0 + math.erf(z / math.sqrt(2.0))) / 2.0


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator=None,
) -> Tensor:
    """Fill with values from ``N(mean, std^2)`` truncated to ``[a, b]`` (absolute bounds).

    Exact rejection sampling: normal proposals, or uniform proposals on ``[a, b]`` when those
    are accepted more often (narrow or far-off intervals), drawing enough at once that one or
    two rounds fill the tensor. Exact also where ``mean`` is far from ``[a, b]`` (where
    PyTorch's inverse-CDF sampler warns).
    """
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    lo, hi = (a - mean) / std, (b - mean) / std
    nearest = min(max(0.0, lo), hi)
    p_normal = _phi(hi) - _phi(lo)
    grid = np.linspace(lo, hi, 1025)  # acceptance rate of uniform proposals (estimate)
    p_uniform = float(np.exp((nearest * nearest - grid * grid) / 2).mean())
    gen = backend.generator_for(tensor.device, generator)
    xp = array_module(tensor._data)
    out = xp.empty(tensor.numel(), dtype=np.float64)
    filled = 0
    while filled < out.size:
        need = out.size - filled
        count = min(int(need / max(p_normal, p_uniform) * 1.1) + 16, _MAX_PROPOSALS)
        if p_normal >= p_uniform:
            z = gen.normal((count,), np.float64)
            z = z[(z >= lo) & (z <= hi)]
        else:
            z = gen.random((count,), np.float64) * (hi - lo) + lo
            keep = gen.random((count,), np.float64) < xp.exp((nearest * nearest - z * z) / 2)
            z = z[keep]
        z = z[:need]
        out[filled : filled + z.size] = z
        filled += z.size
    values = xp.clip(out * std + mean, a, b).reshape(tensor.shape)
    with no_grad():
        return tensor.copy_(Tensor(values))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the main diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(
            f"eye_: only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}"
        )
    xp = array_module(tensor._data)
    with no_grad():
        return tensor.copy_(Tensor(xp.eye(*tensor.shape, dtype=tensor._data.dtype)))


def _empty(tensor: Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("init: initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: ``U(-bound, bound)``, ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: ``N(0, std^2)``, ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He uniform: ``U(-bound, bound)``, ``bound = gain * sqrt(3 / fan)``.

    ``a`` is leaky_relu's negative slope, ``mode`` picks ``fan_in`` or ``fan_out``. Layers use
    ``a=math.sqrt(5)``, as PyTorch (``bound = 1 / sqrt(fan_in)``).
    """
    if _empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """He normal: ``N(0, std^2)``, ``std = gain / sqrt(fan)``."""
    if _empty(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain``: the Q of the QR decomposition of a
    standard-normal ``(size(0), numel // size(0))`` matrix, signs fixed by R's diagonal (as
    PyTorch); rows are orthonormal when there are fewer rows than columns, else columns."""
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dimensions are supported, "
            f"got shape {tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gen = backend.generator_for(tensor.device, generator)
    flat = gen.normal((rows, cols), tensor._data.dtype)
    xp = array_module(flat)
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q *= xp.sign(xp.diagonal(r))
    if rows < cols:
        q = q.T
    with no_grad():
        tensor.copy_(Tensor(q.reshape(tensor.shape)))
        return tensor.mul_(gain)
