"""Data-parallel helpers of the training and scoring loops (on :mod:`biotorch.distributed`).

Sharded scoring that reproduces a single-process run bit for bit: every rank forms the same
batches the single process would, takes its contiguous block of them (:func:`rank_batches`),
scores it, and rank 0 collects the per-rank rows in rank order (:func:`gather_rows`). Each BLAS
call then sees exactly the batch it sees in one process, and the rows come back in batch order.
Without a process group every helper is the single-process identity.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

import biotorch.distributed as dist

__all__ = [
    "SplitBatchSampler",
    "world_size",
    "rank_batches",
    "loader_block",
    "gather_rows",
    "broadcast_values",
]


class SplitBatchSampler:
    """This rank's part of every batch of ``batch_sampler``: each batch is padded by repeating
    its first indices to a multiple of ``num_replicas`` and rank ``r`` takes positions ``r, r +
    num_replicas, ...`` of it (as :class:`~biotorch.data.DistributedSampler` does within an
    epoch).

    Every rank gets one part per batch, all of one size, so the ranks run the same number of
    steps and step ``k`` of all ranks together trains on batch ``k`` of one process: wrap a
    batch sampler of ``num_replicas`` times the per-process batch size (seeded alike on every
    rank) and, when every batch divides evenly, a data-parallel run averages the same gradients
    as one process with that batch. ``set_epoch`` is passed on. ``num_replicas`` and ``rank``
    default to the process group's (1 and 0 without one).
    """

    def __init__(
        self, batch_sampler: Any, num_replicas: int | None = None, rank: int | None = None
    ):
        self.batch_sampler = batch_sampler
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = (dist.get_rank() if dist.is_initialized() else 0) if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(
                f"SplitBatchSampler: rank={self.rank!r}, expected 0 <= rank < {self.num_replicas}"
            )

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)

    def __iter__(self):
        for batch in self.batch_sampler:
            batch = list(batch)
            size = -(-len(batch) // self.num_replicas) * self.num_replicas
            padded = [batch[i % len(batch)] for i in range(size)]
            yield padded[self.rank :: self.num_replicas]

    def __len__(self) -> int:
        return len(self.batch_sampler)


def world_size() -> int:
    """The number of ranks (1 without a process group)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank_batches(batches: Sequence[Any]) -> list[Any]:
    """This rank's contiguous block of ``batches`` (:func:`~biotorch.distributed.shard_indices`
    over whole batches, so the blocks in rank order are ``batches`` again)."""
    batches = list(batches)
    return [batches[i] for i in dist.shard_indices(len(batches))]


def loader_block(loader: Iterable) -> Iterable | None:
    """This rank's contiguous block of ``loader``'s batches (as :func:`rank_batches`, taken
    while iterating: the batches before the block are formed and skipped), or None when
    ``loader`` has no ``len`` or fewer batches than there are ranks."""
    try:
        count = len(loader)
    except TypeError:
        return None
    if count < world_size():
        return None
    block = dist.shard_indices(count)
    return itertools.islice(loader, block.start, block.stop)


def gather_rows(local: np.ndarray) -> np.ndarray | None:
    """Every rank's rows of ``local`` concatenated in rank order on rank 0, None on the others
    (``local`` itself without a process group). The ranks' arrays must agree in trailing shape
    and dtype (a rank without rows passes an empty array of that shape)."""
    if world_size() == 1:
        return local
    parts = dist.gather_arrays(np.ascontiguousarray(local))
    return None if parts is None else np.concatenate(parts)


def broadcast_values(values: Sequence[float | None]) -> list[float | None]:
    """Rank 0's ``values`` (floats, NaN or None) on every rank; every rank passes as many."""
    if world_size() == 1:
        return list(values)
    missing = [v is None for v in values]
    array = np.array([[np.nan if v is None else float(v) for v in values], missing], np.float64)
    dist.broadcast(array, 0)
    return [None if gone else float(v) for v, gone in zip(array[0], array[1], strict=True)]
