"""``biotorch.nn``: neural-network building blocks, as ``torch.nn``."""

from biotorch.nn import functional, init, parallel, utils
from biotorch.nn.containers import Flatten, Identity, ModuleDict, ModuleList, Sequential, Unflatten
from biotorch.nn.layers import *  # noqa: F403
from biotorch.nn.layers.rnn import *  # noqa: F403
from biotorch.nn.layers.transformer import *  # noqa: F403
from biotorch.nn.module import IncompatibleKeys, Module
from biotorch.nn.parameter import Parameter
