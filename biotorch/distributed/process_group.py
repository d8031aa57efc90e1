"""The default process group and its collectives, with ``torch.distributed``'s names.

One process per rank, started by ``mpiexec -n N python script.py``; every rank calls
:func:`init_process_group` first. Collectives work in place on biotorch tensors, NumPy or CuPy
arrays. Every rank must call the same collectives in the same order with tensors of the same
shape and dtype; both are checked (see :func:`all_reduce`), and a collective that does not
complete within the group's ``timeout`` raises :class:`DistributedTimeoutError`.
"""

from __future__ import annotations

import atexit
import enum
import hashlib
import sys
from datetime import timedelta

import numpy as np

from biotorch.distributed import _mpi
from biotorch.distributed.errors import DistributedError

__all__ = [
    "ReduceOp",
    "Work",
    "is_available",
    "is_initialized",
    "init_process_group",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "barrier",
    "all_reduce",
    "broadcast",
    "all_gather",
    "gather",
    "gather_arrays",
]

#: torch.distributed's default for every backend but NCCL (which uses 10 minutes).
DEFAULT_TIMEOUT = timedelta(minutes=30)


class ReduceOp(enum.Enum):
    """Reductions of :func:`all_reduce` (``AVG`` divides the sum by the world size)."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _Group:
    def __init__(self, backend, host, timeout: float) -> None:
        self.backend = backend  # collectives on the arrays it owns (NumPy for MPI, CuPy for NCCL)
        self.host = host  # the MPI backend: NumPy arrays, checks, barriers, the NCCL id
        self.timeout = timeout
        self.rank, self.size = host.rank, host.size


_group: _Group | None = None


def is_available() -> bool:
    """True when mpi4py (and so an MPI library) imports."""
    try:
        _mpi.import_mpi()
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def init_process_group(
    backend: str = "mpi",
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
) -> None:
    """Join the ranks started by ``mpiexec`` (a plain ``python`` run is a world of one).

    Parameters
    ----------
    backend : {"mpi", "nccl"}
        ``"mpi"``: collectives on host arrays through mpi4py. ``"nccl"``: collectives on CuPy
        arrays through NCCL (one GPU per rank, device ``local rank % device count``), with the
        NCCL id broadcast over MPI; NumPy arrays still go through MPI.
    init_method : None or "env://"
        Accepted for torch compatibility; ranks always come from MPI.
    timeout : datetime.timedelta
        How long any collective may wait for the other ranks (default 30 minutes).
    world_size, rank : int
        Optional; when given they must match what MPI reports.

    With more than one rank, an uncaught exception on any rank prints its traceback and
    aborts the whole job (``MPI_Abort``) instead of leaving the others waiting.
    """
    global _group
    if _group is not None:
        raise DistributedError("init_process_group: the default process group is already set up")
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"init_process_group: backend={backend!r}, expected 'mpi' or 'nccl'")
    if init_method not in (None, "env://"):
        raise ValueError(
            f"init_process_group: init_method={init_method!r}; ranks come from mpiexec, "
            "so only None or 'env://' is accepted"
        )
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if not isinstance(timeout, timedelta) or timeout.total_seconds() <= 0:
        raise ValueError(f"init_process_group: timeout={timeout!r}, expected a positive timedelta")
    host = _mpi.MPIBackend()
    for name, given, actual in (("world_size", world_size, host.size), ("rank", rank, host.rank)):
        if given != -1 and given != actual:
            host.close()
            raise ValueError(f"init_process_group: {name}={given} but mpiexec started {actual}")
    seconds = timeout.total_seconds()
    if backend == "nccl":
        from biotorch.distributed._nccl import NCCLBackend

        device_backend = NCCLBackend(host, seconds)
    else:
        device_backend = host
    _group = _Group(device_backend, host, seconds)
    if host.size > 1:
        sys.excepthook = _abort_on_uncaught(sys.excepthook)


def _abort_on_uncaught(previous):
    """An excepthook that prints the traceback, then aborts every rank of the job.

    Otherwise a rank that dies of an exception waits in MPI_Finalize and its peers wait in
    their next collective until the timeout (``python -m mpi4py script.py`` does the same).
    """

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        _mpi.abort_job(1)

    hook.previous = previous
    return hook


def destroy_process_group() -> None:
    """Leave the process group (collectives raise until the next :func:`init_process_group`)."""
    global _group
    group = _require("destroy_process_group")
    _group = None
    if hasattr(sys.excepthook, "previous"):
        sys.excepthook = sys.excepthook.previous
    if group.backend is not group.host:
        group.backend.close()
    group.host.close()


def _group_or_none() -> _Group | None:
    return _group


def _require(caller: str, group=None) -> _Group:
    if group is not None:
        raise ValueError(f"{caller}: group={group!r}; only the default group (None) exists")
    if _group is None:
        raise DistributedError(
            f"{caller}: the default process group has not been initialized; "
            "call biotorch.distributed.init_process_group() first"
        )
    return _group


def get_backend() -> str:
    """``"mpi"`` or ``"nccl"``."""
    return _require("get_backend").backend.name


def get_rank(group=None) -> int:
    """This process's rank, ``0 .. world_size - 1``."""
    return _require("get_rank", group).rank


def get_world_size(group=None) -> int:
    """The number of ranks."""
    return _require("get_world_size", group).size


def is_main_process() -> bool:
    """True on rank 0, and in a run without a process group (gate file writes with it)."""
    return _group is None or _group.rank == 0


class Work:
    """A pending collective (``async_op=True``); :meth:`wait` completes it."""

    def __init__(self, request, what: str, timeout: float, finish=None) -> None:
        self._request, self._what, self._timeout, self._finish = request, what, timeout, finish
        self._done = False

    def is_completed(self) -> bool:
        return self._done or bool(self._request.Test())

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until done (at most the group's timeout); copy results back."""
        if not self._done:
            seconds = self._timeout if timeout is None else timeout.total_seconds()
            _mpi.wait(self._request, self._what, seconds)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True


# -- arrays --------------------------------------------------------------------------------------
def _array_of(tensor, caller: str):
    from biotorch.tensor import Tensor

    if isinstance(tensor, Tensor):
        return tensor._data
    if isinstance(tensor, np.ndarray) or hasattr(tensor, "__cuda_array_interface__"):
        return tensor
    raise TypeError(
        f"{caller}: expected a biotorch Tensor, NumPy or CuPy array, got {type(tensor).__name__}"
    )


def _bump_version(tensor) -> None:
    box = getattr(tensor, "_version_box", None)
    if box is not None:
        box[0] += 1


def _staged(group: _Group, array, caller: str):
    """(backend, buffer, copy_back): the buffer the backend works on, and how results return."""
    on_gpu = not isinstance(array, np.ndarray)
    if on_gpu and group.backend is not group.host:
        if not array.flags.c_contiguous:
            raise ValueError(f"{caller}: NCCL collectives need a contiguous CuPy array")
        return group.backend, array, None
    if not on_gpu and array.flags.c_contiguous and array.flags.writeable:
        return group.host, array, None
    host = np.ascontiguousarray(array.get() if on_gpu else array)

    def copy_back() -> None:
        array[...] = _to_gpu(array, host) if on_gpu else host

    return group.host, host, copy_back


def _to_gpu(like, host: np.ndarray):
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(host)


# -- agreement checks ----------------------------------------------------------------------------
def _signature(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 2


def check_agreement(group: _Group, what: str, description: str) -> None:
    """Raise on every rank if the ranks' ``description`` strings differ.

    Costs one 16-byte allreduce (MAX of ``[h, -h]`` for a 62-bit hash ``h``); only when the
    hashes differ are the descriptions gathered, to say which rank has what.
    """
    h = _signature(f"{what}|{description}")
    probe = np.array([h, -h], dtype=np.int64)
    _mpi.wait(group.host.iallreduce(probe, "max"), f"{what} (agreement check)", group.timeout)
    if probe[0] == -probe[1]:
        return
    texts = all_gather_text(group, description)
    listing = "; ".join(f"rank {r}: {t}" for r, t in enumerate(texts))
    raise DistributedError(
        f"{what}: the ranks disagree ({listing}); every rank must call the same collective "
        "with tensors of the same shape and dtype"
    )


def all_gather_text(group: _Group, text: str) -> list[str]:
    """Every rank's ``text``, in rank order (UTF-8 bytes through an allgatherv, no pickles)."""
    data = np.frombuffer(text.encode(), dtype=np.uint8).copy()
    counts = _all_gather_counts(group, data.size, "all_gather_text")
    out = np.empty(int(counts.sum()), dtype=np.uint8)
    request = group.host.iallgatherv(data, out, counts)
    _mpi.wait(request, "all_gather_text", group.timeout)
    ends = np.cumsum(counts)
    return [out[e - c : e].tobytes().decode() for c, e in zip(counts, ends, strict=True)]


def _all_gather_counts(group: _Group, count: int, what: str) -> np.ndarray:
    mine = np.array([count], dtype=np.int64)
    counts = np.empty(group.size, dtype=np.int64)
    _mpi.wait(group.host.iallgather(mine, counts), f"{what} (sizes)", group.timeout)
    return counts


def _describe(array) -> str:
    return f"shape {tuple(array.shape)}, dtype {array.dtype}"


# -- collectives ---------------------------------------------------------------------------------
def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank has reached the barrier."""
    g = _require("barrier", group)
    work = Work(g.host.ibarrier(), "barrier", g.timeout)
    return work if async_op else work.wait()


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks, in place, so every rank holds the result.

    Before the reduction the ranks check that they all called ``all_reduce`` with the same op,
    shape and dtype (one extra 16-byte allreduce: a few microseconds on one machine); a
    mismatch raises :class:`DistributedError` on every rank naming each rank's shape.
    """
    g = _require("all_reduce", group)
    if not isinstance(op, ReduceOp):
        raise ValueError(f"all_reduce: op={op!r}, expected a biotorch.distributed.ReduceOp")
    array = _array_of(tensor, "all_reduce")
    if op is ReduceOp.AVG and array.dtype.kind != "f":
        raise TypeError(
            f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got {array.dtype}"
        )
    check_agreement(g, "all_reduce", f"op {op.name}, {_describe(array)}")
    work = all_reduce_array(g, array, op.value, "all_reduce", after=lambda: _bump_version(tensor))
    return work if async_op else work.wait()


def all_reduce_array(g: _Group, array, op: str, what: str, after=None) -> Work:
    """Start an in-place allreduce of ``array`` without the agreement check (DDP's buckets)."""
    start = lambda backend, buf: backend.iallreduce(buf, op)  # noqa: E731
    return _start(g, array, what, start, after, average=op == "avg")


def _start(g: _Group, array, what: str, start, after, average: bool = False) -> Work:
    """``start(backend, buffer)`` on the buffer for ``array``; the Work finishes the job."""
    backend, buf, copy_back = _staged(g, array, what)
    request = start(backend, buf)

    def finish() -> None:
        if average:
            buf[...] /= g.size
        if copy_back is not None:
            copy_back()
        if after is not None:
            after()

    return Work(request, what, g.timeout, finish)


def broadcast(tensor, src: int, group=None, async_op: bool = False):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every other rank."""
    g = _require("broadcast", group)
    _check_rank(g, src, "src", "broadcast")
    array = _array_of(tensor, "broadcast")
    check_agreement(g, "broadcast", f"src {src}, {_describe(array)}")
    work = broadcast_array(g, array, src, "broadcast", after=lambda: _bump_version(tensor))
    return work if async_op else work.wait()


def broadcast_array(g: _Group, array, src: int, what: str, after=None) -> Work:
    """Start a broadcast of ``array`` from ``src`` without the agreement check."""
    return _start(g, array, what, lambda backend, buf: backend.ibcast(buf, src), after)


def all_gather(tensor_list: list, tensor, group=None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor`` on every rank."""
    g = _require("all_gather", group)
    if len(tensor_list) != g.size:
        raise ValueError(
            f"all_gather: tensor_list has {len(tensor_list)} entries, expected world size {g.size}"
        )
    array = _array_of(tensor, "all_gather")
    outs = [_array_of(t, "all_gather") for t in tensor_list]
    for r, out in enumerate(outs):
        if out.shape != array.shape or out.dtype != array.dtype:
            raise ValueError(
                f"all_gather: tensor_list[{r}] has {_describe(out)}, expected {_describe(array)}"
            )
    check_agreement(g, "all_gather", _describe(array))
    xp = np if isinstance(array, np.ndarray) else _cupy()
    stacked = xp.empty((g.size, *array.shape), dtype=array.dtype)
    send = xp.ascontiguousarray(array)
    backend = g.backend if (xp is not np and g.backend is not g.host) else g.host
    if backend is g.host and xp is not np:
        send, stacked = send.get(), np.empty(stacked.shape, stacked.dtype)
    request = backend.iallgather(send, stacked)

    def finish() -> None:
        for t, out, part in zip(tensor_list, outs, stacked, strict=True):
            out[...] = part if xp is np or backend is not g.host else _to_gpu(out, part)
            _bump_version(t)

    work = Work(request, "all_gather", g.timeout, finish)
    return work if async_op else work.wait()


def _cupy():
    from biotorch.backend import cupy

    return cupy()


def gather(tensor, gather_list: list | None = None, dst: int = 0, group=None, async_op=False):
    """On rank ``dst``, fill ``gather_list[r]`` with rank ``r``'s ``tensor`` (host arrays)."""
    g = _require("gather", group)
    _check_rank(g, dst, "dst", "gather")
    array = _array_of(tensor, "gather")
    if (gather_list is not None) != (g.rank == dst) or (
        gather_list is not None and len(gather_list) != g.size
    ):
        raise ValueError(
            f"gather: rank {g.rank} passed gather_list="
            f"{'None' if gather_list is None else f'a list of {len(gather_list)}'}; "
            f"rank dst={dst} needs a list of {g.size} tensors and the others None"
        )
    parts = gather_arrays(np.asarray(array.get() if hasattr(array, "get") else array), dst)
    if parts is not None:
        for t, part in zip(gather_list, parts, strict=True):
            out = _array_of(t, "gather")
            if out.shape != part.shape:
                raise ValueError(
                    f"gather: gather_list entry has shape {out.shape}, got {part.shape}"
                )
            out[...] = part if isinstance(out, np.ndarray) else _to_gpu(out, part)
            _bump_version(t)
    return None if not async_op else Work(_Done(), "gather", g.timeout)


class _Done:
    @staticmethod
    def Test() -> bool:
        return True


def gather_arrays(array, dst: int = 0) -> list[np.ndarray] | None:
    """Each rank's NumPy ``array`` on rank ``dst`` as a list in rank order; ``None`` elsewhere.

    The arrays may differ in their first dimension (a rank's shard of the rows) but must agree
    in the trailing shape and dtype (string arrays are widened to the longest itemsize). Data
    travel as raw bytes (one gatherv), never pickled; ``np.concatenate`` of the result is the
    rows in rank order, so contiguous :func:`~biotorch.distributed.shard_indices` shards
    reassemble the single-process order.
    """
    g = _require("gather_arrays")
    _check_rank(g, dst, "dst", "gather_arrays")
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError("gather_arrays: array must have at least one dimension (the rows)")
    if array.dtype.kind == "O":
        raise TypeError("gather_arrays: object arrays cannot travel as bytes; convert them first")
    strings = array.dtype.kind in "US"
    dtype = (
        f"{'str' if array.dtype.kind == 'U' else 'bytes'} (any width)" if strings else array.dtype
    )
    shape = "(n, " + "".join(f"{d}, " for d in array.shape[1:]).rstrip(" ") + ")"
    check_agreement(g, "gather_arrays", f"shape {shape}, dtype {dtype}")
    if strings:
        width = np.array([array.dtype.itemsize], dtype=np.int64)
        _mpi.wait(g.host.iallreduce(width, "max"), "gather_arrays (widths)", g.timeout)
        char_size = 4 if array.dtype.kind == "U" else 1
        array = array.astype(f"{array.dtype.kind}{int(width[0]) // char_size}")
    data = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
    counts = _all_gather_counts(g, data.size, "gather_arrays")
    out = np.empty(int(counts.sum()), dtype=np.uint8) if g.rank == dst else None
    _mpi.wait(g.host.igatherv(data, out, counts, dst), "gather_arrays", g.timeout)
    if g.rank != dst:
        return None
    ends, parts = np.cumsum(counts), []
    for c, e in zip(counts, ends, strict=True):
        parts.append(out[e - c : e].view(array.dtype).reshape(-1, *array.shape[1:]))
    return parts


def _check_rank(g: _Group, rank: int, name: str, caller: str) -> None:
    if not isinstance(rank, int | np.integer) or not 0 <= rank < g.size:
        raise ValueError(f"{caller}: {name}={rank!r}, expected a rank in 0..{g.size - 1}")


atexit.register(_mpi.abort_if_timed_out)
