"""``biotorch.nn``: neural-network building blocks, as ``torch.nn``."""

from biotorch.nn import functional
