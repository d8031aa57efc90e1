"""The MPI backend: collectives on host (NumPy) arrays through mpi4py's nonblocking calls.

Every collective starts a nonblocking MPI request and polls it against the process group's
timeout, so a rank that died or skipped the collective raises :class:`DistributedTimeoutError`
instead of hanging. CuPy arrays are staged through host memory (the ``mpich`` wheel is not
CUDA-aware; use the NCCL backend for GPU training).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from biotorch.distributed.errors import DistributedError, DistributedTimeoutError

INSTALL_HINT = 'install MPI support with `pip install "biotorch[distributed]"` (mpi4py and mpich)'


def import_mpi():
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as err:  # no mpi4py, or no MPI library to load
        raise ImportError(
            f"biotorch.distributed needs mpi4py and an MPI library ({err}); {INSTALL_HINT}"
        ) from err
    return MPI


def wait(request, what: str, timeout: float) -> None:
    """Poll ``request`` until it completes; raise after ``timeout`` seconds.

    MPI progresses nonblocking collectives only while they are polled, so the first
    ``SPIN_SECONDS`` poll without pause (microsecond latency, full bandwidth), yielding the
    core between polls to any other runnable process; after that the
    polls back off to one per millisecond, which costs at most 1% on waits that long and
    leaves the core to others while a rank waits for a slow or missing peer.
    """
    start = time.monotonic()
    deadline = start + timeout
    pause = 5e-5
    while not request.Test():
        now = time.monotonic()
        if now > deadline:
            _timed_out[0] = True
            if hasattr(request, "on_timeout"):
                request.on_timeout()
            raise DistributedTimeoutError(
                f"{what} did not complete within its timeout of {timeout:g} s: "
                "a rank has died, hangs, or skipped this collective (every rank must call the "
                "same collectives in the same order). The process group is now unusable; the "
                "MPI job is aborted when this process exits."
            )
        if now - start > SPIN_SECONDS:
            time.sleep(pause)
            pause = min(1e-3, pause * 2)
        else:
            os.sched_yield()  # a busy core's other processes run first (the peer, perhaps)


SPIN_SECONDS = 0.1
_timed_out = [False]


def abort_if_timed_out() -> None:
    """After a timeout, MPI_Finalize would wait forever for the missing rank: abort instead."""
    if _timed_out[0]:
        abort_job()


#: How long an aborting rank waits after flushing its output (see :func:`abort_job`).
ABORT_GRACE_SECONDS = 0.5


def abort_job(code: int = 1) -> None:
    """End every rank of the job now (``MPI_Abort``). stdout and stderr are flushed first and
    the rank waits ``ABORT_GRACE_SECONDS``: the launcher may otherwise kill the job before it
    has forwarded the lines this rank wrote last (its error message, typically)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    time.sleep(ABORT_GRACE_SECONDS)
    import_mpi().COMM_WORLD.Abort(code)


_OPS = {"sum": "SUM", "product": "PROD", "min": "MIN", "max": "MAX", "avg": "SUM"}


class MPIBackend:
    """Collectives over an MPI communicator (``COMM_WORLD`` duplicated)."""

    name = "mpi"

    def __init__(self) -> None:
        MPI = import_mpi()
        self.MPI = MPI
        if not MPI.Is_initialized():
            raise DistributedError(f"MPI is not initialized; {INSTALL_HINT}")
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def _datatype(self, array: np.ndarray):
        datatype = self.MPI._typedict.get(array.dtype.char)
        if datatype is None:
            raise TypeError(f"biotorch.distributed (mpi): dtype {array.dtype} has no MPI datatype")
        return datatype

    def iallreduce(self, array: np.ndarray, op: str):
        buf = [array, self._datatype(array)]
        return self.comm.Iallreduce(self.MPI.IN_PLACE, buf, getattr(self.MPI, _OPS[op]))

    def ibcast(self, array: np.ndarray, src: int):
        return self.comm.Ibcast([array, self._datatype(array)], root=src)

    def iallgather(self, array: np.ndarray, out: np.ndarray):
        datatype = self._datatype(array)
        return self.comm.Iallgather([array, datatype], [out, datatype])

    def iallgatherv(self, array: np.ndarray, out: np.ndarray, counts: np.ndarray):
        """Bytes of ``array`` from every rank into ``out``, rank ``r`` writing ``counts[r]``."""
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        byte = self.MPI.BYTE
        return self.comm.Iallgatherv([array, byte], [out, (counts, displs), byte])

    def igatherv(self, array: np.ndarray, out, counts: np.ndarray, dst: int):
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        byte = self.MPI.BYTE
        recv = [out, (counts, displs), byte] if self.rank == dst else None
        return self.comm.Igatherv([array, byte], recv, root=dst)

    def ibarrier(self):
        return self.comm.Ibarrier()

    def close(self) -> None:
        self.comm.Free()
