"""Tensor operations, one module per family; ``biotorch`` re-exports the public names."""

from biotorch.ops.conversion import *  # noqa: F403
from biotorch.ops.creation import *  # noqa: F403
from biotorch.ops.elementwise import *  # noqa: F403
from biotorch.ops.linalg import *  # noqa: F403
from biotorch.ops.reduction import *  # noqa: F403
from biotorch.ops.shape import *  # noqa: F403
