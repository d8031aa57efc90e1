"""The NCCL backend: collectives on CuPy arrays through ``cupy.cuda.nccl``.

Rank 0 creates the NCCL unique id and broadcasts it over MPI (as 128 bytes, no pickle); each
rank uses GPU ``local rank % device count`` and one communicator for the process group. A
collective is enqueued on CuPy's current stream (so it follows the kernels that produced its
input) and an event recorded after it is polled against the group's timeout; on a timeout the
communicator is aborted.

UNVERIFIED: written without a GPU; ``pytest -m gpu tests/test_distributed.py`` exercises it.
"""

from __future__ import annotations

import numpy as np

from biotorch.distributed.errors import DistributedError

_DTYPES = {
    "int8": "NCCL_INT8",
    "uint8": "NCCL_UINT8",
    "int32": "NCCL_INT32",
    "uint32": "NCCL_UINT32",
    "int64": "NCCL_INT64",
    "uint64": "NCCL_UINT64",
    "float16": "NCCL_FLOAT16",
    "float32": "NCCL_FLOAT32",
    "float64": "NCCL_FLOAT64",
}
_OPS = {"sum": "NCCL_SUM", "product": "NCCL_PROD", "min": "NCCL_MIN", "max": "NCCL_MAX"}
_OPS["avg"] = _OPS["sum"]  # divided by the world size when the collective completes


class _Request:
    """An enqueued NCCL call: ``Test()`` is true once the stream has run past it."""

    def __init__(self, backend: NCCLBackend, stream) -> None:
        self._backend = backend
        self._event = backend.cupy.cuda.Event(disable_timing=True)
        self._event.record(stream)

    def Test(self) -> bool:  # noqa: N802 (the MPI request protocol that _mpi.wait polls)
        self._backend.comm.check_async_error()
        return self._event.done

    def on_timeout(self) -> None:
        self._backend.comm.abort()


class NCCLBackend:
    """One NCCL communicator over all ranks of the process group."""

    name = "nccl"

    def __init__(self, host, timeout: float) -> None:
        from biotorch.backend import cupy as import_cupy

        cp = self.cupy = import_cupy()
        from cupy.cuda import nccl

        self.nccl = nccl
        count = cp.cuda.runtime.getDeviceCount()
        if count < 1:
            raise DistributedError("init_process_group(backend='nccl'): no CUDA device visible")
        local = host.comm.Split_type(host.MPI.COMM_TYPE_SHARED)
        self.device = local.Get_rank() % count
        local.Free()
        cp.cuda.Device(self.device).use()
        uid = np.zeros(128, dtype=np.int64)  # NCCL_UNIQUE_ID_BYTES chars, whatever their sign
        if host.rank == 0:
            uid[:] = nccl.get_unique_id()
        from biotorch.distributed import _mpi

        _mpi.wait(host.ibcast(uid, 0), "init_process_group (NCCL id)", timeout)
        self.rank, self.size = host.rank, host.size
        self.comm = nccl.NcclCommunicator(self.size, tuple(int(b) for b in uid), self.rank)

    def _args(self, array):
        name = _DTYPES.get(array.dtype.name)
        if name is None:
            raise TypeError(f"biotorch.distributed (nccl): dtype {array.dtype} is not supported")
        if array.device.id != self.device:
            raise ValueError(
                f"biotorch.distributed (nccl): array on cuda:{array.device.id}, but this rank "
                f"communicates on cuda:{self.device}"
            )
        return getattr(self.nccl, name), self.cupy.cuda.get_current_stream()

    def iallreduce(self, array, op: str) -> _Request:
        dtype, stream = self._args(array)
        ptr = array.data.ptr
        self.comm.allReduce(ptr, ptr, array.size, dtype, getattr(self.nccl, _OPS[op]), stream.ptr)
        return _Request(self, stream)

    def ibcast(self, array, src: int) -> _Request:
        dtype, stream = self._args(array)
        self.comm.bcast(array.data.ptr, array.size, dtype, src, stream.ptr)
        return _Request(self, stream)

    def iallgather(self, array, out) -> _Request:
        dtype, stream = self._args(array)
        self.comm.allGather(array.data.ptr, out.data.ptr, array.size, dtype, stream.ptr)
        return _Request(self, stream)

    def close(self) -> None:
        self.comm.destroy()
