"""Helpers for sharded inference and rank-0 checkpoints."""

from __future__ import annotations

import numpy as np

from biotorch.distributed import _mpi
from biotorch.distributed.errors import DistributedError
from biotorch.distributed.process_group import _group_or_none

__all__ = ["shard_indices", "save_on_main"]


def shard_indices(n: int, rank: int | None = None, world_size: int | None = None) -> range:
    """Rank ``rank``'s contiguous block of ``range(n)`` (sizes differ by at most one).

    Blocks in rank order are ``range(n)`` again, so per-rank results gathered with
    :func:`~biotorch.distributed.gather_arrays` and concatenated are in single-process order.
    Defaults come from the process group (a world of one without one).
    """
    group = _group_or_none()
    rank = (0 if group is None else group.rank) if rank is None else rank
    world_size = (1 if group is None else group.size) if world_size is None else world_size
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"shard_indices: n={n!r}, expected a non-negative integer")
    if not isinstance(world_size, int | np.integer) or world_size < 1:
        raise ValueError(f"shard_indices: world_size={world_size!r}, expected a positive integer")
    if not isinstance(rank, int | np.integer) or not 0 <= rank < world_size:
        raise ValueError(f"shard_indices: rank={rank!r}, expected 0 <= rank < {world_size}")
    return range(rank * n // world_size, (rank + 1) * n // world_size)


def save_on_main(obj, path) -> None:
    """``biotorch.save(obj, path)`` on rank 0 only; every rank returns once the file is complete.

    Call it on every rank; the closing allreduce of rank 0's success flag is the barrier. If
    rank 0 fails to write, every rank raises (the others with a :class:`DistributedError`), so
    no rank waits for a checkpoint that never comes. Without a process group it is plain
    ``biotorch.save``.
    """
    from biotorch.serialization import save

    group = _group_or_none()
    if group is None:
        save(obj, path)
        return
    failed = np.zeros(1, dtype=np.int64)
    error = None
    if group.rank == 0:
        try:
            save(obj, path)
        except Exception as err:  # reported on every rank below
            failed[0], error = 1, err
    _mpi.wait(group.host.iallreduce(failed, "max"), "save_on_main", group.timeout)
    if error is not None:
        raise error
    if failed[0]:
        raise DistributedError(f"save_on_main: rank 0 failed to write {path!r}")
