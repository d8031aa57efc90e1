"""``biotorch.distributed``: data-parallel training across processes, as ``torch.distributed``.

Start one process per rank with ``mpiexec -n N python script.py`` (``pip install
"biotorch[distributed]"`` brings mpi4py and the ``mpich`` wheel, whose ``mpiexec`` lands in the
environment's ``bin``), call :func:`init_process_group` on every rank, wrap the model in
:class:`biotorch.nn.parallel.DistributedDataParallel` and shard the data with
:class:`biotorch.data.DistributedSampler` (or the ``num_replicas``/``rank`` of the batch
samplers). A plain ``python script.py`` run with ``init_process_group()`` is a world of one.
MPICH's ``mpiexec`` needs no extra flag as root or in a container (checked in a fresh venv).

Sharded inference: each rank predicts its block ``shard_indices(n)`` of the inputs, rank 0
collects the blocks in rank order with :func:`gather_arrays` (raw bytes, no pickle) and writes
them, which gives the single-process row order; gate file writes with :func:`is_main_process`
and save checkpoints with :func:`save_on_main`.

Every collective, and the agreement checks, wait at most the process group's ``timeout``
and then raise :class:`DistributedTimeoutError`; an uncaught exception on any rank aborts
the whole job (:func:`abort_job`, which a script can call itself). Nothing waits forever.
"""

from biotorch.distributed._mpi import abort_job
from biotorch.distributed.errors import DistributedError, DistributedTimeoutError
from biotorch.distributed.process_group import (
    ReduceOp,
    Work,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    gather,
    gather_arrays,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
)
from biotorch.distributed.utils import save_on_main, shard_indices

__all__ = [
    "DistributedError",
    "DistributedTimeoutError",
    "ReduceOp",
    "Work",
    "abort_job",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "gather",
    "gather_arrays",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_main_process",
    "save_on_main",
    "shard_indices",
]
