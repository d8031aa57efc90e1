"""Layers of ``biotorch.nn``: thin modules over ``biotorch.nn.functional``, with PyTorch's
constructor arguments, attribute names, default initialisation and ``repr``."""

from biotorch.nn.layers.activation import *  # noqa: F403
from biotorch.nn.layers.conv import *  # noqa: F403
from biotorch.nn.layers.dropout import *  # noqa: F403
from biotorch.nn.layers.embedding import *  # noqa: F403
from biotorch.nn.layers.linear import *  # noqa: F403
from biotorch.nn.layers.loss import *  # noqa: F403
from biotorch.nn.layers.normalization import *  # noqa: F403
from biotorch.nn.layers.pooling import *  # noqa: F403
