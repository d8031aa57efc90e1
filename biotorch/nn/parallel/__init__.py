"""``biotorch.nn.parallel``: :class:`DistributedDataParallel` (on :mod:`biotorch.distributed`)."""

from biotorch.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
