"""biotorch: a PyTorch-style deep-learning library for computational biology.

The tensor core (``Tensor``, autograd, ops) runs on NumPy arrays on the CPU and on CuPy arrays on
NVIDIA GPUs from one code path; public names and defaults follow PyTorch's.
"""

from biotorch.dtypes import (  # noqa: I001  (dtypes, backend and tensor load first, in order)
    bool_ as bool,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from biotorch.backend import Generator, default_generator, device, manual_seed
from biotorch.tensor import Tensor
from biotorch import autograd, cuda, nn, ops, optim
from biotorch.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad
from biotorch.autograd import set_grad_enabled
from biotorch.ops.conversion import *  # noqa: F403
from biotorch.ops.creation import *  # noqa: F403
from biotorch.ops.elementwise import *  # noqa: F403
from biotorch.ops.indexing import *  # noqa: F403
from biotorch.ops.linalg import *  # noqa: F403
from biotorch.ops.reduction import *  # noqa: F403
from biotorch.ops.shape import *  # noqa: F403
from biotorch.ops.softmax import *  # noqa: F403
from biotorch.serialization import load, load_torch_state_dict, save

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64

__version__ = "0.1.0.dev0"


def get_rng_state() -> Tensor:
    """The CPU generator's state (a uint8 tensor), for :func:`set_rng_state`."""
    return default_generator.get_state()


def set_rng_state(state: Tensor) -> None:
    """Restore the CPU generator's state from :func:`get_rng_state`."""
    default_generator.set_state(state)


def is_tensor(obj) -> bool:
    """True for biotorch Tensors."""
    return isinstance(obj, Tensor)


def __getattr__(name: str):
    """Companion packages load on first use (``biotorch.data``, ``biotorch.models``,
    ``biotorch.metrics``, ``biotorch.interpret``), so that ``import biotorch`` stays light."""
    if name in ("data", "models", "metrics", "interpret"):
        import importlib

        return importlib.import_module(f"biotorch.{name}")
    raise AttributeError(f"module 'biotorch' has no attribute {name!r}")
